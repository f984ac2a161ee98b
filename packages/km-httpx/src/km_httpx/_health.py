"""The health and metrics endpoint of ``km run --metrics-port``: a small HTTP/1.1 server.

`serve_with_endpoint` serves a knowledge base with a `PrometheusMiddleware` on it, inside a
`HealthServer` that listens from before the KB connects until after it stopped. The server runs
on ``asyncio.start_server`` in the KB's own event loop, so that an answer also shows that the
loop turns, and serves three paths:

- ``/metrics``: the registry of the KB's `PrometheusMiddleware` (prometheus-client's default
  one, unless the KB brought its own), in the Prometheus text format;
- ``/healthz``: 200 ``ok``: the process is alive and its event loop turns;
- ``/readyz``: 200 ``ready`` when the KB is registered and polls (``kb.ready``), else 503 and
  one line that says why not.

HEAD is answered as GET without the body; other paths get 404, other methods 405. Each
connection carries one request and is closed after the response; its request line and headers
are bounded in size and must arrive within a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from typing import Any, Self

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from km_core import KnowledgeBase, Middleware, PollResult
from km_core.prometheus import PrometheusMiddleware

__all__ = [
    "MAX_HEADER_BYTES",
    "MAX_REQUEST_LINE",
    "READ_TIMEOUT",
    "EndpointError",
    "HealthServer",
    "serve_with_endpoint",
]

logger = logging.getLogger("km_httpx")

MAX_REQUEST_LINE = 4096
"""The longest request line (and header line) served, in bytes; a longer one gets 414 (431)."""
MAX_HEADER_BYTES = 16384
"""The most bytes of headers a request may have; more get 431."""
READ_TIMEOUT = 10.0
"""Seconds a connection has to send its request line and headers; then it is closed."""
LINGER = 1.0
"""Seconds the server reads what a client still sends after the response, before it closes."""

_TEXT = "text/plain; charset=utf-8"
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class EndpointError(Exception):
    """The endpoint cannot listen where it was told to (the port is in use, say)."""


class _Watch(Middleware):
    """What the handling loop last heard, for the reason `/readyz` gives when not ready."""

    def __init__(self) -> None:
        self.failure: str | None = None
        """The class name of the error of the last poll, when it failed."""
        self.polled = False
        """Whether a poll was answered: the KB served (and so, not ready, is stopping)."""

    def on_poll(self, kb_id: str, result: PollResult) -> None:
        self.failure = None
        self.polled = True

    def on_poll_failure(self, kb_id: str, error: BaseException) -> None:
        self.failure = type(error).__name__

    def on_registered(self, kb_id: str, *, again: bool) -> None:
        self.failure = None


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class HealthServer:
    """``/metrics``, ``/healthz`` and ``/readyz`` for one knowledge base; see the module.

    Use it as an async context manager: it listens on entry and stops on exit. It adds a
    middleware to the KB that only listens to the handling loop's polls, to tell why the KB is
    not ready.

    Args:
        kb: The knowledge base whose readiness ``/readyz`` reports.
        host: The address to listen on.
        port: The port to listen on; 0 picks a free one (see `port`).
        registry: The registry ``/metrics`` serves.
        read_timeout: Seconds a connection has to send its request.
    """

    def __init__(
        self,
        kb: KnowledgeBase,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        registry: CollectorRegistry = REGISTRY,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self._kb = kb
        self._host = host
        self.port = port
        """The port it listens on; the one it picked, once it listens on port 0."""
        self._registry = registry
        self._read_timeout = read_timeout
        self._watch = _Watch()
        kb.add_middleware(self._watch)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        """The server's base URL, ``http://HOST:PORT``."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    async def __aenter__(self) -> Self:
        """Listen, and log where.

        Raises:
            EndpointError: it cannot listen there (the port is in use, the address is not
                this machine's).
        """
        try:
            self._server = await asyncio.start_server(
                self._connected, self._host, self.port, limit=MAX_REQUEST_LINE
            )
        except OSError as exc:  # asyncio's message repeats the address: the errno's words
            if isinstance(exc, socket.gaierror):
                why = f"the host name does not resolve ({exc.strerror})"
            else:
                why = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            raise EndpointError(
                f"cannot serve metrics and health on {self._host}:{self.port}: {why}"
            ) from None
        self.port = self._server.sockets[0].getsockname()[1]
        logger.info("knowledge base %s: serving metrics and health on %s", self._kb.id, self.url)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop listening, and end the connections still open."""
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    def readiness(self) -> str | None:
        """``None`` when the KB is ready; else why not, in one line."""
        kb, watch = self._kb, self._watch
        if kb.ready:
            return None
        if watch.failure is not None:
            return f"not polling: the Knowledge Engine is away ({watch.failure})"
        if not kb.registered:
            if watch.polled:
                return "stopping: unregistered"
            return "not registered: waiting for the Knowledge Engine"
        return "stopping" if watch.polled else "not polling yet: starting"

    # ------------------------------------------------------------------ one connection

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            with contextlib.suppress(ConnectionError):
                await self._answer(reader, writer)
                await _linger(reader, writer)
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read one request and answer it; nothing for a client too slow to send it."""
        try:
            async with asyncio.timeout(self._read_timeout):
                method, path = await self._read_request(reader)
        except _BadRequest as exc:
            await self._respond(writer, exc.status, f"{exc}\n", _TEXT, head_only=False)
            return
        except (TimeoutError, asyncio.IncompleteReadError):
            return
        try:
            status, body, content_type = self._route(method, path)
        except Exception:  # a collector of the registry failed, say
            logger.exception("knowledge base %s: could not answer %s %s", self._kb.id, method, path)
            status, body, content_type = 500, "internal error; see the log\n", _TEXT
        await self._respond(writer, status, body, content_type, head_only=method == "HEAD")

    async def _read_request(self, reader: asyncio.StreamReader) -> tuple[str, str]:
        """The method and path of the request; its headers read (and ignored).

        Raises:
            _BadRequest: it is malformed (400) or too large (414, 431).
        """
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.LimitOverrunError:
            raise _BadRequest(414, "the request line is too long") from None
        parts = line.decode("latin-1").rstrip("\r\n").split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _BadRequest(400, "not an HTTP/1.x request line")
        received = 0
        while True:
            try:
                header = await reader.readuntil(b"\n")
            except asyncio.LimitOverrunError:
                raise _BadRequest(431, "a header line is too long") from None
            received += len(header)
            if received > MAX_HEADER_BYTES:
                raise _BadRequest(431, "the headers are too large")
            if header in (b"\r\n", b"\n"):
                break
        method, target = parts[0], parts[1]
        return method, target.partition("?")[0]

    def _route(self, method: str, path: str) -> tuple[int, bytes | str, str]:
        """The status, body and content type of the answer to ``method path``."""
        if path not in ("/metrics", "/healthz", "/readyz"):
            return 404, "not found: try /metrics, /healthz or /readyz\n", _TEXT
        if method not in ("GET", "HEAD"):
            return 405, f"method {method} not allowed: use GET or HEAD\n", _TEXT
        if path == "/metrics":
            return 200, generate_latest(self._registry), CONTENT_TYPE_LATEST
        if path == "/healthz":
            return 200, "ok\n", _TEXT
        reason = self.readiness()
        return (200, "ready\n", _TEXT) if reason is None else (503, f"{reason}\n", _TEXT)

    async def _respond(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        body: bytes | str,
        content_type: str,
        *,
        head_only: bool,
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        head = (
            f"HTTP/1.1 {status} {_REASONS[status]}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {len(data)}\r\n"
            + ("Allow: GET, HEAD\r\n" if status == 405 else "")
            + "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode("latin-1") + (b"" if head_only else data))
        with contextlib.suppress(ConnectionError, TimeoutError):
            async with asyncio.timeout(self._read_timeout):
                await writer.drain()


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Half-close, then read (and drop) what the client still sends, for a moment at most.

    Closing a socket with unread data resets the connection, and the reset may overtake the
    response: the client of an oversized request would see the reset, not the 414 or 431.
    """
    if writer.can_write_eof():
        writer.write_eof()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(LINGER):
            dropped = 0
            while dropped < MAX_HEADER_BYTES and (data := await reader.read(MAX_REQUEST_LINE)):
                dropped += len(data)


async def serve_with_endpoint(kb: KnowledgeBase, *, host: str, port: int, **options: Any) -> None:
    """Serve ``kb`` (``kb.serve(**options)``) with its metrics and health on ``host:port``.

    A `PrometheusMiddleware` on the default registry is added to the KB, unless it has one;
    ``/metrics`` serves the registry of the KB's (first) one. The endpoint listens before the
    KB connects, and stops after it stopped.

    Raises:
        EndpointError: the endpoint cannot listen there; the KB was not started.
    """
    metered = [m for m in kb.middleware if isinstance(m, PrometheusMiddleware)]
    if not metered:
        metered.append(PrometheusMiddleware())
        kb.add_middleware(metered[0])
    async with HealthServer(kb, host=host, port=port, registry=metered[0].registry):
        await kb.serve(**options)
