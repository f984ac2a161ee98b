"""Planning: which rules an ASK or a POST involves, and how their triples fit together.

A plan is a graph of nodes, one per rule involved. Backward (an ASK): from the asking rule,
every rule whose consequent can cover part of a node's antecedent is that node's *producer*,
recursively (ANSWERs, REACTs with a result as converters, domain rules). Forward (a POST):
from the posting rule, every rule whose antecedent its consequent can feed is a *consumer*
(REACTs, domain rules, the POST's own result pattern), recursively; a consumer whose antecedent
the rules feeding it do not cover completely also takes producers as in backward planning
(ANSWERs), so that what is missing is asked for. Each node keeps its *combi matches*: the ways
its producers cover its antecedent, which the executor joins.

A rule already being planned on the current path (a loop, as with a transitive rule) is not
followed again: the edge is kept as a back edge and left out of execution.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from ._matcher import (
    DEFAULT_MATCH_BUDGET,
    CombiMatch,
    Match,
    MatchBudgetExceeded,
    MatchFlags,
)
from ._matcher import combi_matches as find_combi_matches
from ._rule import Rule, RuleKind

__all__ = ["Node", "Plan", "plan_ask", "plan_post"]


@dataclasses.dataclass(eq=False)
class Node:
    """One rule in a plan.

    Attributes:
        rule: The rule.
        combis: The ways its producers cover its antecedent, as (producer node, match) parts.
        producers: Each producer node with its matches (target: this node's antecedent).
        consumers: Each consumer node with its matches (target: the consumer's antecedent).
        back: Producers on a loop back to this node, left out of execution.
    """

    rule: Rule
    combis: list[tuple[tuple[Node, Match], ...]] = dataclasses.field(default_factory=list)
    producers: dict[Node, list[Match]] = dataclasses.field(default_factory=dict)
    consumers: dict[Node, list[Match]] = dataclasses.field(default_factory=dict)
    back: set[Node] = dataclasses.field(default_factory=set)

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"Node({self.rule!r})"


@dataclasses.dataclass
class Plan:
    """The nodes of an ASK or POST and what matching could not do.

    Attributes:
        start: The asking or posting rule's node.
        nodes: Every node, producers before the nodes they feed (execution order).
        capture: A POST's result-pattern node, if it has one.
        exhausted: Rules whose matching gave up (see `MatchBudgetExceeded`), with the steps.
    """

    start: Node
    nodes: list[Node]
    capture: Node | None = None
    exhausted: dict[Rule, int] = dataclasses.field(default_factory=dict)


class _Planner:
    def __init__(
        self,
        rules: Sequence[Rule],
        flags: MatchFlags,
        budget: int,
        pause: Callable[[], None] | None = None,
    ) -> None:
        self.pause = pause
        self.rules = rules
        self.flags = flags
        self.budget = budget
        self.start: Rule | None = None  # a POST's start: a producer of what it gives
        self.nodes: dict[Rule, Node] = {}
        self.order: list[Node] = []
        self.exhausted: dict[Rule, int] = {}

    def node(self, rule: Rule) -> Node:
        found = self.nodes.get(rule)
        if found is None:
            found = self.nodes[rule] = Node(rule)
        return found

    def combis(self, target: Rule, candidates: Sequence[Rule], side: str) -> list[CombiMatch]:
        triples = target.antecedent if side == "consequent" else target.consequent
        try:
            return find_combi_matches(
                triples,
                candidates,
                "consequent" if side == "consequent" else "antecedent",
                self.flags,
                budget=self.budget,
                pause=self.pause,
            )
        except MatchBudgetExceeded as exc:
            for rule in exc.rules:
                self.exhausted.setdefault(rule, exc.steps)
            return []

    def link(self, consumer: Node, combis: list[CombiMatch], on_path: set[Node]) -> None:
        """Record how producers cover ``consumer``'s antecedent, planning new producers."""
        for combi in combis:
            parts = []
            for rule, match in combi:
                producer = self.node(rule)
                parts.append((producer, match))
                consumer.producers.setdefault(producer, [])
                if match not in consumer.producers[producer]:
                    consumer.producers[producer].append(match)
                    producer.consumers.setdefault(consumer, []).append(match)
                if producer in on_path:
                    consumer.back.add(producer)
            consumer.combis.append(tuple(parts))

    def backward(self, node: Node, on_path: set[Node]) -> None:
        """Plan the producers of ``node`` (and theirs), then place ``node`` in the order."""
        if node.rule.antecedent:
            producers = [r for r in self.rules if r.consequent and r.kind is not RuleKind.START]
            if self.start is not None:
                producers.append(self.start)
            self.link(node, self.combis(node.rule, producers, "consequent"), on_path | {node})
            for producer in list(node.producers):
                if producer not in on_path and producer is not node and producer not in self.order:
                    self.backward(producer, on_path | {node})
        if node not in self.order:
            self.order.append(node)


def plan_ask(
    start: Rule,
    rules: Sequence[Rule],
    flags: MatchFlags,
    *,
    budget: int = DEFAULT_MATCH_BUDGET,
    pause: Callable[[], None] | None = None,
) -> Plan:
    """The backward plan of an ASK: ``start`` needs its pattern; ``rules`` may give it.

    ``budget`` and ``pause`` are those of each combi-match search (see `combi_matches`).
    """
    planner = _Planner(rules, flags, budget, pause)
    root = planner.node(start)
    planner.backward(root, set())
    return Plan(root, planner.order, exhausted=planner.exhausted)


def plan_post(
    start: Rule,
    rules: Sequence[Rule],
    flags: MatchFlags,
    *,
    capture: Rule | None = None,
    budget: int = DEFAULT_MATCH_BUDGET,
    pause: Callable[[], None] | None = None,
) -> Plan:
    """The forward plan of a POST: ``start`` gives its argument; ``rules`` may use it.

    ``capture`` is the POST's result pattern as a rule that needs it (nothing when the POST has
    no result pattern).
    """
    planner = _Planner(rules, flags, budget, pause)
    planner.start = start
    root = planner.node(start)
    consumers = [r for r in rules if r.antecedent and r.kind is not RuleKind.START]
    if capture is not None:
        consumers.append(capture)
    reached: list[Node] = [root]
    queue = [root]
    while queue:
        producer = queue.pop(0)
        for combi in planner.combis(producer.rule, consumers, "antecedent"):
            for rule, found in combi:
                consumer = planner.node(rule)
                match = _inverse(found)  # seen from the consumer, as in backward plans
                matches = consumer.producers.setdefault(producer, [])
                if match not in matches:
                    matches.append(match)
                    producer.consumers.setdefault(consumer, []).append(match)
                if consumer not in reached:
                    reached.append(consumer)
                    queue.append(consumer)
    # Each consumer: fed completely by its producers' matches, or completed by more producers.
    for consumer in reached[1:]:
        needed = frozenset(range(len(consumer.rule.antecedent)))
        feeds = [(p, m) for p, matches in consumer.producers.items() for m in matches]
        if all(match.targets == needed for _, match in feeds):
            consumer.combis = [((producer, match),) for producer, match in feeds]
            continue
        fed_by = [p.rule for p in consumer.producers]
        sources = [
            r
            for r in rules
            if r.consequent and r.kind is not RuleKind.START and r is not consumer.rule
        ]
        candidates = [*fed_by, *(r for r in sources if r not in fed_by)]
        for producer in consumer.producers:
            del producer.consumers[consumer]
        consumer.producers.clear()
        planner.link(consumer, planner.combis(consumer.rule, candidates, "consequent"), set())
        for producer in consumer.producers:
            if producer not in reached and producer not in planner.order:
                planner.backward(producer, {consumer})
    order = [*planner.order, *_forward_order(root, reached)]
    capture_node = planner.nodes.get(capture) if capture is not None else None
    return Plan(root, _dedupe(order), capture_node, planner.exhausted)


def _inverse(match: Match) -> Match:
    """A match seen from its candidate's side."""
    return Match(
        tuple(sorted((c, t) for t, c in match.pairs)),
        tuple(sorted((c, t) for t, c in match.mapping)),
    )


def _forward_order(root: Node, reached: list[Node]) -> list[Node]:
    """The reached nodes, each after the nodes that feed it (loops cut)."""
    placed: list[Node] = []
    visiting: set[Node] = set()

    def place(node: Node) -> None:
        if node in placed or node in visiting:
            return
        visiting.add(node)
        for producer in node.producers:
            if producer in visiting:
                node.back.add(producer)
            else:
                place(producer)
        visiting.discard(node)
        placed.append(node)

    for node in reached:
        place(node)
    return placed


def _dedupe(nodes: list[Node]) -> list[Node]:
    seen: list[Node] = []
    for node in nodes:
        if node not in seen:
            seen.append(node)
    return seen
