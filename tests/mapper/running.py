"""Serving knowledge bases from config files in subprocesses, against an engine in this process.

`WatchedEngine` is a local Knowledge Engine that tells the test when a knowledge base first
polls: by then it is registered, its interactions too, and its handling loop runs (km-core and
knowledge-mapper 0.0.24 both register every interaction before they first poll, and km-mapper
opens its sources before that). `km_run` starts ``km run CONFIG`` and `legacy_run` starts
``python -m knowledge_mapper CONFIG`` of knowledge-mapper 0.0.24, each as a `ServedProcess`
whose output goes to a file, to be quoted when something fails. Every wait is bounded; a process
is stopped with SIGTERM and killed when it overstays its grace.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from km_core import HandleRequest, PollResult
from km_testing import LocalKnowledgeEngine
from tests.testing.serving import signal_process

__all__ = [
    "READY_TIMEOUT",
    "STOP_TIMEOUT",
    "ServedProcess",
    "WatchedEngine",
    "km_run",
    "legacy_run",
]

READY_TIMEOUT = 60.0
"""Seconds a process may take to register and first poll (the legacy's first import is slow)."""
STOP_TIMEOUT = 20.0
"""Seconds a process may take to stop after SIGTERM before it is killed."""
TAIL = 4000
"""Characters of a process's output quoted in a failure."""


class WatchedEngine(LocalKnowledgeEngine):
    """A LocalKnowledgeEngine that tells when a registered knowledge base first polls."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._polling: dict[str, asyncio.Event] = {}

    def polling(self, kb_id: str) -> asyncio.Event:
        """Set once the knowledge base ``kb_id``, registered, has opened a poll."""
        return self._polling.setdefault(kb_id, asyncio.Event())

    def registered(self) -> set[str]:
        """The ids of the knowledge bases registered now."""
        return {kb.knowledge_base_id for kb in self.list_kbs()}

    async def poll(self, kb_id: str | None) -> tuple[PollResult, HandleRequest | None]:
        if kb_id is not None and kb_id in self.registered():
            self.polling(kb_id).set()
        return await super().poll(kb_id)


class ServedProcess:
    """A subprocess that serves a knowledge base; its stdout and stderr go to ``log``."""

    def __init__(self, name: str, process: asyncio.subprocess.Process, log: Path) -> None:
        self.name = name
        self.process = process
        self.log = log

    def output(self) -> str:
        """What the process has written so far (its end, when it is long)."""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return text if len(text) <= TAIL else "..." + text[-TAIL:]

    async def ready(
        self, engine: WatchedEngine, kb_id: str, *, within: float = READY_TIMEOUT
    ) -> None:
        """Wait until the knowledge base ``kb_id`` polls the engine; fail if the process ends
        first or it takes longer than ``within`` seconds."""
        polling = asyncio.ensure_future(engine.polling(kb_id).wait())
        ended = asyncio.ensure_future(self.process.wait())
        try:
            done, _ = await asyncio.wait(
                {polling, ended}, timeout=within, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiting in (polling, ended):
                waiting.cancel()
        if polling not in done:
            how = (
                f"ended with status {self.process.returncode}"
                if self.process.returncode is not None
                else f"did not poll within {within:g} s"
            )
            raise AssertionError(f"{self.name} {how}; its output:\n{self.output()}")

    async def stop(self, *, grace: float = STOP_TIMEOUT) -> int:
        """SIGTERM (unless it has ended), then SIGKILL after ``grace`` seconds; its exit status."""
        signal_process(self.process, signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), grace)
        except TimeoutError:
            signal_process(self.process, signal.SIGKILL)
            await asyncio.wait_for(self.process.wait(), grace)
        assert self.process.returncode is not None
        return self.process.returncode


def _python_path() -> str:
    """This process's PYTHONPATH with absolute entries, so a child anywhere imports the same."""
    entries = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    return os.pathsep.join(os.path.abspath(entry) for entry in entries if entry)


async def _start(
    name: str, command: list[str], log: Path, env: dict[str, str], cwd: Path
) -> ServedProcess:
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            cwd=cwd,
        )
    return ServedProcess(name, process, log)


async def km_run(
    config: Path, ke_url: str, *, env: dict[str, str] | None = None, options: tuple[str, ...] = ()
) -> ServedProcess:
    """Start ``km run CONFIG --ke-url KE_URL`` (the ``km`` script beside this python).

    Its output goes to ``km-run.log`` beside the config file; ``env`` is added to this
    process's environment.
    """
    script = Path(sys.executable).with_name("km")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "km_httpx._cli"]
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    if environment.get("PYTHONPATH"):
        environment["PYTHONPATH"] = _python_path()
    command += ["run", str(config), "--ke-url", ke_url, "--grace-period", "5", *options]
    return await _start(
        "km run", command, config.with_name("km-run.log"), environment, config.parent
    )


async def legacy_run(python: Path, config: Path, ke_url: str) -> ServedProcess:
    """Start knowledge-mapper 0.0.24 on ``config``, with ``KE_ENDPOINT=KE_URL``.

    Its output (its log, on stderr) goes to ``legacy.log`` beside the config file. It gets
    neither PYTHONPATH nor PYTHONHOME: its virtualenv has what it imports.
    """
    environment = {
        key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")
    }
    environment |= {"PYTHONUNBUFFERED": "1", "KE_ENDPOINT": ke_url}
    command = [str(python), "-m", "knowledge_mapper", str(config)]
    return await _start(
        "knowledge-mapper 0.0.24",
        command,
        config.with_name("legacy.log"),
        environment,
        config.parent,
    )
