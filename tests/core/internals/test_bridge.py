"""Tests of `km_core._outgoing._bridge`: `SyncCalls`, `ask_sync` and `post_sync`, via a KB.

A sync call hands its coroutine to the handling loop's event loop and blocks its own thread
until the answer comes; it refuses where waiting would deadlock or block another loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from km_core import AskResult, BindingSet, KnowledgeBase
from km_testing import TestClient
from tests.core.internals.hosts import PATTERN
from tests.support import BEECH, EX, KB_ID, OAK, let_the_loop_run

NEAR = "?a ex:near ?b ."


def make_kb(client: TestClient) -> KnowledgeBase:
    kb = KnowledgeBase(id=KB_ID, name="bridge", description="", client=client)
    kb.ask_ki("neighbours", NEAR, prefixes=EX)
    kb.post_ki("notify", "?a ex:seen ?b .", prefixes=EX)
    return kb


@pytest.fixture
async def running(client: TestClient) -> AsyncIterator[KnowledgeBase]:
    """A registered KB whose handling loop runs (and has no handler of its own)."""
    kb = make_kb(client)
    await kb.register()
    loop_task = asyncio.create_task(kb.start_handling_loop())
    await let_the_loop_run()
    assert kb.event_loop is asyncio.get_running_loop()
    yield kb
    client.enqueue_exit()
    await asyncio.wait_for(loop_task, 5)


async def test_ask_sync_and_post_sync_from_a_sync_handler(client: TestClient) -> None:
    kb = make_kb(client)
    results: list[Any] = []
    threads: list[int] = []

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    def heights(binding_set: BindingSet) -> BindingSet:
        threads.append(threading.get_ident())
        results.append(kb.ask_sync("neighbours", [{"a": OAK}], timeout=5))
        results.append(kb.post_sync("notify", [{"a": OAK, "b": BEECH}], timeout=5))
        return []

    await kb.register()
    client.mock_result_binding_set("neighbours", [{"a": OAK, "b": BEECH}])
    request = client.enqueue_handle_request("heights", [])
    client.enqueue_exit()
    await kb.start_handling_loop()
    assert results == [[{"a": OAK, "b": BEECH}], []]
    assert [(c.kind, c.binding_set) for c in client.outgoing_calls] == [
        ("ask", [{"a": OAK}]),
        ("post", [{"a": OAK, "b": BEECH}]),
    ]
    assert threads[0] != threading.get_ident()  # the handler ran in a worker thread
    assert (await client.wait_for_handle_response(request)).binding_set == []


async def test_ask_sync_on_the_loop_own_thread_refuses_to_deadlock(
    running: KnowledgeBase, client: TestClient
) -> None:
    with pytest.raises(RuntimeError, match=r"ask_sync\(\) was called on the event loop's own"):
        running.ask_sync("neighbours")
    with pytest.raises(RuntimeError, match="deadlock"):
        running.post_sync("notify", [])
    assert client.outgoing_calls == []


async def test_ask_sync_from_a_thread_running_another_event_loop_is_refused(
    running: KnowledgeBase, client: TestClient
) -> None:
    async def from_another_loop() -> str:
        try:
            running.ask_sync("neighbours")
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    message = await asyncio.to_thread(asyncio.run, from_another_loop())
    assert "another event loop" in message
    assert client.outgoing_calls == []


async def test_ask_sync_while_the_handling_loop_does_not_run_is_refused(
    client: TestClient,
) -> None:
    kb = make_kb(client)
    await kb.register()

    def in_a_thread() -> str:
        try:
            kb.ask_sync("neighbours")
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    message = await asyncio.to_thread(in_a_thread)
    assert f"needs the handling loop of knowledge base {KB_ID} to be running" in message
    assert client.outgoing_calls == []


def test_post_sync_with_no_event_loop_at_all_is_refused() -> None:
    kb = make_kb(TestClient())
    with pytest.raises(RuntimeError, match=r"post_sync\(\) needs the handling loop"):
        kb.post_sync("notify", [])


class StuckClient(TestClient):
    """A KE that never answers an ask; it says when the ask was cancelled."""

    def __init__(self) -> None:
        super().__init__()
        self.asking = threading.Event()
        self.cancelled = asyncio.Event()

    async def ask(
        self,
        kb_id: str,
        ki_id: str,
        binding_set: BindingSet,
        *,
        recipients: Sequence[str] | None = None,
    ) -> AskResult:
        self.asking.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        raise AssertionError("unreachable")


async def test_ask_sync_that_times_out_cancels_the_ask_and_raises_timeout_error() -> None:
    client = StuckClient()
    kb = make_kb(client)
    outcome: list[str] = []

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    def heights(binding_set: BindingSet) -> BindingSet:
        try:
            kb.ask_sync("neighbours", timeout=0.05)
        except TimeoutError:
            outcome.append("timed out")
        outcome.append(f"asked: {client.asking.is_set()}")
        return []

    await kb.register()
    client.enqueue_handle_request("heights", [])
    client.enqueue_exit()
    await kb.start_handling_loop()
    assert outcome == ["timed out", "asked: True"]
    await asyncio.wait_for(client.cancelled.wait(), 5)  # the ask was not left running
