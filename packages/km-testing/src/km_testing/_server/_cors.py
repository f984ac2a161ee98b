"""CORS: the KE's CORS headers on every response, and the answer to a browser's preflight."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._errors import Handler

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, HEAD",
    "Access-Control-Allow-Headers": "Accept, Content-Type, Knowledge-Base-Id, "
    "Knowledge-Interaction-Id",
}
"""What the KE's ``CORSFilter`` puts on every response."""


def _options(methods: Sequence[str]) -> Handler:
    """Answer ``OPTIONS`` (a browser's CORS preflight) with the path's methods."""
    allow = ", ".join([*methods, "HEAD", "OPTIONS"] if "GET" in methods else [*methods, "OPTIONS"])

    async def options(request: Request) -> Response:
        return Response(status_code=200, headers={"Allow": allow})

    return options


class _CorsHeaders:
    """ASGI middleware: the KE's CORS headers on every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in CORS_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_cors)
