"""The local engine and its server stay well-behaved with hostile or broken clients.

Bodies nested too deeply or too large are the KE's 400s, not 500s; an id the KE's IRI check
refuses is refused here too; a client that hangs up in the middle of its body is not an error;
and an ask that gave up on a silent KB leaves no exception behind that nobody retrieves.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from km_core import (
    ExchangeStatus,
    KnowledgeBaseInfo,
    KnowledgeEngineResponseError,
    KnowledgeInteractionRegistration,
    KnowledgeInteractionType,
)
from km_testing import LocalEngineClient, LocalKnowledgeEngine, create_app
from km_testing._server._bodies import MAX_BODY_SIZE
from tests.testing.serving import HOST, ResponseRecorder, http_client, serving

BASE = "http://ke.test/rest"
KB = "Knowledge-Base-Id"
KI = "Knowledge-Interaction-Id"
EX = "http://example.org/"
ASKER = EX + "kb/asker"
SILENT = EX + "kb/silent"
ASK_ID = ASKER + "/interaction/heights"
HEIGHTS = "?tree <http://example.org/height> ?height ."
JSON = {"content-type": "application/json"}
TOO_DEEP = (
    "StreamConstraintsException: Document nesting depth (1001) exceeds the maximum allowed "
    "(1000, from `StreamReadConstraints.getMaxNestingDepth()`)"
)
TOO_LARGE = (
    f"The request body is larger than the {MAX_BODY_SIZE} bytes this local Knowledge Engine reads."
)
BAD_SELECTOR = (
    "The RecipientSelector should be a valid JSON object with a singleKnowledgeBase key that "
    "leads to a string value of a KnowledgeBaseId."
)
# Characters java.net.URI and Jena's IRI check refuse, which an HTTP header cannot carry either.
CONTROL_CHARACTERS = ["\x00", "\x01", "\n", "\x1f", "\x7f", "\x85", "\x9f", "\ud800"]


def error(message: str) -> dict[str, str]:
    return {"messageType": "error", "message": message}


def kb_body(kb_id: str) -> dict[str, Any]:
    return {"knowledgeBaseId": kb_id, "knowledgeBaseName": "kb", "knowledgeBaseDescription": "d"}


def kb_info(kb_id: str) -> KnowledgeBaseInfo:
    return KnowledgeBaseInfo(
        knowledge_base_id=kb_id, knowledge_base_name="kb", knowledge_base_description="d"
    )


def ki(kind: KnowledgeInteractionType, name: str) -> KnowledgeInteractionRegistration:
    return KnowledgeInteractionRegistration(
        knowledge_interaction_type=kind, knowledge_interaction_name=name, graph_pattern=HEIGHTS
    )


def nested(depth: int, opening: str = "[", closing: str = "]") -> str:
    return opening * depth + closing * depth


@pytest.fixture
def engine() -> LocalKnowledgeEngine:
    return LocalKnowledgeEngine(heartbeat=10, kb_wait_timeout=5)


@pytest.fixture
async def http(engine: LocalKnowledgeEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(engine) as client:
        yield client


@pytest.fixture
async def asker(engine: LocalKnowledgeEngine) -> dict[str, str]:
    """Headers naming a registered KB and its ASK interaction."""
    await engine.register_kb(kb_info(ASKER))
    ki_id = engine.register_ki(ASKER, ki(KnowledgeInteractionType.ASK, "heights"))
    return {KB: ASKER, KI: ki_id}


# ---------------------------------------------------------------------- bodies nested too deeply

JSON_ENDPOINTS = ["/sc", "/sc/ki", "/sc/ask", "/sc/post", "/sc/handle"]


@pytest.mark.parametrize("path", JSON_ENDPOINTS)
@pytest.mark.parametrize(("opening", "closing"), [("[", "]"), ('{"a":', "}")])
async def test_json_nested_100_000_deep_is_the_kes_400(
    http: httpx.AsyncClient, asker: dict[str, str], path: str, opening: str, closing: str
) -> None:
    body = opening * 100_000 + "1" * (opening != "[") + closing * 100_000
    response = await http.post(path, content=body, headers={**JSON, **asker})
    assert response.status_code == 400, response.text
    assert response.json() == error(TOO_DEEP)


@pytest.mark.parametrize("path", JSON_ENDPOINTS)
async def test_one_level_past_jacksons_limit_is_the_same_400(
    http: httpx.AsyncClient, asker: dict[str, str], path: str
) -> None:
    response = await http.post(path, content=nested(1001), headers={**JSON, **asker})
    assert response.status_code == 400, response.text
    assert response.json() == error(TOO_DEEP)


async def test_json_deep_but_within_what_the_engine_reads_is_read(
    http: httpx.AsyncClient, engine: LocalKnowledgeEngine
) -> None:
    # Unknown fields are ignored, however deep; brackets inside a string are no nesting at all.
    body = {**kb_body(EX + "kb/deep"), "extra": json.loads(nested(200))}
    body["knowledgeBaseDescription"] = nested(5000)
    response = await http.post("/sc", content=json.dumps(body), headers=JSON)
    assert response.status_code == 200, response.text
    assert engine.get_kb(EX + "kb/deep").knowledge_base_description == nested(5000)


async def test_nesting_python_cannot_read_is_still_a_400_not_a_500(
    http: httpx.AsyncClient, asker: dict[str, str]
) -> None:
    # Jackson reads 1000 levels; Python's decoder recurses and stops just short of that.
    response = await http.post("/sc/ask", content=nested(1000), headers={**JSON, **asker})
    assert response.status_code == 400, response.text
    assert response.json()["messageType"] == "error"


async def test_brackets_in_strings_do_not_count_as_nesting(
    http: httpx.AsyncClient, asker: dict[str, str]
) -> None:
    # 990 levels, with more brackets (and an escaped quote) in a string at the bottom.
    body = "[" * 990 + '"\\"' + "[" * 20 + '"' + "]" * 990
    response = await http.post("/sc/ask", content=body, headers={**JSON, **asker})
    assert response.status_code == 400, response.text
    assert response.json()["messageType"] == "error"
    assert response.json()["message"] != TOO_DEEP


async def test_a_deeply_nested_binding_value_is_a_400(
    http: httpx.AsyncClient, asker: dict[str, str]
) -> None:
    body = '[{"tree": ' + nested(300) + "}]"
    response = await http.post("/sc/ask", content=body, headers={**JSON, **asker})
    assert response.status_code == 400, response.text
    # As the KE 1.5.0 answers a value that is an array or an object, however deep.
    assert response.json()["message"] == (
        "The BindingSet should be a valid JSON array with Bindings."
    )


# ---------------------------------------------------------------------- bodies too large


async def raw_exchange(base_url: str, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send a request head (and part of a body) over a socket; the response's status and body."""
    address = urlsplit(base_url)
    assert address.hostname == HOST
    assert address.port is not None
    reader, writer = await asyncio.open_connection(HOST, address.port)
    try:
        writer.write(head.encode("latin-1") + b"\r\n" + body)
        await writer.drain()
        async with asyncio.timeout(10):
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            content = await reader.readexactly(length)
        return int(status_line.split()[1]), content
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_a_content_length_over_the_maximum_is_refused_before_the_body_is_read() -> None:
    # The body never comes: only a server that answers from the Content-Length answers at all.
    async with serving(create_app(LocalKnowledgeEngine())) as base_url:
        status, content = await raw_exchange(
            base_url,
            f"POST /rest/sc HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {1024 * MAX_BODY_SIZE}\r\n",
            b'{"knowledgeBaseId": ',
        )
    assert status == 400
    assert json.loads(content) == error(TOO_LARGE)


async def test_an_oversized_body_sent_anyway_is_a_400_and_the_client_carries_on() -> None:
    engine = LocalKnowledgeEngine()
    async with serving(create_app(engine)) as base_url, httpx.AsyncClient() as client:
        text = json.dumps(kb_body(EX + "kb/large"))
        body = text.encode() + b" " * (MAX_BODY_SIZE + 1 - len(text))
        response = await client.post(f"{base_url}/sc", content=body, headers=JSON)
        assert response.status_code == 400
        assert response.json() == error(TOO_LARGE)
        assert engine.list_kbs() == []
        response = await client.post(f"{base_url}/sc", json=kb_body(EX + "kb/small"))
        assert response.status_code == 200, response.text
        assert [kb.knowledge_base_id for kb in engine.list_kbs()] == [EX + "kb/small"]


@pytest.mark.parametrize("path", [*JSON_ENDPOINTS, "/sc/knowledge"])
async def test_a_streamed_body_over_the_maximum_is_a_400_and_is_not_read_to_its_end(
    http: httpx.AsyncClient, asker: dict[str, str], path: str
) -> None:
    chunk = 64 * 1024
    sent = 0

    async def endless_binding_set() -> AsyncIterator[bytes]:
        # A valid binding set of 4 maximum sizes, sent without a Content-Length.
        nonlocal sent
        sent += 1
        yield b"["
        for _ in range(4 * MAX_BODY_SIZE // chunk):
            sent += chunk
            yield b"{}," + b" " * (chunk - 3)
        yield b"{}]"

    kind = "text/plain" if path == "/sc/knowledge" else "application/json"
    response = await http.post(
        path, content=endless_binding_set(), headers={"content-type": kind, **asker}
    )
    assert response.status_code == 400, response.text
    assert response.json() == error(TOO_LARGE)
    assert sent <= MAX_BODY_SIZE + 2 * chunk


async def test_a_body_of_exactly_the_maximum_size_is_read(
    http: httpx.AsyncClient, engine: LocalKnowledgeEngine
) -> None:
    text = json.dumps(kb_body(EX + "kb/large"))
    body = text.encode() + b" " * (MAX_BODY_SIZE - len(text))
    assert len(body) == MAX_BODY_SIZE
    response = await http.post("/sc", content=body, headers=JSON)
    assert response.status_code == 200, response.text
    assert [kb.knowledge_base_id for kb in engine.list_kbs()] == [EX + "kb/large"]


# ---------------------------------------------------------------------- ids the IRI check refuses


@pytest.mark.parametrize("character", CONTROL_CHARACTERS)
async def test_a_kb_id_with_a_control_character_is_refused_by_the_engine(
    engine: LocalKnowledgeEngine, character: str
) -> None:
    kb_id = f"{EX}kb/{character}"
    with pytest.raises(KnowledgeEngineResponseError) as error:
        await engine.register_kb(kb_info(kb_id))
    assert error.value.status_code == 400
    assert error.value.message.startswith("Knowledge base ID must be a valid RDF IRI.")
    assert f"U+{ord(character):04X}" in error.value.message
    assert engine.list_kbs() == []


async def test_a_kb_id_with_a_control_character_is_refused_over_http(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post("/sc", json=kb_body(EX + "kb/\x01"))
    assert response.status_code == 400
    assert response.json()["messageType"] == "error"
    assert response.json()["message"].startswith("Knowledge base ID must be a valid RDF IRI.")
    listed = await http.get("/sc")
    assert listed.json() == []


async def test_a_kb_id_with_a_control_character_is_refused_through_the_local_client(
    engine: LocalKnowledgeEngine,
) -> None:
    client = LocalEngineClient(engine)
    with pytest.raises(KnowledgeEngineResponseError) as error:
        await client.register_kb(kb_info(EX + "kb/\x7f"))
    assert error.value.status_code == 400
    assert await client.list_kbs() == []


async def test_an_id_with_a_control_character_is_an_invalid_id_wherever_it_is_named(
    engine: LocalKnowledgeEngine, asker: dict[str, str]
) -> None:
    """Named in a header, such an id is the 400 of an invalid id, as on the KE, not a 404."""
    bad = f"{EX}kb/\x01"
    calls: list[tuple[Any, str]] = [
        (
            lambda: engine.get_kb(bad),
            "Knowledge base not found, because its ID must be a valid URI.",
        ),
        (
            lambda: engine.list_kis(bad),
            "Knowledge base not found, because its knowledge base ID must be a valid URI.",
        ),
        (
            lambda: engine.renew_lease(bad),
            "Knowledge base not found, because its knowledge base ID must be a valid URI.",
        ),
        (
            lambda: engine.register_ki(bad, ki(KnowledgeInteractionType.ASK, "x")),
            "Knowledge base not found, because its knowledge base ID must be a valid URI.",
        ),
        (
            lambda: engine.set_domain_knowledge(bad, ""),
            "Knowledge base not found, because its knowledge base ID must be a valid URI.",
        ),
        (
            lambda: engine.answer(bad, asker[KI], 1, []),
            f"Smart Connector not found, because its ID must be a valid URI and not {bad}",
        ),
    ]
    for call, message in calls:
        with pytest.raises(KnowledgeEngineResponseError) as error:
            call()
        assert (error.value.status_code, error.value.message) == (400, message)
    for coroutine, message in [
        (engine.delete_kb(bad), "Knowledge base not found, because its ID must be a valid URI."),
        (engine.poll(bad), "Smart Connector not found, because its ID must be a valid URI."),
        (
            engine.ask(ASKER, asker[KI] + "\x01", []),
            "Knowledge interaction not found, because its ID must be a valid URI.",
        ),
    ]:
        with pytest.raises(KnowledgeEngineResponseError) as error:
            await coroutine
        assert (error.value.status_code, error.value.message) == (400, message)


async def test_a_recipient_with_a_control_character_is_a_bad_selector(
    http: httpx.AsyncClient, asker: dict[str, str]
) -> None:
    for selector in ({"knowledgeBases": [SILENT + "\x01"]}, {"singleKnowledgeBase": "\x7f"}):
        body = {"recipientSelector": selector, "bindingSet": []}
        response = await http.post("/sc/ask", json=body, headers=asker)
        assert response.status_code == 400, response.text
        assert response.json() == error(BAD_SELECTOR)


@pytest.mark.parametrize("name", ["heights\x01", "\nheights", "heights\x7f"])
async def test_a_ki_name_with_a_control_character_is_refused(
    engine: LocalKnowledgeEngine, asker: dict[str, str], name: str
) -> None:
    with pytest.raises(KnowledgeEngineResponseError) as error:
        engine.register_ki(ASKER, ki(KnowledgeInteractionType.ASK, name))
    assert error.value.status_code == 400
    assert error.value.message == (
        "ConstraintViolationException: scKiPost.arg1.knowledgeInteractionName must match "
        '"^[a-zA-Z0-9-]*$"\n '
    )


# ---------------------------------------------------------------------- a client that hangs up


async def test_a_client_that_hangs_up_in_the_middle_of_its_body_is_no_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    app = ResponseRecorder(create_app(LocalKnowledgeEngine()))
    async with serving(app) as base_url:
        port = urlsplit(base_url).port
        assert port is not None
        _, writer = await asyncio.open_connection(HOST, port)
        writer.write(
            f"POST /rest/sc/ask HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
            f"{KB}: {ASKER}\r\n{KI}: {ASK_ID}\r\nContent-Length: 1000\r\n\r\n".encode()
            + b'[{"tree": "<http://exa'
        )
        await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
        await app.wait_for_handled(1)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    assert 500 not in app.statuses
    access = [r.getMessage() for r in caplog.records if r.name == "tests.testing.access"]
    assert all(not line.endswith(" 500") for line in access), access
    gone = [
        r
        for r in caplog.records
        if r.name == "km_testing.server" and r.levelno == logging.DEBUG and ASKER in r.getMessage()
    ]
    assert len(gone) == 1, [r.getMessage() for r in caplog.records]
    assert "POST /rest/sc/ask" in gone[0].getMessage()
    assert ASK_ID in gone[0].getMessage()


# ---------------------------------------------------------------------- asks that gave up


@contextlib.contextmanager
def loop_exceptions() -> Iterator[list[dict[str, Any]]]:
    """What the running loop reports (e.g. "Future exception was never retrieved")."""
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: reported.append(context))
    try:
        yield reported
    finally:
        gc.collect()  # what is left unreferenced is reported now, while we listen
        loop.set_exception_handler(previous)


async def silent_answerer(engine: LocalKnowledgeEngine) -> str:
    """A KB with an ANSWER interaction that never polls, so never answers."""
    await engine.register_kb(kb_info(SILENT))
    return engine.register_ki(SILENT, ki(KnowledgeInteractionType.ANSWER, "heights"))


def assert_timed_out(result: Any) -> None:
    [info] = result.exchange_info
    assert info.knowledge_base_id == SILENT
    assert info.status is ExchangeStatus.FAILED
    assert info.failed_message.startswith("Error 'TimeoutException' occurred while waiting")


async def test_an_ask_that_timed_out_leaves_nothing_unretrieved_when_its_answerer_is_deleted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = LocalKnowledgeEngine(heartbeat=10, kb_wait_timeout=0.05)
    await engine.register_kb(kb_info(ASKER))
    ask_id = engine.register_ki(ASKER, ki(KnowledgeInteractionType.ASK, "heights"))
    await silent_answerer(engine)
    with loop_exceptions() as reported:
        for _ in range(3):
            assert_timed_out(await engine.ask(ASKER, ask_id, []))
        await engine.delete_kb(SILENT)
    assert reported == []
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_timed_out_request_dropped_from_a_full_queue_leaves_nothing_unretrieved(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = LocalKnowledgeEngine(heartbeat=10, kb_wait_timeout=0.2)
    await engine.register_kb(kb_info(ASKER))
    ask_id = engine.register_ki(ASKER, ki(KnowledgeInteractionType.ASK, "heights"))
    await silent_answerer(engine)
    with loop_exceptions() as reported:
        assert_timed_out(await engine.ask(ASKER, ask_id, []))
        # 50 more fill the queue of 50 and push the abandoned first request out.
        results = await asyncio.gather(*(engine.ask(ASKER, ask_id, []) for _ in range(50)))
        for result in results:
            assert_timed_out(result)
        await engine.delete_kb(SILENT)
    assert reported == []
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_stale_request_is_still_delivered_and_its_answer_accepted() -> None:
    """As on the KE (ref §3, "Stale requests"): the asker gave up, the request stays queued."""
    engine = LocalKnowledgeEngine(heartbeat=10, kb_wait_timeout=0.05)
    await engine.register_kb(kb_info(ASKER))
    ask_id = engine.register_ki(ASKER, ki(KnowledgeInteractionType.ASK, "heights"))
    answer_id = await silent_answerer(engine)
    with loop_exceptions() as reported:
        assert_timed_out(await engine.ask(ASKER, ask_id, []))
        _, request = await engine.poll(SILENT)
        assert request is not None
        assert request.knowledge_interaction_id == answer_id
        engine.answer(SILENT, answer_id, request.handle_request_id, [])
        await engine.delete_kb(SILENT)
    assert reported == []
