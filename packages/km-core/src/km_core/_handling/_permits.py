"""The handling loop's permits: at most ``max_concurrent_handlers`` requests at a time.

The loop takes a permit before each poll, and a request's task gives it back once its handler
has answered, before the response is posted. Only the loop takes permits, so at most one take
waits at a time; it is woken by the release that frees a permit, never by re-checking. Taking a
free permit is a plain method call, without a coroutine: the loop takes one per request.
"""

from __future__ import annotations

import asyncio

__all__ = ["Permits"]


class Permits:
    """A counter of free handler slots with one waiter, the handling loop."""

    __slots__ = ("_free", "_waiter", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        """How many permits there are: ``max_concurrent_handlers``."""
        self._free = limit
        self._waiter: asyncio.Future[None] | None = None

    def __repr__(self) -> str:
        return f"<Permits {self._free} of {self.limit} free>"

    @property
    def free(self) -> int:
        """How many permits are free now."""
        return self._free

    def take_nowait(self) -> bool:
        """Take a free permit, if there is one; whether one was taken."""
        if self._free:
            self._free -= 1
            return True
        return False

    async def take(self) -> None:
        """Take a permit, waiting for a release when none is free.

        Raises:
            RuntimeError: another take is waiting already (only the loop takes permits).
        """
        while not self._free:
            if self._waiter is not None:
                raise RuntimeError("a second task waits for a handler permit")
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                self._waiter = None
        self._free -= 1

    def release(self) -> None:
        """Give a permit back, and wake the loop if it waits for one."""
        self._free += 1
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
