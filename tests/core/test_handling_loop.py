"""The concurrent handling loop: concurrency, its bound, the error policy, EXIT, loops, cancel."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections.abc import Iterator
from typing import Annotated

import pytest

from km_core import (
    IRI,
    Backoff,
    BindingModel,
    BindingSet,
    ClientClosedError,
    ConfigurationError,
    Depends,
    HandleRequest,
    KnowledgeBase,
    KnowledgeEngineError,
    KnowledgeEngineServerError,
    KnowledgeEngineUnavailableError,
    PollConflictError,
    PollResult,
    RateLimitedError,
    RequestContext,
    SmartConnectorNotFoundError,
    UnexpectedResponseError,
)
from km_core._handling._loop import DISPATCHES_PER_TURN
from km_testing import TestClient
from tests.support import EX, OAK, Arrivals, let_the_loop_run

PATTERN = "?tree ex:height ?height ."
ANSWER = [{"tree": OAK, "height": '"21"'}]


class ConcurrencyGauge:
    """Counts handlers running at the same time and remembers the most."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.now -= 1


async def start(kb: KnowledgeBase) -> None:
    await kb.connect()
    await kb.register()


def gated_heights(kb: KnowledgeBase) -> tuple[Arrivals, asyncio.Event]:
    """Declare ``heights`` with a handler that arrives, then answers once the event is set."""
    arrivals = Arrivals()
    gate = asyncio.Event()

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        await arrivals.arrive()
        await gate.wait()
        return ANSWER

    return arrivals, gate


def enqueue(client: TestClient, count: int, ki: str = "heights") -> list[int]:
    return [client.enqueue_handle_request(ki, [{"tree": OAK}]) for _ in range(count)]


def answered_ids(client: TestClient) -> list[int]:
    return sorted(r.handle_request_id for r in client.handle_responses)


# ---------------------------------------------------------------- concurrency (stories 1, 2, 6)


async def test_async_handlers_run_concurrently_up_to_the_bound(
    kb: KnowledgeBase, client: TestClient
) -> None:
    """Story 1, 2, 6: N async handlers are in flight together; none finishes before all start."""
    bound = 10
    all_started = asyncio.Event()
    running = 0

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        nonlocal running
        running += 1
        if running == bound:
            all_started.set()
        await asyncio.wait_for(all_started.wait(), timeout=10)
        return ANSWER

    await start(kb)
    ids = enqueue(client, bound)
    client.enqueue_exit()
    await kb.start_handling_loop(max_concurrent_handlers=bound)
    assert answered_ids(client) == ids
    assert all(r.binding_set == ANSWER for r in client.handle_responses)


async def test_sync_handlers_run_concurrently_beyond_the_default_thread_pool(
    kb: KnowledgeBase, client: TestClient
) -> None:
    """Story 3: 16 blocking handlers run at once, more threads than asyncio's default pool
    offers on a small machine, because the loop sizes its own pool to the bound."""
    bound = 16
    barrier = threading.Barrier(bound, timeout=10)
    threads: set[int] = set()
    loop_thread = threading.get_ident()

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    def heights(binding_set: BindingSet) -> BindingSet:
        threads.add(threading.get_ident())
        barrier.wait()  # raises BrokenBarrierError unless all 16 are here at once
        return ANSWER

    await start(kb)
    enqueue(client, bound)
    client.enqueue_exit()
    await kb.start_handling_loop(max_concurrent_handlers=bound)
    assert [r.binding_set for r in client.handle_responses] == [ANSWER] * bound
    assert len(threads) == bound
    assert loop_thread not in threads


@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_a_burst_of_slow_handlers_takes_about_one_handler_time(
    kb: KnowledgeBase, client: TestClient, kind: str
) -> None:
    """A burst of N slow handlers at max_concurrent_handlers=N takes about one handler's
    time, not N (wide bound: less than a third of the sequential time)."""
    count, delay = 10, 0.2
    if kind == "async":

        @kb.answer_ki("heights", PATTERN, prefixes=EX)
        async def slow_async(binding_set: BindingSet) -> BindingSet:
            await asyncio.sleep(delay)
            return ANSWER
    else:

        @kb.answer_ki("heights", PATTERN, prefixes=EX)
        def slow_sync(binding_set: BindingSet) -> BindingSet:
            time.sleep(delay)
            return ANSWER

    await start(kb)
    enqueue(client, count)
    client.enqueue_exit()
    started = time.perf_counter()
    await kb.start_handling_loop(max_concurrent_handlers=count)
    elapsed = time.perf_counter() - started
    assert len(client.handle_responses) == count
    assert elapsed < count * delay / 3


@pytest.mark.parametrize(("kind", "bound"), [("async", 1), ("async", 4), ("sync", 3)])
async def test_the_bound_is_never_exceeded(
    kb: KnowledgeBase, client: TestClient, kind: str, bound: int
) -> None:
    gauge = ConcurrencyGauge()
    if kind == "async":

        @kb.answer_ki("heights", PATTERN, prefixes=EX)
        async def async_handler(binding_set: BindingSet) -> BindingSet:
            with gauge:
                for _ in range(5):
                    await asyncio.sleep(0)
            return ANSWER
    else:

        @kb.answer_ki("heights", PATTERN, prefixes=EX)
        def sync_handler(binding_set: BindingSet) -> BindingSet:
            with gauge:
                time.sleep(0.01)
            return ANSWER

    await start(kb)
    ids = enqueue(client, 30)
    client.enqueue_exit()
    await kb.start_handling_loop(max_concurrent_handlers=bound)
    assert answered_ids(client) == ids
    assert gauge.most == bound
    assert kb.handlers_in_flight == 0


class PollCountingClient(TestClient):
    """A TestClient that remembers how many polls were open at once."""

    def __init__(self) -> None:
        super().__init__()
        self.open_polls = 0
        self.most_open_polls = 0
        self.polls = 0

    async def poll_ki_call(self, kb_id: str) -> tuple[PollResult, HandleRequest | None]:
        self.polls += 1
        self.open_polls += 1
        self.most_open_polls = max(self.most_open_polls, self.open_polls)
        try:
            return await super().poll_ki_call(kb_id)
        finally:
            self.open_polls -= 1


async def test_exactly_one_poll_is_open_at_a_time() -> None:
    client = PollCountingClient()
    kb = KnowledgeBase(id="http://example.org/kb/polls", name="p", description="", client=client)
    arrivals, release = gated_heights(kb)

    await start(kb)
    enqueue(client, 5)
    loop_task = asyncio.create_task(kb.start_handling_loop(max_concurrent_handlers=10))
    # Five handlers block; the loop has a permit left, so it holds the one open poll.
    await arrivals.wait_for(5)
    assert client.open_polls == 1
    release.set()
    client.enqueue_exit()
    await loop_task
    assert client.most_open_polls == 1
    assert len(client.handle_responses) == 5


async def test_a_full_loop_does_not_poll_until_a_permit_is_free(
    kb: KnowledgeBase, client: TestClient
) -> None:
    """With every permit taken, the loop holds no poll: the KE queues requests meanwhile."""
    arrivals, release = gated_heights(kb)

    await start(kb)
    enqueue(client, 3)
    loop_task = asyncio.create_task(kb.start_handling_loop(max_concurrent_handlers=2))
    await arrivals.wait_for(2)
    await let_the_loop_run()
    assert client.pending_handle_requests == 1  # the third waits in the queue, not in a poll
    release.set()
    client.enqueue_exit()
    await loop_task
    assert len(client.handle_responses) == 3


# ---------------------------------------------------------------- error policy (story 7)


async def test_a_handler_that_raises_is_answered_with_an_empty_set_and_the_loop_goes_on(
    kb: KnowledgeBase, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        if binding_set[0]["tree"] == "<http://example.org/bad>":
            raise LookupError("the database lost the bad tree")
        return ANSWER

    await start(kb)
    good1 = client.enqueue_handle_request("heights", [{"tree": OAK}])
    bad = client.enqueue_handle_request(
        "heights",
        [{"tree": "<http://example.org/bad>"}],
        requesting_kb_id="http://example.org/kb/asker",
    )
    good2 = client.enqueue_handle_request("heights", [{"tree": OAK}])
    client.enqueue_exit()
    with caplog.at_level(logging.ERROR, logger="km_core"):
        await kb.start_handling_loop(max_concurrent_handlers=1)
    by_id = {r.handle_request_id: r for r in client.handle_responses}
    assert by_id[bad].binding_set == []
    assert by_id[bad].error_message is None
    assert by_id[good1].binding_set == ANSWER
    assert by_id[good2].binding_set == ANSWER
    [record] = [r for r in caplog.records if r.exc_info]
    message = record.getMessage()
    assert "'heights'" in message
    assert f"handle request {bad}" in message
    assert "http://example.org/kb/asker" in message
    assert kb.id in message
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], LookupError)


async def test_a_sync_handler_that_raises_is_answered_too(
    kb: KnowledgeBase, client: TestClient
) -> None:
    @kb.react_ki("plant", "?tree ex:plantedAt ?place .", prefixes=EX)
    def plant(binding_set: BindingSet) -> None:
        raise RuntimeError("no spade")

    await start(kb)
    request = client.enqueue_handle_request("plant", [{"tree": OAK, "place": OAK}])
    client.enqueue_exit()
    await kb.start_handling_loop(max_concurrent_handlers=1)
    assert client.last_handle_response is not None
    assert client.last_handle_response.handle_request_id == request
    assert client.last_handle_response.binding_set == []


async def test_a_request_for_an_unknown_interaction_is_answered_with_an_empty_set(
    kb: KnowledgeBase, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        return ANSWER

    await start(kb)
    unknown = client.enqueue_handle_request("no-such-ki", [{"x": OAK}])
    known = client.enqueue_handle_request("heights", [{"tree": OAK}])
    client.enqueue_exit()
    with caplog.at_level(logging.ERROR, logger="km_core"):
        await kb.start_handling_loop(max_concurrent_handlers=1)
    by_id = {r.handle_request_id: r for r in client.handle_responses}
    assert by_id[unknown].binding_set == []
    assert by_id[unknown].knowledge_interaction_id == f"{kb.id}/interaction/no-such-ki"
    assert by_id[known].binding_set == ANSWER
    assert any(
        "unknown knowledge interaction" in r.getMessage() and f"request {unknown}" in r.getMessage()
        for r in caplog.records
    )


@pytest.mark.parametrize(
    "bad_result",
    [
        {"tree": OAK},  # one binding, not a list of them
        [{"tree": 21}],  # a value that is not an RDF term in text
        ["<http://example.org/oak>"],  # an item that is not a binding
        42,
    ],
)
async def test_a_result_that_is_not_a_binding_set_is_answered_with_an_empty_set(
    kb: KnowledgeBase, client: TestClient, caplog: pytest.LogCaptureFixture, bad_result: object
) -> None:
    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> object:
        return bad_result

    await start(kb)
    request = client.enqueue_handle_request("heights", [{"tree": OAK}])
    client.enqueue_exit()
    with caplog.at_level(logging.ERROR, logger="km_core"):
        await kb.start_handling_loop()
    assert client.last_handle_response is not None
    assert client.last_handle_response.handle_request_id == request
    assert client.last_handle_response.binding_set == []
    assert any("'heights'" in r.getMessage() for r in caplog.records)


async def test_a_reaction_without_result_pattern_must_not_return_bindings(
    kb: KnowledgeBase, client: TestClient
) -> None:
    calls: list[BindingSet] = []

    @kb.react_ki("plant", "?tree ex:plantedAt ?place .", prefixes=EX)
    async def plant(binding_set: BindingSet) -> BindingSet:
        calls.append(binding_set)
        return [{"tree": OAK}] if len(calls) == 1 else []

    await start(kb)
    client.enqueue_handle_request("plant", [{"tree": OAK, "place": OAK}])
    client.enqueue_handle_request("plant", [{"tree": OAK, "place": OAK}])
    client.enqueue_exit()
    await kb.start_handling_loop(max_concurrent_handlers=1)
    assert [r.binding_set for r in client.handle_responses] == [[], []]
    assert len(calls) == 2


def quick_kb(client: TestClient, **options: object) -> KnowledgeBase:
    """A KB whose retries and backoffs take milliseconds."""
    return KnowledgeBase(
        id="http://example.org/kb/quick",
        name="quick",
        description="",
        client=client,
        poll_backoff=Backoff(initial=0.001, maximum=0.01),
        **options,  # type: ignore[arg-type]
    )


async def test_a_response_post_that_fails_for_a_while_is_posted_again(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    kb = quick_kb(client)

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        return ANSWER

    await start(kb)
    client.fail_next("post_handle_response", times=3)  # the KE is away for three attempts
    ids = enqueue(client, 1)
    client.enqueue_exit()
    with caplog.at_level(logging.INFO, logger="km_core"):
        await kb.start_handling_loop(max_concurrent_handlers=1)
    assert answered_ids(client) == ids
    assert any("after 3 failed attempts" in r.getMessage() for r in caplog.records)


async def test_a_response_that_cannot_be_posted_is_dropped_and_releases_its_permit(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    kb = quick_kb(client, response_retry_period=0.05)

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        return ANSWER

    await start(kb)
    # The first is refused for good (404), the second fails until its retry period is over.
    client.fail_next("post_handle_response", SmartConnectorNotFoundError("Handle request gone"))
    client.fail_next("post_handle_response", times=1000)
    ids = enqueue(client, 3)
    client.enqueue_exit()
    with caplog.at_level(logging.ERROR, logger="km_core"):
        # One permit: had a dropped response leaked it, the loop would hang on the third.
        await kb.start_handling_loop(max_concurrent_handlers=1)
    dropped = [r for r in caplog.records if "dropping it" in r.getMessage()]
    assert [f"handle request {ids[0]}" in dropped[0].getMessage()] == [True]
    assert len(dropped) >= 2
    assert kb.handlers_in_flight == 0
    assert client.pending_handle_requests == 0


async def test_the_next_poll_overlaps_the_previous_response_post(
    kb: KnowledgeBase, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The permit covers the handler, not the response's round trip."""
    second_started = asyncio.Event()
    order: list[str] = []

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet, context: RequestContext) -> BindingSet:
        order.append(f"handler {context.handle_request_id}")
        if len(order) > 1:
            second_started.set()
        return ANSWER

    post = client.post_handle_response

    async def slow_post(*args: object, **kwargs: object) -> None:
        # The first response is held until the second handler runs: with one permit, that
        # happens only if the permit was released before this post.
        try:
            async with asyncio.timeout(5):
                await second_started.wait()
        except TimeoutError:
            order.append("post before the second handler")
        else:
            order.append("post")
        await post(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(client, "post_handle_response", slow_post)
    await start(kb)
    ids = enqueue(client, 2)
    client.enqueue_exit()
    await kb.start_handling_loop(max_concurrent_handlers=1)
    assert order == [f"handler {ids[0]}", f"handler {ids[1]}", "post", "post"]
    assert answered_ids(client) == ids


async def _dispatch_steps(
    kb: KnowledgeBase, client: TestClient, burst: int
) -> tuple[list[int], asyncio.Task[None]]:
    """How many handlers started between two turns of another task, through a queued burst;
    and the handling loop's task, still running until the handlers are let go."""
    await start(kb)
    enqueue(client, burst)
    client.enqueue_exit()
    seen: list[int] = []

    async def observe() -> None:
        while len(seen) < 1000 and kb.handlers_in_flight < burst:
            seen.append(kb.handlers_in_flight)
            await asyncio.sleep(0)

    observer = asyncio.create_task(observe())
    serving = asyncio.create_task(kb.start_handling_loop(max_concurrent_handlers=burst))
    await observer
    return [later - earlier for earlier, later in itertools.pairwise(seen)], serving


async def test_a_burst_of_queued_requests_does_not_starve_the_event_loop(
    kb: KnowledgeBase, client: TestClient
) -> None:
    """The TestClient answers polls without suspending; the loop still yields between dispatches.

    A request for an async handler of plain bindings counts as one dispatch of a turn.
    """
    release = asyncio.Event()

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        await release.wait()
        return ANSWER

    steps, serving = await _dispatch_steps(kb, client, 50)
    release.set()
    await asyncio.wait_for(serving, 10)
    assert steps, "the observer ran while the loop dispatched"
    # Not 0 then 50: other tasks ran between the dispatches, at most a turn's worth apart.
    assert max(steps) <= DISPATCHES_PER_TURN, steps
    assert len(client.handle_responses) == 50


async def test_a_burst_for_sync_handlers_starts_two_threads_per_turn(
    kb: KnowledgeBase, client: TestClient
) -> None:
    """Each sync handler may start a worker thread while the event loop waits: two per turn."""
    release = threading.Event()

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    def heights(binding_set: BindingSet) -> BindingSet:
        release.wait(10)
        return ANSWER

    steps, serving = await _dispatch_steps(kb, client, 20)
    release.set()
    await asyncio.wait_for(serving, 10)
    assert steps, "the observer ran while the loop dispatched"
    assert max(steps) <= 2, steps
    assert len(client.handle_responses) == 20


# ---------------------------------------------------------------- shutdown (story 8) and loops


async def test_exit_waits_for_every_in_flight_handler(
    kb: KnowledgeBase, client: TestClient
) -> None:
    release = asyncio.Event()
    arrivals = Arrivals()
    finished: list[int] = []

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        await arrivals.arrive()
        await release.wait()
        finished.append(1)
        return ANSWER

    await start(kb)
    ids = enqueue(client, 4)
    client.enqueue_exit()
    loop_task = asyncio.create_task(kb.start_handling_loop(max_concurrent_handlers=10))
    await arrivals.wait_for(4)
    # EXIT has been polled: no more polls, but the loop is still waiting for its handlers.
    await let_the_loop_run()
    assert not loop_task.done()
    assert client.handle_responses == []
    release.set()
    await loop_task
    assert len(finished) == 4
    assert answered_ids(client) == ids
    assert kb.handlers_in_flight == 0


async def test_requests_after_exit_are_not_polled(kb: KnowledgeBase, client: TestClient) -> None:
    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        return ANSWER

    await start(kb)
    first = enqueue(client, 2)
    client.enqueue_exit()
    enqueue(client, 2)
    await kb.start_handling_loop()
    assert answered_ids(client) == first
    assert client.pending_handle_requests == 2


async def test_loops_limits_the_number_of_polls_then_drains(
    kb: KnowledgeBase, client: TestClient
) -> None:
    arrivals, release = gated_heights(kb)

    await start(kb)
    ids = enqueue(client, 2)
    client.enqueue_repoll()  # a heartbeat counts as a poll
    enqueue(client, 3)
    loop_task = asyncio.create_task(kb.start_handling_loop(loops=3, max_concurrent_handlers=10))
    await arrivals.wait_for(2)
    release.set()
    await loop_task
    assert answered_ids(client) == ids
    assert client.pending_handle_requests == 3


async def test_loops_zero_polls_nothing(kb: KnowledgeBase, client: TestClient) -> None:
    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        return ANSWER

    await start(kb)
    enqueue(client, 1)
    await kb.start_handling_loop(loops=0)
    assert client.handle_responses == []
    assert client.pending_handle_requests == 1


async def test_cancelling_the_loop_still_answers_every_accepted_request(
    kb: KnowledgeBase, client: TestClient
) -> None:
    arrivals, release = gated_heights(kb)

    await start(kb)
    ids = enqueue(client, 3)
    loop_task = asyncio.create_task(kb.start_handling_loop(max_concurrent_handlers=10))
    await arrivals.wait_for(3)
    loop_task.cancel()
    await let_the_loop_run()
    assert not loop_task.done()  # draining: the handlers are still at work
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await loop_task
    assert [r.binding_set for r in client.handle_responses] == [ANSWER] * 3
    assert answered_ids(client) == ids
    assert kb.event_loop is None


async def test_a_second_cancel_cancels_handlers_which_are_still_answered(
    kb: KnowledgeBase, client: TestClient
) -> None:
    arrivals, _never_set = gated_heights(kb)

    await start(kb)
    ids = enqueue(client, 2)
    loop_task = asyncio.create_task(kb.start_handling_loop(max_concurrent_handlers=10))
    await arrivals.wait_for(2)
    loop_task.cancel()
    await let_the_loop_run()
    loop_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop_task
    assert answered_ids(client) == ids
    assert all(r.binding_set == [] for r in client.handle_responses)
    assert kb.handlers_in_flight == 0


async def test_a_lasting_poll_error_ends_the_loop_after_answering_in_flight_requests(
    kb: KnowledgeBase, client: TestClient
) -> None:
    arrivals, release = gated_heights(kb)

    await start(kb)
    ids = enqueue(client, 2)
    loop_task = asyncio.create_task(kb.start_handling_loop(max_concurrent_handlers=10))
    await arrivals.wait_for(2)
    # The open poll is waiting; the next one finds the client closed (not retried).
    client.fail_next("poll_ki_call", ClientClosedError("the client was closed"))
    client.enqueue_repoll()
    await let_the_loop_run()
    assert not loop_task.done()
    release.set()
    with pytest.raises(ClientClosedError, match="was closed"):
        await loop_task
    assert answered_ids(client) == ids


async def test_a_ke_that_forgot_the_kb_gets_it_registered_again(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    kb = quick_kb(client)

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        return ANSWER

    asking = kb.ask_ki("neighbours", PATTERN, prefixes=EX)
    await start(kb)
    registrations: list[str] = []
    original = client.register_kb

    async def counting(*args: object, **kwargs: object) -> None:
        registrations.append("kb")
        await original(*args, **kwargs)  # type: ignore[arg-type]

    client.register_kb = counting  # type: ignore[method-assign]
    # The KE restarts: it forgets the KB; the next poll is a 404.
    await client.unregister_kb(kb.id)
    client.fail_next("poll_ki_call", SmartConnectorNotFoundError("unknown KB", kb_id=kb.id))
    ids = enqueue(client, 2)
    client.enqueue_exit()
    with caplog.at_level(logging.WARNING, logger="km_core"):
        await kb.start_handling_loop()
    assert registrations == ["kb"]
    assert sorted(client.registered_kis) == sorted(
        [f"{kb.id}/interaction/heights", f"{kb.id}/interaction/neighbours"]
    )
    assert asking.id == f"{kb.id}/interaction/neighbours"
    assert answered_ids(client) == ids  # requests that arrived meanwhile are served afterwards
    assert any("registering again" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "error",
    [
        KnowledgeEngineUnavailableError("connection reset"),
        PollConflictError("Only one connection per Knowledge-Base-Id is allowed"),
        KnowledgeEngineServerError("Internal Server Error", status_code=500),
        UnexpectedResponseError("the answer is not JSON", status_code=200, body="<html>"),
        RateLimitedError("Too Many Requests", status_code=429),
    ],
    ids=["dropped", "409", "500", "unreadable", "429"],
)
async def test_transient_poll_errors_back_off_then_poll_again(
    client: TestClient, caplog: pytest.LogCaptureFixture, error: KnowledgeEngineError
) -> None:
    kb = KnowledgeBase(
        id="http://example.org/kb/backoff",
        name="b",
        description="",
        client=client,
        poll_backoff=Backoff(initial=0.001, maximum=0.01),
    )

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        return ANSWER

    await start(kb)
    client.fail_next("poll_ki_call", error, times=4)
    ids = enqueue(client, 3)
    client.enqueue_exit()
    with caplog.at_level(logging.DEBUG, logger="km_core"):
        await kb.start_handling_loop()
    assert answered_ids(client) == ids
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # once per episode, not once per attempt
    assert "polling failed" in warnings[0].getMessage()
    # The first of several 409s in a row is polled again at once (test_retries.py).
    failed = 3 if isinstance(error, PollConflictError) else 4
    assert any(
        f"works again after {failed} failed attempts" in r.getMessage() for r in caplog.records
    )


def test_backoff_grows_exponentially_up_to_its_cap() -> None:
    backoff = Backoff(initial=1, maximum=10, multiplier=2, jitter=0)
    assert [backoff.delay(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    assert backoff.delay(10_000) == 10
    jittery = Backoff(initial=1, maximum=10, jitter=0.5)
    assert all(0.5 <= jittery.delay(1) <= 1 for _ in range(50))
    with pytest.raises(ConfigurationError):
        Backoff(initial=0)
    with pytest.raises(ConfigurationError):
        Backoff(jitter=2)


# ---------------------------------------------------------------- the loop's own rules


async def test_the_event_loop_is_stored_while_the_loop_runs(
    kb: KnowledgeBase, client: TestClient
) -> None:
    seen: list[asyncio.AbstractEventLoop | None] = []

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        seen.append(kb.event_loop)
        return ANSWER

    await start(kb)
    assert kb.event_loop is None
    enqueue(client, 1)
    client.enqueue_exit()
    await kb.start_handling_loop()
    assert seen == [asyncio.get_running_loop()]
    assert kb.event_loop is None


async def test_the_loop_needs_a_registered_kb(kb: KnowledgeBase) -> None:
    with pytest.raises(RuntimeError, match="register"):
        await kb.start_handling_loop()


async def test_the_loop_cannot_run_twice_at_once(kb: KnowledgeBase, client: TestClient) -> None:
    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        return ANSWER

    await start(kb)
    first = asyncio.create_task(kb.start_handling_loop())
    await let_the_loop_run()
    assert kb.event_loop is not None
    with pytest.raises(RuntimeError, match="already running"):
        await kb.start_handling_loop()
    client.enqueue_exit()
    await first


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_concurrent_handlers": 0}, "max_concurrent_handlers"),
        ({"max_concurrent_handlers": -3}, "max_concurrent_handlers"),
        ({"loops": -1}, "loops"),
    ],
)
async def test_invalid_loop_arguments_are_rejected(
    kb: KnowledgeBase, kwargs: dict[str, int], match: str
) -> None:
    await start(kb)
    with pytest.raises(ConfigurationError, match=match):
        await kb.start_handling_loop(**kwargs)  # type: ignore[arg-type]


async def test_the_requesting_kb_and_bindings_reach_the_handler(
    kb: KnowledgeBase, client: TestClient
) -> None:
    received: list[BindingSet] = []

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        received.append(binding_set)
        return [b | {"height": '"21"'} for b in binding_set]

    await start(kb)
    client.enqueue_handle_request("heights", [{"tree": OAK}, {"tree": "<http://example.org/elm>"}])
    client.enqueue_exit()
    await kb.start_handling_loop()
    assert received == [[{"tree": OAK}, {"tree": "<http://example.org/elm>"}]]
    assert client.last_handle_response is not None
    assert client.last_handle_response.binding_set == [
        {"tree": OAK, "height": '"21"'},
        {"tree": "<http://example.org/elm>", "height": '"21"'},
    ]


async def test_a_forced_cancel_tears_down_a_sync_handler_dependencies_only_after_it_ends(
    kb: KnowledgeBase, client: TestClient
) -> None:
    """A thread cannot be stopped: its dependencies stay alive until it returns."""
    events: list[str] = []
    started = threading.Event()
    go_on = threading.Event()

    def resource() -> Iterator[str]:
        try:
            yield "connection"
        finally:
            events.append("teardown")

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    def heights(binding_set: BindingSet, conn: Annotated[str, Depends(resource)]) -> BindingSet:
        started.set()
        go_on.wait(timeout=10)
        events.append("handler done")
        return ANSWER

    await start(kb)
    enqueue(client, 1)
    loop_task = asyncio.create_task(kb.start_handling_loop())
    await asyncio.to_thread(started.wait, 10)
    loop_task.cancel()
    await let_the_loop_run()
    loop_task.cancel()  # forces: handler tasks are cancelled
    await let_the_loop_run()
    assert events == []  # the thread still runs, so its resource must not be torn down yet
    go_on.set()
    with pytest.raises(asyncio.CancelledError):
        await loop_task
    assert events == ["handler done", "teardown"]
    assert client.last_handle_response is not None
    assert client.last_handle_response.binding_set == []


async def test_a_result_model_checks_plain_dict_results(
    kb: KnowledgeBase, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    class Height(BindingModel):
        tree: IRI
        height: str

    @kb.react_ki(
        "measure",
        "?tree ex:measured ?when .",
        "?tree ex:height ?height .",
        prefixes=EX,
        result_model=Height,
    )
    async def measure(binding_set: BindingSet) -> BindingSet:
        if binding_set[0]["when"] == '"never"':
            return [{"tree": OAK}]  # no height: does not fit Height
        return [{"tree": OAK, "height": '"21"'}]

    await start(kb)
    good = client.enqueue_handle_request("measure", [{"tree": OAK, "when": '"now"'}])
    bad = client.enqueue_handle_request("measure", [{"tree": OAK, "when": '"never"'}])
    client.enqueue_exit()
    with caplog.at_level(logging.ERROR, logger="km_core"):
        await kb.start_handling_loop(max_concurrent_handlers=1)
    by_id = {r.handle_request_id: r.binding_set for r in client.handle_responses}
    assert by_id == {good: [{"tree": OAK, "height": '"21"'}], bad: []}
    assert any(
        "Height.height" in str(r.exc_info[1]) and "unbound" in str(r.exc_info[1])
        for r in caplog.records
        if r.exc_info
    )


async def test_an_ask_for_everything_reaches_a_model_handler_as_no_bindings(
    kb: KnowledgeBase, client: TestClient
) -> None:
    class Height(BindingModel):
        tree: IRI
        height: int

    seen: list[list[Height]] = []

    @kb.answer_ki("heights", PATTERN, prefixes=EX, binding_model=Height)
    async def heights(binding_set: list[Height]) -> list[Height]:
        seen.append(binding_set)
        return [Height(tree=IRI("http://example.org/oak"), height=21)]

    await start(kb)
    # The KE sends an ask that binds nothing as one empty binding.
    request = client.enqueue_handle_request("heights", [{}])
    client.enqueue_exit()
    await kb.start_handling_loop()
    assert seen == [[]]
    response = await client.wait_for_handle_response(request)
    assert response.binding_set == [
        {"tree": OAK, "height": '"21"^^<http://www.w3.org/2001/XMLSchema#integer>'}
    ]
