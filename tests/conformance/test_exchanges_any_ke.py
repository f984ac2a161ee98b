"""What an answering KB receives and what the asker gets back, on any Knowledge Engine.

Run against the served local engine always, and against the KE at ``KM_TEST_KE_URL`` when it
is set (see test_contract_any_ke.py): the two must agree, request for request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from km_core import (
    ExchangeStatus,
    HandleResponse,
    KnowledgeInteractionRegistration,
    KnowledgeInteractionType,
    PollResult,
)
from km_httpx import HttpxClient
from tests.conformance.rest import delete_kbs, kb, ki
from tests.conformance.test_contract_any_ke import ke_url  # noqa: F401 - a fixture

pytestmark = pytest.mark.ke

ANSWERER = "http://example.org/kb/conformance-answerer"
ASKER = "http://example.org/kb/conformance-asker"
ASKED = "?tree <http://example.org/height> ?height ."
ANSWERED = "?t <http://example.org/height> ?h ."  # the same triple, other variable names
OAK = "<http://example.org/oak>"
BEECH = "<http://example.org/beech>"


@pytest.fixture
async def client(ke_url: str) -> AsyncIterator[HttpxClient]:  # noqa: F811 - the fixture
    await delete_kbs(ke_url, ANSWERER, ASKER)
    async with HttpxClient(ke_url) as client:
        try:
            yield client
        finally:
            await delete_kbs(ke_url, ANSWERER, ASKER)


async def answer_and_ask(client: HttpxClient) -> tuple[str, str]:
    """Register an ANSWER on ``ANSWERED`` and an ASK on ``ASKED``; return their ids."""
    await client.register_kb(kb(ANSWERER))
    answer_id = await client.register_ki(
        ANSWERER, ki(KnowledgeInteractionType.ANSWER, "heights", ANSWERED)
    )
    await client.register_kb(kb(ASKER))
    ask_id = await client.register_ki(
        ASKER, ki(KnowledgeInteractionType.ASK, "heights-asked", ASKED)
    )
    return answer_id, ask_id


@pytest.mark.parametrize(
    ("asked", "received"),
    [
        pytest.param([], [{}], id="nothing-bound"),
        pytest.param([{}], [{}], id="one-empty-binding"),
        pytest.param([{"tree": OAK}], [{"t": OAK}], id="a-tree-renamed"),
    ],
)
async def test_an_ask_reaches_the_answering_kb_with_its_bindings_renamed(
    client: HttpxClient, asked: list[dict[str, str]], received: list[dict[str, str]]
) -> None:
    answer_id, ask_id = await answer_and_ask(client)
    asking = asyncio.create_task(client.ask(ASKER, ask_id, asked))
    try:
        result, request = await asyncio.wait_for(client.poll_ki_call(ANSWERER), 15)
        assert result is PollResult.HANDLE
        assert request is not None
        assert request.knowledge_interaction_id == answer_id
        assert request.requesting_knowledge_base_id == ASKER
        assert request.binding_set == received
        heights = [{"t": OAK, "h": '"21"'}, {"t": BEECH, "h": '"30"'}]
        wanted = {binding["t"] for binding in request.binding_set if "t" in binding}
        # A well-behaved answerer answers what was asked: the KE refuses answers that do not
        # fit the bindings it sent.
        answers = [h for h in heights if not wanted or h["t"] in wanted]
        await client.post_handle_response(
            ANSWERER,
            answer_id,
            HandleResponse(handle_request_id=request.handle_request_id, binding_set=answers),
        )
        answer = await asyncio.wait_for(asking, 15)
    finally:
        asking.cancel()
    expected = [{"tree": OAK, "height": '"21"'}, {"tree": BEECH, "height": '"30"'}]
    if asked and asked[0]:
        expected = expected[:1]
    assert sorted(answer.binding_set, key=str) == sorted(expected, key=str)
    [info] = answer.exchange_info
    assert info.knowledge_base_id == ANSWERER
    assert info.status is ExchangeStatus.SUCCEEDED


async def test_interactions_are_listed_with_their_patterns_in_full_and_no_prefixes(
    client: HttpxClient,
) -> None:
    await client.register_kb(kb(ANSWERER))
    await client.register_ki(
        ANSWERER,
        KnowledgeInteractionRegistration(
            knowledge_interaction_type=KnowledgeInteractionType.ANSWER,
            knowledge_interaction_name="heights",
            graph_pattern="?t ex:height ?h .",
            prefixes={"ex": "http://example.org/"},
        ),
    )
    [listed] = await client.list_kis(ANSWERER)
    assert listed.prefixes == {}
    assert listed.graph_pattern is not None
    assert "<http://example.org/height>" in listed.graph_pattern


POSTED = "?s <http://example.org/temperature> ?c ."
REACTED = "?x <http://example.org/temperature> ?y ."
ROOM = "<http://example.org/room>"


async def react_and_post(client: HttpxClient) -> tuple[str, str]:
    """Register a REACT on ``REACTED`` and a POST on ``POSTED``; return their ids."""
    await client.register_kb(kb(ANSWERER))
    react_id = await client.register_ki(
        ANSWERER,
        KnowledgeInteractionRegistration(
            knowledge_interaction_type=KnowledgeInteractionType.REACT,
            knowledge_interaction_name="temperatures",
            argument_graph_pattern=REACTED,
        ),
    )
    await client.register_kb(kb(ASKER))
    post_id = await client.register_ki(
        ASKER,
        KnowledgeInteractionRegistration(
            knowledge_interaction_type=KnowledgeInteractionType.POST,
            knowledge_interaction_name="temperatures-posted",
            argument_graph_pattern=POSTED,
        ),
    )
    return react_id, post_id


@pytest.mark.parametrize(
    "posted",
    [
        pytest.param([], id="nothing-bound"),
        pytest.param([{}], id="one-empty-binding"),
        pytest.param([{"s": ROOM}], id="a-variable-left-out"),
    ],
)
async def test_a_post_that_binds_no_whole_fact_contacts_no_react(
    client: HttpxClient, posted: list[dict[str, str]]
) -> None:
    _, post_id = await react_and_post(client)
    result = await asyncio.wait_for(client.post(ASKER, post_id, posted), 15)
    assert result.exchange_info == []
    assert result.result_binding_set == []


async def test_a_post_of_a_whole_fact_reaches_the_react_renamed(client: HttpxClient) -> None:
    react_id, post_id = await react_and_post(client)
    posting = asyncio.create_task(client.post(ASKER, post_id, [{"s": ROOM, "c": '"21"'}]))
    try:
        result, request = await asyncio.wait_for(client.poll_ki_call(ANSWERER), 15)
        assert result is PollResult.HANDLE
        assert request is not None
        assert request.knowledge_interaction_id == react_id
        assert request.binding_set == [{"x": ROOM, "y": '"21"'}]
        await client.post_handle_response(
            ANSWERER,
            react_id,
            HandleResponse(handle_request_id=request.handle_request_id, binding_set=[]),
        )
        posted = await asyncio.wait_for(posting, 15)
    finally:
        posting.cancel()
    [info] = posted.exchange_info
    assert info.knowledge_base_id == ANSWERER
    assert info.status is ExchangeStatus.SUCCEEDED


async def test_an_answer_fits_what_was_asked_by_value_not_by_spelling(
    client: HttpxClient,
) -> None:
    answer_id, ask_id = await answer_and_ask(client)
    asking = asyncio.create_task(client.ask(ASKER, ask_id, [{"height": "21"}]))
    integer = "<http://www.w3.org/2001/XMLSchema#integer>"
    decimal = "<http://www.w3.org/2001/XMLSchema#decimal>"
    answers = [{"t": OAK, "h": f'"21.0"^^{decimal}'}, {"t": BEECH, "h": f'"021"^^{integer}'}]
    try:
        result, request = await asyncio.wait_for(client.poll_ki_call(ANSWERER), 15)
        assert result is PollResult.HANDLE
        assert request is not None
        assert request.binding_set == [{"h": f'"21"^^{integer}'}]
        await client.post_handle_response(
            ANSWERER,
            answer_id,
            HandleResponse(handle_request_id=request.handle_request_id, binding_set=answers),
        )
        answer = await asyncio.wait_for(asking, 15)
    finally:
        asking.cancel()
    [info] = answer.exchange_info
    assert info.status is ExchangeStatus.SUCCEEDED, info.failed_message
    assert sorted(answer.binding_set, key=str) == sorted(
        [
            {"tree": OAK, "height": f'"21.0"^^{decimal}'},
            {"tree": BEECH, "height": f'"021"^^{integer}'},
        ],
        key=str,
    )
