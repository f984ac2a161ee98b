"""``km run trees.yaml``: the docs' example config served end to end, over HTTP.

The example (docs/examples/mapper/trees.yaml) runs as written, on an SQLite database beside it,
in a ``km run`` subprocess against the local engine served on 127.0.0.1; KBs of the SDK ask it
and post to it. And the ways ``km run`` says a config file cannot be served.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from km_core import KnowledgeBase
from km_httpx import HttpxClient
from km_testing import LocalKnowledgeEngine, create_app
from tests.testing.serving import read_line_matching, serving, signal_process, stop_process

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "mapper" / "trees.yaml"
EX = {"ex": "http://example.org/"}
PATTERN = "?tree ex:height ?height .\n?tree ex:name ?name ."
GARDENER = "http://example.org/kb/gardener"
VANDAL = "http://example.org/kb/vandal"
INTEGER = "<http://www.w3.org/2001/XMLSchema#integer>"
WAIT = 20


def tree(tree_id: str, height: int, name: str) -> dict[str, str]:
    return {
        "tree": f"<http://example.org/trees/{tree_id}>",
        "height": f'"{height}"^^{INTEGER}',
        "name": f'"{name}"',
    }


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The example config, beside an SQLite database of two trees."""
    path = tmp_path / "trees.yaml"
    shutil.copy(EXAMPLE, path)
    with contextlib.closing(sqlite3.connect(tmp_path / "trees.db")) as db:
        db.execute("CREATE TABLE trees (id TEXT PRIMARY KEY, height INTEGER, name TEXT)")
        db.executemany(
            "INSERT INTO trees VALUES (?, ?, ?)", [("oak-1", 21, "oak"), ("beech-2", 17, "beech")]
        )
        db.commit()
    return path


@contextlib.asynccontextmanager
async def kb(url: str, kb_id: str) -> AsyncIterator[KnowledgeBase]:
    """A KB of the SDK that may ask for tree heights and post new trees."""
    made = KnowledgeBase(id=kb_id, name=kb_id.rsplit("/", 1)[-1], description="", client=None)
    made.client = HttpxClient(url)
    made.ask_ki("heights", PATTERN, prefixes=EX)
    made.post_ki("plant", PATTERN, prefixes=EX)
    await made.connect()
    await made.register()
    try:
        yield made
    finally:
        await made.unregister()
        await made.close()


async def collect(stream: asyncio.StreamReader, lines: list[str]) -> None:
    """Keep reading ``stream`` to its end, so that the process never blocks on a full pipe."""
    while raw := await stream.readline():
        lines.append(raw.decode(errors="replace"))


async def test_km_run_serves_the_example_config(config: Path) -> None:
    engine = LocalKnowledgeEngine()
    async with serving(create_app(engine)) as url:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "km_httpx._cli",
            "run",
            str(config),
            "--ke-url",
            url,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert process.stdout is not None
        lines: list[str] = []
        reader: asyncio.Task[None] | None = None
        try:
            await read_line_matching(process.stdout, "handling loop started", within=WAIT)
            reader = asyncio.create_task(collect(process.stdout, lines))
            async with kb(url, GARDENER) as gardener, kb(url, VANDAL) as vandal:
                heights = await asyncio.wait_for(gardener.ask("heights"), WAIT)
                assert sorted(heights, key=str) == sorted(
                    [tree("oak-1", 21, "oak"), tree("beech-2", 17, "beech")], key=str
                )
                one = await gardener.ask("heights", [{"tree": "<http://example.org/trees/oak-1>"}])
                assert one == [tree("oak-1", 21, "oak")]

                await asyncio.wait_for(gardener.post("plant", [tree("elm-3", 9, "elm")]), WAIT)
                # The vandal may ask, but not plant: its post is denied before any statement.
                await asyncio.wait_for(vandal.post("plant", [tree("weed-4", 1, "weed")]), WAIT)
                after = await asyncio.wait_for(vandal.ask("heights"), WAIT)
                assert {b["name"] for b in after} == {'"oak"', '"beech"', '"elm"'}
        finally:
            if reader is None:
                status = await stop_process(process, sig=signal.SIGTERM, grace=WAIT)
            else:  # the reader owns stdout: it ends at EOF, when km run has exited
                signal_process(process, signal.SIGTERM)
                try:
                    await asyncio.wait_for(reader, WAIT)
                finally:
                    status = await stop_process(process, sig=signal.SIGKILL, grace=WAIT)
        output = "".join(lines)
        assert status == 0, output
        assert f"'plant-tree' from {VANDAL}" in output
        assert "denied (not in the permitted list)" in output


async def run_km(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "km_httpx._cli",
        "run",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), WAIT)
    assert process.returncode is not None
    return process.returncode, err.decode()


async def test_a_config_with_a_mistake_is_one_line_naming_file_line_and_key(
    tmp_path: Path,
) -> None:
    path = tmp_path / "trees.yaml"
    path.write_text(EXAMPLE.read_text().replace("    query: SELECT", "    qeury: SELECT"))
    status, err = await run_km(str(path), "--ke-url", "http://127.0.0.1:9/rest")
    assert status == 2
    (line,) = err.strip().splitlines()
    assert line.startswith(f"km: {path}, line ")
    assert "knowledge_interactions[0].qeury: unknown key 'qeury'" in line


async def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    status, err = await run_km(str(tmp_path / "nowhere.yaml"))
    assert status == 2
    assert err.strip() == f"km: no such file: {tmp_path / 'nowhere.yaml'}"
