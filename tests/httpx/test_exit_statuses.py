"""``km run``'s exit statuses and its access log, in a real subprocess against ``km-testing serve``.

Each test writes an app to tmp_path, runs ``python -m km_httpx._cli run app.py:kb`` with its
stderr (where the log goes) piped and read line by line, and waits on those lines and on the
process's exit, never by sleeping. Every server binds 127.0.0.1; every subprocess is stopped
(killed if need be) when its test ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from km_core import KnowledgeBase
from km_httpx import ExitStatus, HttpxClient
from tests.testing.serving import (
    km_testing_serve,
    km_testing_serve_process,
    signal_process,
    stop_process,
)

APP_ID = "http://example.org/kb/exiting"
ASKER_ID = "http://example.org/kb/exit-asker"
PATTERN = "?tree <http://example.org/height> ?height ."
OAK = "<http://example.org/oak>"
SERVING = "handling loop started"
UNREGISTER_FAILED = "could not unregister"
STOPPED_BY_ENGINE = (
    f"km: knowledge base {APP_ID}: the Knowledge Engine stopped this knowledge base while it "
    "served: it was deleted, its lease expired, or the Knowledge Engine shut down; start it "
    "again once the Knowledge Engine is back"
)

APP = f'''
from km_core import KnowledgeBase

kb = KnowledgeBase(id="{APP_ID}", name="exiting", description="Knows how tall the oak is")


@kb.answer_ki("heights", "{PATTERN}")
def heights(binding_set: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{{"tree": "{OAK}", "height": '"21.5"'}}]
'''

STARTUP_FAILS = (
    APP
    + """

@kb.on_startup
def open_the_database() -> None:
    raise ValueError("the tree database is not there")
"""
)

BAD_PATTERN = f'''
from km_core import KnowledgeBase

kb = KnowledgeBase(id="{APP_ID}", name="exiting", description="")


@kb.answer_ki("heights", "?tree <http://example.org/height ?height .")
def heights(binding_set: list[dict[str, str]]) -> list[dict[str, str]]:
    return []
'''
PATTERN_ERROR = (
    "km: cannot import 'app.py': GraphPatternError: knowledge interaction 'heights': syntax "
    "error: unexpected '?height'"
)


class KmRun:
    """A ``km run`` subprocess whose stderr is read line by line; every line read is kept."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    async def wait_for(self, pattern: str, *, within: float = 20) -> re.Match[str]:
        """Read stderr until a line matches; fail at EOF or after ``within`` seconds."""
        stderr = self.process.stderr
        assert stderr is not None
        async with asyncio.timeout(within):
            while True:
                raw = await stderr.readline()
                if not raw:
                    raise AssertionError(
                        f"no line matched {pattern!r} before EOF; stderr:\n{self.text}"
                    )
                line = raw.decode(errors="replace").rstrip("\n")
                self.lines.append(line)
                found = re.search(pattern, line)
                if found:
                    return found

    async def exit_status(self, *, within: float = 20) -> int:
        """Read the rest of stderr and wait for the exit."""
        stderr = self.process.stderr
        assert stderr is not None
        async with asyncio.timeout(within):
            rest = await stderr.read()
            self.lines.extend(rest.decode(errors="replace").splitlines())
            return await self.process.wait()

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def the_km_line(self) -> str:
        """The one ``km:`` line, which is the last line; no traceback anywhere."""
        km_lines = [line for line in self.lines if line.startswith("km: ")]
        assert len(km_lines) == 1, self.text
        assert self.lines[-1] == km_lines[0], self.text
        assert "Traceback" not in self.text
        return km_lines[0]


@contextlib.asynccontextmanager
async def km_run(app: Path, *options: str) -> AsyncIterator[KmRun]:
    """Run ``km run app.py:kb *options`` in the app's directory until the block ends."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("KM_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "km_httpx._cli",
        "run",
        f"{app.name}:kb",
        *options,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,  # the log and the km: line
        cwd=app.parent,
        env={**env, "PYTHONUNBUFFERED": "1"},
    )
    try:
        yield KmRun(process)
    finally:
        if process.returncode is None:
            await stop_process(process, sig=signal.SIGKILL, grace=5)


def write_app(tmp_path: Path, source: str) -> Path:
    app = tmp_path / "app.py"
    app.write_text(source)
    return app


@contextlib.asynccontextmanager
async def asker(url: str, *, unregister: bool = True) -> AsyncIterator[KnowledgeBase]:
    """A KB in this process that asks for heights through the engine at ``url``.

    Without ``unregister`` it is left registered at the end: it sends no DELETE /sc.
    """
    kb = KnowledgeBase(id=ASKER_ID, name="asker", description="Asks", client=HttpxClient(url))
    kb.ask_ki("heights", "?t <http://example.org/height> ?h .")
    if unregister:
        async with kb:
            yield kb
        return
    try:
        await kb.connect()
        await kb.register()
        yield kb
    finally:
        await kb.close()


async def a_round_trip(kb: KnowledgeBase) -> None:
    """Ask the served KB once; afterwards its loop has its next poll open at the engine."""
    assert await kb.ask("heights", [{"t": OAK}]) == [{"t": OAK, "h": '"21.5"'}]


def unused_port_url() -> tuple[str, int]:
    """A URL on 127.0.0.1 at a port nobody listens on, and that port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/rest", port


# ---------------------------------------------------------------------- 2: a usage mistake


async def test_a_declaration_mistake_exits_2_with_one_line(tmp_path: Path) -> None:
    app = write_app(tmp_path, BAD_PATTERN)
    url, _ = unused_port_url()  # never reached: the app does not load
    async with km_run(app, "--ke-url", url) as run:
        assert await run.exit_status() == ExitStatus.USAGE == 2
    assert run.lines == [run.the_km_line()]
    assert run.lines[0].startswith(PATTERN_ERROR)
    assert run.lines[0].endswith("in graph pattern '?tree <http://example.org/height ?height .'")


async def test_a_declaration_mistake_shows_its_traceback_at_debug(tmp_path: Path) -> None:
    app = write_app(tmp_path, BAD_PATTERN)
    url, _ = unused_port_url()
    async with km_run(app, "--ke-url", url, "--log-level", "debug") as run:
        assert await run.exit_status() == ExitStatus.USAGE
    assert "Traceback (most recent call last):" in run.text
    traceback_at = run.lines.index("Traceback (most recent call last):")
    [km_line] = [line for line in run.lines if line.startswith("km: ")]
    assert run.lines[-1] == km_line
    assert km_line.startswith(PATTERN_ERROR)
    after = run.lines[traceback_at:-1]
    assert any("app.py" in line and "line 7" in line for line in after), run.text
    assert after[-1].startswith("km_core._errors.GraphPatternError: knowledge interaction")


# ---------------------------------------------------------------------- 3: startup failed


async def test_a_failing_startup_hook_exits_3(tmp_path: Path) -> None:
    app = write_app(tmp_path, STARTUP_FAILS)
    async with (
        km_testing_serve(tmp_path) as (url, _),
        km_run(app, "--ke-url", url, "--connect-wait", "10") as run,
    ):
        assert await run.exit_status() == ExitStatus.STARTUP_FAILED == 3
        async with HttpxClient(url) as client:
            assert await client.get_kb(APP_ID) is None  # registered, then unregistered again
    assert run.the_km_line() == (
        f"km: knowledge base {APP_ID} could not start: startup hook 'open_the_database' "
        "raised ValueError: the tree database is not there"
    )
    assert SERVING not in run.text


# ---------------------------------------------------------------------- 4: unreachable


async def test_nothing_listening_exits_4(tmp_path: Path) -> None:
    app = write_app(tmp_path, APP)
    url, port = unused_port_url()
    async with km_run(app, "--ke-url", url, "--connect-wait", "1") as run:
        assert await run.exit_status() == ExitStatus.UNREACHABLE == 4
    cause = f"nothing is listening at 127.0.0.1:{port}, where {url}/version points"
    line = run.the_km_line()
    assert re.fullmatch(
        rf"km: knowledge base {re.escape(APP_ID)}: cannot connect to the Knowledge Engine: "
        rf"{re.escape(cause)} \(connection refused\) \(\d+ attempts over [0-9.]+ s\)",
        line,
    ), line
    # One cause, however many attempts: one WARNING line, which names it.
    warnings = [line for line in run.lines if " WARNING " in line]
    assert len(warnings) == 1, run.text
    assert f" WARNING km_core: knowledge base {APP_ID}: " in warnings[0]
    assert cause in warnings[0]


# ---------------------------------------------------------------------- 5: stopped by the KE


async def test_the_kb_deleted_while_it_serves_exits_5_without_unregistering(
    tmp_path: Path,
) -> None:
    app = write_app(tmp_path, APP)
    async with km_testing_serve_process(tmp_path, "--log-level", "info") as (url, engine):
        async with (
            km_run(app, "--ke-url", url, "--connect-wait", "10") as run,
            asker(url, unregister=False) as kb,
        ):
            await run.wait_for(SERVING)
            await a_round_trip(kb)
            async with httpx.AsyncClient() as http:
                deleted = await http.delete(f"{url}/sc", headers={"Knowledge-Base-Id": APP_ID})
            assert deleted.status_code == 200
            assert await run.exit_status() == ExitStatus.STOPPED_BY_ENGINE == 5
            # The engine serves on, without the KB.
            assert {info.knowledge_base_id for info in await kb.client.list_kbs()} == {ASKER_ID}
        # The engine's access log (its stdout) has one DELETE /sc: the test's.
        signal_process(engine, signal.SIGTERM)
        assert engine.stdout is not None
        access = (await asyncio.wait_for(engine.stdout.read(), 20)).decode().splitlines()
        assert await asyncio.wait_for(engine.wait(), 20) == 0
    deletes = [line for line in access if '"DELETE /rest/sc HTTP/1.1"' in line]
    assert len(deletes) == 1, access
    assert deletes[0].endswith(" 200 OK")
    assert run.the_km_line() == STOPPED_BY_ENGINE
    assert UNREGISTER_FAILED not in run.text
    assert f"unregistered knowledge base {APP_ID}" not in run.text


async def test_the_engine_stopping_while_the_kb_serves_exits_5(tmp_path: Path) -> None:
    app = write_app(tmp_path, APP)
    async with (
        km_testing_serve_process(tmp_path) as (url, engine),
        km_run(app, "--ke-url", url, "--connect-wait", "10") as run,
    ):
        await run.wait_for(SERVING)
        async with asker(url) as kb:
            await a_round_trip(kb)
        assert await stop_process(engine, sig=signal.SIGTERM) == 0
        assert await run.exit_status() == ExitStatus.STOPPED_BY_ENGINE
    assert run.the_km_line() == STOPPED_BY_ENGINE
    assert UNREGISTER_FAILED not in run.text


# ---------------------------------------------------------------------- 0: the KE gone


async def test_sigterm_after_the_engine_was_killed_exits_0_with_one_warning(
    tmp_path: Path,
) -> None:
    app = write_app(tmp_path, APP)
    async with (
        km_testing_serve_process(tmp_path) as (url, engine),
        km_run(app, "--ke-url", url, "--connect-wait", "10") as run,
    ):
        await run.wait_for(SERVING)
        assert await stop_process(engine, sig=signal.SIGKILL) == -signal.SIGKILL
        await run.wait_for(f"knowledge base {re.escape(APP_ID)}: polling failed")
        signal_process(run.process, signal.SIGTERM)
        assert await run.exit_status() == ExitStatus.OK
    unregister = [line for line in run.lines if UNREGISTER_FAILED in line]
    assert len(unregister) == 1, run.text
    assert f" WARNING km_core: knowledge base {APP_ID}: could not unregister (" in unregister[0]
    assert "Traceback" not in run.text
    assert not [line for line in run.lines if line.startswith("km: ")]


# ---------------------------------------------------------------------- 0, and the access log


@pytest.mark.parametrize("logged", [True, False], ids=["access-log", "no-access-log"])
async def test_sigterm_while_serving_exits_0_and_each_request_is_one_access_line(
    tmp_path: Path, logged: bool
) -> None:
    app = write_app(tmp_path, APP)
    options = [] if logged else ["--no-access-log"]
    async with (
        km_testing_serve(tmp_path) as (url, _),
        km_run(app, "--ke-url", url, "--connect-wait", "10", *options) as run,
    ):
        await run.wait_for(SERVING)
        async with asker(url) as kb:
            await a_round_trip(kb)  # the answer shows the request was handled
            if logged:
                found = await run.wait_for(r" km_core\.access: ")
            signal_process(run.process, signal.SIGTERM)
            assert await run.exit_status() == ExitStatus.OK == 0
            assert await kb.client.get_kb(APP_ID) is None  # it unregistered
    assert f"unregistered knowledge base {APP_ID}" in run.text
    assert not [line for line in run.lines if line.startswith("km: ")]
    assert "Traceback" not in run.text
    access = [line for line in run.lines if " km_core.access: " in line]
    if not logged:
        assert access == []
        return
    assert access == [found.string]
    assert re.search(
        rf" INFO km_core\.access: {re.escape(APP_ID)}: 'heights' from {re.escape(ASKER_ID)}, "
        r"handle request \d+: answered 1 binding in [0-9.]+ ms$",
        access[0],
    ), access[0]
