"""The engine's records: registered knowledge bases, their interactions, pending requests."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import functools
import itertools
from collections import OrderedDict, deque

from km_core import (
    BindingSet,
    CommunicativeAct,
    HandleRequest,
    KnowledgeBaseInfo,
    KnowledgeInteractionInfo,
    KnowledgeInteractionType,
    PollResult,
)
from km_core.patterns import GraphPattern

from ._meta import META_TRIPLES, meta_interaction_id
from .reasoner import Rule, RuleKind, triples_of

__all__ = ["_Interaction", "_KnowledgeBase", "_Pending"]


@dataclasses.dataclass(eq=False)
class _Interaction:
    """A registered knowledge interaction with its parsed patterns."""

    info: KnowledgeInteractionInfo
    kb: _KnowledgeBase
    pattern: GraphPattern | None  # ASK / ANSWER
    argument: GraphPattern | None  # POST / REACT
    result: GraphPattern | None  # POST / REACT (optional)
    include_meta: bool = False  # an ASK or POST that includeMetaKIs

    @functools.cached_property
    def rule(self) -> Rule:
        """The interaction as a reasoner rule: a source of facts, a converter, a sink, a start."""
        kind = self.kind
        if kind is KnowledgeInteractionType.ANSWER:
            assert self.pattern is not None
            return Rule(self.id, (), triples_of(self.pattern.triples), RuleKind.ANSWER, self)
        if kind is KnowledgeInteractionType.ASK:
            assert self.pattern is not None
            return Rule(self.id, triples_of(self.pattern.triples), (), RuleKind.START, self)
        argument = triples_of(self.argument.triples) if self.argument else ()
        result = triples_of(self.result.triples) if self.result else ()
        if kind is KnowledgeInteractionType.REACT:
            return Rule(self.id, argument, result, RuleKind.REACT, self)
        return Rule(self.id, (), argument, RuleKind.START, self)

    @functools.cached_property
    def capture(self) -> Rule | None:
        """A POST's result pattern as the rule that collects what the reactions give."""
        if self.kind is not KnowledgeInteractionType.POST or self.result is None:
            return None
        return Rule(self.id, triples_of(self.result.triples), (), RuleKind.CAPTURE, self)

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

    @functools.cached_property
    def meta_rule(self) -> Rule:
        """The KB's meta ANSWER interaction as a rule, answered by the engine itself."""
        meta_id = meta_interaction_id(self.id, KnowledgeInteractionType.ANSWER)
        return Rule(meta_id, (), META_TRIPLES, RuleKind.META, self)
