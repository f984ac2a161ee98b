"""LocalKnowledgeEngine: the Knowledge Engine's network semantics in one process, transport-free.

Every method behaves as the matching REST endpoint of the KE 1.5 does, as far as a knowledge base
can observe: the same ids, the same status codes and messages (carried by km-core's errors, whose
``status_code`` and ``message`` the HTTP server puts on the wire), the same long-poll rules, and
the same answers to asks and posts. Waiters are woken by futures and events; timers (the
heartbeat, the wait timeout, leases) are deadlines on those waits or scheduled callbacks, never a
loop that sleeps and looks again.

All methods run on one event loop: the one of the process's KBs, or the HTTP server's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import itertools
import logging
import math
import re
import uuid
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from km_core import (
    AskExchangeInfo,
    AskResult,
    BindingSet,
    CommunicativeAct,
    ExchangeStatus,
    HandleRequest,
    KnowledgeBaseInfo,
    KnowledgeEngineResponseError,
    KnowledgeInteractionInfo,
    KnowledgeInteractionRegistration,
    KnowledgeInteractionType,
    LeaseInfo,
    PollConflictError,
    PollResult,
    PostExchangeInfo,
    PostResult,
    SmartConnectorNotFoundError,
)
from km_core._graph_pattern import GraphPattern, parse_graph_pattern
from km_core._rdf import is_absolute_iri

from ._matching import Match, Triple, match_patterns, same_value, translate
from ._rules import Rule, RuleSyntaxError, parse_rules
from ._terms import check_binding_set, is_blank_node, relabel_blank_nodes, write_binding

__all__ = [
    "DEFAULT_HEARTBEAT",
    "DEFAULT_KB_WAIT_TIMEOUT",
    "DEFAULT_LEASE_CHECK_PERIOD",
    "LocalKnowledgeEngine",
]

logger = logging.getLogger("km_testing.engine")

DEFAULT_HEARTBEAT = 29.0
"""Seconds an idle long poll is held before it is answered with 202, as on the KE."""
DEFAULT_LEASE_CHECK_PERIOD = 10.0
"""Seconds between the KE's checks for expired leases."""
DEFAULT_KB_WAIT_TIMEOUT = 10.0
"""Seconds an ask or post waits for each contacted KI, as the KE's ``KE_KB_WAIT_TIMEOUT``."""
HANDLE_QUEUE_SIZE = 50
MAX_OUTSTANDING = 100
KE_NAMESPACE = "https://w3id.org/knowledge-engine/"
INFORM = KE_NAMESPACE + "InformPurpose"
# The KE ontology's purpose hierarchy: each purpose's parents.
_PURPOSE_PARENTS = {
    KE_NAMESPACE + name: {INFORM}
    for name in (
        "NewKnowledgePurpose",
        "ChangedKnowledgePurpose",
        "RemovedKnowledgePurpose",
        "RetrieveKnowledgePurpose",
    )
}


# What java.net.URI and Jena's IRI check refuse and km-core's is_absolute_iri lets through:
# control characters (C0, DEL, C1) and lone surrogates.
_NOT_IN_IRI = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _forbidden_character(text: str) -> str | None:
    """The first control character (or lone surrogate) in ``text``, which no IRI may hold."""
    found = _NOT_IN_IRI.search(text)
    return found.group() if found is not None else None


def _iri_problem(text: str) -> str | None:
    """Why the KE refuses ``text`` as an id (an absolute IRI); ``None`` when it accepts it."""
    character = _forbidden_character(text)
    if character is not None:
        return f"{text!r} holds the character U+{ord(character):04X}, which no IRI may hold."
    if not is_absolute_iri(text):
        return f"{text!r} is not absolute."
    return None


def _is_iri(text: str) -> bool:
    """Whether the KE accepts ``text`` as an id: an absolute IRI."""
    return _iri_problem(text) is None


def _error(status: int, message: str) -> KnowledgeEngineResponseError:
    if status == 404:
        return SmartConnectorNotFoundError(message)
    return KnowledgeEngineResponseError(message, status_code=status)


@dataclasses.dataclass(eq=False)
class _Interaction:
    """A registered knowledge interaction with its parsed patterns."""

    info: KnowledgeInteractionInfo
    kb: _KnowledgeBase
    pattern: GraphPattern | None  # ASK / ANSWER
    argument: GraphPattern | None  # POST / REACT
    result: GraphPattern | None  # POST / REACT (optional)

    @property
    def id(self) -> str:
        return self.info.knowledge_interaction_id

    @property
    def kind(self) -> KnowledgeInteractionType:
        return self.info.knowledge_interaction_type

    @property
    def act(self) -> CommunicativeAct:
        return self.info.communicative_act or CommunicativeAct()


@dataclasses.dataclass(eq=False)
class _Pending:
    """A handle request the KE sent (or queued) and whose answer an asker awaits."""

    request: HandleRequest
    ki: _Interaction
    answer: asyncio.Future[BindingSet]


@dataclasses.dataclass(eq=False)
class _KnowledgeBase:
    """One registered knowledge base (smart connector) and its long-poll state."""

    info: KnowledgeBaseInfo
    reasoner_level: int
    interactions: dict[str, _Interaction] = dataclasses.field(default_factory=dict)
    queue: deque[_Pending] = dataclasses.field(default_factory=deque)
    outstanding: OrderedDict[int, _Pending] = dataclasses.field(default_factory=OrderedDict)
    poll: asyncio.Future[tuple[PollResult, _Pending | None]] | None = None
    ids: itertools.count[int] = dataclasses.field(default_factory=lambda: itertools.count(1))
    lease_timer: asyncio.TimerHandle | None = None
    lease_expires: dt.datetime | None = None
    domain_knowledge: str = ""
    rules: list[Rule] = dataclasses.field(default_factory=list)  # the domain knowledge, read
    poll_abandoned: bool = False  # the client of the open poll went away (see abandon_poll)
    stopped: bool = False

    @property
    def id(self) -> str:
        return self.info.knowledge_base_id


class LocalKnowledgeEngine:
    """The Knowledge Engine's observable behaviour, in memory.

    Args:
        heartbeat: Seconds an idle long poll is held before it answers REPOLL (the KE's 202).
        kb_wait_timeout: Seconds an ask or post waits for each contacted interaction before
            that exchange is FAILED; ``0`` waits forever.
        reasoner_level: The level of KBs that register without one (the KE's default is 2).
        version: What ``GET /version`` reports.
        lease_check_period: Seconds between the engine's checks for expired leases, as the
            KE's (10 s): a lease ends at the first check after it runs out. ``0`` ends it the
            moment it runs out.
    """

    def __init__(
        self,
        *,
        heartbeat: float = DEFAULT_HEARTBEAT,
        kb_wait_timeout: float = DEFAULT_KB_WAIT_TIMEOUT,
        reasoner_level: int = 2,
        version: str = "1.5.0",
        lease_check_period: float = DEFAULT_LEASE_CHECK_PERIOD,
    ) -> None:
        if heartbeat <= 0:
            raise ValueError(f"heartbeat must be positive, got {heartbeat!r}")
        if kb_wait_timeout < 0:
            raise ValueError(f"kb_wait_timeout must be 0 or more, got {kb_wait_timeout!r}")
        self.heartbeat = heartbeat
        self.kb_wait_timeout = kb_wait_timeout
        self.reasoner_level = reasoner_level
        self.version = version
        if lease_check_period < 0:
            raise ValueError(f"lease_check_period must be 0 or more, got {lease_check_period!r}")
        self.lease_check_period = lease_check_period
        self._lease_checks_from: float | None = None  # loop time of the first check
        self._kbs: dict[str, _KnowledgeBase] = {}

    # ------------------------------------------------------------------ lookups

    def _kb(self, kb_id: str | None, *, missing: str, unknown: str, invalid: str) -> _KnowledgeBase:
        if kb_id is None:
            raise _error(400, missing)
        if not _is_iri(kb_id):
            raise _error(400, invalid)
        kb = self._kbs.get(kb_id)
        if kb is None:
            raise _error(404, unknown)
        return kb

    # ------------------------------------------------------------------ /sc

    def list_kbs(self) -> list[KnowledgeBaseInfo]:
        """``GET /sc`` without a header."""
        return [kb.info for kb in self._kbs.values()]

    def get_kb(self, kb_id: str) -> KnowledgeBaseInfo:
        """``GET /sc`` with a ``Knowledge-Base-Id``: 400 for a bad id, 404 for an unknown one."""
        if not _is_iri(kb_id):
            raise _error(400, "Knowledge base not found, because its ID must be a valid URI.")
        kb = self._kbs.get(kb_id)
        if kb is None:
            raise _error(404, "Knowledge base not found.")
        return kb.info

    async def register_kb(self, info: KnowledgeBaseInfo) -> None:
        """``POST /sc``: register a KB; the KE's 400s for a bad or taken id or level."""
        kb_id = info.knowledge_base_id
        if not kb_id:
            raise _error(400, "Knowledge Base ID must be a non-empty URI.")
        problem = _iri_problem(kb_id)
        if problem is not None:
            raise _error(400, f"Knowledge base ID must be a valid RDF IRI. {problem}")
        if kb_id in self._kbs:
            raise _error(400, "That knowledge base ID is already in use.")
        level = info.reasoner_level if info.reasoner_level is not None else self.reasoner_level
        if not 1 <= level <= 5:
            raise _error(
                400, f"The reasoner level should be between 1 and 5, inclusive and not {level}"
            )
        lease = info.lease_renewal_time
        if lease is not None and not 30 <= lease <= 3600:
            bound = "greater than or equal to 30" if lease < 30 else "less than or equal to 3600"
            raise _error(
                400,
                f"ConstraintViolationException: scPost.arg0.leaseRenewalTime must be {bound}\n ",
            )
        kb = _KnowledgeBase(
            info=info.model_copy(update={"reasoner_level": level}), reasoner_level=level
        )
        self._kbs[kb_id] = kb
        if lease is not None:
            self._schedule_lease(kb)
        logger.debug("registered knowledge base %s", kb_id)

    async def delete_kb(self, kb_id: str | None) -> None:
        """``DELETE /sc``: the open poll gets EXIT (410), pending requests fail."""
        kb = self._kb(
            kb_id,
            missing="Knowledge-Base-Id header should not be null.",
            unknown="Deletion of knowledge base failed, because it could not be found.",
            invalid="Knowledge base not found, because its ID must be a valid URI.",
        )
        self._stop(kb, f"KB with id {kb.id} will no longer respond, because it stopped.")

    def _stop(self, kb: _KnowledgeBase, reason: str) -> None:
        kb.stopped = True
        self._kbs.pop(kb.id, None)
        if kb.lease_timer is not None:
            kb.lease_timer.cancel()
        if kb.poll is not None and not kb.poll.done():
            kb.poll.set_result((PollResult.EXIT, None))
        for pending in [*kb.queue, *kb.outstanding.values()]:
            if not pending.answer.done():
                pending.answer.set_exception(_Failed(reason))
        kb.queue.clear()
        kb.outstanding.clear()
        logger.debug("knowledge base %s stopped: %s", kb.id, reason)

    # ------------------------------------------------------------------ leases

    def _schedule_lease(self, kb: _KnowledgeBase) -> None:
        lease = kb.info.lease_renewal_time
        assert lease is not None
        if kb.lease_timer is not None:
            kb.lease_timer.cancel()
        kb.lease_expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=lease)
        loop = asyncio.get_running_loop()
        now = loop.time()
        ends = now + lease
        period = self.lease_check_period
        if period:
            # The KE finds an expired lease at its next periodic check.
            if self._lease_checks_from is None:
                self._lease_checks_from = now
            checks = math.ceil((ends - self._lease_checks_from) / period)
            ends = self._lease_checks_from + checks * period
        kb.lease_timer = loop.call_at(ends, self._expire, kb)

    def _expire(self, kb: _KnowledgeBase) -> None:
        if self._kbs.get(kb.id) is kb:
            self._stop(kb, f"KB with id {kb.id} will no longer respond, because it stopped.")

    def renew_lease(self, kb_id: str | None) -> LeaseInfo:
        """``PUT /sc/lease/renew``."""
        kb = self._kb(
            kb_id,
            missing="Missing valid Knowledge-Base-Id header.",
            unknown="Knowledge base not found. (Has its lease already expired?)",
            invalid="Knowledge base not found, because its knowledge base ID must be a valid URI.",
        )
        if kb.info.lease_renewal_time is None:
            raise _error(
                404,
                "Knowledge base found, but its lease could not be found. Knowledge bases without "
                "a lease do not have to be renewed.",
            )
        self._schedule_lease(kb)
        assert kb.lease_expires is not None
        return LeaseInfo(knowledge_base_id=kb.id, expires=kb.lease_expires)

    # ------------------------------------------------------------------ /sc/ki

    def list_kis(self, kb_id: str | None) -> list[KnowledgeInteractionInfo]:
        """``GET /sc/ki``: the KB's interactions, with their canonical patterns."""
        kb = self._kb(
            kb_id,
            missing="Missing valid Knowledge-Base-Id header.",
            unknown="Knowledge base not found, because its knowledge base ID is unknown.",
            invalid="Knowledge base not found, because its knowledge base ID must be a valid URI.",
        )
        return [ki.info for ki in kb.interactions.values()]

    def register_ki(self, kb_id: str | None, registration: KnowledgeInteractionRegistration) -> str:
        """``POST /sc/ki``: register an interaction and return its id."""
        violations = _ki_violations(registration)
        if violations:
            raise _error(400, "ConstraintViolationException: " + violations)
        if kb_id is None:
            raise _error(400, "Missing valid Knowledge-Base-Id header.")
        if not _is_iri(kb_id):
            raise _error(
                400, "Knowledge base not found, because its knowledge base ID must be a valid URI."
            )
        kb = self._kbs.get(kb_id)
        if kb is None:
            raise _error(
                404,
                "Could not add knowledge interaction, because the given knowledge base ID "
                f"({kb_id}) is unknown.",
            )
        kind = registration.knowledge_interaction_type
        name = registration.knowledge_interaction_name
        prefixes = registration.prefixes or {}
        pattern = argument = result = None
        if kind in (KnowledgeInteractionType.ASK, KnowledgeInteractionType.ANSWER):
            assert registration.graph_pattern is not None  # see _ki_violations
            pattern = _parse(registration.graph_pattern, prefixes)
        else:
            assert registration.argument_graph_pattern is not None
            argument = _parse(registration.argument_graph_pattern, prefixes)
            if registration.result_graph_pattern is not None:
                result = _parse(registration.result_graph_pattern, prefixes)
        act = registration.communicative_act
        if act is not None:
            if not act.required_purposes:
                raise _error(400, "There should be at least 1 requirement purpose.")
            if not act.satisfied_purposes:
                raise _error(400, "There should be at least 1 satisfaction purpose.")
        ki_id = f"{kb_id}/interaction/{name or uuid.uuid4()}"
        if ki_id in kb.interactions:
            raise _error(
                400,
                f"The Knowledge Interaction with URI '{ki_id}' should not be already registered.",
            )
        info = KnowledgeInteractionInfo(
            knowledge_interaction_id=ki_id,
            knowledge_interaction_type=kind,
            knowledge_interaction_name=name,
            graph_pattern=pattern.canonical() if pattern else None,
            argument_graph_pattern=argument.canonical() if argument else None,
            result_graph_pattern=result.canonical() if result else None,
            # As the KE lists it: patterns written out in full IRIs, and no prefixes kept.
            prefixes={},
            communicative_act=act or CommunicativeAct(),
            knowledge_gaps_enabled=bool(registration.knowledge_gaps_enabled)
            and kind is KnowledgeInteractionType.ASK,
        )
        kb.interactions[ki_id] = _Interaction(info, kb, pattern, argument, result)
        return ki_id

    def delete_ki(self, kb_id: str | None, ki_id: str | None) -> None:
        """``DELETE /sc/ki``."""
        if ki_id is None:
            raise _error(400, "Missing valid Knowledge-Interaction-Id header.")
        kb = self._kb(
            kb_id,
            missing="Missing valid Knowledge-Base-Id header.",
            unknown="Knowledge base not found, because its knowledge base ID is unknown.",
            invalid="Knowledge base not found, because its knowledge base ID must be a valid URI.",
        )
        if kb.interactions.pop(ki_id, None) is None:
            raise _error(
                404,
                "Knowledge base found, but the given knowledge interaction knowledge base ID is "
                "unknown.",
            )

    def set_domain_knowledge(self, kb_id: str | None, knowledge: str) -> None:
        """``POST /sc/knowledge``: read as the KE reads it, then stored, replacing what was."""
        kb = self._kb(
            kb_id,
            missing="Missing valid Knowledge-Base-Id header.",
            unknown="Knowledge base not found. (Has its lease already expired?)",
            invalid="Knowledge base not found, because its knowledge base ID must be a valid URI.",
        )
        try:
            kb.rules = parse_rules(knowledge)
        except RuleSyntaxError as exc:
            raise _error(
                400, f"The provided domain knowledge should parse correctly: {exc}"
            ) from None
        kb.domain_knowledge = knowledge

    def domain_knowledge(self, kb_id: str) -> str:
        """The domain knowledge a KB uploaded last (``""`` for none)."""
        self.get_kb(kb_id)
        return self._kbs[kb_id].domain_knowledge

    # ------------------------------------------------------------------ the long poll

    async def poll(self, kb_id: str | None) -> tuple[PollResult, HandleRequest | None]:
        """``GET /sc/handle``: a handle request, REPOLL after the heartbeat, or EXIT.

        Raises:
            PollConflictError: another poll of the KB is open (409).
            SmartConnectorNotFoundError: the KB is unknown (404).
        """
        if kb_id is None or not _is_iri(kb_id):
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
        if kb_id is None or not _is_iri(kb_id):
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

    # ------------------------------------------------------------------ ask and post

    def _proactive(
        self, kb_id: str | None, ki_id: str | None, kind: KnowledgeInteractionType
    ) -> tuple[_KnowledgeBase, _Interaction]:
        if kb_id is None or ki_id is None:
            raise _error(
                400,
                "Both Knowledge-Base-Id and Knowledge-Interaction-Id headers should be non-null.",
            )
        if not _is_iri(ki_id):
            raise _error(
                400, "Knowledge interaction not found, because its ID must be a valid URI."
            )
        kb = self._kbs.get(kb_id)
        if kb is None:
            raise _error(404, "Smart connector not found, because its ID is unknown.")
        ki = kb.interactions.get(ki_id)
        if ki is None:
            raise _error(404, "Knowledge Interaction not found, because its ID is unknown.")
        if ki.kind is not kind:
            raise _error(
                400,
                f"Given Knowledge Interaction ID should have type {kind.value} and not "
                f"{ki.kind.value}.",
            )
        return kb, ki

    def _candidates(
        self,
        asker: _KnowledgeBase,
        kind: KnowledgeInteractionType,
        recipients: Sequence[str] | None,
    ) -> Iterable[_Interaction]:
        wanted = set(recipients) if recipients else None
        for kb in list(self._kbs.values()):
            if kb is asker or (wanted is not None and kb.id not in wanted):
                continue
            for ki in kb.interactions.values():
                if ki.kind is kind:
                    yield ki

    async def ask(
        self,
        kb_id: str | None,
        ki_id: str | None,
        binding_set: Any,
        recipients: Sequence[str] | None = None,
    ) -> AskResult:
        """``POST /sc/ask``: ask every matching ANSWER interaction of the other KBs."""
        kb, ki = self._proactive(kb_id, ki_id, KnowledgeInteractionType.ASK)
        incoming = check_binding_set(binding_set)
        assert ki.pattern is not None
        exchanges: list[tuple[_Interaction, Match]] = []
        for candidate in self._candidates(kb, KnowledgeInteractionType.ANSWER, recipients):
            assert candidate.pattern is not None
            if not _acts_fit(ki.act, candidate.act):
                continue
            match = match_patterns(ki.pattern.triples, candidate.pattern.triples, cover="target")
            if match is not None:
                exchanges.append((candidate, match))
        results = await asyncio.gather(
            *(self._exchange(kb, c, m, incoming, ki.pattern.variables) for c, m in exchanges)
        )
        answers: list[dict[str, str]] = []
        infos: list[AskExchangeInfo] = []
        for info, translated in results:
            infos.append(AskExchangeInfo.model_validate(info))
            for binding in translated:
                if binding not in answers and _fits_any(binding, incoming):
                    answers.append(binding)
        gaps: list[list[str]] | None = None
        if ki.info.knowledge_gaps_enabled:
            gaps = [] if answers or exchanges else [[_gap(t) for t in ki.pattern.triples]]
        return AskResult(
            binding_set=relabel_blank_nodes(answers), exchange_info=infos, knowledge_gaps=gaps
        )

    async def post(
        self,
        kb_id: str | None,
        ki_id: str | None,
        binding_set: Any,
        recipients: Sequence[str] | None = None,
    ) -> PostResult:
        """``POST /sc/post``: post to every matching REACT interaction of the other KBs."""
        kb, ki = self._proactive(kb_id, ki_id, KnowledgeInteractionType.POST)
        incoming = check_binding_set(binding_set)
        exchanges: list[tuple[_Interaction, Match, Match | None]] = []
        if ki.argument is not None and not _posts_a_fact(ki.argument.variables, incoming):
            # As on KE 1.5.0: a post none of whose bindings binds every variable of its
            # argument pattern (no bindings, {}, a variable left out) contacts no REACT.
            return PostResult(result_binding_set=[], exchange_info=[])
        for candidate in self._candidates(kb, KnowledgeInteractionType.REACT, recipients):
            if ki.argument is None or candidate.argument is None:
                continue
            if not _acts_fit(ki.act, candidate.act):
                continue
            # Level 1 wants isomorphic argument patterns; higher levels fire a REACT whose
            # argument the post covers.
            match = match_patterns(
                ki.argument.triples,
                candidate.argument.triples,
                cover="both" if kb.reasoner_level == 1 else "candidate",
            )
            if match is None:
                continue
            result_match = None
            if ki.result is not None and candidate.result is not None:
                result_match = match_patterns(
                    ki.result.triples, candidate.result.triples, cover="target", start=match
                )
            exchanges.append((candidate, match, result_match))
        wanted = ki.result.variables if ki.result is not None else frozenset()
        results = await asyncio.gather(
            *(self._react(kb, c, m, r, incoming, wanted) for c, m, r in exchanges)
        )
        combined: list[dict[str, str]] = []
        infos: list[PostExchangeInfo] = []
        for info, translated in results:
            infos.append(PostExchangeInfo.model_validate(info))
            for binding in translated:
                if binding not in combined:
                    combined.append(binding)
        return PostResult(result_binding_set=relabel_blank_nodes(combined), exchange_info=infos)

    async def _exchange(
        self,
        asker: _KnowledgeBase,
        answerer: _Interaction,
        match: Match,
        incoming: BindingSet,
        variables: frozenset[str],
    ) -> tuple[dict[str, Any], BindingSet]:
        """One ASK → ANSWER exchange: send, wait, translate back.

        As on the KE, an ask that binds nothing reaches the answering KB as one empty binding
        (``[{}]``), an empty binding among others stays one, and an ask whose every binding
        contradicts the answering pattern's constants reaches it as ``[]``.
        """
        sent = translate(incoming, match, forward=True, keep_empty=True)
        info: dict[str, Any] = {
            "knowledgeBaseId": answerer.kb.id,
            "knowledgeInteractionId": answerer.id,
            "exchangeStart": _now(),
        }
        try:
            returned = await self._await(answerer, sent, asker.id)
        except _Failed as failure:
            info.update(status=ExchangeStatus.FAILED, failedMessage=str(failure), bindingSet=[])
            return {**info, "exchangeEnd": _now()}, []
        info.update(status=ExchangeStatus.SUCCEEDED, bindingSet=returned, exchangeEnd=_now())
        back = [
            {k: v for k, v in b.items() if k in variables}
            for b in translate(returned, match, forward=False)
        ]
        return info, back

    async def _react(
        self,
        poster: _KnowledgeBase,
        reactor: _Interaction,
        match: Match,
        result_match: Match | None,
        incoming: BindingSet,
        wanted: frozenset[str],
    ) -> tuple[dict[str, Any], BindingSet]:
        """One POST → REACT exchange; results projected onto the POST's result variables."""
        sent = translate(
            incoming,
            match,
            forward=True,
            keep=reactor.argument.variables if reactor.argument else None,
        )
        info: dict[str, Any] = {
            "knowledgeBaseId": reactor.kb.id,
            "knowledgeInteractionId": reactor.id,
            "exchangeStart": _now(),
            "argumentBindingSet": sent,
        }
        try:
            returned = await self._await(reactor, sent, poster.id)
        except _Failed as failure:
            info.update(
                status=ExchangeStatus.FAILED, failedMessage=str(failure), resultBindingSet=[]
            )
            return {**info, "exchangeEnd": _now()}, []
        info.update(status=ExchangeStatus.SUCCEEDED, resultBindingSet=returned, exchangeEnd=_now())
        if result_match is None:
            return info, []
        back = translate(returned, result_match, forward=False)
        return info, [{k: v for k, v in b.items() if k in wanted} for b in back]

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


class _Failed(Exception):
    """An exchange failed; its text is the exchange info's ``failedMessage``."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def _is_ki_name(name: str) -> bool:
    return all(c.isascii() and (c.isalnum() or c == "-") for c in name)


def _ki_violations(registration: KnowledgeInteractionRegistration) -> str:
    """What the KE's bean validation of a KI registration reports, before anything else.

    Over REST an ASK or ANSWER needs its graph pattern, a POST or REACT its argument pattern
    (a result pattern alone is not enough), and a name only letters, digits and hyphens.
    """
    found = ""
    if registration.knowledge_interaction_type in (
        KnowledgeInteractionType.ASK,
        KnowledgeInteractionType.ANSWER,
    ):
        if registration.graph_pattern is None:
            found += "scKiPost.arg1.graphPattern must not be null\n "
    elif registration.argument_graph_pattern is None:
        found += "scKiPost.arg1.argumentGraphPattern must not be null\n "
    name = registration.knowledge_interaction_name
    if name is not None and not _is_ki_name(name):
        found += 'scKiPost.arg1.knowledgeInteractionName must match "^[a-zA-Z0-9-]*$"\n '
    return found


def _posts_a_fact(variables: frozenset[str], incoming: BindingSet) -> bool:
    """Whether some posted binding binds every variable (a pattern without any: always)."""
    return not variables or any(variables <= binding.keys() for binding in incoming)


def _parse(text: str, prefixes: Mapping[str, str]) -> GraphPattern:
    from km_core import GraphPatternError

    if not text.strip():
        raise _error(400, f"Invalid graph pattern: {text}")
    try:
        return parse_graph_pattern(text, prefixes)
    except GraphPatternError as exc:
        note = (
            ". Note: Have you included your prefixes in the 'prefixes' property?"
            if "prefix" in str(exc)
            else ""
        )
        raise _error(400, f"Invalid graph pattern: {exc}{note}") from exc


def _acts_fit(a: CommunicativeAct, b: CommunicativeAct) -> bool:
    """Both sides' required purposes are met by the other side's satisfied ones."""
    return _purposes_met(a.required_purposes, b.satisfied_purposes) and _purposes_met(
        b.required_purposes, a.satisfied_purposes
    )


def _purposes_met(required: Iterable[str], satisfied: Iterable[str]) -> bool:
    offered = set(satisfied)
    for purpose in list(offered):
        offered |= _PURPOSE_PARENTS.get(purpose, set())
    return all(purpose in offered for purpose in required)


def _validate_answer(binding_set: Any, pattern: GraphPattern | None) -> BindingSet:
    """The KE's checks of an answer against the ANSWER pattern or REACT result pattern."""
    bindings = check_binding_set(binding_set if binding_set is not None else [])
    if pattern is None:
        if bindings:
            raise _error(400, "Bindings must be empty when the graph pattern is missing.")
        return bindings
    canonical = pattern.canonical()
    for binding in bindings:
        missing = sorted(pattern.variables - binding.keys())
        if missing:
            raise _error(
                400,
                "Expected a complete binding, but was missing some variable(s) that ARE in the "
                f"graph pattern ('{canonical}'), but are missing from the binding, namely: "
                f"[{', '.join('?' + v for v in missing)}]. Note that the question mark should "
                "NOT be included in your binding keys.",
            )
        for key in binding:
            if key not in pattern.variables:
                raise _error(
                    400,
                    f"Given binding set uses key '?{key}', but this does not occur as a variable "
                    f"in graph pattern '{canonical}'.",
                )
    return bindings


def _fits_any(binding: Mapping[str, str], incoming: BindingSet) -> bool:
    """An answer fits when some incoming binding agrees with it on all its keys."""
    if not incoming or incoming == [{}]:
        return True
    return any(all(_agrees(binding.get(k), v) for k, v in given.items()) for given in incoming)


def _agrees(term: str | None, given: str) -> bool:
    # A blank node is a fresh node wherever it is read: it never fits one that was sent.
    return term is not None and not is_blank_node(given) and same_value(term, given)


def _gap(triple: Triple) -> str:
    from ._matching import write_node

    return " ".join(write_node(node) for node in triple)


def _unmatched_binding(
    outgoing: BindingSet, incoming: BindingSet, ki: _Interaction
) -> dict[str, str] | None:
    """An outgoing binding that agrees with no incoming one, as the KE checks it, or None.

    ANSWER: some incoming binding's values must all be in the outgoing binding. REACT: the same,
    on the variables that occur in both its argument and its result pattern.
    """
    given = [b for b in incoming if b]
    if not given or len(given) < len(incoming):
        return None  # an empty binding was sent: it asks for everything
    shared: frozenset[str] | None = None
    if ki.kind is KnowledgeInteractionType.REACT:
        argument = ki.argument.variables if ki.argument else frozenset()
        shared = argument & (ki.result.variables if ki.result else frozenset())
    for binding in outgoing:
        fits = any(
            all(
                _agrees(binding.get(k), v)
                for k, v in source.items()
                if shared is None or k in shared
            )
            for source in given
        )
        if not fits:
            return binding
    return None
