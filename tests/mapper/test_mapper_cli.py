"""The ``km-mapper`` command: ``convert`` writes a legacy file as ours with notes on stderr,
``check`` validates a config file, and every mistake is one line on stderr with status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from km_mapper import __version__
from km_mapper._cli import main

DATA = Path(__file__).parent / "data"
SQL_EXAMPLE = DATA / "legacy-sql-trees.jsonc"
SPARQL_EXAMPLE = DATA / "legacy-sparql-trees.jsonc"
SOURCES = Path(__file__).parent.parent.parent / "packages"

CONFIG = """\
knowledge_base:
  id: http://example.org/kb/trees
  name: trees
sources:
  db: {type: sql, url: "sqlite+aiosqlite:///trees.db"}
  store: {type: sparql, endpoint: "http://localhost:7878/query"}
source: db
knowledge_interactions:
  - name: heights
    type: answer
    graph_pattern: "?tree <http://example.org/height> ?height ."
    query: SELECT id AS tree, height FROM trees
"""


def fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The one line ``main(argv)`` prints on stderr as it exits with status 2."""
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("km-mapper: ")
    return err.removeprefix("km-mapper: ").rstrip("\n")


# ---------------------------------------------------------------------- convert


def test_convert_writes_yaml_on_stdout_and_the_notes_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["convert", str(SQL_EXAMPLE)])
    out, err = capsys.readouterr()
    config = yaml.safe_load(out)
    assert config["sources"] == {
        "legacy": {
            "type": "sql",
            "url": "mysql+aiomysql://registry@tree-db:3306/trees",
            "password_env": "KM_MAPPER_SQL_PASSWORD",
        }
    }
    lines = err.splitlines()
    assert len(lines) == 11
    assert all(line.startswith("note: ") for line in lines)
    assert (
        "note: sql_password is not carried over (a config file holds no secrets): set the "
        "environment variable KM_MAPPER_SQL_PASSWORD to the password before km run"
    ) in lines


@pytest.mark.parametrize(
    ("name", "loads"), [("mapper.toml", tomllib.loads), ("mapper.json", json.loads)]
)
def test_convert_writes_the_format_of_the_output_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, loads: object
) -> None:
    out_file = tmp_path / name
    main(["convert", str(SPARQL_EXAMPLE), "-o", str(out_file)])
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("note: ")
    assert callable(loads)
    assert loads(out_file.read_text(encoding="utf-8"))["source"] == "legacy"
    main(["check", str(out_file)])
    assert capsys.readouterr().out == (
        "ok: https://example.org/kb/tree-store, 3 interactions, sources: legacy (sparql)\n"
    )


def test_convert_to_stdout_in_another_format(capsys: pytest.CaptureFixture[str]) -> None:
    main(["convert", str(SQL_EXAMPLE), "--format", "json"])
    assert json.loads(capsys.readouterr().out)["knowledge_base"]["permitted"] == []


def test_a_format_that_does_not_fit_the_output_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "mapper.yaml"
    argv = ["convert", str(SQL_EXAMPLE), "-o", str(out_file), "--format", "toml"]
    assert fails(argv, capsys) == f"--format toml does not fit {out_file}, which is read as yaml"
    assert not out_file.exists()


def test_an_output_file_of_an_unknown_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "mapper.conf"
    assert fails(["convert", str(SQL_EXAMPLE), "-o", str(out_file)], capsys) == (
        f"cannot write {out_file}: its name must end in .yaml, .yml, .toml or .json, as km run "
        "and check read a config file by its suffix"
    )


def test_an_output_file_that_cannot_be_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "no-such-dir" / "mapper.yaml"
    message = fails(["convert", str(SQL_EXAMPLE), "-o", str(out_file)], capsys)
    assert message == f"cannot write {out_file}: no such file or directory"


def test_a_legacy_file_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "config.jsonc"
    assert fails(["convert", str(missing)], capsys) == f"{missing}: no such file"


def test_a_legacy_file_with_a_mistake(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    legacy = tmp_path / "config.jsonc"
    legacy.write_text(
        SQL_EXAMPLE.read_text(encoding="utf-8").replace('"type": "react"', '"type": "subscribe"'),
        encoding="utf-8",
    )
    assert fails(["convert", str(legacy)], capsys) == (
        f"{legacy}: knowledge_interactions[1].type: must be one of 'ask', 'answer', 'post', "
        "'react', not 'subscribe'"
    )


def test_a_legacy_file_that_is_not_json5(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    legacy = tmp_path / "config.jsonc"
    legacy.write_text("{\n  a: [1,\n}\n", encoding="utf-8")
    assert fails(["convert", str(legacy)], capsys).startswith(
        f"{legacy}, line 3: not valid JSON5: "
    )


# ---------------------------------------------------------------------- check


def test_check_names_the_kb_its_interactions_and_its_sources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "mapper.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    main(["check", str(config)])
    out, err = capsys.readouterr()
    assert (
        out == "ok: http://example.org/kb/trees, 1 interaction, sources: db (sql), store (sparql)\n"
    )
    assert err == ""


def test_check_of_a_bad_file_is_one_line_with_the_line_and_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "mapper.yaml"
    config.write_text(CONFIG.replace("    query:", "    qeury:"), encoding="utf-8")
    assert fails(["check", str(config)], capsys) == (
        f"{config}, line 12: knowledge_interactions[0].qeury: unknown key 'qeury' (did you mean "
        "'query'?); the keys here are: name, prefixes, source, permitted, timeout, terms, type, "
        "graph_pattern, query"
    )


def test_check_of_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "mapper.toml"
    assert fails(["check", str(missing)], capsys) == f"{missing}: no such file"


# ---------------------------------------------------------------------- the command itself


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert fails([], capsys) == (
        "the following arguments are required: COMMAND (see 'km-mapper --help')"
    )


def test_a_bad_option_of_a_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    message = fails(["convert", str(SQL_EXAMPLE), "--format", "ini"], capsys)
    assert message.startswith("argument --format: invalid choice: 'ini'")
    assert message.endswith("(see 'km-mapper convert --help')")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out == f"km-mapper (km-mapper) {__version__}\n"


def test_the_command_in_a_process_of_its_own(tmp_path: Path) -> None:
    paths = [str(SOURCES / "km-mapper" / "src"), str(SOURCES / "km-core" / "src")]
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(
        [*paths, *filter(None, [environment.get("PYTHONPATH")])]
    )
    out_file = tmp_path / "mapper.yaml"
    command = [sys.executable, "-m", "km_mapper._cli"]
    converted = subprocess.run(
        [*command, "convert", str(SQL_EXAMPLE), "-o", str(out_file)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=30,
        check=False,
    )
    assert converted.returncode == 0, converted.stderr
    assert converted.stdout == ""
    assert all(line.startswith("note: ") for line in converted.stderr.splitlines())
    checked = subprocess.run(
        [*command, "check", out_file.name],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=30,
        check=False,
    )
    assert (checked.returncode, checked.stderr) == (0, "")
    assert checked.stdout == (
        "ok: https://example.org/kb/tree-registry, 2 interactions, sources: legacy (sql)\n"
    )
    failed = subprocess.run(
        [*command, "check", "missing.yaml"],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=30,
        check=False,
    )
    assert (failed.returncode, failed.stdout) == (2, "")
    assert failed.stderr == "km-mapper: missing.yaml: no such file\n"
