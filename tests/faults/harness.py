"""Shared pieces of the fault-injection tests: probes, recording clients, a switchable KE."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from collections.abc import AsyncIterator, Hashable, Iterable, Iterator, Sequence

from km_core import (
    AskResult,
    Backoff,
    BindingSet,
    HandleRequest,
    HandleResponse,
    KnowledgeBaseInfo,
    KnowledgeEngineUnavailableError,
    KnowledgeInteractionInfo,
    KnowledgeInteractionRegistration,
    KnowledgeInteractionType,
    LeaseInfo,
    PollResult,
    PostResult,
)
from km_testing import LocalEngineClient, LocalKnowledgeEngine, TestClient

EX = {"ex": "http://example.org/"}
PATTERN = "?tree ex:height ?height ."
FULL_PATTERN = "?tree <http://example.org/height> ?height ."
FAST = Backoff(initial=0.001, maximum=0.01)
FAIL = "<http://example.org/fail>"
SLOW = "<http://example.org/slow>"


def tree(n: int) -> str:
    return f"<http://example.org/tree/{n}>"


def result_for(binding_set: BindingSet) -> BindingSet:
    """What the healthy handler answers: one height per asked tree."""
    return [{"tree": b.get("tree", tree(0)), "height": '"21"'} for b in binding_set] or [
        {"tree": tree(0), "height": '"21"'}
    ]


class Probe:
    """Counts handlers running at once (async or in threads) and wakes waiters on arrivals."""

    def __init__(self) -> None:
        self.running = 0
        self.max_running = 0
        self.started = 0
        self._lock = threading.Lock()
        self._condition = asyncio.Condition()
        self._loop = asyncio.get_running_loop()

    def _enter(self) -> None:
        with self._lock:
            self.running += 1
            self.started += 1
            self.max_running = max(self.max_running, self.running)

    def _leave(self) -> None:
        with self._lock:
            self.running -= 1

    async def _notify(self) -> None:
        async with self._condition:
            self._condition.notify_all()

    @contextlib.asynccontextmanager
    async def handler(self) -> AsyncIterator[None]:
        """Wrap an async handler's body."""
        self._enter()
        await self._notify()
        try:
            yield
        finally:
            self._leave()

    @contextlib.contextmanager
    def sync_handler(self) -> Iterator[None]:
        """Wrap a sync handler's body (in a worker thread)."""
        self._enter()
        asyncio.run_coroutine_threadsafe(self._notify(), self._loop)
        try:
            yield
        finally:
            self._leave()

    async def wait_for_started(self, count: int, within: float = 10) -> None:
        async with asyncio.timeout(within), self._condition:
            await self._condition.wait_for(lambda: self.started >= count)


class RecordingTestClient(TestClient):
    """A TestClient that records which handle requests the loop accepted from its polls."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted: list[int] = []
        self.failed_polls = 0
        self.poll_cancelled = asyncio.Event()
        self._changed = asyncio.Condition()

    async def poll_ki_call(self, kb_id: str) -> tuple[PollResult, HandleRequest | None]:
        try:
            result, request = await super().poll_ki_call(kb_id)
        except asyncio.CancelledError:
            self.poll_cancelled.set()
            raise
        except Exception:
            self.failed_polls += 1
            await self._notify()
            raise
        if request is not None:
            self.accepted.append(request.handle_request_id)
        return result, request

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for_failed_polls(self, count: int, within: float = 10) -> None:
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: self.failed_polls >= count)


def assert_answered_once(accepted: Sequence[Hashable], answered: Iterable[Hashable]) -> None:
    """Every accepted handle request has exactly one answer, and nothing else was answered."""
    assert len(accepted) == len(set(accepted)), "a handle request was delivered twice"
    counts = Counter(answered)
    missing = [i for i in accepted if counts[i] == 0]
    twice = {i: n for i, n in counts.items() if n > 1}
    unasked = set(counts) - set(accepted)
    assert not missing, f"accepted but never answered: {missing[:20]}"
    assert not twice, f"answered more than once: {twice}"
    assert not unasked, f"answered but never accepted: {list(unasked)[:20]}"


# ---------------------------------------------------------------- a KE that goes down


class KnowledgeEngineSwitch:
    """A local KE that can be made unreachable (every call fails) and restarted (state lost).

    Clients made by `client` share it. Going down breaks open long polls as a dropped TCP
    connection would: they raise `KnowledgeEngineUnavailableError`.
    """

    def __init__(self, engine: LocalKnowledgeEngine) -> None:
        self.engine = engine
        self.up = True
        self._down = asyncio.Event()
        self.failures: Counter[str] = Counter()
        self._changed = asyncio.Condition()

    def client(self) -> SwitchedClient:
        return SwitchedClient(self)

    def go_down(self) -> None:
        self.up = False
        self._down.set()

    def come_up(self, engine: LocalKnowledgeEngine | None = None) -> None:
        """Come back; with a new ``engine``, as a restarted KE that forgot everything."""
        if engine is not None:
            self.engine = engine
        self._down = asyncio.Event()
        self.up = True

    async def failed(self, operation: str) -> None:
        self.failures[operation] += 1
        async with self._changed:
            self._changed.notify_all()

    async def wait_for_failures(self, operation: str, count: int, within: float = 10) -> None:
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: self.failures[operation] >= count)

    def down_event(self) -> asyncio.Event:
        return self._down


class SwitchedClient(LocalEngineClient):
    """A LocalEngineClient whose engine is the switch's, and that fails while it is down."""

    def __init__(self, switch: KnowledgeEngineSwitch) -> None:
        super().__init__(switch.engine)
        self.switch = switch
        # Keyed by registration: a KE numbers the handle requests of each registration from 1.
        self.registrations = 0
        self.accepted: list[tuple[int, int]] = []
        self.answered: list[tuple[int, int]] = []

    async def _guard(self, operation: str) -> None:
        self.engine = self.switch.engine
        if not self.switch.up:
            await self.switch.failed(operation)
            raise KnowledgeEngineUnavailableError(
                f"connection refused ({operation})", endpoint=operation
            )

    async def ke_is_available(self) -> bool:
        return self.switch.up and await super().ke_is_available()

    async def get_version(self) -> str:
        await self._guard("get_version")
        return await super().get_version()

    async def register_kb(self, kb: KnowledgeBaseInfo, *, reregister: bool = False) -> None:
        await self._guard("register_kb")
        await super().register_kb(kb, reregister=reregister)
        self.registrations += 1

    async def unregister_kb(self, kb_id: str) -> None:
        await self._guard("unregister_kb")
        await super().unregister_kb(kb_id)

    async def renew_lease(self, kb_id: str) -> LeaseInfo:
        await self._guard("renew_lease")
        return await super().renew_lease(kb_id)

    async def list_kis(self, kb_id: str) -> list[KnowledgeInteractionInfo]:
        await self._guard("list_kis")
        return await super().list_kis(kb_id)

    async def register_ki(self, kb_id: str, ki: KnowledgeInteractionRegistration) -> str:
        await self._guard("register_ki")
        return await super().register_ki(kb_id, ki)

    async def ask(
        self,
        kb_id: str,
        ki_id: str,
        binding_set: BindingSet,
        *,
        recipients: Sequence[str] | None = None,
    ) -> AskResult:
        await self._guard("ask")
        return await super().ask(kb_id, ki_id, binding_set, recipients=recipients)

    async def post(
        self,
        kb_id: str,
        ki_id: str,
        binding_set: BindingSet,
        *,
        recipients: Sequence[str] | None = None,
    ) -> PostResult:
        await self._guard("post")
        return await super().post(kb_id, ki_id, binding_set, recipients=recipients)

    async def poll_ki_call(self, kb_id: str) -> tuple[PollResult, HandleRequest | None]:
        await self._guard("poll_ki_call")
        poll = asyncio.create_task(super().poll_ki_call(kb_id))
        down = asyncio.create_task(self.switch.down_event().wait())
        try:
            await asyncio.wait({poll, down}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            down.cancel()
            if not poll.done():
                poll.cancel()
            await asyncio.wait({poll, down})
        if poll.cancelled():  # the connection broke under the open poll
            await self.switch.failed("poll_ki_call")
            raise KnowledgeEngineUnavailableError("connection reset", endpoint="GET /sc/handle")
        result, request = poll.result()
        if request is not None:
            self.accepted.append((self.registrations, request.handle_request_id))
        return result, request

    async def post_handle_response(self, kb_id: str, ki_id: str, response: HandleResponse) -> None:
        await self._guard("post_handle_response")
        await super().post_handle_response(kb_id, ki_id, response)
        self.answered.append((self.registrations, response.handle_request_id))


class Asker:
    """The asking side: a KB registered straight on the engine with one ASK interaction."""

    ID = "http://example.org/kb/asker"

    def __init__(self, client: LocalEngineClient) -> None:
        self.client = client
        self.ki_id = ""

    async def register(self) -> None:
        await self.client.register_kb(
            KnowledgeBaseInfo(
                knowledge_base_id=self.ID,
                knowledge_base_name="asker",
                knowledge_base_description="asks for heights",
            ),
            reregister=True,
        )
        self.ki_id = await self.client.register_ki(
            self.ID,
            KnowledgeInteractionRegistration(
                knowledge_interaction_type=KnowledgeInteractionType.ASK,
                knowledge_interaction_name="heights",
                graph_pattern=FULL_PATTERN,
            ),
        )

    async def ask(self, binding_set: BindingSet) -> AskResult:
        return await self.client.ask(self.ID, self.ki_id, binding_set)
