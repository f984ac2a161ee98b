"""The getting-started page works as written: a newcomer following it sees knowledge flow.

The page's commands are read from ``docs/getting-started.md`` and run in order: its install
command fills a fresh virtual environment from the clone (with uv, for speed, given the very
arguments the page gives pip), ``km-testing serve`` starts the local engine, and ``km run`` serves
the page's two files, ``trees.py`` and ``forester.py`` (the files the page includes), each in a
process of its own. The forester must print what the page says it prints, and the trees' access
log must show the requests. The engine's port is a free one rather than the page's 8280, so that
the test never collides with a KE on this machine. Every process is stopped with SIGTERM and
must exit 0.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from uv import find_uv_bin

from tests.test_packaging import environment, run_with_the_index
from tests.testing.serving import read_line_matching, stop_process

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "getting-started.md"
FILES = ROOT / "docs" / "examples" / "getting_started"
PAGE_PORT = "8280"

INSTALL = (
    'python -m pip install ./packages/km-core ./packages/km-httpx "./packages/km-testing[server]"'
)
SERVE = f"km-testing serve --port {PAGE_PORT}"
RUN_TREES = f"km run trees.py --ke-url http://127.0.0.1:{PAGE_PORT}/rest"
RUN_FORESTER = f"km run forester.py --ke-url http://127.0.0.1:{PAGE_PORT}/rest"


def blocks(language: str) -> list[str]:
    """The page's fenced code blocks in ``language``, in order."""
    text = PAGE.read_text(encoding="utf-8")
    return [body.strip() for body in re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)]


def test_the_page_has_these_commands_and_includes_these_files() -> None:
    assert blocks("bash") == [INSTALL, SERVE, RUN_TREES, RUN_FORESTER]
    included = re.findall(r'--8<-- "([^"]+)"', PAGE.read_text(encoding="utf-8"))
    assert included == [
        "docs/examples/getting_started/trees.py",
        "docs/examples/getting_started/forester.py",
    ]


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the packages installed as the page's command says."""
    home = tmp_path_factory.mktemp("newcomer") / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(home)], check=True, timeout=60
    )
    words = shlex.split(INSTALL)
    assert words[:4] == ["python", "-m", "pip", "install"]
    run_with_the_index(
        "installing the packages as the getting-started page says",
        [find_uv_bin(), "pip", "install", "--python", str(home / "bin" / "python"), *words[4:]],
        cwd=ROOT,
        timeout=120,
    )
    return home / "bin"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def start(
    bin_dir: Path, command: str, cwd: Path, **replace: str
) -> asyncio.subprocess.Process:
    """Start one of the page's commands from the venv, with the words in ``replace`` replaced."""
    for old, new in replace.items():
        command = command.replace(old, new)
    words = shlex.split(command)
    env = {**environment(), "PYTHONUNBUFFERED": "1"}
    env["PATH"] = os.pathsep.join([str(bin_dir), env["PATH"]])
    return await asyncio.create_subprocess_exec(
        str(bin_dir / words[0]),
        *words[1:],
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def knowledge_flows(
    venv: Path, cwd: Path, ke_url: str, processes: list[asyncio.subprocess.Process]
) -> None:
    """Run the page's two ``km run`` commands against ``ke_url``; check what they show."""
    for name in ("trees.py", "forester.py"):
        shutil.copy(FILES / name, cwd / name)
    url = {f"http://127.0.0.1:{PAGE_PORT}/rest": ke_url}
    trees = await start(venv, RUN_TREES, cwd, **url)
    processes.append(trees)
    assert trees.stderr is not None
    await read_line_matching(trees.stderr, r"handling loop started")

    forester = await start(venv, RUN_FORESTER, cwd, **url)
    processes.append(forester)
    assert forester.stdout is not None
    printed = blocks("text")[0].splitlines()
    seen = [
        (await read_line_matching(forester.stdout, re.escape(line), within=30)).string
        for line in printed
    ]
    assert seen == printed

    await read_line_matching(
        trees.stderr,
        r"INFO km_core\.access: http://example\.org/kb/trees: 'tree-heights' from "
        r"http://example\.org/kb/forester, handle request \d+: answered 2 bindings in "
        r"[\d.]+ ms$",
    )


async def stop_all(processes: list[asyncio.subprocess.Process]) -> list[int]:
    """SIGTERM each, the last started first (the KBs unregister from a running engine)."""
    return [await stop_process(p, sig=signal.SIGTERM) for p in reversed(processes)]


@pytest.mark.timeout(300)
async def test_a_newcomer_sees_knowledge_flow_between_two_processes(
    venv: Path, tmp_path: Path
) -> None:
    port = free_port()
    processes: list[asyncio.subprocess.Process] = []
    try:
        engine = await start(venv, SERVE, tmp_path, **{PAGE_PORT: str(port)})
        processes.append(engine)
        assert engine.stdout is not None
        served = await read_line_matching(
            engine.stdout, r"a local Knowledge Engine serves (http://127\.0\.0\.1:\d+/rest)"
        )
        assert served.group(1) == f"http://127.0.0.1:{port}/rest"
        await knowledge_flows(venv, tmp_path, served.group(1), processes)
    finally:
        statuses = await stop_all(processes)
    assert statuses == [0, 0, 0]


@pytest.mark.ke
@pytest.mark.skipif(
    not os.environ.get("KM_TEST_KE_URL"),
    reason="no real Knowledge Engine: set KM_TEST_KE_URL to its REST base URL",
)
@pytest.mark.timeout(300)
async def test_the_same_against_a_real_knowledge_engine(venv: Path, tmp_path: Path) -> None:
    """Step 6 of the page: ``KM_TEST_KE_URL`` is a Knowledge Engine's REST base URL."""
    processes: list[asyncio.subprocess.Process] = []
    try:
        await knowledge_flows(venv, tmp_path, os.environ["KM_TEST_KE_URL"], processes)
    finally:
        statuses = await stop_all(processes)
    assert statuses == [0, 0]
