"""Tests of `km_core._serving._serve` (`serve`, `stop`, `shut_down`) and of `capture_signals`
from `km_core._serving._signals`.

`serve` is run on a `KnowledgeBase` (its `Servable`) with the KB's own lifecycle and service
life, as the façade runs it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from typing import Any

import pytest

from km_core import (
    BindingSet,
    KnowledgeBase,
    KnowledgeBaseStoppedError,
    KnowledgeEngineServerError,
)
from km_core._lifecycle import STOPPED_BY_ENGINE, Lifecycle, Registration
from km_core._serving._serve import serve, shut_down, stop
from km_core._serving._signals import capture_signals
from km_testing import TestClient
from tests.core.internals.hosts import ANSWER, FAST, PATTERN
from tests.support import EX, KB_ID, Arrivals, let_the_loop_run


class AskedClient(TestClient):
    """A TestClient that says when the KB first asks for the KE's version."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = asyncio.Event()

    async def get_version(self) -> str:
        self.asked.set()
        return await super().get_version()


def make_kb(client: TestClient) -> tuple[KnowledgeBase, Arrivals]:
    kb = KnowledgeBase(id=KB_ID, name="serving", description="", client=client, poll_backoff=FAST)
    arrivals = Arrivals()

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        await arrivals.arrive()
        return ANSWER

    return kb, arrivals


def state_of(kb: KnowledgeBase) -> Lifecycle:
    return kb._state


def serving(kb: KnowledgeBase, **options: Any) -> asyncio.Task[None]:
    """`serve` in a task of its own, without signal handlers."""
    options.setdefault("connect_wait", None)
    return asyncio.create_task(
        serve(
            kb,
            kb._state,
            kb._life,
            lambda: None,
            max_concurrent_handlers=4,
            grace_period=5,
            handle_signals=False,
            **options,
        )
    )


# ---------------------------------------------------------------- serve and stop


async def test_serve_until_stop_is_called_from_another_thread(client: TestClient) -> None:
    kb, arrivals = make_kb(client)
    task = serving(kb)
    request = client.enqueue_handle_request("heights", [])
    await arrivals.wait_for(1)
    state = state_of(kb)
    assert state.serving is not None
    assert state.handling is not None
    await asyncio.to_thread(stop, state)
    await asyncio.wait_for(task, 5)  # returns: a requested stop is not an error
    response = await client.wait_for_handle_response(request)
    assert response.binding_set == ANSWER
    assert client.registered_kb is None  # unregistered on the way out
    assert not await client.ke_is_available()  # and closed
    after = state_of(kb)  # read afresh: serve changed it
    assert after.serving is None
    assert after.handling is None
    assert after.registration is Registration.NONE


async def test_a_stop_while_connecting_is_a_clean_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = AskedClient()
    client.available = False  # the KE does not answer: serve keeps connecting
    kb, _ = make_kb(client)
    task = serving(kb, connect_wait=None)
    await asyncio.wait_for(client.asked.wait(), 5)
    state = state_of(kb)
    assert state.serving is not None
    assert state.handling is None
    with caplog.at_level(logging.INFO, logger="km_core"):
        stop(state)
        await asyncio.wait_for(task, 5)  # no CancelledError, no KE error
    assert state.stop_requested
    assert not kb.registered
    assert client.registered_kb is None
    assert not await client.ke_is_available()  # closed all the same
    assert any("stopped before it started serving" in r.getMessage() for r in caplog.records)


async def test_a_cancel_of_serve_that_was_not_a_stop_propagates(client: TestClient) -> None:
    client.available = False
    kb, _ = make_kb(client)
    task = serving(kb, connect_wait=None)
    await let_the_loop_run()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert state_of(kb).serving is None
    assert not await client.ke_is_available()  # shut down on the way out


async def test_serve_raises_when_the_ke_ends_the_registration(client: TestClient) -> None:
    kb, _ = make_kb(client)
    task = serving(kb)
    client.enqueue_exit()
    with pytest.raises(KnowledgeBaseStoppedError) as raised:
        await asyncio.wait_for(task, 5)
    assert raised.value.message == STOPPED_BY_ENGINE
    assert raised.value.endpoint == "GET /sc/handle"
    assert raised.value.kb_id == KB_ID
    assert client.registered_kb is not None  # the KE ended it: nothing was deleted
    assert state_of(kb).registration is Registration.NONE


def test_stop_with_nothing_running_does_nothing() -> None:
    state = Lifecycle()
    stop(state)
    assert state.stop_requested is False


async def test_shut_down_logs_an_unregistration_that_fails_and_still_closes(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    kb, _ = make_kb(client)
    await kb.register()
    client.fail_next("unregister_kb", KnowledgeEngineServerError("busy"))
    with caplog.at_level(logging.WARNING, logger="km_core"):
        await shut_down(kb, kb._state, kb._life)
    assert not await client.ke_is_available()
    [warning] = [r.getMessage() for r in caplog.records]
    assert f"knowledge base {KB_ID}: could not unregister (busy" in warning


async def test_shut_down_stops_a_loop_running_in_another_task(client: TestClient) -> None:
    kb, arrivals = make_kb(client)
    await kb.register()
    request = client.enqueue_handle_request("heights", [])
    loop_task = asyncio.create_task(kb.start_handling_loop())
    await arrivals.wait_for(1)
    await asyncio.wait_for(shut_down(kb, kb._state, kb._life), 5)
    assert loop_task.done()
    assert (await client.wait_for_handle_response(request)).binding_set == ANSWER
    assert client.registered_kb is None


# ---------------------------------------------------------------- capture_signals


async def test_capture_signals_stops_on_sigterm_and_restores_the_previous_handlers() -> None:
    stopped = asyncio.Event()
    forced: list[str] = []

    def previous_int(signum: int, frame: object) -> None:
        raise AssertionError("the captured SIGINT must not reach the previous handler")

    def previous_term(signum: int, frame: object) -> None:
        raise AssertionError("the captured SIGTERM must not reach the previous handler")

    old_int = signal.signal(signal.SIGINT, previous_int)
    old_term = signal.signal(signal.SIGTERM, previous_term)
    try:
        with capture_signals(KB_ID, stopped.set, lambda: forced.append("force")):
            assert signal.getsignal(signal.SIGTERM) is not previous_term
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.wait_for(stopped.wait(), 5)
        assert forced == []
        assert signal.getsignal(signal.SIGINT) is previous_int
        assert signal.getsignal(signal.SIGTERM) is previous_term
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)


async def test_capture_signals_a_second_sigint_forces(caplog: pytest.LogCaptureFixture) -> None:
    stops: list[str] = []
    forced = asyncio.Event()
    old_int = signal.getsignal(signal.SIGINT)
    with (
        caplog.at_level(logging.WARNING, logger="km_core"),
        capture_signals(KB_ID, lambda: stops.append("stop"), forced.set),
    ):
        assert signal.getsignal(signal.SIGINT) is not old_int  # captured: safe to send
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.wait_for(forced.wait(), 5)
    assert stops == ["stop"]
    assert signal.getsignal(signal.SIGINT) is old_int
    messages = [r.getMessage() for r in caplog.records]
    assert any("SIGINT received; stopping" in m for m in messages)
    assert any("cancelling in-flight handlers" in m for m in messages)


async def test_capture_signals_outside_the_main_thread_captures_nothing() -> None:
    seen: dict[str, Any] = {}

    async def in_a_thread() -> None:
        before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
        with capture_signals(KB_ID, lambda: None, lambda: None):
            seen["inside"] = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
            seen["ran"] = True
        seen["before"] = before
        seen["after"] = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=asyncio.run, args=(in_a_thread(),))
    thread.start()
    await asyncio.to_thread(thread.join, 5)
    assert seen["ran"] is True
    assert seen["inside"] == seen["before"] == seen["after"]
