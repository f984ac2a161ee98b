"""Every response of the served local engine conforms to the KE's ``openapi-sc.yaml``.

The app of ``create_app`` is reached without a socket through ``httpx.ASGITransport``, and each
response is validated with openapi-core against the spec, for every operation and its main
statuses. The spec is loaded as the reference ships it, with three mechanical adjustments that
change no schema:

* trailing whitespace is stripped from each line (one line ends in tabs);
* ``servers`` is set to ``http://ke.test/rest``, where the app serves it (all paths under
  ``/rest``, section 1 of ``ke-rest-api.md``);
* media-type keys lose their parameters (``application/json; charset=UTF-8`` becomes
  ``application/json``, and the ``application:json`` typo of ``/sc/knowledge`` too): openapi-core
  only matches a parametrised key by the exact header text, which not even the real KE sends.

The spec is read from the directory that ``KM_TEST_KE_REFERENCE`` names (by default
``../shared/reference`` beside the repository; see ``tests/reference.py``). Without it these tests
skip, saying so; under ``.ci/run``, which requires the file, they fail.

Where section 2.14 of the reference says the real server departs from the YAML (statuses the
YAML does not list), the schema check is skipped with that reason, and a separate test holds the
served engine to the reference's status and error body instead.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openapi_core import OpenAPI
from openapi_core.exceptions import OpenAPIError
from openapi_core.testing import MockRequest, MockResponse

from km_testing import LocalKnowledgeEngine, create_app
from tests.reference import REQUIRED_SETTING, SETTING, require_reference

SPEC = "openapi-sc.yaml"
BASE = "http://ke.test"
EX = "http://example.org/"
A = f"{EX}kb/a"
B = f"{EX}kb/b"
PATTERN = "?t <http://example.org/height> ?h ."


def _bare_media_types(node: Any) -> None:
    """Drop the parameters from every ``content`` key of the spec, in place."""
    if isinstance(node, dict):
        content = node.get("content")
        if isinstance(content, dict):
            node["content"] = {
                key.split(";")[0].strip().replace("application:json", "application/json"): value
                for key, value in content.items()
            }
        for value in node.values():
            _bare_media_types(value)
    elif isinstance(node, list):
        for value in node:
            _bare_media_types(value)


def load_spec(path: Path) -> OpenAPI:
    text = path.read_text(encoding="utf-8")
    spec = yaml.safe_load("\n".join(line.rstrip() for line in text.splitlines()))
    spec["servers"] = [{"url": f"{BASE}/rest"}]
    _bare_media_types(spec)
    return OpenAPI.from_dict(spec)


@pytest.fixture(scope="module")
def api() -> OpenAPI:
    return load_spec(require_reference(SPEC))


def conform(api: OpenAPI, response: httpx.Response) -> None:
    """Validate a response against the spec's operation for its request."""
    request = response.request
    content_type = response.headers.get("content-type")
    if response.content:
        assert content_type is not None
        assert content_type.split(";")[0].strip() == "application/json", content_type
    api.validate_response(
        MockRequest(
            BASE,
            request.method,
            request.url.path,
            headers=dict(request.headers),
            data=request.content,
            content_type=request.headers.get("content-type", "application/json"),
        ),
        MockResponse(
            response.content,
            status_code=response.status_code,
            headers=dict(response.headers),
            content_type=content_type,  # type: ignore[arg-type]
        ),
    )


class WatchedEngine(LocalKnowledgeEngine):
    """The engine, telling when a long poll has reached it (and so holds the KB's slot)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.polls_entered: asyncio.Queue[str | None] = asyncio.Queue()

    async def poll(self, kb_id: str | None) -> Any:
        # The slot is taken synchronously once the poll runs, before anyone reads the queue.
        self.polls_entered.put_nowait(kb_id)
        return await super().poll(kb_id)


class Ke:
    """An HTTP client on the served engine that checks responses against the spec."""

    def __init__(self, client: httpx.AsyncClient, api: OpenAPI, engine: WatchedEngine):
        self.client = client
        self.api = api
        self.engine = engine

    async def send(
        self,
        method: str,
        path: str,
        *,
        kb: str | None = None,
        ki: str | None = None,
        json: Any = None,
        content: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        all_headers = dict(headers or {})
        if kb is not None:
            all_headers["Knowledge-Base-Id"] = kb
        if ki is not None:
            all_headers["Knowledge-Interaction-Id"] = ki
        if content is not None:
            return await self.client.request(
                method, f"/rest{path}", headers=all_headers, content=content.encode()
            )
        if json is not None:
            return await self.client.request(method, f"/rest{path}", headers=all_headers, json=json)
        return await self.client.request(method, f"/rest{path}", headers=all_headers)

    def conform(self, response: httpx.Response) -> None:
        conform(self.api, response)

    async def expect(self, status: int, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send, check the status, and validate the response against the spec."""
        response = await self.send(method, path, **kwargs)
        assert response.status_code == status, (response.status_code, response.text)
        self.conform(response)
        return response

    # Setup shortcuts, each checked against the spec too.

    async def register(self, kb: str, **extra: Any) -> None:
        body = {"knowledgeBaseId": kb, "knowledgeBaseName": "n", "knowledgeBaseDescription": "d"}
        await self.expect(200, "POST", "/sc", json={**body, **extra})

    async def ki(self, kb: str, body: dict[str, Any]) -> str:
        response = await self.expect(200, "POST", "/sc/ki", kb=kb, json=body)
        ki_id = response.json()["knowledgeInteractionId"]
        assert isinstance(ki_id, str)
        return ki_id

    async def ask_and_answer(self) -> tuple[str, str]:
        """KB a with an ASK and KB b with an ANSWER on the same pattern: (ask id, answer id)."""
        await self.register(A)
        await self.register(B)
        ask = await self.ki(
            A, {"knowledgeInteractionType": "AskKnowledgeInteraction", "graphPattern": PATTERN}
        )
        answer = await self.ki(
            B,
            {
                "knowledgeInteractionType": "AnswerKnowledgeInteraction",
                "knowledgeInteractionName": "heights",
                "graphPattern": "?x <http://example.org/height> ?y .",
            },
        )
        return ask, answer

    async def next_request(self, kb: str) -> dict[str, Any]:
        response = await self.expect(200, "GET", "/sc/handle", kb=kb)
        request = response.json()
        assert isinstance(request, dict)
        return request


@pytest.fixture
async def ke(api: OpenAPI) -> AsyncIterator[Ke]:
    engine = WatchedEngine(heartbeat=10, kb_wait_timeout=5)
    transport = httpx.ASGITransport(app=create_app(engine))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        try:
            yield Ke(client, api, engine)
        finally:
            for info in engine.list_kbs():
                await engine.delete_kb(info.knowledge_base_id)


async def finish(task: asyncio.Task[httpx.Response]) -> httpx.Response:
    async with asyncio.timeout(10):
        return await task


# ---------------------------------------------------------------------- version and /sc


async def test_get_version(ke: Ke) -> None:
    response = await ke.expect(200, "GET", "/version")
    assert response.json() == {"version": ke.engine.version}


async def test_get_sc(ke: Ke) -> None:
    assert (await ke.expect(200, "GET", "/sc")).json() == []
    await ke.register(A, leaseRenewalTime=60, reasonerLevel=3)
    await ke.register(B)
    listed = (await ke.expect(200, "GET", "/sc")).json()
    assert {kb["knowledgeBaseId"] for kb in listed} == {A, B}
    one = (await ke.expect(200, "GET", "/sc", kb=A)).json()
    assert one == [
        {
            "knowledgeBaseId": A,
            "knowledgeBaseName": "n",
            "knowledgeBaseDescription": "d",
            "leaseRenewalTime": 60,
            "reasonerLevel": 3,
        }
    ]
    # leaseRenewalTime only with a lease; reasonerLevel always, the effective one.
    assert (await ke.expect(200, "GET", "/sc", kb=B)).json()[0] == {
        "knowledgeBaseId": B,
        "knowledgeBaseName": "n",
        "knowledgeBaseDescription": "d",
        "reasonerLevel": 2,
    }
    missing = await ke.expect(404, "GET", "/sc", kb=f"{EX}kb/nobody")
    assert missing.json() == {"messageType": "error", "message": "Knowledge base not found."}


async def test_post_sc(ke: Ke) -> None:
    response = await ke.expect(
        200,
        "POST",
        "/sc",
        json={"knowledgeBaseId": A, "knowledgeBaseName": "a", "knowledgeBaseDescription": "d"},
    )
    assert response.content == b""
    taken = await ke.expect(
        400,
        "POST",
        "/sc",
        json={"knowledgeBaseId": A, "knowledgeBaseName": "a", "knowledgeBaseDescription": "d"},
    )
    assert taken.json() == {
        "messageType": "error",
        "message": "That knowledge base ID is already in use.",
    }
    invalid = await ke.expect(
        400,
        "POST",
        "/sc",
        json={
            "knowledgeBaseId": "/relative.nl",
            "knowledgeBaseName": "a",
            "knowledgeBaseDescription": "",
        },
    )
    assert invalid.json()["message"].startswith("Knowledge base ID must be a valid RDF IRI.")
    malformed = await ke.expect(400, "POST", "/sc", content="{not json")
    assert malformed.json()["message"].startswith("JsonParseException")
    incomplete = await ke.expect(400, "POST", "/sc", json={"knowledgeBaseId": B})
    assert incomplete.json()["message"].startswith("ConstraintViolationException")
    level = await ke.expect(
        400,
        "POST",
        "/sc",
        json={
            "knowledgeBaseId": B,
            "knowledgeBaseName": "b",
            "knowledgeBaseDescription": "",
            "reasonerLevel": 6,
        },
    )
    assert level.json()["message"] == (
        "The reasoner level should be between 1 and 5, inclusive and not 6"
    )


async def test_delete_sc(ke: Ke) -> None:
    await ke.register(A)
    assert (await ke.expect(200, "DELETE", "/sc", kb=A)).content == b""
    gone = await ke.expect(404, "DELETE", "/sc", kb=A)
    assert gone.json()["message"] == (
        "Deletion of knowledge base failed, because it could not be found."
    )


# ---------------------------------------------------------------------- leases


async def test_put_lease_renew(ke: Ke) -> None:
    await ke.register(A, leaseRenewalTime=30)
    await ke.register(B)
    lease = (await ke.expect(200, "PUT", "/sc/lease/renew", kb=A)).json()
    assert lease["knowledgeBaseId"] == A
    assert isinstance(lease["expires"], str)
    missing = await ke.expect(400, "PUT", "/sc/lease/renew")
    assert missing.json()["message"] == "Missing valid Knowledge-Base-Id header."
    no_lease = await ke.expect(404, "PUT", "/sc/lease/renew", kb=B)
    assert no_lease.json()["message"].startswith(
        "Knowledge base found, but its lease could not be found."
    )
    unknown = await ke.expect(404, "PUT", "/sc/lease/renew", kb=f"{EX}kb/nobody")
    assert unknown.json()["message"] == "Knowledge base not found. (Has its lease already expired?)"


# ---------------------------------------------------------------------- /sc/ki


async def test_post_sc_ki(ke: Ke) -> None:
    await ke.register(A)
    ask_id = await ke.ki(
        A,
        {
            "knowledgeInteractionType": "AskKnowledgeInteraction",
            "knowledgeInteractionName": "books-by-shakespeare",
            "graphPattern": "?a rdf:type ex:Book . ?a ex:hasAuthor ex:Shakespeare",
            "prefixes": {"rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "ex": EX},
            "knowledgeGapsEnabled": "true",
            "includeMetaKIs": False,
        },
    )
    assert ask_id == f"{A}/interaction/books-by-shakespeare"
    react_id = await ke.ki(
        A,
        {
            "knowledgeInteractionType": "ReactKnowledgeInteraction",
            "argumentGraphPattern": "?a rdf:type ex:Measurement . ?a ex:hasValueInMeters ?b .",
            "resultGraphPattern": "?a rdf:type ex:Measurement . ?a ex:hasValueInYards ?b .",
            "prefixes": {"rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "ex": EX},
            "reasonerEnabled": True,  # an unknown field: ignored
        },
    )
    assert react_id.startswith(f"{A}/interaction/")
    bad_pattern = await ke.expect(
        400,
        "POST",
        "/sc/ki",
        kb=A,
        json={"knowledgeInteractionType": "AskKnowledgeInteraction", "graphPattern": "?a ex:b ?c"},
    )
    assert bad_pattern.json()["message"].startswith("Invalid graph pattern: ")
    duplicate = await ke.expect(
        400,
        "POST",
        "/sc/ki",
        kb=A,
        json={
            "knowledgeInteractionType": "AnswerKnowledgeInteraction",
            "knowledgeInteractionName": "books-by-shakespeare",
            "graphPattern": PATTERN,
        },
    )
    assert duplicate.json()["message"] == (
        f"The Knowledge Interaction with URI '{ask_id}' should not be already registered."
    )
    no_type = await ke.expect(400, "POST", "/sc/ki", kb=A, json={"graphPattern": PATTERN})
    assert no_type.json()["messageType"] == "error"
    unknown = await ke.expect(
        404,
        "POST",
        "/sc/ki",
        kb=f"{EX}kb/nobody",
        json={"knowledgeInteractionType": "AskKnowledgeInteraction", "graphPattern": PATTERN},
    )
    assert unknown.json()["message"] == (
        "Could not add knowledge interaction, because the given knowledge base ID "
        f"({EX}kb/nobody) is unknown."
    )


async def test_get_sc_ki(ke: Ke) -> None:
    await ke.register(A)
    assert (await ke.expect(200, "GET", "/sc/ki", kb=A)).json() == []
    bodies = [
        {
            "knowledgeInteractionType": "AskKnowledgeInteraction",
            "knowledgeInteractionName": "ask",
            "graphPattern": "?a a <http://example.org/Tree> .",
            "knowledgeGapsEnabled": True,
        },
        {"knowledgeInteractionType": "AnswerKnowledgeInteraction", "graphPattern": PATTERN},
        {
            "knowledgeInteractionType": "PostKnowledgeInteraction",
            "argumentGraphPattern": PATTERN,
            "resultGraphPattern": "?t <http://example.org/ok> true .",
        },
        {"knowledgeInteractionType": "ReactKnowledgeInteraction", "argumentGraphPattern": PATTERN},
    ]
    for body in bodies:
        await ke.ki(A, body)
    listed = (await ke.expect(200, "GET", "/sc/ki", kb=A)).json()
    by_type = {item["knowledgeInteractionType"]: item for item in listed}
    assert set(by_type) == {
        "AskKnowledgeInteraction",
        "AnswerKnowledgeInteraction",
        "PostKnowledgeInteraction",
        "ReactKnowledgeInteraction",
    }
    ask = by_type["AskKnowledgeInteraction"]
    assert ask["knowledgeInteractionName"] == "ask"
    assert ask["graphPattern"] == (
        "?a <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://example.org/Tree> . "
    )
    assert ask["knowledgeGapsEnabled"] is True
    react = by_type["ReactKnowledgeInteraction"]
    assert "resultGraphPattern" not in react  # null fields are left out
    assert "knowledgeInteractionName" not in react
    assert react["knowledgeGapsEnabled"] is False
    assert by_type["PostKnowledgeInteraction"]["resultGraphPattern"] == (
        "?t <http://example.org/ok> true . "
    )
    for item in listed:
        assert item["communicativeAct"] == {
            "requiredPurposes": ["https://w3id.org/knowledge-engine/InformPurpose"],
            "satisfiedPurposes": ["https://w3id.org/knowledge-engine/InformPurpose"],
        }


async def test_delete_sc_ki(ke: Ke) -> None:
    await ke.register(A)
    ki_id = await ke.ki(
        A, {"knowledgeInteractionType": "AskKnowledgeInteraction", "graphPattern": PATTERN}
    )
    assert (await ke.expect(200, "DELETE", "/sc/ki", kb=A, ki=ki_id)).content == b""
    missing = await ke.expect(400, "DELETE", "/sc/ki", kb=A)
    assert missing.json()["message"] == "Missing valid Knowledge-Interaction-Id header."
    gone = await ke.expect(404, "DELETE", "/sc/ki", kb=A, ki=ki_id)
    assert gone.json()["message"] == (
        "Knowledge base found, but the given knowledge interaction knowledge base ID is unknown."
    )
    no_kb = await ke.expect(404, "DELETE", "/sc/ki", kb=f"{EX}kb/nobody", ki=ki_id)
    assert no_kb.json()["message"] == (
        "Knowledge base not found, because its knowledge base ID is unknown."
    )


# ---------------------------------------------------------------------- /sc/ask and /sc/post


async def test_post_sc_ask(ke: Ke) -> None:
    ask, answer = await ke.ask_and_answer()
    await ke.register(f"{EX}kb/c")
    failing = await ke.ki(
        f"{EX}kb/c",
        {"knowledgeInteractionType": "AnswerKnowledgeInteraction", "graphPattern": PATTERN},
    )
    asking = asyncio.create_task(
        ke.expect(
            200,
            "POST",
            "/sc/ask",
            kb=A,
            ki=ask,
            json={"recipientSelector": {"knowledgeBases": []}, "bindingSet": [{}]},
        )
    )
    request = await ke.next_request(B)
    assert request["requestingKnowledgeBaseId"] == A
    await ke.expect(
        200,
        "POST",
        "/sc/handle",
        kb=B,
        ki=answer,
        json={
            "handleRequestId": request["handleRequestId"],
            "bindingSet": [{"x": "<http://example.org/oak>", "y": "21.5"}],
        },
    )
    other = await ke.next_request(f"{EX}kb/c")
    await ke.expect(
        200,
        "POST",
        "/sc/handle",
        kb=f"{EX}kb/c",
        ki=failing,
        json={"handleRequestId": other["handleRequestId"], "errorMessage": "Database lost."},
    )
    result = (await finish(asking)).json()
    assert result["bindingSet"] == [
        {
            "t": "<http://example.org/oak>",
            "h": '"21.5"^^<http://www.w3.org/2001/XMLSchema#decimal>',
        }
    ]
    statuses = {info["knowledgeInteractionId"]: info for info in result["exchangeInfo"]}
    assert statuses[answer]["status"] == "SUCCEEDED"
    assert "failedMessage" not in statuses[answer]
    assert statuses[failing]["status"] == "FAILED"
    assert statuses[failing]["failedMessage"] == "An error occurred while ANSWERing: Database lost."
    assert "knowledgeGaps" not in result

    nobody = await ke.expect(
        200,
        "POST",
        "/sc/ask",
        kb=A,
        ki=ask,
        json={"recipientSelector": {"singleKnowledgeBase": f"{EX}kb/nobody"}, "bindingSet": []},
    )
    assert nobody.json() == {"bindingSet": [], "exchangeInfo": []}


async def test_post_sc_ask_with_knowledge_gaps(ke: Ke) -> None:
    await ke.register(A)
    ask = await ke.ki(
        A,
        {
            "knowledgeInteractionType": "AskKnowledgeInteraction",
            "graphPattern": "?a <http://example.org/isFatherOf> ?c .",
            "knowledgeGapsEnabled": True,
        },
    )
    result = (await ke.expect(200, "POST", "/sc/ask", kb=A, ki=ask, json=[{}])).json()
    assert result == {
        "bindingSet": [],
        "exchangeInfo": [],
        "knowledgeGaps": [["?a <http://example.org/isFatherOf> ?c"]],
    }


async def test_post_sc_ask_errors(ke: Ke) -> None:
    ask, answer = await ke.ask_and_answer()
    bad_body = await ke.expect(400, "POST", "/sc/ask", kb=A, ki=ask, json={"bindingSet": []})
    assert bad_body.json()["message"] == (
        "The JSON Object should contain both a recipientSelector and bindingSet key."
    )
    bad_value = await ke.expect(400, "POST", "/sc/ask", kb=A, ki=ask, json=[{"t": "?x"}])
    assert bad_value.json()["message"] == (
        "Binding values should be concrete nodes (either RDF literals or RDF URIs)."
    )
    wrong_type = await ke.expect(400, "POST", "/sc/ask", kb=B, ki=answer, json=[])
    assert wrong_type.json()["message"] == (
        "Given Knowledge Interaction ID should have type AskKnowledgeInteraction and not "
        "AnswerKnowledgeInteraction."
    )
    no_headers = await ke.expect(400, "POST", "/sc/ask", json=[])
    assert no_headers.json()["message"] == (
        "Both Knowledge-Base-Id and Knowledge-Interaction-Id headers should be non-null."
    )
    unknown_kb = await ke.expect(404, "POST", "/sc/ask", kb=f"{EX}kb/nobody", ki=ask, json=[])
    assert unknown_kb.json()["message"] == "Smart connector not found, because its ID is unknown."
    unknown_ki = await ke.expect(404, "POST", "/sc/ask", kb=A, ki=f"{A}/interaction/no", json=[])
    assert unknown_ki.json()["message"] == (
        "Knowledge Interaction not found, because its ID is unknown."
    )


async def test_post_sc_post(ke: Ke) -> None:
    await ke.register(A)
    await ke.register(B)
    post = await ke.ki(
        A,
        {
            "knowledgeInteractionType": "PostKnowledgeInteraction",
            "argumentGraphPattern": PATTERN,
            "resultGraphPattern": "?t <http://example.org/ok> ?ok .",
        },
    )
    react = await ke.ki(
        B,
        {
            "knowledgeInteractionType": "ReactKnowledgeInteraction",
            "argumentGraphPattern": "?x <http://example.org/height> ?y .",
            "resultGraphPattern": "?x <http://example.org/ok> ?z .",
        },
    )
    posting = asyncio.create_task(
        ke.expect(
            200,
            "POST",
            "/sc/post",
            kb=A,
            ki=post,
            json=[{"t": "<http://example.org/oak>", "h": "3"}],
        )
    )
    request = await ke.next_request(B)
    assert request["knowledgeInteractionId"] == react
    assert request["bindingSet"] == [
        {"x": "<http://example.org/oak>", "y": '"3"^^<http://www.w3.org/2001/XMLSchema#integer>'}
    ]
    await ke.expect(
        200,
        "POST",
        "/sc/handle",
        kb=B,
        ki=react,
        json={
            "handleRequestId": request["handleRequestId"],
            "bindingSet": [{"x": "<http://example.org/oak>", "z": "true"}],
        },
    )
    result = (await finish(posting)).json()
    assert result["resultBindingSet"] == [
        {
            "t": "<http://example.org/oak>",
            "ok": '"true"^^<http://www.w3.org/2001/XMLSchema#boolean>',
        }
    ]
    (info,) = result["exchangeInfo"]
    assert info["status"] == "SUCCEEDED"
    assert info["initiator"] == "knowledgeBase"
    assert info["argumentBindingSet"] == request["bindingSet"]
    assert info["resultBindingSet"] == [
        {"x": "<http://example.org/oak>", "z": '"true"^^<http://www.w3.org/2001/XMLSchema#boolean>'}
    ]
    unknown = await ke.expect(404, "POST", "/sc/post", kb=A, ki=f"{A}/interaction/no", json=[])
    assert unknown.json()["message"] == (
        "Knowledge Interaction not found, because its ID is unknown."
    )
    nobody = await ke.expect(404, "POST", "/sc/post", kb=f"{EX}kb/nobody", ki=post, json=[])
    assert nobody.json()["message"] == "Smart connector not found, because its ID is unknown."


# ---------------------------------------------------------------------- /sc/handle


async def test_get_sc_handle(ke: Ke) -> None:
    ask, answer = await ke.ask_and_answer()
    asking = asyncio.create_task(
        ke.expect(200, "POST", "/sc/ask", kb=A, ki=ask, json=[{"t": "<http://example.org/oak>"}])
    )
    request = await ke.next_request(B)
    assert request == {
        "knowledgeInteractionId": answer,
        "handleRequestId": 1,
        "bindingSet": [{"x": "<http://example.org/oak>"}],
        "requestingKnowledgeBaseId": A,
    }
    await ke.expect(
        200,
        "POST",
        "/sc/handle",
        kb=B,
        ki=answer,
        json={"handleRequestId": 1, "bindingSet": [{"x": "<http://example.org/oak>", "y": "1"}]},
    )
    await finish(asking)

    # 409 while a poll is held, 410 to the held poll when the KB is deleted, 404 afterwards.
    while not ke.engine.polls_entered.empty():
        ke.engine.polls_entered.get_nowait()
    held = asyncio.create_task(ke.send("GET", "/sc/handle", kb=B))
    async with asyncio.timeout(10):
        assert await ke.engine.polls_entered.get() == B
    conflict = await ke.expect(409, "GET", "/sc/handle", kb=B)
    assert conflict.json()["message"] == (
        "Only one connection per Knowledge-Base-Id is allowed and we already have one."
    )
    await ke.expect(200, "DELETE", "/sc", kb=B)
    stopped = await finish(held)
    assert stopped.status_code == 410
    ke.conform(stopped)
    assert stopped.json() == {
        "messageType": "message",
        "message": "This long polling request is cancelled by the server because it or the "
        "Knowledge Base is stopping. Do not reinitiate this request.",
    }
    gone = await ke.expect(404, "GET", "/sc/handle", kb=B)
    assert gone.json()["message"] == (
        "A Knowledge Base for the given Knowledge-Base-Id cannot be found."
    )


async def test_get_sc_handle_heartbeat_without_answer_or_react_kis(ke: Ke) -> None:
    ke.engine.heartbeat = 0.05
    await ke.register(A)
    heartbeat = await ke.expect(202, "GET", "/sc/handle", kb=A)
    assert heartbeat.json()["messageType"] == "info"
    assert heartbeat.json()["message"].startswith(
        "This is a heartbeat message that the server is still alive"
    )
    assert f"Knowledge Base '{A}' does not have any Answer or React" in heartbeat.json()["message"]


async def test_post_sc_handle(ke: Ke) -> None:
    ask, answer = await ke.ask_and_answer()
    asking = asyncio.create_task(ke.expect(200, "POST", "/sc/ask", kb=A, ki=ask, json=[]))
    request = await ke.next_request(B)
    number = request["handleRequestId"]
    incomplete = await ke.expect(
        400,
        "POST",
        "/sc/handle",
        kb=B,
        ki=answer,
        json={"handleRequestId": number, "bindingSet": [{"x": "<http://example.org/oak>"}]},
    )
    assert incomplete.json()["message"].startswith("Expected a complete binding")
    # 2.14: an unknown KI is a 400 (the YAML says 404; 400 is also in the YAML).
    unknown_ki = await ke.expect(
        400,
        "POST",
        "/sc/handle",
        kb=B,
        ki=f"{B}/interaction/nope",
        json={"handleRequestId": number, "bindingSet": []},
    )
    assert unknown_ki.json()["message"].startswith(
        "Knowledge Interaction not found, because its ID must match an existing KI"
    )
    no_id = await ke.expect(400, "POST", "/sc/handle", kb=B, ki=answer, json={"bindingSet": []})
    assert no_id.json()["message"] == "The handleRequestId property is mandatory, but not provided."
    unknown_id = await ke.expect(
        404, "POST", "/sc/handle", kb=B, ki=answer, json={"handleRequestId": 77, "bindingSet": []}
    )
    assert unknown_id.json()["message"] == (
        "Handle request id 77 not found. Are you sure it is still being processed?"
    )
    no_kb = await ke.expect(
        404,
        "POST",
        "/sc/handle",
        kb=f"{EX}kb/nobody",
        ki=answer,
        json={"handleRequestId": 1, "bindingSet": []},
    )
    assert no_kb.json()["message"] == (
        "A Knowledge Base for the given Knowledge-Base-Id cannot be found."
    )
    await finish(asking)


# ---------------------------------------------------------------------- /sc/knowledge


async def test_post_sc_knowledge(ke: Ke) -> None:
    await ke.register(A)
    rules = "-> (<http://example.org/a> <http://example.org/b> <http://example.org/c>) ."
    ok = await ke.expect(
        200,
        "POST",
        "/sc/knowledge",
        kb=A,
        content=rules,
        headers={"Content-Type": "text/plain; charset=UTF-8"},
    )
    assert ok.content == b""
    assert ke.engine.domain_knowledge(A) == rules
    # Python examples post without a Content-Type (section 1).
    await ke.expect(200, "POST", "/sc/knowledge", kb=A, content="")
    assert ke.engine.domain_knowledge(A) == ""
    missing = await ke.expect(400, "POST", "/sc/knowledge", content=rules)
    assert missing.json()["message"] == "Missing valid Knowledge-Base-Id header."
    unknown = await ke.expect(404, "POST", "/sc/knowledge", kb=f"{EX}kb/nobody", content=rules)
    assert unknown.json()["message"] == "Knowledge base not found. (Has its lease already expired?)"


# ---------------------------------------------------------------------- where the KE departs


@dataclasses.dataclass(frozen=True)
class Departure:
    """A response the reference says the real KE gives although the YAML does not list it."""

    status: int
    reason: str
    scenario: Callable[[Ke], Awaitable[httpx.Response]]
    message: str | None = None  # None: the body must be empty


async def _get_sc_invalid_id(ke: Ke) -> httpx.Response:
    return await ke.send("GET", "/sc", kb="not a uri")


async def _get_sc_ki_unknown_kb(ke: Ke) -> httpx.Response:
    return await ke.send("GET", "/sc/ki", kb=f"{EX}kb/nobody")


async def _empty_heartbeat(ke: Ke) -> httpx.Response:
    ke.engine.heartbeat = 0.05
    await ke.ask_and_answer()
    return await ke.send("GET", "/sc/handle", kb=B)


async def _delete_sc_without_header(ke: Ke) -> httpx.Response:
    return await ke.send("DELETE", "/sc")


async def _post_sc_post_bad_body(ke: Ke) -> httpx.Response:
    await ke.register(A)
    post = await ke.ki(
        A, {"knowledgeInteractionType": "PostKnowledgeInteraction", "argumentGraphPattern": PATTERN}
    )
    return await ke.send("POST", "/sc/post", kb=A, ki=post, json={"bindingSet": []})


DEPARTURES = {
    "GET /sc 400": Departure(
        400,
        "2.14: GET /sc with an invalid Knowledge-Base-Id is a 400 the YAML does not list",
        _get_sc_invalid_id,
        "Knowledge base not found, because its ID must be a valid URI.",
    ),
    "GET /sc/ki 404": Departure(
        404,
        "2.14: GET /sc/ki for an unknown KB is a 404 the YAML does not list",
        _get_sc_ki_unknown_kb,
        "Knowledge base not found, because its knowledge base ID is unknown.",
    ),
    "GET /sc/handle 202 empty": Departure(
        202,
        "2.11: the heartbeat of a KB with ANSWER/REACT KIs has an empty body; the YAML "
        "declares a ResponseMessage",
        _empty_heartbeat,
    ),
    "DELETE /sc 400": Departure(
        400,
        "2.4: DELETE /sc without a Knowledge-Base-Id is a 400 the YAML does not list",
        _delete_sc_without_header,
        "Knowledge-Base-Id header should not be null.",
    ),
    "POST /sc/post 400": Departure(
        400,
        "2.10: /sc/post has /sc/ask's 400s, which the YAML does not list for /sc/post",
        _post_sc_post_bad_body,
        "The JSON Object should contain both a recipientSelector and bindingSet key.",
    ),
}
# Not reachable on the local engine, so neither checked nor skipped here: the 410 of /sc/ask and
# /sc/post while the SC is stopping (2.14), and the 500s (never produced by KE code).


@pytest.mark.parametrize(
    "name",
    [pytest.param(name, marks=pytest.mark.skip(reason=d.reason)) for name, d in DEPARTURES.items()],
)
async def test_schema_of_departures(ke: Ke, name: str) -> None:
    """Skipped: the YAML has no schema for these; see test_departures_follow_the_reference."""
    ke.conform(await DEPARTURES[name].scenario(ke))


@pytest.mark.parametrize("name", list(DEPARTURES))
async def test_departures_follow_the_reference(ke: Ke, name: str) -> None:
    departure = DEPARTURES[name]
    response = await departure.scenario(ke)
    assert response.status_code == departure.status, response.text
    if departure.message is None:
        assert response.content == b""
    else:
        assert response.json() == {"messageType": "error", "message": departure.message}


async def test_paths_answer_with_a_trailing_slash_too(ke: Ke) -> None:
    """Section 1: ``/rest/sc/`` and ``/rest/sc/ki/`` work as the paths without the slash."""
    response = await ke.client.post(
        "/rest/sc/",
        json={"knowledgeBaseId": A, "knowledgeBaseName": "a", "knowledgeBaseDescription": ""},
    )
    assert response.status_code == 200
    response = await ke.client.post(
        "/rest/sc/ki/",
        headers={"Knowledge-Base-Id": A},
        json={"knowledgeInteractionType": "AskKnowledgeInteraction", "graphPattern": PATTERN},
    )
    assert response.status_code == 200
    assert response.json()["knowledgeInteractionId"].startswith(f"{A}/interaction/")
    assert response.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        ("GET", "/version", 200, b'{"version":1}'),
        ("POST", "/sc/ask", 200, b'{"bindingSet":[]}'),
        ("GET", "/sc/handle", 200, b'{"handleRequestId":"one"}'),
        ("GET", "/sc", 200, b'[{"knowledgeBaseId":"x"}]'),
        ("GET", "/sc/ki", 404, b'{"message":"no"}'),
    ],
)
def test_the_check_rejects_what_does_not_conform(
    api: OpenAPI, method: str, path: str, status: int, body: bytes
) -> None:
    """The harness is no rubber stamp: wrong shapes and undeclared statuses fail it."""
    request = httpx.Request(method, f"{BASE}/rest{path}")
    response = httpx.Response(
        status, content=body, headers={"Content-Type": "application/json"}, request=request
    )
    with pytest.raises(OpenAPIError):
        conform(api, response)


# ---------------------------------------------------------------- finding the spec


def test_the_spec_is_read_from_the_directory_of_the_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / SPEC).write_text("openapi: 3.0.1\n", encoding="utf-8")
    monkeypatch.setenv(SETTING, str(tmp_path))

    assert require_reference(SPEC) == tmp_path / SPEC


def test_a_missing_spec_skips_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(SETTING, str(tmp_path))
    monkeypatch.delenv(REQUIRED_SETTING, raising=False)

    with pytest.raises(pytest.skip.Exception) as skipped:
        require_reference(SPEC)
    assert str(skipped.value) == (
        f"the KE reference file openapi-sc.yaml is not in {tmp_path} "
        "(set KM_TEST_KE_REFERENCE to the directory that holds it)"
    )


def test_a_missing_spec_fails_where_it_is_required(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """As under ``.ci/run``: the contract check may not be skipped there."""
    monkeypatch.setenv(SETTING, str(tmp_path))
    monkeypatch.setenv(REQUIRED_SETTING, "1")

    with pytest.raises(pytest.fail.Exception) as failed:
        require_reference(SPEC)
    assert f"openapi-sc.yaml is not in {tmp_path}" in str(failed.value)
    assert "KM_TEST_KE_REFERENCE_REQUIRED is set" in str(failed.value)
