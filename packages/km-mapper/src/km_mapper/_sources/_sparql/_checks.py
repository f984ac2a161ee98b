"""Checking a configured query or update at startup, with rdflib's SPARQL 1.1 parser.

The text is parsed, never run, so a ``SERVICE`` or ``LOAD`` in it reaches nobody at startup.
A query must be a SELECT that projects exactly the graph pattern's variables and takes a
trailing VALUES clause; an update must still parse with its ``# values`` line replaced by one.
Servers that accept more than SPARQL 1.1 (extension syntax) are held to SPARQL 1.1 here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from rdflib.plugins.sparql import prepareQuery
from rdflib.plugins.sparql.algebra import translateUpdate
from rdflib.plugins.sparql.parser import parseUpdate
from rdflib.plugins.sparql.parserutils import CompValue

from ._queries import VALUES_MARKER, values_clause

__all__ = ["check_select", "check_update"]

_SPACES = re.compile(r"\s+")
_KINDS = {
    "AskQuery": "an ASK query",
    "ConstructQuery": "a CONSTRUCT query",
    "DescribeQuery": "a DESCRIBE query",
}


def _reason(exc: Exception) -> str:
    return _SPACES.sub(" ", str(exc)).strip() or type(exc).__name__


def _parse_query(text: str, prefixes: Mapping[str, str]) -> CompValue:
    return prepareQuery(text, initNs=dict(prefixes)).algebra


def check_select(query: str, prefixes: Mapping[str, str], variables: Sequence[str]) -> None:
    """Check a configured ANSWER query.

    Raises:
        ValueError: it does not parse, is no SELECT, projects other variables than the graph
            pattern's, or cannot take a trailing VALUES clause; the message says which.
    """
    try:
        algebra = _parse_query(query, prefixes)
    except Exception as exc:  # rdflib raises pyparsing's errors and plain Exceptions
        raise ValueError(f"it is not a SPARQL 1.1 query: {_reason(exc)}") from None
    name = str(algebra.name)
    if name != "SelectQuery":
        kind = _KINDS.get(name, "not a SELECT query")
        raise ValueError(f"it is {kind}; an ANSWER needs a SELECT query")
    projected = {str(variable) for variable in algebra.get("PV") or ()}
    wanted = set(variables)
    if projected != wanted:
        problems = []
        if wanted - projected:
            names = ", ".join(f"?{name}" for name in sorted(wanted - projected))
            problems.append(f"it does not select {names} of the graph pattern")
        if projected - wanted:
            names = ", ".join(f"?{name}" for name in sorted(projected - wanted))
            problems.append(f"it selects {names}, which the graph pattern does not have")
        raise ValueError(
            "; ".join(problems) + ": select exactly the graph pattern's variables "
            "(SELECT * selects every variable in the WHERE group)"
        )
    sample = values_clause(variables, [(None,) * len(variables)])
    try:
        _parse_query(f"{query.rstrip()}\n{sample}", prefixes)
    except Exception as exc:
        raise ValueError(
            "it cannot take the VALUES clause of the incoming bindings after its end "
            f"({_reason(exc)}); if it ends with a VALUES clause of its own, move that into "
            "its WHERE group"
        ) from None


def check_update(update: str, prefixes: Mapping[str, str], variables: Sequence[str]) -> None:
    """Check a configured REACT update, its ``# values`` line replaced by a VALUES clause.

    Raises:
        ValueError: it does not parse, as written or with the VALUES clause in place of the
            marker line (which then stands outside a WHERE group).
    """
    try:
        translateUpdate(parseUpdate(update), initNs=dict(prefixes))
    except Exception as exc:
        raise ValueError(f"it is not a SPARQL 1.1 update: {_reason(exc)}") from None
    filled = VALUES_MARKER.sub(lambda _: values_clause(variables, []), update, count=1)
    try:
        translateUpdate(parseUpdate(filled), initNs=dict(prefixes))
    except Exception as exc:
        raise ValueError(
            "its '# values' line must stand inside a WHERE group, where a VALUES clause may "
            f"stand: with the clause in its place, it does not parse ({_reason(exc)})"
        ) from None
