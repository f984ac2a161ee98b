"""The km-testing server speaks the KE's REST API: raw HTTP against create_app's ASGI app."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from km_testing import LocalKnowledgeEngine, create_app
from tests.support import LoopClock
from tests.testing.serving import ObservedEngine, http_client, serving

BASE = "http://ke.test/rest"
KB = "Knowledge-Base-Id"
KI = "Knowledge-Interaction-Id"
ASKER = "http://example.org/kb/asker"
TREES = "http://example.org/kb/trees"
FOREST = "http://example.org/kb/forest"
NOBODY = "http://example.org/kb/nobody"
OAK = "<http://example.org/oak>"
ELM = "<http://example.org/elm>"
HEIGHT = "?tree <http://example.org/height> ?height ."
DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")
CORS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "GET, POST, PUT, DELETE, HEAD",
    "access-control-allow-headers": "Accept, Content-Type, Knowledge-Base-Id, "
    "Knowledge-Interaction-Id",
}
STOPPING = (
    "This long polling request is cancelled by the server because it or the Knowledge Base is "
    "stopping. Do not reinitiate this request."
)
NEEDS_BOTH_KEYS = "The JSON Object should contain both a recipientSelector and bindingSet key."
NOT_JSON_CONTAINER = "The JSON should be either an JSON Object or an JSON Array."
BAD_BINDING_SET = "The BindingSet should be a valid JSON array with Bindings."
BAD_SELECTOR = (
    "The RecipientSelector should be a valid JSON object with a singleKnowledgeBase key that "
    "leads to a string value of a KnowledgeBaseId."
)
HEADERS_MISSING = "Both Knowledge-Base-Id and Knowledge-Interaction-Id headers should be non-null."


@pytest.fixture
def engine() -> ObservedEngine:
    return ObservedEngine()


@pytest.fixture
async def http(engine: ObservedEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(engine) as client:
        yield client


def error(message: str) -> dict[str, str]:
    return {"messageType": "error", "message": message}


async def register_kb(http: httpx.AsyncClient, kb_id: str, **extra: Any) -> None:
    body = {"knowledgeBaseId": kb_id, "knowledgeBaseName": "kb", "knowledgeBaseDescription": "d"}
    response = await http.post("/sc", json={**body, **extra})
    assert response.status_code == 200, response.text


async def register_ki(http: httpx.AsyncClient, kb_id: str, kind: str, **fields: Any) -> str:
    body = {"knowledgeInteractionType": f"{kind}KnowledgeInteraction", **fields}
    response = await http.post("/sc/ki", headers={KB: kb_id}, json=body)
    assert response.status_code == 200, response.text
    ki_id = response.json()["knowledgeInteractionId"]
    assert isinstance(ki_id, str)
    return ki_id


async def answer_every_request(
    http: httpx.AsyncClient, kb_id: str, ki_id: str, bindings: list[dict[str, str]]
) -> int:
    """Serve a KB over raw HTTP until it is deleted; return how many requests it answered.

    The poll open at the deletion gets 410; a poll sent just after it gets 404.
    """
    answered = 0
    while True:
        polled = await http.get("/sc/handle", headers={KB: kb_id})
        if polled.status_code in (404, 410):
            return answered
        if polled.status_code == 202:
            continue
        assert polled.status_code == 200, polled.text
        request = polled.json()
        response = await http.post(
            "/sc/handle",
            headers={KB: kb_id, KI: ki_id},
            json={"handleRequestId": request["handleRequestId"], "bindingSet": bindings},
        )
        assert response.status_code == 200, response.text
        answered += 1


# ---------------------------------------------------------------------- paths


@pytest.mark.parametrize("slash", ["", "/"])
async def test_the_version_is_served_with_and_without_a_trailing_slash(
    http: httpx.AsyncClient, slash: str
) -> None:
    response = await http.get(f"/version{slash}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json;charset=utf-8"
    assert response.content == b'{"version":"1.5.0"}'


async def test_create_app_without_an_engine_serves_a_default_one() -> None:
    app = create_app()
    assert isinstance(app.state.engine, LocalKnowledgeEngine)
    assert app.state.engine.heartbeat == 29
    assert app.state.engine.kb_wait_timeout == 10
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        assert (await http.get("/version")).json() == {"version": "1.5.0"}


@pytest.mark.parametrize("slash", ["", "/"])
async def test_every_endpoint_answers_with_and_without_a_trailing_slash(
    http: httpx.AsyncClient, engine: ObservedEngine, slash: str
) -> None:
    body = {"knowledgeBaseId": TREES, "knowledgeBaseName": "t", "knowledgeBaseDescription": "d"}
    assert (await http.post(f"/sc{slash}", json=body)).status_code == 200
    assert [kb["knowledgeBaseId"] for kb in (await http.get(f"/sc{slash}")).json()] == [TREES]
    registered = await http.post(
        f"/sc/ki{slash}",
        headers={KB: TREES},
        json={"knowledgeInteractionType": "AskKnowledgeInteraction", "graphPattern": HEIGHT},
    )
    assert registered.status_code == 200
    ask_id = registered.json()["knowledgeInteractionId"]
    post_id = await register_ki(http, TREES, "Post", argumentGraphPattern=HEIGHT)
    listed = await http.get(f"/sc/ki{slash}", headers={KB: TREES})
    assert {ki["knowledgeInteractionId"] for ki in listed.json()} == {ask_id, post_id}
    asked = await http.post(f"/sc/ask{slash}", headers={KB: TREES, KI: ask_id}, json=[])
    assert asked.json() == {"bindingSet": [], "exchangeInfo": []}
    posted = await http.post(f"/sc/post{slash}", headers={KB: TREES, KI: post_id}, json=[])
    assert posted.json() == {"resultBindingSet": [], "exchangeInfo": []}
    knowledge = await http.post(f"/sc/knowledge{slash}", headers={KB: TREES}, content=b"")
    assert knowledge.status_code == 200
    renewed = await http.put(f"/sc/lease/renew{slash}", headers={KB: TREES})
    assert renewed.status_code == 404  # routed: the engine's answer for a KB without a lease
    assert renewed.json()["message"].startswith("Knowledge base found, but its lease")
    answered = await http.post(
        f"/sc/handle{slash}",
        headers={KB: TREES, KI: ask_id},
        json={"handleRequestId": 1, "bindingSet": []},
    )
    assert answered.status_code == 404
    assert answered.json() == error(
        "Handle request id 1 not found. Are you sure it is still being processed?"
    )
    poll = asyncio.create_task(http.get(f"/sc/handle{slash}", headers={KB: TREES}))
    await engine.wait_for_polls(opened=1)
    deleted_ki = await http.delete(f"/sc/ki{slash}", headers={KB: TREES, KI: post_id})
    assert deleted_ki.status_code == 200
    assert (await http.delete(f"/sc{slash}", headers={KB: TREES})).status_code == 200
    assert (await poll).status_code == 410
    assert (await http.get(f"/sc{slash}")).json() == []


@pytest.mark.parametrize("slash", ["", "/"])
async def test_a_handle_request_goes_round_trip(http: httpx.AsyncClient, slash: str) -> None:
    await register_kb(http, ASKER)
    await register_kb(http, TREES)
    ask_id = await register_ki(
        http, ASKER, "Ask", graphPattern="?t <http://example.org/height> ?h ."
    )
    answer_id = await register_ki(http, TREES, "Answer", graphPattern=HEIGHT)
    ask = asyncio.create_task(
        http.post(f"/sc/ask{slash}", headers={KB: ASKER, KI: ask_id}, json=[{"t": OAK}])
    )
    polled = await http.get(f"/sc/handle{slash}", headers={KB: TREES})
    assert polled.status_code == 200
    assert polled.json() == {
        "knowledgeInteractionId": answer_id,
        "handleRequestId": 1,
        "bindingSet": [{"tree": OAK}],
        "requestingKnowledgeBaseId": ASKER,
    }
    answered = await http.post(
        f"/sc/handle{slash}",
        headers={KB: TREES, KI: answer_id},
        json={"handleRequestId": 1, "bindingSet": [{"tree": OAK, "height": "21.5"}]},
    )
    assert answered.status_code == 200
    assert answered.content == b""
    result = (await ask).json()
    decimal = '"21.5"^^<http://www.w3.org/2001/XMLSchema#decimal>'
    assert result["bindingSet"] == [{"t": OAK, "h": decimal}]
    [info] = result["exchangeInfo"]
    assert info["status"] == "SUCCEEDED"
    assert info["initiator"] == "knowledgeBase"
    assert info["knowledgeBaseId"] == TREES
    assert info["knowledgeInteractionId"] == answer_id
    assert info["bindingSet"] == [{"tree": OAK, "height": decimal}]
    assert DATE.match(info["exchangeStart"]), info["exchangeStart"]
    assert DATE.match(info["exchangeEnd"]), info["exchangeEnd"]
    assert "failedMessage" not in info
    assert "knowledgeGaps" not in result


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "message"),
    [
        ("GET", "/sc", {KB: NOBODY}, 404, "Knowledge base not found."),
        (
            "GET",
            "/sc",
            {KB: "not a uri"},
            400,
            "Knowledge base not found, because its ID must be a valid URI.",
        ),
        ("DELETE", "/sc", {}, 400, "Knowledge-Base-Id header should not be null."),
        (
            "DELETE",
            "/sc",
            {KB: NOBODY},
            404,
            "Deletion of knowledge base failed, because it could not be found.",
        ),
        ("PUT", "/sc/lease/renew", {}, 400, "Missing valid Knowledge-Base-Id header."),
        (
            "PUT",
            "/sc/lease/renew",
            {KB: NOBODY},
            404,
            "Knowledge base not found. (Has its lease already expired?)",
        ),
        (
            "GET",
            "/sc/ki",
            {KB: NOBODY},
            404,
            "Knowledge base not found, because its knowledge base ID is unknown.",
        ),
        ("DELETE", "/sc/ki", {KB: NOBODY}, 400, "Missing valid Knowledge-Interaction-Id header."),
        (
            "DELETE",
            "/sc/ki",
            {KB: NOBODY, KI: f"{NOBODY}/interaction/x"},
            404,
            "Knowledge base not found, because its knowledge base ID is unknown.",
        ),
        (
            "GET",
            "/sc/handle",
            {KB: NOBODY},
            404,
            "A Knowledge Base for the given Knowledge-Base-Id cannot be found.",
        ),
        (
            "GET",
            "/sc/handle",
            {KB: "not a uri"},
            400,
            "Smart Connector not found, because its ID must be a valid URI.",
        ),
        (
            "POST",
            "/sc/knowledge",
            {KB: NOBODY},
            404,
            "Knowledge base not found. (Has its lease already expired?)",
        ),
    ],
)
async def test_errors_have_the_kes_status_and_body(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    headers: dict[str, str],
    status: int,
    message: str,
) -> None:
    response = await http.request(method, path, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json;charset=utf-8"
    assert response.json() == error(message)


async def test_errors_of_registered_kbs(http: httpx.AsyncClient) -> None:
    await register_kb(http, TREES)
    again = await http.post(
        "/sc",
        json={"knowledgeBaseId": TREES, "knowledgeBaseName": "t", "knowledgeBaseDescription": "d"},
    )
    assert again.status_code == 400
    assert again.json() == error("That knowledge base ID is already in use.")
    answer_id = await register_ki(http, TREES, "Answer", graphPattern=HEIGHT)
    unknown_ki = await http.post(
        "/sc/ki",
        headers={KB: NOBODY},
        json={"knowledgeInteractionType": "AskKnowledgeInteraction", "graphPattern": HEIGHT},
    )
    assert unknown_ki.status_code == 404
    assert unknown_ki.json() == error(
        f"Could not add knowledge interaction, because the given knowledge base ID ({NOBODY}) "
        "is unknown."
    )
    no_pattern = await http.post(
        "/sc/ki", headers={KB: TREES}, json={"knowledgeInteractionType": "AskKnowledgeInteraction"}
    )
    assert no_pattern.status_code == 400
    assert no_pattern.json() == error(
        "ConstraintViolationException: scKiPost.arg1.graphPattern must not be null\n "
    )
    assert no_pattern.headers["content-type"] == "application/json"  # from an exception mapper
    wrong_kind = await http.post("/sc/ask", headers={KB: TREES, KI: answer_id}, json=[])
    assert wrong_kind.status_code == 400
    assert wrong_kind.json() == error(
        "Given Knowledge Interaction ID should have type AskKnowledgeInteraction and not "
        "AnswerKnowledgeInteraction."
    )
    no_id = await http.post(
        "/sc/handle", headers={KB: TREES, KI: answer_id}, json={"bindingSet": []}
    )
    assert no_id.status_code == 400
    assert no_id.json() == error("The handleRequestId property is mandatory, but not provided.")
    unknown_ki_answer = await http.post(
        "/sc/handle",
        headers={KB: TREES, KI: f"{TREES}/interaction/nothing"},
        json={"handleRequestId": 1, "bindingSet": []},
    )
    assert unknown_ki_answer.status_code == 400
    assert unknown_ki_answer.json() == error(
        "Knowledge Interaction not found, because its ID must match an existing KI: "
        f"{TREES}/interaction/nothing"
    )


async def test_a_second_poll_of_a_kb_is_refused_with_409(
    http: httpx.AsyncClient, engine: ObservedEngine
) -> None:
    await register_kb(http, TREES)
    first = asyncio.create_task(http.get("/sc/handle", headers={KB: TREES}))
    await engine.wait_for_polls(opened=1)
    second = await http.get("/sc/handle", headers={KB: TREES})
    assert second.status_code == 409
    assert second.json() == error(
        "Only one connection per Knowledge-Base-Id is allowed and we already have one."
    )
    await http.delete("/sc", headers={KB: TREES})
    assert (await first).status_code == 410


@pytest.mark.parametrize("path", ["/sc/handle"])
async def test_the_handle_headers_are_required_by_bean_validation(
    http: httpx.AsyncClient, path: str
) -> None:
    polled = await http.get(path)
    assert polled.status_code == 400
    assert polled.json()["message"].startswith("ConstraintViolationException: ")
    assert polled.json()["message"] == (
        "ConstraintViolationException: scHandleGet.arg0 must not be null\n "
    )
    answered = await http.post(path, headers={KB: TREES}, json={"handleRequestId": 1})
    assert answered.status_code == 400
    assert answered.json()["message"].startswith("ConstraintViolationException: ")
    assert "scHandlePost.arg1 must not be null" in answered.json()["message"]


# ---------------------------------------------------------------------- request parsing


@pytest.mark.parametrize("path", ["/sc", "/sc/ki", "/sc/ask", "/sc/post", "/sc/handle"])
@pytest.mark.parametrize("text", ['{"knowledgeBaseId": ', "{not json}", "[NaN]"])
async def test_malformed_json_is_a_400_json_parse_exception(
    http: httpx.AsyncClient, path: str, text: str
) -> None:
    response = await http.post(
        path,
        headers={KB: TREES, KI: f"{TREES}/interaction/x", "Content-Type": "application/json"},
        content=text.encode(),
    )
    assert response.status_code == 400
    body = response.json()
    assert body["messageType"] == "error"
    assert body["message"].startswith("JsonParseException: ")


async def test_unknown_fields_are_ignored_and_scalars_coerced(
    http: httpx.AsyncClient, engine: ObservedEngine
) -> None:
    await register_kb(http, TREES, reasonerEnabled=True, leaseRenewalTime="60", colour="green")
    [kb] = (await http.get("/sc", headers={KB: TREES})).json()
    assert kb == {
        "knowledgeBaseId": TREES,
        "knowledgeBaseName": "kb",
        "knowledgeBaseDescription": "d",
        "leaseRenewalTime": 60,
        "reasonerLevel": 2,
    }
    ki_id = await register_ki(
        http,
        TREES,
        "Ask",
        knowledgeInteractionName="gaps",
        graphPattern="?a ex:b ?c .",
        prefixes={"ex": "http://example.org/"},
        knowledgeGapsEnabled="true",
        includeMetaKIs="true",
        somethingNew=[1, 2],
    )
    [ki] = (await http.get("/sc/ki", headers={KB: TREES})).json()
    assert ki["knowledgeInteractionId"] == ki_id
    assert ki["knowledgeGapsEnabled"] is True
    assert ki["graphPattern"] == "?a <http://example.org/b> ?c . "
    # a number where the KE expects a string is coerced, as Jackson does
    await register_kb(http, FOREST, knowledgeBaseName=42)
    assert engine.get_kb(FOREST).knowledge_base_name == "42"


@pytest.mark.parametrize(
    ("body", "prefix", "mentions"),
    [
        ({"knowledgeBaseId": TREES}, "ConstraintViolationException: ", "knowledgeBaseName"),
        (
            {"knowledgeBaseName": "t", "knowledgeBaseDescription": "d"},
            "ConstraintViolationException: ",
            "knowledgeBaseId must not be null",
        ),
        (
            {"knowledgeBaseId": TREES, "knowledgeBaseName": None, "knowledgeBaseDescription": ""},
            "ConstraintViolationException: ",
            "knowledgeBaseName must not be null",
        ),
        (None, "ConstraintViolationException: ", "must not be null"),
        ([], "MismatchedInputException: ", "Array"),
        (
            {
                "knowledgeBaseId": TREES,
                "knowledgeBaseName": "t",
                "knowledgeBaseDescription": "d",
                "leaseRenewalTime": "soon",
            },
            "InvalidFormatException: ",
            "leaseRenewalTime",
        ),
    ],
)
async def test_a_bad_kb_registration_is_a_400(
    http: httpx.AsyncClient, body: Any, prefix: str, mentions: str
) -> None:
    content = b"" if body is None else httpx.Request("POST", BASE, json=body).content
    response = await http.post("/sc", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    message = response.json()["message"]
    assert message.startswith(prefix)
    assert mentions in message
    assert (await http.get("/sc")).json() == []


@pytest.mark.parametrize(
    ("kind", "mentions"),
    [
        ("FooKnowledgeInteraction", "FooKnowledgeInteraction"),
        (None, "missing type id property 'knowledgeInteractionType'"),
    ],
)
async def test_an_unknown_or_missing_interaction_type_is_a_400(
    http: httpx.AsyncClient, kind: str | None, mentions: str
) -> None:
    await register_kb(http, TREES)
    body: dict[str, Any] = {"graphPattern": HEIGHT}
    if kind is not None:
        body["knowledgeInteractionType"] = kind
    response = await http.post("/sc/ki", headers={KB: TREES}, json=body)
    assert response.status_code == 400
    message = response.json()["message"]
    assert message.startswith("InvalidTypeIdException: ")
    assert mentions in message
    assert (await http.get("/sc/ki", headers={KB: TREES})).json() == []


# ---------------------------------------------------------------------- ask and post bodies


@pytest.mark.parametrize("endpoint", ["ask", "post"])
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"bindingSet": []}, NEEDS_BOTH_KEYS),
        ({"recipientSelector": {"knowledgeBases": []}}, NEEDS_BOTH_KEYS),
        ("text", NOT_JSON_CONTAINER),
        (42, NOT_JSON_CONTAINER),
        (None, NOT_JSON_CONTAINER),
        ({"recipientSelector": {"knowledgeBases": []}, "bindingSet": {}}, BAD_BINDING_SET),
        ({"recipientSelector": {}, "bindingSet": []}, BAD_SELECTOR),
        ({"recipientSelector": [], "bindingSet": []}, BAD_SELECTOR),
        ({"recipientSelector": {"knowledgeBases": TREES}, "bindingSet": []}, BAD_SELECTOR),
        ({"recipientSelector": {"knowledgeBases": [1]}, "bindingSet": []}, BAD_SELECTOR),
        ({"recipientSelector": {"knowledgeBases": ["a b"]}, "bindingSet": []}, BAD_SELECTOR),
        ({"recipientSelector": {"singleKnowledgeBase": 7}, "bindingSet": []}, BAD_SELECTOR),
        ({"recipientSelector": {"everybody": True}, "bindingSet": []}, BAD_SELECTOR),
        ([{"?t": OAK}], "Variable names should not be null or start with a question mark."),
        ([{"t": None}], "Variable values should not be null and follow SPARQL literal/iri syntax."),
        ([None], "Bindings must be non-null."),
    ],
)
async def test_a_bad_ask_or_post_body_is_a_400_even_without_headers(
    http: httpx.AsyncClient, endpoint: str, body: Any, message: str
) -> None:
    # The KE reads the body before it checks the headers.
    content = httpx.Request("POST", BASE, json=body).content
    response = await http.post(
        f"/sc/{endpoint}", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == error(message)


@pytest.mark.parametrize("endpoint", ["ask", "post"])
async def test_a_good_body_without_headers_is_a_400_about_headers(
    http: httpx.AsyncClient, endpoint: str
) -> None:
    response = await http.post(f"/sc/{endpoint}", json=[{}])
    assert response.status_code == 400
    assert response.json() == error(HEADERS_MISSING)


@pytest.mark.parametrize(
    ("body", "answering"),
    [
        ([{}], {TREES, FOREST}),
        ({"recipientSelector": {"knowledgeBases": []}, "bindingSet": []}, {TREES, FOREST}),
        ({"recipientSelector": {"knowledgeBases": [TREES]}, "bindingSet": [{}]}, {TREES}),
        (
            {"recipientSelector": {"knowledgeBases": [TREES, FOREST]}, "bindingSet": []},
            {TREES, FOREST},
        ),
        ({"recipientSelector": {"singleKnowledgeBase": FOREST}, "bindingSet": []}, {FOREST}),
        ({"recipientSelector": {"knowledgeBases": [NOBODY]}, "bindingSet": []}, set()),
    ],
)
async def test_the_recipient_selector_picks_who_is_asked(
    http: httpx.AsyncClient, body: Any, answering: set[str]
) -> None:
    await register_kb(http, ASKER)
    ask_id = await register_ki(
        http, ASKER, "Ask", graphPattern="?t <http://example.org/height> ?h ."
    )
    servers = []
    for kb_id, tree in ((TREES, OAK), (FOREST, ELM)):
        await register_kb(http, kb_id)
        ki_id = await register_ki(http, kb_id, "Answer", graphPattern=HEIGHT)
        bindings = [{"tree": tree, "height": '"20"'}]
        servers.append(asyncio.create_task(answer_every_request(http, kb_id, ki_id, bindings)))
    try:
        response = await http.post("/sc/ask", headers={KB: ASKER, KI: ask_id}, json=body)
        assert response.status_code == 200
        result = response.json()
        assert {info["knowledgeBaseId"] for info in result["exchangeInfo"]} == answering
        assert {info["status"] for info in result["exchangeInfo"]} <= {"SUCCEEDED"}
        expected = {OAK: TREES, ELM: FOREST}
        assert {b["t"] for b in result["bindingSet"]} == {
            tree for tree, kb_id in expected.items() if kb_id in answering
        }
    finally:
        for kb_id in (TREES, FOREST):
            await http.delete("/sc", headers={KB: kb_id})
        answered = await asyncio.wait_for(asyncio.gather(*servers), 10)
    assert answered == [int(TREES in answering), int(FOREST in answering)]


async def test_an_error_message_wins_over_bindings(http: httpx.AsyncClient) -> None:
    await register_kb(http, ASKER)
    await register_kb(http, TREES)
    ask_id = await register_ki(http, ASKER, "Ask", graphPattern=HEIGHT)
    answer_id = await register_ki(http, TREES, "Answer", graphPattern=HEIGHT)
    ask = asyncio.create_task(http.post("/sc/ask", headers={KB: ASKER, KI: ask_id}, json=[]))
    request = (await http.get("/sc/handle", headers={KB: TREES})).json()
    answered = await http.post(
        "/sc/handle",
        headers={KB: TREES, KI: answer_id},
        json={
            "handleRequestId": str(request["handleRequestId"]),  # coerced, as Jackson does
            "bindingSet": [{"tree": OAK, "height": '"1"'}],
            "errorMessage": "Database connection lost.",
        },
    )
    assert answered.status_code == 200
    result = (await ask).json()
    assert result["bindingSet"] == []
    [info] = result["exchangeInfo"]
    assert info["status"] == "FAILED"
    assert info["failedMessage"] == "An error occurred while ANSWERing: Database connection lost."


# ---------------------------------------------------------------------- the long poll


async def test_the_heartbeat_is_empty_for_a_kb_with_answer_or_react_interactions() -> None:
    async with http_client(LocalKnowledgeEngine(heartbeat=0.05)) as http:
        await register_kb(http, TREES)
        await register_ki(http, TREES, "Answer", graphPattern=HEIGHT)
        await register_kb(http, FOREST)
        await register_ki(http, FOREST, "React", argumentGraphPattern=HEIGHT)
        for kb_id in (TREES, FOREST):
            response = await http.get("/sc/handle", headers={KB: kb_id})
            assert response.status_code == 202
            assert response.content == b""


async def test_the_heartbeat_explains_itself_to_a_kb_without_them() -> None:
    async with http_client(LocalKnowledgeEngine(heartbeat=0.05)) as http:
        await register_kb(http, ASKER)
        await register_ki(http, ASKER, "Ask", graphPattern=HEIGHT)
        response = await http.get("/sc/handle/", headers={KB: ASKER})
        assert response.status_code == 202
        assert response.json() == {
            "messageType": "info",
            "message": "This is a heartbeat message that the server is still alive, please renew "
            "your long polling request to be notified of future KI activations. Knowledge Base "
            f"'{ASKER}' does not have any Answer or React Knowledge Interaction registered. Only "
            "those two types of Knowledge Interactions require the usage of this long polling "
            "method.",
        }


async def test_deleting_a_kb_answers_its_poll_410_and_later_polls_404(
    http: httpx.AsyncClient, engine: ObservedEngine
) -> None:
    await register_kb(http, TREES)
    await register_ki(http, TREES, "Answer", graphPattern=HEIGHT)
    poll = asyncio.create_task(http.get("/sc/handle", headers={KB: TREES}))
    await engine.wait_for_polls(opened=1)
    assert (await http.delete("/sc", headers={KB: TREES})).status_code == 200
    stopped = await asyncio.wait_for(poll, 10)
    assert stopped.status_code == 410
    assert stopped.json() == {"messageType": "message", "message": STOPPING}
    after = await http.get("/sc/handle", headers={KB: TREES})
    assert after.status_code == 404
    assert after.json() == error(
        "A Knowledge Base for the given Knowledge-Base-Id cannot be found."
    )


async def test_an_abandoned_poll_keeps_the_kbs_slot_until_a_request_comes(
    http: httpx.AsyncClient, engine: ObservedEngine
) -> None:
    """As on the KE, a poll whose client went away holds the slot (409 for a new poll); a
    request handed to it is not lost, as on the KE, but goes to the next poll."""
    await register_kb(http, ASKER)
    await register_kb(http, TREES)
    ask_id = await register_ki(http, ASKER, "Ask", graphPattern=HEIGHT)
    answer_id = await register_ki(http, TREES, "Answer", graphPattern=HEIGHT)
    abandoned = asyncio.create_task(http.get("/sc/handle", headers={KB: TREES}))
    await engine.wait_for_polls(opened=1)
    abandoned.cancel()
    with pytest.raises(asyncio.CancelledError):
        await abandoned
    await engine.wait_for_polls(ended=1)
    refused = await http.get("/sc/handle", headers={KB: TREES})
    assert refused.status_code == 409
    ask = asyncio.create_task(http.post("/sc/ask", headers={KB: ASKER, KI: ask_id}, json=[]))
    await engine.wait_for_polls(given_back=1)
    polled = await http.get("/sc/handle", headers={KB: TREES})
    assert polled.status_code == 200
    request = polled.json()
    assert request["bindingSet"] == [{}]
    answered = await http.post(
        "/sc/handle",
        headers={KB: TREES, KI: answer_id},
        json={"handleRequestId": request["handleRequestId"], "bindingSet": []},
    )
    assert answered.status_code == 200
    assert (await ask).json()["exchangeInfo"][0]["status"] == "SUCCEEDED"


async def test_an_abandoned_poll_keeps_the_slot_until_its_heartbeat() -> None:
    engine = ObservedEngine(heartbeat=29, kb_wait_timeout=0)
    async with http_client(engine) as http:
        await register_kb(http, TREES)
        await register_ki(http, TREES, "Answer", graphPattern=HEIGHT)
        with LoopClock(asyncio.get_running_loop()) as clock:
            abandoned = asyncio.create_task(http.get("/sc/handle", headers={KB: TREES}))
            await engine.wait_for_polls(opened=1)
            await clock.advance(10)
            abandoned.cancel()
            await asyncio.gather(abandoned, return_exceptions=True)
            await clock.advance(18)  # 28 s after the abandoned poll began
            assert (await http.get("/sc/handle", headers={KB: TREES})).status_code == 409
            await clock.advance(2)  # past its heartbeat: the slot is free
            held = asyncio.create_task(http.get("/sc/handle", headers={KB: TREES}))
            await engine.wait_for_polls(opened=3)
            await http.delete("/sc", headers={KB: TREES})
            assert (await held).status_code == 410


async def test_a_client_that_disconnects_from_a_real_server_abandons_its_poll(
    engine: ObservedEngine,
) -> None:
    async with serving(create_app(engine)) as base_url, httpx.AsyncClient(base_url=base_url) as ke:
        await register_kb(ke, ASKER)
        await register_kb(ke, TREES)
        ask_id = await register_ki(ke, ASKER, "Ask", graphPattern=HEIGHT)
        answer_id = await register_ki(ke, TREES, "Answer", graphPattern=HEIGHT)
        async with httpx.AsyncClient(base_url=base_url) as gone:
            abandoned = asyncio.create_task(gone.get("/sc/handle", headers={KB: TREES}))
            await engine.wait_for_polls(opened=1)
            abandoned.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await abandoned
        # The server sees the connection close and abandons the engine's poll.
        await engine.wait_for_polls(ended=1)
        assert (await ke.get("/sc/handle", headers={KB: TREES})).status_code == 409
        ask = asyncio.create_task(ke.post("/sc/ask", headers={KB: ASKER, KI: ask_id}, json=[]))
        await engine.wait_for_polls(given_back=1)
        polled = await ke.get("/sc/handle", headers={KB: TREES})
        assert polled.status_code == 200
        request = polled.json()
        answered = await ke.post(
            "/sc/handle",
            headers={KB: TREES, KI: answer_id},
            json={"handleRequestId": request["handleRequestId"], "bindingSet": []},
        )
        assert answered.status_code == 200
        assert (await ask).json()["exchangeInfo"][0]["status"] == "SUCCEEDED"


# ---------------------------------------------------------------------- responses


async def test_every_response_carries_the_cors_headers(http: httpx.AsyncClient) -> None:
    responses = [
        await http.get("/version"),
        await http.get("/sc", headers={KB: NOBODY}),
        await http.post("/sc", content=b"{"),
        await http.get("/nothing/here"),
        await http.patch("/sc"),
        await http.options("/sc/ki"),
    ]
    assert [r.status_code for r in responses] == [200, 404, 400, 404, 405, 200]
    for response in responses:
        for name, value in CORS.items():
            assert response.headers[name] == value, (response.request.url, name)
    assert set(responses[-1].headers["allow"].split(", ")) == {
        "GET",
        "HEAD",
        "POST",
        "DELETE",
        "OPTIONS",
    }


async def test_null_fields_are_left_out(http: httpx.AsyncClient) -> None:
    await register_kb(http, TREES)
    await register_ki(
        http,
        TREES,
        "React",
        argumentGraphPattern=HEIGHT,
        resultGraphPattern=None,
        prefixes=None,
        knowledgeInteractionName=None,
    )
    kbs = await http.get("/sc")
    assert b"null" not in kbs.content
    [kb] = kbs.json()
    assert set(kb) == {
        "knowledgeBaseId",
        "knowledgeBaseName",
        "knowledgeBaseDescription",
        "reasonerLevel",
    }
    kis = await http.get("/sc/ki", headers={KB: TREES})
    assert b"null" not in kis.content
    [ki] = kis.json()
    assert set(ki) == {
        "knowledgeInteractionId",
        "knowledgeInteractionType",
        "argumentGraphPattern",
        "communicativeAct",
        "knowledgeGapsEnabled",
        "prefixes",
    }
    assert ki["knowledgeGapsEnabled"] is False
    assert ki["prefixes"] == {}  # KE 1.5.0 lists every interaction with "prefixes": {}


async def test_the_lease_renewal_answers_with_the_new_expiry(http: httpx.AsyncClient) -> None:
    await register_kb(http, TREES, leaseRenewalTime=60)
    response = await http.put("/sc/lease/renew", headers={KB: TREES})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"knowledgeBaseId", "expires"}
    assert body["knowledgeBaseId"] == TREES
    assert DATE.match(body["expires"]), body["expires"]


@pytest.mark.parametrize("content_type", [None, "text/plain", "text/plain; charset=UTF-8"])
async def test_domain_knowledge_is_plain_text_with_or_without_a_content_type(
    http: httpx.AsyncClient, engine: ObservedEngine, content_type: str | None
) -> None:
    await register_kb(http, TREES)
    rules = "-> (<http://example.org/a> <http://example.org/b> <http://example.org/c>) ."
    request = http.build_request("POST", "/sc/knowledge", headers={KB: TREES}, content=rules)
    if content_type is None:
        request.headers.pop("Content-Type", None)
        assert "content-type" not in request.headers
    else:
        request.headers["Content-Type"] = content_type
    response = await http.send(request)
    assert response.status_code == 200
    assert response.content == b""
    assert engine.domain_knowledge(TREES) == rules


async def test_domain_knowledge_as_json_is_an_unsupported_media_type(
    http: httpx.AsyncClient, engine: ObservedEngine
) -> None:
    await register_kb(http, TREES)
    response = await http.post("/sc/knowledge", headers={KB: TREES}, json="-> (a b c) .")
    assert response.status_code == 415
    assert engine.domain_knowledge(TREES) == ""
