"""Binding values and registration errors, byte for byte, on any Knowledge Engine.

How the engine reads a binding value and writes it back (prefixed names, relative IRIs,
language tags, blank nodes), how it prints a binding in a failed exchange's message, and the
texts of its bean validation, checked over raw HTTP against the served local engine and the KE
at ``KM_TEST_KE_URL`` (see test_contract_any_ke.py).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conformance.test_contract_any_ke import ke_url  # noqa: F401 - a fixture

pytestmark = pytest.mark.ke

STEP = 15.0
PATTERN = "?t <http://example.org/height> ?h ."
XSD = "http://www.w3.org/2001/XMLSchema#"
OAK = "<http://example.org/oak>"


class Pair:
    """An asking and an answering KB of this test's own, over raw HTTP."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        tag = uuid.uuid4().hex[:10]
        self.http = http
        self.asker = f"http://example.org/kb/{tag}/asker"
        self.answerer = f"http://example.org/kb/{tag}/answerer"
        self.ask_id = self.answer_id = ""

    async def register(self) -> None:
        for kb_id in (self.asker, self.answerer):
            body = {
                "knowledgeBaseId": kb_id,
                "knowledgeBaseName": "v",
                "knowledgeBaseDescription": "",
            }
            assert (await self.http.post("/sc", json=body)).status_code == 200
        self.ask_id = await self.register_ki(self.asker, "AskKnowledgeInteraction")
        self.answer_id = await self.register_ki(self.answerer, "AnswerKnowledgeInteraction")

    async def register_ki(self, kb_id: str, kind: str) -> str:
        body = {"knowledgeInteractionType": kind, "graphPattern": PATTERN}
        response = await self.http.post("/sc/ki", json=body, headers={"Knowledge-Base-Id": kb_id})
        assert response.status_code == 200, response.text
        ki_id: str = response.json()["knowledgeInteractionId"]
        return ki_id

    async def delete(self) -> None:
        for kb_id in (self.asker, self.answerer):
            await self.http.delete("/sc", headers={"Knowledge-Base-Id": kb_id})

    async def exchange(
        self, asked: list[dict[str, str]], answer: list[dict[str, str]] | None = None
    ) -> tuple[list[dict[str, str]], dict[str, Any]]:
        """Ask; the answerer polls and answers ``answer`` (or what it received).

        Returns:
            What the answerer received, and the asker's result.
        """
        headers = {"Knowledge-Base-Id": self.asker, "Knowledge-Interaction-Id": self.ask_id}
        asking = asyncio.create_task(self.http.post("/sc/ask", json=asked, headers=headers))
        try:
            polled = await asyncio.wait_for(
                self.http.get("/sc/handle", headers={"Knowledge-Base-Id": self.answerer}), STEP
            )
            assert polled.status_code == 200, polled.text
            request = polled.json()
            received: list[dict[str, str]] = request["bindingSet"]
            reply = {
                "handleRequestId": request["handleRequestId"],
                "bindingSet": received if answer is None else answer,
            }
            answered = await self.http.post(
                "/sc/handle",
                json=reply,
                headers={
                    "Knowledge-Base-Id": self.answerer,
                    "Knowledge-Interaction-Id": self.answer_id,
                },
            )
            assert answered.status_code == 200, answered.text
            result = await asyncio.wait_for(asking, STEP)
        finally:
            asking.cancel()
        assert result.status_code == 200, result.text
        return received, result.json()


@pytest.fixture
async def pair(ke_url: str) -> AsyncIterator[Pair]:  # noqa: F811 - the fixture
    async with httpx.AsyncClient(base_url=ke_url, timeout=STEP * 2) as http:
        pair = Pair(http)
        try:
            await pair.register()
            yield pair
        finally:
            await pair.delete()


@pytest.mark.parametrize(
    ("written", "read"),
    [
        pytest.param("rdf:type", "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>", id="rdf"),
        pytest.param("ex:oak", "<http://example.org/oak>", id="ex"),
        pytest.param(":oak", "<http://example/oak>", id="empty-prefix"),
        pytest.param("dcterms:title", "<http://purl.org/dc/terms/title>", id="dcterms"),
        pytest.param("vocab:oak", "<vocab:oak>", id="unknown-prefix"),
        pytest.param("<oak>", "<oak>", id="relative-iri"),
        pytest.param('"21"^^xsd:integer', f'"21"^^<{XSD}integer>', id="prefixed-datatype"),
        pytest.param('"a"^^xsd:string', '"a"', id="xsd-string"),
        pytest.param('"a"@EN-gb', '"a"@en-GB', id="language-case"),
        pytest.param('"a"@zh-hant-tw', '"a"@zh-Hant-TW', id="script-case"),
        pytest.param("21", f'"21"^^<{XSD}integer>', id="bare-integer"),
        pytest.param("true", f'"true"^^<{XSD}boolean>', id="bare-boolean"),
    ],
)
async def test_a_value_reaches_the_answerer_as_the_engine_reads_it(
    pair: Pair, written: str, read: str
) -> None:
    received, result = await pair.exchange([{"t": OAK, "h": written}])
    assert received == [{"t": OAK, "h": read}]
    # Echoed, the value fits what was asked, and comes back to the asker as read.
    assert result["bindingSet"] == [{"t": OAK, "h": read}]


async def test_every_blank_node_is_a_fresh_one_and_never_fits_what_was_asked(pair: Pair) -> None:
    received, result = await pair.exchange([{"t": "_:x", "h": "_:x"}, {"t": OAK, "h": "_:y"}])
    # Each occurrence is a node of its own, labelled in order (the order of the bindings and
    # of the variables within one is the engine's).
    labels = sorted(value for binding in received for value in binding.values() if value != OAK)
    assert labels == ["_:b0", "_:b1", "_:b2"]
    [info] = result["exchangeInfo"]
    assert info["status"] == "FAILED"
    assert "doesn't have a matching incoming binding!" in info["failedMessage"]


async def test_a_binding_that_fits_nothing_asked_is_printed_as_the_kes_library_prints_it(
    pair: Pair,
) -> None:
    _, result = await pair.exchange(
        [{"t": "<http://example.org/oak>"}],
        [
            {
                "t": "<http://example.org/beech>",
                "h": '"1.5"^^<http://www.w3.org/2001/XMLSchema#decimal>',
            }
        ],
    )
    [info] = result["exchangeInfo"]
    assert info["status"] == "FAILED"
    assert info["failedMessage"] == (
        "java.lang.IllegalArgumentException: KB gave outgoing binding "
        '{?t=http://example.org/beech, ?h="1.5"^^xsd:decimal}, but this doesn\'t have a '
        "matching incoming binding!"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            {
                "knowledgeInteractionType": "AskKnowledgeInteraction",
                "knowledgeInteractionName": "a b",
            },
            "ConstraintViolationException: scKiPost.arg1.graphPattern must not be null\n "
            'scKiPost.arg1.knowledgeInteractionName must match "^[a-zA-Z0-9-]*$"\n ',
            id="ask-without-pattern-and-bad-name",
        ),
        pytest.param(
            {"knowledgeInteractionType": "PostKnowledgeInteraction", "resultGraphPattern": PATTERN},
            "ConstraintViolationException: scKiPost.arg1.argumentGraphPattern must not be null\n ",
            id="post-with-only-a-result-pattern",
        ),
    ],
)
async def test_bean_validation_of_a_registration_answers_first(
    pair: Pair, body: dict[str, str], message: str
) -> None:
    response = await pair.http.post("/sc/ki", json=body, headers={"Knowledge-Base-Id": pair.asker})
    assert response.status_code == 400
    assert response.json()["messageType"] == "error"
    # One violation a line; the KE's validator reports several in no fixed order.
    assert sorted(violations(response.json()["message"])) == sorted(violations(message))
    assert response.headers["content-type"] == "application/json"


def violations(message: str) -> list[str]:
    prefix = "ConstraintViolationException: "
    assert message.startswith(prefix), message
    assert message.endswith("\n "), message
    return message[len(prefix) : -2].split("\n ")


async def test_the_engines_own_answers_say_their_charset(pair: Pair) -> None:
    response = await pair.http.get("/sc", headers={"Knowledge-Base-Id": pair.asker})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json;charset=utf-8"


EX_PREFIX = "@prefix ex: <http://example.org/> .\n"
TAKEN = "The provided domain knowledge should parse correctly: "


@pytest.mark.parametrize(
    ("rules", "refused"),
    [
        pytest.param(EX_PREFIX + "[r1: (?a ex:p ?b) -> (?a ex:q ?b)]", None, id="named"),
        pytest.param(EX_PREFIX + "(?a ex:p ?b), (?b ex:p ?c) -> (?a ex:q ?c) .", None, id="two"),
        pytest.param(EX_PREFIX + "(?a ex:q ?b) <- (?a ex:p ?b) .", None, id="backward"),
        pytest.param("-> (<http://e/a> <http://e/b> '12'^^xsd:int) .", None, id="fact"),
        pytest.param("# nothing but a comment", None, id="comment"),
        pytest.param(
            "this is not rules",
            "Expected '(' at start of clause, found is\nAt 'this is '",
            id="not-rules",
        ),
        pytest.param(
            "-> (ex:a ex:b ex:c) .",
            "Unrecognized qname prefix (ex) in rule\nAt '-> ( ex:a '",
            id="undeclared-prefix",
        ),
        pytest.param(
            EX_PREFIX + "(?a ex:p ?b) -> (?a ex:q ?b)",
            "Malformed rule\nAt '( ?a ex:p ?b ) -> ( ?a ex:q ?b ) '",
            id="no-end",
        ),
        pytest.param(
            "(?a <http://e/p>) -> (?a <http://e/q> ?b) .",
            "Triple with 2 nodes!\nAt '( ?a <http://e/p> ) '",
            id="two-nodes",
        ),
        pytest.param(
            EX_PREFIX + "(?a ex:p ?b) notEqual(?a ?b) -> (?a ex:q ?b) .",
            "The rule '[ (?a <http://example.org/p> ?b) notEqual(?a ?b) -> "
            "(?a <http://example.org/q> ?b) ]' should not contain non-triple pattern clauses in "
            "its antecedent such as: Functor",
            id="builtin",
        ),
        pytest.param(
            EX_PREFIX + "(?a ex:p ?b) -> .",
            "Rule '[ (?a <http://example.org/p> ?b) -> ]' should have a consequent.",
            id="no-head",
        ),
    ],
)
async def test_domain_knowledge_is_read_as_the_ke_reads_rules(
    pair: Pair, rules: str, refused: str | None
) -> None:
    response = await pair.http.post(
        "/sc/knowledge",
        content=rules,
        headers={"Knowledge-Base-Id": pair.asker, "Content-Type": "text/plain"},
    )
    if refused is None:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 400
        assert response.json() == {"messageType": "error", "message": TAKEN + refused}
