"""Matching graph patterns and translating bindings between them, as the KE's reasoner does.

A match maps the triples of one pattern (the *target*: what an ASK asks, what a POST posts) onto
those of another (the *candidate*: an ANSWER, a REACT) so that every pair of terms fits: two
variables pair up one to one, a variable takes the constant it faces, and two constants must be
the same term. Triple order and variable names do not matter. Bindings then travel through the
match: the target's values become the candidate's (with the target's constants filling the
candidate's variables), and the candidate's answers come back in the target's variable names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Literal as Cover

from rdflib.term import Literal, Node, URIRef, Variable

from km_core._rdf import FLOAT_TYPES, INTEGER_TYPES, XSD_DECIMAL, XSD_STRING, escape, parse_term

__all__ = ["Match", "Triple", "match_patterns", "same_value", "translate", "write_node"]

Triple = tuple[Node, Node, Node]


@dataclasses.dataclass(frozen=True)
class Match:
    """How the terms of two patterns correspond.

    Attributes:
        forward: Each target variable's counterpart in the candidate (a variable or constant).
        backward: Each candidate variable's counterpart in the target.
    """

    forward: Mapping[str, Node]
    backward: Mapping[str, Node]


def write_node(node: Node) -> str:
    """A pattern term in the text form the KE uses in bindings (variables as ``?name``)."""
    if isinstance(node, Variable):
        return f"?{node}"
    if isinstance(node, URIRef):
        return f"<{node}>"
    if isinstance(node, Literal):
        if node.language:
            return f'"{escape(str(node))}"@{node.language}'
        if node.datatype is None or str(node.datatype) == XSD_STRING:
            return f'"{escape(str(node))}"'
        return f'"{escape(str(node))}"^^<{node.datatype}>'
    raise ValueError(f"{node!r} cannot stand in a binding")


def _unify(
    target: Node, candidate: Node, forward: dict[str, Node], backward: dict[str, Node]
) -> bool:
    """Pair two terms, extending the maps in place; False when they cannot pair."""
    if isinstance(target, Variable):
        name = str(target)
        seen = forward.get(name)
        if seen is not None:
            return seen == candidate
        if isinstance(candidate, Variable):
            if backward.get(str(candidate)) is not None:
                return False  # the candidate variable is already paired with something else
            backward[str(candidate)] = target
        forward[name] = candidate
        return True
    if isinstance(candidate, Variable):
        seen = backward.get(str(candidate))
        if seen is not None:
            return seen == target
        backward[str(candidate)] = target
        return True
    return write_node(target) == write_node(candidate)


def match_patterns(
    target: Sequence[Triple],
    candidate: Sequence[Triple],
    *,
    cover: Cover["target", "candidate", "both"],
    start: Match | None = None,
) -> Match | None:
    """Find a match between two patterns, or ``None``.

    Args:
        target: The asking or posting side's triples.
        candidate: The answering or reacting side's triples.
        cover: Which side's triples must all be matched (each triple at most once): the
            target's (an ANSWER covering an ASK), the candidate's (a REACT whose argument the
            post covers), or both (isomorphic patterns).
        start: Pairings that must hold already (from another pattern of the same pair).
    """
    if cover == "both" and len(target) != len(candidate):
        return None
    # Iterate over the side that must be covered; pair its triples with distinct ones of the other.
    covered, other, flipped = (
        (candidate, target, True) if cover == "candidate" else (target, candidate, False)
    )
    forward: dict[str, Node] = dict(start.forward) if start else {}
    backward: dict[str, Node] = dict(start.backward) if start else {}

    def search(index: int, used: frozenset[int]) -> Match | None:
        if index == len(covered):
            return Match(dict(forward), dict(backward))
        for position, partner in enumerate(other):
            if position in used:
                continue
            saved = (dict(forward), dict(backward))
            pair = (partner, covered[index]) if flipped else (covered[index], partner)
            if all(_unify(t, c, forward, backward) for t, c in zip(*pair, strict=True)):
                found = search(index + 1, used | {position})
                if found is not None:
                    return found
            forward.clear()
            forward.update(saved[0])
            backward.clear()
            backward.update(saved[1])
        return None

    return search(0, frozenset())


def translate(
    bindings: Sequence[Mapping[str, str]],
    match: Match,
    *,
    forward: bool,
    keep: frozenset[str] | None = None,
    keep_empty: bool = False,
) -> list[dict[str, str]]:
    """Carry bindings across a match: target to candidate names, or back.

    A binding whose value contradicts a constant it meets is dropped. A request with no bindings
    (or only an empty one) still carries the target's constants to the variables they face.
    With ``keep_empty`` (an ask, as the KE sends it), a binding that carries nothing across
    stays as an empty binding, ``{}``, and a request whose every binding was dropped is ``[]``.
    """
    pairs = match.backward if forward else match.forward  # destination variable -> source node
    opposite = match.forward if forward else match.backward  # source variable -> destination
    # A request without bindings still carries the asker's constants; an empty answer is empty.
    if not forward:
        rows = list(bindings)
    elif keep_empty:
        rows = list(bindings) or [{}]
    else:
        rows = [b for b in bindings if b] or [{}]
    result: list[dict[str, str]] = []
    for row in rows:
        if any(
            name in row and not isinstance(node, Variable) and row[name] != write_node(node)
            for name, node in opposite.items()
        ):
            continue  # contradicts a constant of the other side
        out: dict[str, str] = {}
        for destination, source in pairs.items():
            if keep is not None and destination not in keep:
                continue
            if isinstance(source, Variable):
                if str(source) in row:
                    out[destination] = row[str(source)]
            else:
                out[destination] = write_node(source)
        if (out or keep_empty) and out not in result:
            result.append(out)
    return result


_EXACT_NUMBERS = INTEGER_TYPES | {XSD_DECIMAL}


def same_value(a: str, b: str) -> bool:
    """Whether two terms (as the KE writes them) stand for the same RDF value.

    As the KE compares an answer with what was asked: the same text, or numbers of the same
    value whatever their lexical form and numeric type (``"21.0"^^xsd:decimal`` and
    ``"021"^^xsd:integer`` are both 21).
    """
    if a == b:
        return True
    try:
        left, right = parse_term(a), parse_term(b)
    except ValueError:
        return False
    if left.kind != "literal" or right.kind != "literal":
        return False
    numeric = _EXACT_NUMBERS | FLOAT_TYPES
    if left.datatype not in numeric or right.datatype not in numeric:
        return False
    try:
        if left.datatype in FLOAT_TYPES or right.datatype in FLOAT_TYPES:
            return float(left.value) == float(right.value)
        return Decimal(left.value) == Decimal(right.value)
    except (ValueError, ArithmeticError):
        return False
