"""The parsed graph pattern, `GraphPattern`, and its canonical text as the KE writes it.

rdflib's term classes are imported when a pattern is written, not when this module is imported.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from km_core.terms._namespaces import XSD_BOOLEAN, XSD_DECIMAL, XSD_DOUBLE, XSD_INTEGER, XSD_STRING

if TYPE_CHECKING:
    from rdflib.term import Literal, Node

# The short forms SPARQL reads back with the same datatype.
_SHORT_INTEGER = re.compile(r"[+-]?[0-9]+")
_SHORT_DECIMAL = re.compile(r"[+-]?[0-9]*\.[0-9]+")

# How a string literal is written: the escapes of canonical N-Triples (RDF 1.2), so that every
# character comes back as it was. Other control characters become \u escapes.
_STRING_ESCAPES = {
    **{code: f"\\u{code:04X}" for code in (*range(0x20), 0x7F)},
    ord('"'): '\\"',
    ord("\\"): "\\\\",
    ord("\n"): "\\n",
    ord("\r"): "\\r",
    ord("\t"): "\\t",
    ord("\b"): "\\b",
    ord("\f"): "\\f",
}


@dataclass(frozen=True, slots=True)
class GraphPattern:
    """A parsed basic graph pattern.

    Attributes:
        text: The pattern as given.
        prefixes: The prefixes as given (a read-only copy).
        triples: The triples in the order written, as rdflib terms: `Variable`, `URIRef` and
            `Literal`. Prefixed names and ``a`` are expanded to full IRIs.
        variables: The names of the variables in the triples, without the ``?``.
    """

    text: str
    prefixes: Mapping[str, str] = field(hash=False)
    triples: tuple[tuple[Node, Node, Node], ...]
    variables: frozenset[str]

    def canonical(self) -> str:
        """The pattern as the Knowledge Engine writes it, for example in ``GET /sc/ki``.

        Each triple is written ``s p o`` followed by ``" . "``, the last one included, with
        nothing in between: variables as ``?name``, IRIs in full as ``<...>``, integers,
        decimals, doubles and booleans in their short form (``12``, ``21.5``, ``1.0E3``,
        ``true``), strings quoted with N-Triples escapes, with their language tag or, for any
        other datatype, ``^^<datatype>``. Numbers are written as rdflib normalises them
        (``+5`` and ``05`` become ``5``, and a double is always written as ``1.0E3``), where the
        KE keeps the text as written.

        Returns:
            The canonical text, which `parse_graph_pattern` reads back to the same triples.
        """
        return "".join(
            f"{_write_term(subject)} {_write_term(predicate)} {_write_term(obj)} . "
            for subject, predicate, obj in self.triples
        )


def _write_term(term: Node) -> str:
    """One term as the canonical text writes it."""
    from rdflib.term import Literal, URIRef, Variable

    if isinstance(term, Variable):
        return f"?{term}"
    if isinstance(term, URIRef):
        return f"<{term}>"
    if isinstance(term, Literal):
        return _write_literal(term)
    raise TypeError(f"a graph pattern holds only variables, IRIs and literals, not {term!r}")


def _write_literal(literal: Literal) -> str:
    """A literal in the short form of its datatype if it has one, else quoted."""
    lexical = str(literal)
    value = literal.value
    if isinstance(value, float) and not math.isfinite(value):
        lexical = "NaN" if math.isnan(value) else "INF" if value > 0 else "-INF"  # not "inf"
    quoted = '"' + lexical.translate(_STRING_ESCAPES) + '"'
    if literal.language:
        return f"{quoted}@{literal.language}"
    datatype = literal.datatype
    if datatype is None or str(datatype) == XSD_STRING:
        return quoted
    short = _short_form(lexical, str(datatype), value)
    return short if short is not None else f"{quoted}^^<{datatype}>"


def _short_form(lexical: str, datatype: str, value: object) -> str | None:
    """The unquoted form of a number or boolean that reads back with the same datatype."""
    if datatype == XSD_INTEGER and _SHORT_INTEGER.fullmatch(lexical):
        return lexical
    if datatype == XSD_DECIMAL and _SHORT_DECIMAL.fullmatch(lexical):
        return lexical
    if datatype == XSD_DOUBLE and isinstance(value, float) and math.isfinite(value):
        return _write_double(value)
    if datatype == XSD_BOOLEAN and lexical in ("true", "false"):
        return lexical
    return None


def _write_double(value: float) -> str:
    """A double in the canonical XSD form, ``1.0E3``: one digit before the point."""
    if value == 0:
        return "-0.0E0" if math.copysign(1.0, value) < 0 else "0.0E0"
    # repr gives the shortest digits that read back to the same double; Decimal takes them
    # apart exactly (no rounding, whatever the decimal context).
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    assert isinstance(exponent, int)  # a finite value has a numeric exponent
    all_digits = "".join(map(str, digits))
    mantissa = all_digits.rstrip("0")
    power = exponent + len(all_digits) - 1  # of the first digit
    return f"{'-' if sign else ''}{mantissa[0]}.{mantissa[1:] or '0'}E{power}"
