"""The contract every `ClientProtocol` implementation must keep, written once.

An implementation's test module subclasses `ClientContract` and provides two fixtures:
``contract_client`` (a fresh client, closed afterwards by the fixture) and ``harness`` (a
`Harness` that makes the Knowledge Engine behind that client send a handle request to a KB,
however that is done there: enqueued in the TestClient, asked by another KB on a real KE).
"""

from __future__ import annotations

import asyncio
from typing import Protocol

import pytest

from km_core import (
    ClientClosedError,
    ClientProtocol,
    HandleResponse,
    KnowledgeBaseInfo,
    KnowledgeEngineResponseError,
    KnowledgeInteractionRegistration,
    KnowledgeInteractionType,
    PollConflictError,
    PollResult,
    SmartConnectorNotFoundError,
)
from tests.support import let_the_loop_run

KB_ID = "http://example.org/kb/contract"
OTHER_KB_ID = "http://example.org/kb/contract-asker"
PATTERN = "?tree <http://example.org/height> ?height ."
OAK = "<http://example.org/oak>"


class Harness(Protocol):
    """Makes the KE behind a client deliver a handle request."""

    async def deliver(
        self, client: ClientProtocol, kb_id: str, ki_name: str, binding_set: list[dict[str, str]]
    ) -> None:
        """Cause one handle request for ``ki_name`` of ``kb_id`` (an ANSWER interaction)."""
        ...


def kb_info(kb_id: str = KB_ID, *, lease: int | None = None) -> KnowledgeBaseInfo:
    return KnowledgeBaseInfo(
        knowledge_base_id=kb_id,
        knowledge_base_name="contract",
        knowledge_base_description="A KB that checks a client",
        lease_renewal_time=lease,
    )


def answer_ki(name: str = "heights") -> KnowledgeInteractionRegistration:
    return KnowledgeInteractionRegistration(
        knowledge_interaction_type=KnowledgeInteractionType.ANSWER,
        knowledge_interaction_name=name,
        graph_pattern=PATTERN,
    )


def ask_ki(name: str = "heights-asked") -> KnowledgeInteractionRegistration:
    return KnowledgeInteractionRegistration(
        knowledge_interaction_type=KnowledgeInteractionType.ASK,
        knowledge_interaction_name=name,
        graph_pattern=PATTERN,
    )


class ClientContract:
    """Tests any ClientProtocol implementation must pass."""

    async def test_it_is_a_client_protocol(self, contract_client: ClientProtocol) -> None:
        assert isinstance(contract_client, ClientProtocol)

    async def test_the_ke_reports_a_version(self, contract_client: ClientProtocol) -> None:
        version = await contract_client.get_version()
        assert isinstance(version, str)
        assert version
        assert await contract_client.ke_is_available()

    async def test_a_registered_kb_can_be_found_and_deleted(
        self, contract_client: ClientProtocol
    ) -> None:
        assert await contract_client.get_kb(KB_ID) is None
        await contract_client.register_kb(kb_info())
        found = await contract_client.get_kb(KB_ID)
        assert found is not None
        assert found.knowledge_base_id == KB_ID
        assert found.knowledge_base_name == "contract"
        assert found.knowledge_base_description == "A KB that checks a client"
        assert KB_ID in {kb.knowledge_base_id for kb in await contract_client.list_kbs()}
        await contract_client.unregister_kb(KB_ID)
        assert await contract_client.get_kb(KB_ID) is None
        with pytest.raises(SmartConnectorNotFoundError):
            await contract_client.unregister_kb(KB_ID)

    async def test_a_kb_id_in_use_is_refused_unless_reregistering(
        self, contract_client: ClientProtocol
    ) -> None:
        await contract_client.register_kb(kb_info())
        with pytest.raises(KnowledgeEngineResponseError) as caught:
            await contract_client.register_kb(kb_info())
        assert caught.value.status_code == 400
        assert "already in use" in caught.value.message
        await contract_client.register_kb(kb_info(), reregister=True)
        assert await contract_client.get_kb(KB_ID) is not None

    async def test_interactions_are_registered_listed_and_removed(
        self, contract_client: ClientProtocol
    ) -> None:
        await contract_client.register_kb(kb_info())
        ki_id = await contract_client.register_ki(KB_ID, answer_ki())
        assert ki_id == f"{KB_ID}/interaction/heights"
        [listed] = await contract_client.list_kis(KB_ID)
        assert listed.knowledge_interaction_id == ki_id
        assert listed.knowledge_interaction_type is KnowledgeInteractionType.ANSWER
        assert listed.knowledge_interaction_name == "heights"
        with pytest.raises(KnowledgeEngineResponseError) as caught:
            await contract_client.register_ki(KB_ID, answer_ki())
        assert caught.value.status_code == 400
        await contract_client.unregister_ki(KB_ID, ki_id)
        assert await contract_client.list_kis(KB_ID) == []
        with pytest.raises(SmartConnectorNotFoundError):
            await contract_client.unregister_ki(KB_ID, ki_id)

    async def test_calls_for_an_unknown_kb_are_404(self, contract_client: ClientProtocol) -> None:
        with pytest.raises(SmartConnectorNotFoundError) as caught:
            await contract_client.register_ki("http://example.org/kb/nobody", answer_ki())
        assert caught.value.status_code == 404
        with pytest.raises(SmartConnectorNotFoundError):
            await contract_client.poll_ki_call("http://example.org/kb/nobody")

    async def test_a_handle_request_is_polled_and_answered_once(
        self, contract_client: ClientProtocol, harness: Harness
    ) -> None:
        await contract_client.register_kb(kb_info())
        ki_id = await contract_client.register_ki(KB_ID, answer_ki())
        await harness.deliver(contract_client, KB_ID, "heights", [{"tree": OAK}])
        result, request = await asyncio.wait_for(contract_client.poll_ki_call(KB_ID), 10)
        assert result is PollResult.HANDLE
        assert request is not None
        assert request.knowledge_interaction_id == ki_id
        assert request.handle_request_id >= 1
        assert request.requesting_knowledge_base_id
        answer = HandleResponse(
            handle_request_id=request.handle_request_id,
            binding_set=[{"tree": OAK, "height": '"21"'}],
        )
        await contract_client.post_handle_response(KB_ID, ki_id, answer)
        with pytest.raises(KnowledgeEngineResponseError) as caught:
            await contract_client.post_handle_response(KB_ID, ki_id, answer)
        assert caught.value.status_code == 404

    async def test_a_second_concurrent_poll_is_refused_with_409(
        self, contract_client: ClientProtocol, harness: Harness
    ) -> None:
        await contract_client.register_kb(kb_info())
        await contract_client.register_ki(KB_ID, answer_ki())
        first = asyncio.create_task(contract_client.poll_ki_call(KB_ID))
        await let_the_loop_run()
        with pytest.raises(PollConflictError) as caught:
            await contract_client.poll_ki_call(KB_ID)
        assert caught.value.status_code == 409
        # The first poll is unharmed: it still receives the next request.
        await harness.deliver(contract_client, KB_ID, "heights", [{"tree": OAK}])
        result, request = await asyncio.wait_for(first, 10)
        assert result is PollResult.HANDLE
        assert request is not None

    async def test_deleting_the_kb_ends_its_open_poll(
        self, contract_client: ClientProtocol
    ) -> None:
        await contract_client.register_kb(kb_info())
        await contract_client.register_ki(KB_ID, answer_ki())
        poll = asyncio.create_task(contract_client.poll_ki_call(KB_ID))
        await let_the_loop_run()
        await contract_client.unregister_kb(KB_ID)
        assert await asyncio.wait_for(poll, 10) == (PollResult.EXIT, None)
        with pytest.raises(SmartConnectorNotFoundError):
            await contract_client.poll_ki_call(KB_ID)

    async def test_asking_needs_an_ask_interaction_of_the_kb(
        self, contract_client: ClientProtocol
    ) -> None:
        await contract_client.register_kb(kb_info())
        answer_id = await contract_client.register_ki(KB_ID, answer_ki())
        ask_id = await contract_client.register_ki(KB_ID, ask_ki())
        result = await contract_client.ask(KB_ID, ask_id, [])
        assert isinstance(result.binding_set, list)
        assert isinstance(result.exchange_info, list)
        with pytest.raises(KnowledgeEngineResponseError) as wrong_kind:
            await contract_client.ask(KB_ID, answer_id, [])
        assert wrong_kind.value.status_code == 400
        with pytest.raises(SmartConnectorNotFoundError):
            await contract_client.ask(KB_ID, f"{KB_ID}/interaction/nothing", [])

    async def test_leases_are_renewed_only_when_there_is_one(
        self, contract_client: ClientProtocol
    ) -> None:
        await contract_client.register_kb(kb_info(lease=60))
        lease = await contract_client.renew_lease(KB_ID)
        assert lease.knowledge_base_id == KB_ID
        await contract_client.register_kb(kb_info(), reregister=True)
        with pytest.raises(SmartConnectorNotFoundError):
            await contract_client.renew_lease(KB_ID)

    async def test_domain_knowledge_is_accepted(self, contract_client: ClientProtocol) -> None:
        await contract_client.register_kb(kb_info())
        await contract_client.upload_domain_knowledge(
            KB_ID, "-> (<http://example.org/a> <http://example.org/b> <http://example.org/c>) ."
        )

    async def test_a_closed_client_refuses_calls(self, contract_client: ClientProtocol) -> None:
        await contract_client.close()
        await contract_client.close()  # twice is harmless
        assert not await contract_client.ke_is_available()
        with pytest.raises(ClientClosedError):
            await contract_client.list_kbs()
