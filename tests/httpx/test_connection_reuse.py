"""HttpxClient's cost per request over real loopback sockets: no imports, no reconnects."""

from __future__ import annotations

import asyncio
import importlib.abc
import importlib.machinery
import socket
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from km_httpx import HttpxClient
from km_testing import LocalKnowledgeEngine, create_app, serve_locally


class LookupRecorder(importlib.abc.MetaPathFinder):
    """Records every module the import system searches for; finds none itself."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        self.names.append(fullname)
        return None


@contextmanager
def recording_lookups() -> Iterator[LookupRecorder]:
    recorder = LookupRecorder()
    sys.meta_path.insert(0, recorder)
    try:
        yield recorder
    finally:
        sys.meta_path.remove(recorder)


async def test_pooled_requests_search_for_no_module() -> None:
    """httpcore looks for sniffio on every pooled request; it must be installed, not searched."""
    async with serve_locally(LocalKnowledgeEngine()) as url, HttpxClient(url) as client:
        await client.get_version()  # the first request may import what it needs
        with recording_lookups() as recorder:
            for _ in range(5):
                await client.get_version()
                await client.list_kbs()
    assert recorder.names == []


class Barrier:
    """An ASGI wrapper that holds each request until ``size`` are in, so all are in flight."""

    def __init__(self, app: ASGIApp, size: int) -> None:
        self.app = app
        self.size = size
        self.waiting = 0
        self.full = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.waiting += 1
        if self.waiting == self.size:
            self.full.set()
        await self.full.wait()
        await self.app(scope, receive, send)

    def reset(self) -> None:
        self.waiting = 0
        self.full = asyncio.Event()


async def test_concurrent_requests_reuse_their_connections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """50 requests in flight at once, three times: the second and third open no connection."""
    barrier = Barrier(create_app(LocalKnowledgeEngine()), 50)
    async with serve_locally(barrier) as url, HttpxClient(url) as client:
        await asyncio.gather(*(client.list_kbs() for _ in range(50)))
        opened: list[object] = []
        real_connect = socket.socket.connect

        def counting_connect(self: socket.socket, address: Any) -> None:
            opened.append(address)
            real_connect(self, address)

        monkeypatch.setattr(socket.socket, "connect", counting_connect)
        for _ in range(2):
            barrier.reset()
            kbs = await asyncio.gather(*(client.list_kbs() for _ in range(50)))
            assert kbs == [[]] * 50
    # Up to 100 idle connections stay in the pool (httpx keeps 20 by default).
    assert opened == []
