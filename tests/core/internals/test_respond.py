"""Tests of `km_core._handling._respond`: the `Responder`, which posts responses to the KE."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from km_core import (
    Backoff,
    BindingSet,
    HandleRequest,
    HandleResponse,
    KnowledgeEngineResponseError,
    KnowledgeEngineServerError,
    SmartConnectorNotFoundError,
)
from km_core._declarations import Registry
from km_core._handling._respond import Responder
from km_testing import TestClient
from tests.core.internals.hosts import ANSWER, Host, answer, registry_of
from tests.support import KB_ID


class CountingClient(TestClient):
    """A TestClient that records every attempt to post a response, failed or not."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts: list[str] = []  # the interaction id each attempt named

    async def post_handle_response(self, kb_id: str, ki_id: str, response: HandleResponse) -> None:
        self.attempts.append(ki_id)
        await super().post_handle_response(kb_id, ki_id, response)


async def heights(binding_set: BindingSet) -> BindingSet:
    return ANSWER


async def setup(**host_options: Any) -> tuple[Responder, CountingClient, Registry]:
    """A responder for a KB registered on a CountingClient with one interaction, 'heights'."""
    client = CountingClient()
    host = Host(client, **host_options)
    ki = answer("heights", heights)
    registry = registry_of(ki)
    await client.register_kb(host.info())
    registry.registered(ki, await client.register_ki(KB_ID, ki.registration()))
    return Responder(host, registry), client, registry


async def polled(client: TestClient, ki_name: str = "heights") -> HandleRequest:
    """A request as the KE hands it out: enqueued, then polled."""
    client.enqueue_handle_request(ki_name, [])
    _, request = await client.poll_ki_call(KB_ID)
    assert request is not None
    return request


def answered(request: HandleRequest) -> HandleResponse:
    return HandleResponse(handle_request_id=request.handle_request_id, binding_set=ANSWER)


def dropped(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "dropping it" in r.getMessage()]


async def test_a_response_is_posted_once() -> None:
    responder, client, _ = await setup()
    request = await polled(client)
    assert await responder.respond(request, answered(request)) is True
    assert client.attempts == [f"{KB_ID}/interaction/heights"]
    [record] = client.handle_responses
    assert record.handle_request_id == request.handle_request_id
    assert record.binding_set == ANSWER


async def test_a_transient_error_is_tried_again_until_the_response_is_posted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    responder, client, _ = await setup()
    request = await polled(client)
    client.fail_next("post_handle_response", times=3)  # the KE is away for three attempts
    with caplog.at_level(logging.INFO, logger="km_core"):
        assert await responder.respond(request, answered(request)) is True
    assert len(client.attempts) == 4
    assert [r.handle_request_id for r in client.handle_responses] == [request.handle_request_id]
    assert any(
        f"posted the response to handle request {request.handle_request_id} after 3 failed "
        "attempts" in r.getMessage()
        for r in caplog.records
    )
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # one line for the KE being away, not one per attempt
    assert "posting responses failed" in warnings[0].getMessage()


async def test_a_transient_error_is_tried_again_until_the_retry_period_then_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    responder, client, _ = await setup(response_retry_period=0.05)
    request = await polled(client)
    client.fail_next("post_handle_response", KnowledgeEngineServerError("busy"), times=100_000)
    with caplog.at_level(logging.ERROR, logger="km_core"):
        assert await responder.respond(request, answered(request)) is False
    assert len(client.attempts) > 1  # tried again while the period lasted
    assert client.handle_responses == []
    [record] = dropped(caplog)
    assert record.levelno == logging.ERROR
    message = record.getMessage()
    assert f"knowledge base {KB_ID}" in message
    assert f"handle request {request.handle_request_id}" in message
    assert request.requesting_knowledge_base_id is not None
    assert request.requesting_knowledge_base_id in message
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], KnowledgeEngineServerError)


async def test_a_transient_error_whose_backoff_outlasts_the_retry_period_drops_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    responder, client, _ = await setup(
        response_retry_period=1, poll_backoff=Backoff(initial=5, maximum=5, jitter=0)
    )
    request = await polled(client)
    client.fail_next("post_handle_response", KnowledgeEngineServerError("busy"))
    with caplog.at_level(logging.ERROR, logger="km_core"):
        assert await responder.respond(request, answered(request)) is False
    assert len(client.attempts) == 1  # the next try would come after the period: none
    assert len(dropped(caplog)) == 1


@pytest.mark.parametrize(
    "error",
    [
        SmartConnectorNotFoundError("Handle request gone"),
        KnowledgeEngineResponseError("Bad Request", status_code=400),
        ValueError("the client could not encode it"),
    ],
    ids=["404", "400", "not from the KE"],
)
async def test_an_error_that_is_not_transient_drops_the_response_at_once(
    caplog: pytest.LogCaptureFixture, error: Exception
) -> None:
    responder, client, _ = await setup()
    request = await polled(client)
    client.fail_next("post_handle_response", error)
    with caplog.at_level(logging.ERROR, logger="km_core"):
        assert await responder.respond(request, answered(request)) is False
    assert len(client.attempts) == 1
    [record] = dropped(caplog)
    assert f"handle request {request.handle_request_id}" in record.getMessage()
    assert KB_ID in record.getMessage()
    assert record.exc_info is not None
    assert record.exc_info[1] is error


async def test_a_request_for_an_unknown_interaction_is_answered_naming_one_of_ours() -> None:
    responder, client, _ = await setup()
    request = await polled(client, "no-such-ki")
    assert request.knowledge_interaction_id == f"{KB_ID}/interaction/no-such-ki"
    response = HandleResponse(handle_request_id=request.handle_request_id, binding_set=[])
    assert await responder.respond(request, response) is True
    # The header names an interaction the KE knows; the KE finds the request by its id.
    assert client.attempts == [f"{KB_ID}/interaction/heights"]
    assert client.handle_responses[0].knowledge_interaction_id == request.knowledge_interaction_id
