"""The ClientProtocol contract with HttpxClient against any Knowledge Engine, through REST only.

Each test runs twice: against the local engine served over loopback HTTP (always), and against
the Knowledge Engine whose REST base URL ``KM_TEST_KE_URL`` gives (skipped, and saying so, when
it is unset). Both go through the same harness, which makes the engine deliver a handle request
the way a user's network does: another KB, registered through the same REST API, asks. So the
served engine keeps this conformance mode from rotting, and a user can point it at their own KE
deployment (``python -m hatch run test-ke``; see docs/real-ke.md).

A real KE is shared state: the KBs of these tests are deleted before and after each test.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest

from km_core import (
    ClientProtocol,
    KnowledgeBaseInfo,
    KnowledgeInteractionRegistration,
    KnowledgeInteractionType,
)
from km_httpx import HttpxClient
from km_testing import LocalKnowledgeEngine, create_app
from tests.conformance.rest import delete_kbs
from tests.contract.client_contract import KB_ID, OTHER_KB_ID, PATTERN, ClientContract
from tests.testing.serving import serving

pytestmark = pytest.mark.ke

KE_URL_SETTING = "KM_TEST_KE_URL"


@pytest.fixture(params=["served", "real-ke"])
async def ke_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """The REST base URL of the engine under test: the served local engine, or a real KE."""
    if request.param == "real-ke":
        url = os.environ.get(KE_URL_SETTING, "")
        if not url:
            pytest.skip(f"no real Knowledge Engine: set {KE_URL_SETTING} to its REST base URL")
        yield url.rstrip("/")
        return
    async with serving(create_app(LocalKnowledgeEngine())) as url:
        yield url


class RestHarness:
    """Makes the engine at ``url`` send a handle request: another KB asks, over REST.

    The asking KB has an ASK interaction with the contract's ANSWER pattern and asks only the
    KB under test, in a background task; `close` cancels the asks still waiting, and deletes
    the asking KB.
    """

    def __init__(self, url: str) -> None:
        self.client = HttpxClient(url)
        self.asks: set[asyncio.Task[object]] = set()
        self._ask_ki_id: str | None = None

    async def deliver(
        self, client: ClientProtocol, kb_id: str, ki_name: str, binding_set: list[dict[str, str]]
    ) -> None:
        known = {ki.knowledge_interaction_name for ki in await self.client.list_kis(kb_id)}
        assert ki_name in known, f"{kb_id} has no interaction {ki_name!r}"
        if self._ask_ki_id is None:
            await self.client.register_kb(
                KnowledgeBaseInfo(
                    knowledge_base_id=OTHER_KB_ID,
                    knowledge_base_name="asker",
                    knowledge_base_description="Asks the KB under test",
                ),
                reregister=True,
            )
            self._ask_ki_id = await self.client.register_ki(
                OTHER_KB_ID,
                KnowledgeInteractionRegistration(
                    knowledge_interaction_type=KnowledgeInteractionType.ASK,
                    knowledge_interaction_name="heights-asked",
                    graph_pattern=PATTERN,
                ),
            )
        ask = asyncio.create_task(
            self.client.ask(OTHER_KB_ID, self._ask_ki_id, binding_set, recipients=[kb_id]),
            name=f"harness-ask {kb_id}",
        )
        self.asks.add(ask)

    async def close(self) -> None:
        for ask in self.asks:
            ask.cancel()
        await asyncio.gather(*self.asks, return_exceptions=True)
        await self.client.close()


@pytest.fixture
async def harness(ke_url: str) -> AsyncIterator[RestHarness]:
    await delete_kbs(ke_url, KB_ID, OTHER_KB_ID)
    harness = RestHarness(ke_url)
    try:
        yield harness
    finally:
        await harness.close()
        await delete_kbs(ke_url, KB_ID, OTHER_KB_ID)


class TestHttpxAgainstAnyKnowledgeEngine(ClientContract):
    @pytest.fixture
    async def contract_client(
        self, ke_url: str, harness: RestHarness
    ) -> AsyncIterator[HttpxClient]:
        client = HttpxClient(ke_url)
        try:
            # One request first, so the pool holds a connection that is ready: the
            # contract's "let the loop run" then covers a poll reaching the server.
            assert await client.get_version()
            yield client
        finally:
            await client.close()
