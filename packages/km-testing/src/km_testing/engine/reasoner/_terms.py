"""Terms and triples as the reasoner handles them: text, as the KE writes binding values.

A term is the text of one RDF term as it stands in a binding (``<http://…>``, ``"text"``,
``"21"^^<…#integer>``), or a variable written ``?name``. A triple is three such terms. Keeping
terms as text makes matching, translating and joining plain string work, and a binding value
can be compared with a pattern's constant without conversion.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import Decimal

from rdflib.term import Literal, Node, URIRef, Variable

from km_core.terms import FLOAT_TYPES, INTEGER_TYPES, XSD, XSD_DECIMAL, XSD_STRING, escape
from km_core.terms import parse_term as _parse_term

__all__ = [
    "Triple",
    "is_variable",
    "jena_node",
    "same_value",
    "triples_of",
    "variables_of",
    "write_node",
]

Triple = tuple[str, str, str]
"""Subject, predicate and object, each a term's text or a ``?variable``."""

_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)")


def is_variable(term: str) -> bool:
    """Whether a term is a variable (``?name``)."""
    return term.startswith("?")


def write_node(node: Node) -> str:
    """A parsed pattern term in the text form the KE uses in bindings (variables as ``?name``)."""
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


def jena_node(term: str) -> str:
    """A term of a Jena rule in binding text: a bare number becomes its typed literal."""
    if _INTEGER.fullmatch(term):
        return f'"{term}"^^<{XSD}integer>'
    if _DECIMAL.fullmatch(term):
        return f'"{term}"^^<{XSD}decimal>'
    if term[:1].isdigit() or term[:1] in "+-.":
        return f'"{term}"^^<{XSD}double>'
    return term


def triples_of(triples: Iterable[Sequence[Node]] | Iterable[Triple]) -> tuple[Triple, ...]:
    """Triples as text, each once, in their first order (the KE keeps patterns as sets)."""
    seen: dict[Triple, None] = {}
    for triple in triples:
        s, p, o = (write_node(t) if isinstance(t, Node) else t for t in triple)
        seen.setdefault((s, p, o), None)
    return tuple(seen)


def variables_of(triples: Iterable[Triple]) -> frozenset[str]:
    """The names (without ``?``) of the variables in some triples."""
    return frozenset(term[1:] for triple in triples for term in triple if is_variable(term))


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
        left, right = _parse_term(a), _parse_term(b)
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
