"""Shared helpers for the test suite."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

KB_ID = "http://example.org/kb/test"
EX = {"ex": "http://example.org/"}
OAK = "<http://example.org/oak>"
BEECH = "<http://example.org/beech>"


class Arrivals:
    """Counts arrivals (handlers starting, say) and wakes whoever waits for a number of them."""

    def __init__(self) -> None:
        self.count = 0
        self._condition = asyncio.Condition()

    async def arrive(self) -> None:
        async with self._condition:
            self.count += 1
            self._condition.notify_all()

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(10), self._condition:
            await self._condition.wait_for(lambda: self.count >= count)


async def let_the_loop_run(turns: int = 20) -> None:
    """Give every ready task a few turns, to show that something does *not* happen."""
    for _ in range(turns):
        await asyncio.sleep(0)


class LoopClock:
    """Moves the running event loop's clock forward, so call_later timers fire early."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.offset = 0.0
        self._real: Callable[[], float] = loop.time

    def __enter__(self) -> LoopClock:
        self.loop.time = lambda: self._real() + self.offset  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        del self.loop.time

    async def advance(self, seconds: float) -> None:
        """Jump forward, then let every timer that is now due run (and nothing later)."""
        self.offset += seconds
        marker = self.loop.create_future()
        self.loop.call_at(self.loop.time(), marker.set_result, None)
        async with asyncio.timeout(5):
            await marker
