"""HttpxClient against a respx-mocked KE: every endpoint's request, answer and error statuses.

The requests, answers and error texts are those of the KE reference (ke-rest-api.md, section 2
and 3, and openapi-sc.yaml): what the client sends must be exactly what the KE expects, and each
status the KE can answer with must become the SDK error the reference's status calls for.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from km_core import (
    AskExchangeInfo,
    AskResult,
    BindingSet,
    ExchangeStatus,
    HandleRequest,
    HandleResponse,
    KnowledgeBaseInfo,
    KnowledgeEngineResponseError,
    KnowledgeEngineServerError,
    KnowledgeInteractionInfo,
    KnowledgeInteractionRegistration,
    KnowledgeInteractionType,
    LeaseInfo,
    PollConflictError,
    PollResult,
    PostExchangeInfo,
    PostResult,
    SmartConnectorNotFoundError,
)
from km_httpx import HttpxClient
from km_httpx._reregistration import REREGISTER_ATTEMPTS
from tests.httpx.conftest import BASE_URL

KB_ID = "http://example.org/kb/alpha"
OTHER_KB = "http://example.org/kb/beta"
ASK_KI = f"{KB_ID}/interaction/ask-relations"
POST_KI = f"{KB_ID}/interaction/post-measurements"
ANSWER_KI = f"{KB_ID}/interaction/answer-relations"
INFORM = "https://w3id.org/knowledge-engine/InformPurpose"

# The ask/post request bodies of openapi-sc.yaml ("bindingset only", "recipient and bindingset").
BINDING_SET: BindingSet = [
    {
        "p": "<http://www.example.org/s1>",
        "q": "<http://www.example.org/p1>",
        "r": "<http://www.example.org/o1>",
    }
]
RECIPIENTS = ["http://www.example.org/kb2", "http://www.example.org/kb3"]

# The /sc/knowledge example of openapi-sc.yaml, plus a non-ASCII comment to check the encoding.
DOMAIN_KNOWLEDGE = (
    "#domain facts (naïve café)\n"
    "-> ( saref:Sensor rdfs:subClassOf saref:Device ) .\n"
    "\n"
    "#domain rules\n"
    "(?x rdfs:subClassOf ?y), (?a rdf:type ?x) -> (?a rdf:type ?y) .\n"
)

HEARTBEAT = (
    "This is a heartbeat message that the server is still alive, please renew your long "
    "polling request to be notified of future KI activations. Knowledge Base "
    f"'{KB_ID}' does not have any Answer or React Knowledge Interaction registered. Only "
    "those two types of Knowledge Interactions require the usage of this long polling method."
)
POLL_CANCELLED = (
    "This long polling request is cancelled by the server because it or the Knowledge Base is "
    "stopping. Do not reinitiate this request."
)
ALREADY_IN_USE = "That knowledge base ID is already in use."
# The reference gives no text for some statuses (a 500 the KE code never produces itself).
NO_REFERENCE_TEXT = "java.lang.NullPointerException"


# ---------------------------------------------------------------- helpers


def ke_message(message: str, message_type: str = "error") -> dict[str, str]:
    """The KE's `ResponseMessage` body."""
    return {"messageType": message_type, "message": message}


def only_request(route: respx.Route) -> httpx.Request:
    """The one request the route received."""
    assert route.call_count == 1, f"expected one request, got {route.call_count}"
    request: httpx.Request = route.calls.last.request
    return request


def ke_headers(request: httpx.Request) -> dict[str, str]:
    """The request's ``Knowledge-*`` headers, with their names spelt as sent."""
    return {
        name.decode(): value.decode()
        for name, value in request.headers.raw
        if name.lower().startswith(b"knowledge-")
    }


def assert_request(
    request: httpx.Request,
    method: str,
    path: str,
    headers: dict[str, str],
) -> None:
    """Method, URL (no query string) and the exact Knowledge-* headers."""
    assert request.method == method
    assert str(request.url) == BASE_URL + path
    assert ke_headers(request) == headers


def sent_json(request: httpx.Request) -> Any:
    """The request's JSON body; fails unless it is sent as JSON."""
    assert request.headers["Content-Type"].startswith("application/json")
    return json.loads(request.content)


def assert_no_body(request: httpx.Request) -> None:
    assert request.content == b""
    assert "Content-Type" not in request.headers


# ---------------------------------------------------------------- example documents

KB_WITH_LEASE = {
    "knowledgeBaseId": KB_ID,
    "knowledgeBaseName": "Alpha",
    "knowledgeBaseDescription": "The first knowledge base",
    "leaseRenewalTime": 60,
    "reasonerLevel": 2,
}
KB_WITHOUT_LEASE = {
    "knowledgeBaseId": OTHER_KB,
    "knowledgeBaseName": "Beta",
    "knowledgeBaseDescription": "The second knowledge base",
    "reasonerLevel": 2,
}

KI_ASK_LISTED = {
    "knowledgeInteractionId": ASK_KI,
    "knowledgeInteractionType": "AskKnowledgeInteraction",
    "knowledgeInteractionName": "ask-relations",
    "knowledgeGapsEnabled": False,
    "communicativeAct": {"requiredPurposes": [INFORM], "satisfiedPurposes": [INFORM]},
    "graphPattern": "?a <http://example.org/isRelatedTo> ?b . ",
}
KI_REACT_LISTED = {
    "knowledgeInteractionId": f"{KB_ID}/interaction/0b0e9f1c-3f5e-4a47-9d9b-51b1d3f4a6a2",
    "knowledgeInteractionType": "ReactKnowledgeInteraction",
    "knowledgeGapsEnabled": False,
    "communicativeAct": {"requiredPurposes": [INFORM], "satisfiedPurposes": [INFORM]},
    "argumentGraphPattern": "?m <http://example.org/hasValueInMeters> ?v . ",
    "resultGraphPattern": "?m <http://example.org/hasValueInYards> ?y . ",
}

ASK_RESULT = {  # ke-rest-api.md section 5.3
    "bindingSet": [{"a": "<http://example.org/Barry>", "b": "<http://example.org/Jack>"}],
    "exchangeInfo": [
        {
            "initiator": "knowledgeBase",
            "knowledgeBaseId": "http://example.org/kb2",
            "knowledgeInteractionId": "http://example.org/kb2/interaction/answer-relations",
            "exchangeStart": "2026-06-29T11:37:33.101+00:00",
            "exchangeEnd": "2026-06-29T11:37:33.187+00:00",
            "status": "SUCCEEDED",
            "bindingSet": [{"x": "<http://example.org/Barry>", "y": "<http://example.org/Jack>"}],
        }
    ],
}

POST_RESULT = {
    "resultBindingSet": [{"y": '"1.0936"^^<http://www.w3.org/2001/XMLSchema#decimal>'}],
    "exchangeInfo": [
        {
            "initiator": "knowledgeBase",
            "knowledgeBaseId": "http://example.org/kb2",
            "knowledgeInteractionId": "http://example.org/kb2/interaction/react-convert",
            "exchangeStart": "2026-06-29T11:37:33.101+00:00",
            "exchangeEnd": "2026-06-29T11:37:33.187+00:00",
            "status": "SUCCEEDED",
            "argumentBindingSet": [{"v": '"1"^^<http://www.w3.org/2001/XMLSchema#integer>'}],
            "resultBindingSet": [{"w": '"1.0936"^^<http://www.w3.org/2001/XMLSchema#decimal>'}],
        },
        {
            "initiator": "knowledgeBase",
            "knowledgeBaseId": "http://example.org/kb3",
            "knowledgeInteractionId": "http://example.org/kb3/interaction/react-slow",
            "exchangeStart": "2026-06-29T11:37:33.101+00:00",
            "exchangeEnd": "2026-06-29T11:37:43.105+00:00",
            "status": "FAILED",
            "failedMessage": "Error 'TimeoutException' occurred while waiting for response to "
            "message: 4b1d9a9e-32c4-4c85-9d0e-6a5a2b1c0f11",
            "argumentBindingSet": [{"v": '"1"^^<http://www.w3.org/2001/XMLSchema#integer>'}],
            "resultBindingSet": [],
        },
    ],
}

HANDLE_REQUEST = {  # ke-rest-api.md section 2.11
    "knowledgeInteractionId": ANSWER_KI,
    "handleRequestId": 7,
    "bindingSet": [{"a": "<http://example.org/Barry>"}],
    "requestingKnowledgeBaseId": OTHER_KB,
}


# ---------------------------------------------------------------- the success paths


async def test_get_version(ke: respx.MockRouter, client: HttpxClient) -> None:
    route = ke.route().respond(200, json={"version": "1.5.0"})

    assert await client.get_version() == "1.5.0"

    request = only_request(route)
    assert_request(request, "GET", "/version", {})
    assert_no_body(request)


async def test_list_kbs_sends_no_kb_header(ke: respx.MockRouter, client: HttpxClient) -> None:
    route = ke.route().respond(200, json=[KB_WITH_LEASE, KB_WITHOUT_LEASE])

    kbs = await client.list_kbs()

    assert kbs == [
        KnowledgeBaseInfo(
            knowledge_base_id=KB_ID,
            knowledge_base_name="Alpha",
            knowledge_base_description="The first knowledge base",
            lease_renewal_time=60,
            reasoner_level=2,
        ),
        KnowledgeBaseInfo(
            knowledge_base_id=OTHER_KB,
            knowledge_base_name="Beta",
            knowledge_base_description="The second knowledge base",
            reasoner_level=2,
        ),
    ]
    assert kbs[1].lease_renewal_time is None
    request = only_request(route)
    assert_request(request, "GET", "/sc", {})
    assert_no_body(request)


async def test_list_kbs_of_an_empty_ke(ke: respx.MockRouter, client: HttpxClient) -> None:
    ke.route().respond(200, json=[])

    assert await client.list_kbs() == []


async def test_get_kb_sends_the_kb_header(ke: respx.MockRouter, client: HttpxClient) -> None:
    route = ke.route().respond(200, json=[KB_WITH_LEASE])

    kb = await client.get_kb(KB_ID)

    assert isinstance(kb, KnowledgeBaseInfo)
    assert kb == KnowledgeBaseInfo.model_validate(KB_WITH_LEASE)
    assert kb.knowledge_base_name == "Alpha"
    request = only_request(route)
    assert_request(request, "GET", "/sc", {"Knowledge-Base-Id": KB_ID})
    assert_no_body(request)


async def test_get_kb_returns_none_on_404(ke: respx.MockRouter, client: HttpxClient) -> None:
    route = ke.route().respond(404, json=ke_message("Knowledge base not found."))

    assert await client.get_kb(KB_ID) is None
    assert_request(only_request(route), "GET", "/sc", {"Knowledge-Base-Id": KB_ID})


@pytest.mark.parametrize(
    ("kb", "body"),
    [
        pytest.param(
            KnowledgeBaseInfo(
                knowledge_base_id=KB_ID,
                knowledge_base_name="Alpha",
                knowledge_base_description="The first knowledge base",
                lease_renewal_time=60,
                reasoner_level=4,
            ),
            {
                "knowledgeBaseId": KB_ID,
                "knowledgeBaseName": "Alpha",
                "knowledgeBaseDescription": "The first knowledge base",
                "leaseRenewalTime": 60,
                "reasonerLevel": 4,
            },
            id="with-lease-and-level",
        ),
        pytest.param(
            KnowledgeBaseInfo(
                knowledge_base_id=KB_ID,
                knowledge_base_name="Alpha",
                knowledge_base_description="",
            ),
            {
                "knowledgeBaseId": KB_ID,
                "knowledgeBaseName": "Alpha",
                "knowledgeBaseDescription": "",
            },
            id="without-optional-fields",
        ),
    ],
)
async def test_register_kb(
    ke: respx.MockRouter, client: HttpxClient, kb: KnowledgeBaseInfo, body: dict[str, Any]
) -> None:
    route = ke.route().respond(200)

    assert await client.register_kb(kb) is None

    request = only_request(route)
    assert_request(request, "POST", "/sc", {})  # the KB is in the body, not in a header
    assert sent_json(request) == body


async def test_unregister_kb(ke: respx.MockRouter, client: HttpxClient) -> None:
    route = ke.route().respond(200)

    assert await client.unregister_kb(KB_ID) is None

    request = only_request(route)
    assert_request(request, "DELETE", "/sc", {"Knowledge-Base-Id": KB_ID})
    assert_no_body(request)


async def test_renew_lease(ke: respx.MockRouter, client: HttpxClient) -> None:
    route = ke.route().respond(
        200, json={"knowledgeBaseId": KB_ID, "expires": "2026-06-29T11:37:33.123+00:00"}
    )

    lease = await client.renew_lease(KB_ID)

    assert lease == LeaseInfo(
        knowledge_base_id=KB_ID, expires=datetime(2026, 6, 29, 11, 37, 33, 123000, tzinfo=UTC)
    )
    assert lease.expires.utcoffset() is not None
    request = only_request(route)
    assert_request(request, "PUT", "/sc/lease/renew", {"Knowledge-Base-Id": KB_ID})
    assert_no_body(request)


async def test_list_kis(ke: respx.MockRouter, client: HttpxClient) -> None:
    route = ke.route().respond(200, json=[KI_ASK_LISTED, KI_REACT_LISTED])

    kis = await client.list_kis(KB_ID)

    assert all(isinstance(ki, KnowledgeInteractionInfo) for ki in kis)
    ask, react = kis
    assert ask.knowledge_interaction_id == ASK_KI
    assert ask.knowledge_interaction_type is KnowledgeInteractionType.ASK
    assert ask.knowledge_interaction_name == "ask-relations"
    assert ask.graph_pattern == "?a <http://example.org/isRelatedTo> ?b . "
    assert ask.knowledge_gaps_enabled is False
    assert ask.communicative_act is not None
    assert ask.communicative_act.required_purposes == [INFORM]
    assert react.knowledge_interaction_type is KnowledgeInteractionType.REACT
    assert react.knowledge_interaction_name is None
    assert react.graph_pattern is None
    assert react.argument_graph_pattern == "?m <http://example.org/hasValueInMeters> ?v . "
    assert react.result_graph_pattern == "?m <http://example.org/hasValueInYards> ?y . "
    request = only_request(route)
    assert_request(request, "GET", "/sc/ki", {"Knowledge-Base-Id": KB_ID})
    assert_no_body(request)


@pytest.mark.parametrize(
    ("registration", "body"),
    [
        pytest.param(
            KnowledgeInteractionRegistration(
                knowledge_interaction_type=KnowledgeInteractionType.ASK,
                knowledge_interaction_name="ask-relations",
                graph_pattern="?a ex:isRelatedTo ?b .",
                prefixes={"ex": "http://example.org/"},
                communicative_act={"required_purposes": [INFORM], "satisfied_purposes": [INFORM]},
                knowledge_gaps_enabled=True,
                include_meta_kis=False,
            ),
            {
                "knowledgeInteractionType": "AskKnowledgeInteraction",
                "knowledgeInteractionName": "ask-relations",
                "graphPattern": "?a ex:isRelatedTo ?b .",
                "prefixes": {"ex": "http://example.org/"},
                "communicativeAct": {"requiredPurposes": [INFORM], "satisfiedPurposes": [INFORM]},
                "knowledgeGapsEnabled": True,
                "includeMetaKIs": False,
            },
            id="ask-with-every-field",
        ),
        pytest.param(
            KnowledgeInteractionRegistration(
                knowledge_interaction_type=KnowledgeInteractionType.REACT,
                argument_graph_pattern="?m <http://example.org/hasValueInMeters> ?v .",
            ),
            {
                "knowledgeInteractionType": "ReactKnowledgeInteraction",
                "argumentGraphPattern": "?m <http://example.org/hasValueInMeters> ?v .",
            },
            id="react-without-optional-fields",
        ),
    ],
)
async def test_register_ki(
    ke: respx.MockRouter,
    client: HttpxClient,
    registration: KnowledgeInteractionRegistration,
    body: dict[str, Any],
) -> None:
    route = ke.route().respond(200, json={"knowledgeInteractionId": ASK_KI})

    assert await client.register_ki(KB_ID, registration) == ASK_KI

    request = only_request(route)
    assert_request(request, "POST", "/sc/ki", {"Knowledge-Base-Id": KB_ID})
    assert sent_json(request) == body


async def test_unregister_ki(ke: respx.MockRouter, client: HttpxClient) -> None:
    route = ke.route().respond(200)

    assert await client.unregister_ki(KB_ID, ASK_KI) is None

    request = only_request(route)
    assert_request(
        request,
        "DELETE",
        "/sc/ki",
        {"Knowledge-Base-Id": KB_ID, "Knowledge-Interaction-Id": ASK_KI},
    )
    assert_no_body(request)


PROACTIVE_BODIES = [
    pytest.param(None, BINDING_SET, id="bare-binding-set"),
    pytest.param(
        RECIPIENTS,
        {"recipientSelector": {"knowledgeBases": RECIPIENTS}, "bindingSet": BINDING_SET},
        id="recipient-selector",
    ),
]


@pytest.mark.parametrize(("recipients", "body"), PROACTIVE_BODIES)
async def test_ask(
    ke: respx.MockRouter, client: HttpxClient, recipients: list[str] | None, body: Any
) -> None:
    route = ke.route().respond(200, json=ASK_RESULT)

    result = await client.ask(KB_ID, ASK_KI, BINDING_SET, recipients=recipients)

    assert isinstance(result, AskResult)
    assert result.binding_set == ASK_RESULT["bindingSet"]
    assert result.knowledge_gaps is None
    (exchange,) = result.exchange_info
    assert isinstance(exchange, AskExchangeInfo)
    assert exchange.knowledge_base_id == "http://example.org/kb2"
    assert exchange.knowledge_interaction_id == (
        "http://example.org/kb2/interaction/answer-relations"
    )
    assert exchange.status is ExchangeStatus.SUCCEEDED
    assert exchange.exchange_start == datetime(2026, 6, 29, 11, 37, 33, 101000, tzinfo=UTC)
    assert exchange.exchange_end == datetime(2026, 6, 29, 11, 37, 33, 187000, tzinfo=UTC)
    assert exchange.binding_set == [
        {"x": "<http://example.org/Barry>", "y": "<http://example.org/Jack>"}
    ]
    request = only_request(route)
    assert_request(
        request,
        "POST",
        "/sc/ask",
        {"Knowledge-Base-Id": KB_ID, "Knowledge-Interaction-Id": ASK_KI},
    )
    assert sent_json(request) == body


async def test_ask_with_knowledge_gaps(ke: respx.MockRouter, client: HttpxClient) -> None:
    gaps = [["?a <http://example.org/isFatherOf> ?c"]]
    ke.route().respond(200, json={"bindingSet": [], "exchangeInfo": [], "knowledgeGaps": gaps})

    result = await client.ask(KB_ID, ASK_KI, [{}])

    assert result == AskResult(binding_set=[], exchange_info=[], knowledge_gaps=gaps)


@pytest.mark.parametrize(("recipients", "body"), PROACTIVE_BODIES)
async def test_post(
    ke: respx.MockRouter, client: HttpxClient, recipients: list[str] | None, body: Any
) -> None:
    route = ke.route().respond(200, json=POST_RESULT)

    result = await client.post(KB_ID, POST_KI, BINDING_SET, recipients=recipients)

    assert isinstance(result, PostResult)
    assert result.result_binding_set == POST_RESULT["resultBindingSet"]
    succeeded, failed = result.exchange_info
    assert isinstance(succeeded, PostExchangeInfo)
    assert succeeded.status is ExchangeStatus.SUCCEEDED
    assert succeeded.failed_message is None
    assert succeeded.argument_binding_set == [
        {"v": '"1"^^<http://www.w3.org/2001/XMLSchema#integer>'}
    ]
    assert succeeded.result_binding_set == [
        {"w": '"1.0936"^^<http://www.w3.org/2001/XMLSchema#decimal>'}
    ]
    assert failed.status is ExchangeStatus.FAILED
    assert failed.failed_message is not None
    assert failed.failed_message.startswith("Error 'TimeoutException' occurred")
    assert failed.result_binding_set == []
    request = only_request(route)
    assert_request(
        request,
        "POST",
        "/sc/post",
        {"Knowledge-Base-Id": KB_ID, "Knowledge-Interaction-Id": POST_KI},
    )
    assert sent_json(request) == body


async def test_poll_delivers_a_handle_request(ke: respx.MockRouter, client: HttpxClient) -> None:
    route = ke.route().respond(200, json=HANDLE_REQUEST)

    result, request = await client.poll_ki_call(KB_ID)

    assert result is PollResult.HANDLE
    assert request == HandleRequest(
        knowledge_interaction_id=ANSWER_KI,
        handle_request_id=7,
        binding_set=[{"a": "<http://example.org/Barry>"}],
        requesting_knowledge_base_id=OTHER_KB,
    )
    sent = only_request(route)
    assert_request(sent, "GET", "/sc/handle", {"Knowledge-Base-Id": KB_ID})
    assert_no_body(sent)


@pytest.mark.parametrize(
    "response",
    [
        pytest.param(httpx.Response(202), id="empty-body"),
        pytest.param(httpx.Response(202, json=ke_message(HEARTBEAT, "info")), id="info-body"),
    ],
)
async def test_poll_heartbeat_means_poll_again(
    ke: respx.MockRouter, client: HttpxClient, response: httpx.Response
) -> None:
    route = ke.route().mock(return_value=response)

    assert await client.poll_ki_call(KB_ID) == (PollResult.REPOLL, None)
    assert_request(only_request(route), "GET", "/sc/handle", {"Knowledge-Base-Id": KB_ID})


async def test_poll_410_means_stop_polling(ke: respx.MockRouter, client: HttpxClient) -> None:
    route = ke.route().respond(410, json=ke_message(POLL_CANCELLED, "message"))

    assert await client.poll_ki_call(KB_ID) == (PollResult.EXIT, None)
    assert_request(only_request(route), "GET", "/sc/handle", {"Knowledge-Base-Id": KB_ID})


def recording_read_timeouts(reads: list[float | None]) -> Callable[[httpx.Request], httpx.Response]:
    def heartbeat(request: httpx.Request) -> httpx.Response:
        reads.append(request.extensions["timeout"]["read"])
        return httpx.Response(202)

    return heartbeat


async def test_poll_waits_longer_than_the_ke_heartbeat(
    ke: respx.MockRouter, client: HttpxClient
) -> None:
    reads: list[float | None] = []
    ke.route().mock(side_effect=recording_read_timeouts(reads))

    await client.poll_ki_call(KB_ID)

    (read,) = reads
    assert read is not None
    assert read > 29


async def test_poll_uses_the_configured_poll_timeout(ke: respx.MockRouter) -> None:
    reads: list[float | None] = []
    ke.route().mock(side_effect=recording_read_timeouts(reads))

    async with HttpxClient(BASE_URL, poll_timeout=45.0) as client:
        await client.poll_ki_call(KB_ID)

    assert reads == [45.0]


@pytest.mark.parametrize(
    ("response", "body"),
    [
        pytest.param(
            HandleResponse(handle_request_id=7, binding_set=[{"a": "<http://example.org/x>"}]),
            {"handleRequestId": 7, "bindingSet": [{"a": "<http://example.org/x>"}]},
            id="binding-set",
        ),
        pytest.param(
            HandleResponse(handle_request_id=7, binding_set=[]),
            {"handleRequestId": 7, "bindingSet": []},
            id="empty-binding-set",
        ),
        pytest.param(
            HandleResponse(handle_request_id=7, error_message="Database connection lost."),
            {"handleRequestId": 7, "errorMessage": "Database connection lost."},
            id="error-message",
        ),
    ],
)
async def test_post_handle_response(
    ke: respx.MockRouter, client: HttpxClient, response: HandleResponse, body: dict[str, Any]
) -> None:
    route = ke.route().respond(200)

    assert await client.post_handle_response(KB_ID, ANSWER_KI, response) is None

    request = only_request(route)
    assert_request(
        request,
        "POST",
        "/sc/handle",
        {"Knowledge-Base-Id": KB_ID, "Knowledge-Interaction-Id": ANSWER_KI},
    )
    assert sent_json(request) == body


async def test_upload_domain_knowledge(ke: respx.MockRouter, client: HttpxClient) -> None:
    route = ke.route().respond(200)

    assert await client.upload_domain_knowledge(KB_ID, DOMAIN_KNOWLEDGE) is None

    request = only_request(route)
    assert_request(request, "POST", "/sc/knowledge", {"Knowledge-Base-Id": KB_ID})
    assert request.headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert request.content == DOMAIN_KNOWLEDGE.encode("utf-8")


async def test_upload_of_empty_domain_knowledge_clears_it(
    ke: respx.MockRouter, client: HttpxClient
) -> None:
    route = ke.route().respond(200)

    await client.upload_domain_knowledge(KB_ID, "")

    request = only_request(route)
    assert request.headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert request.content == b""


# ---------------------------------------------------------------- register_kb(reregister=...)

KB = KnowledgeBaseInfo.model_validate(KB_WITH_LEASE)


def calls_of(ke: respx.MockRouter) -> list[tuple[str, str]]:
    return [(call.request.method, call.request.url.path) for call in ke.calls]


async def test_reregister_deletes_the_existing_kb_and_registers_again(
    ke: respx.MockRouter, client: HttpxClient
) -> None:
    ke.post("/sc").mock(
        side_effect=[
            httpx.Response(400, json=ke_message(ALREADY_IN_USE)),
            httpx.Response(200),
        ]
    )
    ke.delete("/sc").respond(200)

    assert await client.register_kb(KB, reregister=True) is None

    assert calls_of(ke) == [("POST", "/rest/sc"), ("DELETE", "/rest/sc"), ("POST", "/rest/sc")]
    first, delete, second = (call.request for call in ke.calls)
    assert ke_headers(delete) == {"Knowledge-Base-Id": KB_ID}
    assert ke_headers(first) == ke_headers(second) == {}
    assert sent_json(first) == sent_json(second) == KB_WITH_LEASE


async def test_without_reregister_an_id_in_use_raises(
    ke: respx.MockRouter, client: HttpxClient
) -> None:
    ke.post("/sc").respond(400, json=ke_message(ALREADY_IN_USE))

    with pytest.raises(KnowledgeEngineResponseError) as caught:
        await client.register_kb(KB)

    assert type(caught.value) is KnowledgeEngineResponseError
    assert caught.value.status_code == 400
    assert caught.value.message == ALREADY_IN_USE
    assert caught.value.kb_id == KB_ID
    assert calls_of(ke) == [("POST", "/rest/sc")]


async def test_reregister_raises_other_400s_without_deleting(
    ke: respx.MockRouter, client: HttpxClient
) -> None:
    message = "The reasoner level should be between 1 and 5, inclusive and not 2"
    ke.post("/sc").respond(400, json=ke_message(message))

    with pytest.raises(KnowledgeEngineResponseError) as caught:
        await client.register_kb(KB, reregister=True)

    assert caught.value.status_code == 400
    assert caught.value.message == message
    assert calls_of(ke) == [("POST", "/rest/sc")]


async def test_reregister_raises_when_the_id_stays_in_use(
    ke: respx.MockRouter, client: HttpxClient
) -> None:
    ke.post("/sc").respond(400, json=ke_message(ALREADY_IN_USE))
    ke.delete("/sc").respond(200)

    with pytest.raises(KnowledgeEngineResponseError) as caught:
        await client.register_kb(KB, reregister=True)

    # Another registration slipping in after each DELETE: it deletes again, a bounded number
    # of times.
    assert calls_of(ke) == [("POST", "/rest/sc"), ("DELETE", "/rest/sc")] * (
        REREGISTER_ATTEMPTS - 1
    ) + [("POST", "/rest/sc")]
    assert caught.value.status_code == 400
    assert caught.value.message == ALREADY_IN_USE
    assert caught.value.endpoint == "POST /sc"
    assert caught.value.kb_id == KB_ID


# ---------------------------------------------------------------- ke_is_available


@pytest.mark.parametrize(
    ("response", "available"),
    [
        pytest.param(httpx.Response(200, json={"version": "1.5.0"}), True, id="200-version"),
        pytest.param(
            httpx.Response(500, json=ke_message(NO_REFERENCE_TEXT)), False, id="500-error"
        ),
        pytest.param(httpx.Response(200, json={"version": ""}), False, id="200-empty-version"),
        pytest.param(
            httpx.Response(200, html="<html><body>It works!</body></html>"),
            False,
            id="200-not-json",
        ),
    ],
)
async def test_ke_is_available(
    ke: respx.MockRouter, client: HttpxClient, response: httpx.Response, available: bool
) -> None:
    route = ke.get("/version").mock(return_value=response)

    assert await client.ke_is_available() is available
    assert route.call_count == 1


async def test_ke_is_not_available_when_it_cannot_be_reached(
    ke: respx.MockRouter, client: HttpxClient
) -> None:
    route = ke.get("/version").mock(side_effect=httpx.ConnectError("connection refused"))

    assert await client.ke_is_available() is False
    assert route.call_count == 1


# ---------------------------------------------------------------- error statuses


@dataclass(frozen=True)
class Call:
    """One client method, the endpoint it calls, and the ids it calls it with."""

    name: str
    method: str
    path: str
    invoke: Callable[[HttpxClient], Awaitable[object]]
    kb_id: str | None = None
    ki_id: str | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.path}"


LIST_KBS = Call("list_kbs", "GET", "/sc", lambda c: c.list_kbs())
GET_KB = Call("get_kb", "GET", "/sc", lambda c: c.get_kb(KB_ID), KB_ID)
REGISTER_KB = Call("register_kb", "POST", "/sc", lambda c: c.register_kb(KB), KB_ID)
UNREGISTER_KB = Call("unregister_kb", "DELETE", "/sc", lambda c: c.unregister_kb(KB_ID), KB_ID)
RENEW_LEASE = Call("renew_lease", "PUT", "/sc/lease/renew", lambda c: c.renew_lease(KB_ID), KB_ID)
LIST_KIS = Call("list_kis", "GET", "/sc/ki", lambda c: c.list_kis(KB_ID), KB_ID)
REGISTER_KI = Call(
    "register_ki",
    "POST",
    "/sc/ki",
    lambda c: c.register_ki(
        KB_ID,
        KnowledgeInteractionRegistration(
            knowledge_interaction_type=KnowledgeInteractionType.ASK,
            graph_pattern="?a <http://example.org/isRelatedTo> ?b .",
        ),
    ),
    KB_ID,
)
UNREGISTER_KI = Call(
    "unregister_ki", "DELETE", "/sc/ki", lambda c: c.unregister_ki(KB_ID, ASK_KI), KB_ID, ASK_KI
)
ASK = Call("ask", "POST", "/sc/ask", lambda c: c.ask(KB_ID, ASK_KI, BINDING_SET), KB_ID, ASK_KI)
ASK_TO = Call(
    "ask_to_recipients",
    "POST",
    "/sc/ask",
    lambda c: c.ask(KB_ID, ASK_KI, BINDING_SET, recipients=RECIPIENTS),
    KB_ID,
    ASK_KI,
)
POST = Call(
    "post", "POST", "/sc/post", lambda c: c.post(KB_ID, POST_KI, BINDING_SET), KB_ID, POST_KI
)
POST_TO = Call(
    "post_to_recipients",
    "POST",
    "/sc/post",
    lambda c: c.post(KB_ID, POST_KI, BINDING_SET, recipients=RECIPIENTS),
    KB_ID,
    POST_KI,
)
POLL = Call("poll_ki_call", "GET", "/sc/handle", lambda c: c.poll_ki_call(KB_ID), KB_ID)
HANDLE = Call(
    "post_handle_response",
    "POST",
    "/sc/handle",
    lambda c: c.post_handle_response(
        KB_ID, ANSWER_KI, HandleResponse(handle_request_id=7, binding_set=[])
    ),
    KB_ID,
    ANSWER_KI,
)
KNOWLEDGE = Call(
    "upload_domain_knowledge",
    "POST",
    "/sc/knowledge",
    lambda c: c.upload_domain_knowledge(KB_ID, DOMAIN_KNOWLEDGE),
    KB_ID,
)


def cases(call: Call, status: int, *messages: str) -> list[Any]:
    return [
        pytest.param(call, status, message, id=f"{call.name}-{status}-{index}")
        for index, message in enumerate(messages)
    ]


def proactive_cases(call: Call, ki_type: str) -> list[Any]:
    return [
        *cases(
            call,
            400,
            "The JSON Object should contain both a recipientSelector and bindingSet key.",
            "The JSON should be either an JSON Object or an JSON Array.",
            "The BindingSet should be a valid JSON array with Bindings.",
            "The RecipientSelector should be a valid JSON object with a singleKnowledgeBase key "
            "that leads to a string value of a KnowledgeBaseId.",
            "Both Knowledge-Base-Id and Knowledge-Interaction-Id headers should be non-null.",
            "Knowledge interaction not found, because its ID must be a valid URI.",
            f"Given Knowledge Interaction ID should have type {ki_type} and not "
            "AnswerKnowledgeInteraction.",
            "Bindings must be non-null.",
            "Variable names should not be null or start with a question mark.",
            "Variable values should not be null and follow SPARQL literal/iri syntax.",
            "Binding values should be concrete nodes (either RDF literals or RDF URIs).",
        ),
        *cases(
            call,
            404,
            "Smart connector not found, because its ID is unknown.",
            "Knowledge Interaction not found, because its ID is unknown.",
        ),
        *cases(call, 410, "The SmartConnector cannot be used anymore once it is stopped"),
        *cases(
            call, 500, "Something went wrong while sending a POST or while waiting on the REACT."
        ),
    ]


ERROR_CASES = [
    *cases(LIST_KBS, 500, NO_REFERENCE_TEXT),
    *cases(GET_KB, 400, "Knowledge base not found, because its ID must be a valid URI."),
    *cases(GET_KB, 500, NO_REFERENCE_TEXT),
    *cases(
        REGISTER_KB,
        400,
        "Knowledge Base ID must be a non-empty URI.",
        "Knowledge base ID must be a valid RDF IRI. Relative IRI: /relative.nl",
        ALREADY_IN_USE,
        "The reasoner level should be between 1 and 5, inclusive and not 7",
        "ConstraintViolationException: scPost.arg0.leaseRenewalTime must be greater than or "
        "equal to 30\n ",
    ),
    *cases(
        UNREGISTER_KB,
        400,
        "Knowledge-Base-Id header should not be null.",
        "Knowledge base not found, because its ID must be a valid URI.",
    ),
    *cases(
        UNREGISTER_KB,
        404,
        "Deletion of knowledge base failed, because it could not be found.",
        "Deletion of knowledge base failed, because it was already being deleted.",
    ),
    *cases(
        RENEW_LEASE,
        400,
        "Missing valid Knowledge-Base-Id header.",
        "Knowledge base not found, because its knowledge base ID must be a valid URI.",
    ),
    *cases(
        RENEW_LEASE,
        404,
        "Knowledge base not found. (Has its lease already expired?)",
        "Knowledge base found, but its lease could not be found. Knowledge bases without a "
        "lease do not have to be renewed.",
    ),
    *cases(LIST_KIS, 404, "Knowledge base not found, because its knowledge base ID is unknown."),
    *cases(
        REGISTER_KI,
        400,
        "Missing valid Knowledge-Base-Id header.",
        "Knowledge base not found, because its knowledge base ID must be a valid URI.",
        "Invalid graph pattern: Line 1, column 13: Unresolved prefixed name: ex:isRelatedTo. "
        "Note: Have you included your prefixes in the 'prefixes' property?",
        "graphPattern must be given for ASK knowledge interactions.",
        "At least one of argumentGraphPattern and resultGraphPattern must be given for POST "
        "knowledge interactions.",
        "Knowledge Interaction names should only contain alphanumeric characters and hyphens "
        "and not 'ask relations'",
        f"The Knowledge Interaction with URI '{ASK_KI}' should not be already registered.",
        "There should be at least 1 requirement purpose.",
    ),
    *cases(
        REGISTER_KI,
        404,
        f"Could not add knowledge interaction, because the given knowledge base ID ({KB_ID}) "
        "is unknown.",
    ),
    *cases(
        REGISTER_KI,
        500,
        "The registration of the knowledge interaction failed, because of an internal error.",
    ),
    *cases(UNREGISTER_KI, 400, "Missing valid Knowledge-Interaction-Id header."),
    *cases(
        UNREGISTER_KI,
        404,
        "Knowledge base not found, because its knowledge base ID is unknown.",
        "Knowledge base found, but the given knowledge interaction knowledge base ID is unknown.",
    ),
    *proactive_cases(ASK, "AskKnowledgeInteraction"),
    *proactive_cases(ASK_TO, "AskKnowledgeInteraction"),
    *proactive_cases(POST, "PostKnowledgeInteraction"),
    *proactive_cases(POST_TO, "PostKnowledgeInteraction"),
    *cases(POLL, 400, "Smart Connector not found, because its ID must be a valid URI."),
    *cases(POLL, 404, "A Knowledge Base for the given Knowledge-Base-Id cannot be found."),
    *cases(
        POLL, 409, "Only one connection per Knowledge-Base-Id is allowed and we already have one."
    ),
    *cases(POLL, 500, NO_REFERENCE_TEXT),
    *cases(
        HANDLE,
        400,
        f"Smart Connector not found, because its ID must be a valid URI and not {KB_ID}",
        f"Knowledge Interaction not found, because its ID must match an existing KI: {ANSWER_KI}",
        "The handleRequestId property is mandatory, but not provided.",
        "Expected a complete binding, but was missing some variable(s) that ARE in the graph "
        "pattern ('?a <http://example.org/isRelatedTo> ?b . '), but are missing from the "
        "binding, namely: [?b]. Note that the question mark should NOT be included in your "
        "binding keys.",
        "Bindings must be empty when the graph pattern is missing.",
    ),
    *cases(
        HANDLE,
        404,
        "A Knowledge Base for the given Knowledge-Base-Id cannot be found.",
        "Handle request id 7 not found. Are you sure it is still being processed?",
    ),
    *cases(
        KNOWLEDGE,
        400,
        "Missing valid Knowledge-Base-Id header.",
        "Knowledge base not found, because its knowledge base ID must be a valid URI.",
        "The provided domain knowledge should parse correctly: Unrecognized qname prefix "
        "(saref) in rule",
    ),
    *cases(KNOWLEDGE, 404, "Knowledge base not found. (Has its lease already expired?)"),
]


def error_class_for(status: int) -> type[KnowledgeEngineResponseError]:
    if status == 404:
        return SmartConnectorNotFoundError
    if status == 409:
        return PollConflictError
    if status >= 500:
        return KnowledgeEngineServerError
    return KnowledgeEngineResponseError


@pytest.mark.parametrize(("call", "status", "message"), ERROR_CASES)
async def test_error_status_raises_the_sdk_error(
    ke: respx.MockRouter, client: HttpxClient, call: Call, status: int, message: str
) -> None:
    route = ke.route(method=call.method, path=call.path).respond(status, json=ke_message(message))

    with pytest.raises(KnowledgeEngineResponseError) as caught:
        await call.invoke(client)

    error = caught.value
    assert type(error) is error_class_for(status)
    assert error.status_code == status
    assert error.message == message.strip()
    assert error.endpoint == call.endpoint
    assert error.kb_id == call.kb_id
    assert error.ki_id == call.ki_id
    assert error.transient is (status == 409 or status >= 500)
    assert route.call_count == 1  # the client does not retry on its own
