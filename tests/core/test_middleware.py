"""The middleware seam, through the public API: order, what a middleware sees, and what the loop
does when a middleware misbehaves (every accepted request is still answered, once).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from km_core import (
    ACCESS_LOGGER_NAME,
    AskResult,
    Backoff,
    BindingSet,
    CallNext,
    ConfigurationError,
    ErrorPolicy,
    ExchangeCall,
    ExchangeNext,
    HandleCall,
    HandleRequest,
    HandleResult,
    KnowledgeBase,
    KnowledgeEngineUnavailableError,
    Middleware,
    Outcome,
    PollResult,
    PostResult,
    SmartConnectorNotFoundError,
)
from km_testing import TestClient
from tests.support import EX, KB_ID, OAK

PATTERN = "?tree ex:height ?height ."
ANSWER = [{"tree": OAK, "height": '"21"'}]
ALICE = "http://example.org/kb/alice"
QUICK = Backoff(initial=0.01, maximum=0.05, jitter=0)


class Recording(Middleware):
    """Records what it sees, in a list shared with other middleware."""

    def __init__(self, name: str, log: list[Any]) -> None:
        self.name = name
        self.log = log

    async def handle(self, call: HandleCall, call_next: CallNext) -> HandleResult:
        self.log.append((self.name, "before", call))
        result = await call_next(call)
        self.log.append((self.name, "after", result))
        return result

    async def exchange(self, call: ExchangeCall, call_next: ExchangeNext) -> AskResult | PostResult:
        self.log.append((self.name, "sends", call))
        result = await call_next(call)
        self.log.append((self.name, "got", result))
        return result


class Events(Middleware):
    """Records the loop's events, and whether the KB was ready at each."""

    def __init__(self) -> None:
        self.kb: KnowledgeBase | None = None
        self.seen: list[tuple[Any, ...]] = []

    def _ready(self) -> bool | None:
        return self.kb.ready if self.kb is not None else None

    def on_poll(self, kb_id: str, result: PollResult) -> None:
        self.seen.append(("poll", kb_id, result, self._ready()))

    def on_poll_failure(self, kb_id: str, error: BaseException) -> None:
        self.seen.append(("poll failed", kb_id, type(error).__name__, self._ready()))

    def on_registered(self, kb_id: str, *, again: bool) -> None:
        self.seen.append(("registered", kb_id, again))

    def on_response_retry(self, kb_id: str, request: HandleRequest, error: BaseException) -> None:
        self.seen.append(("retry", kb_id, request.handle_request_id, type(error).__name__))


def make_kb(client: TestClient, *middleware: Middleware, **options: Any) -> KnowledgeBase:
    kb = KnowledgeBase(
        id=KB_ID,
        name="m",
        description="",
        client=client,
        middleware=middleware,
        poll_backoff=QUICK,
        **options,
    )
    calls: list[int] = []
    slow = asyncio.Event()

    @kb.answer_ki("heights", PATTERN, prefixes=EX, permitted=[ALICE])
    async def heights(binding_set: BindingSet) -> BindingSet:
        calls.append(1)
        if binding_set and binding_set[0].get("tree") == "<http://example.org/boom>":
            raise LookupError("boom")
        if binding_set and binding_set[0].get("tree") == "<http://example.org/slow>":
            slow.set()
            await asyncio.sleep(30)
        return ANSWER if not binding_set else []

    kb.handler_calls = calls  # type: ignore[attr-defined]
    kb.slow_handler_started = slow  # type: ignore[attr-defined]
    return kb


async def serve(kb: KnowledgeBase, client: TestClient, *requests: dict[str, Any]) -> list[Any]:
    """Register, enqueue the requests and an EXIT, run the loop; the responses in request order."""
    if not kb.registered:
        await kb.register()
    ids = [
        client.enqueue_handle_request(
            r.get("ki", "heights"), r.get("bindings", []), requesting_kb_id=r.get("by", ALICE)
        )
        for r in requests
    ]
    client.enqueue_exit()
    async with asyncio.timeout(20):
        await kb.start_handling_loop(max_concurrent_handlers=1)
    by_id = {r.handle_request_id: r for r in client.handle_responses}
    return [by_id.get(i) for i in ids]


# ---------------------------------------------------------------- handle


async def test_the_first_middleware_is_outermost_and_sees_each_request_and_its_result(
    client: TestClient,
) -> None:
    log: list[Any] = []
    kb = make_kb(client, Recording("outer", log), Recording("inner", log))
    [response] = await serve(kb, client, {})
    assert response.binding_set == ANSWER
    assert [(name, when) for name, when, _ in log] == [
        ("outer", "before"),
        ("inner", "before"),
        ("inner", "after"),
        ("outer", "after"),
    ]
    call, result = log[0][2], log[3][2]
    assert isinstance(call, HandleCall)
    assert (call.kb_id, call.ki_name, call.requesting_kb_id) == (KB_ID, "heights", ALICE)
    assert call.handle_request_id == response.handle_request_id
    assert isinstance(result, HandleResult)
    assert (result.outcome, result.detail, result.delivered) == (Outcome.ANSWERED, "answered", True)
    assert result.response.binding_set == ANSWER
    assert result.handler_seconds >= 0


@pytest.mark.parametrize(
    ("request_", "outcome", "detail"),
    [
        ({"bindings": [{"tree": "<http://example.org/other>"}]}, Outcome.EMPTY, "answered"),
        (
            {"bindings": [{"tree": "<http://example.org/boom>"}]},
            Outcome.FAILED,
            "handler failed (LookupError)",
        ),
        ({"by": "http://example.org/kb/eve"}, Outcome.DENIED, "denied (not in the permitted list)"),
        (
            {"bindings": [{"tree": "<http://example.org/slow>"}]},
            Outcome.TIMED_OUT,
            "handler timed out after 0.05 s",
        ),
    ],
    ids=["empty", "failed", "denied", "timed-out"],
)
async def test_the_result_names_the_outcome(
    client: TestClient, request_: dict[str, Any], outcome: Outcome, detail: str
) -> None:
    log: list[Any] = []
    kb = make_kb(client, Recording("only", log), handler_timeout=0.05)
    [response] = await serve(kb, client, request_)
    result = log[-1][2]
    assert (result.outcome, result.detail) == (outcome, detail)
    assert result.response.binding_set == response.binding_set
    assert result.response.handle_request_id == response.handle_request_id


async def test_a_request_for_an_unknown_interaction_has_no_ki_name(client: TestClient) -> None:
    log: list[Any] = []
    kb = make_kb(client, Recording("only", log))
    await kb.register()
    request_id = client.enqueue_handle_request("heights", [], requesting_kb_id=ALICE)
    await kb.unregister_ki("heights")  # queued already: it arrives for an interaction now gone
    client.enqueue_exit()
    async with asyncio.timeout(20):
        await kb.start_handling_loop()
    call, result = log[0][2], log[-1][2]
    assert call.ki_name is None
    assert call.handle_request_id == request_id
    assert result.outcome is Outcome.UNKNOWN_INTERACTION


class RaisesBefore(Middleware):
    async def handle(self, call: HandleCall, call_next: CallNext) -> HandleResult:
        raise RuntimeError("the middleware broke")


class RaisesAfter(Middleware):
    async def handle(self, call: HandleCall, call_next: CallNext) -> HandleResult:
        await call_next(call)
        raise RuntimeError("the middleware broke afterwards")


class NeverGoesOn(Middleware):
    async def handle(self, call: HandleCall, call_next: CallNext) -> HandleResult:
        return HandleResult(
            response=None,  # type: ignore[arg-type]
            outcome=Outcome.ANSWERED,
            detail="made up",
            delivered=True,
            handler_seconds=0,
        )


class GoesOnTwice(Middleware):
    def __init__(self) -> None:
        self.second: BaseException | None = None

    async def handle(self, call: HandleCall, call_next: CallNext) -> HandleResult:
        result = await call_next(call)
        try:
            await call_next(call)
        except RuntimeError as exc:
            self.second = exc
        return result


async def test_a_middleware_that_raises_before_going_on_gets_the_request_answered_as_failed(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    kb = make_kb(client, RaisesBefore(), error_policy=ErrorPolicy.ERROR_MESSAGE)
    with caplog.at_level(logging.INFO):
        first, second = await serve(kb, client, {}, {})  # one permit: both need it back
    assert kb.handler_calls == []  # type: ignore[attr-defined]
    for response in (first, second):
        assert response.error_message == f"knowledge base {KB_ID} could not serve the request"
    assert len(client.handle_responses) == 2
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2
    assert "a middleware failed on handle request" in errors[0].getMessage()
    assert errors[0].exc_info is not None
    access = [r.getMessage() for r in caplog.records if r.name == ACCESS_LOGGER_NAME]
    assert all("middleware failed (RuntimeError)" in line for line in access), access
    assert kb.handlers_in_flight == 0


async def test_a_middleware_that_raises_after_going_on_leaves_the_answer_as_it_was(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    kb = make_kb(client, RaisesAfter())
    with caplog.at_level(logging.INFO):
        [response] = await serve(kb, client, {})
    assert response.binding_set == ANSWER
    assert len(client.handle_responses) == 1  # answered once
    assert any("a middleware failed" in r.getMessage() for r in caplog.records)
    access = [r.getMessage() for r in caplog.records if r.name == ACCESS_LOGGER_NAME]
    assert len(access) == 1
    assert "answered 1 binding" in access[0]


async def test_a_middleware_that_never_goes_on_still_gets_the_request_answered(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    kb = make_kb(client, NeverGoesOn())
    with caplog.at_level(logging.ERROR, logger="km_core"):
        first, second = await serve(kb, client, {}, {})
    assert first.binding_set == []  # the empty-binding-set policy
    assert second.binding_set == []
    assert kb.handler_calls == []  # type: ignore[attr-defined]
    assert sum("returned without calling call_next" in r.getMessage() for r in caplog.records) == 2


async def test_a_middleware_may_go_on_only_once(client: TestClient) -> None:
    twice = GoesOnTwice()
    kb = make_kb(client, twice)
    [response] = await serve(kb, client, {})
    assert response.binding_set == ANSWER
    assert len(client.handle_responses) == 1
    assert kb.handler_calls == [1]  # type: ignore[attr-defined]
    assert isinstance(twice.second, RuntimeError)
    assert "call_next twice" in str(twice.second)


async def test_a_stop_cancels_a_handler_inside_the_middleware_and_still_answers(
    client: TestClient,
) -> None:
    log: list[Any] = []
    kb = make_kb(client, Recording("only", log))
    await kb.register()
    slow = [{"tree": "<http://example.org/slow>"}]
    client.enqueue_handle_request("heights", slow, requesting_kb_id=ALICE)
    loop = asyncio.create_task(kb.start_handling_loop(grace_period=0))
    try:
        async with asyncio.timeout(20):
            await kb.slow_handler_started.wait()  # type: ignore[attr-defined]
            kb.stop()
            await loop
    finally:
        loop.cancel()
    [response] = client.handle_responses
    assert response.binding_set == []
    assert log[-1][2].outcome is Outcome.CANCELLED


# ---------------------------------------------------------------- exchange


async def test_exchange_middleware_wraps_asks_and_posts_in_order(client: TestClient) -> None:
    log: list[Any] = []
    kb = KnowledgeBase(
        id=KB_ID,
        name="m",
        description="",
        client=client,
        middleware=[Recording("outer", log), Recording("inner", log)],
    )
    kb.ask_ki("ask-heights", PATTERN, prefixes=EX)
    kb.post_ki("post-heights", PATTERN, prefixes=EX)
    await kb.register()
    client.mock_result_binding_set("ask-heights", ANSWER)
    assert await kb.ask("ask-heights", [{"tree": OAK}], recipients=[ALICE]) == ANSWER
    await kb.post("post-heights", ANSWER)
    assert [(name, when) for name, when, _ in log] == [
        ("outer", "sends"),
        ("inner", "sends"),
        ("inner", "got"),
        ("outer", "got"),
    ] * 2
    ask, post = log[0][2], log[4][2]
    assert (ask.kb_id, ask.kind, ask.ki_name, ask.recipients) == (
        KB_ID,
        "ask",
        "ask-heights",
        [ALICE],
    )
    assert ask.ki_id == f"{KB_ID}/interaction/ask-heights"
    assert ask.binding_set == [{"tree": OAK}]
    assert (post.kind, post.ki_name, post.binding_set) == ("post", "post-heights", ANSWER)
    assert isinstance(log[3][2], AskResult)
    assert isinstance(log[7][2], PostResult)


async def test_an_exchange_middleware_may_change_the_result_but_not_its_type(
    client: TestClient,
) -> None:
    class Doubling(Middleware):
        async def exchange(
            self, call: ExchangeCall, call_next: ExchangeNext
        ) -> AskResult | PostResult:
            result = await call_next(call)
            assert isinstance(result, AskResult)
            return result.model_copy(update={"binding_set": result.binding_set * 2})

    class Wrong(Middleware):
        async def exchange(
            self, call: ExchangeCall, call_next: ExchangeNext
        ) -> AskResult | PostResult:
            await call_next(call)
            return "not a result"  # type: ignore[return-value]

    kb = KnowledgeBase(id=KB_ID, name="m", description="", client=client, middleware=[Doubling()])
    kb.ask_ki("ask-heights", PATTERN, prefixes=EX)
    await kb.register()
    client.mock_result_binding_set("ask-heights", ANSWER)
    assert await kb.ask("ask-heights") == ANSWER * 2
    await kb.unregister()
    wrong = KnowledgeBase(id=KB_ID, name="m", description="", client=client)
    wrong.ask_ki("ask-heights", PATTERN, prefixes=EX)
    wrong.add_middleware(Wrong())  # from now on
    await wrong.register()
    with pytest.raises(TypeError, match=r"returned str for the ask through 'ask-heights'"):
        await wrong.ask("ask-heights")


async def test_an_error_of_the_client_passes_through_the_exchange_middleware(
    client: TestClient,
) -> None:
    seen: list[BaseException] = []

    class Watching(Middleware):
        async def exchange(
            self, call: ExchangeCall, call_next: ExchangeNext
        ) -> AskResult | PostResult:
            try:
                return await call_next(call)
            except Exception as exc:
                seen.append(exc)
                raise

    kb = KnowledgeBase(id=KB_ID, name="m", description="", client=client, middleware=[Watching()])
    kb.ask_ki("ask-heights", PATTERN, prefixes=EX)
    await kb.register()
    client.fail_next("ask")
    with pytest.raises(KnowledgeEngineUnavailableError):
        await kb.ask("ask-heights")
    assert [type(e) for e in seen] == [KnowledgeEngineUnavailableError]


# ---------------------------------------------------------------- events and readiness


async def test_the_loop_reports_polls_failures_registrations_and_readiness(
    client: TestClient,
) -> None:
    events = Events()
    kb = make_kb(client, events)
    events.kb = kb
    assert not kb.ready
    await kb.register()
    assert not kb.ready  # registered, but not polling yet
    client.fail_next("poll_ki_call")  # the KE is away for one poll
    client.enqueue_repoll()
    client.enqueue_handle_request("heights", [], requesting_kb_id=ALICE)
    client.enqueue_exit()
    async with asyncio.timeout(20):
        await kb.start_handling_loop()
    assert not kb.ready  # the loop ended
    assert events.seen == [
        ("registered", KB_ID, False),
        ("poll failed", KB_ID, "KnowledgeEngineUnavailableError", False),
        ("poll", KB_ID, PollResult.REPOLL, True),
        ("poll", KB_ID, PollResult.HANDLE, True),
        ("poll", KB_ID, PollResult.EXIT, True),
    ]


async def test_a_registration_again_is_reported_and_makes_the_kb_ready(
    client: TestClient,
) -> None:
    events = Events()
    kb = make_kb(client, events)
    events.kb = kb
    await kb.register()
    await client.unregister_kb(kb.id)  # the KE restarted and forgot the KB
    client.fail_next("poll_ki_call", SmartConnectorNotFoundError("unknown KB", kb_id=kb.id))
    client.enqueue_exit()
    async with asyncio.timeout(20):
        await kb.start_handling_loop()
    assert events.seen == [
        ("registered", KB_ID, False),
        ("poll failed", KB_ID, "SmartConnectorNotFoundError", False),
        ("registered", KB_ID, True),
        ("poll", KB_ID, PollResult.EXIT, True),
    ]


async def test_a_response_retry_is_reported(client: TestClient) -> None:
    events = Events()
    kb = make_kb(client, events)
    client.fail_next("post_handle_response", times=2)
    [response] = await serve(kb, client, {})
    assert response.binding_set == ANSWER
    retries = [e for e in events.seen if e[0] == "retry"]
    assert (
        retries
        == [
            ("retry", KB_ID, response.handle_request_id, "KnowledgeEngineUnavailableError"),
        ]
        * 2
    )


async def test_an_event_hook_that_raises_is_logged_and_changes_nothing(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(Middleware):
        def on_poll(self, kb_id: str, result: PollResult) -> None:
            raise ValueError("broken hook")

    kb = make_kb(client, Broken())
    with caplog.at_level(logging.ERROR, logger="km_core"):
        [response] = await serve(kb, client, {})
    assert response.binding_set == ANSWER
    failures = [r for r in caplog.records if "failed in on_poll" in r.getMessage()]
    assert len(failures) == 2  # the HANDLE poll and the EXIT poll


# ---------------------------------------------------------------- installing


def test_only_middleware_may_be_installed(client: TestClient) -> None:
    with pytest.raises(ConfigurationError, match=r"must be a km_core\.Middleware"):
        KnowledgeBase(
            id=KB_ID,
            name="m",
            description="",
            client=client,
            middleware=[object()],  # type: ignore[list-item]
        )
    kb = KnowledgeBase(id=KB_ID, name="m", description="", client=client)
    with pytest.raises(ConfigurationError, match=r"got <function"):
        kb.add_middleware(lambda call, call_next: call_next(call))  # type: ignore[arg-type]
    assert kb.middleware == ()
    first, second = Middleware(), Events()
    kb.add_middleware(first)
    kb.add_middleware(second)
    assert kb.middleware == (first, second)
