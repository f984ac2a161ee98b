"""Outgoing ask/post, their sync bridges, `call`, and the KB's lifecycle (stories 4, 5, 11, 12)."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from km_core import (
    IRI,
    AskResponse,
    AskResult,
    BindingModel,
    BindingSet,
    CallNext,
    ConfigurationError,
    ExchangeCall,
    ExchangeNext,
    HandleCall,
    HandleResult,
    KnowledgeBase,
    KnowledgeEngineUnavailableError,
    Middleware,
    PostResponse,
    PostResult,
    UnknownKnowledgeInteractionError,
)
from km_testing import TestClient
from tests.support import BEECH, EX, KB_ID, OAK, Arrivals


class Tree(BindingModel):
    tree: IRI
    height: str | None = None


# ---------------------------------------------------------------- lifecycle (story 11)


async def test_connect_register_unregister_close(kb: KnowledgeBase, client: TestClient) -> None:
    @kb.answer_ki("heights", "?t ex:height ?h .", prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        return []

    asking = kb.ask_ki("neighbours", "?a ex:near ?b .", prefixes=EX)
    await kb.connect()
    assert not kb.registered
    await kb.register()
    assert kb.registered
    assert client.registered_kb is not None
    assert client.registered_kb.knowledge_base_id == KB_ID
    assert sorted(client.registered_kis) == [
        f"{KB_ID}/interaction/heights",
        f"{KB_ID}/interaction/neighbours",
    ]
    assert asking.id == f"{KB_ID}/interaction/neighbours"
    registered = client.registered_kis[f"{KB_ID}/interaction/heights"]
    assert registered.graph_pattern == "?t ex:height ?h ."
    assert registered.prefixes == EX
    await kb.unregister()
    assert not kb.registered
    assert client.registered_kb is None
    assert asking.id is None
    await kb.close()
    assert not await client.ke_is_available()


async def test_connect_fails_clearly_when_the_ke_is_down(
    kb: KnowledgeBase, client: TestClient
) -> None:
    client.available = False
    with pytest.raises(KnowledgeEngineUnavailableError, match="not available"):
        await kb.connect()


async def test_register_replaces_a_stale_registration_by_default(client: TestClient) -> None:
    first = KnowledgeBase(id=KB_ID, name="a", description="", client=client)
    await first.register()
    again = KnowledgeBase(id=KB_ID, name="b", description="", client=client)
    await again.register()
    assert client.registered_kb is not None
    assert client.registered_kb.knowledge_base_name == "b"


async def test_kis_cannot_be_declared_after_registration(kb: KnowledgeBase) -> None:
    await kb.register()
    with pytest.raises(RuntimeError, match="already registered"):
        kb.ask_ki("late", "?a ?b ?c .")


def test_the_kb_checks_its_settings() -> None:
    client = TestClient()
    with pytest.raises(ConfigurationError, match="absolute IRI"):
        KnowledgeBase(id="not an iri", name="x", description="", client=client)
    with pytest.raises(ConfigurationError, match="lease_renewal_time"):
        KnowledgeBase(id=KB_ID, name="x", description="", client=client, lease_renewal_time=5)
    with pytest.raises(ConfigurationError, match="reasoner_level"):
        KnowledgeBase(id=KB_ID, name="x", description="", client=client, reasoner_level=9)
    kb = KnowledgeBase(id=KB_ID, name="x", description="", client=client)
    with pytest.raises(ConfigurationError, match="letters, digits and hyphens"):
        kb.ask_ki("with space", "?a ?b ?c .")
    with pytest.raises(ConfigurationError, match="graph_pattern"):
        kb.ask_ki("empty", "  ")
    kb.ask_ki("once", "?a ?b ?c .")
    with pytest.raises(ConfigurationError, match="already has"):
        kb.post_ki("once", "?a ?b ?c .")


# ---------------------------------------------------------------- ask and post (story 12)


async def test_ask_by_handle_and_by_name(kb: KnowledgeBase, client: TestClient) -> None:
    neighbours = kb.ask_ki("neighbours", "?a ex:near ?b .", prefixes=EX)
    await kb.register()
    client.mock_result_binding_set("neighbours", [{"a": OAK, "b": BEECH}])
    assert await kb.ask(neighbours, [{"a": OAK}]) == [{"a": OAK, "b": BEECH}]
    assert await kb.ask("neighbours", recipients=["http://example.org/kb/other"]) == [
        {"a": OAK, "b": BEECH}
    ]
    first, second = client.asks
    assert first.knowledge_interaction_id == neighbours.id
    assert first.binding_set == [{"a": OAK}]
    assert first.recipients is None
    assert second.binding_set == []
    assert second.recipients == ["http://example.org/kb/other"]


async def test_ask_with_a_binding_model_takes_and_returns_models(
    kb: KnowledgeBase, client: TestClient
) -> None:
    trees = kb.ask_ki("trees", "?tree ex:height ?height .", prefixes=EX, binding_model=Tree)
    await kb.register()
    client.mock_result_binding_set("trees", [{"tree": OAK, "height": '"21"'}])
    result = await kb.ask(trees, [Tree(tree=OAK)])
    assert result == [Tree(tree=OAK, height="21")]
    assert client.asks[0].binding_set == [{"tree": OAK}]


async def test_ask_with_info_returns_exchange_info_and_gaps(
    kb: KnowledgeBase, client: TestClient
) -> None:
    gaps = kb.ask_ki("gaps", "?a ex:near ?b .", prefixes=EX, knowledge_gaps_enabled=True)
    await kb.register()
    response = await kb.ask_with_info(gaps)
    assert isinstance(response, AskResponse)
    assert response.binding_set == []
    assert response.exchange_info == []
    assert response.knowledge_gaps == []
    assert client.registered_kis[f"{KB_ID}/interaction/gaps"].knowledge_gaps_enabled is True


async def test_post_returns_the_reactions_results(kb: KnowledgeBase, client: TestClient) -> None:
    notify = kb.post_ki(
        "notify", "?tree ex:fell ?when .", "?tree ex:replacedBy ?new .", prefixes=EX
    )
    await kb.register()
    client.mock_result_binding_set("notify", [{"tree": OAK, "new": BEECH}])
    assert await kb.post(notify, [{"tree": OAK, "when": '"now"'}]) == [{"tree": OAK, "new": BEECH}]
    info = await kb.post_with_info("notify", [{"tree": OAK, "when": '"later"'}])
    assert isinstance(info, PostResponse)
    assert info.result_binding_set == [{"tree": OAK, "new": BEECH}]
    assert [p.binding_set for p in client.posts] == [
        [{"tree": OAK, "when": '"now"'}],
        [{"tree": OAK, "when": '"later"'}],
    ]


async def test_outgoing_calls_are_checked(kb: KnowledgeBase, client: TestClient) -> None:
    kb.ask_ki("neighbours", "?a ex:near ?b .", prefixes=EX)
    kb.post_ki("notify", "?a ex:near ?b .", prefixes=EX)
    with pytest.raises(RuntimeError, match="not registered"):
        await kb.ask("neighbours")
    await kb.register()
    with pytest.raises(UnknownKnowledgeInteractionError, match="no-such"):
        await kb.ask("no-such")
    with pytest.raises(ConfigurationError, match="POST"):
        await kb.ask("notify")
    with pytest.raises(ValueError, match="list of bindings"):
        await kb.ask("neighbours", {"a": OAK})  # type: ignore[arg-type]
    assert client.outgoing_calls == []


async def test_many_asks_run_concurrently(kb: KnowledgeBase) -> None:
    """Story 12: outgoing asks do not block each other; gather runs them at once."""
    arrivals = Arrivals()
    release = asyncio.Event()

    class SlowClient(TestClient):
        async def ask(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
            await arrivals.arrive()
            await release.wait()
            return await super().ask(*args, **kwargs)  # type: ignore[arg-type]

    slow = SlowClient()
    kb = KnowledgeBase(id=KB_ID, name="slow", description="", client=slow)
    neighbours = kb.ask_ki("neighbours", "?a ex:near ?b .", prefixes=EX)
    await kb.register()
    asks = asyncio.gather(*(kb.ask(neighbours) for _ in range(20)))
    await arrivals.wait_for(20)  # all twenty are in flight before any returns
    release.set()
    assert await asks == [[]] * 20


# ---------------------------------------------------------------- from handlers (stories 4, 5)


async def test_an_async_handler_asks_before_answering(
    kb: KnowledgeBase, client: TestClient
) -> None:
    neighbours = kb.ask_ki("neighbours", "?a ex:near ?b .", prefixes=EX)

    @kb.answer_ki("heights", "?tree ex:height ?height .", prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        near = await kb.ask(neighbours, [{"a": b["tree"]} for b in binding_set])
        return [{"tree": n["b"], "height": '"3"'} for n in near]

    await kb.register()
    client.mock_result_binding_set("neighbours", [{"a": OAK, "b": BEECH}])
    client.enqueue_handle_request("heights", [{"tree": OAK}])
    client.enqueue_exit()
    await kb.start_handling_loop()
    assert client.asks[0].binding_set == [{"a": OAK}]
    assert client.last_handle_response is not None
    assert client.last_handle_response.binding_set == [{"tree": BEECH, "height": '"3"'}]


async def test_a_sync_handler_asks_and_posts_through_the_bridge(
    kb: KnowledgeBase, client: TestClient
) -> None:
    neighbours = kb.ask_ki("neighbours", "?a ex:near ?b .", prefixes=EX)
    notify = kb.post_ki("notify", "?a ex:seen ?b .", prefixes=EX)
    threads: list[int] = []

    @kb.answer_ki("heights", "?tree ex:height ?height .", prefixes=EX)
    def heights(binding_set: BindingSet) -> BindingSet:
        threads.append(threading.get_ident())
        near = kb.ask_sync(neighbours, [{"a": OAK}], timeout=10)
        kb.post_sync(notify, [{"a": OAK, "b": BEECH}])
        kb.post_sync("notify", [{"a": BEECH, "b": OAK}], timeout=10)
        return [{"tree": n["b"], "height": '"3"'} for n in near]

    await kb.register()
    client.mock_result_binding_set("neighbours", [{"a": OAK, "b": BEECH}])
    client.enqueue_handle_request("heights", [{"tree": OAK}])
    client.enqueue_exit()
    await kb.start_handling_loop()
    assert len(threads) == 1
    assert threads[0] != threading.get_ident()
    assert client.last_handle_response is not None
    assert client.last_handle_response.binding_set == [{"tree": BEECH, "height": '"3"'}]
    assert [c.kind for c in client.outgoing_calls] == ["ask", "post", "post"]


REQUEST_TAG: contextvars.ContextVar[str] = contextvars.ContextVar("request_tag", default="none")
THREAD_TAG: contextvars.ContextVar[str] = contextvars.ContextVar("thread_tag", default="none")


class Tagging(Middleware):
    """Tags each request's context in `handle`; notes the tags each ask and post sees."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    async def handle(self, call: HandleCall, call_next: CallNext) -> HandleResult:
        REQUEST_TAG.set(f"request {call.handle_request_id}")
        return await call_next(call)

    async def exchange(self, call: ExchangeCall, call_next: ExchangeNext) -> AskResult | PostResult:
        self.seen.append((call.kind, REQUEST_TAG.get(), THREAD_TAG.get()))
        return await call_next(call)


async def test_asks_and_posts_through_the_bridge_see_the_handler_threads_context(
    client: TestClient,
) -> None:
    """What a middleware puts in the request's context (an OpenTelemetry span) reaches the asks
    and posts a sync handler makes with ask_sync and post_sync, as do the thread's own values."""
    tagging = Tagging()
    kb = KnowledgeBase(id=KB_ID, name="tagged", description="", client=client, middleware=[tagging])
    neighbours = kb.ask_ki("neighbours", "?a ex:near ?b .", prefixes=EX)
    notify = kb.post_ki("notify", "?a ex:seen ?b .", prefixes=EX)

    @kb.answer_ki("heights", "?tree ex:height ?height .", prefixes=EX)
    def heights(binding_set: BindingSet) -> BindingSet:
        THREAD_TAG.set("handler thread")
        kb.ask_sync(neighbours, timeout=10)
        kb.post_sync(notify, [{"a": OAK, "b": BEECH}], timeout=10)
        return []

    await kb.register()
    first = client.enqueue_handle_request("heights", [])
    second = client.enqueue_handle_request("heights", [])
    client.enqueue_exit()
    async with asyncio.timeout(10):
        await kb.start_handling_loop()
    assert sorted(tagging.seen) == sorted(
        (kind, f"request {request}", "handler thread")
        for request in (first, second)
        for kind in ("ask", "post")
    )
    assert REQUEST_TAG.get() == "none"  # nothing leaked into the test's own context
    assert THREAD_TAG.get() == "none"


async def test_ask_sync_on_the_event_loop_thread_raises_instead_of_deadlocking(
    kb: KnowledgeBase, client: TestClient
) -> None:
    neighbours = kb.ask_ki("neighbours", "?a ex:near ?b .", prefixes=EX)
    errors: list[RuntimeError] = []

    @kb.answer_ki("heights", "?tree ex:height ?height .", prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        for call in (
            lambda: kb.ask_sync(neighbours),
            lambda: kb.post_sync("notify", []),
        ):
            try:
                call()
            except RuntimeError as exc:
                errors.append(exc)
        return []

    kb.post_ki("notify", "?a ex:seen ?b .", prefixes=EX)
    await kb.register()
    client.enqueue_handle_request("heights", [])
    client.enqueue_exit()
    await kb.start_handling_loop()
    assert len(errors) == 2
    assert all("event loop's own thread" in str(e) for e in errors)
    assert "ask_sync()" in str(errors[0])
    assert "post_sync()" in str(errors[1])
    assert client.outgoing_calls == []


async def test_ask_sync_without_a_running_loop_raises(kb: KnowledgeBase) -> None:
    kb.ask_ki("neighbours", "?a ex:near ?b .", prefixes=EX)
    await kb.register()

    def in_a_thread() -> str:
        try:
            kb.ask_sync("neighbours")
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    message = await asyncio.to_thread(in_a_thread)
    assert "needs the handling loop" in message


def test_ask_sync_with_no_event_loop_at_all_raises() -> None:
    kb = KnowledgeBase(id=KB_ID, name="x", description="", client=TestClient())
    with pytest.raises(RuntimeError, match="needs the handling loop"):
        kb.post_sync("anything", [])


async def test_ask_sync_times_out(kb: KnowledgeBase) -> None:
    never = asyncio.Event()

    class StuckClient(TestClient):
        async def ask(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
            await never.wait()
            raise AssertionError("unreachable")

    stuck = StuckClient()
    kb = KnowledgeBase(id=KB_ID, name="stuck", description="", client=stuck)
    kb.ask_ki("neighbours", "?a ex:near ?b .", prefixes=EX)
    outcome: list[str] = []

    @kb.answer_ki("heights", "?tree ex:height ?height .", prefixes=EX)
    def heights(binding_set: BindingSet) -> BindingSet:
        try:
            kb.ask_sync("neighbours", timeout=0.05)
        except TimeoutError:
            outcome.append("timed out")
        return []

    await kb.register()
    stuck.enqueue_handle_request("heights", [])
    stuck.enqueue_exit()
    await kb.start_handling_loop()
    assert outcome == ["timed out"]
    assert stuck.last_handle_response is not None


# ---------------------------------------------------------------- call


async def test_call_runs_a_handler_inline(kb: KnowledgeBase) -> None:
    @kb.answer_ki("heights", "?tree ex:height ?height .", prefixes=EX)
    def heights(binding_set: list[Tree]) -> list[Tree]:
        return [Tree(tree=t.tree, height="9") for t in binding_set]

    assert await kb.call("heights", [{"tree": OAK}]) == [{"tree": OAK, "height": '"9"'}]
    assert await kb.call("heights", [Tree(tree=BEECH)]) == [{"tree": BEECH, "height": '"9"'}]


async def test_call_raises_what_the_handler_raises(kb: KnowledgeBase) -> None:
    @kb.react_ki("plant", "?tree ex:plantedAt ?place .", prefixes=EX)
    async def plant(binding_set: BindingSet) -> None:
        raise LookupError("no such place")

    kb.ask_ki("neighbours", "?a ex:near ?b .", prefixes=EX)
    with pytest.raises(LookupError, match="no such place"):
        await kb.call("plant", [])
    with pytest.raises(ConfigurationError, match="no handler"):
        await kb.call("neighbours", [])
