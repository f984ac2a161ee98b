"""Traces of a knowledge base: `TelemetryMiddleware` makes an OpenTelemetry span per call.

This module's one responsibility is turning what a knowledge base does into spans: one
``SERVER`` span per handle request it serves, and one ``CLIENT`` span per ask or post it makes.
A handler runs inside its request's span, so the asks and posts it makes (``await kb.ask`` in
an async handler, ``kb.ask_sync`` in a sync one) are that span's children.

It needs the OpenTelemetry API, ``pip install 'km-core[opentelemetry]'``; where spans go (an
exporter, a sampler) is set up with the OpenTelemetry SDK, as for any instrumented library.
The names of the span attributes are the ``ATTR_*`` constants below.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

import km_core
from km_core import (
    AskResult,
    CallNext,
    ExchangeCall,
    ExchangeNext,
    ExchangeStatus,
    HandleCall,
    HandleResult,
    Middleware,
    Outcome,
    PostResult,
)

try:
    from opentelemetry import trace
    from opentelemetry.trace import Span, SpanKind, Status, StatusCode, TracerProvider
    from opentelemetry.util.types import AttributeValue
except ImportError as error:  # pragma: no cover - checked in a subprocess without the API
    raise ImportError(
        "km_core.opentelemetry needs the OpenTelemetry API: pip install 'km-core[opentelemetry]'"
    ) from error

__all__ = [
    "ATTR_BINDINGS",
    "ATTR_BINDINGS_RECEIVED",
    "ATTR_BINDINGS_SENT",
    "ATTR_EXCHANGES_FAILED",
    "ATTR_EXCHANGE_KIND",
    "ATTR_HANDLE_REQUEST_ID",
    "ATTR_KB_ID",
    "ATTR_KI_NAME",
    "ATTR_KNOWLEDGE_INTERACTION_ID",
    "ATTR_OUTCOME",
    "ATTR_RECIPIENTS",
    "ATTR_REQUESTING_KB_ID",
    "ATTR_RESPONSE_DELIVERED",
    "TelemetryMiddleware",
]

ATTR_KB_ID = "km.kb.id"
"""Both kinds of span: the id of the knowledge base that serves the request or makes the call."""
ATTR_KI_NAME = "km.ki.name"
"""Both: the name of the interaction (left out for a request for an unknown interaction)."""
ATTR_KNOWLEDGE_INTERACTION_ID = "km.knowledge_interaction.id"
"""Both: the KE's id of the interaction, as the request named it or the call uses it."""
ATTR_REQUESTING_KB_ID = "km.requesting_kb.id"
"""Handle spans: the knowledge base that asked or posted, when the KE said."""
ATTR_HANDLE_REQUEST_ID = "km.handle_request.id"
"""Handle spans: the KE's id of the handle request."""
ATTR_OUTCOME = "km.outcome"
"""Handle spans: what became of the request, a `km_core.Outcome` value (``"answered"``)."""
ATTR_BINDINGS = "km.bindings"
"""Handle spans: the number of bindings answered (left out when the response is an error)."""
ATTR_RESPONSE_DELIVERED = "km.response.delivered"
"""Handle spans: whether the response was posted to the KE."""
ATTR_EXCHANGE_KIND = "km.exchange.kind"
"""Ask and post spans: ``"ask"`` or ``"post"``."""
ATTR_RECIPIENTS = "km.recipients"
"""Ask and post spans: the knowledge bases the call is limited to (left out when it is not)."""
ATTR_BINDINGS_SENT = "km.bindings.sent"
"""Ask and post spans: the number of bindings sent."""
ATTR_BINDINGS_RECEIVED = "km.bindings.received"
"""Ask and post spans: the number of bindings that came back (answers, or reactions' results)."""
ATTR_EXCHANGES_FAILED = "km.exchanges.failed"
"""Ask and post spans: the number of contacted interactions whose exchange failed."""

C = TypeVar("C")
R = TypeVar("R")

_UNKNOWN_HANDLE = "handle unknown interaction"
_NOT_DELIVERED = "response not delivered"
_ERROR_OUTCOMES = frozenset(
    {Outcome.FAILED, Outcome.TIMED_OUT, Outcome.UNKNOWN_INTERACTION, Outcome.CANCELLED}
)
"""The outcomes that set a handle span's status to ERROR; a denial is the KB doing its job."""


class TelemetryMiddleware(Middleware):
    """A middleware that traces a knowledge base's requests, asks and posts.

    Each handle request gets a ``SERVER`` span named ``handle <interaction name>`` (``handle
    unknown interaction`` for one the knowledge base does not have), current while the request
    is served: the access decision, the handler, and posting the response. Each ask or post
    gets a ``CLIENT`` span named ``ask <name>`` or ``post <name>``, current while the call is
    made, and so a child of the handle span when a handler makes it.

    A handle span's status is ERROR when the request failed, timed out, named an unknown
    interaction or was cancelled, or its response was not delivered; a denied request is not an
    error (its outcome attribute says ``"denied"``). An ask or post that raises records the
    exception and sets the status to ERROR. A span that is not recorded (sampled out, or no
    SDK configured) costs its name and its start attributes, nothing more.

    Args:
        tracer_provider: Where the spans go; ``None``: OpenTelemetry's global tracer provider.

    Example:
        ```python
        from km_core.opentelemetry import TelemetryMiddleware

        kb = KnowledgeBase(id=..., name=..., description=..., middleware=[TelemetryMiddleware()])
        ```
    """

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        self._tracer = trace.get_tracer(
            "km_core", km_core.__version__, tracer_provider=tracer_provider
        )

    async def handle(self, call: HandleCall, call_next: CallNext) -> HandleResult:
        """Serve the request inside a ``SERVER`` span; see the class docstring.

        Raises:
            BaseException: what ``call_next`` raises (cancellation), recorded on the span.
        """
        request = call.request
        attributes: dict[str, str | int] = {
            ATTR_KB_ID: call.kb_id,
            ATTR_HANDLE_REQUEST_ID: request.handle_request_id,
            ATTR_KNOWLEDGE_INTERACTION_ID: request.knowledge_interaction_id,
        }
        if call.ki_name is not None:
            attributes[ATTR_KI_NAME] = call.ki_name
        if request.requesting_knowledge_base_id is not None:
            attributes[ATTR_REQUESTING_KB_ID] = request.requesting_knowledge_base_id
        name = _UNKNOWN_HANDLE if call.ki_name is None else f"handle {call.ki_name}"
        return await self._traced(
            name, SpanKind.SERVER, attributes, call_next, call, _record_handled
        )

    async def exchange(self, call: ExchangeCall, call_next: ExchangeNext) -> AskResult | PostResult:
        """Make the ask or post inside a ``CLIENT`` span; see the class docstring.

        Raises:
            BaseException: what ``call_next`` raises, recorded on the span.
        """
        attributes: dict[str, str | int | list[str]] = {
            ATTR_KB_ID: call.kb_id,
            ATTR_KI_NAME: call.ki_name,
            ATTR_KNOWLEDGE_INTERACTION_ID: call.ki_id,
            ATTR_EXCHANGE_KIND: call.kind,
            ATTR_BINDINGS_SENT: len(call.binding_set),
        }
        if call.recipients is not None:
            attributes[ATTR_RECIPIENTS] = list(call.recipients)
        return await self._traced(
            f"{call.kind} {call.ki_name}",
            SpanKind.CLIENT,
            attributes,
            call_next,
            call,
            _record_exchanged,
        )

    async def _traced(
        self,
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, AttributeValue],
        call_next: Callable[[C], Awaitable[R]],
        call: C,
        record: Callable[[Span, R], None],
    ) -> R:
        """``call_next(call)`` inside a current span; ``record`` sets what came back on it.

        An exception that escapes is recorded on the span, with an ERROR status, and raised on.
        """
        with self._tracer.start_as_current_span(
            name,
            kind=kind,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                result = await call_next(call)
            except BaseException as exc:
                _record_failure(span, exc)
                raise
            if span.is_recording():
                record(span, result)
            return result


def _record_handled(span: Span, result: HandleResult) -> None:
    """Set what became of a handle request on its (recording) span."""
    bindings = result.response.binding_set
    outcome: dict[str, str | int | bool] = {
        ATTR_OUTCOME: result.outcome.value,
        ATTR_RESPONSE_DELIVERED: result.delivered,
    }
    if bindings is not None:
        outcome[ATTR_BINDINGS] = len(bindings)
    span.set_attributes(outcome)
    if result.outcome in _ERROR_OUTCOMES:
        span.set_status(Status(StatusCode.ERROR, result.detail))
    elif not result.delivered:
        span.set_status(Status(StatusCode.ERROR, _NOT_DELIVERED))


def _record_exchanged(span: Span, result: AskResult | PostResult) -> None:
    """Set what came back from an ask or post on its (recording) span."""
    received = result.binding_set if isinstance(result, AskResult) else result.result_binding_set
    failed = sum(1 for info in result.exchange_info if info.status is ExchangeStatus.FAILED)
    span.set_attributes({ATTR_BINDINGS_RECEIVED: len(received), ATTR_EXCHANGES_FAILED: failed})


def _record_failure(span: Span, error: BaseException) -> None:
    """Record an exception that escaped the call on its span, with an ERROR status."""
    if span.is_recording():
        span.record_exception(error)
        text = str(error)
        name = type(error).__name__
        span.set_status(Status(StatusCode.ERROR, f"{name}: {text}" if text else name))
