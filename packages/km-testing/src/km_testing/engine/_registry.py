"""Registration: knowledge bases, their interactions, leases and domain knowledge (``/sc``...).

Every method behaves as the matching REST endpoint of the KE 1.5 does: the same ids, checks,
statuses and messages.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import uuid

from km_core import (
    CommunicativeAct,
    KnowledgeBaseInfo,
    KnowledgeInteractionInfo,
    KnowledgeInteractionRegistration,
    KnowledgeInteractionType,
    LeaseInfo,
    PollResult,
)
from km_core.terms import iri_problem, is_absolute_iri

from ._base import _EngineBase
from ._checks import _ki_violations, _parse
from ._common import _error, _Failed, logger
from ._meta import MetaEvent
from ._state import _Interaction, _KnowledgeBase
from .reasoner import RuleSyntaxError, domain_rules, parse_rules


class _Registry(_EngineBase):
    """``/sc``, ``/sc/ki``, ``/sc/lease/renew`` and ``/sc/knowledge``."""

    # ------------------------------------------------------------------ lookups

    def _kb(self, kb_id: str | None, *, missing: str, unknown: str, invalid: str) -> _KnowledgeBase:
        if kb_id is None:
            raise _error(400, missing)
        if not is_absolute_iri(kb_id):
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
        if not is_absolute_iri(kb_id):
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
        problem = iri_problem(kb_id)
        if problem is not None:
            raise _error(400, f"Knowledge base ID must be a valid RDF IRI. {kb_id!r}: {problem}.")
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
        self._network_changed(kb)
        self._announce(kb, MetaEvent.NEW)
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
        self._network_changed(kb)
        self._announce(kb, MetaEvent.REMOVED)
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
        if not is_absolute_iri(kb_id):
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
        include_meta = bool(registration.include_meta_kis) and kind in (
            KnowledgeInteractionType.ASK,
            KnowledgeInteractionType.POST,
        )
        kb.interactions[ki_id] = _Interaction(info, kb, pattern, argument, result, include_meta)
        self._network_changed(kb)
        self._announce(kb, MetaEvent.CHANGED)
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
        self._network_changed(kb)
        self._announce(kb, MetaEvent.CHANGED)

    def set_domain_knowledge(self, kb_id: str | None, knowledge: str) -> None:
        """``POST /sc/knowledge``: read as the KE reads it, then stored, replacing what was."""
        kb = self._kb(
            kb_id,
            missing="Missing valid Knowledge-Base-Id header.",
            unknown="Knowledge base not found. (Has its lease already expired?)",
            invalid="Knowledge base not found, because its knowledge base ID must be a valid URI.",
        )
        try:
            kb.rules = domain_rules(parse_rules(knowledge), kb.id)
        except RuleSyntaxError as exc:
            raise _error(
                400, f"The provided domain knowledge should parse correctly: {exc}"
            ) from None
        kb.domain_knowledge = knowledge
        self._network_changed(kb)

    def domain_knowledge(self, kb_id: str) -> str:
        """The domain knowledge a KB uploaded last (``""`` for none)."""
        self.get_kb(kb_id)
        return self._kbs[kb_id].domain_knowledge
