"""The handling loop: one long poll at a time, each request served in its own task.

`HandlingLoop.run` takes a permit (`Permits`), polls, and on a handle request starts a task
in which the `RequestServer` runs the request through the middleware and the `Dispatcher`
(handler, conversion), releases the permit and posts the response with the `Responder`; then it
polls again at once. So at most ``max_concurrent_handlers`` handlers run at the same time, and
exactly one poll is open, as the KE requires. Poll failures back off; a 404 registers the KB
again through the `Session`; EXIT, a stop or a cancellation end the polls, and every accepted
request is answered before ``run`` returns. The middleware hears of each poll, failed poll and
registration; the `Lifecycle` knows whether the loop is polling (the KB's readiness).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable
from typing import Any

from km_core._authorization import AccessControl
from km_core._declarations import Registry
from km_core._errors import (
    ConfigurationError,
    KnowledgeEngineError,
    PollConflictError,
    SmartConnectorNotFoundError,
)
from km_core._inject import Dependant, executor_runner
from km_core._lifecycle import Lifecycle, Registration
from km_core._middleware import MiddlewareStack
from km_core._models import PollResult
from km_core._retry import Episode
from km_core._session import Session

from ._dispatch import ContextFactory, Dispatcher
from ._host import HandlingHost
from ._in_flight import InFlight
from ._permits import Permits
from ._request import RequestServer
from ._respond import Responder

__all__ = [
    "DISPATCHES_PER_TURN",
    "HEAVY_DISPATCH",
    "QUICK_REPOLL",
    "HandlingLoop",
    "check_loop_arguments",
]

logger = logging.getLogger("km_core")

QUICK_REPOLL = 1.0
"""A heartbeat (REPOLL) sooner than this many seconds after the poll began is not a real one:
the KE's come after 29 s. Twice in a row, it counts as a failure, and the loop backs off."""

DISPATCHES_PER_TURN = 16
"""At most this many handle requests start in one turn of the event loop, however fast the
client answers the polls (fewer when ``max_concurrent_handlers`` is smaller: a poll without a
free permit waits for one). A request counts as one when its handler is awaited directly (an
async handler of plain bindings with nothing to inject), and as `HEAVY_DISPATCH` otherwise."""

HEAVY_DISPATCH = 8
"""What a request whose handler may start a worker thread (a sync handler, a sync dependency)
or needs conversion or injection counts toward `DISPATCHES_PER_TURN`: two such start per turn,
so that a burst of sync handlers does not start all their threads while the event loop waits."""


def check_loop_arguments(loops: object, max_concurrent_handlers: object) -> None:
    """Check the handling loop's arguments.

    Raises:
        ConfigurationError: ``loops`` is not None or an int >= 0, or ``max_concurrent_handlers``
            is not a positive int.
    """
    if not isinstance(max_concurrent_handlers, int) or max_concurrent_handlers < 1:
        raise ConfigurationError(
            f"max_concurrent_handlers must be a positive int, got {max_concurrent_handlers!r}"
        )
    if loops is not None and (not isinstance(loops, int) or loops < 0):
        raise ConfigurationError(f"loops must be None or an int >= 0, got {loops!r}")


class QuickHeartbeatError(Exception):
    """The poll came back with nothing to handle, long before a heartbeat is due."""

    def __init__(self) -> None:
        super().__init__(
            f"the poll was answered with a heartbeat within {QUICK_REPOLL:g} s, long before the "
            "Knowledge Engine's 29 s; is a proxy answering in its place?"
        )


class HandlingLoop:
    """One run of a knowledge base's handling loop."""

    def __init__(
        self,
        host: HandlingHost,
        *,
        registry: Registry,
        access: AccessControl,
        session: Session,
        state: Lifecycle,
        in_flight: InFlight,
        responder: Responder,
        context: ContextFactory,
        overridden: dict[Callable[..., Any], Dependant],
        max_concurrent_handlers: int,
        middleware: MiddlewareStack | None = None,
    ) -> None:
        self._host = host
        self._session = session
        self._state = state
        self._in_flight = in_flight
        self._responder = responder
        self._context = context
        self._overridden = overridden
        self._registry = registry
        self._access = access
        self._permits = Permits(max_concurrent_handlers)
        self._max = max_concurrent_handlers
        self._middleware = middleware if middleware is not None else MiddlewareStack()

    async def run(self, loops: int | None, grace_period: float | None) -> None:
        """Poll and serve until EXIT, a stop, or ``loops`` polls; then drain."""
        kb_id, state = self._host.id, self._state
        state.start_handling()
        # Made once the loop runs, so that nothing is left to shut down when it cannot start.
        executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=self._max, thread_name_prefix="km-handler"
        )
        dispatcher = Dispatcher(
            self._host,
            self._registry,
            self._access,
            self._context,
            self._overridden,
            executor_runner(executor),
        )
        self._requests = RequestServer(
            self._host, self._registry, dispatcher, self._responder, self._permits, self._middleware
        )
        logger.info(
            "knowledge base %s: handling loop started (max_concurrent_handlers=%d)",
            kb_id,
            self._max,
        )
        try:
            await self._poll(loops)
        except asyncio.CancelledError:
            own = state.handling.task if state.handling is not None else None
            if not state.stop_requested or own is None or own.cancelling() > 1:
                raise
            own.uncancel()  # the cancellation was ours: stop() asked for a graceful stop
            logger.info(
                "knowledge base %s: stopping; %d requests in flight", kb_id, len(self._in_flight)
            )
        finally:
            try:
                await self._in_flight.drain(grace_period if state.stop_requested else None)
            finally:
                executor.shutdown(wait=False)
                state.end_handling()
                logger.info("knowledge base %s: handling loop stopped", kb_id)

    async def _poll(self, loops: int | None) -> None:
        host, permits, session, state = self._host, self._permits, self._session, self._state
        client, kb_id = host.client, host.id
        create_task = asyncio.get_running_loop().create_task
        polls = 0
        episode = Episode(host.poll_backoff, kb_id=kb_id, what="polling")
        quick_repolls = 0
        conflict_retried = False
        unyielded = 0
        observers = self._middleware.observers
        handled = self._registry.handled
        while loops is None or polls < loops:
            if not permits.take_nowait():
                await permits.take()
            polls += 1
            started = time.monotonic()
            try:
                result, request = await client.poll_ki_call(kb_id)
            except SmartConnectorNotFoundError as exc:
                permits.release()
                self._poll_failed(exc)
                if not await session.register_again(exc, episode):
                    break
                continue
            except PollConflictError as exc:
                permits.release()
                self._poll_failed(exc)
                if not conflict_retried and not episode.failures:
                    # KE 1.5.0 now and then refuses a poll that follows an answered one at
                    # once, as if that one were still open: try again once, at once.
                    conflict_retried = True
                    logger.debug("knowledge base %s: %s; polling again", kb_id, exc)
                    continue
                await episode.pause(exc)
                continue
            except KnowledgeEngineError as exc:
                # Whatever the KE (or a proxy) answered, trying again later may work: back off.
                # Only EXIT, a stop, or a closed client (ClientClosedError) end the loop.
                permits.release()
                self._poll_failed(exc)
                await episode.pause(exc)
                continue
            except BaseException:
                permits.release()
                raise
            state.polling = True
            if observers:
                self._middleware.notify("on_poll", kb_id, result)
            if result is PollResult.REPOLL and time.monotonic() - started < QUICK_REPOLL:
                # A heartbeat comes after 29 s; one at once, again and again, is a proxy or a
                # KE in trouble, and polling on at once would spin.
                quick_repolls += 1
                if quick_repolls > 1:
                    permits.release()
                    quick = QuickHeartbeatError()
                    self._poll_failed(quick)
                    await episode.pause(quick)
                    continue
            else:
                quick_repolls = 0
                conflict_retried = False
                if episode.failures:
                    episode.succeeded()
            if result is PollResult.HANDLE and request is not None:
                self._in_flight.add(
                    create_task(
                        self._requests.serve(request),
                        name=f"km-handle-{request.handle_request_id}",
                    )
                )
                # A client may answer polls without suspending (requests already queued):
                # yield once DISPATCHES_PER_TURN is used up, so that a burst neither starves
                # other tasks nor starts all its handlers (and their threads) in one turn of
                # the event loop. Under a small bound, running out of permits yields first.
                ki = handled(request.knowledge_interaction_id)
                unyielded += (
                    1 if ki is not None and ki.handler.direct is not None else HEAVY_DISPATCH
                )
                if unyielded >= DISPATCHES_PER_TURN:
                    unyielded = 0
                    await asyncio.sleep(0)
                continue
            permits.release()
            if result is PollResult.EXIT:
                if await session.lease_lost():
                    lost = KnowledgeEngineError("the KE dropped the KB: its lease expired")
                    if not await session.register_again(lost, episode):
                        break
                    continue
                logger.info("knowledge base %s: the KE asked the loop to exit", kb_id)
                if not state.stop_requested:
                    state.registration = Registration.ENDED
                break
            if result is PollResult.HANDLE:
                logger.error(
                    "knowledge base %s: the client reported a handle request without one", kb_id
                )

    def _poll_failed(self, error: BaseException) -> None:
        """A poll failed: the KB is not ready until one succeeds; the middleware hears of it."""
        self._state.polling = False
        if self._middleware.observers:
            self._middleware.notify("on_poll_failure", self._host.id, error)
