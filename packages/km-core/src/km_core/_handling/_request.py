"""One accepted handle request, from its dispatch to its posted response and access-log line.

`RequestServer.serve` runs in the request's own task: it has the `Dispatcher` answer the
request, releases the loop's permit, posts the response with the `Responder`, and logs the
request on the access log. With middleware that overrides `Middleware.handle`, the same steps
run inside the middleware chain; whatever a middleware does (raise before or after going on,
never go on, be cancelled), the permit is released once and the request answered once.
"""

from __future__ import annotations

import asyncio
import logging
import time

from km_core._access_log import access_logger, log_access
from km_core._declarations import Registry
from km_core._middleware import HandleCall, HandleResult, MiddlewareStack, Outcome
from km_core._models import HandleRequest, HandleResponse

from ._dispatch import Dispatcher
from ._host import HandlingHost
from ._permits import Permits
from ._respond import Responder

__all__ = ["RequestServer"]

logger = logging.getLogger("km_core")


class RequestServer:
    """Serves the handle requests one run of the handling loop accepted."""

    __slots__ = ("_dispatcher", "_host", "_middleware", "_permits", "_registry", "_responder")

    def __init__(
        self,
        host: HandlingHost,
        registry: Registry,
        dispatcher: Dispatcher,
        responder: Responder,
        permits: Permits,
        middleware: MiddlewareStack,
    ) -> None:
        self._host = host
        self._registry = registry
        self._dispatcher = dispatcher
        self._responder = responder
        self._permits = permits
        self._middleware = middleware if middleware.handles else None
        """The middleware, when one wraps handle requests: ``None`` keeps the plain path."""

    async def serve(self, request: HandleRequest) -> None:
        """Run one handle request to its response; never raises but for cancellation.

        The permit is held while the handler runs and released before the response is posted,
        so the next poll overlaps that round trip. Once the response is posted (or dropped),
        the request is logged on the access log.
        """
        if self._middleware is not None:
            await self._serve_through(request)
            return
        logged = access_logger.isEnabledFor(logging.INFO)  # off: no clock, no words
        started = time.perf_counter() if logged else 0.0
        cancelled = False
        try:
            response, _, detail = await self._dispatcher.answer(request)
        except asyncio.CancelledError as exc:
            cancelled = True
            response, detail = self._cancelled(request, exc), "cancelled"
        finally:
            self._permits.release()
        delivered = False
        try:
            delivered = await self._responder.respond(request, response)
        finally:
            if logged:
                self._log(request, response, detail, delivered, started)
            if cancelled:
                raise asyncio.CancelledError

    def _cancelled(self, request: HandleRequest, exc: asyncio.CancelledError) -> HandleResponse:
        """The answer to a request whose handler was cancelled: the reason it was given."""
        reason = exc.args[0] if exc.args and isinstance(exc.args[0], str) else None
        return self._dispatcher.failure(
            request, reason or f"knowledge base {self._host.id} stopped before answering"
        )

    async def _serve_through(self, request: HandleRequest) -> None:
        """`serve` with middleware: the chain around the steps, and the request answered anyway.

        A middleware that raises, is cancelled or returns before going on leaves the permit
        held and the request unanswered: both are seen to here, and the request is answered as
        a failure per the error policy. One that raises after going on changes nothing: the
        response is posted already.
        """
        assert self._middleware is not None
        logged = access_logger.isEnabledFor(logging.INFO)
        started = time.perf_counter()
        steps = _Steps(self)
        ki = self._registry.handled(request.knowledge_interaction_id)
        call = HandleCall(self._host.id, ki.name if ki is not None else None, request)
        detail = ""
        try:
            await self._middleware.wrap_handle(steps.run)(call)
        except asyncio.CancelledError:
            if not steps.entered:
                await self._answer_anyway(request, "cancelled", started, logged)
            elif logged:
                steps.log(started)
            raise
        except Exception as exc:
            logger.exception(
                "knowledge base %s: a middleware failed on handle request %d (%s) from %s",
                self._host.id,
                request.handle_request_id,
                call.ki_name,
                request.requesting_knowledge_base_id,
            )
            detail = f"middleware failed ({type(exc).__name__})"
        if not steps.entered:
            if not detail:
                logger.error(
                    "knowledge base %s: a middleware returned without calling call_next on "
                    "handle request %d (%s) from %s; answering it as a failure",
                    self._host.id,
                    request.handle_request_id,
                    call.ki_name,
                    request.requesting_knowledge_base_id,
                )
                detail = "middleware did not go on"
            await self._answer_anyway(request, detail, started, logged)
            return
        if logged:
            steps.log(started)
        if steps.cancelled:
            raise asyncio.CancelledError

    async def _answer_anyway(
        self, request: HandleRequest, detail: str, started: float, logged: bool
    ) -> None:
        """Answer a request that the middleware kept from its handler, as a failure."""
        self._permits.release()
        if detail == "cancelled":
            reason = f"knowledge base {self._host.id} stopped before answering"
        else:
            reason = f"knowledge base {self._host.id} could not serve the request"
        response = self._dispatcher.failure(request, reason)
        delivered = False
        try:
            delivered = await self._responder.respond(request, response)
        finally:
            if logged:
                self._log(request, response, detail, delivered, started)

    def _log(
        self,
        request: HandleRequest,
        response: HandleResponse,
        detail: str,
        delivered: bool,
        started: float,
    ) -> None:
        ki = self._registry.handled(request.knowledge_interaction_id)
        log_access(
            kb_id=self._host.id,
            ki_name=ki.name if ki is not None else None,
            request=request,
            response=response,
            outcome=detail,
            delivered=delivered,
            started=started,
        )


class _Steps:
    """The steps inside the middleware chain, for one request, and how far they got."""

    __slots__ = ("_server", "cancelled", "request", "served")

    def __init__(self, server: RequestServer) -> None:
        self._server = server
        self.request: HandleRequest | None = None
        """The request the steps were given; set once they began (and own the permit)."""
        self.cancelled = False
        self.served: HandleResult | None = None

    @property
    def entered(self) -> bool:
        """Whether the steps began: from then on they release the permit and answer."""
        return self.request is not None

    async def run(self, call: HandleCall) -> HandleResult:
        """Answer, post the response, and report what happened to the middleware.

        Raises:
            RuntimeError: a middleware went on twice with one request.
        """
        if self.request is not None:
            raise RuntimeError("a middleware called call_next twice for one handle request")
        server, request = self._server, call.request
        started = time.perf_counter()
        self.request = request
        try:
            response, outcome, detail = await server._dispatcher.answer(request)
        except asyncio.CancelledError as exc:
            self.cancelled = True
            response = server._cancelled(request, exc)
            outcome, detail = Outcome.CANCELLED, "cancelled"
        finally:
            server._permits.release()
        handler_seconds = time.perf_counter() - started
        delivered = await server._responder.respond(request, response)
        self.served = HandleResult(response, outcome, detail, delivered, handler_seconds)
        return self.served

    def log(self, started: float) -> None:
        """Log the request on the access log, once its response was posted (or dropped)."""
        if self.request is not None and self.served is not None:
            served = self.served
            self._server._log(
                self.request, served.response, served.detail, served.delivered, started
            )
