"""Serving over real HTTP: uvicorn inside the running event loop, from start-up to shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.types import ASGIApp

from km_testing.engine import LocalKnowledgeEngine

from ._app import create_app

__all__ = ["serve_locally"]


@contextlib.asynccontextmanager
async def serve_locally(
    target: LocalKnowledgeEngine | ASGIApp | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
) -> AsyncIterator[str]:
    """Serve an engine over real HTTP (uvicorn) inside the running event loop.

    For end-to-end tests and benchmarks that want sockets without a subprocess:

    ```python
    async with serve_locally(LocalKnowledgeEngine()) as base_url:
        client = HttpxClient(base_url)
    ```

    Args:
        target: The engine to serve (a new one when ``None``), or an ASGI app such as
            `create_app`'s, possibly wrapped.
        host: The address to bind; this machine only by default.
        port: The port; ``0`` picks a free one.

    Yields:
        The REST base URL, ``http://HOST:PORT/rest``.

    Raises:
        RuntimeError: the server did not start within 10 s.
    """
    import uvicorn

    class _Server(uvicorn.Server):
        """A uvicorn server that sets an event once it listens."""

        def __init__(self, config: uvicorn.Config) -> None:
            super().__init__(config)
            self.listening = asyncio.Event()

        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            self.listening.set()

    app = (
        create_app(target) if target is None or isinstance(target, LocalKnowledgeEngine) else target
    )
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        log_level="warning",
        access_log=False,
        ws="none",
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    server = _Server(config)
    serve = asyncio.create_task(server.serve(), name="km-testing-uvicorn")
    listening = asyncio.create_task(server.listening.wait())
    try:
        await asyncio.wait({serve, listening}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if not listening.done():
            raise RuntimeError("the local engine's HTTP server did not start")
        bound = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://{host}:{bound}/rest"
    finally:
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening
        server.should_exit = True
        await asyncio.wait_for(serve, 10)  # ends the server task and retrieves its outcome
