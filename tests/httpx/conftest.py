"""Fixtures of the HttpxClient tests: a respx-mocked Knowledge Engine and a client bound to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import respx

from km_httpx import HttpxClient

BASE_URL = "http://ke.test/rest"


@pytest.fixture
def ke() -> Iterator[respx.MockRouter]:
    """The mocked KE: routes are relative to `BASE_URL`; an unrouted request fails the test."""
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        yield router


@pytest.fixture
async def client(ke: respx.MockRouter) -> AsyncIterator[HttpxClient]:
    """An HttpxClient on the mocked KE, closed after the test."""
    http_client = HttpxClient(BASE_URL)
    try:
        yield http_client
    finally:
        await http_client.close()
