"""The mailbox of each knowledge base: its long poll, its queue, and the answers it posts.

``GET /sc/handle`` hands a KB the next request for one of its interactions (or REPOLL after the
heartbeat, EXIT when it stops); ``POST /sc/handle`` brings the answer to whoever awaits it. One
poll per KB at a time (a second is refused with 409), at most 50 queued and 100 outstanding
requests, as on the KE. Waiters are woken by futures, never by looking again.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from km_core import (
    BindingSet,
    HandleRequest,
    KnowledgeEngineResponseError,
    KnowledgeInteractionType,
    PollConflictError,
    PollResult,
)
from km_core.terms import is_absolute_iri

from ._base import _EngineBase
from ._checks import _unmatched_binding, _validate_answer
from ._common import HANDLE_QUEUE_SIZE, MAX_OUTSTANDING, _error, _Failed
from ._state import _Interaction, _KnowledgeBase, _Pending
from ._values import relabel_blank_nodes, write_binding


class _Mailbox(_EngineBase):
    """``GET`` and ``POST /sc/handle``, and sending requests to a KB."""

    # ------------------------------------------------------------------ the long poll

    async def poll(self, kb_id: str | None) -> tuple[PollResult, HandleRequest | None]:
        """``GET /sc/handle``: a handle request, REPOLL after the heartbeat, or EXIT.

        Raises:
            PollConflictError: another poll of the KB is open (409).
            SmartConnectorNotFoundError: the KB is unknown (404).
        """
        if kb_id is None or not is_absolute_iri(kb_id):
            raise _error(400, "Smart Connector not found, because its ID must be a valid URI.")
        kb = self._kbs.get(kb_id)
        if kb is None:
            raise _error(404, "A Knowledge Base for the given Knowledge-Base-Id cannot be found.")
        if kb.poll is not None:
            raise PollConflictError(
                "Only one connection per Knowledge-Base-Id is allowed and we already have one."
            )
        while kb.queue:
            queued = kb.queue.popleft()
            if queued.ki.id in kb.interactions:
                return PollResult.HANDLE, self._deliver(kb, queued)
            # A request for a KI deleted since cannot be delivered; its asker times out.
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[tuple[PollResult, _Pending | None]] = loop.create_future()
        heartbeat_at = loop.time() + self.heartbeat
        kb.poll = waiter
        kb.poll_abandoned = False
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self.heartbeat)
        except TimeoutError:
            pass  # the heartbeat; but a request may have arrived at the same moment (below)
        except asyncio.CancelledError:
            # A request handed to this poll as it was cancelled goes back to the head of the
            # queue (the KE loses it).
            if waiter.done() and not waiter.cancelled():
                self._give_back(kb, waiter)
            elif kb.poll_abandoned and kb.poll is waiter and not kb.stopped:
                self._hold_slot(kb, heartbeat_at)
            raise
        finally:
            if kb.poll is waiter:
                kb.poll = None
            if not waiter.done():
                waiter.cancel()
        if waiter.cancelled():
            return PollResult.REPOLL, None
        result, pending = waiter.result()
        return result, pending.request if pending is not None else None

    def abandon_poll(self, kb_id: str) -> None:
        """The client of the KB's open poll went away; cancel that poll after this.

        As on the KE, the abandoned poll keeps the KB's slot until its heartbeat would have
        answered it: until then a new poll is refused with 409. Unlike the KE, which loses a
        request it hands to the abandoned poll, the engine puts that request back at the head
        of the queue (and frees the slot) for the next poll.
        """
        kb = self._kbs.get(kb_id)
        if kb is not None and kb.poll is not None and not kb.poll.done():
            kb.poll_abandoned = True

    def _hold_slot(self, kb: _KnowledgeBase, until: float) -> None:
        """Keep the KB's poll slot taken until ``until`` (loop time), for an abandoned poll."""
        loop = asyncio.get_running_loop()
        held: asyncio.Future[tuple[PollResult, _Pending | None]] = loop.create_future()
        kb.poll = held

        def release() -> None:
            if not held.done():
                held.cancel()

        timer = loop.call_at(until, release)

        def settle(done: asyncio.Future[tuple[PollResult, _Pending | None]]) -> None:
            timer.cancel()
            if kb.poll is done:
                kb.poll = None
            if not done.cancelled():
                self._give_back(kb, done)

        held.add_done_callback(settle)

    def _give_back(
        self, kb: _KnowledgeBase, answered: asyncio.Future[tuple[PollResult, _Pending | None]]
    ) -> None:
        """Put a request handed to a poll nobody reads back at the head of the queue."""
        _, pending = answered.result()
        if pending is not None and not kb.stopped:
            kb.outstanding.pop(pending.request.handle_request_id, None)
            kb.queue.appendleft(pending)

    def _deliver(self, kb: _KnowledgeBase, pending: _Pending) -> HandleRequest:
        kb.outstanding[pending.request.handle_request_id] = pending
        if len(kb.outstanding) > MAX_OUTSTANDING:
            oldest_id, oldest = kb.outstanding.popitem(last=False)
            if not oldest.answer.done():
                oldest.answer.set_exception(
                    _Failed(
                        f"Knowledge base {kb.id} should have max {MAX_OUTSTANDING} outstanding "
                        f"handle requests. Cancelling oldest handle request {oldest_id}."
                    )
                )
        return pending.request

    def _send(self, ki: _Interaction, binding_set: BindingSet, requester: str) -> _Pending:
        """Hand a request to the KI's KB: to its open poll, or into its queue."""
        kb = ki.kb
        request = HandleRequest(
            knowledge_interaction_id=ki.id,
            handle_request_id=next(kb.ids),
            binding_set=relabel_blank_nodes(binding_set),
            requesting_knowledge_base_id=requester,
        )
        pending = _Pending(request, ki, asyncio.get_running_loop().create_future())
        if kb.poll is not None and not kb.poll.done():
            self._deliver(kb, pending)
            kb.poll.set_result((PollResult.HANDLE, pending))
            return pending
        kb.queue.append(pending)
        if len(kb.queue) > HANDLE_QUEUE_SIZE:
            dropped = kb.queue.popleft()
            if not dropped.answer.done():  # its asker may have given up on it already
                dropped.answer.set_exception(
                    _Failed("Handle request queue is full. This oldest request has been cancelled.")
                )
        return pending

    def answer(
        self,
        kb_id: str | None,
        ki_id: str | None,
        handle_request_id: int | None,
        binding_set: Any = None,
        error_message: str | None = None,
    ) -> None:
        """``POST /sc/handle``: a KB answers a request, with bindings or an error message.

        Raises:
            KnowledgeEngineResponseError: 400 for a bad header, a missing id or bindings that
                do not fit the pattern; 404 for an unknown KB or request id.
        """
        if kb_id is None or not is_absolute_iri(kb_id):
            raise _error(
                400,
                f"Smart Connector not found, because its ID must be a valid URI and not {kb_id}",
            )
        kb = self._kbs.get(kb_id)
        if kb is None:
            raise _error(404, "A Knowledge Base for the given Knowledge-Base-Id cannot be found.")
        if ki_id is None or ki_id not in kb.interactions:
            raise _error(
                400,
                "Knowledge Interaction not found, because its ID must match an existing KI: "
                f"{ki_id}",
            )
        if handle_request_id is None:
            raise _error(400, "The handleRequestId property is mandatory, but not provided.")
        pending = kb.outstanding.get(handle_request_id)
        if pending is None:
            raise _error(
                404,
                f"Handle request id {handle_request_id} not found. Are you sure it is still "
                "being processed?",
            )
        if error_message is not None:
            del kb.outstanding[handle_request_id]
            verb = "ANSWERing" if pending.ki.kind is KnowledgeInteractionType.ANSWER else "REACTing"
            if not pending.answer.done():  # a rejected answer may have failed it already
                pending.answer.set_exception(
                    _Failed(f"An error occurred while {verb}: {error_message}")
                )
            return
        ki = pending.ki
        pattern = ki.pattern if ki.kind is KnowledgeInteractionType.ANSWER else ki.result
        try:
            bindings = _validate_answer(binding_set, pattern)
        except KnowledgeEngineResponseError as exc:
            # The KE answers 400 and still hands the bad set on, where it fails the exchange;
            # the request id stays registered.
            if not pending.answer.done():
                pending.answer.set_exception(
                    _Failed(f"java.lang.IllegalArgumentException: {exc.message}")
                )
            raise
        del kb.outstanding[handle_request_id]
        if pending.answer.done():
            return
        unmatched = _unmatched_binding(bindings, pending.request.binding_set, ki)
        if unmatched is not None:
            # The smart connector's own check: the answering client sees 200, the asker FAILED.
            pending.answer.set_exception(
                _Failed(
                    "java.lang.IllegalArgumentException: KB gave outgoing binding "
                    f"{write_binding(unmatched)}, but this doesn't have a matching incoming "
                    "binding!"
                )
            )
            return
        pending.answer.set_result(bindings)

    async def _await(self, ki: _Interaction, sent: BindingSet, requester: str) -> BindingSet:
        """Send a handle request and wait (up to the KB wait timeout) for its answer.

        The request outlives a wait that gives up (it stays queued, as on the KE), but its
        answer is then cancelled: whoever would fail or answer it later finds it done, so no
        exception is ever set on a future nobody awaits.
        """
        pending = self._send(ki, sent, requester)
        timeout = self.kb_wait_timeout or None
        try:
            return await asyncio.wait_for(asyncio.shield(pending.answer), timeout)
        except TimeoutError:
            raise _Failed(
                "Error 'TimeoutException' occurred while waiting for response to message: "
                f"{uuid.uuid4()}"
            ) from None
        finally:
            if not pending.answer.done():
                pending.answer.cancel()
            elif not pending.answer.cancelled():
                pending.answer.exception()  # settled as the wait gave up: retrieved here
