"""`km_core.prometheus.PrometheusMiddleware`: what each metric counts, read back from a registry.

Every test has a registry of its own and drives real requests through a KB's handling loop (on
the TestClient, or on the local engine for asks and posts between KBs), then reads exact sample
values with ``registry.get_sample_value``.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from prometheus_client import REGISTRY, CollectorRegistry

from km_core import (
    Backoff,
    BindingSet,
    ConfigurationError,
    ErrorPolicy,
    KnowledgeBase,
    KnowledgeEngineResponseError,
    KnowledgeEngineUnavailableError,
    Middleware,
    PollResult,
    SmartConnectorNotFoundError,
)
from km_core.prometheus import (
    EXCHANGE_DURATION,
    EXCHANGES,
    HANDLE_REQUESTS,
    HANDLER_DURATION,
    HANDLERS_IN_FLIGHT,
    POLL_FAILURES,
    POLLING,
    POLLS,
    REGISTRATIONS,
    RESPONSE_RETRIES,
    RESPONSES_DROPPED,
    PrometheusMiddleware,
)
from km_testing import LocalEngineClient, LocalKnowledgeEngine, TestClient
from tests.support import EX, KB_ID, OAK, Arrivals

PATTERN = "?tree ex:height ?height ."
ANSWER = [{"tree": OAK, "height": '"21"'}]
FAST = Backoff(initial=0.001, maximum=0.01)
FRIEND = "http://example.org/kb/friend"


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    """The sample's value; 0 when it was never made (a counter not yet counted)."""
    value = registry.get_sample_value(name, {"kb": KB_ID, **labels})
    return 0.0 if value is None else value


def metered_kb(client: TestClient, registry: CollectorRegistry, **options: object) -> KnowledgeBase:
    return KnowledgeBase(
        id=KB_ID,
        name="metered",
        description="A KB with metrics",
        client=client,
        poll_backoff=FAST,
        middleware=[PrometheusMiddleware(registry)],
        **options,  # type: ignore[arg-type]
    )


def requests(registry: CollectorRegistry, interaction: str, outcome: str, response: str) -> float:
    return sample(
        registry, HANDLE_REQUESTS, interaction=interaction, outcome=outcome, response=response
    )


# ---------------------------------------------------------------- handle requests


@pytest.mark.parametrize(
    ("policy", "failure_response"),
    [(ErrorPolicy.ERROR_MESSAGE, "error_message"), (ErrorPolicy.EMPTY_BINDING_SET, "empty")],
    ids=["error-message", "empty-binding-set"],
)
async def test_each_outcome_is_counted_with_the_response_posted(
    client: TestClient,
    registry: CollectorRegistry,
    policy: ErrorPolicy,
    failure_response: str,
) -> None:
    kb = metered_kb(client, registry, error_policy=policy)

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        return ANSWER

    @kb.answer_ki("nothing", PATTERN, prefixes=EX)
    async def nothing(binding_set: BindingSet) -> BindingSet:
        return []

    @kb.answer_ki("broken", PATTERN, prefixes=EX)
    async def broken(binding_set: BindingSet) -> BindingSet:
        raise KeyError("no such tree")

    @kb.answer_ki("private", PATTERN, prefixes=EX, permitted=[FRIEND])
    async def private(binding_set: BindingSet) -> BindingSet:
        return ANSWER

    @kb.answer_ki("slow", PATTERN, prefixes=EX, timeout=0.05)
    async def slow(binding_set: BindingSet) -> BindingSet:
        await asyncio.Event().wait()  # never set: the timeout cancels it
        return ANSWER

    await kb.connect()
    await kb.register()
    for name in ("heights", "heights", "nothing", "broken", "private", "slow", "no-such-ki"):
        client.enqueue_handle_request(name, [{"tree": OAK}])
    client.enqueue_handle_request("private", [{"tree": OAK}], requesting_kb_id=FRIEND)
    client.enqueue_exit()
    async with asyncio.timeout(10):
        await kb.start_handling_loop()

    assert len(client.handle_responses) == 8
    assert requests(registry, "heights", "answered", "bindings") == 2
    assert requests(registry, "nothing", "empty", "empty") == 1
    assert requests(registry, "broken", "failed", failure_response) == 1
    assert requests(registry, "private", "denied", failure_response) == 1
    assert requests(registry, "private", "answered", "bindings") == 1  # from the friend
    assert requests(registry, "slow", "timed_out", failure_response) == 1
    assert requests(registry, "", "unknown_interaction", failure_response) == 1
    assert sample(registry, f"{HANDLER_DURATION}_count", interaction="heights") == 2
    assert sample(registry, f"{HANDLER_DURATION}_count", interaction="slow") == 1
    assert sample(registry, f"{HANDLER_DURATION}_sum", interaction="slow") >= 0.04
    assert sample(registry, f"{HANDLER_DURATION}_bucket", interaction="slow", le="0.025") == 0
    assert sample(registry, HANDLERS_IN_FLIGHT) == 0
    assert sample(registry, RESPONSES_DROPPED) == 0
    assert sample(registry, POLLS, result="handle") == 8
    assert sample(registry, POLLS, result="exit") == 1
    assert sample(registry, REGISTRATIONS, kind="first") == 1
    assert sample(registry, REGISTRATIONS, kind="again") == 0


async def test_handlers_in_flight_counts_the_running_handlers(
    client: TestClient, registry: CollectorRegistry
) -> None:
    kb = metered_kb(client, registry)
    arrivals = Arrivals()
    gate = asyncio.Event()

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        await arrivals.arrive()
        await gate.wait()
        return ANSWER

    await kb.connect()
    await kb.register()
    for _ in range(3):
        client.enqueue_handle_request("heights", [{"tree": OAK}])
    loop = asyncio.create_task(kb.start_handling_loop())
    await arrivals.wait_for(3)
    assert sample(registry, HANDLERS_IN_FLIGHT) == 3
    client.enqueue_exit()
    gate.set()
    await asyncio.wait_for(loop, 10)
    assert sample(registry, HANDLERS_IN_FLIGHT) == 0
    assert requests(registry, "heights", "answered", "bindings") == 3


async def test_responses_posted_again_and_dropped_are_counted(
    client: TestClient, registry: CollectorRegistry
) -> None:
    kb = metered_kb(client, registry)

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        return ANSWER

    await kb.connect()
    await kb.register()
    # The first response fails twice (the KE away), then is posted; the second is refused.
    client.fail_next("post_handle_response", KnowledgeEngineUnavailableError("away"), times=2)
    first = client.enqueue_handle_request("heights", [{"tree": OAK}])
    async with asyncio.timeout(10):
        await kb.start_handling_loop(loops=1)
        await client.wait_for_handle_response(first)
        client.fail_next(
            "post_handle_response",
            KnowledgeEngineResponseError("Handle request gone", status_code=400),
        )
        client.enqueue_handle_request("heights", [{"tree": OAK}])
        client.enqueue_exit()
        await kb.start_handling_loop()
    assert [r.handle_request_id for r in client.handle_responses] == [first]
    assert sample(registry, RESPONSE_RETRIES) == 2
    assert sample(registry, RESPONSES_DROPPED) == 1
    assert requests(registry, "heights", "answered", "bindings") == 2
    assert sample(registry, HANDLERS_IN_FLIGHT) == 0


# ---------------------------------------------------------------- polls and registrations


class PollingSeen(Middleware):
    """Reads the ``km_polling`` gauge each time the loop hears of a poll or a failed one."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.seen: list[tuple[str, float]] = []

    def on_poll(self, kb_id: str, result: PollResult) -> None:
        self.seen.append((result.name.lower(), sample(self.registry, POLLING)))

    def on_poll_failure(self, kb_id: str, error: BaseException) -> None:
        self.seen.append((type(error).__name__, sample(self.registry, POLLING)))


async def test_polls_and_failed_polls_are_counted_and_polling_follows_them(
    client: TestClient, registry: CollectorRegistry
) -> None:
    kb = metered_kb(client, registry)
    seen = PollingSeen(registry)
    kb.add_middleware(seen)  # inside: it hears of each poll after the metrics were updated

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        return ANSWER

    await kb.connect()
    await kb.register()
    assert sample(registry, POLLING) == 1  # registered
    client.fail_next("poll_ki_call", KnowledgeEngineUnavailableError("connection reset"), times=2)
    client.enqueue_handle_request("heights", [{"tree": OAK}])
    client.enqueue_exit()
    async with asyncio.timeout(10):
        await kb.start_handling_loop()
    assert seen.seen == [
        ("KnowledgeEngineUnavailableError", 0),
        ("KnowledgeEngineUnavailableError", 0),
        ("handle", 1),
        ("exit", 1),
    ]
    assert sample(registry, POLL_FAILURES, error="KnowledgeEngineUnavailableError") == 2
    assert sample(registry, POLLS, result="handle") == 1
    assert sample(registry, POLLS, result="exit") == 1
    assert sample(registry, POLLS, result="repoll") == 0


async def test_a_registration_after_the_ke_forgot_the_kb_counts_as_again(
    client: TestClient, registry: CollectorRegistry
) -> None:
    kb = metered_kb(client, registry)

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        return ANSWER

    await kb.connect()
    await kb.register()
    # The KE restarts: it forgets the KB; the next poll is a 404.
    await client.unregister_kb(kb.id)
    client.fail_next("poll_ki_call", SmartConnectorNotFoundError("unknown KB", kb_id=kb.id))
    client.enqueue_handle_request("heights", [{"tree": OAK}])
    client.enqueue_exit()
    async with asyncio.timeout(10):
        await kb.start_handling_loop()
    assert sample(registry, REGISTRATIONS, kind="first") == 1
    assert sample(registry, REGISTRATIONS, kind="again") == 1
    assert sample(registry, POLL_FAILURES, error="SmartConnectorNotFoundError") == 1
    assert sample(registry, POLLING) == 1
    assert requests(registry, "heights", "answered", "bindings") == 1


# ---------------------------------------------------------------- asks and posts


async def test_asks_and_posts_between_kbs_succeed_or_are_partial() -> None:
    registry = CollectorRegistry()
    engine = LocalKnowledgeEngine()
    asker = KnowledgeBase(
        id=KB_ID,
        name="asker",
        description="",
        client=LocalEngineClient(engine),
        middleware=[PrometheusMiddleware(registry)],
    )
    heights = asker.ask_ki("heights", PATTERN, prefixes=EX)
    news = asker.post_ki("news", PATTERN, prefixes=EX)
    good = KnowledgeBase(
        id="http://example.org/kb/good",
        name="good",
        description="",
        client=LocalEngineClient(engine),
    )
    bad = KnowledgeBase(
        id="http://example.org/kb/bad",
        name="bad",
        description="",
        client=LocalEngineClient(engine),
        error_policy=ErrorPolicy.ERROR_MESSAGE,
    )

    @good.answer_ki("heights", PATTERN, prefixes=EX)
    async def good_heights(binding_set: BindingSet) -> BindingSet:
        return ANSWER

    @good.react_ki("news", PATTERN, prefixes=EX)
    async def good_news(binding_set: BindingSet) -> BindingSet:
        return []

    @bad.answer_ki("heights", PATTERN, prefixes=EX)
    async def bad_heights(binding_set: BindingSet) -> BindingSet:
        raise ConnectionError("the database is gone")

    async with asyncio.timeout(20), good, bad, asker:
        loops = [asyncio.create_task(kb.start_handling_loop()) for kb in (good, bad)]
        assert await asker.ask(heights, recipients=[good.id]) == ANSWER
        everyone = await asker.ask_with_info(heights)
        assert sorted(info.status for info in everyone.exchange_info) == ["FAILED", "SUCCEEDED"]
        await asker.post(news, ANSWER)
        for kb in (good, bad):
            kb.stop()
        await asyncio.gather(*loops)

    def exchanges(kind: str, interaction: str, status: str) -> float:
        return sample(registry, EXCHANGES, interaction=interaction, kind=kind, status=status)

    assert exchanges("ask", "heights", "succeeded") == 1
    assert exchanges("ask", "heights", "partial") == 1
    assert exchanges("ask", "heights", "failed") == 0
    assert exchanges("post", "news", "succeeded") == 1
    count = f"{EXCHANGE_DURATION}_count"
    assert sample(registry, count, interaction="heights", kind="ask") == 2
    assert sample(registry, count, interaction="news", kind="post") == 1
    # The answering KBs have no metrics: the asker's middleware is its own.
    assert sample(registry, HANDLE_REQUESTS, kb=good.id) == 0


async def test_an_ask_or_post_that_raises_counts_as_failed_and_raises_on(
    client: TestClient, registry: CollectorRegistry
) -> None:
    kb = metered_kb(client, registry)
    heights = kb.ask_ki("heights", PATTERN, prefixes=EX)
    news = kb.post_ki("news", PATTERN, prefixes=EX)
    await kb.connect()
    await kb.register()
    client.fail_next("ask", KnowledgeEngineUnavailableError("away"))
    client.fail_next("post", KnowledgeEngineUnavailableError("away"))
    with pytest.raises(KnowledgeEngineUnavailableError):
        await kb.ask(heights)
    with pytest.raises(KnowledgeEngineUnavailableError):
        await kb.post(news, ANSWER)
    assert await kb.ask(heights) == []
    labels = {"interaction": "heights", "kind": "ask"}
    assert sample(registry, EXCHANGES, status="failed", **labels) == 1
    assert sample(registry, EXCHANGES, status="succeeded", **labels) == 1
    assert sample(registry, EXCHANGES, interaction="news", kind="post", status="failed") == 1
    assert sample(registry, f"{EXCHANGE_DURATION}_count", **labels) == 2


# ---------------------------------------------------------------- sharing a registry


async def test_two_kbs_and_middlewares_share_one_registry_told_apart_by_kb(
    registry: CollectorRegistry,
) -> None:
    clients = [TestClient(), TestClient()]
    kbs = [
        KnowledgeBase(
            id=f"http://example.org/kb/shared-{n}",
            name="shared",
            description="",
            client=client,
            middleware=[PrometheusMiddleware(registry)],
        )
        for n, client in enumerate(clients)
    ]
    for kb in kbs:

        @kb.answer_ki("heights", PATTERN, prefixes=EX)
        async def heights(binding_set: BindingSet) -> BindingSet:
            return ANSWER

        await kb.connect()
        await kb.register()
    for n, (kb, client) in enumerate(zip(kbs, clients, strict=True)):
        for _ in range(n + 1):
            client.enqueue_handle_request("heights", [{"tree": OAK}])
        client.enqueue_exit()
        async with asyncio.timeout(10):
            await kb.start_handling_loop()
    for n, kb in enumerate(kbs):
        labels = {"kb": kb.id, "interaction": "heights", "outcome": "answered"}
        assert sample(registry, HANDLE_REQUESTS, response="bindings", **labels) == n + 1
        assert sample(registry, REGISTRATIONS, kb=kb.id, kind="first") == 1


def test_middlewares_of_one_registry_share_the_metrics_and_buckets(
    registry: CollectorRegistry,
) -> None:
    PrometheusMiddleware(registry)
    PrometheusMiddleware(registry)  # no "Duplicated timeseries"
    PrometheusMiddleware(registry, namespace="other")  # another namespace: other metrics
    with pytest.raises(ConfigurationError, match="same buckets"):
        PrometheusMiddleware(registry, buckets=[0.1, 1.0])
    PrometheusMiddleware(CollectorRegistry(), buckets=[0.1, 1.0])  # another registry: fine
    # The default registry, as km run uses it, more than once in one process.
    assert PrometheusMiddleware().registry is REGISTRY
    assert PrometheusMiddleware().registry is REGISTRY


async def test_another_namespace_names_the_metrics(
    client: TestClient, registry: CollectorRegistry
) -> None:
    kb = KnowledgeBase(
        id=KB_ID,
        name="n",
        description="",
        client=client,
        middleware=[PrometheusMiddleware(registry, namespace="trees")],
    )

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        return ANSWER

    await kb.connect()
    await kb.register()
    client.enqueue_handle_request("heights", [{"tree": OAK}])
    client.enqueue_exit()
    async with asyncio.timeout(10):
        await kb.start_handling_loop()
    labels = {"interaction": "heights", "outcome": "answered", "response": "bindings"}
    assert sample(registry, "trees_handle_requests_total", **labels) == 1
    assert sample(registry, HANDLE_REQUESTS, **labels) == 0


def test_without_prometheus_client_the_import_says_what_to_install() -> None:
    code = (
        "import sys\n"
        "sys.modules['prometheus_client'] = None\n"
        "try:\n"
        "    import km_core.prometheus\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert done.stdout.strip() == (
        "km_core.prometheus needs prometheus-client: pip install 'km-core[prometheus]'"
    )
