"""HttpxClient when the KE's answer cannot be read or never comes, and the client's lifecycle.

Whatever goes wrong on the wire, a caller sees only the SDK's errors: `UnexpectedResponseError`
for an answer it cannot read, `KnowledgeEngineUnavailableError` for no answer at all, and
`ClientClosedError` after `close()`; never a KeyError, a ValueError, a pydantic ValidationError
or an httpx exception.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import respx

from km_core import (
    AskResult,
    ClientClosedError,
    HandleRequest,
    HandleResponse,
    KnowledgeBaseInfo,
    KnowledgeEngineError,
    KnowledgeEngineResponseError,
    KnowledgeEngineServerError,
    KnowledgeEngineUnavailableError,
    KnowledgeInteractionInfo,
    KnowledgeInteractionRegistration,
    KnowledgeInteractionType,
    LeaseInfo,
    PollResult,
    PostResult,
    SmartConnectorNotFoundError,
    UnexpectedResponseError,
)
from km_httpx import HttpxClient
from tests.httpx.conftest import BASE_URL
from tests.support import let_the_loop_run

KB_ID = "http://example.org/kb/alpha"
ASK_KI = f"{KB_ID}/interaction/ask-relations"
POST_KI = f"{KB_ID}/interaction/post-measurements"
ANSWER_KI = f"{KB_ID}/interaction/answer-relations"
KB = KnowledgeBaseInfo(
    knowledge_base_id=KB_ID, knowledge_base_name="Alpha", knowledge_base_description="A KB"
)
KB_JSON = {
    "knowledgeBaseId": KB_ID,
    "knowledgeBaseName": "Alpha",
    "knowledgeBaseDescription": "A KB",
    "reasonerLevel": 2,
}
ASK_REGISTRATION = KnowledgeInteractionRegistration(
    knowledge_interaction_type=KnowledgeInteractionType.ASK,
    graph_pattern="?a <http://example.org/isRelatedTo> ?b .",
)
EXCHANGE = {
    "initiator": "knowledgeBase",
    "knowledgeBaseId": "http://example.org/kb2",
    "knowledgeInteractionId": "http://example.org/kb2/interaction/answer-relations",
    "exchangeStart": "2026-06-29T11:37:33.101+00:00",
    "exchangeEnd": "2026-06-29T11:37:33.187+00:00",
    "status": "SUCCEEDED",
}
HANDLE_REQUEST = {
    "knowledgeInteractionId": ANSWER_KI,
    "handleRequestId": 1,
    "bindingSet": [{"a": "<http://example.org/Barry>"}],
    "requestingKnowledgeBaseId": "http://example.org/kb2",
}


@dataclass(frozen=True)
class Call:
    """One client method, the endpoint it calls, its ids, and the KE's plain success answer."""

    name: str
    endpoint: str
    invoke: Callable[[HttpxClient], Awaitable[object]]
    ok: httpx.Response
    kb_id: str | None = None
    ki_id: str | None = None


def empty_200() -> httpx.Response:
    return httpx.Response(200)


GET_VERSION = Call(
    "get_version",
    "GET /version",
    lambda c: c.get_version(),
    httpx.Response(200, json={"version": "1.5.0"}),
)
LIST_KBS = Call("list_kbs", "GET /sc", lambda c: c.list_kbs(), httpx.Response(200, json=[]))
GET_KB = Call(
    "get_kb", "GET /sc", lambda c: c.get_kb(KB_ID), httpx.Response(200, json=[KB_JSON]), KB_ID
)
REGISTER_KB = Call("register_kb", "POST /sc", lambda c: c.register_kb(KB), empty_200(), KB_ID)
UNREGISTER_KB = Call(
    "unregister_kb", "DELETE /sc", lambda c: c.unregister_kb(KB_ID), empty_200(), KB_ID
)
RENEW_LEASE = Call(
    "renew_lease",
    "PUT /sc/lease/renew",
    lambda c: c.renew_lease(KB_ID),
    httpx.Response(200, json={"knowledgeBaseId": KB_ID, "expires": "2026-06-29T11:37:33.123Z"}),
    KB_ID,
)
LIST_KIS = Call(
    "list_kis", "GET /sc/ki", lambda c: c.list_kis(KB_ID), httpx.Response(200, json=[]), KB_ID
)
REGISTER_KI = Call(
    "register_ki",
    "POST /sc/ki",
    lambda c: c.register_ki(KB_ID, ASK_REGISTRATION),
    httpx.Response(200, json={"knowledgeInteractionId": ASK_KI}),
    KB_ID,
)
UNREGISTER_KI = Call(
    "unregister_ki",
    "DELETE /sc/ki",
    lambda c: c.unregister_ki(KB_ID, ASK_KI),
    empty_200(),
    KB_ID,
    ASK_KI,
)
ASK = Call(
    "ask",
    "POST /sc/ask",
    lambda c: c.ask(KB_ID, ASK_KI, [{}]),
    httpx.Response(200, json={"bindingSet": [], "exchangeInfo": []}),
    KB_ID,
    ASK_KI,
)
POST = Call(
    "post",
    "POST /sc/post",
    lambda c: c.post(KB_ID, POST_KI, [{"a": "<http://example.org/a>"}]),
    httpx.Response(200, json={"resultBindingSet": [], "exchangeInfo": []}),
    KB_ID,
    POST_KI,
)
POLL = Call(
    "poll_ki_call",
    "GET /sc/handle",
    lambda c: c.poll_ki_call(KB_ID),
    httpx.Response(200, json=HANDLE_REQUEST),
    KB_ID,
)
HANDLE = Call(
    "post_handle_response",
    "POST /sc/handle",
    lambda c: c.post_handle_response(
        KB_ID, ANSWER_KI, HandleResponse(handle_request_id=1, binding_set=[])
    ),
    empty_200(),
    KB_ID,
    ANSWER_KI,
)
KNOWLEDGE = Call(
    "upload_domain_knowledge",
    "POST /sc/knowledge",
    lambda c: c.upload_domain_knowledge(KB_ID, "-> ( <urn:a> <urn:b> <urn:c> ) ."),
    empty_200(),
    KB_ID,
)

ALL_CALLS = [
    GET_VERSION,
    LIST_KBS,
    GET_KB,
    REGISTER_KB,
    UNREGISTER_KB,
    RENEW_LEASE,
    LIST_KIS,
    REGISTER_KI,
    UNREGISTER_KI,
    ASK,
    POST,
    POLL,
    HANDLE,
    KNOWLEDGE,
]
JSON_CALLS = [GET_VERSION, LIST_KBS, GET_KB, RENEW_LEASE, LIST_KIS, REGISTER_KI, ASK, POST, POLL]


def by_name(calls: list[Call]) -> dict[str, Any]:
    return {"argvalues": calls, "ids": [call.name for call in calls]}


def assert_describes(error: KnowledgeEngineError, call: Call) -> None:
    assert error.endpoint == call.endpoint
    assert error.kb_id == call.kb_id
    assert error.ki_id == call.ki_id


async def unexpected(client: HttpxClient, call: Call) -> UnexpectedResponseError:
    """Invoke the call; it must raise UnexpectedResponseError (and nothing else)."""
    with pytest.raises(UnexpectedResponseError) as caught:
        await call.invoke(client)
    error = caught.value
    assert isinstance(error, KnowledgeEngineError)
    assert error.transient is True  # a proxy or a KE in trouble may answer sensibly again
    return error


# ---------------------------------------------------------------- answers that cannot be read

NOT_JSON = {
    "malformed-json": b'{"bindingSet": [{"a": "<http://example.org/a>"',
    "html": b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
    "empty": b"",
    "not-utf8": b"\xff\xfe\x00{\x00}",
}


@pytest.mark.parametrize("body", NOT_JSON.values(), ids=NOT_JSON.keys())
@pytest.mark.parametrize("call", **by_name(JSON_CALLS))
async def test_a_body_that_is_not_json(
    ke: respx.MockRouter, client: HttpxClient, call: Call, body: bytes
) -> None:
    content_type = "text/html" if body.startswith(b"<html>") else "application/json"
    ke.route().respond(200, content=body, headers={"Content-Type": content_type})

    error = await unexpected(client, call)

    assert error.status_code == 200
    assert "json" in error.message.lower()
    assert_describes(error, call)


WRONG_SHAPES = [
    # (call, body, a word of the message that says what was wrong)
    (GET_VERSION, [], "object"),
    (GET_VERSION, {}, "version"),
    (GET_VERSION, {"version": 150}, "version"),
    (LIST_KBS, KB_JSON, "array"),
    (LIST_KBS, [{"knowledgeBaseId": KB_ID}], "knowledgeBaseName"),
    (LIST_KBS, [{**KB_JSON, "reasonerLevel": "high"}], "reasonerLevel"),
    (GET_KB, KB_JSON, "array"),
    (GET_KB, None, "array"),
    (RENEW_LEASE, [], "object"),
    (RENEW_LEASE, {"knowledgeBaseId": KB_ID}, "expires"),
    (RENEW_LEASE, {"knowledgeBaseId": KB_ID, "expires": "next tuesday"}, "expires"),
    (LIST_KIS, {"knowledgeInteractionId": ASK_KI}, "array"),
    (
        LIST_KIS,
        [{"knowledgeInteractionType": "AskKnowledgeInteraction", "graphPattern": "?a ?b ?c ."}],
        "knowledgeInteractionId",
    ),
    (
        LIST_KIS,
        [{"knowledgeInteractionId": ASK_KI, "knowledgeInteractionType": "SubscribeKI"}],
        "knowledgeInteractionType",
    ),
    (REGISTER_KI, [ASK_KI], "object"),
    (REGISTER_KI, {}, "knowledgeInteractionId"),
    (REGISTER_KI, {"knowledgeInteractionId": 42}, "knowledgeInteractionId"),
    (ASK, [], "object"),
    (ASK, {"bindingSet": {"a": "<http://example.org/a>"}, "exchangeInfo": []}, "bindingSet"),
    (ASK, {"bindingSet": [{"a": 1}], "exchangeInfo": []}, "bindingSet"),
    (ASK, {"bindingSet": [], "exchangeInfo": [{**EXCHANGE, "status": "MAYBE"}]}, "status"),
    (
        ASK,
        {"bindingSet": [], "exchangeInfo": [{**EXCHANGE, "knowledgeBaseId": None}]},
        "knowledgeBaseId",
    ),
    (POST, [], "object"),
    (POST, {"resultBindingSet": "none", "exchangeInfo": []}, "resultBindingSet"),
    (
        POST,
        {"resultBindingSet": [], "exchangeInfo": [{**EXCHANGE, "argumentBindingSet": {}}]},
        "argumentBindingSet",
    ),
    (POLL, [HANDLE_REQUEST], "object"),
    (
        POLL,
        {key: value for key, value in HANDLE_REQUEST.items() if key != "handleRequestId"},
        "handleRequestId",
    ),
    (POLL, {**HANDLE_REQUEST, "handleRequestId": "first"}, "handleRequestId"),
    (POLL, {**HANDLE_REQUEST, "bindingSet": [None]}, "bindingSet"),
]


@pytest.mark.parametrize(
    ("call", "body", "what"),
    [
        pytest.param(call, body, what, id=f"{call.name}-{index}-{what}")
        for index, (call, body, what) in enumerate(WRONG_SHAPES)
    ],
)
async def test_json_of_the_wrong_shape(
    ke: respx.MockRouter, client: HttpxClient, call: Call, body: Any, what: str
) -> None:
    ke.route().respond(200, content=json.dumps(body).encode(), content_type="application/json")

    error = await unexpected(client, call)

    assert error.status_code == 200
    assert what in error.message
    assert_describes(error, call)


# ---------------------------------------------------------------- error statuses with odd bodies

ODD_ERROR_BODIES = [
    # (id, the KE's or a proxy's answer, the SDK error, the message it must carry)
    (  # an error page: its text, not its markup
        "html-502",
        httpx.Response(502, html="<html><body><h1>502 Bad Gateway</h1></body></html>"),
        KnowledgeEngineServerError,
        "502 Bad Gateway",
    ),
    (  # Jetty's error page, as the KE sends it with a 500: its title
        "jetty-500",
        httpx.Response(
            500,
            html="<html>\n<head>\n<title>Error 500 Server Error</title>\n</head>\n<body>"
            "<h2>HTTP ERROR 500 Server Error</h2><table><tr><th>URI:</th><td>/rest/sc/handle"
            "</td></tr></table></body></html>",
        ),
        KnowledgeEngineServerError,
        "Error 500 Server Error",
    ),
    ("empty-500", httpx.Response(500), KnowledgeEngineServerError, "Internal Server Error"),
    ("text-404", httpx.Response(404, text="Not Found"), SmartConnectorNotFoundError, "Not Found"),
    (
        "json-without-message-400",
        httpx.Response(400, json={"messageType": "error"}),
        KnowledgeEngineResponseError,
        '{"messageType":"error"}',
    ),
]


@pytest.mark.parametrize(
    ("call", "response", "error_class", "message"),
    [
        pytest.param(call, response, error_class, message, id=f"{call.name}-{name}")
        for call in ALL_CALLS
        for name, response, error_class, message in ODD_ERROR_BODIES
        # get_kb: 404 is None; get_version: 404 is not a KE (test_connection_diagnostics.py)
        if not (call in (GET_KB, GET_VERSION) and response.status_code == 404)
    ],
)
async def test_an_error_status_with_an_unusual_body_is_still_a_status_error(
    ke: respx.MockRouter,
    client: HttpxClient,
    call: Call,
    response: httpx.Response,
    error_class: type[KnowledgeEngineResponseError],
    message: str,
) -> None:
    ke.route().mock(return_value=response)

    with pytest.raises(KnowledgeEngineResponseError) as caught:
        await call.invoke(client)

    error = caught.value
    assert type(error) is error_class
    assert error.status_code == response.status_code
    assert error.message == message
    assert_describes(error, call)


async def test_get_kb_is_none_on_any_404(ke: respx.MockRouter, client: HttpxClient) -> None:
    ke.route().respond(404, text="Not Found")

    assert await client.get_kb(KB_ID) is None


# ---------------------------------------------------------------- unknown fields are tolerated

FUTURE = {"addedInKe9": {"nested": [1, 2, 3]}}

TOLERATED = [
    pytest.param(GET_VERSION, {"version": "1.5.0", **FUTURE}, "1.5.0", id="get_version"),
    pytest.param(
        LIST_KBS,
        [{**KB_JSON, **FUTURE}],
        [KnowledgeBaseInfo.model_validate(KB_JSON)],
        id="list_kbs",
    ),
    pytest.param(
        GET_KB, [{**KB_JSON, **FUTURE}], KnowledgeBaseInfo.model_validate(KB_JSON), id="get_kb"
    ),
    pytest.param(
        RENEW_LEASE,
        {"knowledgeBaseId": KB_ID, "expires": "2026-06-29T11:37:33.123+00:00", **FUTURE},
        LeaseInfo.model_validate(
            {"knowledgeBaseId": KB_ID, "expires": "2026-06-29T11:37:33.123+00:00"}
        ),
        id="renew_lease",
    ),
    pytest.param(
        LIST_KIS,
        [
            {
                "knowledgeInteractionId": ASK_KI,
                "knowledgeInteractionType": "AskKnowledgeInteraction",
                "graphPattern": "?a <http://example.org/isRelatedTo> ?b . ",
                "knowledgeGapsEnabled": False,
                "matchStrategy": "NORMAL_LEVEL",
                "communicativeAct": {
                    "requiredPurposes": ["https://w3id.org/knowledge-engine/InformPurpose"],
                    "satisfiedPurposes": ["https://w3id.org/knowledge-engine/InformPurpose"],
                    **FUTURE,
                },
            }
        ],
        [
            KnowledgeInteractionInfo(
                knowledge_interaction_id=ASK_KI,
                knowledge_interaction_type=KnowledgeInteractionType.ASK,
                graph_pattern="?a <http://example.org/isRelatedTo> ?b . ",
                knowledge_gaps_enabled=False,
                communicative_act={},
            )
        ],
        id="list_kis",
    ),
    pytest.param(
        REGISTER_KI, {"knowledgeInteractionId": ASK_KI, **FUTURE}, ASK_KI, id="register_ki"
    ),
    pytest.param(
        ASK,
        {"bindingSet": [], "exchangeInfo": [{**EXCHANGE, "bindingSet": [], **FUTURE}], **FUTURE},
        AskResult.model_validate({"bindingSet": [], "exchangeInfo": [EXCHANGE]}),
        id="ask",
    ),
    pytest.param(
        POST,
        {"resultBindingSet": [], "exchangeInfo": [{**EXCHANGE, **FUTURE}], **FUTURE},
        PostResult.model_validate({"resultBindingSet": [], "exchangeInfo": [EXCHANGE]}),
        id="post",
    ),
    pytest.param(
        POLL,
        {**HANDLE_REQUEST, **FUTURE},
        (PollResult.HANDLE, HandleRequest.model_validate(HANDLE_REQUEST)),
        id="poll_ki_call",
    ),
]


@pytest.mark.parametrize(("call", "body", "expected"), TOLERATED)
async def test_unknown_fields_are_ignored(
    ke: respx.MockRouter, client: HttpxClient, call: Call, body: Any, expected: Any
) -> None:
    ke.route().respond(200, json=body)

    assert await call.invoke(client) == expected


# ---------------------------------------------------------------- transport failures

TRANSPORT_FAILURES = [
    pytest.param(httpx.ConnectError, id="connect-error"),
    pytest.param(httpx.ReadTimeout, id="read-timeout"),
    pytest.param(httpx.RemoteProtocolError, id="remote-protocol-error"),
]


@pytest.mark.parametrize("failure", TRANSPORT_FAILURES)
@pytest.mark.parametrize("call", **by_name(ALL_CALLS))
async def test_transport_failures_make_the_ke_unavailable(
    ke: respx.MockRouter, client: HttpxClient, call: Call, failure: type[httpx.TransportError]
) -> None:
    cause = failure("the wire broke")
    ke.route().mock(side_effect=cause)

    with pytest.raises(KnowledgeEngineUnavailableError) as caught:
        await call.invoke(client)

    error = caught.value
    assert error.transient is True
    assert error.__cause__ is cause
    assert error.message
    assert_describes(error, call)


# ---------------------------------------------------------------- closing


@pytest.mark.parametrize("call", **by_name(ALL_CALLS))
async def test_calls_after_close_raise_client_closed(
    ke: respx.MockRouter, client: HttpxClient, call: Call
) -> None:
    route = ke.route().mock(return_value=call.ok)
    await client.close()

    with pytest.raises(ClientClosedError):
        await call.invoke(client)

    assert not route.called


async def test_close_twice_is_harmless(client: HttpxClient) -> None:
    await client.close()
    await client.close()

    with pytest.raises(ClientClosedError):
        await client.get_version()


async def test_a_closed_ke_client_reports_the_ke_unavailable(
    ke: respx.MockRouter, client: HttpxClient
) -> None:
    route = ke.route().mock(return_value=GET_VERSION.ok)
    await client.close()

    assert await client.ke_is_available() is False
    assert not route.called


async def test_an_owned_http_client_is_closed(ke: respx.MockRouter) -> None:
    client = HttpxClient(BASE_URL)
    assert not client._http.is_closed  # the private httpx client, on purpose

    await client.close()

    assert client._http.is_closed


async def test_a_given_http_client_is_used_and_left_open(ke: respx.MockRouter) -> None:
    route = ke.route().mock(return_value=GET_VERSION.ok)
    async with httpx.AsyncClient(headers={"X-Given": "yes"}) as given:
        client = HttpxClient(BASE_URL, http_client=given)

        assert await client.get_version() == "1.5.0"
        await client.close()

        assert not given.is_closed
        assert route.calls.last.request.headers["X-Given"] == "yes"
        with pytest.raises(ClientClosedError):
            await client.get_version()
        # the given client still works for its owner
        assert (await given.get(f"{BASE_URL}/version")).status_code == 200


async def test_a_given_http_client_closed_by_its_owner_raises_client_closed(
    ke: respx.MockRouter,
) -> None:
    route = ke.route().mock(return_value=GET_VERSION.ok)
    given = httpx.AsyncClient()
    client = HttpxClient(BASE_URL, http_client=given)
    await given.aclose()

    with pytest.raises(ClientClosedError):
        await client.get_version()
    assert not route.called


async def test_async_with_closes_the_client(ke: respx.MockRouter) -> None:
    ke.route().mock(return_value=GET_VERSION.ok)

    async with HttpxClient(BASE_URL) as client:
        assert await client.get_version() == "1.5.0"

    assert client._http.is_closed
    with pytest.raises(ClientClosedError):
        await client.get_version()


async def test_close_ends_an_open_poll_with_client_closed(
    ke: respx.MockRouter, client: HttpxClient
) -> None:
    arrived = asyncio.Event()

    async def never_answer(request: httpx.Request) -> httpx.Response:
        arrived.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    ke.route().mock(side_effect=never_answer)
    poll = asyncio.create_task(client.poll_ki_call(KB_ID))
    await arrived.wait()

    await client.close()

    with pytest.raises(ClientClosedError):
        await poll


async def test_close_lets_a_handle_response_under_way_finish(
    ke: respx.MockRouter, client: HttpxClient
) -> None:
    arrived, release = asyncio.Event(), asyncio.Event()

    async def slow_ok(request: httpx.Request) -> httpx.Response:
        arrived.set()
        await release.wait()
        return httpx.Response(200)

    ke.route().mock(side_effect=slow_ok)
    answer = asyncio.create_task(HANDLE.invoke(client))
    await arrived.wait()
    closing = asyncio.create_task(client.close())
    await let_the_loop_run()
    assert not closing.done()

    release.set()
    await closing

    assert await answer is None
    assert client._http.is_closed


# ---------------------------------------------------------------- extra headers


@pytest.mark.parametrize("call", **by_name(ALL_CALLS))
async def test_extra_headers_go_with_every_request(ke: respx.MockRouter, call: Call) -> None:
    route = ke.route().mock(return_value=call.ok)
    headers = {"Authorization": "Bearer s3cret", "X-Gateway-Tenant": "tno"}

    async with HttpxClient(BASE_URL, headers=headers) as client:
        await call.invoke(client)

    request = route.calls.last.request
    assert request.headers["Authorization"] == "Bearer s3cret"
    assert request.headers["X-Gateway-Tenant"] == "tno"
    if call.kb_id is not None and call is not REGISTER_KB:
        assert request.headers["Knowledge-Base-Id"] == call.kb_id
    if call.ki_id is not None:
        assert request.headers["Knowledge-Interaction-Id"] == call.ki_id
