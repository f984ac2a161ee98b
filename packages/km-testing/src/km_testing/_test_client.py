"""The TestClient: an in-memory ClientProtocol for unit tests of one knowledge base."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import ClassVar, Literal

from km_core import (
    AskResult,
    BindingModel,
    BindingSet,
    ClientClosedError,
    ConfigurationError,
    HandleRequest,
    HandleResponse,
    KnowledgeBaseInfo,
    KnowledgeEngineResponseError,
    KnowledgeEngineUnavailableError,
    KnowledgeInteractionInfo,
    KnowledgeInteractionRegistration,
    KnowledgeInteractionType,
    LeaseInfo,
    PollConflictError,
    PollResult,
    PostResult,
    SmartConnectorNotFoundError,
)

__all__ = ["OutgoingCall", "RecordedHandleResponse", "TestClient"]

DEFAULT_REQUESTING_KB_ID = "http://example.org/kb/test-requester"
"""The knowledge base a queued request comes from, unless `TestClient.enqueue_handle_request`
is given a ``requesting_kb_id``."""


@dataclasses.dataclass(frozen=True, slots=True)
class RecordedHandleResponse:
    """A response the knowledge base posted to a handle request.

    Attributes:
        handle_request_id: The request it answers.
        knowledge_interaction_id: The interaction the request was for.
        binding_set: The bindings posted, or ``None`` when an error message was posted instead.
        error_message: The error message posted, if any.
    """

    handle_request_id: int
    knowledge_interaction_id: str
    binding_set: BindingSet | None
    error_message: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class OutgoingCall:
    """An ask or a post the knowledge base made.

    Attributes:
        kind: ``"ask"`` or ``"post"``.
        knowledge_interaction_name: The name of the ASK or POST interaction.
        knowledge_interaction_id: Its id.
        binding_set: The bindings sent.
        recipients: The knowledge bases it was limited to, or ``None`` for everyone.
    """

    kind: Literal["ask", "post"]
    knowledge_interaction_name: str | None
    knowledge_interaction_id: str
    binding_set: BindingSet
    recipients: list[str] | None


@dataclasses.dataclass(frozen=True, slots=True)
class _Handle:
    ki: str
    binding_set: BindingSet
    requesting_kb_id: str
    handle_request_id: int


_QueueItem = _Handle | PollResult


class TestClient:
    """A `ClientProtocol` in memory, for unit tests of one knowledge base.

    Feed the handling loop with `enqueue_handle_request` (and end it with `enqueue_exit`),
    script the answers to the KB's own asks and posts with `mock_result_binding_set`, and
    inspect what the KB did in `handle_responses` and `outgoing_calls`. The long poll blocks on
    an `asyncio.Queue` until something is enqueued, and, as on the real Knowledge Engine, only
    one poll may be open at a time: a second one raises `PollConflictError`.

    The helpers are synchronous and may be called before the knowledge base registers. Use
    one TestClient per test: its queue belongs to the event loop that first waits on it.

    Attributes:
        handle_responses: Every response the KB posted, in order.
        outgoing_calls: Every ask and post the KB made, in order.
        lease_renewals: How often the KB renewed its lease.
        domain_knowledge: The domain knowledge last uploaded, if any.
        available: Whether the simulated KE is up: with ``False``, `get_version` raises
            `KnowledgeEngineUnavailableError` and `ke_is_available` answers ``False``, so that
            `KnowledgeBase.connect` fails (or waits).
    """

    __test__: ClassVar[bool] = False  # not a test class, whatever pytest thinks of its name

    _OPERATIONS: ClassVar[frozenset[str]] = frozenset(
        {
            "get_version",
            "list_kbs",
            "get_kb",
            "register_kb",
            "unregister_kb",
            "renew_lease",
            "list_kis",
            "register_ki",
            "unregister_ki",
            "ask",
            "post",
            "poll_ki_call",
            "post_handle_response",
            "upload_domain_knowledge",
        }
    )

    def __init__(self, *, version: str = "1.5.0") -> None:
        self.version = version
        self.available = True
        self.handle_responses: list[RecordedHandleResponse] = []
        self.outgoing_calls: list[OutgoingCall] = []
        self.lease_renewals = 0
        self.domain_knowledge: str | None = None
        self._queue: asyncio.Queue[_QueueItem] = asyncio.Queue()
        self._kb: KnowledgeBaseInfo | None = None
        self._kis: dict[str, KnowledgeInteractionInfo] = {}
        self._polling = False
        self._closed = False
        self._next_handle_request_id = 1
        self._pending: dict[int, str] = {}
        self._mocks: dict[str, BindingSet] = {}
        self._faults: dict[str, list[BaseException]] = {}
        self._response_waiters: dict[int, list[asyncio.Future[RecordedHandleResponse]]] = {}

    # ------------------------------------------------------------------ test helpers

    def enqueue_handle_request(
        self,
        ki_name: str,
        binding_set: Sequence[Mapping[str, str] | BindingModel] | None = None,
        *,
        requesting_kb_id: str = DEFAULT_REQUESTING_KB_ID,
    ) -> int:
        """Queue a request for one of the KB's ANSWER or REACT interactions.

        Args:
            ki_name: The interaction's name (or, to test the unknown-interaction path, any
                name or full interaction id the KB does not know).
            binding_set: The incoming bindings (dicts of RDF terms, or binding models).
            requesting_kb_id: The id of the knowledge base that asks or posts.

        Returns:
            The handle request id, 1, 2, 3, ... as the KE numbers them.
        """
        handle_request_id = self._next_handle_request_id
        self._next_handle_request_id += 1
        self._queue.put_nowait(
            _Handle(ki_name, _bindings(binding_set), requesting_kb_id, handle_request_id)
        )
        return handle_request_id

    def enqueue_exit(self) -> None:
        """Queue an EXIT, as the KE sends when the KB is stopping.

        The queue is first in, first out: the poll that gets the EXIT comes after every
        request queued before it.
        """
        self._queue.put_nowait(PollResult.EXIT)

    def enqueue_repoll(self) -> None:
        """Queue a REPOLL, as the KE's 29 s heartbeat answers (first in, first out)."""
        self._queue.put_nowait(PollResult.REPOLL)

    def mock_result_binding_set(
        self, ki_name: str, binding_set: Sequence[Mapping[str, str] | BindingModel]
    ) -> None:
        """Set what the next and later asks (or posts) through ``ki_name`` get back."""
        self._mocks[ki_name] = _bindings(binding_set)

    def fail_next(
        self, operation: str, error: BaseException | None = None, *, times: int = 1
    ) -> None:
        """Make the next ``times`` calls of a `ClientProtocol` method raise ``error``.

        Args:
            operation: The method's name, for example ``"post_handle_response"`` or
                ``"poll_ki_call"``.
            error: What to raise; by default a `KnowledgeEngineUnavailableError`.
            times: How many calls fail.
        """
        if operation not in self._OPERATIONS:
            raise ConfigurationError(
                f"cannot inject a fault into {operation!r}; choose one of "
                f"{', '.join(sorted(self._OPERATIONS))}"
            )
        fault = error or KnowledgeEngineUnavailableError(f"fault injected into {operation}")
        self._faults.setdefault(operation, []).extend([fault] * times)

    @property
    def last_handle_response(self) -> RecordedHandleResponse | None:
        """The most recent response the KB posted, or ``None``."""
        return self.handle_responses[-1] if self.handle_responses else None

    @property
    def asks(self) -> list[OutgoingCall]:
        """The outgoing asks, in order."""
        return [c for c in self.outgoing_calls if c.kind == "ask"]

    @property
    def posts(self) -> list[OutgoingCall]:
        """The outgoing posts, in order."""
        return [c for c in self.outgoing_calls if c.kind == "post"]

    @property
    def registered_kb(self) -> KnowledgeBaseInfo | None:
        """The knowledge base registered through this client, if any."""
        return self._kb

    @property
    def registered_kis(self) -> dict[str, KnowledgeInteractionInfo]:
        """The registered interactions, by id."""
        return dict(self._kis)

    @property
    def pending_handle_requests(self) -> int:
        """Entries queued but not yet polled (requests, EXITs and REPOLLs)."""
        return self._queue.qsize()

    async def wait_for_handle_response(self, handle_request_id: int) -> RecordedHandleResponse:
        """Wait until the KB answers ``handle_request_id`` and return the answer."""
        for response in self.handle_responses:
            if response.handle_request_id == handle_request_id:
                return response
        future: asyncio.Future[RecordedHandleResponse] = asyncio.get_running_loop().create_future()
        self._response_waiters.setdefault(handle_request_id, []).append(future)
        return await future

    # ------------------------------------------------------------------ ClientProtocol

    def _enter(self, operation: str) -> None:
        if self._closed:
            raise ClientClosedError(f"TestClient.{operation}() was called after close()")
        faults = self._faults.get(operation)
        if faults:
            raise faults.pop(0)

    def _require_kb(self, kb_id: str, endpoint: str) -> KnowledgeBaseInfo:
        if self._kb is None or self._kb.knowledge_base_id != kb_id:
            raise SmartConnectorNotFoundError(
                "A Knowledge Base for the given Knowledge-Base-Id cannot be found.",
                endpoint=endpoint,
                kb_id=kb_id,
            )
        return self._kb

    def _require_ki(
        self, kb_id: str, ki_id: str, kind: KnowledgeInteractionType, endpoint: str
    ) -> KnowledgeInteractionInfo:
        self._require_kb(kb_id, endpoint)
        ki = self._kis.get(ki_id)
        if ki is None:
            raise SmartConnectorNotFoundError(
                "Knowledge Interaction not found, because its ID is unknown.",
                endpoint=endpoint,
                kb_id=kb_id,
                ki_id=ki_id,
            )
        if ki.knowledge_interaction_type is not kind:
            raise KnowledgeEngineResponseError(
                f"Given Knowledge Interaction ID should have type {kind.value} and not "
                f"{ki.knowledge_interaction_type.value}.",
                status_code=400,
                endpoint=endpoint,
                kb_id=kb_id,
                ki_id=ki_id,
            )
        return ki

    async def get_version(self) -> str:
        """The version this client pretends the KE has.

        Raises:
            KnowledgeEngineUnavailableError: `available` is ``False``.
        """
        self._enter("get_version")
        if not self.available:
            raise KnowledgeEngineUnavailableError(
                "the Knowledge Engine is not available (TestClient.available is False)",
                endpoint="GET /version",
            )
        return self.version

    async def ke_is_available(self) -> bool:
        """The value of `available` (``False`` once closed)."""
        return self.available and not self._closed

    async def list_kbs(self) -> list[KnowledgeBaseInfo]:
        """The registered knowledge base, if any."""
        self._enter("list_kbs")
        return [self._kb] if self._kb else []

    async def get_kb(self, kb_id: str) -> KnowledgeBaseInfo | None:
        """The registered knowledge base if it has this id."""
        self._enter("get_kb")
        if self._kb is not None and self._kb.knowledge_base_id == kb_id:
            return self._kb
        return None

    async def register_kb(self, kb: KnowledgeBaseInfo, *, reregister: bool = False) -> None:
        """Register the knowledge base this client serves."""
        self._enter("register_kb")
        if self._kb is not None:
            if self._kb.knowledge_base_id != kb.knowledge_base_id:
                raise ConfigurationError(
                    f"this TestClient serves knowledge base {self._kb.knowledge_base_id}; "
                    f"use another TestClient for {kb.knowledge_base_id}"
                )
            if not reregister:
                raise KnowledgeEngineResponseError(
                    "That knowledge base ID is already in use.",
                    status_code=400,
                    endpoint="POST /sc",
                    kb_id=kb.knowledge_base_id,
                )
            self._forget_kb()
        self._kb = kb
        self._next_handle_request_id = max(self._next_handle_request_id, 1)

    def _forget_kb(self) -> None:
        self._kb = None
        self._kis.clear()
        self._pending.clear()

    async def unregister_kb(self, kb_id: str) -> None:
        """Delete the knowledge base; an open poll answers EXIT, later polls fail with 404."""
        self._enter("unregister_kb")
        self._require_kb(kb_id, "DELETE /sc")
        self._forget_kb()
        if self._polling:
            self._queue.put_nowait(PollResult.EXIT)

    async def renew_lease(self, kb_id: str) -> LeaseInfo:
        """Count a lease renewal."""
        self._enter("renew_lease")
        kb = self._require_kb(kb_id, "PUT /sc/lease/renew")
        if kb.lease_renewal_time is None:
            raise SmartConnectorNotFoundError(
                "Knowledge base found, but its lease could not be found. Knowledge bases "
                "without a lease do not have to be renewed.",
                endpoint="PUT /sc/lease/renew",
                kb_id=kb_id,
            )
        self.lease_renewals += 1
        expires = datetime.now(UTC) + timedelta(seconds=kb.lease_renewal_time)
        return LeaseInfo(knowledge_base_id=kb_id, expires=expires)

    async def list_kis(self, kb_id: str) -> list[KnowledgeInteractionInfo]:
        """The registered interactions."""
        self._enter("list_kis")
        self._require_kb(kb_id, "GET /sc/ki")
        return list(self._kis.values())

    async def register_ki(self, kb_id: str, ki: KnowledgeInteractionRegistration) -> str:
        """Register an interaction; its id is ``<kb id>/interaction/<name>``, as on the KE."""
        self._enter("register_ki")
        self._require_kb(kb_id, "POST /sc/ki")
        name = ki.knowledge_interaction_name or str(uuid.uuid4())
        ki_id = f"{kb_id}/interaction/{name}"
        if ki_id in self._kis:
            raise KnowledgeEngineResponseError(
                f"The Knowledge Interaction with URI '{ki_id}' should not be already registered.",
                status_code=400,
                endpoint="POST /sc/ki",
                kb_id=kb_id,
                ki_id=ki_id,
            )
        self._kis[ki_id] = KnowledgeInteractionInfo(
            **ki.model_dump(), knowledge_interaction_id=ki_id
        )
        return ki_id

    async def unregister_ki(self, kb_id: str, ki_id: str) -> None:
        """Delete an interaction."""
        self._enter("unregister_ki")
        self._require_kb(kb_id, "DELETE /sc/ki")
        if self._kis.pop(ki_id, None) is None:
            raise SmartConnectorNotFoundError(
                "Knowledge base found, but the given knowledge interaction knowledge base ID "
                "is unknown.",
                endpoint="DELETE /sc/ki",
                kb_id=kb_id,
                ki_id=ki_id,
            )

    def _record(
        self,
        kind: Literal["ask", "post"],
        ki: KnowledgeInteractionInfo,
        binding_set: BindingSet,
        recipients: Sequence[str] | None,
    ) -> BindingSet:
        self.outgoing_calls.append(
            OutgoingCall(
                kind=kind,
                knowledge_interaction_name=ki.knowledge_interaction_name,
                knowledge_interaction_id=ki.knowledge_interaction_id,
                binding_set=[dict(b) for b in binding_set],
                recipients=list(recipients) if recipients is not None else None,
            )
        )
        mocked = self._mocks.get(ki.knowledge_interaction_name or "", [])
        return [dict(b) for b in mocked]

    async def ask(
        self,
        kb_id: str,
        ki_id: str,
        binding_set: BindingSet,
        *,
        recipients: Sequence[str] | None = None,
    ) -> AskResult:
        """Record the ask and answer with the mocked binding set (empty by default)."""
        self._enter("ask")
        ki = self._require_ki(kb_id, ki_id, KnowledgeInteractionType.ASK, "POST /sc/ask")
        bindings = self._record("ask", ki, binding_set, recipients)
        gaps: list[list[str]] | None = [] if ki.knowledge_gaps_enabled else None
        return AskResult(binding_set=bindings, knowledge_gaps=gaps)

    async def post(
        self,
        kb_id: str,
        ki_id: str,
        binding_set: BindingSet,
        *,
        recipients: Sequence[str] | None = None,
    ) -> PostResult:
        """Record the post and answer with the mocked binding set (empty by default)."""
        self._enter("post")
        ki = self._require_ki(kb_id, ki_id, KnowledgeInteractionType.POST, "POST /sc/post")
        bindings = self._record("post", ki, binding_set, recipients)
        return PostResult(result_binding_set=bindings)

    async def poll_ki_call(self, kb_id: str) -> tuple[PollResult, HandleRequest | None]:
        """Wait, without spinning, until something is enqueued, and return it."""
        self._enter("poll_ki_call")
        self._require_kb(kb_id, "GET /sc/handle")
        if self._polling:
            raise PollConflictError(
                "Only one connection per Knowledge-Base-Id is allowed and we already have one.",
                endpoint="GET /sc/handle",
                kb_id=kb_id,
            )
        self._polling = True
        try:
            item = await self._queue.get()
        finally:
            self._polling = False
        if isinstance(item, PollResult):
            return item, None
        if self._kb is None:  # deleted while this poll waited
            return PollResult.EXIT, None
        ki_id = self._ki_id(kb_id, item.ki)
        self._pending[item.handle_request_id] = ki_id
        return PollResult.HANDLE, HandleRequest(
            knowledge_interaction_id=ki_id,
            handle_request_id=item.handle_request_id,
            binding_set=item.binding_set,
            requesting_knowledge_base_id=item.requesting_kb_id,
        )

    def _ki_id(self, kb_id: str, ki: str) -> str:
        for ki_id, info in self._kis.items():
            if info.knowledge_interaction_name == ki or ki_id == ki:
                return ki_id
        if ":" in ki:  # a full id, known or not
            return ki
        return f"{kb_id}/interaction/{ki}"

    async def post_handle_response(self, kb_id: str, ki_id: str, response: HandleResponse) -> None:
        """Record the response; a request may be answered once."""
        self._enter("post_handle_response")
        self._require_kb(kb_id, "POST /sc/handle")
        if ki_id not in self._kis:
            raise KnowledgeEngineResponseError(
                f"Knowledge Interaction not found, because its ID must match an existing KI: "
                f"{ki_id}",
                status_code=400,
                endpoint="POST /sc/handle",
                kb_id=kb_id,
                ki_id=ki_id,
            )
        if response.handle_request_id not in self._pending:
            raise KnowledgeEngineResponseError(
                f"Handle request id {response.handle_request_id} not found. Are you sure it is "
                "still being processed?",
                status_code=404,
                endpoint="POST /sc/handle",
                kb_id=kb_id,
                ki_id=ki_id,
            )
        # As on the KE, the request is found by its id alone; the header need only name one
        # of the KB's interactions. The record names the interaction the request was for.
        request_ki_id = self._pending.pop(response.handle_request_id)
        record = RecordedHandleResponse(
            handle_request_id=response.handle_request_id,
            knowledge_interaction_id=request_ki_id,
            binding_set=None if response.error_message is not None else response.binding_set,
            error_message=response.error_message,
        )
        self.handle_responses.append(record)
        for future in self._response_waiters.pop(response.handle_request_id, []):
            if not future.done():
                future.set_result(record)

    async def upload_domain_knowledge(self, kb_id: str, knowledge: str) -> None:
        """Store the domain knowledge."""
        self._enter("upload_domain_knowledge")
        self._require_kb(kb_id, "POST /sc/knowledge")
        self.domain_knowledge = knowledge

    async def close(self) -> None:
        """Mark the client closed: later calls raise `ClientClosedError`; the records stay."""
        self._closed = True


def _bindings(binding_set: Sequence[Mapping[str, str] | BindingModel] | None) -> BindingSet:
    result: BindingSet = []
    for binding in binding_set or []:
        if isinstance(binding, BindingModel):
            result.append(binding.to_binding())
        else:
            result.append(dict(binding))
    return result
