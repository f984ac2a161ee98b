"""SDK knowledge bases (km-core's KnowledgeBase over km-httpx's HttpxClient) on any Knowledge
Engine: several KBs on one engine that ask, answer, post and react, and what the asker sees when
a handler fails or the KB is deleted under it.

Run against the served local engine always, and against the KE at ``KM_TEST_KE_URL`` when it
is set (see test_contract_any_ke.py). Each test's KB ids and IRIs carry a tag of their own, and
its KBs are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from km_core import (
    BindingSet,
    ErrorPolicy,
    ExchangeStatus,
    KnowledgeBase,
    KnowledgeBaseStoppedError,
    KnowledgeInteractionType,
    RequestContext,
)
from km_httpx import HttpxClient
from tests.conformance.rest import STEP, delete_kbs, integer, ordered
from tests.conformance.test_contract_any_ke import ke_url  # noqa: F401 - a fixture
from tests.support import Arrivals

pytestmark = pytest.mark.ke

ANSWERING_FAILED = "An error occurred while ANSWERing: "


class Kbs:
    """The SDK KBs of one test, each with its own HttpxClient to the engine at ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.tag = uuid.uuid4().hex[:12]
        self.ex = {"ex": f"http://example.org/conformance-{self.tag}/"}
        self.made: list[KnowledgeBase] = []

    def id(self, name: str) -> str:
        return f"http://example.org/kb/conformance-{self.tag}/{name}"

    def iri(self, name: str) -> str:
        return f"<{self.ex['ex']}{name}>"

    def make(self, name: str, **options: Any) -> KnowledgeBase:
        kb = KnowledgeBase(
            id=self.id(name), name=name, description="", client=HttpxClient(self.url), **options
        )
        self.made.append(kb)
        return kb

    @contextlib.asynccontextmanager
    async def serving(self, *kbs: KnowledgeBase) -> AsyncIterator[None]:
        """Register these KBs and run the handling loops of those that answer or react."""
        loops: list[asyncio.Task[None]] = []
        async with contextlib.AsyncExitStack() as stack:
            for kb in kbs:
                await stack.enter_async_context(kb)
                kinds = {ki.kind for ki in kb.knowledge_interactions.values()}
                if kinds & {KnowledgeInteractionType.ANSWER, KnowledgeInteractionType.REACT}:
                    loops.append(asyncio.create_task(kb.start_handling_loop()))
            yield
        # Leaving each KB stopped its loop, which drained.
        await asyncio.wait_for(asyncio.gather(*loops), STEP)


@pytest.fixture
async def kbs(ke_url: str) -> AsyncIterator[Kbs]:  # noqa: F811 - the fixture
    kbs = Kbs(ke_url)
    try:
        yield kbs
    finally:
        await delete_kbs(ke_url, *(kb.id for kb in kbs.made))


async def test_sdk_kbs_ask_answer_post_and_react_in_their_own_variable_names(kbs: Kbs) -> None:
    oak, room = kbs.iri("oak"), kbs.iri("room")
    trees = kbs.make("trees")
    thermostat = kbs.make("thermostat")
    user = kbs.make("user")
    seen: list[tuple[BindingSet, str | None]] = []

    @trees.answer_ki("heights", "?t ex:height ?h .", prefixes=kbs.ex)
    async def heights(binding_set: BindingSet, context: RequestContext) -> BindingSet:
        seen.append((binding_set, context.requesting_kb_id))
        return [{"t": oak, "h": "21"}]

    @thermostat.react_ki("advice", "?x ex:temperature ?y .", "?x ex:advice ?z .", prefixes=kbs.ex)
    def advice(binding_set: BindingSet, context: RequestContext) -> BindingSet:  # in a thread
        seen.append((binding_set, context.requesting_kb_id))
        return [{"x": b["x"], "z": '"open a window"'} for b in binding_set]

    asked = user.ask_ki("tree-heights", "?tree ex:height ?height .", prefixes=kbs.ex)
    posted = user.post_ki(
        "temperatures", "?s ex:temperature ?c .", "?s ex:advice ?a .", prefixes=kbs.ex
    )
    async with kbs.serving(trees, thermostat, user):
        answer = await asyncio.wait_for(user.ask_with_info(asked, [{"tree": oak}]), STEP)
        results = await asyncio.wait_for(user.post(posted, [{"s": room, "c": "30"}]), STEP)
    assert answer.binding_set == [{"tree": oak, "height": integer(21)}]
    [info] = answer.exchange_info
    assert info.knowledge_base_id == trees.id
    assert info.knowledge_interaction_id == f"{trees.id}/interaction/heights"
    assert info.binding_set == [{"t": oak, "h": integer(21)}]
    assert results == [{"s": room, "a": '"open a window"'}]
    assert seen == [([{"t": oak}], user.id), ([{"x": room, "y": integer(30)}], user.id)]


@pytest.mark.parametrize(
    ("policy", "failed_message"),
    [
        pytest.param(
            ErrorPolicy.ERROR_MESSAGE,
            f"{ANSWERING_FAILED}the handler of 'heights' failed (RuntimeError)",
            id="error-message",
        ),
        pytest.param(ErrorPolicy.EMPTY_BINDING_SET, None, id="empty-binding-set"),
    ],
)
async def test_a_raising_handler_is_answered_per_the_error_policy(
    kbs: Kbs, policy: ErrorPolicy, failed_message: str | None
) -> None:
    trees = kbs.make("trees", error_policy=policy)
    user = kbs.make("user")

    @trees.answer_ki("heights", "?t ex:height ?h .", prefixes=kbs.ex)
    async def heights(binding_set: BindingSet) -> BindingSet:
        raise RuntimeError("the database password is hunter2")

    asked = user.ask_ki("tree-heights", "?tree ex:height ?height .", prefixes=kbs.ex)
    async with kbs.serving(trees, user):
        answer = await asyncio.wait_for(user.ask_with_info(asked), STEP)
    assert answer.binding_set == []
    [info] = answer.exchange_info
    assert info.failed_message == failed_message
    expected = ExchangeStatus.SUCCEEDED if failed_message is None else ExchangeStatus.FAILED
    assert info.status is expected


@pytest.mark.parametrize(
    ("returned", "failed_message"),
    [
        pytest.param(
            42,
            f"{ANSWERING_FAILED}the handler of 'heights' failed (BindingValidationError)",
            id="not-a-binding-set",
        ),
        pytest.param(
            [{"t": "<http://example.org/oak>"}],
            "java.lang.IllegalArgumentException: Expected a complete binding, but was missing "
            "some variable(s) that ARE in the graph pattern ('?t <{ex}height> ?h . '), but are "
            "missing from the binding, namely: [?h]. Note that the question mark should NOT be "
            "included in your binding keys.",
            id="a-variable-missing",
        ),
    ],
)
async def test_an_invalid_result_fails_the_exchange_and_the_kb_serves_on(
    kbs: Kbs, returned: Any, failed_message: str
) -> None:
    trees = kbs.make("trees", error_policy=ErrorPolicy.ERROR_MESSAGE)
    user = kbs.make("user")

    @trees.answer_ki("heights", "?t ex:height ?h .", prefixes=kbs.ex)
    async def heights(binding_set: BindingSet) -> Any:
        return returned

    @trees.answer_ki("ages", "?t ex:age ?a .", prefixes=kbs.ex)
    async def ages(binding_set: BindingSet) -> BindingSet:
        return [{"t": kbs.iri("oak"), "a": "120"}]

    asked = user.ask_ki("tree-heights", "?tree ex:height ?height .", prefixes=kbs.ex)
    ages_asked = user.ask_ki("tree-ages", "?tree ex:age ?age .", prefixes=kbs.ex)
    async with kbs.serving(trees, user):
        answer = await asyncio.wait_for(user.ask_with_info(asked), STEP)
        # The KE refused that answer (400) to the KB, which logged it and serves on.
        then = await asyncio.wait_for(user.ask(ages_asked), STEP)
    assert answer.binding_set == []
    [info] = answer.exchange_info
    assert info.status is ExchangeStatus.FAILED
    assert info.failed_message == failed_message.replace("{ex}", kbs.ex["ex"])
    assert then == [{"tree": kbs.iri("oak"), "age": integer(120)}]


async def test_a_kb_deleted_by_someone_else_while_it_serves_stops(kbs: Kbs) -> None:
    trees = kbs.make("trees")
    user = kbs.make("user")
    started = asyncio.Event()
    stopped: list[str] = []

    @trees.answer_ki("heights", "?t ex:height ?h .", prefixes=kbs.ex)
    async def heights(binding_set: BindingSet) -> BindingSet:
        return [{"t": kbs.iri("oak"), "h": "21"}]

    @trees.on_startup
    async def registered() -> None:
        started.set()

    @trees.on_shutdown
    async def shut_down() -> None:
        stopped.append("shut down")

    asked = user.ask_ki("tree-heights", "?tree ex:height ?height .", prefixes=kbs.ex)
    serving: asyncio.Task[None] | None = None
    try:
        async with kbs.serving(user), HttpxClient(kbs.url) as someone_else:
            # One after the other: a KB that registers while another does may never see the
            # other's interactions on KE 1.5.0.
            serving = asyncio.create_task(trees.serve(handle_signals=False))
            await asyncio.wait_for(started.wait(), STEP)
            # Answered: the KB polls (it polls again as soon as a request comes in).
            assert await asyncio.wait_for(user.ask(asked), STEP) != []
            await someone_else.unregister_kb(trees.id)
            with pytest.raises(KnowledgeBaseStoppedError, match="stopped this knowledge base"):
                await asyncio.wait_for(serving, STEP)
            assert await someone_else.get_kb(trees.id) is None
            assert await asyncio.wait_for(user.ask(asked), STEP) == []
    finally:
        if serving is not None:
            serving.cancel()
            await asyncio.gather(serving, return_exceptions=True)
    assert stopped == ["shut down"]
    assert not trees.registered


async def test_several_kbs_answer_one_ask_at_the_same_time(kbs: Kbs) -> None:
    names = ["oaks", "elms", "beeches"]
    arrivals = Arrivals()
    answering = [kbs.make(name) for name in names]
    for kb in answering:

        @kb.answer_ki("heights", "?t ex:height ?h .", prefixes=kbs.ex)
        async def heights(binding_set: BindingSet, context: RequestContext) -> BindingSet:
            await arrivals.arrive()
            await arrivals.wait_for(len(names))  # each answers once all three were asked
            return [{"t": kbs.iri(context.knowledge_base.name), "h": "10"}]

    user = kbs.make("user")
    asked = user.ask_ki("tree-heights", "?tree ex:height ?height .", prefixes=kbs.ex)
    async with kbs.serving(*answering, user):
        answer = await asyncio.wait_for(user.ask_with_info(asked), STEP)
    assert ordered(answer.binding_set) == ordered(
        [{"tree": kbs.iri(name), "height": integer(10)} for name in names]
    )
    assert sorted(info.knowledge_base_id for info in answer.exchange_info) == sorted(
        kb.id for kb in answering
    )
    assert all(info.status is ExchangeStatus.SUCCEEDED for info in answer.exchange_info)
