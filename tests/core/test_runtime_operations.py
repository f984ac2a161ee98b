"""What a registered KB can do at run time: drop an interaction, renew its lease, upload rules."""

from __future__ import annotations

import pytest

from km_core import BindingSet, ConfigurationError, KnowledgeBase, UnknownKnowledgeInteractionError
from km_testing import TestClient
from tests.support import EX, KB_ID, OAK


async def test_registration_carries_the_lease_and_reasoner_level(client: TestClient) -> None:
    kb = KnowledgeBase(
        id=KB_ID,
        name="leased",
        description="",
        client=client,
        lease_renewal_time=60,
        reasoner_level=3,
    )
    await kb.register()
    assert client.registered_kb is not None
    assert client.registered_kb.lease_renewal_time == 60
    assert client.registered_kb.reasoner_level == 3
    lease = await kb.renew_lease()
    assert lease.knowledge_base_id == KB_ID
    assert client.lease_renewals == 1


async def test_renewing_needs_a_lease_and_a_registration(kb: KnowledgeBase) -> None:
    with pytest.raises(ConfigurationError, match="without a lease"):
        await kb.renew_lease()
    leased = KnowledgeBase(
        id=KB_ID, name="l", description="", client=TestClient(), lease_renewal_time=60
    )
    with pytest.raises(RuntimeError, match="not registered"):
        await leased.renew_lease()


async def test_domain_knowledge_is_uploaded(kb: KnowledgeBase, client: TestClient) -> None:
    rules = "-> (<http://example.org/a> <http://example.org/b> <http://example.org/c>) ."
    with pytest.raises(RuntimeError, match="not registered"):
        await kb.upload_domain_knowledge(rules)
    await kb.register()
    await kb.upload_domain_knowledge(rules)
    assert client.domain_knowledge == rules


async def test_an_interaction_is_unregistered_at_run_time(
    kb: KnowledgeBase, client: TestClient
) -> None:
    @kb.answer_ki("heights", "?t ex:height ?h .", prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        return [{"t": OAK, "h": '"1"'}]

    kb.ask_ki("neighbours", "?a ex:near ?b .", prefixes=EX)
    await kb.register()
    await kb.unregister_ki("heights")
    assert sorted(client.registered_kis) == [f"{KB_ID}/interaction/neighbours"]
    assert "heights" not in kb.knowledge_interactions
    with pytest.raises(UnknownKnowledgeInteractionError):
        await kb.unregister_ki("heights")
    # A request for it that was already on its way is still answered, with nothing.
    request = client.enqueue_handle_request(f"{KB_ID}/interaction/heights", [{"t": OAK}])
    client.enqueue_exit()
    await kb.start_handling_loop()
    assert client.last_handle_response is not None
    assert client.last_handle_response.handle_request_id == request
    assert client.last_handle_response.binding_set == []


async def test_an_unregistered_kb_can_drop_a_declaration(kb: KnowledgeBase) -> None:
    neighbours = kb.ask_ki("neighbours", "?a ex:near ?b .", prefixes=EX)
    await kb.unregister_ki(neighbours)
    assert kb.knowledge_interactions == {}
