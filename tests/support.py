"""Shared helpers for the test suite."""

from __future__ import annotations

import asyncio

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
