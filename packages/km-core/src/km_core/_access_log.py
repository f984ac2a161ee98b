"""The access log: one INFO line per handled request, on the ``km_core.access`` logger.

Like uvicorn's ``uvicorn.access``, the logger is separate from the library's own, so that an
application can show, route or silence it on its own (``km run --no-access-log``). Each line
names the knowledge base, the interaction, the requesting KB, the handle request id, the
outcome and the time from accepting the request to posting its response; the same facts are on
the record as attributes (``kb_id``, ``ki_name``, ``requesting_kb_id``, ``handle_request_id``,
``outcome``, ``duration_ms``) for structured log handlers.
"""

from __future__ import annotations

import logging
import time

from ._models import HandleRequest, HandleResponse

__all__ = ["ACCESS_LOGGER_NAME", "ANSWERED", "access_logger", "describe", "log_access"]

ACCESS_LOGGER_NAME = "km_core.access"
"""The name of the access logger."""

access_logger = logging.getLogger(ACCESS_LOGGER_NAME)

ANSWERED = "answered"
"""The outcome of a request its handler answered (the line gives the number of bindings)."""


def describe(outcome: str, response: HandleResponse, delivered: bool) -> str:
    """The outcome in words: what happened, how it was answered, whether that was posted."""
    if outcome is ANSWERED:
        count = len(response.binding_set or ())
        outcome = f"answered {count} binding{'' if count == 1 else 's'}"
    elif response.error_message is not None:
        outcome += "; answered with an error message"
    else:
        outcome += "; answered with an empty binding set"
    if not delivered:
        outcome += "; the response could not be posted"
    return outcome


def log_access(
    *,
    kb_id: str,
    ki_name: str | None,
    request: HandleRequest,
    response: HandleResponse,
    outcome: str,
    delivered: bool,
    started: float,
) -> None:
    """Log one handled request at INFO; the caller checked that the access log is enabled.

    Args:
        kb_id: The knowledge base that handled it.
        ki_name: The interaction it was for (``None``: one the KB does not have).
        request: The handle request.
        response: The response it got.
        outcome: `ANSWERED`, or what went wrong (``"handler failed (KeyError)"``).
        delivered: Whether the response was posted.
        started: `time.perf_counter` when the request was accepted.
    """
    duration_ms = (time.perf_counter() - started) * 1000
    words = describe(outcome, response, delivered)
    requesting_kb_id = request.requesting_knowledge_base_id
    access_logger.info(
        "%s: %s from %s, handle request %d: %s in %.1f ms",
        kb_id,
        repr(ki_name) if ki_name is not None else "an unknown interaction",
        requesting_kb_id or "an unnamed knowledge base",
        request.handle_request_id,
        words,
        duration_ms,
        extra={
            "kb_id": kb_id,
            "ki_name": ki_name,
            "requesting_kb_id": requesting_kb_id,
            "handle_request_id": request.handle_request_id,
            "outcome": words,
            "duration_ms": duration_ms,
        },
    )
