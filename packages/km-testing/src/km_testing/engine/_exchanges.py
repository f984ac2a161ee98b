"""Asking and posting (``POST /sc/ask``, ``POST /sc/post``): the reasoner, put to work.

An ASK or POST becomes a plan over the rules of the network (the other KBs' interactions whose
communicative acts fit, and the asking KB's domain knowledge); the reasoner executes it, and
each knowledge base it contacts receives a handle request through its mailbox. The result
carries the exchange info of the interactions the KE lists: for an ASK the ANSWERs asked, for a
POST the REACTs posted to (interactions used only to convert or complete are not listed).

Plans are kept until the network changes, and are made in a worker thread, so that matching a
large pattern never holds up the rest of the engine.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from km_core import (
    AskExchangeInfo,
    AskResult,
    BindingSet,
    ExchangeStatus,
    KnowledgeInteractionType,
    PostExchangeInfo,
    PostResult,
)
from km_core.terms import is_absolute_iri

from ._checks import _acts_fit, _posts_a_fact
from ._common import _error, _Failed, _now
from ._meta import answer_meta_ask, kb_metadata
from ._notices import _Notices
from ._state import _Interaction, _KnowledgeBase
from ._values import check_binding_set, relabel_blank_nodes
from .reasoner import (
    Binding,
    Plan,
    Rule,
    RuleKind,
    flags_for,
    knowledge_gaps,
    plan_ask,
    plan_post,
    run_ask,
    run_post,
)

PLAN_CACHE_SIZE = 256

ASK = KnowledgeInteractionType.ASK
ANSWER = KnowledgeInteractionType.ANSWER
POST = KnowledgeInteractionType.POST
REACT = KnowledgeInteractionType.REACT


class _Exchanges(_Notices):
    """``POST /sc/ask`` and ``POST /sc/post``."""

    _plans: OrderedDict[tuple[Any, ...], asyncio.Future[Plan]]

    def _proactive(
        self, kb_id: str | None, ki_id: str | None, kind: KnowledgeInteractionType
    ) -> tuple[_KnowledgeBase, _Interaction]:
        if kb_id is None or ki_id is None:
            raise _error(
                400,
                "Both Knowledge-Base-Id and Knowledge-Interaction-Id headers should be non-null.",
            )
        if not is_absolute_iri(ki_id):
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

    def _rules(
        self, asker: _KnowledgeBase, ki: _Interaction, recipients: Sequence[str] | None
    ) -> list[Rule]:
        """The rules an ASK or POST may use: other KBs' fitting interactions, own knowledge."""
        wanted = set(recipients) if recipients else None
        rules: list[Rule] = []
        for kb in list(self._kbs.values()):
            if kb is asker or (wanted is not None and kb.id not in wanted):
                continue
            for other in kb.interactions.values():
                if other.kind in (ANSWER, REACT) and _acts_fit(ki.act, other.act):
                    rules.append(other.rule)
            if ki.include_meta:
                rules.append(kb.meta_rule)
        rules.extend(asker.rules)
        return rules

    async def _plan(
        self,
        kb: _KnowledgeBase,
        ki: _Interaction,
        recipients: Sequence[str] | None,
        level: int,
    ) -> Plan:
        """The plan of an ASK or POST, made in a worker thread unless the network is unchanged.

        Asks that need the same plan while it is being made wait for that one planning, and
        go on in the order they came: the order in which their requests are queued.
        """
        key = (ki.id, id(ki), level, tuple(recipients or ()), self._network_version)
        planning = self._plans.get(key)
        if planning is None:
            planning = asyncio.ensure_future(self._make_plan(kb, ki, recipients, level))
            planning.add_done_callback(functools.partial(self._planned, key))
            self._plans[key] = planning
            while len(self._plans) > PLAN_CACHE_SIZE:
                self._plans.popitem(last=False)
        else:
            self._plans.move_to_end(key)
        # Shielded: an asker that gives up does not cancel the planning the others wait for.
        return await asyncio.shield(planning)

    def _planned(self, key: tuple[Any, ...], planning: asyncio.Future[Plan]) -> None:
        """Forget a planning that failed, so that the next ask plans again.

        The error itself reaches those waiting for the planning.
        """
        failed = planning.cancelled() or planning.exception() is not None
        if failed and self._plans.get(key) is planning:
            del self._plans[key]

    async def _make_plan(
        self,
        kb: _KnowledgeBase,
        ki: _Interaction,
        recipients: Sequence[str] | None,
        level: int,
    ) -> Plan:
        """Make the plan in a worker thread, which hands the GIL back as it goes."""
        rules = self._rules(kb, ki, recipients)
        backward = ki.kind is ASK
        flags = flags_for(level, backward=backward)
        if backward:
            return await asyncio.to_thread(
                plan_ask, ki.rule, rules, flags, budget=self.match_budget, pause=_hand_over
            )
        return await asyncio.to_thread(
            plan_post,
            ki.rule,
            rules,
            flags,
            capture=ki.capture,
            budget=self.match_budget,
            pause=_hand_over,
        )

    async def ask(
        self,
        kb_id: str | None,
        ki_id: str | None,
        binding_set: Any,
        recipients: Sequence[str] | None = None,
    ) -> AskResult:
        """``POST /sc/ask``: the answer the reasoner finds in the network."""
        kb, ki = self._proactive(kb_id, ki_id, ASK)
        incoming = check_binding_set(binding_set)
        gaps_enabled = ki.info.knowledge_gaps_enabled
        # As on the KE: an ASK with knowledge gaps enabled reasons at the highest level.
        level = 5 if gaps_enabled else kb.reasoner_level
        plan = await self._plan(kb, ki, recipients, level)
        infos: list[AskExchangeInfo] = []

        async def apply(rule: Rule, sent: list[Binding]) -> list[Binding]:
            if rule.kind is RuleKind.META:
                returned = self._metadata(rule.source, sent)
                info = {
                    "knowledgeBaseId": rule.source.id,
                    "knowledgeInteractionId": rule.name,
                    "exchangeStart": _now(),
                    "exchangeEnd": _now(),
                    "status": ExchangeStatus.SUCCEEDED,
                    "bindingSet": returned,
                }
                infos.append(AskExchangeInfo.model_validate(info))
                return returned
            other = rule.source
            assert isinstance(other, _Interaction)
            info, returned = await self._contact(kb, other, sent)
            if rule.kind is RuleKind.ANSWER:
                infos.append(AskExchangeInfo.model_validate({**info, "bindingSet": returned}))
            return returned

        answer = await run_ask(plan, list(incoming), apply)
        infos.extend(AskExchangeInfo.model_validate(i) for i in self._exhausted(plan, ki))
        gaps: list[list[str]] | None = None
        if gaps_enabled:
            gaps = [] if answer else [[" ".join(t) for t in gap] for gap in knowledge_gaps(plan)]
        return AskResult(
            binding_set=relabel_blank_nodes(answer), exchange_info=infos, knowledge_gaps=gaps
        )

    async def post(
        self,
        kb_id: str | None,
        ki_id: str | None,
        binding_set: Any,
        recipients: Sequence[str] | None = None,
    ) -> PostResult:
        """``POST /sc/post``: the reactions the posted data sets off, and their results."""
        kb, ki = self._proactive(kb_id, ki_id, POST)
        incoming = check_binding_set(binding_set)
        if ki.argument is not None and not _posts_a_fact(ki.argument.variables, incoming):
            # As on KE 1.5.0: a post none of whose bindings binds every variable of its
            # argument pattern (no bindings, {}, a variable left out) contacts no REACT.
            return PostResult(result_binding_set=[], exchange_info=[])
        plan = await self._plan(kb, ki, recipients, kb.reasoner_level)
        infos: list[PostExchangeInfo] = []

        async def apply(rule: Rule, sent: list[Binding]) -> list[Binding]:
            other = rule.source
            assert isinstance(other, _Interaction)
            info, returned = await self._contact(kb, other, sent)
            if rule.kind is RuleKind.REACT:
                infos.append(
                    PostExchangeInfo.model_validate(
                        {**info, "argumentBindingSet": sent, "resultBindingSet": returned}
                    )
                )
            return returned

        result = await run_post(plan, list(incoming), apply)
        infos.extend(PostExchangeInfo.model_validate(i) for i in self._exhausted(plan, ki))
        return PostResult(result_binding_set=relabel_blank_nodes(result), exchange_info=infos)

    def _metadata(self, kb: _KnowledgeBase, sent: list[Binding]) -> list[Binding]:
        """What a KB's meta ANSWER interaction answers (the engine answers it itself)."""
        metadata = kb_metadata(
            kb.id,
            kb.info.knowledge_base_name,
            kb.info.knowledge_base_description,
            [ki.info for ki in kb.interactions.values()],
        )
        return answer_meta_ask(metadata, sent)

    async def _contact(
        self, asker: _KnowledgeBase, ki: _Interaction, sent: BindingSet
    ) -> tuple[dict[str, Any], BindingSet]:
        """One exchange with an interaction: send, wait, and its exchange info."""
        info: dict[str, Any] = {
            "knowledgeBaseId": ki.kb.id,
            "knowledgeInteractionId": ki.id,
            "exchangeStart": _now(),
        }
        try:
            returned = await self._await(ki, sent, asker.id)
        except _Failed as failure:
            info.update(status=ExchangeStatus.FAILED, failedMessage=str(failure))
            return {**info, "exchangeEnd": _now()}, []
        info.update(status=ExchangeStatus.SUCCEEDED, exchangeEnd=_now())
        return info, returned

    def _exhausted(self, plan: Plan, ki: _Interaction) -> list[dict[str, Any]]:
        """FAILED exchange infos for the interactions whose matching gave up."""
        infos = []
        for rule, steps in plan.exhausted.items():
            other = rule.source
            if not isinstance(other, _Interaction) or other.kb is ki.kb:
                continue
            now = _now()
            infos.append(
                {
                    "knowledgeBaseId": other.kb.id,
                    "knowledgeInteractionId": other.id,
                    "exchangeStart": now,
                    "exchangeEnd": now,
                    "status": ExchangeStatus.FAILED,
                    "failedMessage": (
                        f"The local engine gave up matching the pattern of {ki.id} against "
                        f"{other.id} after {steps} steps (match_budget {self.match_budget}): "
                        "patterns with many alike triples (one predicate, variables everywhere) "
                        "have factorially many matches. Make the patterns smaller or their "
                        "triples more distinct, or raise the engine's match_budget."
                    ),
                    "bindingSet": [],
                    "argumentBindingSet": [],
                    "resultBindingSet": [],
                }
            )
        return infos


def _hand_over() -> None:
    """Let the event loop's thread run: a long match in a worker thread pauses now and then.

    ``time.sleep(0)`` waits for nothing; it releases the interpreter lock, which the loop's
    thread would otherwise get only at the interpreter's switch interval (5 ms).
    """
    time.sleep(0)
