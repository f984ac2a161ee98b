"""What a test reads back: what the KB did and registered, and what is still queued.

And a wait for the KB's answer to one request.
"""

from __future__ import annotations

import asyncio

from km_core import KnowledgeBaseInfo, KnowledgeInteractionInfo

from ._base import _TestClientBase
from ._records import OutgoingCall, RecordedHandleResponse


class _Inspection(_TestClientBase):
    """The records of what the KB did, and a wait for its answer to a request."""

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
