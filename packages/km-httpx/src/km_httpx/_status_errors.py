"""From the Knowledge Engine's answer to the SDK's error: which exception each status becomes.

`status_error` maps a status other than the call's success to its `km_core` exception, with
the KE's own message (its JSON ``message``, an error page's title, or the body's start) and,
for 429 and 5xx, the ``Retry-After`` the answer asks for. `unexpected` is the error for an
answer the SDK cannot use at all, with the start of its body.
"""

from __future__ import annotations

import email.utils
import html
import json
import math
import re
from datetime import UTC, datetime

import httpx

from km_core import (
    KnowledgeEngineError,
    KnowledgeEngineResponseError,
    KnowledgeEngineServerError,
    PollConflictError,
    RateLimitedError,
    SmartConnectorNotFoundError,
    UnexpectedResponseError,
)

__all__ = ["status_error", "unexpected"]

_BODY_SAMPLE = 500
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_HTML_TAG = re.compile(r"<[^>]*>")
# The error statuses the KE itself answers with (5xx and 429 are handled apart).
_KE_STATUSES = frozenset({400, 404, 409, 410, 429})


def _ke_message(response: httpx.Response) -> str:
    """The KE's ``message`` from an error body, or the body's start, or the reason."""
    text = response.text
    try:
        body = json.loads(text) if text else None
    except (ValueError, RecursionError):  # not JSON, or nested beyond what Python reads
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"]).strip()
    if "html" in response.headers.get("content-type", "") or text.lstrip().startswith("<"):
        # An error page (Jetty's, a proxy's): its title, or its text, not its markup.
        title = _HTML_TITLE.search(text)
        text = title.group(1) if title else _HTML_TAG.sub(" ", text)
        text = " ".join(html.unescape(text).split())
    if text.strip():
        return text.strip()[:_BODY_SAMPLE]
    return response.reason_phrase or f"HTTP {response.status_code}"


def status_error(
    response: httpx.Response,
    endpoint: str,
    kb_id: str | None,
    ki_id: str | None,
) -> KnowledgeEngineError:
    """The SDK error for a status other than the call's success.

    The KE answers 400, 404, 409, 410 and 500 with its error body; a proxy may add 429 and
    other 5xx (with ``Retry-After``). Any other status (a 401, a redirect, a 418) is an
    answer the SDK cannot use: `UnexpectedResponseError`, transient, with the body's start.
    """
    status = response.status_code
    message = _ke_message(response)
    if status not in _KE_STATUSES and status < 500:
        return unexpected(
            response,
            f"the Knowledge Engine (or something in front of it) answered with status "
            f"{status}, which it does not use for this call: {message}",
            endpoint,
            kb_id=kb_id,
            ki_id=ki_id,
        )
    if status == 429:
        limited = RateLimitedError(
            message, status_code=status, endpoint=endpoint, kb_id=kb_id, ki_id=ki_id
        )
        limited.retry_after = _retry_after(response)
        return limited
    if status == 404:
        return SmartConnectorNotFoundError(
            message, status_code=status, endpoint=endpoint, kb_id=kb_id, ki_id=ki_id
        )
    if status == 409:
        return PollConflictError(
            message, status_code=status, endpoint=endpoint, kb_id=kb_id, ki_id=ki_id
        )
    if status >= 500:
        failed = KnowledgeEngineServerError(
            message, status_code=status, endpoint=endpoint, kb_id=kb_id, ki_id=ki_id
        )
        failed.retry_after = _retry_after(response)
        return failed
    return KnowledgeEngineResponseError(
        message, status_code=status, endpoint=endpoint, kb_id=kb_id, ki_id=ki_id
    )


def _retry_after(response: httpx.Response) -> float | None:
    """The seconds a ``Retry-After`` header asks for (a number or an HTTP date), if any."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def unexpected(
    response: httpx.Response,
    message: str,
    endpoint: str,
    kb_id: str | None = None,
    ki_id: str | None = None,
) -> UnexpectedResponseError:
    """The error for an answer the SDK cannot read, with the start of its body."""
    return UnexpectedResponseError(
        message,
        status_code=response.status_code,
        body=response.text[:_BODY_SAMPLE],
        endpoint=endpoint,
        kb_id=kb_id,
        ki_id=ki_id,
    )
