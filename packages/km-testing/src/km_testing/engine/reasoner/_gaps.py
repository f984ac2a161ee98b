"""Knowledge gaps: the triples of an ASK that nothing in the network can give.

As the KE computes them for an ASK with ``knowledgeGapsEnabled`` whose answer is empty: for
each triple of a node's antecedent, the producers that cover it; a triple covered by a source
of facts (an ANSWER, a domain fact) or by a rule without gaps of its own is no gap; otherwise
its gaps are those of the rules covering it, or the triple itself when nothing covers it. The
gaps of all triples are combined into alternatives, each a set of triples that together would
close the gap, merging as the KE does: a triple with a constant replaces a more general one
(``?id ex:hasCountry ex:Ireland`` replaces ``?id ex:hasCountry ?c``), and a more general one is
left out next to a more specific one.
"""

from __future__ import annotations

import enum

from ._planner import Node, Plan
from ._rule import RuleKind
from ._terms import Triple, is_variable

__all__ = ["knowledge_gaps"]

Gap = frozenset[Triple]


class _Action(enum.Enum):
    ADD = "add"
    IGNORE = "ignore"
    REPLACE = "replace"


def knowledge_gaps(plan: Plan) -> list[list[Triple]]:
    """The knowledge gaps of a backward plan: alternatives, each a list of triples."""
    order = {t: i for i, t in enumerate(plan.start.rule.antecedent)}
    found = _gaps(plan.start, frozenset())
    gaps = [sorted(gap, key=lambda t: (order.get(t, len(order)), t)) for gap in found]
    return sorted(gaps)


def _gaps(node: Node, visiting: frozenset[Node]) -> set[Gap]:
    visiting = visiting | {node}
    existing: set[Gap] = set()
    for index, triple in enumerate(node.rule.antecedent):
        covering = [
            p for p, matches in node.producers.items() if any(index in m.targets for m in matches)
        ]
        collected: set[Gap] = set()
        closed = False
        for producer in covering:
            if not producer.rule.antecedent:
                closed = True
                break
            inner = _gaps(producer, visiting) if producer not in visiting else set()
            if producer.rule.kind is not RuleKind.META and not inner:
                closed = True
                break
            collected |= inner
        if closed:
            continue
        existing = _merge_all(existing, collected or {frozenset({triple})})
    return existing


def _merge_all(gaps: set[Gap], adding: set[Gap]) -> set[Gap]:
    if not gaps:
        return adding
    if not adding:
        return gaps
    return {_merge(gap, other) for gap in gaps for other in adding}


def _merge(gap: Gap, adding: Gap) -> Gap:
    result = set(gap)
    for triple in adding:
        actions = {existing: _action(existing, triple) for existing in gap}
        replaces = [t for t, action in actions.items() if action is _Action.REPLACE]
        if len(replaces) == 1:
            result.discard(replaces[0])
            result.add(triple)
        elif _Action.IGNORE not in actions.values():
            result.add(triple)
    return frozenset(result)


def _action(existing: Triple, new: Triple) -> _Action:
    """How a triple joins a gap that holds ``existing``."""
    kinds = []
    for old, fresh in zip(existing, new, strict=True):
        if not is_variable(old) and not is_variable(fresh):
            if old != fresh:
                return _Action.ADD
            continue
        if is_variable(old) and not is_variable(fresh):
            kinds.append(_Action.REPLACE)
        elif not is_variable(old) and is_variable(fresh):
            kinds.append(_Action.IGNORE)
    if not kinds:
        return _Action.IGNORE
    return kinds[0] if all(k is kinds[0] for k in kinds) else _Action.ADD
