"""Bindings on their way through the reasoner: translated across matches, joined, filtered.

A binding maps variable names (without ``?``) to terms. On its way up to the rule that needs
it, a binding also carries which of that rule's triples it covers (a *covered binding*): the
reasoner joins the covered bindings of the parts of a combi match and keeps, in the end, those
that cover every triple with a variable, as the KE does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from ._matcher import Match
from ._terms import is_variable, same_value

__all__ = [
    "Binding",
    "Covered",
    "answers_that_fit",
    "conflicts",
    "fits",
    "full",
    "join",
    "keep_compatible",
    "to_candidate",
    "to_target",
    "unique",
]

Binding = dict[str, str]
Covered = tuple[Binding, frozenset[int]]
"""A binding and the indices of the triples it covers."""


def _carry(
    bindings: Iterable[Mapping[str, str]],
    pairs: Iterable[tuple[str, str]],
) -> list[Binding]:
    """Carry bindings across term pairs ``(source term, destination term)``.

    A destination variable takes the value of the source variable it faces (when bound), or
    the source constant; a binding whose value contradicts a destination constant, or that
    would give one destination variable two values, is dropped.
    """
    pairs = tuple(pairs)
    out: list[Binding] = []
    for binding in bindings:
        carried: Binding = {}
        for source, destination in pairs:
            if is_variable(source):
                value = binding.get(source[1:])
                if value is None:
                    continue
            else:
                value = source
            if is_variable(destination):
                name = destination[1:]
                seen = carried.get(name)
                if seen is not None and not same_value(seen, value):
                    break
                carried[name] = value
            elif not same_value(value, destination):
                break
        else:
            out.append(carried)
    return out


def to_candidate(bindings: Iterable[Mapping[str, str]], match: Match) -> list[Binding]:
    """Bindings in the target's variables, in the candidate's (constants filled in)."""
    return _carry(bindings, match.mapping)


def to_target(bindings: Iterable[Mapping[str, str]], match: Match) -> list[Covered]:
    """Bindings in the candidate's variables, in the target's, with the triples they cover."""
    covered = match.targets
    return [(b, covered) for b in _carry(bindings, ((c, t) for t, c in match.mapping))]


def conflicts(a: Mapping[str, str], b: Mapping[str, str]) -> bool:
    """Whether two bindings give a shared variable different values."""
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    return any(k in large and not same_value(v, large[k]) for k, v in small.items())


def join(left: Sequence[Covered], right: Sequence[Covered]) -> list[Covered]:
    """Every compatible pair of covered bindings, merged."""
    out: list[Covered] = []
    for binding, covered in left:
        for other, other_covered in right:
            if not conflicts(binding, other):
                out.append(({**binding, **other}, covered | other_covered))
    return out


def keep_compatible(
    results: Sequence[Covered], filters: Sequence[Mapping[str, str]]
) -> list[Covered]:
    """The results that agree with some filter binding (an empty filter keeps them all)."""
    if not filters or any(not f for f in filters):
        return list(results)
    return [r for r in results if any(not conflicts(r[0], f) for f in filters)]


def full(results: Iterable[Covered], needed: frozenset[int]) -> list[Binding]:
    """The bindings that cover every needed triple, each once."""
    return unique(binding for binding, covered in results if needed <= covered)


def unique(bindings: Iterable[Mapping[str, str]]) -> list[Binding]:
    """Bindings without repeats, in their first order."""
    seen: dict[frozenset[tuple[str, str]], Binding] = {}
    for binding in bindings:
        seen.setdefault(frozenset(binding.items()), dict(binding))
    return list(seen.values())


def fits(binding: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    """Whether ``binding`` gives every variable ``wanted`` binds the same value, as the KE checks.

    A blank node that was sent never fits: it is a fresh node wherever it is read.
    """
    return all(
        k in binding and not v.startswith("_:") and same_value(binding[k], v)
        for k, v in wanted.items()
    )


def answers_that_fit(answer: list[Binding], asked: Sequence[Mapping[str, str]]) -> list[Binding]:
    """The answers that fit some asked binding (all of them when an asked binding is empty)."""
    given = [b for b in asked if b]
    if not given or len(given) < len(asked):
        return answer
    return [b for b in answer if any(fits(b, wanted) for wanted in given)]
