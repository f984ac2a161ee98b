"""The HTTP scenarios' server, and the answering knowledge base in a process of its own.

`Http` is where the HTTP scenarios run: the local engine that the harness serves over loopback,
or an external Knowledge Engine (``--ke-url``), with the KB that asks it and the ids and
namespace this run uses. `answerer_process` runs ``answerer.py`` (the SDK, or a raw httpx
baseline) against it; `http_runs` times bursts of asks at it and, from the marks the process
reports (``cpu.py``), takes the CPU that the answering process spent on each burst;
`interleaved_rates` lets the SDK and a baseline take turns, burst by burst.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import EX, KB_BASE, WARMUP_ASKS, spread, timed_asks
from cpu import CpuMark, CpuUse, machine_busy_s, process_cpu_s

from km_core import KnowledgeBase

ANSWERER = Path(__file__).resolve().parent / "answerer.py"
PROCESS_TIMEOUT = 60  # seconds for an answering process to start, or to end once stopped


@dataclass
class Http:
    """Where the HTTP scenarios run, and the KB that asks there.

    With the local engine the asks enter the engine directly (no HTTP for them), so that the
    CPU of the harness's process goes to the engine and its server; with an external KE they go
    over HTTP. Either way the answering knowledge base under test runs in its own process.

    Attributes:
        url: The REST base URL.
        asker: A registered KB with the ASK interaction ``heights``.
        label: How the rows of the table name this server.
        kb_base: The prefix of every KB id this run registers.
        prefix: The IRI that ``ex:`` stands for in this run's pattern.
        external: Whether the server is an external KE (``--ke-url``), not the local engine.
        server_pid: The external KE's process id on this machine, to take its CPU time.
    """

    url: str
    asker: KnowledgeBase
    label: str = "HTTP loopback"
    kb_base: str = KB_BASE
    prefix: str = EX["ex"]
    external: bool = False
    server_pid: int | None = None

    @property
    def prefixes(self) -> dict[str, str]:
        """The prefixes of this run's pattern."""
        return {"ex": self.prefix}

    def kb(self, name: str) -> str:
        """The id of this run's KB called ``name``."""
        return f"{self.kb_base}/{name}"


@dataclass
class Answerer:
    """A running ``answerer.py``; after its block, ``done`` holds its last report."""

    process: asyncio.subprocess.Process
    what: str
    done: dict[str, Any] = field(default_factory=dict)

    async def read_event(self, event: str) -> dict[str, Any]:
        """Read the process's stdout up to its next ``event`` line."""
        stdout = self.process.stdout
        assert stdout is not None
        async with asyncio.timeout(PROCESS_TIMEOUT):
            while True:
                line = await stdout.readline()
                if not line:
                    status = await self.process.wait()
                    raise RuntimeError(f"{self.what} ended (status {status}) before {event!r}")
                data: dict[str, Any] = json.loads(line)
                if data.get("event") == event:
                    return data

    async def send(self, line: str) -> None:
        """Write one line to the process's stdin."""
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(line.encode() + b"\n")
        await stdin.drain()

    async def mark(self, handled: int = 0) -> CpuMark:
        """The process's CPU time and counters once it has handled ``handled`` requests."""
        await self.send(f"cpu {handled}")
        return CpuMark.from_event(await self.read_event("cpu"))


async def _reap(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    await process.wait()


@contextlib.asynccontextmanager
async def answerer_process(http: Http, kb_id: str, *options: str) -> AsyncIterator[Answerer]:
    """Run ``answerer.py`` against the server until the block ends; then stop it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ANSWERER),
        http.url,
        kb_id,
        "--prefix",
        http.prefix,
        *options,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    answerer = Answerer(process, f"the answerer {kb_id}")
    try:
        await answerer.read_event("ready")
        yield answerer
        await answerer.send("stop")
        assert process.stdin is not None
        process.stdin.close()
        answerer.done.update(await answerer.read_event("done"))
        async with asyncio.timeout(PROCESS_TIMEOUT):
            await process.wait()
    finally:
        await _reap(process)


@dataclass(frozen=True)
class Burst:
    """One timed burst of asks, and the CPU spent on it.

    Attributes:
        seconds: Its wall time.
        cpu: What the answering process spent and handled.
        asker_cpu_s: The CPU time of this (the asking) process.
        machine_cpu_s: The CPU time of the whole machine; ``None`` where unknown.
        server_cpu_s: The CPU time of the external KE's process; ``None`` where unknown.
    """

    seconds: float
    cpu: CpuUse
    asker_cpu_s: float
    machine_cpu_s: float | None
    server_cpu_s: float | None = None


async def http_runs(
    http: Http, kb_id: str, requests: int, repeat: int, *options: str
) -> list[Burst]:
    """``repeat`` bursts of ``requests`` asks at one ``answerer.py`` process, after a warm-up."""
    async with answerer_process(http, kb_id, *options) as answerer:
        await timed_asks(http.asker, WARMUP_ASKS)
        # A mark waits until the process has seen its last response's post return.
        expected = WARMUP_ASKS
        before = await answerer.mark(expected)
        bursts = []
        for _ in range(repeat):
            asker, busy, server = time.process_time(), machine_busy_s(), server_cpu(http)
            seconds = await timed_asks(http.asker, requests)
            asker = time.process_time() - asker
            busy, server = _minus(machine_busy_s(), busy), _minus(server_cpu(http), server)
            expected += requests
            after = await answerer.mark(expected)
            bursts.append(Burst(seconds, CpuUse.between(before, after), asker, busy, server))
            before = after
        return bursts


def server_cpu(http: Http) -> float | None:
    """The external KE's CPU time so far, if its process id was given."""
    return None if http.server_pid is None else process_cpu_s(http.server_pid)


def _minus(after: float | None, before: float | None) -> float | None:
    return None if after is None or before is None else after - before


async def http_bursts(
    http: Http, kb_id: str, requests: int, repeat: int, *options: str
) -> list[float]:
    """Wall times of ``repeat`` bursts of ``requests`` asks at an ``answerer.py`` process."""
    return [burst.seconds for burst in await http_runs(http, kb_id, requests, repeat, *options)]


def rates(kb_id: str, bursts: list[Burst], requests: int) -> dict[str, Any]:
    """Requests/s and CPU per handled request over ``bursts`` of ``requests`` asks each.

    Returns:
        ``requests_per_s`` and ``cpu_us_per_request`` (the answering process's), each a spread
        over the bursts; ``poll_conflicts``, the polls the server refused with 409 over all
        bursts; and for context ``asker_cpu_us_per_request`` (this process),
        ``machine_cpu_us_per_request`` (every process) and ``server_cpu_us_per_request`` (the
        external KE's; each ``None`` where unknown).
    """
    handled = [burst.cpu.handled for burst in bursts]
    if any(count != requests for count in handled):
        raise RuntimeError(f"{kb_id} handled {handled} requests per burst, not {requests}")
    return {
        "requests_per_s": spread([requests / burst.seconds for burst in bursts]),
        "cpu_us_per_request": spread([burst.cpu.us_per_request for burst in bursts]),
        "poll_conflicts": sum(burst.cpu.conflicts for burst in bursts),
        "asker_cpu_us_per_request": spread([b.asker_cpu_s / requests * 1e6 for b in bursts]),
        "machine_cpu_us_per_request": _per_request([b.machine_cpu_s for b in bursts], requests),
        "server_cpu_us_per_request": _per_request([b.server_cpu_s for b in bursts], requests),
    }


def _per_request(seconds: list[float | None], requests: int) -> dict[str, Any] | None:
    """The spread of CPU µs per request, or ``None`` if any burst's CPU time is unknown."""
    known = [s for s in seconds if s is not None]
    return spread([s / requests * 1e6 for s in known]) if len(known) == len(seconds) else None


async def interleaved_rates(
    http: Http, contenders: dict[str, tuple[str, tuple[str, ...]]], requests: int, repeat: int
) -> dict[str, dict[str, Any]]:
    """`rates` of several answerers, taking turns, so that they meet the same noise.

    Each repetition runs one burst of ``requests`` asks per answerer, each in a fresh process
    (after its warm-up), in turns that alternate their order.

    Args:
        http: The server.
        contenders: Per name, a KB id (a repetition's number is appended) and the options of
            ``answerer.py``.
        requests: Asks per burst.
        repeat: Bursts per answerer.
    """
    bursts: dict[str, list[Burst]] = {name: [] for name in contenders}
    names = list(contenders)
    for i in range(repeat):
        for name in names if i % 2 == 0 else names[::-1]:
            kb_id, options = contenders[name]
            bursts[name] += await http_runs(http, f"{kb_id}-{i + 1}", requests, 1, *options)
    return {name: rates(contenders[name][0], bursts[name], requests) for name in names}
