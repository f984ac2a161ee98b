"""Pins the public types: mypy --strict checks this file, and pytest runs it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from decimal import Decimal
from typing import Annotated, Any, assert_type

from km_core import (
    IRI,
    AccessDecision,
    AccessDeniedError,
    AccessRequest,
    AskKnowledgeInteraction,
    AskResponse,
    Binding,
    BindingModel,
    BindingSet,
    Depends,
    KnowledgeBase,
    KnowledgeInteraction,
    KnowledgeMapperError,
    Lifespan,
    PostKnowledgeInteraction,
    PostResponse,
    RequestContext,
)
from km_testing import RecordedHandleResponse, TestClient

EX = {"ex": "http://example.org/"}


class Tree(BindingModel):
    tree: IRI
    height: Decimal | None = None


class Planted(BindingModel):
    tree: IRI
    place: IRI


def get_db() -> str:
    return "db"


def build() -> tuple[KnowledgeBase, TestClient]:
    client = TestClient()
    kb = KnowledgeBase(id="http://example.org/kb/types", name="t", description="", client=client)

    @kb.answer_ki("heights", "?tree ex:height ?height .", prefixes=EX)
    async def heights(binding_set: list[Tree], db: Annotated[str, Depends(get_db)]) -> list[Tree]:
        return binding_set

    @kb.react_ki("plant", "?tree ex:plantedAt ?place .", prefixes=EX)
    def plant(binding_set: BindingSet, context: RequestContext) -> None:
        return None

    # The decorators hand back the function itself, with its type (not Any).
    pending = assert_type(heights([], "db"), Coroutine[Any, Any, list[Tree]])
    pending.close()
    context = RequestContext(
        knowledge_base=kb, knowledge_interaction=kb.knowledge_interactions["plant"]
    )
    assert_type(plant([], context), None)
    return kb, client


async def test_model_typed_signatures() -> None:
    kb, client = build()
    plain = kb.ask_ki("plain", "?a ex:near ?b .", prefixes=EX)
    trees = kb.ask_ki("trees", "?tree ex:height ?height .", prefixes=EX, binding_model=Tree)
    notify = kb.post_ki("notify", "?tree ex:plantedAt ?place .", prefixes=EX)
    plant = kb.post_ki(
        "plant-tree",
        "?tree ex:plantedAt ?place .",
        "?tree ex:height ?height .",
        prefixes=EX,
        argument_model=Planted,
        result_model=Tree,
    )
    assert_type(plain, AskKnowledgeInteraction[Binding])
    assert_type(trees, AskKnowledgeInteraction[Tree])
    assert_type(notify, PostKnowledgeInteraction[Binding, Binding])
    assert_type(plant, PostKnowledgeInteraction[Planted, Tree])

    await kb.register()
    client.mock_result_binding_set("trees", [{"tree": "<http://example.org/oak>"}])
    assert_type(await kb.ask(plain), list[Binding])
    assert_type(await kb.ask(trees, [Tree(tree=IRI("http://example.org/oak"))]), list[Tree])
    assert_type(await kb.ask("trees"), list[Any])
    assert_type(await kb.ask_with_info(trees), AskResponse[Tree])
    assert_type(await kb.post(notify, [{"tree": "<urn:a>", "place": "<urn:b>"}]), list[Binding])
    assert_type(await kb.post(plant, [Planted(tree="<urn:a>", place="<urn:b>")]), list[Tree])
    assert_type(
        await kb.post_with_info(plant, [Planted(tree="<urn:a>", place="<urn:b>")]),
        PostResponse[Tree],
    )
    asked = await kb.ask(trees)
    assert asked == [Tree(tree=IRI("http://example.org/oak"))]
    assert_type(asked[0].tree, IRI)
    assert_type(asked[0].height, Decimal | None)
    assert_type(IRI("http://example.org/oak").term, str)
    assert_type(Tree.from_binding({"tree": "<urn:a>"}), Tree)
    assert_type(Tree(tree=IRI("urn:a")).to_binding(), dict[str, str])
    assert_type(client.last_handle_response, RecordedHandleResponse | None)


def sync_bridge_types(kb: KnowledgeBase, trees: AskKnowledgeInteraction[Tree]) -> None:
    # Not called: mypy checks the bridge's return types.
    assert_type(kb.ask_sync(trees), list[Tree])
    assert_type(kb.ask_sync("trees"), list[Any])
    assert_type(kb.post_sync("notify", []), list[Any])


async def test_service_life_signatures() -> None:
    @contextlib.asynccontextmanager
    async def lifespan(kb: KnowledgeBase) -> AsyncIterator[None]:
        yield

    as_lifespan: Lifespan = lifespan
    kb = KnowledgeBase(
        id="http://example.org/kb/life", name="l", description="", lifespan=as_lifespan
    )

    # The hooks hand back the function itself, with its type.
    @kb.on_startup
    async def start() -> None: ...

    @kb.on_shutdown
    def stop() -> None: ...

    @kb.every(5.0)
    async def tick() -> None: ...

    pending = assert_type(start(), Coroutine[Any, Any, None])
    pending.close()
    assert_type(stop(), None)
    ticking = assert_type(tick(), Coroutine[Any, Any, None])
    ticking.close()
    async with kb_with_client(kb):
        task = kb.create_task(asyncio.sleep(0), name="typed")
        assert_type(task, asyncio.Task[Any])
        await task


def kb_with_client(kb: KnowledgeBase) -> KnowledgeBase:
    kb.client = TestClient()
    return kb


FORESTER = "http://example.org/kb/forester"
STRANGER = "http://example.org/kb/stranger"


def get_allowed() -> set[str]:
    return {FORESTER}


def sync_policy(request: AccessRequest, allowed: Annotated[set[str], Depends(get_allowed)]) -> bool:
    assert_type(request.requesting_kb_id, str | None)
    assert_type(request.knowledge_base_id, str)
    assert_type(request.knowledge_interaction, KnowledgeInteraction)
    assert_type(request.handle_request_id, int | None)
    assert_type(request.binding_set, BindingSet)
    return request.requesting_kb_id in allowed


async def async_policy(
    request: AccessRequest, allowed: Annotated[set[str], Depends(get_allowed)]
) -> bool:
    return request.requesting_kb_id in allowed


def sync_audit(decision: AccessDecision) -> None:
    assert_type(decision.allowed, bool)
    assert_type(decision.reason, str)
    assert_type(decision.request, AccessRequest)
    assert_type(decision.denial, str)


async def async_audit(decision: AccessDecision) -> None:
    return None


async def test_authorization_signatures() -> None:
    # permitted= takes "*" or any collection of ids, on the KB and on each interaction.
    everybody = KnowledgeBase(id="http://example.org/kb/a", name="a", description="", permitted="*")
    listed = KnowledgeBase(
        id="http://example.org/kb/b",
        name="b",
        description="",
        permitted=[FORESTER],
        authorize=sync_policy,
        audit=sync_audit,
        authorize_timeout=None,
    )
    by_set = KnowledgeBase(
        id="http://example.org/kb/c",
        name="c",
        description="",
        permitted={FORESTER},
        authorize=async_policy,
        audit=async_audit,
        authorize_timeout=2.5,
    )
    decisions: list[AccessDecision] = []
    KnowledgeBase(id="http://example.org/kb/d", name="d", description="", audit=decisions.append)

    for kb in (everybody, listed, by_set):

        @kb.answer_ki("heights", "?tree ex:height ?height .", prefixes=EX, permitted=[FORESTER])
        def heights(binding_set: BindingSet) -> BindingSet:
            return binding_set

        @kb.answer_ki("open", "?tree ex:width ?width .", prefixes=EX, permitted="*")
        def open_to_all(binding_set: BindingSet) -> BindingSet:
            return binding_set

        @kb.react_ki("plant", "?tree ex:plantedAt ?place .", prefixes=EX, permitted={FORESTER})
        def plant(binding_set: BindingSet) -> None:
            return None

        @kb.react_ki("fell", "?tree ex:felledAt ?place .", prefixes=EX, permitted=[])
        def fell(binding_set: BindingSet) -> None:
            return None

        # The decorators still hand back the function itself, with its type.
        assert_type(heights([]), BindingSet)
        assert_type(fell([]), None)

        answered = await kb.call("heights", [{"tree": "<urn:a>"}], requesting_kb_id=FORESTER)
        assert_type(answered, BindingSet)
        assert answered == [{"tree": "<urn:a>"}]
        try:
            await kb.call("heights", [], requesting_kb_id=STRANGER)
        except AccessDeniedError as error:
            as_permission_error: PermissionError = error
            as_sdk_error: KnowledgeMapperError = error
            assert str(as_permission_error) == str(as_sdk_error)
        else:
            raise AssertionError(f"{kb.id} let {STRANGER} use 'heights'")

    # AccessDeniedError is both a PermissionError and a KnowledgeMapperError.
    permission_error: type[PermissionError] = AccessDeniedError
    sdk_error: type[KnowledgeMapperError] = AccessDeniedError
    assert issubclass(permission_error, KnowledgeMapperError)
    assert issubclass(sdk_error, PermissionError)
