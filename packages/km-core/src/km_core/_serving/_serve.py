"""Serving a knowledge base: start, serve until stopped, shut down; and `stop` from anywhere.

`serve` connects, registers, starts the KB's service life and runs its handling loop, with
SIGINT and SIGTERM captured; `shut_down` stops a loop still running, ends the service life,
unregisters and closes; `stop` cancels the run that serves, from any thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

from km_core._errors import KnowledgeBaseStoppedError, KnowledgeEngineError
from km_core._lifecycle import Lifecycle

from ._lifespan import ServiceLife
from ._signals import capture_signals

__all__ = ["Servable", "enter", "serve", "shut_down", "stop"]

logger = logging.getLogger("km_core")


class Servable(Protocol):
    """A knowledge base as the serving code sees it."""

    @property
    def id(self) -> str:
        """The KB's id."""
        ...

    async def connect(self, *, wait: float | None = 0) -> None:
        """Reach the KE."""
        ...

    async def register(self, *, reregister: bool = True) -> None:
        """Register the KB and its interactions."""
        ...

    async def start_handling_loop(
        self,
        loops: int | None = None,
        max_concurrent_handlers: int = 10,
        *,
        grace_period: float | None = None,
    ) -> None:
        """Run the handling loop."""
        ...

    async def unregister(self) -> None:
        """Unregister the KB."""
        ...

    async def close(self) -> None:
        """Close the client."""
        ...

    def stop(self) -> None:
        """Ask the loop to stop."""
        ...


async def serve(
    kb: Servable,
    state: Lifecycle,
    life: ServiceLife,
    force: Callable[[], None],
    *,
    max_concurrent_handlers: int,
    grace_period: float | None,
    connect_wait: float | None,
    handle_signals: bool,
) -> None:
    """Run ``kb`` until it is stopped; see `KnowledgeBase.serve`."""
    signals = capture_signals(kb.id, kb.stop, force) if handle_signals else contextlib.nullcontext()
    try:
        with signals:
            state.start_serving()
            try:
                await _start_and_serve(
                    kb, state, life, max_concurrent_handlers, grace_period, connect_wait
                )
            except asyncio.CancelledError:
                me = asyncio.current_task()
                if not state.stop_requested or me is None or me.cancelling() > 1:
                    raise
                me.uncancel()  # stopped while connecting or registering: a clean stop
                logger.info("knowledge base %s: stopped before it started serving", kb.id)
            finally:
                state.end_serving()
    finally:
        await shut_down(kb, state, life)


async def _start_and_serve(
    kb: Servable,
    state: Lifecycle,
    life: ServiceLife,
    max_concurrent_handlers: int,
    grace_period: float | None,
    connect_wait: float | None,
) -> None:
    await kb.connect(wait=connect_wait)
    if not state.registered:
        await kb.register()
    await life.start(kb)
    await kb.start_handling_loop(
        max_concurrent_handlers=max_concurrent_handlers, grace_period=grace_period
    )
    reason = state.ended_because
    if reason is not None and not state.stop_requested:
        raise KnowledgeBaseStoppedError(reason, endpoint="GET /sc/handle", kb_id=kb.id)


async def enter(kb: Servable, state: Lifecycle, life: ServiceLife) -> None:
    """Connect, register (unless registered) and start the service life; see ``__aenter__``."""
    await kb.connect()
    if not state.registered:
        await kb.register()
    if not life.running:
        try:
            await life.start(kb)
        except BaseException:
            await shut_down(kb, state, life)
            raise


async def shut_down(kb: Servable, state: Lifecycle, life: ServiceLife) -> None:
    """Stop a handling loop running in another task, end the service life, unregister, close."""
    run = state.handling
    if run is not None and run.task is not asyncio.current_task():
        kb.stop()
        await run.done.wait()
    try:
        await life.stop()
        await kb.unregister()
    except KnowledgeEngineError as exc:
        logger.warning(
            "knowledge base %s: could not unregister (%s); the Knowledge Engine forgets it "
            "when it restarts or its lease expires",
            kb.id,
            exc,
        )
    except Exception:
        logger.exception("knowledge base %s: could not unregister", kb.id)
    finally:
        await kb.close()


def stop(state: Lifecycle) -> None:
    """Cancel the run that serves (the handling loop, or `serve` while it starts), once.

    Safe to call from any thread, and more than once.
    """
    run = state.stop_target()
    if run is None:
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is run.loop:
        state.request_stop(run.task)
    else:
        run.loop.call_soon_threadsafe(state.request_stop, run.task)
