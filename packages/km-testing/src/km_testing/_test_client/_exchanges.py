"""The `ClientProtocol` exchange calls: asks, posts, the long poll and handle responses.

Asks and posts are recorded and answered with the mocked bindings; the long poll waits on the
queue that a test fills.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from km_core import (
    AskResult,
    BindingSet,
    HandleRequest,
    HandleResponse,
    KnowledgeEngineResponseError,
    KnowledgeInteractionInfo,
    KnowledgeInteractionType,
    PollConflictError,
    PollResult,
    PostResult,
)

from ._base import _TestClientBase
from ._records import OutgoingCall, RecordedHandleResponse


class _Exchanges(_TestClientBase):
    """The exchange calls of `ClientProtocol`: asks, posts, the long poll, handle responses."""

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
        if self._queue.empty():
            self._polling = True
            try:
                item = await self._queue.get()
            finally:
                self._polling = False
        else:  # queued already: handed over without suspending, as a KE with requests waiting
            item = self._queue.get_nowait()
        if isinstance(item, PollResult):
            return item, None
        if self._kb is None:  # deleted while this poll waited
            return PollResult.EXIT, None
        request = item.request
        if request is None or request.knowledge_interaction_id not in self._kis:
            # Queued before its interaction was registered, or unregistered since.
            request = item.to_request(self._ki_id(kb_id, item.ki))
        self._pending[item.handle_request_id] = request.knowledge_interaction_id
        return PollResult.HANDLE, request

    def _ki_id(self, kb_id: str, ki: str) -> str:
        ki_id = self._registered_ki_id(ki)
        if ki_id is not None:
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
