"""Meta notifications: the posts the KE makes when a knowledge base comes, changes or goes.

After ``POST /sc`` (new), ``POST /sc/ki`` and ``DELETE /sc/ki`` (changed) and ``DELETE /sc`` or
an expired lease (removed), the KE posts the KB's metadata (see `_meta`) to the REACT
interactions of every other KB whose argument is the meta pattern up to variable names (level-1
matching) and whose communicative act fits the event's purpose. Each such REACT receives one
handle request, from the KB the notification is about.

Unlike the KE, which answers the registration only once every reaction has answered (up to the
wait timeout each), the engine queues the requests and answers at once; the reactions' answers
are collected in the background.
"""

from __future__ import annotations

import asyncio

from km_core import BindingSet, KnowledgeInteractionType

from ._checks import _acts_fit
from ._mailbox import _Mailbox
from ._meta import META_MATCH_LEVEL, META_TRIPLES, MetaEvent, meta_notification
from ._state import _KnowledgeBase, _Pending
from .reasoner import Rule, RuleKind, flags_for, plan_post
from .reasoner._bindings import full, to_target

REACT = KnowledgeInteractionType.REACT


class _Notices(_Mailbox):
    """Sending meta notifications to the REACTs that listen for them."""

    def _announce(self, kb: _KnowledgeBase, event: MetaEvent) -> None:
        listeners = [
            ki
            for other in self._kbs.values()
            if other is not kb
            for ki in other.interactions.values()
            if ki.kind is REACT and len(ki.rule.antecedent) == len(META_TRIPLES)
        ]
        if not listeners:
            return
        notice = meta_notification(
            event,
            kb.id,
            kb.info.knowledge_base_name,
            kb.info.knowledge_base_description,
            [ki.info for ki in kb.interactions.values()],
        )
        act = notice.posting_interaction.communicative_act
        assert act is not None
        fitting = [ki.rule for ki in listeners if _acts_fit(act, ki.act)]
        start = Rule(
            notice.posting_interaction.knowledge_interaction_id, (), META_TRIPLES, RuleKind.START
        )
        plan = plan_post(start, fitting, flags_for(META_MATCH_LEVEL, backward=False))
        needed = frozenset(range(len(META_TRIPLES)))
        for consumer, matches in plan.start.consumers.items():
            react = consumer.rule.source
            sent = full(
                (c for match in matches for c in to_target(notice.binding_set, match)), needed
            )
            if sent:
                self._watch(self._send(react, sent, kb.id))

    def _watch(self, pending: _Pending) -> None:
        """Collect a notification's answer when it comes, or give up after the wait timeout."""
        loop = asyncio.get_running_loop()
        timer = (
            loop.call_later(self.kb_wait_timeout, pending.answer.cancel)
            if self.kb_wait_timeout
            else None
        )

        def settle(answer: asyncio.Future[BindingSet]) -> None:
            if timer is not None:
                timer.cancel()
            if not answer.cancelled():
                answer.exception()  # retrieved: a failed notification concerns nobody

        pending.answer.add_done_callback(settle)
