"""The TestClient's state, and the checks every `ClientProtocol` call makes.

The client must be open, a fault injected into the call is raised, and the KB and the
interaction must be known. Here too are the calls about the simulated Knowledge Engine
itself: its version, whether it is available, and closing.
"""

from __future__ import annotations

import asyncio
import dataclasses

from km_core import (
    BindingSet,
    ClientClosedError,
    HandleRequest,
    KnowledgeBaseInfo,
    KnowledgeEngineResponseError,
    KnowledgeEngineUnavailableError,
    KnowledgeInteractionInfo,
    KnowledgeInteractionType,
    PollResult,
    SmartConnectorNotFoundError,
)

from ._records import OutgoingCall, RecordedHandleResponse


@dataclasses.dataclass(slots=True)
class _Handle:
    ki: str
    binding_set: BindingSet
    requesting_kb_id: str
    handle_request_id: int
    request: HandleRequest | None = None
    """Made when queued, if the interaction was registered then; else made when polled."""

    def to_request(self, ki_id: str) -> HandleRequest:
        """The handle request the KB polls, for the interaction ``ki_id``."""
        return HandleRequest(
            knowledge_interaction_id=ki_id,
            handle_request_id=self.handle_request_id,
            binding_set=self.binding_set,
            requesting_knowledge_base_id=self.requesting_kb_id,
        )


_QueueItem = _Handle | PollResult


class _TestClientBase:
    """What a TestClient keeps, and the checks its `ClientProtocol` calls share."""

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

    def _registered_ki_id(self, ki: str) -> str | None:
        """The id of the registered interaction named (or identified by) ``ki``, if any."""
        for ki_id, info in self._kis.items():
            if info.knowledge_interaction_name == ki or ki_id == ki:
                return ki_id
        return None

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

    async def close(self) -> None:
        """Mark the client closed: later calls raise `ClientClosedError`; the records stay."""
        self._closed = True
