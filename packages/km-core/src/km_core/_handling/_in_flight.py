"""The requests in flight: the tasks the handling loop started, owned until they end.

`InFlight` holds each request's task, retrieves its outcome when it ends (an exception is
logged with the KB's id), and drains: waits until every accepted request is answered, with a
grace period after which the handlers still running are cancelled (and still answered).
"""

from __future__ import annotations

import asyncio
import logging

__all__ = ["InFlight"]

logger = logging.getLogger("km_core")


class InFlight:
    """The request tasks of one knowledge base's handling loop."""

    __slots__ = ("_kb_id", "_tasks")

    def __init__(self, kb_id: str) -> None:
        self._kb_id = kb_id
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def add(self, task: asyncio.Task[None]) -> None:
        """Own ``task`` until it ends."""
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()  # retrieved here, so no task's exception goes unnoticed
        if exc is not None:
            logger.error(
                "knowledge base %s: handler task %s ended with %r",
                self._kb_id,
                task.get_name(),
                exc,
                exc_info=exc,
            )

    def cancel_all(self) -> None:
        """Cancel every request's handler now; each request is still answered."""
        for task in list(self._tasks):
            task.cancel()

    async def drain(self, grace_period: float | None = None) -> None:
        """Wait until every accepted request is answered; a second cancel cancels handlers.

        With a ``grace_period``, handlers still running after it are cancelled (and answered).
        """
        try:
            if grace_period is not None and self._tasks:
                _, late = await asyncio.wait(set(self._tasks), timeout=grace_period)
                if late:
                    logger.warning(
                        "knowledge base %s: %d handlers still running after the %.1f s grace "
                        "period; cancelling them",
                        self._kb_id,
                        len(late),
                        grace_period,
                    )
                    self.cancel_all()
            while self._tasks:
                await asyncio.wait(set(self._tasks))
        except asyncio.CancelledError:
            for task in self._tasks:
                task.cancel()
            while self._tasks:
                await asyncio.wait(set(self._tasks))
            raise
