"""The ``km`` command: loading the target, the settings and their precedence, the friendly
errors, secrets kept out of every output, and ``km run`` serving a KB in a real subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from km_core import KnowledgeBase
from km_httpx import ExitStatus, HttpxClient, KmSettings, __version__
from km_httpx import _cli as cli
from km_httpx._settings import SettingsLoadError, display_url, load_settings
from km_testing import TestClient
from tests.testing.serving import (
    km_testing_serve,
    read_line_matching,
    signal_process,
    stop_process,
)

APP_ID = "http://example.org/kb/cli-app"
ASKER_ID = "http://example.org/kb/cli-asker"
SECRET = "s3cret-token-value"
PATTERN = "?tree <http://example.org/height> ?height ."
OAK = "<http://example.org/oak>"

APP = f'''
from km_core import KnowledgeBase

kb = KnowledgeBase(id="{APP_ID}", name="cli-app", description="Knows how tall the oak is")


@kb.answer_ki("heights", "{PATTERN}")
def heights(binding_set: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{{"tree": "{OAK}", "height": '"21.5"'}}]
'''


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No KM_* variables from outside; imports and sys.path changes undone; no basicConfig."""
    for name in list(os.environ):
        if name.upper().startswith("KM_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(cli, "_configure_logging", lambda settings: None)
    path = list(sys.path)
    modules = set(sys.modules)
    try:
        yield
    finally:
        sys.path[:] = path
        for name in set(sys.modules) - modules:
            # Forget the apps the tests wrote, not the libraries they imported on the way.
            if _written_by_a_test(sys.modules[name]):
                del sys.modules[name]


KEPT = (sys.prefix, sys.base_prefix, str(Path(__file__).resolve().parents[2]))


def _written_by_a_test(module: object) -> bool:
    file = getattr(module, "__file__", None)
    return file is None or not str(Path(file).resolve()).startswith(KEPT)


def write(directory: Path, name: str, text: str | bytes) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def kb_source(kb_id: str = APP_ID, name: str = "kb") -> str:
    return (
        "from km_core import KnowledgeBase\n"
        f"{name} = KnowledgeBase(id={kb_id!r}, name='app', description='')\n"
    )


def fails(capsys: pytest.CaptureFixture[str], call: Any, *args: Any, status: int = 2) -> str:
    """Call; assert it exits with ``status`` and one line on stderr; return that line."""
    with pytest.raises(SystemExit) as raised:
        call(*args)
    assert raised.value.code == status
    out, err = capsys.readouterr()
    assert out == ""
    assert err.endswith("\n")
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    return err.rstrip("\n")


# ---------------------------------------------------------------------- loading the target


def test_a_file_target_loads_kb_by_default(tmp_path: Path) -> None:
    app = write(tmp_path, "app_default.py", kb_source())
    kb = cli._load_target(str(app))
    assert isinstance(kb, KnowledgeBase)
    assert kb.id == APP_ID
    assert not kb.has_client


def test_a_file_target_names_its_attribute_and_may_import_its_siblings(tmp_path: Path) -> None:
    write(tmp_path, "sibling_of_app.py", kb_source(name="made"))
    app = write(tmp_path, "app_sibling.py", "from sibling_of_app import made as service\n")
    kb = cli._load_target(f"{app}:service")
    assert kb.id == APP_ID
    assert sys.path[0] == str(tmp_path.resolve())


def test_a_module_target_is_imported_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "km_cli_pkg/__init__.py", "")
    write(tmp_path, "km_cli_pkg/service.py", kb_source(name="app"))
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cli._load_target("km_cli_pkg.service:app").id == APP_ID


def test_an_app_factory_is_called(tmp_path: Path) -> None:
    app = write(
        tmp_path,
        "app_factory.py",
        "from km_core import KnowledgeBase\n"
        "def create():\n"
        f"    return KnowledgeBase(id={APP_ID!r}, name='app', description='')\n",
    )
    assert cli._load_target(f"{app}:create").id == APP_ID


def test_a_file_whose_module_name_is_taken_gets_its_own(tmp_path: Path) -> None:
    app = write(tmp_path, "json.py", kb_source())  # json is imported already
    assert cli._load_target(f"{app}:kb").id == APP_ID
    assert sys.modules["json"] is json


def test_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.py"
    message = fails(capsys, cli._load_target, f"{missing}:kb")
    assert message == f"km: no such file: {missing}"


def test_a_file_that_cannot_be_imported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = write(tmp_path, "app_broken.py", "import km_no_such_module_anywhere\n")
    message = fails(capsys, cli._load_target, str(app))
    assert message == (
        f"km: cannot import {str(app)!r}: No module named 'km_no_such_module_anywhere'"
    )
    assert "app_broken" not in sys.modules


def test_a_module_that_cannot_be_imported(capsys: pytest.CaptureFixture[str]) -> None:
    message = fails(capsys, cli._load_target, "km_no_such_package.app:kb")
    assert message == (
        "km: cannot import 'km_no_such_package.app': No module named 'km_no_such_package'"
    )


def test_a_missing_attribute_lists_the_knowledge_bases_there_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = kb_source(name="trees") + kb_source("http://example.org/kb/two", name="birds")
    app = write(tmp_path, "app_two.py", source)
    message = fails(capsys, cli._load_target, f"{app}:kb")
    assert (
        message
        == f"km: {str(app)!r} has no attribute 'kb'; its KnowledgeBase objects: birds, trees"
    )


def test_a_missing_attribute_in_a_module_without_knowledge_bases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = write(tmp_path, "app_none.py", "x = 1\n")
    message = fails(capsys, cli._load_target, str(app))
    assert message == f"km: {str(app)!r} has no attribute 'kb'; it has no KnowledgeBase objects"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "kb = 'a string'\n",
            "{target!r} is a str, not a KnowledgeBase or a function that returns one",
        ),
        (
            "def kb(client):\n    pass\n",
            "{target!r} needs arguments; an app factory must take none",
        ),
        ("def kb():\n    return 42\n", "{target}() returned a int, not a KnowledgeBase"),
        (
            "async def kb():\n    pass\n",
            "{target!r} is an async function; an app factory must be a plain function",
        ),
    ],
)
def test_an_object_that_is_not_a_knowledge_base(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str, expected: str
) -> None:
    app = write(tmp_path, "app_wrong.py", source)
    target = f"{app}:kb"
    message = fails(capsys, cli._load_target, target)
    assert message == "km: " + expected.format(target=target)


@pytest.mark.parametrize(
    "target", ["a:b:c", "app.py:", ":kb", "my-app:kb", "app.py:not-a-name", "pkg..mod:kb", ""]
)
def test_a_malformed_target(capsys: pytest.CaptureFixture[str], target: str) -> None:
    message = fails(capsys, cli._load_target, target)
    assert message == (
        f"km: malformed TARGET {target!r}: expected path/to/app.py:kb or package.module:kb"
    )


# ---------------------------------------------------------------------- settings


def test_the_defaults() -> None:
    settings = load_settings({})
    assert settings.ke_url == "http://localhost:8280/rest"
    assert settings.max_concurrent_handlers == 10
    assert settings.grace_period == 30
    assert settings.connect_wait == 60
    assert settings.log_level == "INFO"
    assert settings.headers == {}
    assert settings.insecure is False
    assert settings.model_fields_set == set()


def test_flags_win_over_the_environment_which_wins_over_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(
        tmp_path,
        "km.toml",
        'ke_url = "http://file:1/rest"\n'
        "max_concurrent_handlers = 3\n"
        "grace_period = 7\n"
        'connect_wait = "none"\n'
        'log_level = "debug"\n'
        "[headers]\n"
        'X-File = "f"\n'
        'X-Both = "file"\n',
    )
    monkeypatch.setenv("KM_KE_URL", "http://env:2/rest")
    monkeypatch.setenv("KM_GRACE_PERIOD", "none")
    monkeypatch.setenv("KM_MAX_CONCURRENT_HANDLERS", "4")
    monkeypatch.setenv("KM_HEADERS", json.dumps({"X-Both": "env", "X-Env": "e"}))
    monkeypatch.setenv("KM_INSECURE", "true")
    settings = load_settings({"ke_url": "http://flag:3/rest", "headers": {"X-Flag": "x"}}, config)
    assert settings.ke_url == "http://flag:3/rest"
    assert settings.max_concurrent_handlers == 4
    assert settings.grace_period is None
    assert settings.connect_wait is None
    assert settings.log_level == "DEBUG"
    assert settings.log_level_number == logging.DEBUG
    assert settings.insecure is True
    assert settings.header_values() == {"X-File": "f", "X-Both": "env", "X-Env": "e", "X-Flag": "x"}
    assert "ke_url" in settings.model_fields_set
    assert isinstance(settings, KmSettings)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("km.yaml", "grace_period: 5\nheaders:\n  X-Token: t\n"),
        ("km.yml", "grace_period: 5\nheaders:\n  X-Token: t\n"),
        ("km.json", '{"grace_period": 5, "headers": {"X-Token": "t"}}'),
    ],
)
def test_yaml_and_json_config_files(tmp_path: Path, name: str, text: str) -> None:
    settings = load_settings({}, write(tmp_path, name, text))
    assert settings.grace_period == 5
    assert settings.header_values() == {"X-Token": "t"}


def test_main_reads_the_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KM_CONNECT_WAIT", "9")
    args = cli._parser().parse_args(
        [
            "run",
            "app.py",
            "--max-concurrent-handlers",
            "2",
            "--grace-period",
            "None",
            "--header",
            "X-A=1=2",
            "--header",
            "X-B=",
            "--insecure",
            "--log-level",
            "warning",
        ]
    )
    settings = cli._settings(args)
    assert settings.max_concurrent_handlers == 2
    assert settings.grace_period is None
    assert settings.connect_wait == 9
    assert settings.header_values() == {"X-A": "1=2", "X-B": ""}
    assert settings.insecure is True
    assert settings.log_level == "WARNING"
    assert "ke_url" not in settings.model_fields_set


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (
            ["--grace-period", "soon"],
            "km: invalid setting grace_period: Input should be a valid number, unable to parse "
            "string as a number (got 'soon')",
        ),
        (
            ["--connect-wait", "-1"],
            "km: invalid setting connect_wait: Input should be greater than or equal to 0 "
            "(got '-1')",
        ),
        (
            ["--max-concurrent-handlers", "0"],
            "km: invalid setting max_concurrent_handlers: Input should be greater than or equal "
            "to 1 (got '0')",
        ),
        (
            ["--log-level", "loud"],
            "km: invalid setting log_level: 'loud' is not one of CRITICAL, ERROR, WARNING, "
            "INFO, DEBUG",
        ),
        (
            ["--ke-url", "ftp://ke.example"],
            "km: invalid setting ke_url: 'ftp://ke.example' is not an http:// or https:// URL "
            "with a host",
        ),
        (
            ["--ke-url", "http://user:pw@/rest"],
            "km: invalid setting ke_url: 'http://user:***@/rest' is not an http:// or https:// "
            "URL with a host",
        ),
        (
            ["--header", SECRET],
            "km: argument --header: expected NAME=VALUE (the argument is not shown)",
        ),
        (
            ["--header", f"=value-{SECRET}"],
            "km: argument --header: expected NAME=VALUE (the argument is not shown)",
        ),
        (
            ["--header", f"X-Token=line\nbreak{SECRET}"],
            "km: invalid setting headers: the value of header 'X-Token' has characters other "
            "than printable ASCII (the value is not shown)",
        ),
        (
            ["--header", f"Authorization: Bearer {SECRET}=x"],
            "km: invalid setting headers: a header name is not a valid HTTP header name (not "
            "shown)",
        ),
        (
            ["--bogus"],
            "km: unrecognized arguments: --bogus (see 'km --help')",
        ),
    ],
)
def test_a_bad_option_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], expected: str
) -> None:
    app = write(tmp_path, "app_flags.py", kb_source())
    message = fails(capsys, cli.main, ["run", str(app), *flags])
    assert message == expected
    assert SECRET not in message


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "KM_HEADERS",
            f'{{"X-Token": "{SECRET}"',
            'km: invalid setting: error parsing value for field "headers" from source '
            '"EnvSettingsSource"',
        ),
        (
            "KM_HEADERS",
            json.dumps({"X-Token": 12345}),
            "km: invalid setting headers.X-Token: Input should be a valid string",
        ),
        (
            "KM_HEADERS",
            json.dumps([SECRET]),
            "km: invalid setting headers: Input should be a valid dictionary",
        ),
        (
            "KM_INSECURE",
            "maybe",
            "km: invalid setting insecure: Input should be a valid boolean, unable to interpret "
            "input (got 'maybe')",
        ),
    ],
)
def test_a_bad_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    expected: str,
) -> None:
    monkeypatch.setenv(variable, value)
    message = fails(capsys, cli._settings, cli._parser().parse_args(["run", "app.py"]))
    assert message == expected
    assert SECRET not in message


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("km.toml", f'headers = {{ X-Token = "{SECRET}" \n', "Unclosed inline table"),
        ("km.json", f'{{"headers": {{"X-Token": "{SECRET}"}}', "Expecting ',' delimiter"),
        ("km.yaml", f"headers:\n  X-Token: [{SECRET}\n", "expected ',' or ']'"),
        ("km.json", json.dumps([SECRET]), "it must hold a mapping of settings"),
        ("km.yaml", f"- {SECRET}\n", "it must hold a mapping of settings"),
        ("km.toml", b"x = '\xff'", "'utf-8' codec can't decode"),
        ("km.ini", "x = 1", "its name must end in .toml, .yaml, .yml or .json"),
    ],
)
def test_a_bad_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str | bytes, problem: str
) -> None:
    config = write(tmp_path, name, text)
    args = cli._parser().parse_args(["run", "app.py", "--config", str(config)])
    message = fails(capsys, cli._settings, args)
    assert message.startswith(f"km: cannot read config file {config}: {problem}")
    assert SECRET not in message


def test_a_missing_config_file_and_an_unknown_setting_in_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.toml"
    args = cli._parser().parse_args(["run", "app.py", "--config", str(missing)])
    assert fails(capsys, cli._settings, args) == (
        f"km: cannot read config file {missing}: no such file"
    )
    config = write(tmp_path, "km.toml", "grace = 5\n")
    with pytest.raises(SettingsLoadError, match=r"^invalid setting grace: not a setting of km$"):
        load_settings({}, config)


def test_display_url_hides_a_password() -> None:
    assert display_url("https://me:pw@ke.example/rest") == "https://me:***@ke.example/rest"
    assert display_url("http://ke.example/rest") == "http://ke.example/rest"


# ---------------------------------------------------------------------- main


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[KnowledgeBase, dict[str, Any]]]:
    """Replace KnowledgeBase.run: record the KB and its options, close its client."""
    calls: list[tuple[KnowledgeBase, dict[str, Any]]] = []

    def run(self: KnowledgeBase, **options: Any) -> None:
        calls.append((self, options))
        asyncio.run(self.client.close())

    monkeypatch.setattr(KnowledgeBase, "run", run)
    return calls


def test_run_gives_a_kb_without_client_an_httpx_client_and_runs_it(
    tmp_path: Path,
    runs: list[tuple[KnowledgeBase, dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    app = write(tmp_path, "app_run.py", kb_source())
    cli.main(
        [
            "run",
            f"{app}:kb",
            "--grace-period",
            "none",
            "--connect-wait",
            "5",
            "--header",
            f"Authorization=Bearer {SECRET}",
        ]
    )
    [(kb, options)] = runs
    assert options == {"max_concurrent_handlers": 10, "grace_period": None, "connect_wait": 5}
    assert isinstance(kb.client, HttpxClient)
    assert kb.client.base_url == "http://localhost:8280/rest"
    assert kb.client._http.headers["Authorization"] == f"Bearer {SECRET}"
    assert "(headers: Authorization)" in caplog.text
    assert f"knowledge base {APP_ID} stopped" in caplog.text
    out, err = capsys.readouterr()
    assert SECRET not in out + err + caplog.text


def test_a_kb_keeps_its_own_client_unless_a_url_is_given(
    tmp_path: Path,
    runs: list[tuple[KnowledgeBase, dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = write(
        tmp_path,
        "app_own.py",
        "from km_core import KnowledgeBase\n"
        "from km_testing import TestClient\n"
        f"kb = KnowledgeBase(id={APP_ID!r}, name='app', description='', client=TestClient())\n",
    )
    cli.main(["run", str(app), "--header", f"X-Token={SECRET}"])
    assert isinstance(runs[-1][0].client, TestClient)
    assert "brings its own client" in caplog.text
    monkeypatch.setenv("KM_KE_URL", "http://ke.example:8280/rest/")
    cli.main(["run", f"{app}:kb"])
    client = runs[-1][0].client
    assert isinstance(client, HttpxClient)
    assert client.base_url == "http://ke.example:8280/rest"
    assert SECRET not in caplog.text


def test_insecure_turns_tls_verification_off_and_warns(
    tmp_path: Path,
    runs: list[tuple[KnowledgeBase, dict[str, Any]]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = write(tmp_path, "app_insecure.py", kb_source())
    cli.main(
        [
            "run",
            str(app),
            "--insecure",
            "--ke-url",
            "https://ke.example/rest",
            "--header",
            f"X-T={SECRET}",
        ]
    )
    [(kb, _)] = runs
    client = kb.client
    assert isinstance(client, cli._InsecureHttpxClient)
    assert client._http.headers["X-T"] == SECRET
    assert client._insecure_http.is_closed  # closed with the HttpxClient
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("TLS certificate verification is OFF" in r.getMessage() for r in warnings)
    assert SECRET not in caplog.text


def test_an_unreachable_knowledge_engine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/rest"
    app = write(tmp_path, "app_unreachable.py", kb_source())
    argv = ["run", str(app), "--ke-url", url, "--connect-wait", "0"]
    message = fails(
        capsys, cli.main, [*argv, "--header", f"X-Token={SECRET}"], status=ExitStatus.UNREACHABLE
    )
    assert message == (
        f"km: knowledge base {APP_ID}: cannot connect to the Knowledge Engine: nothing is "
        f"listening at 127.0.0.1:{port}, where {url}/version points (connection refused) "
        "(1 attempt)"
    )
    assert SECRET not in caplog.text


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        cli.main(["--version"])
    assert raised.value.code == 0
    assert capsys.readouterr().out == f"km (km-httpx) {__version__}\n"
    for argv in (["--help"], ["run", "--help"]):
        with pytest.raises(SystemExit) as raised:
            cli.main(argv)
        assert raised.value.code == 0
        assert "usage: km" in capsys.readouterr().out


def test_km_is_a_console_script_of_km_httpx() -> None:
    [script] = importlib.metadata.entry_points(group="console_scripts", name="km")
    assert script.value == "km_httpx._cli:main"
    assert script.dist is not None
    assert script.dist.name == "km-httpx"


# ---------------------------------------------------------------------- a real subprocess


async def test_km_run_serves_a_kb_until_sigterm_and_unregisters(tmp_path: Path) -> None:
    app = write(tmp_path, "app.py", APP)
    async with km_testing_serve(tmp_path) as (url, _):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "km_httpx._cli",
            "run",
            "app.py:kb",
            "--ke-url",
            url,
            "--grace-period",
            "5",
            "--connect-wait",
            "10",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,  # the log goes to stderr
            cwd=app.parent,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            assert process.stdout is not None
            await read_line_matching(process.stdout, f"registered knowledge base {APP_ID}")
            await read_line_matching(process.stdout, "handling loop started")
            asker = KnowledgeBase(
                id=ASKER_ID, name="asker", description="Asks", client=HttpxClient(url)
            )
            ask = asker.ask_ki("heights", PATTERN)
            async with asker:
                assert await asker.ask(ask) == [{"tree": OAK, "height": '"21.5"'}]
                signal_process(process, signal.SIGTERM)
                await read_line_matching(process.stdout, "SIGTERM received; stopping")
                await read_line_matching(process.stdout, f"unregistered knowledge base {APP_ID}")
                await read_line_matching(process.stdout, f"knowledge base {APP_ID} stopped$")
                assert await asyncio.wait_for(process.wait(), 10) == 0
                listed = {kb.knowledge_base_id for kb in await asker.client.list_kbs()}
                assert APP_ID not in listed
                assert ASKER_ID in listed
        finally:
            with contextlib.suppress(Exception):
                await stop_process(process, sig=signal.SIGKILL, grace=5)


async def test_km_run_tells_when_the_engine_is_unreachable(tmp_path: Path) -> None:
    app = write(tmp_path, "app.py", APP)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/rest"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "km_httpx._cli",
        "run",
        str(app),
        "--ke-url",
        url,
        "--connect-wait",
        "0",
        "--header",
        f"X-Token={SECRET}",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 20)
    finally:
        if process.returncode is None:
            signal_process(process, signal.SIGKILL)
            await process.wait()
    assert process.returncode == ExitStatus.UNREACHABLE
    lines = err.decode().splitlines()
    assert lines[-1].startswith(f"km: knowledge base {APP_ID}: cannot connect to the Knowledge")
    assert f"nothing is listening at 127.0.0.1:{port}, where {url}/version points" in lines[-1]
    assert lines[-1].endswith("(1 attempt)")
    assert "Traceback" not in err.decode()
    assert SECRET not in (out + err).decode()


DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.py"


async def test_km_run_runs_the_demo_answering_kb_and_stops_on_sigterm(tmp_path: Path) -> None:
    trees_id = "http://example.org/kb/trees"
    async with km_testing_serve(tmp_path) as (url, _):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "km_httpx._cli",
            "run",
            f"{DEMO}:answering_kb",
            "--ke-url",
            url,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            assert process.stdout is not None
            await read_line_matching(process.stdout, "handling loop started")
            asker = KnowledgeBase(
                id=ASKER_ID, name="asker", description="Asks", client=HttpxClient(url)
            )
            ask = asker.ask_ki("heights", "?t <http://example.org/height> ?h .")
            async with asker:
                answers = await asker.ask(ask, [{"t": "<http://example.org/oak>"}])
                assert answers == [
                    {
                        "t": "<http://example.org/oak>",
                        "h": '"21.5"^^<http://www.w3.org/2001/XMLSchema#decimal>',
                    }
                ]
                signal_process(process, signal.SIGTERM)
                await read_line_matching(process.stdout, f"unregistered knowledge base {trees_id}")
                assert await asyncio.wait_for(process.wait(), 10) == 0
                listed = {kb.knowledge_base_id for kb in await asker.client.list_kbs()}
                assert trees_id not in listed
        finally:
            with contextlib.suppress(Exception):
                await stop_process(process, sig=signal.SIGKILL, grace=5)
