"""Reading the SPARQL basic graph patterns of knowledge interactions: `parse_graph_pattern`.

A knowledge interaction carries its graph pattern as text: triples with ``?variables``, written
with the interaction's prefixes. The Knowledge Engine parses that text when the interaction is
registered (``POST /sc/ki``) as the body of ``SELECT * WHERE { ... }``, keeps only a basic graph
pattern and rejects anything else with a 400. `parse_graph_pattern` does the same checks before
a request is sent, so a bad pattern fails when its interaction is declared, with the line and
column of the problem, and `GraphPattern.canonical` writes a pattern the way ``GET /sc/ki`` gives
it back.

rdflib is imported on the first parse, not when this module is imported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from km_core._errors import GraphPatternError

from ._grammar import Grammar, sparql_grammar
from ._model import GraphPattern
from ._source import Report, Source
from ._syntax import syntax_error
from ._triples import TripleReader

if TYPE_CHECKING:
    from rdflib.term import Node

# PN_PREFIX of the SPARQL grammar: a letter, then letters, digits, '_', '-', '.' (not last).
_NAME_CHAR = r"[\w\-\u00B7\u0300-\u036F\u203F-\u2040]"
_PREFIX_NAME = re.compile(rf"[^\W\d_](?:(?:{_NAME_CHAR}|\.)*{_NAME_CHAR})?")


def parse_graph_pattern(
    pattern: str,
    prefixes: Mapping[str, str] | None = None,
    *,
    ki_name: str | None = None,
) -> GraphPattern:
    """Parse and check a basic graph pattern the way the Knowledge Engine does.

    Args:
        pattern: Triples in SPARQL syntax, such as ``?tree ex:height ?height .``.
        prefixes: Prefix names (without the colon) and their namespace IRIs, for the prefixed
            names in ``pattern``. No prefix is predefined.
        ki_name: The knowledge interaction the pattern belongs to, named in any error.

    Returns:
        The parsed pattern.

    Raises:
        GraphPatternError: The pattern is empty or blank, is not valid SPARQL (the error
            gives the line and column in ``pattern``), uses a prefix that ``prefixes`` does
            not define, uses an IRI that is not absolute (the error says why, as
            `km_core.terms.iri_problem` does), or contains anything but triples: FILTER,
            OPTIONAL, UNION, MINUS, BIND, VALUES, GRAPH, SERVICE, a nested group or subquery,
            a property path or a blank node. Also raised when ``prefixes`` does not map
            prefix names to strings.
    """
    given: object = pattern
    if not isinstance(given, str):
        raise GraphPatternError(
            f"a graph pattern must be a string, not {type(given).__name__}",
            pattern=repr(given),
            ki_name=ki_name,
        )
    report = Report(pattern, ki_name)
    namespaces = _check_prefixes(prefixes, report)
    if not pattern.strip():
        raise report.error("the graph pattern is empty")
    grammar = sparql_grammar()
    source = Source(pattern, report)
    try:
        triples = _parse(source, namespaces, grammar, report)
    except GraphPatternError:
        raise
    except RecursionError:
        raise report.error("the graph pattern is too long or too deeply nested to read") from None
    except Exception as exc:  # anything rdflib or pyparsing did not foresee
        raise report.error(
            f"the graph pattern cannot be read ({type(exc).__name__}: {exc})"
        ) from exc
    variables = frozenset(str(term) for triple in triples for term in triple if _is_variable(term))
    return GraphPattern(
        text=pattern,
        prefixes=MappingProxyType(dict(namespaces)),
        triples=tuple(triples),
        variables=variables,
    )


def _check_prefixes(prefixes: object, report: Report) -> dict[str, str]:
    """The prefix map as a plain dict, after checking it maps prefix names to strings."""
    if prefixes is None:
        return {}
    if not isinstance(prefixes, Mapping):
        raise report.error(
            "prefixes must be a mapping of prefix names to namespace IRIs, "
            f"not {type(prefixes).__name__}"
        )
    items: Iterable[tuple[object, object]] = prefixes.items()
    namespaces: dict[str, str] = {}
    for name, namespace in items:
        if not isinstance(name, str) or not isinstance(namespace, str):
            raise report.error(
                "prefixes must map prefix names (str) to namespace IRIs (str), "
                f"but has {name!r}: {namespace!r}"
            )
        if name and not _PREFIX_NAME.fullmatch(name):
            bare = name.rstrip(":")
            hint = (
                f"; write it without the colon: {bare!r}"
                if bare != name and _PREFIX_NAME.fullmatch(bare)
                else ""
            )
            raise report.error(f"{name!r} in prefixes is not a valid prefix name{hint}")
        namespaces[name] = namespace
    return namespaces


def _parse(
    source: Source, namespaces: dict[str, str], grammar: Grammar, report: Report
) -> list[tuple[Node, Node, Node]]:
    """Parse the pattern and read its triples."""
    from pyparsing import ParseBaseException

    try:
        parsed = grammar.pattern.parse_string(source.text, parse_all=True)
    except ParseBaseException as exc:
        raise syntax_error(exc, source, grammar, report) from None
    return TripleReader(namespaces, report).read(parsed[0])


def _is_variable(term: object) -> bool:
    from rdflib.term import Variable

    return isinstance(term, Variable)
