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

__all__ = ["ACCESS_LOGGER_NAME", "access_logger", "log_access"]

ACCESS_LOGGER_NAME = "km_core.access"
"""The name of the access logger."""

access_logger = logging.getLogger(ACCESS_LOGGER_NAME)


def log_access(
    *,
    kb_id: str,
    ki_name: str | None,
    requesting_kb_id: str | None,
    handle_request_id: int,
    outcome: str,
    started: float,
) -> None:
    """Log one handled request, if the access log is enabled at INFO.

    Args:
        kb_id: The knowledge base that handled it.
        ki_name: The interaction it was for (``None``: one the KB does not have).
        requesting_kb_id: The knowledge base that asked or posted, when the KE said.
        handle_request_id: The KE's id of the request.
        outcome: What became of it, e.g. ``"answered 2 bindings"``.
        started: `time.perf_counter` when the request was accepted.
    """
    if not access_logger.isEnabledFor(logging.INFO):
        return
    duration_ms = (time.perf_counter() - started) * 1000
    access_logger.info(
        "%s: %s from %s, handle request %d: %s in %.1f ms",
        kb_id,
        repr(ki_name) if ki_name is not None else "an unknown interaction",
        requesting_kb_id or "an unnamed knowledge base",
        handle_request_id,
        outcome,
        duration_ms,
        extra={
            "kb_id": kb_id,
            "ki_name": ki_name,
            "requesting_kb_id": requesting_kb_id,
            "handle_request_id": handle_request_id,
            "outcome": outcome,
            "duration_ms": duration_ms,
        },
    )
