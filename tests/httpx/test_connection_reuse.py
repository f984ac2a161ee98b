"""HttpxClient's cost per request over real loopback sockets: no module lookups."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType

from km_httpx import HttpxClient
from km_testing import LocalKnowledgeEngine, serve_locally


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
