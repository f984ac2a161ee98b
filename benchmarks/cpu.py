"""The CPU time an answering process spends per handled request, and how it is reported.

The answering process (``answerer.py``: the SDK or the raw httpx loops) keeps `Counters` and
answers each ``cpu N`` line on its stdin, once it has handled ``N`` requests, with one JSON
line on stdout::

    {"event": "cpu", "cpu_s": 1.234, "handled": 1020, "conflicts": 0}

``cpu_s`` is the process's CPU time so far, user and system, all threads
(``time.process_time()``); ``handled`` the requests it has answered; ``conflicts`` the polls
the server refused with 409 ("only one connection per knowledge base"). A request counts as
handled once the post of its response has returned.

The harness takes a `CpuMark` just before and just after a timed burst of asks; the difference,
divided by the requests handled in between, is the CPU per handled request. It does not depend
on how fast the server is: each request costs the answerer one poll and one response post
whatever the server. Between bursts the answerer waits in a long poll and spends no CPU.

Any other line on stdin, or its end, asks the process to stop.

For context the harness also takes, around each burst, its own CPU time (the asking side; with
the local engine, the engine and its server too) and, where ``/proc/stat`` exists, the CPU time
of the whole machine (`machine_busy_s`), and with ``--ke-pid`` the server's (`process_cpu_s`);
what is left is other processes', the kernel's and the asking side's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

MARK_WAIT = 10.0  # seconds a mark waits for the requests it was told to expect


@dataclass
class Counters:
    """What an answering process counts while it serves."""

    handled: int = 0
    conflicts: int = 0


@dataclass(frozen=True)
class CpuMark:
    """The answering process's CPU time and counters at one moment."""

    cpu_s: float
    handled: int
    conflicts: int = 0

    @classmethod
    def now(cls, counters: Counters) -> CpuMark:
        """This process's CPU time so far, with ``counters``."""
        return cls(time.process_time(), counters.handled, counters.conflicts)

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> CpuMark:
        """The mark an answering process reported in a ``cpu`` event."""
        return cls(float(event["cpu_s"]), int(event["handled"]), int(event.get("conflicts", 0)))


@dataclass(frozen=True)
class CpuUse:
    """The CPU an answering process spent between two marks."""

    cpu_s: float
    handled: int
    conflicts: int

    @classmethod
    def between(cls, before: CpuMark, after: CpuMark) -> CpuUse:
        """What was spent and handled from ``before`` to ``after``."""
        return cls(
            after.cpu_s - before.cpu_s,
            after.handled - before.handled,
            after.conflicts - before.conflicts,
        )

    @property
    def us_per_request(self) -> float:
        """CPU microseconds per handled request."""
        if self.handled <= 0:
            raise RuntimeError("the answering process handled no request between the marks")
        return self.cpu_s / self.handled * 1e6


def machine_busy_s() -> float | None:
    """CPU seconds this machine has spent busy so far, all processes and CPUs; ``None`` if unknown.

    Read from the first line of ``/proc/stat`` (Linux): user, nice, system, irq and softirq
    time; idle, iowait and time stolen by a hypervisor do not count.
    """
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
        user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in fields[1:8])
        return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return None


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds (user and system) that process ``pid`` has spent so far; ``None`` if unknown.

    Read from ``/proc/PID/stat`` (Linux, the same machine): for the server's share of the CPU.
    """
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()  # from the 3rd field, the state, on
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def emit(event: str, **data: Any) -> None:
    """One JSON line on stdout, for the harness."""
    print(json.dumps({"event": event, **data}), flush=True)


async def serve_commands(counters: Counters) -> None:
    """Answer each ``cpu [N]`` line on stdin with a mark; return at any other line or its end.

    The mark is taken once ``N`` requests have been handled (their posts returned), or after
    ``MARK_WAIT`` seconds if they never are; the harness then sees the shortfall.
    """
    while True:
        command, *arguments = (await asyncio.to_thread(sys.stdin.readline)).split() or [""]
        if command != "cpu":
            return
        wanted = int(arguments[0]) if arguments else 0
        # Polled, not signalled: an Event set per request would add to the CPU measured.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(MARK_WAIT):
                while counters.handled < wanted:  # noqa: ASYNC110
                    await asyncio.sleep(0.001)
        emit("cpu", **asdict(CpuMark.now(counters)))
