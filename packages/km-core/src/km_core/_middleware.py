"""The middleware seam: what runs around each handled request and each outgoing ask or post.

A `Middleware` wraps calls the way a Starlette or FastStream middleware does: its `handle`
runs around one accepted handle request (the access decision, the handler, the conversion and
the posting of the response), and its `exchange` around one outgoing ask or post; each calls
``call_next`` to go on. Its ``on_*`` methods hear what the handling loop does between requests:
polls, failed polls, registrations, response retries.

`MiddlewareStack` composes a knowledge base's middleware once, and only from the methods a
middleware overrides, so that a knowledge base without middleware pays nothing per request.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Generic, Literal, TypeAlias, TypeVar

from ._errors import ConfigurationError
from ._models import AskResult, BindingSet, HandleRequest, HandleResponse, PollResult, PostResult

__all__ = [
    "CallNext",
    "ExchangeCall",
    "ExchangeNext",
    "HandleCall",
    "HandleResult",
    "Middleware",
    "MiddlewareStack",
    "Outcome",
]

logger = logging.getLogger("km_core")


class Outcome(enum.StrEnum):
    """What became of a handle request (the access log and the metrics use these)."""

    ANSWERED = "answered"
    """The handler answered with one or more bindings."""
    EMPTY = "empty"
    """The handler answered with no bindings."""
    FAILED = "failed"
    """The handler (or a dependency) raised, or returned something that is not a binding set."""
    TIMED_OUT = "timed_out"
    """The handler did not answer within its timeout."""
    DENIED = "denied"
    """The requester may not use the interaction (``permitted`` or the policy)."""
    UNKNOWN_INTERACTION = "unknown_interaction"
    """The request named an interaction the knowledge base does not have."""
    CANCELLED = "cancelled"
    """The knowledge base stopped before the handler answered."""


@dataclasses.dataclass(slots=True)
class HandleCall:
    """One accepted handle request, as a middleware's `Middleware.handle` sees it.

    Attributes:
        kb_id: The knowledge base that serves it.
        ki_name: The name of the interaction it is for; ``None`` for one the KB does not have.
        request: The handle request from the Knowledge Engine.
    """

    kb_id: str
    ki_name: str | None
    request: HandleRequest

    @property
    def requesting_kb_id(self) -> str | None:
        """The knowledge base that asked or posted, when the KE said."""
        return self.request.requesting_knowledge_base_id

    @property
    def handle_request_id(self) -> int:
        """The KE's id of this handle request."""
        return self.request.handle_request_id


@dataclasses.dataclass(slots=True)
class HandleResult:
    """What became of a handle request: what ``call_next`` returns to `Middleware.handle`.

    Attributes:
        response: The response posted (or meant to be posted) to the KE.
        outcome: What happened.
        detail: The outcome in the access log's words (``"handler failed (KeyError)"``).
        delivered: Whether the response was posted.
        handler_seconds: Seconds from accepting the request to its response being ready
            (access decision, handler and conversion; not the posting).
    """

    response: HandleResponse
    outcome: Outcome
    detail: str
    delivered: bool
    handler_seconds: float


@dataclasses.dataclass(slots=True)
class ExchangeCall:
    """One outgoing ask or post, as a middleware's `Middleware.exchange` sees it.

    Attributes:
        kb_id: The knowledge base that asks or posts.
        kind: ``"ask"`` or ``"post"``.
        ki_name: The name of its ASK or POST interaction.
        ki_id: The KE's id of that interaction.
        binding_set: The bindings sent.
        recipients: The knowledge bases it goes to; ``None``: all that match.
    """

    kb_id: str
    kind: Literal["ask", "post"]
    ki_name: str
    ki_id: str
    binding_set: BindingSet
    recipients: Sequence[str] | None


CallNext: TypeAlias = Callable[[HandleCall], Awaitable[HandleResult]]
"""Serves a handle request on, through the next middleware to the handler and the response."""

ExchangeNext: TypeAlias = Callable[[ExchangeCall], Awaitable[AskResult | PostResult]]
"""Sends an ask or post on, through the next middleware to the client."""


class Middleware:
    """Behaviour around requests and calls; subclass it and override what you need.

    Every method passes through or does nothing by default. Install middleware with
    ``KnowledgeBase(middleware=[...])`` or `KnowledgeBase.add_middleware`; the first one given
    is the outermost. A middleware whose `handle` or `exchange` raises fails that request or
    call as a handler that raises would; an ``on_*`` method that raises is logged and ignored.
    """

    async def handle(self, call: HandleCall, call_next: CallNext) -> HandleResult:
        """Around one accepted handle request: return ``await call_next(call)``, or wrap it.

        It runs in the request's task, so context variables it sets (an OpenTelemetry span)
        are seen by the handler, and by the asks and posts the handler makes.
        """
        return await call_next(call)

    async def exchange(self, call: ExchangeCall, call_next: ExchangeNext) -> AskResult | PostResult:
        """Around one outgoing ask or post: return ``await call_next(call)``, or wrap it."""
        return await call_next(call)

    def on_poll(self, kb_id: str, result: PollResult) -> None:
        """A long poll was answered: a handle request, a heartbeat (REPOLL) or EXIT."""

    def on_poll_failure(self, kb_id: str, error: BaseException) -> None:
        """A long poll failed (the KE away, a 5xx, a conflict); the loop backs off."""

    def on_registered(self, kb_id: str, *, again: bool) -> None:
        """The KB and its interactions were registered; ``again``: after the KE forgot it."""

    def on_response_retry(self, kb_id: str, request: HandleRequest, error: BaseException) -> None:
        """Posting the response to ``request`` failed, and will be tried again."""


def _overrides(middleware: Middleware, name: str) -> bool:
    return getattr(type(middleware), name) is not getattr(Middleware, name)


class MiddlewareStack:
    """A knowledge base's middleware, composed per method; see the module docstring.

    Attributes:
        handles: The middleware that override `Middleware.handle`, outermost first.
        exchanges: Those that override `Middleware.exchange`, outermost first.
    """

    __slots__ = ("_all", "exchanges", "handles", "observers")

    def __init__(self, middleware: Iterable[Middleware] = ()) -> None:
        self._all: tuple[Middleware, ...] = ()
        self.handles: tuple[Middleware, ...] = ()
        self.exchanges: tuple[Middleware, ...] = ()
        self.observers: tuple[Middleware, ...] = ()
        """Those that override an ``on_*`` method."""
        for one in middleware:
            self.add(one)

    def __len__(self) -> int:
        return len(self._all)

    def __iter__(self) -> Iterator[Middleware]:
        return iter(self._all)

    def add(self, middleware: Middleware) -> None:
        """Add ``middleware`` inside those added before.

        Raises:
            ConfigurationError: it is not a `Middleware`.
        """
        if not isinstance(middleware, Middleware):
            raise ConfigurationError(
                f"middleware must be a km_core.Middleware (subclass it and override handle, "
                f"exchange or an on_* method), got {middleware!r}"
            )
        self._all += (middleware,)
        if _overrides(middleware, "handle"):
            self.handles += (middleware,)
        if _overrides(middleware, "exchange"):
            self.exchanges += (middleware,)
        if any(
            _overrides(middleware, name)
            for name in ("on_poll", "on_poll_failure", "on_registered", "on_response_retry")
        ):
            self.observers += (middleware,)

    def wrap_handle(self, inner: CallNext) -> CallNext:
        """``inner`` inside every `Middleware.handle`, the first middleware outermost.

        Each layer hands on the middleware's own coroutine, so a request costs one coroutine per
        middleware, no more.
        """
        call = inner
        for middleware in reversed(self.handles):
            call = _Link(middleware.handle, call)
        return call

    def wrap_exchange(self, inner: ExchangeNext) -> ExchangeNext:
        """``inner`` inside every `Middleware.exchange`, the first middleware outermost."""
        call = inner
        for middleware in reversed(self.exchanges):
            call = _Link(middleware.exchange, call)
        return call

    def notify(self, method: str, /, *args: object, **kwargs: object) -> None:
        """Call ``method`` (an ``on_*`` name) of every observer; log what raises."""
        for middleware in self.observers:
            try:
                getattr(middleware, method)(*args, **kwargs)
            except Exception:
                logger.exception("middleware %r failed in %s", middleware, method)


C = TypeVar("C")
R = TypeVar("R")


class _Link(Generic[C, R]):
    """One layer of a chain: calls ``method(call, next)`` and returns its coroutine as it is."""

    __slots__ = ("_method", "_next")

    def __init__(
        self,
        method: Callable[[C, Callable[[C], Awaitable[R]]], Awaitable[R]],
        next: Callable[[C], Awaitable[R]],
    ) -> None:
        self._method = method
        self._next = next

    def __call__(self, call: C) -> Awaitable[R]:
        return self._method(call, self._next)
