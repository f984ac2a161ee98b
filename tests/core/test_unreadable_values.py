"""Binding values the Knowledge Engine cannot read never leave the KB.

KE 1.5.0 answers an unreadable value (``bare words``, an unterminated literal, an IRI holding a
space) with a 500 and an HTML page, after it has already failed the exchange. So the KB checks
what it sends: an ask or post raises, a handler's answer is a failed handler. What the KE does
read (prefixed names, relative IRIs, blank nodes) goes out as it is.
"""

from __future__ import annotations

import logging

import pytest

from km_core import BindingSet, BindingValidationError, ErrorPolicy, KnowledgeBase
from km_testing import TestClient
from tests.support import EX, KB_ID, OAK

PATTERN = "?tree ex:height ?height ."
UNREADABLE = ["bare words", '"unterminated', "<http://example.org/a b>", '"x"@', "TRUE", "NaN"]
READABLE = ["rdf:type", "ex:oak", ":oak", "<oak>", "_:b1", '"21"^^xsd:integer', '"a"@en-gb']


@pytest.mark.parametrize("value", UNREADABLE)
async def test_an_ask_with_an_unreadable_value_raises_and_sends_nothing(
    kb: KnowledgeBase, client: TestClient, value: str
) -> None:
    kb.ask_ki("heights", PATTERN, prefixes=EX)
    await kb.register()
    with pytest.raises(BindingValidationError) as raised:
        await kb.ask("heights", [{"tree": OAK, "height": value}])
    message = str(raised.value)
    assert "'height'" in message
    assert "cannot read" in message
    assert "<http://example.org/oak>" in message  # says how an IRI is written
    assert client.outgoing_calls == []


@pytest.mark.parametrize("value", READABLE)
async def test_what_the_ke_reads_is_sent_as_it_is(
    kb: KnowledgeBase, client: TestClient, value: str
) -> None:
    kb.post_ki("heights", PATTERN, prefixes=EX)
    await kb.register()
    await kb.post("heights", [{"tree": OAK, "height": value}])
    [posted] = client.posts
    assert posted.binding_set == [{"tree": OAK, "height": value}]


@pytest.mark.parametrize(
    ("policy", "answer"),
    [
        (ErrorPolicy.EMPTY_BINDING_SET, {"binding_set": [], "error_message": None}),
        (
            ErrorPolicy.ERROR_MESSAGE,
            {"binding_set": None, "error_message": "the handler of 'heights' failed"},
        ),
    ],
)
async def test_a_handler_that_answers_an_unreadable_value_is_a_failed_handler(
    client: TestClient,
    caplog: pytest.LogCaptureFixture,
    policy: ErrorPolicy,
    answer: dict[str, object],
) -> None:
    kb = KnowledgeBase(id=KB_ID, name="t", description="", client=client, error_policy=policy)

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        return [{"tree": OAK, "height": "twenty one"}]

    await kb.register()
    request = client.enqueue_handle_request("heights", [{"tree": OAK}])
    client.enqueue_exit()
    with caplog.at_level(logging.ERROR, logger="km_core"):
        await kb.start_handling_loop()
    response = await client.wait_for_handle_response(request)
    assert response.binding_set == answer["binding_set"]
    expected_message = answer["error_message"]
    if expected_message is None:
        assert response.error_message is None
    else:
        assert response.error_message is not None
        assert response.error_message.startswith(str(expected_message))
    # Exactly one response: nothing was retried.
    assert [r.handle_request_id for r in client.handle_responses] == [request]
    logged = "\n".join(r.getMessage() + str(r.exc_info and r.exc_info[1]) for r in caplog.records)
    assert "'height'" in logged
    assert "'twenty one'" in logged
