"""Reading the triples out of rdflib's parse tree, and refusing all that is not a plain triple.

Prefixed names are resolved here, against the given prefixes only: like the KE, and unlike
rdflib, no prefix (not even ``rdf:`` or ``xsd:``) is predefined. IRIs must be absolute; FILTER,
OPTIONAL, UNION and the other constructs, property paths and blank nodes are refused by name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from km_core._errors import GraphPatternError
from km_core.terms import XSD_STRING, iri_problem

from ._source import Report

if TYPE_CHECKING:
    from rdflib.term import Literal, Node, URIRef

# A reserved character escaped in the local part of a prefixed name, like ex:a\.b.
_LOCAL_ESCAPE = re.compile(r"\\(.)")

# The label rdflib gives the blank node of a '[]', '[ ... ]' or '( ... )'.
_GENERATED_BLANK_NODE = re.compile(r"N[0-9a-f]{32}")

# Prefixes some tools predefine; the KE (and this module) does not.
_WELL_KNOWN_PREFIXES = frozenset({"rdf", "rdfs", "xsd", "owl"})

# The constructs that may stand between triples in SPARQL, by rdflib's name for them.
_CONSTRUCTS = {
    "Filter": "FILTER",
    "OptionalGraphPattern": "OPTIONAL",
    "MinusGraphPattern": "MINUS",
    "GraphGraphPattern": "GRAPH",
    "ServiceGraphPattern": "SERVICE",
    "Bind": "BIND",
    "InlineData": "VALUES",
}

_ONLY_TRIPLES = (
    "a graph pattern may contain only triples ('subject predicate object', separated by ' . ')"
)


class TripleReader:
    """Reads the triples out of rdflib's parse tree, rejecting everything that is no triple."""

    def __init__(self, namespaces: dict[str, str], report: Report) -> None:
        self._namespaces = namespaces
        self._report = report

    def read(self, group: object) -> list[tuple[Node, Node, Node]]:
        """The triples of the parsed pattern, in the order written."""
        if _comp_name(group) == "SubSelect":
            raise self._report.error(f"a subquery (SELECT) is not allowed: {_ONLY_TRIPLES}")
        triples: list[tuple[Node, Node, Node]] = []
        for part in _comp_list(group, "part"):
            name = _comp_name(part)
            if name == "TriplesBlock":
                for terms in _comp_list(part, "triples"):
                    triples += self._triples(terms)
            else:
                raise self._report.error(f"{_describe(part)} is not allowed: {_ONLY_TRIPLES}")
        if not triples:
            raise self._report.error("the graph pattern contains no triples")
        return triples

    def _triples(self, terms: object) -> list[tuple[Node, Node, Node]]:
        """The triples of one statement, which rdflib gives as one flat list of terms."""
        flat = list(terms) if isinstance(terms, Iterable) else []
        if not flat or len(flat) % 3:
            raise self._report.error("the graph pattern cannot be read as triples")
        return [
            (self._term(flat[i]), self._predicate(flat[i + 1]), self._term(flat[i + 2]))
            for i in range(0, len(flat), 3)
        ]

    def _predicate(self, path: object) -> Node:
        """The predicate, which the grammar reads as a property path of one step."""
        while True:
            name = _comp_name(path)
            if name in ("PathAlternative", "PathSequence"):
                steps = _comp_list(path, "part")
                if len(steps) != 1:
                    operator = "|" if name == "PathAlternative" else "/"
                    raise self._path_error(f"'{operator}'")
                path = steps[0]
            elif name == "PathElt":
                if _comp_get(path, "mod") is not None:
                    raise self._path_error(f"'{_comp_get(path, 'mod')}'")
                path = _comp_get(path, "part")
            elif name == "PathEltOrInverse":
                raise self._path_error("'^' (inverse)")
            elif name == "PathNegatedPropertySet":
                raise self._path_error("'!' (negated)")
            elif name == "DistinctPath":
                raise self._path_error("DISTINCT")
            else:
                return self._term(path)

    def _path_error(self, operator: str) -> GraphPatternError:
        return self._report.error(
            f"a property path with {operator} is not allowed: {_ONLY_TRIPLES}; write each step "
            "of a path as a triple of its own, joined to the next by a variable"
        )

    def _term(self, term: object) -> Node:
        """One term of a triple, with prefixed names expanded and literals built."""
        from rdflib.term import BNode, Literal, URIRef, Variable

        if isinstance(term, Variable | Literal):
            return term
        if isinstance(term, URIRef):
            return self._checked_iri(str(term))
        if isinstance(term, BNode):
            raise self._blank_node_error(term)
        name = _comp_name(term)
        if name == "pname":
            return self._expand(term)
        if name == "literal":
            return self._literal(term)
        raise self._report.error(f"{term!r} cannot be used in a triple")

    def _expand(self, pname: object) -> URIRef:
        """The IRI of a prefixed name, from the given prefixes only."""
        prefix = str(_comp_get(pname, "prefix") or "")
        local = str(_comp_get(pname, "localname") or "")
        namespace = self._namespaces.get(prefix)
        if namespace is None:
            written = f"{prefix}:{local}"
            if prefix:
                note = f"; no prefix is predefined, not even {prefix!r}" * (
                    prefix in _WELL_KNOWN_PREFIXES
                )
                raise self._report.error(
                    f"undefined prefix {prefix!r} (in {written!r}): add {prefix!r} and its "
                    f"namespace IRI to prefixes{note}"
                )
            raise self._report.error(
                f"undefined default prefix ':' (in {written!r}): add the key '' and its "
                "namespace IRI to prefixes"
            )
        iri = namespace + _LOCAL_ESCAPE.sub(r"\1", local)
        return self._checked_iri(iri, prefix=prefix)

    def _checked_iri(self, iri: str, prefix: str | None = None) -> URIRef:
        """The IRI as an rdflib term, if it is absolute and can be written as ``<...>``."""
        from rdflib.term import URIRef

        problem = iri_problem(iri)
        if problem is not None:
            if prefix is not None:
                raise self._report.error(
                    f"prefix {prefix!r} expands to {iri!r}, which is not an absolute IRI: "
                    f"{problem}; check its namespace in prefixes"
                )
            raise self._report.error(
                f"<{iri}> is not an absolute IRI: {problem}; the Knowledge Engine needs "
                "absolute IRIs, such as <http://example.org/thing>"
            )
        return URIRef(iri)

    def _literal(self, literal: object) -> Literal:
        """A quoted literal, with its language tag or its datatype."""
        from rdflib.term import Literal, URIRef

        lexical = str(_comp_get(literal, "string"))
        language = _comp_get(literal, "lang")
        if language is not None:
            return Literal(lexical, lang=str(language))
        written_type = _comp_get(literal, "datatype")
        if written_type is None:
            return Literal(lexical)
        datatype = self._term(written_type)
        if not isinstance(datatype, URIRef):
            raise self._report.error(f"the datatype of literal {lexical!r} is not an IRI")
        if str(datatype) == XSD_STRING:  # in RDF 1.1 "abc"^^xsd:string is "abc"
            return Literal(lexical)
        return Literal(lexical, datatype=datatype)

    def _blank_node_error(self, node: object) -> GraphPatternError:
        label = str(node)
        if _GENERATED_BLANK_NODE.fullmatch(label):
            found = "an anonymous blank node ('[]', '[ ... ]' or a collection '( ... )')"
            instead = "a variable"
        else:
            found = f"blank node '_:{label}'"
            instead = f"a variable such as '?{label}'"
        return self._report.error(
            f"{found} is not allowed in a graph pattern: use {instead} instead"
        )


def _describe(part: object) -> str:
    """What a construct between triples is, in words, for an error message."""
    name = _comp_name(part)
    if name in _CONSTRUCTS:
        return _CONSTRUCTS[name]
    if name == "GroupOrUnionGraphPattern":
        groups = _comp_list(part, "graph")
        if len(groups) > 1:
            return "UNION"
        if groups and _comp_name(groups[0]) == "SubSelect":
            return "a subquery (SELECT)"
        return "a nested group '{ ... }'"
    return f"a {name or 'construct'}"


def _comp_name(node: object) -> str | None:
    """The grammar rule an rdflib parse-tree node comes from, or None for a term."""
    from rdflib.plugins.sparql.parserutils import CompValue

    return node.name if isinstance(node, CompValue) else None


def _comp_get(node: object, key: str) -> object:
    """A value of an rdflib parse-tree node, or None."""
    # CompValue.get returns the key itself when it is missing, so go to the dict directly.
    return dict.get(node, key) if isinstance(node, dict) else None


def _comp_list(node: object, key: str) -> list[object]:
    """A repeated value of an rdflib parse-tree node, as a list."""
    value = _comp_get(node, key)
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]
