"""The TestClient keeps the ClientProtocol contract."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from km_core import ClientProtocol
from km_testing import TestClient
from tests.contract.client_contract import ClientContract


class EnqueueHarness:
    """Delivers handle requests by enqueueing them in the TestClient."""

    async def deliver(
        self, client: ClientProtocol, kb_id: str, ki_name: str, binding_set: list[dict[str, str]]
    ) -> None:
        assert isinstance(client, TestClient)
        client.enqueue_handle_request(ki_name, binding_set)


@pytest.fixture
async def contract_client() -> AsyncIterator[TestClient]:
    client = TestClient()
    yield client
    await client.close()


@pytest.fixture
def harness() -> EnqueueHarness:
    return EnqueueHarness()


class TestTestClientContract(ClientContract):
    pass
