"""The TestClient: a blocking queue-based poll, the 409 rule, mocks and records (stories 13, 14)."""

from __future__ import annotations

import asyncio

import pytest

from km_core import (
    ClientProtocol,
    ConfigurationError,
    HandleResponse,
    KnowledgeBaseInfo,
    KnowledgeEngineResponseError,
    KnowledgeEngineUnavailableError,
    KnowledgeInteractionRegistration,
    KnowledgeInteractionType,
    PollConflictError,
    PollResult,
    SmartConnectorNotFoundError,
)
from km_testing import TestClient
from tests.support import KB_ID, OAK, let_the_loop_run

KB = KnowledgeBaseInfo(
    knowledge_base_id=KB_ID, knowledge_base_name="test", knowledge_base_description=""
)
ANSWER_KI = KnowledgeInteractionRegistration(
    knowledge_interaction_type=KnowledgeInteractionType.ANSWER,
    knowledge_interaction_name="heights",
    graph_pattern="?t <http://example.org/height> ?h .",
)
ASK_KI = KnowledgeInteractionRegistration(
    knowledge_interaction_type=KnowledgeInteractionType.ASK,
    knowledge_interaction_name="neighbours",
    graph_pattern="?a <http://example.org/near> ?b .",
)


@pytest.fixture
async def registered(client: TestClient) -> TestClient:
    await client.register_kb(KB)
    await client.register_ki(KB_ID, ANSWER_KI)
    await client.register_ki(KB_ID, ASK_KI)
    return client


def test_it_implements_the_client_protocol(client: TestClient) -> None:
    assert isinstance(client, ClientProtocol)


async def test_the_poll_blocks_until_something_is_enqueued(registered: TestClient) -> None:
    poll = asyncio.create_task(registered.poll_ki_call(KB_ID))
    await let_the_loop_run()
    assert not poll.done()
    request_id = registered.enqueue_handle_request(
        "heights", [{"t": OAK}], requesting_kb_id="http://example.org/kb/asker"
    )
    result, request = await asyncio.wait_for(poll, timeout=5)
    assert result is PollResult.HANDLE
    assert request is not None
    assert request.handle_request_id == request_id
    assert request.knowledge_interaction_id == f"{KB_ID}/interaction/heights"
    assert request.binding_set == [{"t": OAK}]
    assert request.requesting_knowledge_base_id == "http://example.org/kb/asker"


async def test_requests_come_out_in_order_with_ids_one_two_three(registered: TestClient) -> None:
    ids = [registered.enqueue_handle_request("heights", [{"t": f"<urn:{i}>"}]) for i in range(3)]
    assert ids == [1, 2, 3]
    seen = []
    for _ in ids:
        _, request = await registered.poll_ki_call(KB_ID)
        assert request is not None
        seen.append((request.handle_request_id, request.binding_set[0]["t"]))
    assert seen == [(1, "<urn:0>"), (2, "<urn:1>"), (3, "<urn:2>")]


async def test_a_second_concurrent_poll_is_a_409(registered: TestClient) -> None:
    first = asyncio.create_task(registered.poll_ki_call(KB_ID))
    await let_the_loop_run()
    with pytest.raises(PollConflictError) as caught:
        await registered.poll_ki_call(KB_ID)
    assert caught.value.status_code == 409
    assert caught.value.kb_id == KB_ID
    assert "Only one connection per Knowledge-Base-Id" in str(caught.value)
    # The first poll is unharmed and still gets the next request.
    registered.enqueue_exit()
    assert await asyncio.wait_for(first, timeout=5) == (PollResult.EXIT, None)
    # Once it returned, polling again is fine.
    registered.enqueue_repoll()
    assert await registered.poll_ki_call(KB_ID) == (PollResult.REPOLL, None)


async def test_helpers_work_before_registration(client: TestClient) -> None:
    request_id = client.enqueue_handle_request("heights", [])
    client.enqueue_exit()
    await client.register_kb(KB)
    await client.register_ki(KB_ID, ANSWER_KI)
    result, request = await client.poll_ki_call(KB_ID)
    assert result is PollResult.HANDLE
    assert request is not None
    assert request.handle_request_id == request_id
    assert await client.poll_ki_call(KB_ID) == (PollResult.EXIT, None)


async def test_a_request_names_the_interaction_registered_when_it_is_polled(
    registered: TestClient,
) -> None:
    """Queued while one KB had the interaction, polled after another KB registered it."""
    request_id = registered.enqueue_handle_request("heights", [{"t": OAK}])
    await registered.unregister_kb(KB_ID)
    other = "http://example.org/kb/other"
    await registered.register_kb(KB.model_copy(update={"knowledge_base_id": other}))
    await registered.register_ki(other, ANSWER_KI)
    result, request = await registered.poll_ki_call(other)
    assert result is PollResult.HANDLE
    assert request is not None
    assert request.handle_request_id == request_id
    assert request.knowledge_interaction_id == f"{other}/interaction/heights"
    assert request.binding_set == [{"t": OAK}]


async def test_deleting_the_kb_ends_an_open_poll_and_later_polls_are_404(
    registered: TestClient,
) -> None:
    poll = asyncio.create_task(registered.poll_ki_call(KB_ID))
    await let_the_loop_run()
    await registered.unregister_kb(KB_ID)
    assert await asyncio.wait_for(poll, timeout=5) == (PollResult.EXIT, None)
    with pytest.raises(SmartConnectorNotFoundError) as caught:
        await registered.poll_ki_call(KB_ID)
    assert caught.value.status_code == 404


async def test_responses_are_recorded_once_per_request(registered: TestClient) -> None:
    request_id = registered.enqueue_handle_request("heights", [{"t": OAK}])
    _, request = await registered.poll_ki_call(KB_ID)
    assert request is not None
    waiter = asyncio.create_task(registered.wait_for_handle_response(request_id))
    await let_the_loop_run()
    assert not waiter.done()
    await registered.post_handle_response(
        KB_ID,
        request.knowledge_interaction_id,
        HandleResponse(handle_request_id=request_id, binding_set=[{"t": OAK, "h": '"1"'}]),
    )
    recorded = await asyncio.wait_for(waiter, timeout=5)
    assert recorded == registered.last_handle_response
    assert recorded.handle_request_id == request_id
    assert recorded.knowledge_interaction_id == f"{KB_ID}/interaction/heights"
    assert recorded.binding_set == [{"t": OAK, "h": '"1"'}]
    assert recorded.error_message is None
    with pytest.raises(KnowledgeEngineResponseError, match="not found") as caught:
        await registered.post_handle_response(
            KB_ID,
            request.knowledge_interaction_id,
            HandleResponse(handle_request_id=request_id, binding_set=[]),
        )
    assert caught.value.status_code == 404
    assert len(registered.handle_responses) == 1


def test_a_handle_response_has_exactly_one_answer() -> None:
    with pytest.raises(ValueError, match="either a binding_set or an error_message"):
        HandleResponse(handle_request_id=1)
    with pytest.raises(ValueError, match="either a binding_set or an error_message"):
        HandleResponse(handle_request_id=1, binding_set=[], error_message="both")


async def test_error_message_responses_are_recorded(registered: TestClient) -> None:
    request_id = registered.enqueue_handle_request("heights", [])
    await registered.poll_ki_call(KB_ID)
    await registered.post_handle_response(
        KB_ID,
        f"{KB_ID}/interaction/heights",
        HandleResponse(handle_request_id=request_id, error_message="database down"),
    )
    assert registered.last_handle_response is not None
    assert registered.last_handle_response.error_message == "database down"
    assert registered.last_handle_response.binding_set is None


async def test_mocked_results_answer_every_later_ask(registered: TestClient) -> None:
    ki_id = f"{KB_ID}/interaction/neighbours"
    assert (await registered.ask(KB_ID, ki_id, [])).binding_set == []
    registered.mock_result_binding_set("neighbours", [{"a": OAK, "b": OAK}])
    for _ in range(2):
        result = await registered.ask(KB_ID, ki_id, [{"a": OAK}], recipients=["urn:x"])
        assert result.binding_set == [{"a": OAK, "b": OAK}]
    assert [c.binding_set for c in registered.asks] == [[], [{"a": OAK}], [{"a": OAK}]]
    assert registered.asks[1].recipients == ["urn:x"]
    assert registered.asks[1].knowledge_interaction_name == "neighbours"


async def test_asking_through_the_wrong_kind_of_interaction_is_a_400(
    registered: TestClient,
) -> None:
    with pytest.raises(KnowledgeEngineResponseError, match="AskKnowledgeInteraction") as caught:
        await registered.ask(KB_ID, f"{KB_ID}/interaction/heights", [])
    assert caught.value.status_code == 400
    with pytest.raises(SmartConnectorNotFoundError):
        await registered.ask(KB_ID, f"{KB_ID}/interaction/nope", [])


async def test_registration_rules_follow_the_ke(client: TestClient) -> None:
    await client.register_kb(KB)
    with pytest.raises(KnowledgeEngineResponseError, match="already in use"):
        await client.register_kb(KB)
    await client.register_kb(KB, reregister=True)
    ki_id = await client.register_ki(KB_ID, ANSWER_KI)
    assert ki_id == f"{KB_ID}/interaction/heights"
    with pytest.raises(KnowledgeEngineResponseError, match="should not be already registered"):
        await client.register_ki(KB_ID, ANSWER_KI)
    assert [k.knowledge_interaction_id for k in await client.list_kis(KB_ID)] == [ki_id]
    await client.unregister_ki(KB_ID, ki_id)
    assert await client.list_kis(KB_ID) == []
    with pytest.raises(ConfigurationError, match="another TestClient"):
        await client.register_kb(KB.model_copy(update={"knowledge_base_id": "urn:other"}))


async def test_lease_renewals_are_counted(client: TestClient) -> None:
    with_lease = KB.model_copy(update={"lease_renewal_time": 60})
    await client.register_kb(with_lease)
    lease = await client.renew_lease(KB_ID)
    assert lease.knowledge_base_id == KB_ID
    assert client.lease_renewals == 1


async def test_faults_can_be_injected(registered: TestClient) -> None:
    registered.fail_next("ask", times=2)
    ki_id = f"{KB_ID}/interaction/neighbours"
    for _ in range(2):
        with pytest.raises(KnowledgeEngineUnavailableError, match="fault injected"):
            await registered.ask(KB_ID, ki_id, [])
    assert (await registered.ask(KB_ID, ki_id, [])).binding_set == []
    with pytest.raises(ConfigurationError, match="cannot inject"):
        registered.fail_next("no_such_method")


async def test_a_closed_client_refuses_calls(registered: TestClient) -> None:
    await registered.close()
    assert not await registered.ke_is_available()
    with pytest.raises(RuntimeError, match="after close"):
        await registered.poll_ki_call(KB_ID)
