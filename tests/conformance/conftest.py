"""Fixtures of the conformance tests: the engine under test, and a test's own network on it.

``ke_url`` (from test_contract_any_ke.py) is the served local engine, and the real KE at
``KM_TEST_KE_URL`` when it is set; ``net`` gives a test KB ids and IRIs of its own there and
deletes its KBs afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from km_httpx import HttpxClient
from tests.conformance.rest import Network
from tests.conformance.test_contract_any_ke import ke_url

__all__ = ["ke_url", "net"]


@pytest.fixture
async def net(ke_url: str) -> AsyncIterator[Network]:
    """The test's KBs on the engine under test, deleted when the test ends."""
    async with HttpxClient(ke_url) as client:
        network = Network(ke_url, client)
        try:
            yield network
        finally:
            await network.close()
