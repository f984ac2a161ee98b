"""TelemetryMiddleware: a span per handle request, ask and post, through the public API.

The spans go to the OpenTelemetry SDK's in-memory exporter, through a `TracerProvider` given to
the middleware (the global provider is never set). Knowledge bases exchange knowledge through
km-testing's `LocalKnowledgeEngine`, in this process, each with a `LocalEngineClient` of its own;
a `TestClient` drives one knowledge base where the engine has nothing to add (a handler that
fails, a denied request, a client that raises).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, StatusCode

from km_core import (
    BindingSet,
    CallNext,
    ErrorPolicy,
    HandleCall,
    HandleResult,
    KnowledgeBase,
    KnowledgeEngineUnavailableError,
    Middleware,
)
from km_core.opentelemetry import (
    ATTR_BINDINGS,
    ATTR_BINDINGS_RECEIVED,
    ATTR_BINDINGS_SENT,
    ATTR_EXCHANGE_KIND,
    ATTR_EXCHANGES_FAILED,
    ATTR_HANDLE_REQUEST_ID,
    ATTR_KB_ID,
    ATTR_KI_NAME,
    ATTR_KNOWLEDGE_INTERACTION_ID,
    ATTR_OUTCOME,
    ATTR_RECIPIENTS,
    ATTR_REQUESTING_KB_ID,
    ATTR_RESPONSE_DELIVERED,
    TelemetryMiddleware,
)
from km_testing import LocalEngineClient, LocalKnowledgeEngine, TestClient
from tests.support import BEECH, EX, KB_ID, OAK, let_the_loop_run

HEIGHTS = "?tree ex:height ?height ."
NEAR = "?a ex:near ?b ."
SEEN = "?a ex:seen ?b ."
NOTED = "?a ex:noted ?b ."
HEIGHT = '"21"'
ALICE = "http://example.org/kb/alice"
EVE = "http://example.org/kb/eve"
DEADLINE = 10  # seconds for any one test's exchanges


def kb_id(name: str) -> str:
    return f"http://example.org/kb/{name}"


class Traces:
    """A TracerProvider that keeps the finished spans in memory, and middleware that uses it."""

    def __init__(self, **provider_options: Any) -> None:
        self.exporter = InMemorySpanExporter()
        self.ended = asyncio.Event()
        self.provider = TracerProvider(**provider_options)
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.provider.add_span_processor(_Ended(self.ended))

    def middleware(self) -> TelemetryMiddleware:
        return TelemetryMiddleware(tracer_provider=self.provider)

    @property
    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()

    def named(self, name: str) -> ReadableSpan:
        (span,) = [span for span in self.spans if span.name == name]
        return span

    async def finished(self, count: int) -> tuple[ReadableSpan, ...]:
        """The finished spans, once there are ``count``: a span ends after its response is
        posted, which may be after the asker has its answer."""
        async with asyncio.timeout(DEADLINE):
            while len(self.spans) < count:
                self.ended.clear()
                await self.ended.wait()
        return self.spans


class _Ended(SpanProcessor):
    """Sets an event whenever a span ends (they all end on the event loop's thread)."""

    def __init__(self, ended: asyncio.Event) -> None:
        self._ended = ended

    def on_end(self, span: ReadableSpan) -> None:
        self._ended.set()


@pytest.fixture
def traces() -> Iterator[Traces]:
    kept = Traces()
    yield kept
    kept.provider.shutdown()


class Network:
    """Knowledge bases on one in-process engine, each with its own client and handling loop."""

    def __init__(self) -> None:
        self.engine = LocalKnowledgeEngine(heartbeat=10, kb_wait_timeout=5)
        self.kbs: list[KnowledgeBase] = []
        self.loops: list[asyncio.Task[None]] = []

    def kb(self, name: str, middleware: Sequence[Middleware] = (), **options: Any) -> KnowledgeBase:
        kb = KnowledgeBase(
            id=kb_id(name),
            name=name,
            description=f"the {name} knowledge base",
            client=LocalEngineClient(self.engine),
            middleware=middleware,
            **options,
        )
        self.kbs.append(kb)
        return kb

    async def start(self) -> None:
        for kb in self.kbs:
            await kb.register()
            self.loops.append(asyncio.create_task(kb.start_handling_loop()))

    async def close(self) -> None:
        async with asyncio.timeout(DEADLINE):
            for kb in self.kbs:
                if kb.registered:
                    await kb.unregister()  # the KB's poll gets EXIT: its loop ends
            await asyncio.gather(*self.loops)
            for kb in self.kbs:
                await kb.close()


@pytest.fixture
async def network() -> AsyncIterator[Network]:
    net = Network()
    try:
        yield net
    finally:
        await net.close()


async def serve(kb: KnowledgeBase, client: TestClient, *requests: tuple[str, str]) -> None:
    """Serve one request per (interaction, requester) through the KB's handling loop."""
    await kb.register()
    for ki_name, requester in requests:
        client.enqueue_handle_request(ki_name, [], requesting_kb_id=requester)
    client.enqueue_exit()
    async with asyncio.timeout(DEADLINE):
        await kb.start_handling_loop()


# ------------------------------------------------------------------ handle requests


async def test_a_handle_request_gets_a_server_span_with_its_attributes(
    network: Network, traces: Traces
) -> None:
    trees = network.kb("trees", middleware=[traces.middleware()])

    @trees.answer_ki("heights", HEIGHTS, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        return [{**b, "height": HEIGHT} for b in binding_set]

    forester = network.kb("forester")  # no middleware: no spans of its own
    asking = forester.ask_ki("heights", HEIGHTS, prefixes=EX)
    await network.start()
    async with asyncio.timeout(DEADLINE):
        answers = await forester.ask(asking, [{"tree": OAK}])
    assert answers == [{"tree": OAK, "height": HEIGHT}]

    (span,) = await traces.finished(1)
    assert span.name == "handle heights"
    assert span.kind is SpanKind.SERVER
    assert span.parent is None
    assert dict(span.attributes or {}) == {
        ATTR_KB_ID: trees.id,
        ATTR_KI_NAME: "heights",
        ATTR_REQUESTING_KB_ID: forester.id,
        ATTR_HANDLE_REQUEST_ID: 1,
        ATTR_KNOWLEDGE_INTERACTION_ID: trees.knowledge_interactions["heights"].id,
        ATTR_OUTCOME: "answered",
        ATTR_BINDINGS: 1,
        ATTR_RESPONSE_DELIVERED: True,
    }
    assert span.status.status_code is StatusCode.UNSET


def chain(network: Network, traces: Traces, *, sync: bool) -> tuple[KnowledgeBase, KnowledgeBase]:
    """Trees answers heights by asking map for neighbours (with ``await kb.ask``, or with
    ``kb.ask_sync`` from a sync handler); both have the middleware. Returns (trees, map)."""
    trees = network.kb("trees", middleware=[traces.middleware()])
    geo = network.kb("map", middleware=[traces.middleware()])
    neighbours = trees.ask_ki("neighbours", NEAR, prefixes=EX)

    def answered(near: BindingSet) -> BindingSet:
        return [{"tree": n["b"], "height": HEIGHT} for n in near]

    if sync:

        @trees.answer_ki("heights", HEIGHTS, prefixes=EX)
        def heights_sync(binding_set: BindingSet) -> BindingSet:
            return answered(trees.ask_sync(neighbours, [{"a": OAK}], timeout=DEADLINE))

    else:

        @trees.answer_ki("heights", HEIGHTS, prefixes=EX)
        async def heights(binding_set: BindingSet) -> BindingSet:
            return answered(await trees.ask(neighbours, [{"a": OAK}]))

    @geo.answer_ki("near", NEAR, prefixes=EX)
    async def near(binding_set: BindingSet) -> BindingSet:
        return [{**b, "b": BEECH} for b in binding_set]

    return trees, geo


@pytest.mark.parametrize("sync", [False, True], ids=["await kb.ask", "kb.ask_sync"])
async def test_a_handlers_ask_is_a_child_of_its_handle_span(
    network: Network, traces: Traces, sync: bool
) -> None:
    trees, geo = chain(network, traces, sync=sync)
    forester = network.kb("forester")
    asking = forester.ask_ki("heights", HEIGHTS, prefixes=EX)
    await network.start()
    async with asyncio.timeout(DEADLINE):
        answers = await forester.ask(asking)
    assert answers == [{"tree": BEECH, "height": HEIGHT}]

    await traces.finished(3)
    handle, ask = traces.named("handle heights"), traces.named("ask neighbours")
    assert ask.kind is SpanKind.CLIENT
    assert ask.parent is not None
    assert ask.parent.span_id == handle.context.span_id
    assert ask.context.trace_id == handle.context.trace_id
    assert dict(ask.attributes or {}) == {
        ATTR_KB_ID: trees.id,
        ATTR_KI_NAME: "neighbours",
        ATTR_KNOWLEDGE_INTERACTION_ID: trees.knowledge_interactions["neighbours"].id,
        ATTR_EXCHANGE_KIND: "ask",
        ATTR_BINDINGS_SENT: 1,
        ATTR_BINDINGS_RECEIVED: 1,
        ATTR_EXCHANGES_FAILED: 0,
    }
    assert ask.status.status_code is StatusCode.UNSET
    # Map's handle span is there, but in a trace of its own: the engine hands the request to
    # map's long poll through its queue, so no context crosses (nor does it through the KE's
    # REST API, which carries no trace context).
    remote = traces.named("handle near")
    assert remote.attributes is not None
    assert remote.attributes[ATTR_KB_ID] == geo.id
    assert remote.attributes[ATTR_REQUESTING_KB_ID] == trees.id
    assert remote.attributes[ATTR_OUTCOME] == "answered"


async def test_a_post_span_counts_the_results_and_the_failed_exchanges(
    network: Network, traces: Traces
) -> None:
    poster = network.kb("poster", middleware=[traces.middleware()])
    notify = poster.post_ki("notify", SEEN, NOTED, prefixes=EX)
    good = network.kb("good")
    bad = network.kb("bad", error_policy=ErrorPolicy.ERROR_MESSAGE)

    @good.react_ki("seen", SEEN, NOTED, prefixes=EX)
    async def noted(binding_set: BindingSet) -> BindingSet:
        return binding_set

    @bad.react_ki("seen", SEEN, NOTED, prefixes=EX)
    async def broken(binding_set: BindingSet) -> BindingSet:
        raise RuntimeError("the reactor broke")

    await network.start()
    async with asyncio.timeout(DEADLINE):
        results = await poster.post(notify, [{"a": OAK, "b": BEECH}], recipients=[good.id, bad.id])
    assert results == [{"a": OAK, "b": BEECH}]

    (post,) = await traces.finished(1)
    assert post.name == "post notify"
    assert post.kind is SpanKind.CLIENT
    assert dict(post.attributes or {}) == {
        ATTR_KB_ID: poster.id,
        ATTR_KI_NAME: "notify",
        ATTR_KNOWLEDGE_INTERACTION_ID: notify.id,
        ATTR_EXCHANGE_KIND: "post",
        ATTR_RECIPIENTS: (good.id, bad.id),
        ATTR_BINDINGS_SENT: 1,
        ATTR_BINDINGS_RECEIVED: 1,
        ATTR_EXCHANGES_FAILED: 1,
    }


# ------------------------------------------------------------------ failures and denials


def failing(kb: KnowledgeBase, how: str) -> None:
    """Declare 'heights' with a handler that raises, or one that misses its timeout."""
    if how == "raises":

        @kb.answer_ki("heights", HEIGHTS, prefixes=EX)
        async def heights(binding_set: BindingSet) -> BindingSet:
            raise KeyError("tree")

    else:

        @kb.answer_ki("heights", HEIGHTS, prefixes=EX, timeout=0.01)
        async def slow(binding_set: BindingSet) -> BindingSet:
            await asyncio.sleep(DEADLINE)
            return []


@pytest.mark.parametrize(
    ("how", "outcome", "detail"),
    [
        ("raises", "failed", "handler failed (KeyError)"),
        ("times out", "timed_out", "handler timed out after 0.01 s"),
    ],
)
async def test_a_handler_that_fails_makes_an_error_span(
    client: TestClient, traces: Traces, how: str, outcome: str, detail: str
) -> None:
    kb = KnowledgeBase(
        id=KB_ID, name="t", description="", client=client, middleware=[traces.middleware()]
    )
    failing(kb, how)
    await serve(kb, client, ("heights", ALICE))
    assert client.last_handle_response is not None  # answered per the error policy
    span = traces.named("handle heights")
    assert span.attributes is not None
    assert span.attributes[ATTR_OUTCOME] == outcome
    assert span.attributes[ATTR_RESPONSE_DELIVERED] is True
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == detail


async def test_a_denied_request_is_not_an_error(client: TestClient, traces: Traces) -> None:
    kb = KnowledgeBase(
        id=KB_ID, name="t", description="", client=client, middleware=[traces.middleware()]
    )

    @kb.answer_ki("heights", HEIGHTS, prefixes=EX, permitted=[ALICE])
    async def heights(binding_set: BindingSet) -> BindingSet:
        return [{"tree": OAK, "height": HEIGHT}]

    await serve(kb, client, ("heights", ALICE), ("heights", EVE))
    by_requester = {
        dict(span.attributes or {})[ATTR_REQUESTING_KB_ID]: span for span in traces.spans
    }
    served, denied = by_requester[ALICE], by_requester[EVE]
    assert served.attributes is not None
    assert served.attributes[ATTR_OUTCOME] == "answered"
    assert denied.attributes is not None
    assert denied.attributes[ATTR_OUTCOME] == "denied"
    assert denied.attributes[ATTR_BINDINGS] == 0  # "no data", the default error policy
    assert denied.attributes[ATTR_RESPONSE_DELIVERED] is True
    assert denied.status.status_code is StatusCode.UNSET


async def test_a_request_for_an_unknown_interaction(client: TestClient, traces: Traces) -> None:
    kb = KnowledgeBase(
        id=KB_ID, name="t", description="", client=client, middleware=[traces.middleware()]
    )

    @kb.answer_ki("heights", HEIGHTS, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        return []

    await serve(kb, client, ("widths", ALICE))
    (span,) = traces.spans
    assert span.name == "handle unknown interaction"
    assert span.attributes is not None
    assert ATTR_KI_NAME not in span.attributes
    assert span.attributes[ATTR_KNOWLEDGE_INTERACTION_ID] == f"{KB_ID}/interaction/widths"
    assert span.attributes[ATTR_OUTCOME] == "unknown_interaction"
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "no such interaction"


async def test_a_response_that_is_not_delivered_is_an_error(
    client: TestClient, traces: Traces
) -> None:
    kb = KnowledgeBase(
        id=KB_ID, name="t", description="", client=client, middleware=[traces.middleware()]
    )

    @kb.answer_ki("heights", HEIGHTS, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        return [{"tree": OAK, "height": HEIGHT}]

    client.fail_next("post_handle_response", RuntimeError("the KE lost it"))
    await serve(kb, client, ("heights", ALICE))
    span = traces.named("handle heights")
    assert span.attributes is not None
    assert span.attributes[ATTR_OUTCOME] == "answered"
    assert span.attributes[ATTR_RESPONSE_DELIVERED] is False
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "response not delivered"


async def test_a_request_cancelled_when_the_kb_stops_is_an_error(
    client: TestClient, traces: Traces
) -> None:
    kb = KnowledgeBase(
        id=KB_ID, name="t", description="", client=client, middleware=[traces.middleware()]
    )
    started = asyncio.Event()

    @kb.answer_ki("heights", HEIGHTS, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        started.set()
        await asyncio.Event().wait()
        return []

    await kb.register()
    client.enqueue_handle_request("heights", [])
    async with asyncio.timeout(DEADLINE):
        loop_task = asyncio.create_task(kb.start_handling_loop())
        await started.wait()
        loop_task.cancel()  # the first cancel drains; the second cancels the handler
        await let_the_loop_run()
        loop_task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop_task
    span = traces.named("handle heights")
    assert span.attributes is not None
    assert span.attributes[ATTR_OUTCOME] == "cancelled"
    assert span.status.status_code is StatusCode.ERROR


class Refusing(Middleware):
    """A middleware inside TelemetryMiddleware that raises instead of going on."""

    async def handle(self, call: HandleCall, call_next: CallNext) -> HandleResult:
        raise PermissionError("not today")


async def test_an_exception_from_inside_the_chain_is_recorded_and_raised_on(
    client: TestClient, traces: Traces
) -> None:
    kb = KnowledgeBase(
        id=KB_ID,
        name="t",
        description="",
        client=client,
        middleware=[traces.middleware(), Refusing()],
    )

    @kb.answer_ki("heights", HEIGHTS, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        return []

    await serve(kb, client, ("heights", ALICE))
    assert client.last_handle_response is not None  # the KB answered it anyway, as a failure
    span = traces.named("handle heights")
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "PermissionError: not today"
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes is not None
    assert event.attributes["exception.type"] == "PermissionError"
    assert span.attributes is not None
    assert ATTR_OUTCOME not in span.attributes  # nothing came back to say it


async def test_an_ask_whose_client_raises_records_the_exception(
    client: TestClient, traces: Traces
) -> None:
    kb = KnowledgeBase(
        id=KB_ID, name="t", description="", client=client, middleware=[traces.middleware()]
    )
    neighbours = kb.ask_ki("neighbours", NEAR, prefixes=EX)
    await kb.register()
    client.fail_next("ask", KnowledgeEngineUnavailableError("the KE is away"))
    async with asyncio.timeout(DEADLINE):
        with pytest.raises(KnowledgeEngineUnavailableError):
            await kb.ask(neighbours, recipients=[ALICE])
    (span,) = traces.spans
    assert span.name == "ask neighbours"
    assert span.attributes is not None
    assert span.attributes[ATTR_RECIPIENTS] == (ALICE,)
    assert ATTR_BINDINGS_RECEIVED not in span.attributes
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description is not None
    assert span.status.description.startswith("KnowledgeEngineUnavailableError: ")
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes is not None
    assert str(event.attributes["exception.type"]).endswith("KnowledgeEngineUnavailableError")


# ------------------------------------------------------------------ no spans


async def test_without_the_middleware_nothing_is_exported(network: Network, traces: Traces) -> None:
    trees = network.kb("trees")

    @trees.answer_ki("heights", HEIGHTS, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        return [{**b, "height": HEIGHT} for b in binding_set]

    forester = network.kb("forester")
    asking = forester.ask_ki("heights", HEIGHTS, prefixes=EX)
    await network.start()
    async with asyncio.timeout(DEADLINE):
        assert await forester.ask(asking, [{"tree": OAK}]) == [{"tree": OAK, "height": HEIGHT}]
    await network.close()  # every request served, and its span (if any) ended
    assert traces.spans == ()


async def test_unsampled_spans_change_nothing_and_export_nothing(
    client: TestClient,
) -> None:
    unsampled = Traces(sampler=ALWAYS_OFF)
    kb = KnowledgeBase(
        id=KB_ID, name="t", description="", client=client, middleware=[unsampled.middleware()]
    )
    kb.ask_ki("neighbours", NEAR, prefixes=EX)

    @kb.answer_ki("heights", HEIGHTS, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        await kb.ask("neighbours")
        raise KeyError("tree")  # the failure path too

    await serve(kb, client, ("heights", ALICE))
    assert client.last_handle_response is not None
    assert client.last_handle_response.binding_set == []
    assert [call.kind for call in client.outgoing_calls] == ["ask"]
    assert unsampled.spans == ()
    unsampled.provider.shutdown()


def test_without_the_api_the_import_says_what_to_install() -> None:
    code = "import sys; sys.modules['opentelemetry'] = None; import km_core.opentelemetry"
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode != 0
    assert "ImportError" in completed.stderr
    assert "pip install 'km-core[opentelemetry]'" in completed.stderr
