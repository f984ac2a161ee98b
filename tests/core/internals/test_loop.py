"""Tests of `km_core._handling._loop`: the `HandlingLoop`, poll → task per request → respond."""

from __future__ import annotations

import asyncio
import logging
import time
import types
from typing import Any

import pytest

from km_core import Backoff, BindingSet, HandleRequest, PollResult
from km_core._declarations import Handled
from km_core._handling import InFlight, Responder
from km_core._handling._loop import QUICK_REPOLL, HandlingLoop
from km_core._lifecycle import Lifecycle, Registration
from km_core._session import Session
from km_testing import TestClient
from tests.core.internals.hosts import ANSWER, Host, answer, open_access, registry_of
from tests.support import OAK, Arrivals, LoopClock, let_the_loop_run


class PollCountingClient(TestClient):
    """A TestClient that remembers how many polls are open, and the most at once."""

    def __init__(self) -> None:
        super().__init__()
        self.open_polls = 0
        self.most_open_polls = 0

    async def poll_ki_call(self, kb_id: str) -> tuple[PollResult, HandleRequest | None]:
        self.open_polls += 1
        self.most_open_polls = max(self.most_open_polls, self.open_polls)
        try:
            return await super().poll_ki_call(kb_id)
        finally:
            self.open_polls -= 1


async def start(
    client: TestClient, *kis: Handled, max_concurrent_handlers: int = 10, **host_options: Any
) -> tuple[HandlingLoop, Lifecycle, InFlight]:
    """A handling loop for a KB registered on ``client`` with ``kis``."""
    host = Host(client, **host_options)
    registry = registry_of(*kis)
    state = Lifecycle()
    session = Session(host, registry, state)
    await session.register(reregister=True)
    in_flight = InFlight(host.id)
    loop = HandlingLoop(
        host,
        registry=registry,
        access=open_access(host.id),
        session=session,
        state=state,
        in_flight=in_flight,
        responder=Responder(host, registry),
        context=lambda ki, requester, request_id: None,
        overridden={},
        max_concurrent_handlers=max_concurrent_handlers,
    )
    return loop, state, in_flight


def gated() -> tuple[Handled, Arrivals, asyncio.Event]:
    """'heights', whose handler arrives, then answers once the event is set."""
    arrivals = Arrivals()
    gate = asyncio.Event()

    async def heights(binding_set: BindingSet) -> BindingSet:
        await arrivals.arrive()
        await gate.wait()
        return ANSWER

    return answer("heights", heights), arrivals, gate


def answered(client: TestClient) -> list[int]:
    return sorted(r.handle_request_id for r in client.handle_responses)


async def test_each_request_is_served_in_a_task_of_its_own_and_answered(
    client: TestClient,
) -> None:
    tasks: list[str] = []

    async def heights(binding_set: BindingSet) -> BindingSet:
        task = asyncio.current_task()
        assert task is not None
        tasks.append(task.get_name())
        return [{"tree": b["tree"], "height": '"21"'} for b in binding_set]

    loop, state, in_flight = await start(client, answer("heights", heights))
    ids = [client.enqueue_handle_request("heights", [{"tree": OAK}]) for _ in range(2)]
    client.enqueue_exit()
    await loop.run(None, None)
    assert answered(client) == ids
    assert all(r.binding_set == ANSWER for r in client.handle_responses)
    assert tasks == [f"km-handle-{i}" for i in ids]
    assert len(in_flight) == 0
    assert state.handling is None


async def test_exactly_one_poll_is_open_at_a_time() -> None:
    client = PollCountingClient()
    ki, arrivals, gate = gated()
    loop, *_ = await start(client, ki, max_concurrent_handlers=10)
    ids = [client.enqueue_handle_request("heights", []) for _ in range(5)]
    running = asyncio.create_task(loop.run(None, None))
    await arrivals.wait_for(5)
    await let_the_loop_run()
    assert client.open_polls == 1  # five handlers run, permits are left: one poll waits
    gate.set()
    client.enqueue_exit()
    await asyncio.wait_for(running, 5)
    assert client.most_open_polls == 1
    assert answered(client) == ids


async def test_the_permits_bound_the_handlers_and_a_full_loop_holds_no_poll() -> None:
    client = PollCountingClient()
    ki, arrivals, gate = gated()
    loop, _, in_flight = await start(client, ki, max_concurrent_handlers=2)
    ids = [client.enqueue_handle_request("heights", []) for _ in range(3)]
    running = asyncio.create_task(loop.run(None, None))
    await arrivals.wait_for(2)
    await let_the_loop_run()
    assert arrivals.count == 2
    assert len(in_flight) == 2
    assert client.open_polls == 0  # every permit is taken: no poll until one is free
    assert client.pending_handle_requests == 1
    gate.set()
    client.enqueue_exit()
    await asyncio.wait_for(running, 5)
    assert answered(client) == ids
    assert arrivals.count == 3


async def test_exit_ends_the_loop_and_marks_the_registration_ended(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    ki, _, gate = gated()
    gate.set()
    loop, state, _ = await start(client, ki)
    first = client.enqueue_handle_request("heights", [])
    client.enqueue_exit()
    client.enqueue_handle_request("heights", [])  # after the EXIT: never polled
    with caplog.at_level(logging.INFO, logger="km_core"):
        await loop.run(None, None)
    assert state.registration is Registration.ENDED
    assert state.ended_because is not None
    assert answered(client) == [first]
    assert client.pending_handle_requests == 1
    assert any("the KE asked the loop to exit" in r.getMessage() for r in caplog.records)


async def test_an_exit_that_meets_a_requested_stop_does_not_end_the_registration(
    client: TestClient,
) -> None:
    ki, _, _ = gated()
    loop, state, _ = await start(client, ki)
    running = asyncio.create_task(loop.run(None, None))
    await let_the_loop_run()
    assert state.handling is not None
    client.enqueue_exit()
    state.request_stop(state.handling.task)  # in the same turn as the EXIT
    await asyncio.wait_for(running, 5)  # a requested stop returns normally
    assert state.registration is Registration.ACTIVE
    assert state.stop_requested


class ExitOnCancelClient(TestClient):
    """A transport that answers a poll cancelled under it with EXIT, as if the KE had closed it.

    The TestClient (like km-httpx) lets the cancellation through instead; this is the one way
    an EXIT reaches the loop after a stop was asked for.
    """

    async def poll_ki_call(self, kb_id: str) -> tuple[PollResult, HandleRequest | None]:
        try:
            return await super().poll_ki_call(kb_id)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            assert task is not None
            task.uncancel()
            return PollResult.EXIT, None


async def test_an_exit_after_a_requested_stop_does_not_end_the_registration() -> None:
    client = ExitOnCancelClient()
    ki, _, _ = gated()
    loop, state, _ = await start(client, ki)
    running = asyncio.create_task(loop.run(None, None))
    await let_the_loop_run()
    assert state.handling is not None
    state.request_stop(state.handling.task)
    await asyncio.wait_for(running, 5)
    assert state.registration is Registration.ACTIVE  # the stop was ours, not the KE's


async def test_a_cancel_that_was_not_a_requested_stop_propagates(client: TestClient) -> None:
    ki, _, _ = gated()
    loop, state, _ = await start(client, ki)
    running = asyncio.create_task(loop.run(None, None))
    await let_the_loop_run()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert state.handling is None
    assert state.registration is Registration.ACTIVE


async def test_heartbeats_that_come_when_due_are_polled_again_at_once(
    client: TestClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fake clock for the loop: every poll seems to take longer than QUICK_REPOLL, as the
    # KE's 29 s heartbeats do.
    now = [0.0]

    def monotonic() -> float:
        now[0] += 2 * QUICK_REPOLL
        return now[0]

    monkeypatch.setattr(
        "km_core._handling._loop.time",
        types.SimpleNamespace(monotonic=monotonic, perf_counter=time.perf_counter),
    )
    ki, _, gate = gated()
    gate.set()
    # A pause would last a minute, and the test would time out.
    loop, _, _ = await start(client, ki, poll_backoff=Backoff(initial=60, maximum=60))
    for _ in range(5):
        client.enqueue_repoll()
    request = client.enqueue_handle_request("heights", [])
    client.enqueue_exit()
    with caplog.at_level(logging.WARNING, logger="km_core"):
        await asyncio.wait_for(loop.run(None, None), 5)
    assert answered(client) == [request]
    assert caplog.records == []


async def test_a_single_quick_heartbeat_is_polled_again_at_once(client: TestClient) -> None:
    ki, _, gate = gated()
    gate.set()
    loop, _, _ = await start(client, ki, poll_backoff=Backoff(initial=10, maximum=10, jitter=0))
    client.enqueue_repoll()
    request = client.enqueue_handle_request("heights", [])
    client.enqueue_exit()
    with LoopClock(asyncio.get_running_loop()) as clock:
        running = asyncio.create_task(loop.run(None, None))
        await let_the_loop_run()
        assert running.done()  # no pause: the clock never moved
        await running
    assert clock.offset == 0
    assert answered(client) == [request]


async def test_quick_heartbeats_in_a_row_back_off(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    ki, _, gate = gated()
    gate.set()
    loop, _, _ = await start(client, ki, poll_backoff=Backoff(initial=10, maximum=10, jitter=0))
    for _ in range(3):
        client.enqueue_repoll()
    request = client.enqueue_handle_request("heights", [])
    client.enqueue_exit()
    with (
        caplog.at_level(logging.INFO, logger="km_core"),
        LoopClock(asyncio.get_running_loop()) as clock,
    ):
        running = asyncio.create_task(loop.run(None, None))
        await let_the_loop_run()
        # The first heartbeat went through; the second pauses 10 s (of the loop's clock).
        assert not running.done()
        assert client.pending_handle_requests == 3
        await clock.advance(10)
        await let_the_loop_run()
        assert client.pending_handle_requests == 2  # the third came back quick too: pausing
        assert client.handle_responses == []
        await clock.advance(10)
        await asyncio.wait_for(running, 5)
    assert answered(client) == [request]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # one line for the episode, not one per heartbeat
    assert "answered with a heartbeat within 1 s" in warnings[0]
    assert any(
        "polling works again after 2 failed attempts" in r.getMessage() for r in caplog.records
    )
