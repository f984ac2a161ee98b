"""A KB's service life: lifespan, startup and shutdown hooks, periodic functions, owned tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator

import pytest

from km_core import (
    BindingSet,
    ConfigurationError,
    KnowledgeBase,
    StartupError,
)
from km_testing import LocalEngineClient, LocalKnowledgeEngine, TestClient
from tests.support import EX, OAK, Arrivals

PATTERN = "?tree ex:height ?height ."
ANSWER = [{"tree": OAK, "height": '"21"'}]
KB_ID = "http://example.org/kb/life"


def make_kb(client: TestClient | LocalEngineClient, **options: object) -> KnowledgeBase:
    return KnowledgeBase(
        id=KB_ID,
        name="life",
        description="",
        client=client,
        **options,  # type: ignore[arg-type]
    )


class Journal:
    """What happened, in order (appended from the event loop's thread and worker threads)."""

    def __init__(self) -> None:
        self.entries: list[str] = []

    def add(self, entry: str) -> None:
        self.entries.append(entry)


async def test_serve_runs_the_lifespan_and_hooks_in_order_around_the_loop(
    client: TestClient,
) -> None:
    journal = Journal()

    @contextlib.asynccontextmanager
    async def lifespan(kb: KnowledgeBase) -> AsyncIterator[None]:
        journal.add(f"lifespan enter (registered: {kb.registered})")
        yield
        journal.add(f"lifespan exit (registered: {kb.registered})")

    kb = make_kb(client, lifespan=lifespan)

    @kb.on_startup
    async def first() -> None:
        journal.add("startup 1")

    @kb.on_startup
    def second() -> None:  # a sync hook runs in a worker thread
        journal.add(f"startup 2 in {'main' if is_main_thread() else 'a worker'} thread")

    @kb.on_shutdown
    async def goodbye() -> None:
        journal.add(f"shutdown (loop running: {kb.event_loop is not None})")

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        journal.add("handled")
        return ANSWER

    serving = asyncio.create_task(kb.serve(handle_signals=False))
    request = client.enqueue_handle_request("heights", [])
    await client.wait_for_handle_response(request)
    kb.stop()
    await asyncio.wait_for(serving, 10)
    assert journal.entries == [
        "lifespan enter (registered: True)",
        "startup 1",
        "startup 2 in a worker thread",
        "handled",
        "shutdown (loop running: False)",
        "lifespan exit (registered: True)",
    ]
    assert client.registered_kb is None  # unregistered after the lifespan ended


def is_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


async def test_async_with_runs_the_lifespan_and_its_tasks(client: TestClient) -> None:
    journal = Journal()
    kb = make_kb(client)
    running = asyncio.Event()
    cancelled = asyncio.Event()

    async def forever() -> None:
        running.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    @kb.on_startup
    async def start() -> None:
        journal.add("startup")
        kb.create_task(forever(), name="forever")

    @kb.on_shutdown
    async def stop() -> None:
        journal.add(f"shutdown (task cancelled: {cancelled.is_set()})")

    async with kb:
        await asyncio.wait_for(running.wait(), 10)
        assert journal.entries == ["startup"]
        assert not cancelled.is_set()
    assert journal.entries == ["startup", "shutdown (task cancelled: True)"]
    assert client.registered_kb is None


async def test_an_asking_kb_asks_every_few_seconds_while_it_serves() -> None:
    engine = LocalKnowledgeEngine()
    answering = KnowledgeBase(
        id="http://example.org/kb/trees",
        name="trees",
        description="",
        client=LocalEngineClient(engine),
    )

    @answering.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        return ANSWER

    asker = make_kb(LocalEngineClient(engine))
    asking = asker.ask_ki("heights", PATTERN, prefixes=EX)
    answers: list[BindingSet] = []
    arrivals = Arrivals()

    @asker.every(0.02)
    async def ask_heights() -> None:
        answers.append(await asker.ask(asking))
        await arrivals.arrive()

    async with answering:
        serving_answers = asyncio.create_task(answering.start_handling_loop())
        serving = asyncio.create_task(asker.serve(handle_signals=False))
        await arrivals.wait_for(3)
        asker.stop()
        await asyncio.wait_for(serving, 10)
        runs = len(answers)
        await asyncio.sleep(0.1)  # five periods: no run comes after the stop
        assert len(answers) == runs
    await asyncio.wait_for(serving_answers, 10)
    assert runs >= 3
    assert all(answer == ANSWER for answer in answers)


async def test_a_failing_periodic_run_is_logged_and_the_next_one_comes(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    kb = make_kb(client)
    arrivals = Arrivals()

    @kb.every(0.01)
    async def flaky() -> None:
        await arrivals.arrive()
        if arrivals.count == 1:
            raise ValueError("the first run fails")

    async with kb:
        await arrivals.wait_for(2)
    failures = [r for r in caplog.records if "periodic function" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].levelno == logging.ERROR
    assert KB_ID in failures[0].getMessage()
    assert "flaky" in failures[0].getMessage()


async def test_an_owned_task_that_fails_is_logged_with_the_kb_id(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    kb = make_kb(client)

    async def broken() -> None:
        raise RuntimeError("the task broke")

    async with kb:
        task = kb.create_task(broken(), name="broken-task")
        with pytest.raises(RuntimeError):
            await task
    errors = [r for r in caplog.records if "broken-task" in r.getMessage()]
    assert len(errors) == 1
    assert errors[0].levelno == logging.ERROR
    assert KB_ID in errors[0].getMessage()
    assert "the task broke" in errors[0].getMessage()


async def test_a_failing_startup_hook_stops_the_start_and_undoes_it(client: TestClient) -> None:
    journal = Journal()

    @contextlib.asynccontextmanager
    async def lifespan(kb: KnowledgeBase) -> AsyncIterator[None]:
        journal.add("lifespan enter")
        try:
            yield
        except ValueError as exc:
            journal.add(f"lifespan exit with {exc}")
            raise

    kb = make_kb(client, lifespan=lifespan)
    started = asyncio.Event()

    async def waits() -> None:
        started.set()
        await asyncio.Event().wait()

    @kb.on_startup
    async def opens() -> None:
        kb.create_task(waits(), name="waits")
        await started.wait()

    @kb.on_startup
    def open_database() -> None:
        raise ValueError("no database at db.example:5432")

    @kb.on_shutdown
    async def never() -> None:
        journal.add("shutdown")

    with pytest.raises(StartupError) as caught:
        await kb.serve(handle_signals=False)
    assert str(caught.value) == (
        f"knowledge base {KB_ID} could not start: startup hook "
        "'test_a_failing_startup_hook_stops_the_start_and_undoes_it.<locals>.open_database' "
        "raised ValueError: no database at db.example:5432"
    )
    assert isinstance(caught.value.__cause__, ValueError)
    assert journal.entries == [
        "lifespan enter",
        "lifespan exit with no database at db.example:5432",
    ]
    assert client.registered_kb is None  # unregistered and closed again
    assert not await client.ke_is_available()
    with pytest.raises(RuntimeError, match="not serving"):
        kb.create_task(asyncio.sleep(0))


async def test_a_failing_lifespan_fails_async_with(client: TestClient) -> None:
    @contextlib.asynccontextmanager
    async def lifespan(kb: KnowledgeBase) -> AsyncIterator[None]:
        raise ConnectionError("the cache is down")
        yield

    kb = make_kb(client, lifespan=lifespan)
    with pytest.raises(StartupError, match="its lifespan raised ConnectionError: the cache"):
        async with kb:
            pytest.fail("the block must not run")
    assert client.registered_kb is None


async def test_a_stop_during_startup_ends_serve_cleanly(client: TestClient) -> None:
    entered = asyncio.Event()
    cancelled = asyncio.Event()
    kb = make_kb(client)

    @kb.on_startup
    async def slow() -> None:
        entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    serving = asyncio.create_task(kb.serve(handle_signals=False))
    await asyncio.wait_for(entered.wait(), 10)
    kb.stop()
    await asyncio.wait_for(serving, 10)  # returns: a requested stop is not an error
    assert cancelled.is_set()
    assert client.registered_kb is None


async def test_create_task_outside_the_service_life_is_refused(client: TestClient) -> None:
    kb = make_kb(client)
    coroutine = asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="is not serving"):
        kb.create_task(coroutine)
    await kb.register()  # registered, but its lifespan has not started
    with pytest.raises(RuntimeError, match="is not serving"):
        kb.create_task(asyncio.sleep(0))


def test_hooks_and_periods_are_checked_where_they_are_declared(client: TestClient) -> None:
    kb = make_kb(client)
    with pytest.raises(ConfigurationError, match="must take no arguments"):

        @kb.on_startup
        async def needs(value: int) -> None: ...

    for seconds in (0, -1, True, "5"):
        with pytest.raises(ConfigurationError, match="positive number of seconds"):
            kb.every(seconds)(lambda: None)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="lifespan must be a function"):
        make_kb(client, lifespan="not callable")


async def test_a_lifespan_that_is_not_a_context_manager_is_a_startup_error(
    client: TestClient,
) -> None:
    async def lifespan(kb: KnowledgeBase) -> None:  # forgot @asynccontextmanager
        return None

    kb = make_kb(client, lifespan=lifespan)
    with pytest.raises(StartupError, match="asynccontextmanager"):
        await kb.serve(handle_signals=False)
