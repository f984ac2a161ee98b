"""The KB stays up: under each fault, every accepted request is answered exactly once.

Each test injects one kind of fault and then checks the same invariants:

* every handle request the loop accepted got exactly one answer (a result, an empty set or an
  error message), counted per handle request id;
* the loop still serves afterwards: a request sent after the fault gets a real result;
* ``kb.handlers_in_flight == 0`` at the end;
* the concurrency bound held (the handlers count themselves while they run).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from km_core import (
    BindingSet,
    ErrorPolicy,
    HandleRequest,
    HandleResponse,
    KnowledgeBase,
    KnowledgeEngineServerError,
    KnowledgeEngineUnavailableError,
    PollConflictError,
    PollResult,
    SmartConnectorNotFoundError,
)
from km_httpx import HttpxClient
from km_testing import LocalEngineClient, LocalKnowledgeEngine, create_app
from tests.faults.harness import (
    EX,
    FAIL,
    FAST,
    PATTERN,
    SLOW,
    Asker,
    KnowledgeEngineSwitch,
    Probe,
    RecordingTestClient,
    assert_answered_once,
    result_for,
    tree,
)
from tests.support import LoopClock
from tests.testing.serving import HOST, ObservedEngine, serving

KB_ID = "http://example.org/kb/faults"


def make_kb(client: Any, **options: Any) -> KnowledgeBase:
    return KnowledgeBase(
        id=KB_ID, name="faults", description="", client=client, poll_backoff=FAST, **options
    )


def ids_of(client: RecordingTestClient) -> list[int]:
    return [r.handle_request_id for r in client.handle_responses]


async def stop_loop(kb: KnowledgeBase, loop_task: asyncio.Task[None]) -> None:
    kb.stop()
    await asyncio.wait_for(loop_task, 20)


# ---------------------------------------------------------------- handler errors

RAISES = "<http://example.org/raises>"
NOT_A_LIST = "<http://example.org/not-a-list>"
BAD_TERM = "<http://example.org/bad-term>"
CANCELS = "<http://example.org/cancels>"


def faulty_answer(binding_set: BindingSet) -> Any:
    what = binding_set[0]["tree"] if binding_set else ""
    if what == RAISES:
        raise RuntimeError("the database is gone")
    if what == NOT_A_LIST:
        return {"tree": what}
    if what == BAD_TERM:
        return [{"tree": 42}]
    return result_for(binding_set)


@pytest.mark.parametrize("policy", list(ErrorPolicy))
async def test_handler_errors_are_answered_and_the_loop_serves_on(policy: ErrorPolicy) -> None:
    client = RecordingTestClient()
    kb = make_kb(client, error_policy=policy)
    probe = Probe()
    bound = 4

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> Any:
        async with probe.handler():
            await asyncio.sleep(0)  # let the others interleave
            if binding_set and binding_set[0]["tree"] == CANCELS:
                raise asyncio.CancelledError  # a library's timeout leaking out of the handler
            return faulty_answer(binding_set)

    @kb.answer_ki("sync-heights", "?tree ex:age ?height .", prefixes=EX)
    def sync_heights(binding_set: BindingSet) -> Any:
        with probe.sync_handler():
            return faulty_answer(binding_set)

    await kb.register()
    kinds = [RAISES, NOT_A_LIST, BAD_TERM, CANCELS, None, None, None]
    sent: dict[int, str | None] = {}
    for n in range(300):
        kind = kinds[n % len(kinds)]
        ki = "sync-heights" if n % 2 and kind != CANCELS else "heights"
        sent[client.enqueue_handle_request(ki, [{"tree": kind or tree(n)}])] = kind
    loop_task = asyncio.create_task(kb.start_handling_loop(max_concurrent_handlers=bound))
    for request_id in sent:
        await asyncio.wait_for(client.wait_for_handle_response(request_id), 10)

    after = client.enqueue_handle_request("heights", [{"tree": tree(1000)}])
    response = await asyncio.wait_for(client.wait_for_handle_response(after), 10)
    assert response.binding_set == [{"tree": tree(1000), "height": '"21"'}]
    await stop_loop(kb, loop_task)

    assert_answered_once(client.accepted, ids_of(client))
    by_id = {r.handle_request_id: r for r in client.handle_responses}
    for request_id, kind in sent.items():
        answer = by_id[request_id]
        if kind is None:
            assert answer.binding_set is not None
            assert len(answer.binding_set) == 1
        elif policy is ErrorPolicy.ERROR_MESSAGE:
            assert answer.error_message, (kind, answer)
        else:
            assert answer.binding_set == [], (kind, answer)
    assert kb.handlers_in_flight == 0
    assert probe.max_running <= bound
    assert probe.running == 0


# ---------------------------------------------------------------- handler timeouts


async def test_slow_async_handlers_time_out_and_the_loop_serves_on() -> None:
    client = RecordingTestClient()
    kb = make_kb(client, handler_timeout=0.05, error_policy=ErrorPolicy.ERROR_MESSAGE)
    probe = Probe()
    never = asyncio.Event()
    bound = 3

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        async with probe.handler():
            if binding_set[0]["tree"] == SLOW:
                await never.wait()
            return result_for(binding_set)

    await kb.register()
    sent = {
        client.enqueue_handle_request("heights", [{"tree": SLOW if n % 3 == 0 else tree(n)}]): n
        for n in range(30)
    }
    loop_task = asyncio.create_task(kb.start_handling_loop(max_concurrent_handlers=bound))
    for request_id in sent:
        await asyncio.wait_for(client.wait_for_handle_response(request_id), 10)
    after = client.enqueue_handle_request("heights", [{"tree": tree(99)}])
    response = await asyncio.wait_for(client.wait_for_handle_response(after), 10)
    assert response.binding_set == [{"tree": tree(99), "height": '"21"'}]
    await stop_loop(kb, loop_task)

    assert_answered_once(client.accepted, ids_of(client))
    by_id = {r.handle_request_id: r for r in client.handle_responses}
    for request_id, n in sent.items():
        if n % 3 == 0:
            assert by_id[request_id].error_message == (
                "the handler of 'heights' did not answer within 0.05 s"
            )
        else:
            assert by_id[request_id].binding_set == [{"tree": tree(n), "height": '"21"'}]
    assert kb.handlers_in_flight == 0
    assert probe.max_running <= bound
    assert probe.running == 0  # the timed-out handlers were cancelled


async def test_slow_sync_handlers_time_out_without_exceeding_the_thread_bound() -> None:
    client = RecordingTestClient()
    kb = make_kb(client, handler_timeout=0.05)
    probe = Probe()
    release = threading.Event()
    bound = 2

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    def heights(binding_set: BindingSet) -> BindingSet:
        with probe.sync_handler():
            if binding_set[0]["tree"] == SLOW:
                release.wait(timeout=20)  # a thread cannot be cancelled: it runs on
            return result_for(binding_set)

    await kb.register()
    loop_task = asyncio.create_task(kb.start_handling_loop(max_concurrent_handlers=bound))
    try:
        stuck = [client.enqueue_handle_request("heights", [{"tree": SLOW}]) for _ in range(bound)]
        for request_id in stuck:
            response = await asyncio.wait_for(client.wait_for_handle_response(request_id), 10)
            assert response.binding_set == []  # answered at the timeout, thread still busy
        await probe.wait_for_started(bound)
        # Every worker thread is taken: later sync handlers wait for one, and time out too.
        queued = [client.enqueue_handle_request("heights", [{"tree": tree(n)}]) for n in range(5)]
        for request_id in queued:
            response = await asyncio.wait_for(client.wait_for_handle_response(request_id), 10)
            assert response.binding_set == []
        assert probe.max_running <= bound
    finally:
        release.set()
    after = client.enqueue_handle_request("heights", [{"tree": tree(7)}])
    response = await asyncio.wait_for(client.wait_for_handle_response(after), 10)
    assert response.binding_set == [{"tree": tree(7), "height": '"21"'}]
    await stop_loop(kb, loop_task)

    assert_answered_once(client.accepted, ids_of(client))
    assert kb.handlers_in_flight == 0
    assert probe.max_running <= bound


# ---------------------------------------------------------------- poll failures (TestClient)


async def test_bursts_of_poll_failures_are_ridden_out(caplog: pytest.LogCaptureFixture) -> None:
    client = RecordingTestClient()
    kb = make_kb(client)
    probe = Probe()
    gate = asyncio.Event()
    bound = 4

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        async with probe.handler():
            await gate.wait()
            return result_for(binding_set)

    await kb.register()
    loop_task = asyncio.create_task(kb.start_handling_loop(max_concurrent_handlers=bound))
    first = [client.enqueue_handle_request("heights", [{"tree": tree(n)}]) for n in range(3)]
    await probe.wait_for_started(3)  # three handlers hold permits; the fourth poll is open
    bursts = [
        (KnowledgeEngineUnavailableError("connection reset by peer"), 5),
        (PollConflictError("Only one connection per Knowledge-Base-Id is allowed"), 5),
        (KnowledgeEngineServerError("Internal Server Error", status_code=500), 5),
        (KnowledgeEngineServerError("Bad Gateway", status_code=502), 5),
    ]
    for error, times in bursts:
        client.fail_next("poll_ki_call", error, times=times)
    with caplog.at_level(logging.INFO, logger="km_core"):
        client.enqueue_repoll()  # ends the open poll; the next twenty fail
        during = [client.enqueue_handle_request("heights", [{"tree": tree(n)}]) for n in (4, 5)]
        await client.wait_for_failed_polls(20)
        gate.set()
        for request_id in [*first, *during]:
            await asyncio.wait_for(client.wait_for_handle_response(request_id), 10)
    assert any("works again after 20 failed attempts" in r.getMessage() for r in caplog.records)

    after = client.enqueue_handle_request("heights", [{"tree": tree(9)}])
    response = await asyncio.wait_for(client.wait_for_handle_response(after), 10)
    assert response.binding_set == [{"tree": tree(9), "height": '"21"'}]
    await stop_loop(kb, loop_task)

    assert_answered_once(client.accepted, ids_of(client))
    assert set(client.accepted) == {*first, *during, after}
    assert kb.handlers_in_flight == 0
    assert probe.max_running <= bound


# ---------------------------------------------------------------- poll failures over HTTP


class PollFaults:
    """ASGI middleware: answers the next polls with the scripted error statuses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.statuses: deque[int] = deque()
        self.served = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"].rstrip("/") == "/rest/sc/handle"
            and self.statuses
        ):
            status = self.statuses.popleft()
            self.served += 1
            body = {"messageType": "error", "message": f"injected {status}"}
            await JSONResponse(body, status_code=status)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class DroppingProxy:
    """A TCP proxy on loopback that can drop connections: all open ones, or the next polls."""

    def __init__(self, port: int) -> None:
        self.target_port = port
        self.drop_polls = 0
        self.dropped = 0
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> DroppingProxy:
        self._server = await asyncio.start_server(self._connect, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self.drop_all()
        await self._server.wait_closed()

    def drop_all(self) -> int:
        """Abort every proxied connection, as a network blip would; returns how many."""
        pairs = list(self._pairs)
        for pair in pairs:
            self._abort(pair)
        self.dropped += len(pairs)
        return len(pairs)

    @staticmethod
    def _abort(pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter]) -> None:
        for writer in pair:
            writer.transport.abort()

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(HOST, self.target_port)
        pair = (writer, up_writer)
        self._pairs.add(pair)
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, pair, inspect=True),
                self._pump(up_reader, writer, pair, inspect=False),
            )
        finally:
            self._pairs.discard(pair)
            self._abort(pair)

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
        *,
        inspect: bool,
    ) -> None:
        try:
            while data := await reader.read(65536):
                if inspect and self.drop_polls and data.startswith(b"GET /rest/sc/handle"):
                    self.drop_polls -= 1
                    self.dropped += 1
                    return  # the poll never reaches the KE; the KB sees the connection close
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._abort(pair)


class RecordingHttpxClient(HttpxClient):
    """An HttpxClient that records the requests its polls brought and the answers it posted."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.accepted: list[int] = []
        self.answered: list[int] = []
        self.failed_polls = 0

    async def poll_ki_call(self, kb_id: str) -> tuple[PollResult, HandleRequest | None]:
        try:
            result, request = await super().poll_ki_call(kb_id)
        except KnowledgeEngineUnavailableError:
            self.failed_polls += 1
            raise
        if request is not None:
            self.accepted.append(request.handle_request_id)
        return result, request

    async def post_handle_response(self, kb_id: str, ki_id: str, response: HandleResponse) -> None:
        await super().post_handle_response(kb_id, ki_id, response)
        self.answered.append(response.handle_request_id)


@contextlib.asynccontextmanager
async def ke_over_loopback(
    engine: LocalKnowledgeEngine,
) -> AsyncIterator[tuple[PollFaults, DroppingProxy]]:
    faults = PollFaults(create_app(engine))
    async with serving(faults) as base_url:  # type: ignore[arg-type]
        port = int(httpx.URL(base_url).port or 0)
        async with DroppingProxy(port) as proxy:
            yield faults, proxy


def heights_of(result: Any) -> BindingSet:
    return [dict(b) for b in result.binding_set]


async def test_dropped_connections_and_error_bursts_over_loopback_http(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = ObservedEngine(heartbeat=30, kb_wait_timeout=10)
    asker = Asker(LocalEngineClient(engine))
    probe = Probe()
    gate = asyncio.Event()
    gate.set()
    bound = 4
    async with ke_over_loopback(engine) as (faults, proxy):
        client = RecordingHttpxClient(f"http://{HOST}:{proxy.port}/rest")
        kb = make_kb(client)

        @kb.answer_ki("heights", PATTERN, prefixes=EX)
        async def heights(binding_set: BindingSet) -> BindingSet:
            async with probe.handler():
                await gate.wait()
                return result_for(binding_set)

        async with kb:
            await asker.register()
            loop_task = asyncio.create_task(kb.start_handling_loop(max_concurrent_handlers=bound))
            result = await asker.ask([{"tree": tree(1)}])
            assert heights_of(result) == [{"tree": tree(1), "height": '"21"'}]

            # 1. A network blip while a handler runs: the open poll's connection breaks.
            gate.clear()
            started = probe.started
            asking = asyncio.create_task(asker.ask([{"tree": tree(2)}]))
            await probe.wait_for_started(started + 1)
            opened = engine.polls_opened
            await engine.wait_for_polls(opened=opened)
            assert proxy.drop_all() >= 1
            await engine.wait_for_polls(opened=opened + 1)  # the KB polls again
            gate.set()
            result = await asyncio.wait_for(asking, 10)
            assert heights_of(result) == [{"tree": tree(2), "height": '"21"'}]

            # 2. The next polls' connections close before they reach the KE.
            proxy.drop_polls = 3
            ended = engine.polls_ended
            proxy.drop_all()  # the open poll too, so that the next ones are new
            # Wait until the KE has seen that poll go: what it hands to a poll whose client is
            # gone, it loses (as the real KE does); that request never reached the loop.
            await engine.wait_for_polls(ended=ended + 1)
            # 3. Then a burst of 409s and 5xxs from the KE.
            faults.statuses.extend([409, 409, 500, 503, 502, 500])
            result = await asyncio.wait_for(asker.ask([{"tree": tree(3)}]), 20)
            assert heights_of(result) == [{"tree": tree(3), "height": '"21"'}]
            assert proxy.drop_polls == 0
            assert not faults.statuses
            assert client.failed_polls >= 4

            result = await asker.ask([{"tree": tree(4)}])
            assert heights_of(result) == [{"tree": tree(4), "height": '"21"'}]
            await stop_loop(kb, loop_task)

    assert_answered_once(client.accepted, client.answered)
    assert len(client.accepted) == 4
    assert kb.handlers_in_flight == 0
    assert probe.max_running <= bound
    messages = [r.getMessage() for r in caplog.records if r.name == "km_core"]
    assert any("polling failed" in m for m in messages)


# ---------------------------------------------------------------- failed response posts


async def test_response_posts_that_fail_for_a_while_are_posted_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = RecordingTestClient()
    kb = make_kb(client, error_policy=ErrorPolicy.ERROR_MESSAGE, response_retry_period=30)
    probe = Probe()
    bound = 5

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        async with probe.handler():
            await asyncio.sleep(0)
            if binding_set[0]["tree"] == FAIL:
                raise ValueError("no such tree")
            return result_for(binding_set)

    await kb.register()
    client.fail_next("post_handle_response", times=10)
    client.fail_next(
        "post_handle_response", KnowledgeEngineServerError("Bad Gateway", status_code=502), times=10
    )
    client.fail_next(
        "post_handle_response",
        KnowledgeEngineServerError("Service Unavailable", status_code=503),
        times=10,
    )
    sent = {
        client.enqueue_handle_request("heights", [{"tree": FAIL if n % 4 == 0 else tree(n)}]): n
        for n in range(40)
    }
    with caplog.at_level(logging.INFO, logger="km_core"):
        loop_task = asyncio.create_task(kb.start_handling_loop(max_concurrent_handlers=bound))
        for request_id in sent:
            await asyncio.wait_for(client.wait_for_handle_response(request_id), 10)
    assert any("failed attempts" in r.getMessage() for r in caplog.records)
    assert not any("dropping it" in r.getMessage() for r in caplog.records)

    after = client.enqueue_handle_request("heights", [{"tree": tree(77)}])
    response = await asyncio.wait_for(client.wait_for_handle_response(after), 10)
    assert response.binding_set == [{"tree": tree(77), "height": '"21"'}]
    await stop_loop(kb, loop_task)

    assert_answered_once(client.accepted, ids_of(client))
    by_id = {r.handle_request_id: r for r in client.handle_responses}
    for request_id, n in sent.items():
        if n % 4 == 0:
            assert by_id[request_id].error_message == "the handler of 'heights' failed (ValueError)"
        else:
            assert by_id[request_id].binding_set == [{"tree": tree(n), "height": '"21"'}]
    assert kb.handlers_in_flight == 0
    assert probe.max_running <= bound


# ---------------------------------------------------------------- the KE goes away


async def test_a_ke_that_is_down_for_a_while() -> None:
    switch = KnowledgeEngineSwitch(LocalKnowledgeEngine(heartbeat=30, kb_wait_timeout=20))
    client = switch.client()
    kb = make_kb(client, response_retry_period=30)
    asker = Asker(switch.client())
    probe = Probe()
    gate = asyncio.Event()
    bound = 3

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        async with probe.handler():
            if binding_set[0]["tree"] == SLOW:
                await gate.wait()
            return result_for(binding_set)

    await kb.register()
    await asker.register()
    loop_task = asyncio.create_task(kb.start_handling_loop(max_concurrent_handlers=bound))
    result = await asker.ask([{"tree": tree(1)}])
    assert heights_of(result) == [{"tree": tree(1), "height": '"21"'}]

    in_flight = asyncio.create_task(asker.ask([{"tree": SLOW}]))
    await probe.wait_for_started(2)
    switch.go_down()
    await switch.wait_for_failures("poll_ki_call", 5)  # the loop keeps trying, backing off
    with pytest.raises(KnowledgeEngineUnavailableError):
        await asker.ask([{"tree": tree(2)}])  # the asking side sees the KE gone
    gate.set()  # the handler answers while the KE is away: its post is tried again
    await switch.wait_for_failures("post_handle_response", 3)
    assert not in_flight.done()
    switch.come_up()

    result = await asyncio.wait_for(in_flight, 10)
    assert heights_of(result) == [{"tree": SLOW, "height": '"21"'}]
    result = await asker.ask([{"tree": tree(3)}])
    assert heights_of(result) == [{"tree": tree(3), "height": '"21"'}]
    await stop_loop(kb, loop_task)

    assert_answered_once(client.accepted, client.answered)
    assert len(client.accepted) == 3
    assert kb.handlers_in_flight == 0
    assert probe.max_running <= bound


async def test_a_ke_restart_that_forgets_every_kb(caplog: pytest.LogCaptureFixture) -> None:
    switch = KnowledgeEngineSwitch(LocalKnowledgeEngine(heartbeat=30, kb_wait_timeout=10))
    client = switch.client()
    kb = make_kb(client)
    asker = Asker(switch.client())
    probe = Probe()
    bound = 3

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        async with probe.handler():
            return result_for(binding_set)

    asks = kb.ask_ki("others", PATTERN, prefixes=EX)
    await kb.register()
    await asker.register()
    loop_task = asyncio.create_task(kb.start_handling_loop(max_concurrent_handlers=bound))
    result = await asker.ask([{"tree": tree(1)}])
    assert heights_of(result) == [{"tree": tree(1), "height": '"21"'}]

    switch.go_down()  # the KE process dies: the open poll's connection breaks
    await switch.wait_for_failures("poll_ki_call", 2)
    restarted = ObservedEngine(heartbeat=30, kb_wait_timeout=10)
    with caplog.at_level(logging.WARNING, logger="km_core"):
        switch.come_up(restarted)  # a new KE that knows nobody
        await restarted.wait_for_polls(opened=2)  # a 404, then a poll after registering
    assert any("registering again" in r.getMessage() for r in caplog.records)
    assert restarted.get_kb(KB_ID).knowledge_base_id == KB_ID
    assert sorted(ki.knowledge_interaction_name or "" for ki in restarted.list_kis(KB_ID)) == [
        "heights",
        "others",
    ]
    assert asks.id == f"{KB_ID}/interaction/others"

    await asker.register()
    result = await asker.ask([{"tree": tree(2)}])
    assert heights_of(result) == [{"tree": tree(2), "height": '"21"'}]
    await stop_loop(kb, loop_task)

    assert_answered_once(client.accepted, client.answered)
    assert len(client.accepted) == 2
    assert kb.handlers_in_flight == 0
    assert probe.max_running <= bound


# ---------------------------------------------------------------- lease expiry


async def test_a_lease_that_expired_while_the_ke_was_unreachable() -> None:
    engine = ObservedEngine(heartbeat=3600, kb_wait_timeout=20)
    switch = KnowledgeEngineSwitch(engine)
    client = switch.client()
    kb = make_kb(client, lease_renewal_time=30)
    asker = Asker(switch.client())
    probe = Probe()

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        async with probe.handler():
            return result_for(binding_set)

    with LoopClock(asyncio.get_running_loop()) as clock:
        await kb.register()
        await asker.register()
        loop_task = asyncio.create_task(kb.start_handling_loop(max_concurrent_handlers=2))
        result = await asker.ask([{"tree": tree(1)}])
        assert heights_of(result) == [{"tree": tree(1), "height": '"21"'}]

        switch.go_down()  # a partition: polls and lease renewals fail
        await switch.wait_for_failures("poll_ki_call", 1)
        await clock.advance(16)  # the renewal is due, and fails
        await switch.wait_for_failures("renew_lease", 1)
        await clock.advance(20)  # past the lease: the KE drops the KB
        assert KB_ID not in [kb.knowledge_base_id for kb in engine.list_kbs()]
        opened = engine.polls_opened
        switch.come_up()
        await engine.wait_for_polls(opened=opened + 2)  # a 404, then a poll after registering
        assert engine.get_kb(KB_ID).lease_renewal_time == 30

        result = await asker.ask([{"tree": tree(2)}])
        assert heights_of(result) == [{"tree": tree(2), "height": '"21"'}]
        await stop_loop(kb, loop_task)
        await kb.unregister()

    assert_answered_once(client.accepted, client.answered)
    assert len(client.accepted) == 2
    assert kb.handlers_in_flight == 0
    assert probe.max_running <= 2


async def test_a_lease_that_expires_during_an_open_poll() -> None:
    """The usual case: the loop sits in its long poll when the KE drops the KB.

    The engine answers the open poll as the KE does when it stops a KB (EXIT, the 410). The
    KB did not ask to stop, so it should register again and serve on, as it does after a 404.
    """
    engine = ObservedEngine(heartbeat=3600, kb_wait_timeout=20)
    client = KnowledgeEngineSwitch(engine).client()
    kb = make_kb(client, lease_renewal_time=30)
    asker = Asker(LocalEngineClient(engine))
    probe = Probe()

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        async with probe.handler():
            return result_for(binding_set)

    with LoopClock(asyncio.get_running_loop()) as clock:
        await kb.register()
        await asker.register()
        loop_task = asyncio.create_task(kb.start_handling_loop(max_concurrent_handlers=2))
        result = await asker.ask([{"tree": tree(1)}])
        assert heights_of(result) == [{"tree": tree(1), "height": '"21"'}]
        opened = engine.polls_opened
        await engine.wait_for_polls(opened=opened)
        # The process was frozen for longer than the lease (a suspended VM, a stalled host):
        # the renewal and the expiry fall due together, and the KE drops the KB.
        await clock.advance(31)
        reregistered = asyncio.create_task(engine.wait_for_polls(opened=opened + 1))
        try:
            await asyncio.wait(
                {loop_task, reregistered}, timeout=10, return_when=asyncio.FIRST_COMPLETED
            )
            assert not loop_task.done(), "the handling loop stopped after the lease expired"
            await reregistered
            result = await asker.ask([{"tree": tree(2)}])
            assert heights_of(result) == [{"tree": tree(2), "height": '"21"'}]
        finally:
            reregistered.cancel()
            await stop_loop(kb, loop_task)
            with contextlib.suppress(SmartConnectorNotFoundError):
                await kb.unregister()

    assert_answered_once(client.accepted, client.answered)
    assert kb.handlers_in_flight == 0


# ---------------------------------------------------------------- SIGTERM


async def test_sigterm_with_handlers_in_flight_answers_them_all_and_unregisters() -> None:
    client = RecordingTestClient()
    kb = make_kb(client)
    probe = Probe()
    gate = asyncio.Event()
    never = asyncio.Event()
    bound = 10
    previous_calls: list[int] = []

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        async with probe.handler():
            if binding_set[0]["tree"] == SLOW:
                await never.wait()  # outlives the grace period: cancelled, still answered
            await gate.wait()
            return result_for(binding_set)

    def previous(signum: int, frame: object) -> None:
        previous_calls.append(signum)

    old = signal.signal(signal.SIGTERM, previous)
    try:
        serving_task = asyncio.create_task(
            kb.serve(max_concurrent_handlers=bound, grace_period=0.5, connect_wait=5)
        )
        finishing = [
            client.enqueue_handle_request("heights", [{"tree": tree(n)}]) for n in range(4)
        ]
        stuck = [client.enqueue_handle_request("heights", [{"tree": SLOW}]) for _ in range(2)]
        await probe.wait_for_started(6)
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(client.poll_cancelled.wait(), 10)  # the stop reached the loop
        late = client.enqueue_handle_request("heights", [{"tree": tree(50)}])
        gate.set()  # these finish within the grace period
        await asyncio.wait_for(serving_task, 10)
        assert signal.getsignal(signal.SIGTERM) is previous
        assert previous_calls == []
    finally:
        signal.signal(signal.SIGTERM, old)

    assert_answered_once(client.accepted, ids_of(client))
    assert sorted(client.accepted) == sorted([*finishing, *stuck])
    by_id = {r.handle_request_id: r for r in client.handle_responses}
    for n, request_id in enumerate(finishing):
        assert by_id[request_id].binding_set == [{"tree": tree(n), "height": '"21"'}]
    for request_id in stuck:
        assert by_id[request_id].binding_set == []
    assert late not in by_id  # nothing was polled after the stop
    assert client.registered_kb is None  # unregistered on the way out
    assert kb.handlers_in_flight == 0
    assert probe.max_running <= bound
    assert probe.running == 0
