"""The ClientProtocol contract against the local engine: over HTTP (HttpxClient talking to
km-testing's server on a real socket), and in process (LocalEngineClient)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from km_core import (
    ClientProtocol,
    KnowledgeBaseInfo,
    KnowledgeInteractionRegistration,
    KnowledgeInteractionType,
)
from km_httpx import HttpxClient
from km_testing import LocalEngineClient, LocalKnowledgeEngine, create_app
from tests.contract.client_contract import OTHER_KB_ID, PATTERN, ClientContract
from tests.testing.serving import serving


class EngineHarness:
    """Makes the engine send a handle request: another KB asks, in a background task.

    The asking KB has an ASK interaction with the contract's ANSWER pattern and asks only the
    KB under test. Its asks wait for their answers (or the engine's wait timeout); `close`
    cancels those still waiting.
    """

    def __init__(self, engine: LocalKnowledgeEngine) -> None:
        self.engine = engine
        self.asks: set[asyncio.Task[object]] = set()
        self._ask_ki_id: str | None = None

    async def deliver(
        self, client: ClientProtocol, kb_id: str, ki_name: str, binding_set: list[dict[str, str]]
    ) -> None:
        known = {ki.knowledge_interaction_name for ki in self.engine.list_kis(kb_id)}
        assert ki_name in known, f"{kb_id} has no interaction {ki_name!r}"
        if self._ask_ki_id is None:
            await self.engine.register_kb(
                KnowledgeBaseInfo(
                    knowledge_base_id=OTHER_KB_ID,
                    knowledge_base_name="asker",
                    knowledge_base_description="Asks the KB under test",
                )
            )
            self._ask_ki_id = self.engine.register_ki(
                OTHER_KB_ID,
                KnowledgeInteractionRegistration(
                    knowledge_interaction_type=KnowledgeInteractionType.ASK,
                    knowledge_interaction_name="heights-asked",
                    graph_pattern=PATTERN,
                ),
            )
        ask = asyncio.create_task(
            self.engine.ask(OTHER_KB_ID, self._ask_ki_id, binding_set, [kb_id]),
            name=f"harness-ask {kb_id}",
        )
        self.asks.add(ask)

    async def close(self) -> None:
        for ask in self.asks:
            ask.cancel()
        await asyncio.gather(*self.asks, return_exceptions=True)


@pytest.fixture
def engine() -> LocalKnowledgeEngine:
    return LocalKnowledgeEngine()


@pytest.fixture
async def harness(engine: LocalKnowledgeEngine) -> AsyncIterator[EngineHarness]:
    harness = EngineHarness(engine)
    try:
        yield harness
    finally:
        await harness.close()


class TestHttpxOverLoopback(ClientContract):
    @pytest.fixture
    async def contract_client(
        self, engine: LocalKnowledgeEngine, harness: EngineHarness
    ) -> AsyncIterator[HttpxClient]:
        async with serving(create_app(engine)) as base_url:
            client = HttpxClient(base_url)
            try:
                # One request first, so the pool holds a connection that is ready: the
                # contract's "let the loop run" then covers a poll reaching the server.
                assert await client.get_version() == engine.version
                yield client
            finally:
                await client.close()


class TestLocalEngineClient(ClientContract):
    @pytest.fixture
    async def contract_client(
        self, engine: LocalKnowledgeEngine, harness: EngineHarness
    ) -> AsyncIterator[LocalEngineClient]:
        client = LocalEngineClient(engine)
        try:
            yield client
        finally:
            await client.close()
