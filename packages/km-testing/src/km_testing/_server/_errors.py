"""Error answers: what an endpoint raises, as the KE's error bodies.

The engine's errors keep their status; a client that went away is logged at DEBUG, and
anything else is logged and answered with a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from km_core import KnowledgeEngineResponseError

from ._headers import KB_HEADER, KI_HEADER
from ._responses import _message

logger = logging.getLogger("km_testing.server")

EARLY_EOF = "EofException: Early EOF"
"""Jetty's word for a body that ended before its ``Content-Length``; the client that went away
never reads it."""

Handler = Callable[[Request], Awaitable[Response]]


def _about(request: Request) -> str:
    """The request and the ids it names, for a log line."""
    ids = "".join(
        f", {header} {request.headers[header]}"
        for header in (KB_HEADER, KI_HEADER)
        if header in request.headers
    )
    return f"{request.method} {request.url.path}{ids}"


def _endpoint(handler: Handler) -> Handler:
    """Turn the engine's errors into the KE's error bodies; anything else into a 500.

    A client that goes away before it has sent its whole body is no error of the server's: it
    is logged at DEBUG, and the 400 it is answered goes nowhere.
    """

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except KnowledgeEngineResponseError as exc:
            return _message(exc.status_code, exc.message)
        except ClientDisconnect:
            logger.debug("%s: the client went away before it sent the whole body", _about(request))
            return _message(400, EARLY_EOF)
        except Exception as exc:
            logger.exception("%s failed", _about(request))
            return _message(500, f"{type(exc).__name__}: {exc}")

    return endpoint
