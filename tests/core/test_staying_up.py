"""A KB that stays up: handler limits, the error policy, waiting for the KE, graceful stops."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading

import pytest

from km_core import Backoff, BindingSet, ErrorPolicy, KnowledgeBase, KnowledgeEngineUnavailableError
from km_testing import TestClient
from tests.support import EX, OAK, Arrivals, let_the_loop_run

PATTERN = "?tree ex:height ?height ."
ANSWER = [{"tree": OAK, "height": '"21"'}]


def make_kb(client: TestClient, **options: object) -> KnowledgeBase:
    return KnowledgeBase(
        id="http://example.org/kb/up",
        name="up",
        description="",
        client=client,
        poll_backoff=Backoff(initial=0.001, maximum=0.01),
        **options,  # type: ignore[arg-type]
    )


async def test_a_slow_async_handler_is_answered_as_failed_at_its_timeout(
    client: TestClient,
) -> None:
    kb = make_kb(client, handler_timeout=0.05, error_policy=ErrorPolicy.ERROR_MESSAGE)
    never = asyncio.Event()
    cancelled = asyncio.Event()

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        try:
            await never.wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return ANSWER

    @kb.answer_ki("quick", "?tree ex:age ?age .", prefixes=EX, timeout=5)
    async def quick(binding_set: BindingSet) -> BindingSet:
        await asyncio.sleep(0.1)  # longer than the KB's timeout, within its own
        return [{"tree": OAK, "age": '"3"'}]

    await kb.register()
    slow = client.enqueue_handle_request("heights", [])
    fine = client.enqueue_handle_request("quick", [])
    client.enqueue_exit()
    await kb.start_handling_loop()
    by_id = {r.handle_request_id: r for r in client.handle_responses}
    assert by_id[slow].error_message == "the handler of 'heights' did not answer within 0.05 s"
    assert by_id[fine].binding_set == [{"tree": OAK, "age": '"3"'}]
    assert cancelled.is_set()
    assert kb.handlers_in_flight == 0


async def test_a_slow_sync_handler_is_answered_at_its_timeout_without_waiting_for_it(
    client: TestClient,
) -> None:
    kb = make_kb(client, handler_timeout=0.05)
    release = threading.Event()

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    def heights(binding_set: BindingSet) -> BindingSet:
        release.wait(timeout=10)
        return ANSWER

    await kb.register()
    request = client.enqueue_handle_request("heights", [])
    waiter = asyncio.create_task(client.wait_for_handle_response(request))
    loop_task = asyncio.create_task(kb.start_handling_loop())
    response = await asyncio.wait_for(waiter, 5)  # answered while the thread still runs
    assert response.binding_set == []
    release.set()
    client.enqueue_exit()
    await loop_task


async def test_the_error_message_policy_names_the_failure_but_not_its_text(
    client: TestClient,
) -> None:
    kb = make_kb(client, error_policy=ErrorPolicy.ERROR_MESSAGE)

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        raise ConnectionError("password=hunter2 rejected by db.internal")

    await kb.register()
    request = client.enqueue_handle_request("heights", [])
    unknown = client.enqueue_handle_request("nothing-here", [])
    client.enqueue_exit()
    await kb.start_handling_loop()
    by_id = {r.handle_request_id: r for r in client.handle_responses}
    assert by_id[request].binding_set is None
    assert by_id[request].error_message == "the handler of 'heights' failed (ConnectionError)"
    assert "hunter2" not in str(by_id[request].error_message)
    assert by_id[unknown].error_message is not None
    assert "no knowledge interaction" in by_id[unknown].error_message


async def test_connect_waits_for_a_ke_that_comes_up_later() -> None:
    class LateClient(TestClient):
        def __init__(self) -> None:
            super().__init__()
            self.checks = 0

        async def get_version(self) -> str:
            self.checks += 1
            if self.checks < 4:
                raise KnowledgeEngineUnavailableError("connection refused")
            return await super().get_version()

    late = LateClient()
    kb = make_kb(late)
    await kb.connect(wait=10)
    assert late.checks == 4

    never = TestClient()
    never.available = False
    kb = make_kb(never)
    with pytest.raises(KnowledgeEngineUnavailableError, match="not available"):
        await kb.connect(wait=0.05)


async def test_stop_lets_handlers_finish_within_the_grace_period_and_cancels_the_rest(
    client: TestClient,
) -> None:
    kb = make_kb(client)
    arrivals = Arrivals()
    never = asyncio.Event()

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        await arrivals.arrive()
        if binding_set and binding_set[0]["tree"] == "<http://example.org/stuck>":
            await never.wait()
        else:
            await asyncio.sleep(0.05)
        return ANSWER

    await kb.register()
    quick = client.enqueue_handle_request("heights", [{"tree": OAK}])
    stuck = client.enqueue_handle_request("heights", [{"tree": "<http://example.org/stuck>"}])
    loop_task = asyncio.create_task(kb.start_handling_loop(grace_period=0.5))
    await arrivals.wait_for(2)
    kb.stop()
    await asyncio.wait_for(loop_task, 10)  # returns normally: a stop is not an error
    by_id = {r.handle_request_id: r.binding_set for r in client.handle_responses}
    assert by_id == {quick: ANSWER, stuck: []}
    assert kb.handlers_in_flight == 0
    assert kb.event_loop is None


async def test_ready_while_polling_not_after_a_failed_poll_and_not_once_stopping(
    client: TestClient,
) -> None:
    kb = make_kb(client)
    arrivals = Arrivals()
    gate = asyncio.Event()

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        await arrivals.arrive()
        await gate.wait()
        return ANSWER

    assert not kb.ready
    await kb.register()
    assert not kb.ready  # registered, but nothing polls yet
    client.fail_next("poll_ki_call", KnowledgeEngineUnavailableError("away"))
    seen: list[bool] = []
    original = client.poll_ki_call

    async def noting(kb_id: str):  # type: ignore[no-untyped-def]
        seen.append(kb.ready)  # as each poll begins
        return await original(kb_id)

    client.poll_ki_call = noting  # type: ignore[method-assign]
    client.enqueue_handle_request("heights", [{"tree": OAK}])
    loop_task = asyncio.create_task(kb.start_handling_loop(grace_period=5))
    await arrivals.wait_for(1)
    assert kb.ready  # the poll after the failed one was answered
    assert seen[:2] == [True, False]  # the loop starts ready; the failed poll made it not
    kb.stop()
    assert not kb.ready  # stopping: a handler still runs, but nothing polls
    gate.set()
    await asyncio.wait_for(loop_task, 10)
    assert not kb.ready
    assert [r.binding_set for r in client.handle_responses] == [ANSWER]


async def test_async_with_registers_then_stops_unregisters_and_closes(client: TestClient) -> None:
    kb = make_kb(client)
    arrivals = Arrivals()

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        await arrivals.arrive()
        await asyncio.sleep(0.05)
        return ANSWER

    async with kb:
        assert client.registered_kb is not None
        request = client.enqueue_handle_request("heights", [])
        loop_task = asyncio.create_task(kb.start_handling_loop())
        await arrivals.wait_for(1)
    assert loop_task.done()
    assert client.last_handle_response is not None
    assert client.last_handle_response.handle_request_id == request
    assert client.registered_kb is None
    assert not await client.ke_is_available()  # closed


async def test_serve_stops_on_sigterm_and_restores_the_previous_handler(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    kb = make_kb(client)
    arrivals = Arrivals()
    seen: list[int] = []

    def previous(signum: int, frame: object) -> None:
        seen.append(signum)

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        await arrivals.arrive()
        await asyncio.sleep(0.05)
        return ANSWER

    old = signal.signal(signal.SIGTERM, previous)
    try:
        serving = asyncio.create_task(kb.serve(grace_period=5))
        request = client.enqueue_handle_request("heights", [])
        await arrivals.wait_for(1)
        with caplog.at_level(logging.WARNING, logger="km_core"):
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.wait_for(serving, 10)
        assert client.last_handle_response is not None
        assert client.last_handle_response.handle_request_id == request
        assert client.registered_kb is None  # unregistered on the way out
        assert any("SIGTERM received" in r.getMessage() for r in caplog.records)
        assert signal.getsignal(signal.SIGTERM) is previous
        assert seen == []
    finally:
        signal.signal(signal.SIGTERM, old)


async def test_stop_before_the_loop_runs_is_harmless(client: TestClient) -> None:
    kb = make_kb(client)
    kb.stop()
    await let_the_loop_run()
    assert kb.event_loop is None


async def test_a_kb_may_get_its_client_later() -> None:
    kb = KnowledgeBase(id="http://example.org/kb/later", name="later", description="")
    assert not kb.has_client
    with pytest.raises(RuntimeError, match="has no client"):
        await kb.connect()
    client = TestClient()
    kb.client = client
    await kb.connect()
    await kb.register()
    assert client.registered_kb is not None


async def test_a_signal_while_waiting_for_the_ke_stops_serve(client: TestClient) -> None:
    client.available = False  # the KE never comes up
    kb = make_kb(client)

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        return ANSWER

    serving = asyncio.create_task(kb.serve(connect_wait=None))
    await let_the_loop_run()
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(serving, 10)  # returns: a clean stop, not a hang or an error
    assert not kb.registered
