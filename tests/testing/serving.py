"""Helpers for the server tests: an engine that reports its polls, a uvicorn server in the test's
event loop, and a ``km-testing serve`` subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx

from km_core import HandleRequest, PollResult
from km_testing import LocalKnowledgeEngine, create_app, serve_locally

HOST = "127.0.0.1"


def signal_process(process: asyncio.subprocess.Process, sig: int) -> None:
    """Send ``sig`` to ``process`` unless it is known to have exited.

    This uses ``os.kill``, never ``Process.send_signal``/``kill``/``terminate``: on Python 3.11
    those poll the child first, and a poll that finds it exited reaps it before asyncio's child
    watcher does; the watcher then reports exit status 255 instead of the real one.
    """
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, sig)


class ObservedEngine(LocalKnowledgeEngine):
    """A LocalKnowledgeEngine that tells the test when long polls open and end.

    ``poll`` takes the KB's poll slot before it first waits, so once `polls_opened` counts a
    poll, that poll holds the slot (or has already failed with 404 or 409).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.polls_opened = 0
        self.polls_ended = 0
        self.given_back = 0
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []

    def _changed(self) -> None:
        for check, waiter in self._waiters:
            if not waiter.done() and check():
                waiter.set_result(None)

    async def poll(self, kb_id: str | None) -> tuple[PollResult, HandleRequest | None]:
        self.polls_opened += 1
        self._changed()
        try:
            return await super().poll(kb_id)
        finally:
            self.polls_ended += 1
            self._changed()

    def _give_back(self, kb: Any, answered: Any) -> None:
        super()._give_back(kb, answered)
        self.given_back += 1
        self._changed()

    async def wait_for_polls(self, *, opened: int = 0, ended: int = 0, given_back: int = 0) -> None:
        """Wait until at least ``opened`` polls have opened and ``ended`` have ended, and
        ``given_back`` requests handed to abandoned polls are back in their queues."""

        def check() -> bool:
            return (
                self.polls_opened >= opened
                and self.polls_ended >= ended
                and self.given_back >= given_back
            )

        if check():
            return
        entry = (check, asyncio.get_running_loop().create_future())
        self._waiters.append(entry)
        try:
            await asyncio.wait_for(entry[1], 10)
        finally:
            self._waiters.remove(entry)


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 and an ephemeral port, in this event loop."""
    async with serve_locally(app, host=HOST) as base_url:
        yield base_url


async def read_line_matching(
    stream: asyncio.StreamReader, pattern: str, *, within: float = 20
) -> re.Match[str]:
    """Read lines until one matches ``pattern``; fail at EOF or after ``within`` seconds."""
    seen: list[str] = []
    async with asyncio.timeout(within):
        while True:
            raw = await stream.readline()
            if not raw:
                raise AssertionError(f"no line matched {pattern!r} before EOF; read: {seen}")
            line = raw.decode(errors="replace").rstrip("\n")
            seen.append(line)
            found = re.search(pattern, line)
            if found:
                return found


async def start_process(
    *args: str, stderr_path: Path, env: dict[str, str] | None = None
) -> asyncio.subprocess.Process:
    """Start ``python *args`` with stdout piped and stderr to a file."""
    with stderr_path.open("wb") as stderr:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )


async def stop_process(
    process: asyncio.subprocess.Process, *, sig: int = signal.SIGTERM, grace: float = 10
) -> int:
    """Send ``sig`` and wait for the exit; kill the process if it overstays ``grace`` seconds.

    Returns:
        The exit status (negative: killed by that signal).
    """
    signal_process(process, sig)
    try:
        await asyncio.wait_for(process.wait(), grace)
    finally:
        if process.returncode is None:
            signal_process(process, signal.SIGKILL)
            await process.wait()
        if process.stdout is not None:
            await asyncio.wait_for(process.stdout.read(), grace)  # to EOF: the pipe closes
    assert process.returncode is not None
    return process.returncode


@contextlib.asynccontextmanager
async def km_testing_serve_process(
    tmp_path: Path, *options: str
) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    """Run ``km-testing serve --port 0 --log-level warning *options`` until the block ends.

    A later ``--log-level`` in ``options`` wins (at ``info`` its stdout has uvicorn's access
    log). Its stderr goes to ``km-testing-serve.stderr`` in ``tmp_path``.

    Yields:
        The base URL the server printed, and the process, for the test to signal or read.
    """
    process = await start_process(
        "-m",
        "km_testing._cli",
        "serve",
        "--port",
        "0",
        "--log-level",
        "warning",
        *options,
        stderr_path=tmp_path / "km-testing-serve.stderr",
    )
    try:
        assert process.stdout is not None
        found = await read_line_matching(process.stdout, r"(http://\S+/rest)")
        yield found.group(1), process
    finally:
        await stop_process(process)


@contextlib.asynccontextmanager
async def km_testing_serve(tmp_path: Path, *options: str) -> AsyncIterator[tuple[str, Path]]:
    """Run ``km-testing serve --port 0 *options`` in a subprocess until the block ends.

    Yields:
        The base URL the server printed, and the file its stderr goes to.
    """
    async with km_testing_serve_process(tmp_path, *options) as (url, _):
        yield url, tmp_path / "km-testing-serve.stderr"


@contextlib.asynccontextmanager
async def http_client(engine: LocalKnowledgeEngine) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the engine's app, in process (no socket), at ``http://ke.test/rest``."""
    transport = httpx.ASGITransport(app=create_app(engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://ke.test/rest") as client:
        yield client


ACCESS_LOG = logging.getLogger("tests.testing.access")
"""Where `ResponseRecorder` writes its access lines."""


class ResponseRecorder:
    """ASGI middleware for a served app: an access line per response, and requests counted.

    Each response the app starts is logged at INFO on the ``tests.testing.access`` logger as
    ``"METHOD PATH" STATUS`` (whether or not the client is still there to receive it) and its
    status kept in `statuses`; `wait_for_handled` waits until the app has finished a number of
    requests.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.statuses: list[int] = []
        self.handled = 0
        self._changed = asyncio.Condition()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def recording_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.statuses.append(message["status"])
                ACCESS_LOG.info('"%s %s" %d', scope["method"], scope["path"], message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            async with self._changed:
                self.handled += 1
                self._changed.notify_all()

    async def wait_for_handled(self, count: int, *, within: float = 10) -> None:
        """Wait until the app has finished at least ``count`` requests."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: self.handled >= count)


async def start_logging_process(
    *args: str, env: dict[str, str] | None = None
) -> asyncio.subprocess.Process:
    """Start ``python *args`` with its stdout and stderr piped together into ``stdout``.

    For a process that logs to stderr (as ``km run`` does); read it through `ProcessOutput`.
    """
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )


class ProcessOutput:
    """Everything a process writes to its piped stdout: kept whole, and passed on to `lines`.

    Wait for a line with ``read_line_matching(output.lines, ...)``; `text` has every line read
    so far, including those `read_line_matching` went past. Stop the process with `stop` (not
    `stop_process`, which reads the pipe itself).
    """

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        self.process = process
        self.lines = asyncio.StreamReader()
        self._kept: list[str] = []
        self._copying = asyncio.create_task(self._copy(process.stdout))

    async def _copy(self, source: asyncio.StreamReader) -> None:
        try:
            while raw := await source.readline():
                self._kept.append(raw.decode(errors="replace"))
                self.lines.feed_data(raw)
        finally:
            self.lines.feed_eof()

    @property
    def text(self) -> str:
        """The output read so far."""
        return "".join(self._kept)

    async def exited(self, *, within: float = 10) -> int:
        """Wait (at most ``within`` seconds) for the process to exit and its output to end.

        Returns:
            The exit status.
        """
        async with asyncio.timeout(within):
            await self.process.wait()
            await self._copying
        assert self.process.returncode is not None
        return self.process.returncode

    async def stop(self, *, sig: int = signal.SIGTERM, grace: float = 10) -> int:
        """Send ``sig`` (unless it exited) and wait; kill it if it overstays ``grace`` seconds.

        Returns:
            The exit status (negative: killed by that signal).
        """
        signal_process(self.process, sig)
        try:
            await asyncio.wait_for(self.process.wait(), grace)
        finally:
            if self.process.returncode is None:
                signal_process(self.process, signal.SIGKILL)
                await self.process.wait()
            await asyncio.wait_for(self._copying, grace)  # to EOF: the pipe closes
        assert self.process.returncode is not None
        return self.process.returncode
