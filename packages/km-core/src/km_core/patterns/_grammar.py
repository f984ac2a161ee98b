"""The pattern parser, assembled on first use from the elements of rdflib's SPARQL grammar.

The parser is assembled at run time from the parser elements of rdflib's SPARQL 1.1 grammar
(deep-copied, so rdflib's own parser is left as it is), with three changes: the text is parsed
on its own rather than inside a ``SELECT`` wrapper, so every position the parser reports is a
position in the pattern as given; the triples are read one after the other instead of
recursively, so a long pattern does not exhaust the Python stack; and a negative decimal such
as ``-21.5`` parses (rdflib's own parse action raises TypeError on it).

rdflib is imported on the first parse, not when this module is imported.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from km_core.terms._namespaces import XSD_DECIMAL

if TYPE_CHECKING:
    from pyparsing import ParserElement, ParseResults
    from rdflib.term import Literal


@dataclass(frozen=True, slots=True)
class Grammar:
    """The parser elements of the pattern parser, built once from rdflib's SPARQL grammar."""

    pattern: ParserElement
    triple: ParserElement


_built: list[Grammar] = []
_build_lock = threading.Lock()


def sparql_grammar() -> Grammar:
    """The grammar, built on first use (once, even when threads ask at the same time)."""
    if not _built:
        with _build_lock:
            if not _built:
                _built.append(_build_grammar())
    return _built[0]


def _build_grammar() -> Grammar:
    """Import rdflib's SPARQL grammar and assemble the pattern parser from its elements."""
    import copy

    from pyparsing import Optional, ParserElement, StringEnd, Suppress, ZeroOrMore
    from rdflib.plugins.sparql import parser as sparql
    from rdflib.plugins.sparql.parserutils import Comp, ParamList

    # Deep copies of the elements used here, so that changing them leaves rdflib's own
    # parser as it is.
    copies: dict[int, object] = {}
    triple, not_triples, subquery = copy.deepcopy(
        (sparql.TriplesSameSubjectPath, sparql.GraphPatternNotTriples, sparql.SubSelect), copies
    )
    # rdflib cannot negate a decimal: its parse action raises TypeError on "-21.5".
    negative_decimal = copies[id(sparql.DECIMAL_NEGATIVE)]
    assert isinstance(negative_decimal, ParserElement)
    negative_decimal.set_parse_action(_negative_decimal)

    triples = Comp(
        "TriplesBlock",
        ParamList("triples", triple)
        + ZeroOrMore(Suppress(".") + ParamList("triples", triple))
        + Optional(Suppress(".")),
    )
    group = Comp(
        "GroupGraphPatternSub",
        Optional(ParamList("part", triples))
        + ZeroOrMore(
            ParamList("part", not_triples)
            + Optional(Suppress("."))
            + Optional(ParamList("part", triples))
        ),
    )
    pattern = (subquery | group) + StringEnd()
    for comment in triple.ignoreExprs:  # '#' comments, as in the rest of rdflib's grammar
        pattern.ignore(comment)
    # Tabs are kept as they are, so positions and string literals are not changed.
    return Grammar(pattern=pattern.parse_with_tabs(), triple=triple.parse_with_tabs())


def _negative_decimal(tokens: ParseResults) -> Literal:
    """The literal of a negative decimal such as ``-21.5``, from the decimal after the '-'."""
    from rdflib.term import Literal, URIRef

    return Literal(f"-{tokens[0]}", datatype=URIRef(XSD_DECIMAL))
