"""Lease renewal: a task that renews a leased knowledge base's lease at half its time.

`LeaseRenewal` owns that task: it starts it after registration, cancels it on unregistration
or close, and retrieves its outcome (a failure that ends it is logged with the KB's id).
"""

from __future__ import annotations

import asyncio
import logging

from km_core._errors import KnowledgeEngineError
from km_core._lifecycle import Lifecycle
from km_core._retry import Episode

from ._host import SessionHost

__all__ = ["LeaseRenewal"]

logger = logging.getLogger("km_core")


class LeaseRenewal:
    """The task that renews one knowledge base's lease while it is registered."""

    __slots__ = ("_host", "_state", "_task")

    def __init__(self, host: SessionHost, state: Lifecycle) -> None:
        self._host = host
        self._state = state
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether the renewal task runs."""
        return self._task is not None

    def start(self, lease: int) -> None:
        """Start renewing (unless renewing already)."""
        if self._task is not None:
            return
        self._task = asyncio.create_task(self._renew(lease), name=f"km-lease-{self._host.name}")
        self._task.add_done_callback(self._done)

    def stop(self) -> None:
        """Stop renewing."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _renew(self, lease: int) -> None:
        """Renew the lease at half its time, for as long as the KB is registered.

        A renewal that fails is tried again with backoff (each pause at most a tenth of the
        lease), not at the next half-lease; if the KE dropped the KB meanwhile, the handling
        loop's next poll registers it again.
        """
        host = self._host
        episode = Episode(host.poll_backoff, kb_id=host.id, what="renewing the lease")
        while self._state.registered:
            await asyncio.sleep(lease / 2)  # a schedule, not a wait for a state
            while self._state.registered:
                try:
                    await host.client.renew_lease(host.id)
                except KnowledgeEngineError as exc:
                    await episode.pause(exc, at_most=lease / 10)
                    continue
                episode.succeeded()
                break

    def _done(self, task: asyncio.Task[None]) -> None:
        if self._task is task:
            self._task = None
        if not task.cancelled() and task.exception() is not None:
            logger.error(
                "knowledge base %s: lease renewal stopped: %r",
                self._host.id,
                task.exception(),
                exc_info=task.exception(),
            )
