"""Fuzzing everything that reads input from the network: only the SDK's own errors come out."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Annotated, Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from km_core import (
    IRI,
    AskResult,
    BindingModel,
    BindingSet,
    BindingValidationError,
    Datatype,
    ErrorPolicy,
    HandleRequest,
    HandleResponse,
    KnowledgeBase,
    KnowledgeBaseInfo,
    KnowledgeEngineResponseError,
    KnowledgeInteractionInfo,
    KnowledgeInteractionRegistration,
    KnowledgeInteractionType,
    KnowledgeMapperError,
    LangString,
    LeaseInfo,
    PollResult,
    PostResult,
    RDFTerm,
    TypedLiteral,
)
from km_core.terms import Term, parse_term
from km_httpx import HttpxClient
from km_testing import LocalKnowledgeEngine
from tests.faults.harness import FAST, FULL_PATTERN, RecordingTestClient, assert_answered_once

FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
XSD = "http://www.w3.org/2001/XMLSchema#"
KB_ID = "http://example.org/kb/fuzz"
KI_ID = f"{KB_ID}/interaction/heights"

# ---------------------------------------------------------------- strategies

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)

datatypes = st.sampled_from(
    [
        "integer",
        "int",
        "decimal",
        "double",
        "float",
        "boolean",
        "dateTime",
        "date",
        "time",
        "string",
        "long",
        "nonNegativeInteger",
    ]
)
lexicals = st.one_of(
    st.text(max_size=12),
    st.integers().map(str),
    st.floats().map(str),
    st.decimals(allow_nan=True).map(str),
    st.datetimes().map(lambda d: d.isoformat()),
    st.sampled_from(["true", "false", "1", "0", "INF", "-INF", "NaN", "1e999", "9" * 5000]),
)
terms = st.one_of(
    st.text(max_size=30),
    st.builds(lambda t: f"<{t}>", st.text(max_size=20)),
    st.builds(lambda t: f"<http://example.org/{t}>", st.text(max_size=10)),
    st.builds(lambda lex, dtype: f'"{lex}"^^<{XSD}{dtype}>', lexicals, datatypes),
    st.builds(lambda lex, dtype: f'"{lex}"^^xsd:{dtype}', lexicals, datatypes),
    st.builds(lambda lex, tag: f'"{lex}"@{tag}', st.text(max_size=8), st.text(max_size=6)),
    st.builds(lambda lex: f'"{lex}"', st.text(max_size=12)),
    lexicals,
    st.builds(lambda t: f"_:{t}", st.text(max_size=6)),
)
variables = st.sampled_from(["tree", "height", "name", "when", "price", "flag", "x", "?tree", ""])


# ---------------------------------------------------------------- HttpxClient


def registration() -> KnowledgeInteractionRegistration:
    return KnowledgeInteractionRegistration(
        knowledge_interaction_type=KnowledgeInteractionType.ASK,
        knowledge_interaction_name="heights",
        graph_pattern=FULL_PATTERN,
    )


def kb_info() -> KnowledgeBaseInfo:
    return KnowledgeBaseInfo(
        knowledge_base_id=KB_ID, knowledge_base_name="fuzz", knowledge_base_description=""
    )


Operation = Callable[[HttpxClient], Awaitable[Any]]


def _check_poll(result: Any) -> None:
    kind, request = result
    assert isinstance(kind, PollResult)
    assert (request is not None) == (kind is PollResult.HANDLE)
    if request is not None:
        assert isinstance(request, HandleRequest)
        assert all(isinstance(v, str) for b in request.binding_set for v in b.values())


OPERATIONS: dict[str, tuple[Operation, Callable[[Any], None]]] = {
    "poll": (lambda c: c.poll_ki_call(KB_ID), _check_poll),
    "ask": (
        lambda c: c.ask(KB_ID, KI_ID, [{"tree": "<http://example.org/oak>"}]),
        lambda r: isinstance(r, AskResult),
    ),
    "post": (
        lambda c: c.post(KB_ID, KI_ID, []),
        lambda r: isinstance(r, PostResult),
    ),
    "version": (lambda c: c.get_version(), lambda r: isinstance(r, str)),
    "list_kbs": (
        lambda c: c.list_kbs(),
        lambda r: all(isinstance(kb, KnowledgeBaseInfo) for kb in r),
    ),
    "get_kb": (
        lambda c: c.get_kb(KB_ID),
        lambda r: r is None or isinstance(r, KnowledgeBaseInfo),
    ),
    "list_kis": (
        lambda c: c.list_kis(KB_ID),
        lambda r: all(isinstance(ki, KnowledgeInteractionInfo) for ki in r),
    ),
    "register_kb": (lambda c: c.register_kb(kb_info(), reregister=True), lambda r: None),
    "register_ki": (
        lambda c: c.register_ki(KB_ID, registration()),
        lambda r: isinstance(r, str),
    ),
    "renew_lease": (lambda c: c.renew_lease(KB_ID), lambda r: isinstance(r, LeaseInfo)),
    "post_handle_response": (
        lambda c: c.post_handle_response(
            KB_ID, KI_ID, HandleResponse(handle_request_id=1, binding_set=[])
        ),
        lambda r: None,
    ),
    "unregister_kb": (lambda c: c.unregister_kb(KB_ID), lambda r: None),
}


def run_operation(name: str, status: int, body: bytes, content_type: str) -> None:
    """Call one client method against a KE that answers ``status`` with ``body``."""
    operation, check = OPERATIONS[name]

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"Content-Type": content_type})

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
            client = HttpxClient("http://ke.test/rest", http_client=http)
            try:
                result = await operation(client)
            except KnowledgeMapperError:
                return
            finally:
                await client.close()
            outcome = check(result)
            assert outcome is None or outcome is True, (name, result)

    asyncio.run(scenario())


statuses = st.one_of(
    st.sampled_from([200, 201, 202, 204, 400, 401, 404, 409, 410, 500, 502, 503]),
    st.integers(min_value=100, max_value=599),
)
bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=64),
    st.fixed_dictionaries(
        {
            "knowledgeInteractionId": st.one_of(st.text(max_size=10), json_values),
            "handleRequestId": st.one_of(st.integers(), json_values),
            "bindingSet": st.one_of(
                st.lists(st.dictionaries(st.text(max_size=5), json_values, max_size=3)),
                json_values,
            ),
        }
    ).map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"messageType": st.text(max_size=5), "message": json_values}).map(
        lambda v: json.dumps(v).encode()
    ),
    st.fixed_dictionaries(
        {"bindingSet": json_values, "exchangeInfo": json_values, "knowledgeGaps": json_values}
    ).map(lambda v: json.dumps(v).encode()),
)


@FUZZ
@given(
    name=st.sampled_from(sorted(OPERATIONS)),
    status=statuses,
    body=bodies,
    content_type=st.sampled_from(["application/json", "text/plain", "application/json; x"]),
)
def test_httpx_client_reads_any_answer_into_models_or_sdk_errors(
    name: str, status: int, body: bytes, content_type: str
) -> None:
    run_operation(name, status, body, content_type)


DEEP = b'{"message": ' + b"[" * 100_000  # nested deeper than Python's recursion limit


@pytest.mark.parametrize(
    ("name", "status"),
    [("poll", 500), ("poll", 404), ("ask", 400), ("version", 200), ("register_ki", 200)],
)
def test_deeply_nested_json_answers_raise_sdk_errors(name: str, status: int) -> None:
    """A body nested deeper than the recursion limit, from a broken or hostile proxy or KE."""
    run_operation(name, status, DEEP, "application/json")


async def answered_after(first: httpx.Response) -> list[int]:
    """Serve a KB whose first poll gets ``first``, its second a request, its third a 410.

    Returns:
        The handle request ids it answered.
    """
    script = [
        first,
        httpx.Response(
            200,
            json={
                "knowledgeInteractionId": KI_ID,
                "handleRequestId": 1,
                "bindingSet": [{"tree": "<http://example.org/oak>"}],
            },
        ),
        httpx.Response(410, json={"messageType": "message", "message": "stopping"}),
    ]
    answers: list[Any] = []

    def ke(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/rest")
        if path == "/sc/ki":
            return httpx.Response(200, json={"knowledgeInteractionId": KI_ID})
        if path == "/sc/handle" and request.method == "GET":
            return script.pop(0)
        if path == "/sc/handle":
            answers.append(json.loads(request.content))
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(ke)) as http:
        kb = KnowledgeBase(
            id=KB_ID,
            name="fuzz",
            description="",
            client=HttpxClient("http://ke.test/rest", http_client=http),
            poll_backoff=FAST,
        )

        @kb.answer_ki("heights", FULL_PATTERN)
        async def heights(binding_set: BindingSet) -> BindingSet:
            return [{"tree": b["tree"], "height": '"1"'} for b in binding_set]

        await kb.register()
        await asyncio.wait_for(kb.start_handling_loop(), 10)  # ends on the 410 only
    return [a["handleRequestId"] for a in answers]


async def test_the_loop_survives_a_deeply_nested_5xx_poll_answer() -> None:
    assert await answered_after(httpx.Response(502, content=DEEP)) == [1]


# A poll answer other than a handle request, EXIT (410) or the KB being unknown (404): any
# status, and for 200 any body that is not a handle request.
bad_poll_statuses = st.sampled_from([200, 201, 204, 301, 400, 401, 403, 409, 418, 429, 500, 503])
bad_poll_bodies = (
    st.binary(max_size=64)
    | json_values.map(lambda value: json.dumps(value).encode())
    | st.dictionaries(
        st.sampled_from(["knowledgeInteractionId", "bindingSet", "requestingKnowledgeBaseId"]),
        json_values,
    ).map(lambda value: json.dumps(value).encode())
)


@settings(max_examples=60, deadline=None, database=None)
@given(status=bad_poll_statuses, body=bad_poll_bodies)
def test_any_unreadable_poll_answer_is_retried_and_nothing_is_lost(
    status: int, body: bytes
) -> None:
    """A poll answered once with garbage: the loop backs off, polls on, answers what follows."""
    first = httpx.Response(status, content=body, headers={"Retry-After": "0"})
    assert asyncio.run(answered_after(first)) == [1]


# ---------------------------------------------------------------- BindingModel.from_binding


class Everything(BindingModel):
    tree: IRI
    height: int | None = None
    ratio: float | None = None
    price: Decimal | None = None
    flag: bool | None = None
    when: dt.datetime | None = None
    day: dt.date | None = None
    clock: dt.time | None = None
    name: str | None = None
    label: LangString | None = None
    typed: TypedLiteral | None = None
    anything: RDFTerm | None = None
    code: Annotated[str, Datatype("http://example.org/code")] | None = None
    count: Annotated[int, Datatype(XSD + "nonNegativeInteger")] | None = None


everything_variables = st.sampled_from([*Everything.model_variables(), "other"])


@FUZZ
@given(binding=st.dictionaries(everything_variables, terms, max_size=8))
def test_binding_models_read_any_text_or_raise_binding_validation_errors(
    binding: dict[str, str],
) -> None:
    try:
        model = Everything.from_binding(binding)
    except BindingValidationError:
        return
    assert isinstance(model, Everything)
    assert model.to_binding()["tree"].startswith("<")


# ---------------------------------------------------------------- parse_term


@FUZZ
@given(text=terms)
def test_parse_term_returns_a_term_or_raises_value_error(text: str) -> None:
    try:
        term = parse_term(text)
    except ValueError:
        return
    assert isinstance(term, Term)
    assert term.kind in ("iri", "literal", "bnode")


# ---------------------------------------------------------------- the handling loop


class Tree(BindingModel):
    tree: IRI
    height: int | None = None


@settings(FUZZ, max_examples=60)
@given(
    binding_sets=st.lists(
        st.lists(st.dictionaries(variables, terms, max_size=3), max_size=3),
        min_size=1,
        max_size=6,
    ),
    policy=st.sampled_from(list(ErrorPolicy)),
)
def test_the_loop_answers_any_binding_set_for_a_model_interaction(
    binding_sets: list[BindingSet], policy: ErrorPolicy
) -> None:
    async def scenario() -> None:
        client = RecordingTestClient()
        kb = KnowledgeBase(
            id=KB_ID,
            name="fuzz",
            description="",
            client=client,
            poll_backoff=FAST,
            error_policy=policy,
        )

        @kb.answer_ki("heights", FULL_PATTERN)
        async def heights(trees: list[Tree]) -> list[Tree]:
            return [Tree(tree=t.tree, height=len(t.tree)) for t in trees]

        await kb.register()
        sent = [client.enqueue_handle_request("heights", bs) for bs in binding_sets]
        loop_task = asyncio.create_task(kb.start_handling_loop(max_concurrent_handlers=3))
        for request_id in sent:
            await asyncio.wait_for(client.wait_for_handle_response(request_id), 10)
        oak = "<http://example.org/oak>"
        after = client.enqueue_handle_request("heights", [{"tree": oak}])
        response = await asyncio.wait_for(client.wait_for_handle_response(after), 10)
        assert response.binding_set == [
            {"tree": oak, "height": f'"{len(oak) - 2}"^^<{XSD}integer>'}
        ]
        assert not loop_task.done()
        kb.stop()
        await asyncio.wait_for(loop_task, 10)
        assert_answered_once(
            client.accepted, [r.handle_request_id for r in client.handle_responses]
        )
        assert kb.handlers_in_flight == 0

    asyncio.run(scenario())


# ---------------------------------------------------------------- the local engine's answer()


async def _pending_request(engine: LocalKnowledgeEngine) -> tuple[asyncio.Task[Any], int, str]:
    answerer, asker = "http://example.org/kb/answerer", "http://example.org/kb/asker"
    for kb_id in (answerer, asker):
        await engine.register_kb(
            KnowledgeBaseInfo(
                knowledge_base_id=kb_id, knowledge_base_name="kb", knowledge_base_description=""
            )
        )
    answer_ki = engine.register_ki(
        answerer,
        KnowledgeInteractionRegistration(
            knowledge_interaction_type=KnowledgeInteractionType.ANSWER, graph_pattern=FULL_PATTERN
        ),
    )
    ask_ki = engine.register_ki(
        asker,
        KnowledgeInteractionRegistration(
            knowledge_interaction_type=KnowledgeInteractionType.ASK, graph_pattern=FULL_PATTERN
        ),
    )
    asking = asyncio.create_task(engine.ask(asker, ask_ki, [{"tree": "<http://example.org/oak>"}]))
    result, request = await engine.poll(answerer)
    assert result is PollResult.HANDLE
    assert request is not None
    return asking, request.handle_request_id, answer_ki


binding_set_json = st.one_of(
    json_values,
    st.lists(st.dictionaries(variables, st.one_of(terms, json_values), max_size=3), max_size=3),
)


@FUZZ
@given(binding_set=binding_set_json)
def test_the_engine_answer_accepts_or_rejects_any_json_with_a_ke_error(binding_set: Any) -> None:
    async def scenario() -> None:
        engine = LocalKnowledgeEngine(heartbeat=30, kb_wait_timeout=10)
        asking, request_id, ki_id = await _pending_request(engine)
        answerer = "http://example.org/kb/answerer"
        status = 200
        try:
            engine.answer(answerer, ki_id, request_id, binding_set)
        except KnowledgeEngineResponseError as exc:
            status = exc.status_code
        assert status in (200, 400)
        result = await asyncio.wait_for(asking, 10)  # the asker gets an answer either way
        assert isinstance(result, AskResult)
        assert len(result.exchange_info) == 1

    asyncio.run(scenario())
