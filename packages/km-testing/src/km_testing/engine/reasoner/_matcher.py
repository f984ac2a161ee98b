"""Matching: which triples of which rules can stand for the triples a rule needs or gives.

A *match* maps some triples of a target (the triples a rule needs, or gives) onto triples of
one candidate rule, term by term: two constants must be equal, and a variable pairs with the
term it faces, one to one over the whole match. A *combi match* combines matches of one or more
candidate rules into one way of covering the target. The reasoner level decides which combi
matches count, with the KE's four flags:

====== ============== =========== ========== ============
level  fully covered  single rule one to one only biggest
====== ============== =========== ========== ============
1      yes            yes         yes        yes
2      backward only  no          yes        yes
3      backward only  no          no         yes
4      no             no          no         yes
5      no             no          no         no
====== ============== =========== ========== ============

*Fully covered*: every target triple is matched. *Single rule*: one candidate rule per combi
match. *One to one*: a rule takes part with one match only (otherwise a rule may cover several
target triples with separate matches, as a transitive rule must). *Only biggest*: a combi match
that a bigger one contains is left out.

Matching is a search over the target's triples, most constrained first, with candidates found
through an index by predicate, so patterns with many triples of distinct predicates match in
linear time. Patterns whose triples are alike (one predicate, variables everywhere) can have
factorially many matches; the search counts its steps and gives up with `MatchBudgetExceeded`
past a budget, rather than stall the engine.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Literal

from ._rule import Rule
from ._terms import Triple, is_variable

__all__ = [
    "DEFAULT_MATCH_BUDGET",
    "CombiMatch",
    "Match",
    "MatchBudgetExceeded",
    "MatchFlags",
    "combi_matches",
    "flags_for",
]

DEFAULT_MATCH_BUDGET = 5_000
"""Search steps one combi-match search may take before it gives up."""

_PAUSE_EVERY = 200
Side = Literal["antecedent", "consequent"]


class MatchBudgetExceeded(Exception):
    """Matching took more steps than its budget; the message says which rules were involved."""

    def __init__(self, steps: int, rules: Sequence[Rule]) -> None:
        self.steps = steps
        self.rules = tuple(rules)
        super().__init__(f"matching gave up after {steps} steps")


@dataclasses.dataclass(frozen=True)
class MatchFlags:
    """The KE's match flags (see the module docstring)."""

    fully_covered: bool
    single_rule: bool
    one_to_one: bool
    only_biggest: bool


def flags_for(level: int, *, backward: bool) -> MatchFlags:
    """The flags of a reasoner level, for backward (ASK) or forward (POST) reasoning."""
    if level <= 1:
        return MatchFlags(True, True, True, True)
    if level == 2:
        return MatchFlags(backward, False, True, True)
    if level == 3:
        return MatchFlags(backward, False, False, True)
    if level == 4:
        return MatchFlags(False, False, False, True)
    return MatchFlags(False, False, False, False)


@dataclasses.dataclass(frozen=True)
class Match:
    """Some target triples mapped onto triples of one candidate rule's side.

    Attributes:
        pairs: ``(target index, candidate index)`` for each matched triple.
        mapping: ``(target term, candidate term)`` for each position where one is a variable.
    """

    pairs: tuple[tuple[int, int], ...]
    mapping: tuple[tuple[str, str], ...]

    @property
    def targets(self) -> frozenset[int]:
        """The indices of the target triples this match covers."""
        return frozenset(t for t, _ in self.pairs)

    @property
    def candidates(self) -> frozenset[int]:
        """The indices of the candidate triples this match uses."""
        return frozenset(c for _, c in self.pairs)


CombiMatch = tuple[tuple[Rule, Match], ...]
"""One way of covering a target: matches of one or more rules."""


def _pair_triple(target: Triple, candidate: Triple) -> dict[str, str] | None:
    """The term mapping of one target triple onto one candidate triple, or None."""
    mapping: dict[str, str] = {}
    images: dict[str, str] = {}
    for a, b in zip(target, candidate, strict=True):
        if not is_variable(a) and not is_variable(b):
            if a != b:
                return None
            continue
        if mapping.get(a, b) != b or images.get(b, a) != a:
            return None
        mapping[a] = b
        images[b] = a
    return mapping


class _Partial:
    """A match under construction, changed in place and undone on the way back."""

    __slots__ = ("backward", "candidates", "forward", "pairs", "rule")

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.pairs: list[tuple[int, int]] = []
        self.candidates: set[int] = set()
        self.forward: dict[str, str] = {}
        self.backward: dict[str, str] = {}

    def fits(self, candidate: int, mapping: dict[str, str]) -> bool:
        """Whether one more pairing keeps the match one to one and consistent."""
        if candidate in self.candidates:
            return False
        forward, backward = self.forward, self.backward
        for a, b in mapping.items():
            seen = forward.get(a)
            if seen is None:
                if b in backward:
                    return False
            elif seen != b:
                return False
        return True

    def add(self, target: int, candidate: int, mapping: dict[str, str]) -> list[str]:
        """Add a pairing that `fits`; return the new terms, for `undo`."""
        self.pairs.append((target, candidate))
        self.candidates.add(candidate)
        added = []
        for a, b in mapping.items():
            if a not in self.forward:
                self.forward[a] = b
                self.backward[b] = a
                added.append(a)
        return added

    def undo(self, added: list[str]) -> None:
        _, candidate = self.pairs.pop()
        self.candidates.discard(candidate)
        for a in added:
            del self.backward[self.forward.pop(a)]

    def freeze(self) -> Match:
        return Match(tuple(sorted(self.pairs)), tuple(sorted(self.forward.items())))


class _Index:
    """The candidate triples of some rules, by predicate (a variable predicate fits all)."""

    def __init__(self, rules: Sequence[Rule], side: Side) -> None:
        self.by_predicate: dict[str, list[tuple[Rule, int, Triple]]] = defaultdict(list)
        self.open: list[tuple[Rule, int, Triple]] = []
        self.everything: list[tuple[Rule, int, Triple]] = []
        for rule in rules:
            for index, triple in enumerate(getattr(rule, side)):
                entry = (rule, index, triple)
                self.everything.append(entry)
                if is_variable(triple[1]):
                    self.open.append(entry)
                else:
                    self.by_predicate[triple[1]].append(entry)

    def options(self, target: Triple) -> list[tuple[Rule, int, dict[str, str]]]:
        """Every (rule, candidate index, mapping) that one target triple can pair with."""
        if is_variable(target[1]):
            entries: Sequence[tuple[Rule, int, Triple]] = self.everything
        else:
            entries = [*self.by_predicate.get(target[1], ()), *self.open]
        found = []
        for rule, index, triple in entries:
            mapping = _pair_triple(target, triple)
            if mapping is not None:
                found.append((rule, index, mapping))
        return found


def combi_matches(
    target: Sequence[Triple],
    rules: Sequence[Rule],
    side: Side,
    flags: MatchFlags,
    *,
    budget: int = DEFAULT_MATCH_BUDGET,
    pause: Callable[[], None] | None = None,
) -> list[CombiMatch]:
    """The combi matches of some rules' ``side`` triples onto the ``target`` triples.

    ``pause``, when given, is called every few hundred steps of a long search: in a worker
    thread, `time.sleep` (0) there hands the interpreter to the event loop's thread, so that a
    long search does not hold up the requests the engine serves meanwhile.

    Raises:
        MatchBudgetExceeded: the search took more than ``budget`` steps.
    """
    if not target:
        return []
    index = _Index(rules, side)
    options = [index.options(triple) for triple in target]
    if flags.fully_covered and not all(options):
        return []
    order = sorted((i for i in range(len(target)) if options[i]), key=lambda i: len(options[i]))
    if not order:
        return []
    return _Search(options, order, flags, budget, pause).run()


class _Search:
    """Depth-first search for combi matches; see `combi_matches`."""

    def __init__(
        self,
        options: list[list[tuple[Rule, int, dict[str, str]]]],
        order: list[int],
        flags: MatchFlags,
        budget: int,
        pause: Callable[[], None] | None,
    ) -> None:
        self.pause = pause
        self.options = options
        self.order = order
        self.flags = flags
        self.budget = budget
        self.steps = 0
        self.chosen: list[_Partial] = []

    def run(self) -> list[CombiMatch]:
        self.found: list[CombiMatch] = []
        self._visit(0)
        return self.found

    def _tick(self, cost: int = 1) -> None:
        self.steps += cost
        if self.pause is not None and self.steps % _PAUSE_EVERY < cost:
            self.pause()
        if self.steps > self.budget:
            rules = {id(rule): rule for choices in self.options for rule, _, _ in choices}
            raise MatchBudgetExceeded(self.steps, list(rules.values()))

    def _place(self, rule: Rule, candidate: int, mapping: dict[str, str]) -> _Partial | None:
        """The partial match a pairing joins: the rule's first that fits it, or a new one."""
        if self.flags.single_rule and self.chosen and self.chosen[0].rule is not rule:
            return None
        for partial in self.chosen:
            if partial.rule is rule:
                if partial.fits(candidate, mapping):
                    return partial
                if self.flags.one_to_one:
                    return None
        return _Partial(rule)

    def _visit(self, depth: int) -> None:
        self._tick()
        if depth == len(self.order):
            if self.chosen and self._complete():
                self._tick(4)  # a result costs more than a step: it is copied and kept
                self.found.append(tuple((p.rule, p.freeze()) for p in self.chosen))
            return
        target = self.order[depth]
        for rule, candidate, mapping in self.options[target]:
            partial = self._place(rule, candidate, mapping)
            if partial is None:
                continue
            fresh = not partial.pairs
            if fresh:
                self.chosen.append(partial)
            added = partial.add(target, candidate, mapping)
            self._visit(depth + 1)
            partial.undo(added)
            if fresh:
                self.chosen.pop()
        if not self.flags.fully_covered:
            self._visit(depth + 1)

    def _complete(self) -> bool:
        """Whether a combi match without every target is as big as it can be (only biggest)."""
        if self.flags.fully_covered or not self.flags.only_biggest:
            return True
        covered = {t for partial in self.chosen for t, _ in partial.pairs}
        for target in self.order:
            if target in covered:
                continue
            for rule, candidate, mapping in self.options[target]:
                if self._place(rule, candidate, mapping) is not None:
                    return False
        return True
