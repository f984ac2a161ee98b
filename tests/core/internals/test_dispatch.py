"""Tests of `km_core._handling._dispatch`: the `Dispatcher`, one handle request to its answer."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from collections.abc import Callable
from typing import Annotated, Any

import pytest

from km_core import BindingSet, BindingValidationError, Depends, HandleRequest
from km_core._access_log import ANSWERED
from km_core._declarations import Handled
from km_core._handling import ErrorPolicy
from km_core._handling._dispatch import Dispatcher
from km_core._inject import ContextValue, Dependant, RunSync, run_in_default_thread
from km_testing import TestClient
from tests.core.internals.hosts import ANSWER, Host, answer, open_access, react, registry_of
from tests.support import KB_ID, OAK

REQUESTER = "http://example.org/kb/asker"


@dataclasses.dataclass(frozen=True)
class Context(ContextValue):
    """What the counting context factory makes."""

    ki_name: str
    requesting_kb_id: str | None
    handle_request_id: int | None


class CountingContext:
    """A context factory that counts the contexts it makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, int | None]] = []

    def __call__(
        self, ki: Handled, requesting_kb_id: str | None, handle_request_id: int | None
    ) -> Context:
        self.calls.append((ki.name, requesting_kb_id, handle_request_id))
        return Context(ki.name, requesting_kb_id, handle_request_id)


def ki_id(name: str) -> str:
    return f"{KB_ID}/interaction/{name}"


def make(
    *kis: Handled, run_sync: RunSync = run_in_default_thread, **host_options: Any
) -> tuple[Dispatcher, Host, CountingContext, dict[Callable[..., Any], Dependant]]:
    registry = registry_of(*kis)
    for ki in kis:
        registry.registered(ki, ki_id(ki.name))
    host = Host(TestClient(), **host_options)
    context = CountingContext()
    overridden: dict[Callable[..., Any], Dependant] = {}
    dispatcher = Dispatcher(host, registry, open_access(), context, overridden, run_sync)
    return dispatcher, host, context, overridden


def request(
    name: str, handle_request_id: int = 7, bindings: BindingSet | None = None
) -> HandleRequest:
    return HandleRequest(
        knowledge_interaction_id=ki_id(name),
        handle_request_id=handle_request_id,
        binding_set=bindings if bindings is not None else [{"tree": OAK}],
        requesting_knowledge_base_id=REQUESTER,
    )


# ---------------------------------------------------------------- answer


async def test_a_request_for_a_known_interaction_is_answered_with_the_handler_bindings() -> None:
    received: list[BindingSet] = []

    async def heights(binding_set: BindingSet) -> BindingSet:
        received.append(binding_set)
        return ANSWER

    dispatcher, *_ = make(answer("heights", heights))
    response, _, outcome = await dispatcher.answer(request("heights", 7))
    assert response.handle_request_id == 7
    assert response.binding_set == ANSWER
    assert response.error_message is None
    assert outcome == ANSWERED
    assert received == [[{"tree": OAK}]]


@pytest.mark.parametrize("policy", list(ErrorPolicy))
async def test_a_request_for_an_unknown_interaction_is_answered_per_the_error_policy(
    caplog: pytest.LogCaptureFixture, policy: ErrorPolicy
) -> None:
    async def heights(binding_set: BindingSet) -> BindingSet:
        raise AssertionError("not this one")

    dispatcher, *_ = make(answer("heights", heights), error_policy=policy)
    with caplog.at_level(logging.ERROR, logger="km_core"):
        response, _, outcome = await dispatcher.answer(request("nothing-here", 8))
    assert outcome == "no such interaction"
    assert response.handle_request_id == 8
    if policy is ErrorPolicy.ERROR_MESSAGE:
        assert response.error_message == (
            f"knowledge base {KB_ID} has no knowledge interaction {ki_id('nothing-here')}"
        )
    else:
        assert response.binding_set == []
        assert response.error_message is None
    [record] = caplog.records
    message = record.getMessage()
    assert "unknown knowledge interaction" in message
    assert "handle request 8" in message
    assert REQUESTER in message
    assert KB_ID in message


async def test_a_handler_that_raises_is_answered_naming_the_interaction_and_the_error_type(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def heights(binding_set: BindingSet) -> BindingSet:
        raise LookupError("password=hunter2 was refused")

    dispatcher, *_ = make(answer("heights", heights), error_policy=ErrorPolicy.ERROR_MESSAGE)
    with caplog.at_level(logging.ERROR, logger="km_core"):
        response, _, outcome = await dispatcher.answer(request("heights", 9))
    assert response.error_message == "the handler of 'heights' failed (LookupError)"
    assert "hunter2" not in response.model_dump_json()
    assert outcome == "handler failed (LookupError)"
    [record] = caplog.records
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], LookupError)  # the log has it all
    assert "handle request 9" in record.getMessage()
    assert REQUESTER in record.getMessage()


async def test_a_handler_that_raises_is_answered_with_an_empty_set_by_default() -> None:
    def heights(binding_set: BindingSet) -> BindingSet:
        raise LookupError("no such tree")

    dispatcher, *_ = make(answer("heights", heights))
    response, _, outcome = await dispatcher.answer(request("heights"))
    assert response.binding_set == []
    assert response.error_message is None
    assert outcome == "handler failed (LookupError)"


async def test_a_handler_that_does_not_answer_in_time_is_cancelled_and_answered_as_failed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cancelled = asyncio.Event()

    async def heights(binding_set: BindingSet) -> BindingSet:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return ANSWER

    dispatcher, *_ = make(
        answer("heights", heights), handler_timeout=0.01, error_policy=ErrorPolicy.ERROR_MESSAGE
    )
    with caplog.at_level(logging.ERROR, logger="km_core"):
        response, _, outcome = await dispatcher.answer(request("heights", 10))
    assert response.error_message == "the handler of 'heights' did not answer within 0.01 s"
    assert outcome == "handler timed out after 0.01 s"
    await asyncio.wait_for(cancelled.wait(), 5)
    assert any("did not answer handle request 10" in r.getMessage() for r in caplog.records)


async def test_the_interaction_timeout_wins_over_the_host_timeout() -> None:
    gate = asyncio.Event()

    async def heights(binding_set: BindingSet) -> BindingSet:
        await gate.wait()
        return ANSWER

    # The host allows a long time; the interaction's own limit is what counts.
    dispatcher, *_ = make(answer("heights", heights, timeout=0.01), handler_timeout=60)
    response, _, outcome = await dispatcher.answer(request("heights"))
    assert outcome == "handler timed out after 0.01 s"
    assert response.binding_set == []


async def test_a_handler_within_its_timeout_is_answered() -> None:
    async def heights(binding_set: BindingSet) -> BindingSet:
        await asyncio.sleep(0)
        return ANSWER

    dispatcher, *_ = make(answer("heights", heights), handler_timeout=30)
    response, _, outcome = await dispatcher.answer(request("heights"))
    assert (response.binding_set, outcome) == (ANSWER, ANSWERED)


@pytest.mark.parametrize(
    "bad_result",
    [{"tree": OAK}, [{"tree": 21}], ["<http://example.org/oak>"], 42],
    ids=["one binding", "not a term", "not a binding", "a number"],
)
async def test_a_result_that_is_not_a_binding_set_is_answered_as_failed(
    caplog: pytest.LogCaptureFixture, bad_result: object
) -> None:
    async def heights(binding_set: BindingSet) -> object:
        return bad_result

    dispatcher, *_ = make(answer("heights", heights), error_policy=ErrorPolicy.ERROR_MESSAGE)
    with caplog.at_level(logging.ERROR, logger="km_core"):
        response, _, outcome = await dispatcher.answer(request("heights"))
    assert response.error_message == "the handler of 'heights' failed (BindingValidationError)"
    assert outcome == "handler failed (BindingValidationError)"
    [record] = caplog.records
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], BindingValidationError)


async def test_a_cancelled_handler_raises_with_the_reason_to_answer() -> None:
    started = asyncio.Event()

    async def heights(binding_set: BindingSet) -> BindingSet:
        started.set()
        await asyncio.Event().wait()
        return ANSWER

    dispatcher, *_ = make(answer("heights", heights))
    answering = asyncio.create_task(dispatcher.answer(request("heights")))
    await asyncio.wait_for(started.wait(), 5)
    answering.cancel()
    with pytest.raises(asyncio.CancelledError) as raised:
        await answering
    assert raised.value.args == (f"knowledge base {KB_ID} stopped before 'heights' answered",)


async def test_a_change_of_the_host_error_policy_counts_from_the_next_request() -> None:
    async def heights(binding_set: BindingSet) -> BindingSet:
        raise LookupError("no")

    dispatcher, host, *_ = make(answer("heights", heights))
    first, *_ = await dispatcher.answer(request("heights", 1))
    host.error_policy = ErrorPolicy.ERROR_MESSAGE
    second, *_ = await dispatcher.answer(request("heights", 2))
    assert (first.binding_set, first.error_message) == ([], None)
    assert second.error_message == "the handler of 'heights' failed (LookupError)"


# ---------------------------------------------------------------- invoke


async def test_invoke_builds_no_context_for_a_handler_without_injectable_parameters() -> None:
    async def plain(binding_set: BindingSet) -> BindingSet:
        return ANSWER

    def with_default(binding_set: BindingSet, flag: bool = True) -> BindingSet:
        return ANSWER if flag else []

    plain_ki, default_ki = answer("plain", plain), answer("with-default", with_default)
    dispatcher, _, context, _ = make(plain_ki, default_ki)
    assert await dispatcher.invoke(plain_ki, [], REQUESTER, 1) == ANSWER
    assert await dispatcher.invoke(default_ki, [], REQUESTER, 2) == ANSWER  # a plain default
    assert context.calls == []


async def test_invoke_builds_the_context_once_for_a_handler_that_asks_for_it() -> None:
    seen: list[Context] = []

    async def heights(binding_set: BindingSet, context: Context) -> BindingSet:
        seen.append(context)
        return ANSWER

    ki = answer("heights", heights)
    dispatcher, _, context, _ = make(ki)
    assert await dispatcher.invoke(ki, [{"tree": OAK}], REQUESTER, 11) == ANSWER
    assert await dispatcher.invoke(ki, [], None, None) == ANSWER  # as KnowledgeBase.call does
    assert context.calls == [("heights", REQUESTER, 11), ("heights", None, None)]
    assert seen == [Context("heights", REQUESTER, 11), Context("heights", None, None)]


def stamp() -> str:
    return "real"


def fake_stamp() -> str:
    return "fake"


async def test_invoke_builds_the_context_for_a_handler_with_dependencies_and_reads_overrides() -> (
    None
):
    async def heights(binding_set: BindingSet, value: Annotated[str, Depends(stamp)]) -> BindingSet:
        return [{"tree": OAK, "height": f'"{value}"'}]

    ki = answer("heights", heights)
    dispatcher, host, context, overridden = make(ki)
    assert await dispatcher.invoke(ki, [], REQUESTER, 1) == [{"tree": OAK, "height": '"real"'}]
    host.dependency_overrides[stamp] = fake_stamp  # read per call
    assert await dispatcher.invoke(ki, [], REQUESTER, 2) == [{"tree": OAK, "height": '"fake"'}]
    assert len(context.calls) == 2
    assert fake_stamp in overridden  # the analysis of the override is kept for the next call


@pytest.mark.parametrize("injected", [False, True], ids=["plain", "with a context"])
async def test_invoke_runs_a_sync_handler_with_the_dispatcher_runner(injected: bool) -> None:
    ran: list[str] = []
    threads: list[int] = []

    async def runner(call: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        ran.append(call.__name__)
        return await run_in_default_thread(call, *args, **kwargs)

    def plain(binding_set: BindingSet) -> BindingSet:
        threads.append(threading.get_ident())
        return ANSWER

    def with_context(binding_set: BindingSet, context: Context) -> BindingSet:
        return plain(binding_set)

    ki = answer("heights", with_context if injected else plain)
    dispatcher, *_ = make(ki, run_sync=runner)
    assert await dispatcher.invoke(ki, [], None, None) == ANSWER
    assert ran == ["with_context" if injected else "plain"]
    assert len(threads) == 1
    assert threads[0] != threading.get_ident()


async def test_invoke_refuses_bindings_from_a_reaction_without_a_result_pattern() -> None:
    async def plant(binding_set: BindingSet) -> BindingSet:
        return [{"tree": OAK}]

    async def planted(binding_set: BindingSet) -> BindingSet:
        return [{"tree": OAK, "height": '"1"'}]

    async def quiet(binding_set: BindingSet) -> None:
        return None

    no_result, with_result, nothing = (
        react("plant", plant),
        react("planted", planted, result=True),
        react("quiet", quiet),
    )
    dispatcher, *_ = make(no_result, with_result, nothing)
    with pytest.raises(BindingValidationError, match="has no result graph pattern"):
        await dispatcher.invoke(no_result, [], None, None)
    assert await dispatcher.invoke(with_result, [], None, None) == [{"tree": OAK, "height": '"1"'}]
    assert await dispatcher.invoke(nothing, [], None, None) == []


async def test_invoke_raises_what_the_handler_raises() -> None:
    async def heights(binding_set: BindingSet) -> BindingSet:
        raise LookupError("no such tree")

    ki = answer("heights", heights)
    dispatcher, *_ = make(ki)
    with pytest.raises(LookupError, match="no such tree"):
        await dispatcher.invoke(ki, [], None, None)
