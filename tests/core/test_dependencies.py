"""Dependency injection into handlers, through the public API only.

Covers `Depends` (both spellings), sync and async factories, nested factories, the per-call
cache, `KnowledgeBase.dependency_overrides`, generator factories and their teardown, the
`RequestContext`, and the errors raised when a handler is declared. Most behaviour is checked
both inline (`KnowledgeBase.call`) and through the real handling loop of a `TestClient`.
"""

import asyncio
import contextlib
import itertools
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Annotated, Any

import pytest

from km_core import (
    BindingSet,
    ConfigurationError,
    Depends,
    HandlerDeclarationError,
    HandleResponse,
    KnowledgeBase,
    KnowledgeMapperError,
    RequestContext,
)
from km_testing import RecordedHandleResponse, TestClient

KB_ID = "http://example.org/kb/test"
REQUESTER_ID = "http://example.org/kb/requester"
OTHER_REQUESTER_ID = "http://example.org/kb/other-requester"
KI = "tree-heights"
PATTERN = "?tree <http://example.org/height> ?height ."
OAK = "<http://example.org/oak>"
BEECH = "<http://example.org/beech>"
HEIGHT = '"21"^^<http://www.w3.org/2001/XMLSchema#integer>'


class RecordingClient(TestClient):
    """A TestClient that notes in ``events`` the moment a handle response is posted."""

    def __init__(self, events: list[object]) -> None:
        super().__init__()
        self.events = events

    async def post_handle_response(self, kb_id: str, ki_id: str, response: HandleResponse) -> None:
        self.events.append(("posted", response.handle_request_id))
        await super().post_handle_response(kb_id, ki_id, response)


@pytest.fixture
def events() -> list[object]:
    return []


@pytest.fixture
def client(events: list[object]) -> RecordingClient:
    return RecordingClient(events)


@pytest.fixture
def kb(client: RecordingClient) -> KnowledgeBase:
    return KnowledgeBase(id=KB_ID, name="test", description="a KB under test", client=client)


async def serve(
    kb: KnowledgeBase, client: TestClient, *requests: tuple[BindingSet, str]
) -> list[RecordedHandleResponse]:
    """Register, enqueue one request of `KI` per (binding set, requester), run the loop to EXIT.

    Returns the responses in the order the requests were enqueued.
    """
    await kb.register()
    ids = [
        client.enqueue_handle_request(KI, binding_set, requesting_kb_id=requester)
        for binding_set, requester in requests
    ]
    client.enqueue_exit()
    await kb.start_handling_loop()
    by_id = {response.handle_request_id: response for response in client.handle_responses}
    assert len(client.handle_responses) == len(ids)
    return [by_id[handle_request_id] for handle_request_id in ids]


Invoke = Callable[[BindingSet], Awaitable[BindingSet]]


@pytest.fixture(params=["call", "loop"])
def invoke(request: pytest.FixtureRequest, kb: KnowledgeBase, client: TestClient) -> Invoke:
    """Run the handler of `KI` once: inline with `kb.call`, or through the handling loop."""

    async def through_call(binding_set: BindingSet) -> BindingSet:
        return await kb.call(KI, binding_set, requesting_kb_id=REQUESTER_ID)

    async def through_loop(binding_set: BindingSet) -> BindingSet:
        [response] = await serve(kb, client, (binding_set, REQUESTER_ID))
        assert response.error_message is None
        assert response.binding_set is not None
        return response.binding_set

    return through_call if request.param == "call" else through_loop


def generator_factory(kind: str, events: list[object]) -> tuple[Callable[..., Any], dict[str, int]]:
    """A sync or async generator factory that logs its setup and teardown in ``events``.

    Also returns a dict that records the thread of its setup and of its teardown.
    """
    threads: dict[str, int] = {}

    def sync_resource() -> Iterator[str]:
        threads["setup"] = threading.get_ident()
        events.append("setup")
        try:
            yield "resource"
        except Exception as exc:
            threads["teardown"] = threading.get_ident()
            events.append(f"teardown saw {exc}")
            raise
        threads["teardown"] = threading.get_ident()
        events.append("teardown")

    async def async_resource() -> AsyncIterator[str]:
        threads["setup"] = threading.get_ident()
        events.append("setup")
        try:
            yield "resource"
        except Exception as exc:
            threads["teardown"] = threading.get_ident()
            events.append(f"teardown saw {exc}")
            raise
        threads["teardown"] = threading.get_ident()
        events.append("teardown")

    return (sync_resource if kind == "sync" else async_resource), threads


# ---------------------------------------------------------------------- sync and async factories


async def test_async_factory_is_awaited_on_the_event_loop(kb: KnowledgeBase, invoke: Invoke):
    loop_thread = threading.get_ident()
    factory_threads: list[int] = []

    async def get_height() -> str:
        factory_threads.append(threading.get_ident())
        await asyncio.sleep(0)
        return HEIGHT

    @kb.answer_ki(KI, PATTERN)
    async def heights(
        binding_set: BindingSet, height: Annotated[str, Depends(get_height)]
    ) -> BindingSet:
        return [{"tree": b["tree"], "height": height} for b in binding_set]

    assert await invoke([{"tree": OAK}]) == [{"tree": OAK, "height": HEIGHT}]
    assert factory_threads == [loop_thread]


async def test_sync_factory_runs_in_a_worker_thread(kb: KnowledgeBase, invoke: Invoke):
    loop_thread = threading.get_ident()
    factory_threads: list[int] = []

    def get_height() -> str:
        factory_threads.append(threading.get_ident())
        return HEIGHT

    @kb.answer_ki(KI, PATTERN)
    async def heights(
        binding_set: BindingSet, height: Annotated[str, Depends(get_height)]
    ) -> BindingSet:
        return [{"tree": b["tree"], "height": height} for b in binding_set]

    assert await invoke([{"tree": OAK}]) == [{"tree": OAK, "height": HEIGHT}]
    assert len(factory_threads) == 1
    assert factory_threads[0] != loop_thread


async def test_depends_as_a_default_value(kb: KnowledgeBase, invoke: Invoke):
    def get_tree() -> str:
        return OAK

    async def get_height(tree: str = Depends(get_tree)) -> str:
        return HEIGHT if tree == OAK else '"0"'

    @kb.answer_ki(KI, PATTERN)
    def heights(
        binding_set: BindingSet,
        tree: str = Depends(get_tree),
        height: str = Depends(get_height),
    ) -> BindingSet:
        return [{"tree": tree, "height": height}]

    assert await invoke([]) == [{"tree": OAK, "height": HEIGHT}]


async def test_factories_depending_on_factories_three_levels_mixed(
    kb: KnowledgeBase, invoke: Invoke
):
    loop_thread = threading.get_ident()
    calls: list[tuple[str, bool]] = []  # (factory, ran on the event loop thread)

    def get_url() -> str:
        calls.append(("url", threading.get_ident() == loop_thread))
        return "memory://trees"

    async def get_engine(url: Annotated[str, Depends(get_url)]) -> dict[str, str]:
        calls.append(("engine", threading.get_ident() == loop_thread))
        return {"url": url, "oak": HEIGHT}

    def get_session(engine: Annotated[dict[str, str], Depends(get_engine)]) -> dict[str, str]:
        calls.append(("session", threading.get_ident() == loop_thread))
        return {"engine": engine["url"], "oak": engine["oak"]}

    @kb.answer_ki(KI, PATTERN)
    async def heights(
        binding_set: BindingSet, session: Annotated[dict[str, str], Depends(get_session)]
    ) -> BindingSet:
        assert session["engine"] == "memory://trees"
        return [{"tree": OAK, "height": session["oak"]}]

    assert await invoke([{"tree": OAK}]) == [{"tree": OAK, "height": HEIGHT}]
    assert calls == [("url", False), ("engine", True), ("session", False)]


# ---------------------------------------------------------------------- the per-call cache


async def test_one_factory_at_two_depths_is_called_once_per_call(kb: KnowledgeBase):
    settings_calls: list[int] = []

    def get_settings() -> dict[str, str]:
        settings_calls.append(1)
        return {"unit": "m"}

    async def get_repository(
        settings: Annotated[dict[str, str], Depends(get_settings)],
    ) -> dict[str, Any]:
        return {"settings": settings}

    seen: list[bool] = []

    @kb.answer_ki(KI, PATTERN)
    async def heights(
        binding_set: BindingSet,
        settings: Annotated[dict[str, str], Depends(get_settings)],
        repository: Annotated[dict[str, Any], Depends(get_repository)],
    ) -> BindingSet:
        seen.append(repository["settings"] is settings)
        return []

    await kb.call(KI, [])
    assert settings_calls == [1]
    assert seen == [True]


async def test_use_cache_false_calls_the_factory_for_each_parameter(kb: KnowledgeBase):
    counter = itertools.count(1)

    async def next_number() -> int:
        return next(counter)

    async def nested(
        number: Annotated[int, Depends(next_number, use_cache=False)],
    ) -> int:
        return number

    seen: list[tuple[int, int, int, int]] = []

    @kb.answer_ki(KI, PATTERN)
    async def heights(
        binding_set: BindingSet,
        cached: Annotated[int, Depends(next_number)],
        first: Annotated[int, Depends(next_number, use_cache=False)],
        second: Annotated[int, Depends(next_number, use_cache=False)],
        third: Annotated[int, Depends(nested)],
    ) -> BindingSet:
        seen.append((cached, first, second, third))
        return []

    await kb.call(KI, [])
    # A cached result from another parameter does not stop use_cache=False from calling again.
    assert seen == [(1, 2, 3, 4)]


async def test_cache_does_not_leak_between_calls(kb: KnowledgeBase):
    counter = itertools.count(1)

    def next_number() -> int:
        return next(counter)

    seen: list[tuple[int, int]] = []

    @kb.answer_ki(KI, PATTERN)
    async def heights(
        binding_set: BindingSet,
        first: Annotated[int, Depends(next_number)],
        again: Annotated[int, Depends(next_number)],
    ) -> BindingSet:
        seen.append((first, again))
        return []

    await kb.call(KI, [])
    await kb.call(KI, [])
    assert seen == [(1, 1), (2, 2)]


async def test_cache_does_not_leak_between_requests_in_the_loop(
    kb: KnowledgeBase, client: RecordingClient
):
    counter = itertools.count(1)

    async def next_number() -> int:
        return next(counter)

    @kb.answer_ki(KI, PATTERN)
    async def heights(
        binding_set: BindingSet,
        first: Annotated[int, Depends(next_number)],
        again: Annotated[int, Depends(next_number)],
    ) -> BindingSet:
        return [{"first": f'"{first}"', "again": f'"{again}"'}]

    responses = await serve(kb, client, ([], REQUESTER_ID), ([], REQUESTER_ID))
    # The two requests may run in either order; each gets its own, cached, number.
    assert sorted((r.binding_set for r in responses), key=str) == [
        [{"first": '"1"', "again": '"1"'}],
        [{"first": '"2"', "again": '"2"'}],
    ]


# ---------------------------------------------------------------------- dependency_overrides


async def test_override_replaces_a_factory_at_every_depth(kb: KnowledgeBase, invoke: Invoke):
    def get_db() -> str:
        return "real"

    async def get_repository(db: Annotated[str, Depends(get_db)]) -> str:
        return f"repository on {db}"

    @kb.answer_ki(KI, PATTERN)
    async def heights(
        binding_set: BindingSet,
        db: Annotated[str, Depends(get_db)],
        repository: Annotated[str, Depends(get_repository)],
    ) -> BindingSet:
        return [{"db": f'"{db}"', "repository": f'"{repository}"'}]

    def fake_db() -> str:
        return "fake"

    kb.dependency_overrides[get_db] = fake_db  # after the handler was declared

    assert await invoke([]) == [{"db": '"fake"', "repository": '"repository on fake"'}]


async def test_override_of_a_nested_factory_only(kb: KnowledgeBase):
    def get_db() -> str:
        return "real"

    def get_repository(db: Annotated[str, Depends(get_db)]) -> str:
        return f"repository on {db}"

    seen: list[str] = []

    @kb.answer_ki(KI, PATTERN)
    async def heights(
        binding_set: BindingSet, repository: Annotated[str, Depends(get_repository)]
    ) -> BindingSet:
        seen.append(repository)
        return []

    async def fake_db() -> str:
        return "fake"

    kb.dependency_overrides[get_db] = fake_db
    await kb.call(KI, [])
    assert seen == ["repository on fake"]


async def test_override_may_have_dependencies_of_its_own(kb: KnowledgeBase):
    def get_db() -> str:
        return "real"

    def get_prefix() -> str:
        return "fake for"

    async def fake_db(context: RequestContext, prefix: Annotated[str, Depends(get_prefix)]) -> str:
        return f"{prefix} {context.requesting_kb_id}"

    seen: list[str] = []

    @kb.answer_ki(KI, PATTERN)
    async def heights(binding_set: BindingSet, db: Annotated[str, Depends(get_db)]) -> BindingSet:
        seen.append(db)
        return []

    kb.dependency_overrides[get_db] = fake_db
    await kb.call(KI, [], requesting_kb_id=REQUESTER_ID)
    assert seen == [f"fake for {REQUESTER_ID}"]


async def test_override_keeps_the_use_cache_of_the_original(kb: KnowledgeBase):
    def get_token() -> str:
        return "real"

    def get_shared() -> str:
        return "real"

    seen: list[tuple[str, str, str, str]] = []

    @kb.answer_ki(KI, PATTERN)
    async def heights(
        binding_set: BindingSet,
        token_a: Annotated[str, Depends(get_token, use_cache=False)],
        token_b: Annotated[str, Depends(get_token, use_cache=False)],
        shared_a: Annotated[str, Depends(get_shared)],
        shared_b: Annotated[str, Depends(get_shared)],
    ) -> BindingSet:
        seen.append((token_a, token_b, shared_a, shared_b))
        return []

    token_counter = itertools.count(1)
    shared_counter = itertools.count(1)

    def fake_token() -> str:
        return f"token {next(token_counter)}"

    async def fake_shared() -> str:
        return f"shared {next(shared_counter)}"

    kb.dependency_overrides[get_token] = fake_token
    kb.dependency_overrides[get_shared] = fake_shared
    await kb.call(KI, [])
    assert seen == [("token 1", "token 2", "shared 1", "shared 1")]


async def test_removing_an_override_restores_the_original(kb: KnowledgeBase):
    def get_db() -> str:
        return "real"

    def fake_db() -> str:
        return "fake"

    seen: list[str] = []

    @kb.answer_ki(KI, PATTERN)
    async def heights(binding_set: BindingSet, db: Annotated[str, Depends(get_db)]) -> BindingSet:
        seen.append(db)
        return []

    await kb.call(KI, [])
    kb.dependency_overrides[get_db] = fake_db
    await kb.call(KI, [])
    del kb.dependency_overrides[get_db]
    await kb.call(KI, [])
    assert seen == ["real", "fake", "real"]


# ---------------------------------------------------------------------- generator factories


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_generator_teardown_runs_before_the_response_is_posted(
    kb: KnowledgeBase, client: RecordingClient, events: list[object], kind: str
):
    resource, _ = generator_factory(kind, events)

    @kb.answer_ki(KI, PATTERN)
    async def heights(
        binding_set: BindingSet, handle: Annotated[str, Depends(resource)]
    ) -> BindingSet:
        events.append(f"handler got {handle}")
        return [{"tree": OAK, "height": HEIGHT}]

    [response] = await serve(kb, client, ([{"tree": OAK}], REQUESTER_ID))

    assert response.binding_set == [{"tree": OAK, "height": HEIGHT}]
    assert events == [
        "setup",
        "handler got resource",
        "teardown",
        ("posted", response.handle_request_id),
    ]


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_generator_teardown_runs_before_call_returns(
    kb: KnowledgeBase, events: list[object], kind: str
):
    resource, _ = generator_factory(kind, events)

    @kb.answer_ki(KI, PATTERN)
    def heights(binding_set: BindingSet, handle: Annotated[str, Depends(resource)]) -> BindingSet:
        events.append(f"handler got {handle}")
        return []

    await kb.call(KI, [])
    events.append("call returned")
    assert events == ["setup", "handler got resource", "teardown", "call returned"]


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_generator_teardown_sees_the_handlers_exception_in_the_loop(
    kb: KnowledgeBase, client: RecordingClient, events: list[object], kind: str
):
    resource, _ = generator_factory(kind, events)

    @kb.answer_ki(KI, PATTERN)
    async def heights(
        binding_set: BindingSet, handle: Annotated[str, Depends(resource)]
    ) -> BindingSet:
        events.append(f"handler got {handle}")
        raise LookupError("no such tree")

    [response] = await serve(kb, client, ([{"tree": OAK}], REQUESTER_ID))

    assert response.binding_set == []
    assert response.error_message is None
    assert events == [
        "setup",
        "handler got resource",
        "teardown saw no such tree",
        ("posted", response.handle_request_id),
    ]


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_generator_teardown_sees_the_handlers_exception_in_call(
    kb: KnowledgeBase, events: list[object], kind: str
):
    resource, _ = generator_factory(kind, events)

    @kb.answer_ki(KI, PATTERN)
    def heights(binding_set: BindingSet, handle: Annotated[str, Depends(resource)]) -> BindingSet:
        events.append(f"handler got {handle}")
        raise LookupError("no such tree")

    with pytest.raises(LookupError, match="no such tree"):
        await kb.call(KI, [])
    assert events == ["setup", "handler got resource", "teardown saw no such tree"]


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_teardown_cannot_swallow_the_handlers_exception(kb: KnowledgeBase, kind: str):
    caught: list[str] = []

    def sync_forgiving() -> Iterator[str]:
        try:
            yield "resource"
        except LookupError as exc:
            caught.append(str(exc))  # and not re-raised

    async def async_forgiving() -> AsyncIterator[str]:
        try:
            yield "resource"
        except LookupError as exc:
            caught.append(str(exc))  # and not re-raised

    forgiving = sync_forgiving if kind == "sync" else async_forgiving

    @kb.answer_ki(KI, PATTERN)
    async def heights(
        binding_set: BindingSet, handle: Annotated[str, Depends(forgiving)]
    ) -> BindingSet:
        raise LookupError("no such tree")

    with pytest.raises(LookupError, match="no such tree"):
        await kb.call(KI, [])
    assert caught == ["no such tree"]


async def test_sync_generator_setup_and_teardown_run_in_a_worker_thread(
    kb: KnowledgeBase, events: list[object], invoke: Invoke
):
    loop_thread = threading.get_ident()
    resource, threads = generator_factory("sync", events)

    @kb.answer_ki(KI, PATTERN)
    async def heights(
        binding_set: BindingSet, handle: Annotated[str, Depends(resource)]
    ) -> BindingSet:
        return [{"resource": f'"{handle}"'}]

    assert await invoke([]) == [{"resource": '"resource"'}]
    assert set(threads) == {"setup", "teardown"}
    assert threads["setup"] != loop_thread
    assert threads["teardown"] != loop_thread


# ---------------------------------------------------------------------- RequestContext


async def test_request_context_reaches_handler_and_factory_in_the_loop(
    kb: KnowledgeBase, client: RecordingClient
):
    def echo_context(context: RequestContext) -> RequestContext:
        return context

    seen: dict[int, tuple[RequestContext, RequestContext]] = {}

    @kb.answer_ki(KI, PATTERN)
    async def heights(
        binding_set: BindingSet,
        context: RequestContext,
        from_factory: Annotated[RequestContext, Depends(echo_context)],
    ) -> BindingSet:
        assert context.handle_request_id is not None
        seen[context.handle_request_id] = (context, from_factory)
        return []

    first, second = await serve(
        kb, client, ([{"tree": OAK}], REQUESTER_ID), ([{"tree": BEECH}], OTHER_REQUESTER_ID)
    )

    assert sorted(seen) == [first.handle_request_id, second.handle_request_id]
    for response, requester in [(first, REQUESTER_ID), (second, OTHER_REQUESTER_ID)]:
        context, from_factory = seen[response.handle_request_id]
        assert from_factory == context
        assert context.knowledge_base is kb
        assert context.knowledge_interaction is kb.knowledge_interactions[KI]
        assert context.knowledge_interaction.name == KI
        assert context.requesting_kb_id == requester
        assert context.handle_request_id == response.handle_request_id


async def test_request_context_in_call(kb: KnowledgeBase):
    async def requester_of(context: RequestContext) -> str | None:
        return context.requesting_kb_id

    seen: list[tuple[RequestContext, str | None]] = []

    @kb.answer_ki(KI, PATTERN)
    def heights(
        binding_set: BindingSet,
        context: RequestContext,
        requester: Annotated[str | None, Depends(requester_of)],
    ) -> BindingSet:
        seen.append((context, requester))
        return []

    await kb.call(KI, [], requesting_kb_id=REQUESTER_ID)
    await kb.call(KI, [])

    [(with_requester, requester), (without_requester, no_requester)] = seen
    assert with_requester.knowledge_base is kb
    assert with_requester.knowledge_interaction.name == KI
    assert with_requester.requesting_kb_id == requester == REQUESTER_ID
    assert with_requester.handle_request_id is None
    assert without_requester.requesting_kb_id is None
    assert no_requester is None


# ---------------------------------------------------------------------- handlers


@pytest.mark.parametrize("handler_kind", ["sync", "async"])
async def test_sync_and_async_handlers_get_their_dependencies(
    kb: KnowledgeBase, invoke: Invoke, handler_kind: str
):
    loop_thread = threading.get_ident()
    handler_threads: list[int] = []

    async def get_heights(context: RequestContext) -> dict[str, str]:
        return {OAK: HEIGHT} if context.requesting_kb_id == REQUESTER_ID else {}

    def sync_heights(
        binding_set: BindingSet,
        table: Annotated[dict[str, str], Depends(get_heights)],
        context: RequestContext,
    ) -> BindingSet:
        handler_threads.append(threading.get_ident())
        assert context.knowledge_interaction.name == KI
        return [{"tree": b["tree"], "height": table[b["tree"]]} for b in binding_set]

    async def async_heights(
        binding_set: BindingSet,
        table: Annotated[dict[str, str], Depends(get_heights)],
        context: RequestContext,
    ) -> BindingSet:
        handler_threads.append(threading.get_ident())
        assert context.knowledge_interaction.name == KI
        return [{"tree": b["tree"], "height": table[b["tree"]]} for b in binding_set]

    kb.answer_ki(KI, PATTERN)(sync_heights if handler_kind == "sync" else async_heights)

    assert await invoke([{"tree": OAK}]) == [{"tree": OAK, "height": HEIGHT}]
    assert len(handler_threads) == 1
    if handler_kind == "sync":
        assert handler_threads[0] != loop_thread
    else:
        assert handler_threads[0] == loop_thread


async def test_the_decorators_return_the_handler_itself(kb: KnowledgeBase):
    def get_height() -> str:
        return HEIGHT

    def original(
        binding_set: BindingSet, height: Annotated[str, Depends(get_height)]
    ) -> BindingSet:
        return [{"tree": b["tree"], "height": height} for b in binding_set]

    async def original_reaction(
        binding_set: BindingSet, height: Annotated[str, Depends(get_height)]
    ) -> BindingSet:
        return [{"tree": b["tree"], "height": height} for b in binding_set]

    heights = kb.answer_ki(KI, PATTERN)(original)
    reaction = kb.react_ki("tree-measured", PATTERN, PATTERN)(original_reaction)

    assert heights is original
    assert reaction is original_reaction
    # Still plain functions: callable directly, with the dependency passed by hand.
    assert heights([{"tree": OAK}], height='"3"') == [{"tree": OAK, "height": '"3"'}]
    assert await reaction([{"tree": OAK}], height='"4"') == [{"tree": OAK, "height": '"4"'}]
    # And served with the dependency injected.
    assert await kb.call(KI, [{"tree": OAK}]) == [{"tree": OAK, "height": HEIGHT}]
    assert await kb.call("tree-measured", [{"tree": OAK}]) == [{"tree": OAK, "height": HEIGHT}]


# ---------------------------------------------------------------------- declaration errors


def declaration_error(kb: KnowledgeBase, handler: Callable[..., Any]) -> str:
    """Declare ``handler``, expect a HandlerDeclarationError, and return its message."""
    with pytest.raises(HandlerDeclarationError) as excinfo:
        kb.answer_ki("broken", PATTERN)(handler)
    assert "broken" not in kb.knowledge_interactions
    return str(excinfo.value)


def test_declaration_error_is_a_type_error_and_a_value_error(kb: KnowledgeBase):
    def handler_without_parameters() -> BindingSet:
        return []

    with pytest.raises(HandlerDeclarationError) as excinfo:
        kb.answer_ki("broken", PATTERN)(handler_without_parameters)
    assert isinstance(excinfo.value, TypeError)
    assert isinstance(excinfo.value, ValueError)
    assert isinstance(excinfo.value, ConfigurationError)
    assert isinstance(excinfo.value, KnowledgeMapperError)


def test_handler_without_parameters(kb: KnowledgeBase):
    def handler_without_parameters() -> BindingSet:
        return []

    message = declaration_error(kb, handler_without_parameters)
    assert "handler_without_parameters" in message
    assert "first parameter" in message
    assert "binding set" in message


def test_handler_with_a_keyword_only_first_parameter(kb: KnowledgeBase):
    def keyword_only_handler(*, binding_set: BindingSet) -> BindingSet:
        return binding_set

    message = declaration_error(kb, keyword_only_handler)
    assert "keyword_only_handler" in message
    assert "positional parameter" in message


def test_extra_parameter_with_an_unknown_annotation(kb: KnowledgeBase):
    def handler_with_int(binding_set: BindingSet, limit: int) -> BindingSet:
        return binding_set[:limit]

    message = declaration_error(kb, handler_with_int)
    assert "handler_with_int" in message
    assert "'limit'" in message
    assert "cannot inject a value of type int" in message


def test_extra_parameter_without_annotation(kb: KnowledgeBase):
    def handler_without_annotation(binding_set: BindingSet, limit) -> BindingSet:  # type: ignore[no-untyped-def]
        return binding_set[:limit]

    message = declaration_error(kb, handler_without_annotation)
    assert "handler_without_annotation" in message
    assert "'limit'" in message
    assert "no annotation" in message


def test_first_parameter_with_a_wrong_annotation(kb: KnowledgeBase):
    def handler_of_ints(binding_set: int) -> BindingSet:
        return []

    message = declaration_error(kb, handler_of_ints)
    assert "handler_of_ints" in message
    assert "'binding_set'" in message
    assert "list of bindings" in message


def test_variadic_parameters(kb: KnowledgeBase):
    def handler_with_args(binding_set: BindingSet, *args: str) -> BindingSet:
        return binding_set

    def handler_with_kwargs(binding_set: BindingSet, **kwargs: str) -> BindingSet:
        return binding_set

    for handler, parameter in [(handler_with_args, "args"), (handler_with_kwargs, "kwargs")]:
        message = declaration_error(kb, handler)
        assert handler.__name__ in message
        assert f"'{parameter}'" in message
        assert "variadic" in message


def test_factory_with_a_parameter_that_cannot_be_injected(kb: KnowledgeBase):
    def get_db(url: str) -> str:
        return url

    def handler_needing_db(
        binding_set: BindingSet, db: Annotated[str, Depends(get_db)]
    ) -> BindingSet:
        return []

    message = declaration_error(kb, handler_needing_db)
    assert "handler_needing_db" in message
    assert "get_db" in message
    assert "'url'" in message
    assert "cannot inject a value of type str" in message


def _chicken(egg: "Annotated[str, Depends(_egg)]") -> str:
    return egg


def _egg(chicken: Annotated[str, Depends(_chicken)]) -> str:
    return chicken


def test_dependency_cycle(kb: KnowledgeBase):
    def handler_with_cycle(
        binding_set: BindingSet, egg: Annotated[str, Depends(_egg)]
    ) -> BindingSet:
        return []

    message = declaration_error(kb, handler_with_cycle)
    assert "handler_with_cycle" in message
    assert "dependency cycle" in message
    assert "_egg -> _chicken -> _egg" in message


def test_depends_on_something_not_callable(kb: KnowledgeBase):
    def handler_with_bad_depends(
        binding_set: BindingSet,
        db: Annotated[str, Depends(42)],  # type: ignore[arg-type]
    ) -> BindingSet:
        return []

    message = declaration_error(kb, handler_with_bad_depends)
    assert "handler_with_bad_depends" in message
    assert "'db'" in message
    assert "callable" in message
    assert "42" in message


def test_unresolvable_annotation(kb: KnowledgeBase):
    def handler_with_missing_type(
        binding_set: BindingSet,
        thing: "Missing",  # type: ignore[name-defined]  # noqa: F821
    ) -> BindingSet:
        return []

    message = declaration_error(kb, handler_with_missing_type)
    assert "handler_with_missing_type" in message
    assert "cannot resolve" in message
    assert "Missing" in message


def test_unresolvable_annotation_in_a_factory(kb: KnowledgeBase):
    def get_thing(setting: "Missing") -> str:  # type: ignore[name-defined]  # noqa: F821
        return "thing"

    def handler_with_broken_factory(
        binding_set: BindingSet, thing: Annotated[str, Depends(get_thing)]
    ) -> BindingSet:
        return []

    message = declaration_error(kb, handler_with_broken_factory)
    assert "handler_with_broken_factory" in message
    assert "get_thing" in message
    assert "cannot resolve" in message
    assert "Missing" in message


async def test_an_override_may_wrap_the_factory_it_replaces(kb: KnowledgeBase, invoke: Invoke):
    def get_name() -> str:
        return "oak"

    @kb.answer_ki(KI, PATTERN)
    async def heights(
        binding_set: BindingSet, name: Annotated[str, Depends(get_name)]
    ) -> BindingSet:
        return [{"tree": f"<http://example.org/{name}>", "height": HEIGHT}]

    def shouting(original: Annotated[str, Depends(get_name)]) -> str:
        return original.upper()

    kb.dependency_overrides[get_name] = shouting
    assert await invoke([]) == [{"tree": "<http://example.org/OAK>", "height": HEIGHT}]


async def test_a_sync_generator_that_yields_again_after_an_error_is_reported(kb: KnowledgeBase):
    def stubborn() -> Iterator[str]:
        while True:
            with contextlib.suppress(LookupError):  # swallows the handler's error, yields again
                yield "resource"

    @kb.answer_ki(KI, PATTERN)
    def handler(binding_set: BindingSet, res: Annotated[str, Depends(stubborn)]) -> BindingSet:
        raise LookupError("handler failed")

    with pytest.raises(RuntimeError, match="yielded again"):
        await kb.call(KI, [])
