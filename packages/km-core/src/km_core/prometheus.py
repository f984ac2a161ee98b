"""Prometheus metrics of knowledge bases: `PrometheusMiddleware` (needs ``km-core[prometheus]``).

Install the middleware on a knowledge base (``KnowledgeBase(middleware=[PrometheusMiddleware()])``
or `km_core.KnowledgeBase.add_middleware`) and it counts and times what the KB does: the handle
requests it serves, its polls and their failures, its registrations, the responses it posts
again or drops, and its asks and posts. Every metric has a ``kb`` label (the knowledge base's
id), so one registry holds the metrics of all the KBs of a process; the metric objects are made
once per registry and namespace and shared by every middleware that uses them. Export the
registry as you would any other: ``km run --metrics-port`` serves the default one on
``/metrics``, or use prometheus-client's ``start_http_server`` or ASGI app.

The metric names below are those of the default namespace, ``km``; with another namespace,
``km`` is replaced by it.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any, TypeVar, cast

try:
    from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
except ImportError as exc:  # pragma: no cover - the extra is installed where the tests run
    raise ImportError(
        "km_core.prometheus needs prometheus-client: pip install 'km-core[prometheus]'"
    ) from exc

from km_core import (
    AskResult,
    CallNext,
    ConfigurationError,
    ExchangeCall,
    ExchangeNext,
    ExchangeStatus,
    HandleCall,
    HandleRequest,
    HandleResponse,
    HandleResult,
    Middleware,
    PollResult,
    PostResult,
)

__all__ = [
    "DEFAULT_BUCKETS",
    "DEFAULT_NAMESPACE",
    "EXCHANGES",
    "EXCHANGE_BUCKETS",
    "EXCHANGE_DURATION",
    "EXCHANGE_FAILED",
    "EXCHANGE_PARTIAL",
    "EXCHANGE_SUCCEEDED",
    "HANDLERS_IN_FLIGHT",
    "HANDLER_DURATION",
    "HANDLE_REQUESTS",
    "POLLING",
    "POLLS",
    "POLL_FAILURES",
    "REGISTERED_AGAIN",
    "REGISTERED_FIRST",
    "REGISTRATIONS",
    "RESPONSES_DROPPED",
    "RESPONSE_BINDINGS",
    "RESPONSE_EMPTY",
    "RESPONSE_ERROR_MESSAGE",
    "RESPONSE_RETRIES",
    "PrometheusMiddleware",
    "response_kind",
]

DEFAULT_NAMESPACE = "km"
"""The prefix of every metric name, unless `PrometheusMiddleware` is given another."""

HANDLE_REQUESTS = "km_handle_requests_total"
"""Counter of handle requests served, by ``kb``, ``interaction`` (its name, ``""`` for one the
KB does not have), ``outcome`` (a `km_core.Outcome` value) and ``response`` (`response_kind`)."""
HANDLER_DURATION = "km_handler_duration_seconds"
"""Histogram of the seconds from accepting a handle request to its response being ready (the
access decision, the handler and the conversion; not the posting), by ``kb`` and
``interaction``."""
HANDLERS_IN_FLIGHT = "km_handlers_in_flight"
"""Gauge of the handle requests being served (handler running, or response being posted), by
``kb``."""
RESPONSES_DROPPED = "km_responses_dropped_total"
"""Counter of responses that could not be posted, even after trying again, by ``kb``."""
POLLS = "km_polls_total"
"""Counter of long polls answered, by ``kb`` and ``result``: ``handle``, ``repoll`` (a
heartbeat) or ``exit`` (`km_core.PollResult`, lowercased)."""
POLL_FAILURES = "km_poll_failures_total"
"""Counter of long polls that failed, by ``kb`` and ``error`` (the exception's class name, such
as ``KnowledgeEngineUnavailableError``)."""
POLLING = "km_polling"
"""Gauge, by ``kb``: 1 after a poll was answered or the KB registered, 0 after a poll failed."""
REGISTRATIONS = "km_registrations_total"
"""Counter of registrations of the KB and its interactions, by ``kb`` and ``kind``:
`REGISTERED_FIRST` or `REGISTERED_AGAIN` (after the Knowledge Engine forgot the KB)."""
RESPONSE_RETRIES = "km_response_retries_total"
"""Counter of failed posts of a response that are tried again, by ``kb``."""
EXCHANGES = "km_exchanges_total"
"""Counter of asks and posts, by ``kb``, ``interaction`` (the ASK or POST interaction's name),
``kind`` (``ask`` or ``post``) and ``status``: `EXCHANGE_SUCCEEDED`, `EXCHANGE_PARTIAL` or
`EXCHANGE_FAILED`."""
EXCHANGE_DURATION = "km_exchange_duration_seconds"
"""Histogram of the seconds an ask or post took (whatever its status), by ``kb``,
``interaction`` and ``kind``."""

RESPONSE_BINDINGS = "bindings"
"""The ``response`` label of a handle request answered with one or more bindings."""
RESPONSE_EMPTY = "empty"
"""The ``response`` label of a handle request answered with an empty binding set."""
RESPONSE_ERROR_MESSAGE = "error_message"
"""The ``response`` label of a handle request answered with an error message."""

REGISTERED_FIRST = "first"
"""The ``kind`` label of a KB's registration when it starts."""
REGISTERED_AGAIN = "again"
"""The ``kind`` label of a registration after the Knowledge Engine forgot the KB."""

EXCHANGE_SUCCEEDED = "succeeded"
"""The ``status`` of an ask or post that returned, with no contacted KB FAILED."""
EXCHANGE_PARTIAL = "partial"
"""The ``status`` of an ask or post that returned, with at least one contacted KB FAILED in its
exchange info."""
EXCHANGE_FAILED = "failed"
"""The ``status`` of an ask or post that raised."""

DEFAULT_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
"""The buckets of `HANDLER_DURATION`, in seconds: 1 ms to 30 s."""

EXCHANGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""The buckets of `EXCHANGE_DURATION`, in seconds: an ask waits for the KBs that answer it."""

_M = TypeVar("_M", Counter, Gauge, Histogram)

_POLL_RESULTS = {result: result.name.lower() for result in PollResult}


def response_kind(response: HandleResponse) -> str:
    """The ``response`` label of what was posted for a handle request.

    Returns:
        `RESPONSE_ERROR_MESSAGE` when it has an error message, `RESPONSE_BINDINGS` when it has
        bindings, else `RESPONSE_EMPTY`.
    """
    if response.error_message is not None:
        return RESPONSE_ERROR_MESSAGE
    return RESPONSE_BINDINGS if response.binding_set else RESPONSE_EMPTY


class _Metrics:
    """The metric objects of one registry and namespace, and their children by label values.

    The children are kept so that a request costs a dict lookup, not prometheus-client's
    locked ``labels()``.
    """

    def __init__(
        self, registry: CollectorRegistry, namespace: str, buckets: tuple[float, ...]
    ) -> None:
        def made(kind: type[_M], constant: str, about: str, labels: str, **more: Any) -> _M:
            name = f"{namespace}_{constant.removeprefix(DEFAULT_NAMESPACE + '_')}"
            return kind(name, about, labels.split(), registry=registry, **more)

        self.buckets = buckets
        self.requests = made(
            Counter, HANDLE_REQUESTS, "Handle requests served.", "kb interaction outcome response"
        )
        self.handler_duration = made(
            Histogram,
            HANDLER_DURATION,
            "Seconds from accepting a handle request to its response being ready.",
            "kb interaction",
            buckets=buckets,
        )
        self.in_flight = made(Gauge, HANDLERS_IN_FLIGHT, "Handle requests being served.", "kb")
        self.dropped = made(Counter, RESPONSES_DROPPED, "Responses not posted.", "kb")
        self.polls = made(Counter, POLLS, "Long polls answered.", "kb result")
        self.poll_failures = made(Counter, POLL_FAILURES, "Long polls failed.", "kb error")
        self.polling = made(
            Gauge, POLLING, "1 after a poll or registration, 0 after a failed poll.", "kb"
        )
        self.registrations = made(Counter, REGISTRATIONS, "Registrations of the KB.", "kb kind")
        self.response_retries = made(
            Counter, RESPONSE_RETRIES, "Failed posts of a response tried again.", "kb"
        )
        self.exchanges = made(Counter, EXCHANGES, "Asks and posts.", "kb interaction kind status")
        self.exchange_duration = made(
            Histogram,
            EXCHANGE_DURATION,
            "Seconds an ask or post took.",
            "kb interaction kind",
            buckets=EXCHANGE_BUCKETS,
        )
        self.children: dict[tuple[object, ...], Any] = {}


_made: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, _Metrics]] = (
    weakref.WeakKeyDictionary()
)
_making = threading.Lock()


def _metrics_of(
    registry: CollectorRegistry, namespace: str, buckets: tuple[float, ...]
) -> _Metrics:
    """The metrics of ``registry`` and ``namespace``, made at the first call.

    Raises:
        ConfigurationError: they were made with other handler buckets.
    """
    with _making:
        by_namespace = _made.setdefault(registry, {})
        metrics = by_namespace.get(namespace)
        if metrics is None:
            metrics = by_namespace[namespace] = _Metrics(registry, namespace, buckets)
        elif metrics.buckets != buckets:
            raise ConfigurationError(
                f"the {namespace!r} metrics of this registry have the handler buckets "
                f"{list(metrics.buckets)}, not {list(buckets)}: give every PrometheusMiddleware "
                "of one registry and namespace the same buckets"
            )
        return metrics


class PrometheusMiddleware(Middleware):
    """Prometheus metrics of the knowledge bases it is installed on; see the module docstring.

    Several knowledge bases (and several middleware) may share one registry: the metrics of a
    registry and namespace are made once, and the ``kb`` label tells the knowledge bases apart.
    It adds little to a request: a clock read, a few dict lookups, and prometheus-client's
    (locked) increments.

    Args:
        registry: The registry the metrics are registered in; ``None``: prometheus-client's
            default ``REGISTRY``, which its exporters (and ``km run --metrics-port``) serve.
        namespace: The prefix of the metric names.
        buckets: The buckets of the handler duration histogram, in seconds, ascending.

    Raises:
        ConfigurationError: the registry has this namespace's metrics with other buckets.
        ValueError: ``namespace`` or ``buckets`` is not valid for Prometheus, or the registry
            has metrics of these names that were not made by a PrometheusMiddleware.

    Example:
        ```python
        from km_core import KnowledgeBase
        from km_core.prometheus import PrometheusMiddleware

        kb = KnowledgeBase(id=..., name=..., description=..., middleware=[PrometheusMiddleware()])
        ```
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> None:
        self.registry = registry if registry is not None else REGISTRY
        """The registry the metrics are in."""
        self.namespace = namespace
        """The prefix of the metric names."""
        self._metrics = _metrics_of(self.registry, namespace, tuple(float(b) for b in buckets))
        self._children = self._metrics.children

    def __repr__(self) -> str:
        return f"PrometheusMiddleware(namespace={self.namespace!r})"

    # ------------------------------------------------------------------ the children

    def _child(self, metric: _M, *labels: str) -> _M:
        """``metric.labels(*labels)``, made once."""
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return cast(_M, child)

    # ------------------------------------------------------------------ around calls

    async def handle(self, call: HandleCall, call_next: CallNext) -> HandleResult:
        """Count and time one handle request, and keep it in the in-flight gauge meanwhile.

        Args:
            call: The handle request.
            call_next: Serves it on.

        Returns:
            What ``call_next`` returned.
        """
        metrics, kb = self._metrics, call.kb_id
        in_flight = self._child(metrics.in_flight, kb)
        in_flight.inc()
        try:
            result = await call_next(call)
        finally:
            in_flight.dec()
        interaction = call.ki_name or ""
        outcome = result.outcome.value
        self._child(
            metrics.requests, kb, interaction, outcome, response_kind(result.response)
        ).inc()
        self._child(metrics.handler_duration, kb, interaction).observe(result.handler_seconds)
        if not result.delivered:
            self._child(metrics.dropped, kb).inc()
        return result

    async def exchange(self, call: ExchangeCall, call_next: ExchangeNext) -> AskResult | PostResult:
        """Count and time one ask or post; one that raises counts as failed, and raises on.

        A cancelled ask or post is not counted.

        Args:
            call: The ask or post.
            call_next: Sends it on.

        Returns:
            What ``call_next`` returned.
        """
        started = time.perf_counter()
        try:
            result = await call_next(call)
        except Exception:
            self._exchanged(call, EXCHANGE_FAILED, started)
            raise
        failed = any(info.status is ExchangeStatus.FAILED for info in result.exchange_info)
        self._exchanged(call, EXCHANGE_PARTIAL if failed else EXCHANGE_SUCCEEDED, started)
        return result

    def _exchanged(self, call: ExchangeCall, status: str, started: float) -> None:
        seconds = time.perf_counter() - started
        metrics, kb, ki, kind = self._metrics, call.kb_id, call.ki_name, call.kind
        self._child(metrics.exchanges, kb, ki, kind, status).inc()
        self._child(metrics.exchange_duration, kb, ki, kind).observe(seconds)

    # ------------------------------------------------------------------ loop events

    def on_poll(self, kb_id: str, result: PollResult) -> None:
        """Count an answered poll; the KB polls."""
        self._child(self._metrics.polls, kb_id, _POLL_RESULTS[result]).inc()
        self._child(self._metrics.polling, kb_id).set(1)

    def on_poll_failure(self, kb_id: str, error: BaseException) -> None:
        """Count a failed poll by its error's class name; the KB does not poll."""
        self._child(self._metrics.poll_failures, kb_id, type(error).__name__).inc()
        self._child(self._metrics.polling, kb_id).set(0)

    def on_registered(self, kb_id: str, *, again: bool) -> None:
        """Count a registration, first or again; the KB polls (or is about to)."""
        kind = REGISTERED_AGAIN if again else REGISTERED_FIRST
        self._child(self._metrics.registrations, kb_id, kind).inc()
        self._child(self._metrics.polling, kb_id).set(1)

    def on_response_retry(self, kb_id: str, request: HandleRequest, error: BaseException) -> None:
        """Count a response that will be posted again."""
        self._child(self._metrics.response_retries, kb_id).inc()
