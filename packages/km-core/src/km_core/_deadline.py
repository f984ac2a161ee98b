"""Work with a deadline: awaited until then, and left behind (but owned) after it.

A handler or a policy that misses its deadline is answered for at once. An async one is
cancelled; a sync one's thread cannot be, and finishes unobserved. Either way its task is held
until it ends and its outcome retrieved, so no task is lost and no exception goes unseen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["DeadlineExceeded", "Deadlines"]

logger = logging.getLogger("km_core")

T = TypeVar("T")


class DeadlineExceeded(Exception):
    """The work did not finish within its time limit (its first argument)."""


class Deadlines:
    """Runs work with a time limit, and owns the work left behind after it."""

    __slots__ = ("_abandoned", "_kb_id")

    def __init__(self, kb_id: str) -> None:
        self._kb_id = kb_id
        self._abandoned: set[asyncio.Task[Any]] = set()

    async def run(self, work: Coroutine[Any, Any, T], limit: float, what: str) -> T:
        """The result of ``work`` if it finishes within ``limit`` seconds.

        Raises:
            DeadlineExceeded: it did not; it was cancelled and left to end on its own.
            Exception: whatever ``work`` raised.
        """
        task = asyncio.create_task(work)
        try:
            done, _ = await asyncio.wait({task}, timeout=limit)
        except asyncio.CancelledError:
            task.cancel()
            self._keep(task, what)
            raise
        if task in done:
            return task.result()
        task.cancel()
        self._keep(task, what)
        raise DeadlineExceeded(limit)

    def _keep(self, task: asyncio.Task[Any], what: str) -> None:
        """Hold a reference to a task left behind, and retrieve its outcome when it ends."""
        self._abandoned.add(task)
        kb_id = self._kb_id

        def done(finished: asyncio.Task[Any]) -> None:
            self._abandoned.discard(finished)
            if not finished.cancelled() and finished.exception() is not None:
                logger.debug(
                    "knowledge base %s: %s, left behind after its time limit, ended with %r",
                    kb_id,
                    what,
                    finished.exception(),
                )

        task.add_done_callback(done)
