"""RDF terms crossing between the Knowledge Engine's text form and SPARQL's, always rewritten.

A binding value from the network is parsed into its parts (`km_core.terms.parse_term`), checked,
and written anew from those parts: an IRI is checked with `km_core.terms.iri_problem` (which
refuses spaces, quotes, angle brackets, braces and backslashes) and written ``<...>``; a
literal's lexical form is escaped, its language tag checked and its datatype IRI checked. No
text from the network reaches a query as it was sent, so a value cannot end a term early and
change the query around it. Blank nodes are refused: their labels mean nothing to a store.

The other way, a term of a SPARQL JSON result becomes the KE's text form, or ``None`` when the
KE could not read it (a blank node, or an IRI or language tag it would refuse).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from rdflib.term import Literal, Node, URIRef

from km_core.terms import XSD_STRING, Term, escape, iri_problem, parse_term

__all__ = ["ke_text", "read_value", "shown", "sparql_constant", "sparql_text"]

# A language tag (BCP 47, loosely), as the KE reads one.
_LANG_TAG = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
# A lone surrogate cannot be encoded as UTF-8, so no request could carry it.
_SURROGATE = re.compile("[\ud800-\udfff]")
_SHOWN = 80


def shown(text: str) -> str:
    """``text`` for a message: quoted, and cut short when long."""
    if len(text) <= _SHOWN:
        return repr(text)
    return repr(text[:_SHOWN]) + f" (cut short; {len(text)} characters)"


def read_value(text: object) -> Term:
    """A binding value from the network, parsed and checked.

    Raises:
        ValueError: it is not an RDF term, or one that a store can take: the message says why.
    """
    if not isinstance(text, str):
        raise ValueError(f"a binding value is the text of an RDF term, not {type(text).__name__}")
    try:
        term = parse_term(text)
    except ValueError as exc:
        raise ValueError(str(exc)) from None
    if term.kind == "bnode":
        raise ValueError(
            f"{shown(text)} is a blank node, which a SPARQL source cannot match or store: "
            "send an IRI instead"
        )
    if term.kind == "iri":
        problem = iri_problem(term.value)
        if problem is not None:  # parse_term checks this already; kept as the guard it is
            raise ValueError(f"{shown(text)} is not an absolute IRI: {problem}")
        return term
    if _SURROGATE.search(term.value):
        raise ValueError(f"{shown(text)} holds a lone surrogate, which no request can carry")
    if term.lang is not None and not _LANG_TAG.fullmatch(term.lang):
        raise ValueError(f"{shown(text)} has an unreadable language tag")
    if term.datatype is not None:
        problem = iri_problem(term.datatype)
        if problem is not None:
            raise ValueError(f"{shown(text)} has a datatype that is not an absolute IRI: {problem}")
    return term


def sparql_text(term: Term) -> str:
    """A checked term (from `read_value`) written for a SPARQL query or update."""
    if term.kind == "iri":
        return f"<{term.value}>"
    return _literal(term.value, term.datatype, term.lang)


def sparql_constant(node: Node) -> str:
    """An IRI or literal of a parsed graph pattern, written for a SPARQL query or update.

    Raises:
        TypeError: ``node`` is neither (a variable, say); the caller substitutes those.
    """
    if isinstance(node, URIRef):
        return f"<{node}>"
    if isinstance(node, Literal):
        datatype = None if node.datatype is None else str(node.datatype)
        return _literal(str(node), datatype, node.language)
    raise TypeError(f"{node!r} is not an IRI or a literal")


def _literal(lexical: str, datatype: str | None, lang: str | None) -> str:
    quoted = f'"{escape(lexical)}"'
    if lang is not None:
        return f"{quoted}@{lang}"
    if datatype is None or datatype == XSD_STRING:
        return quoted
    return f"{quoted}^^<{datatype}>"


def ke_text(term: Mapping[str, object]) -> str | None:
    """A term of a SPARQL JSON result in the KE's text form; ``None`` if the KE cannot take it.

    ``{"type": "uri", "value": "http://x"}`` is ``<http://x>``; a literal is ``"text"``,
    ``"text"@lang`` or ``"lexical"^^<datatype>`` (``xsd:string`` written plain). Blank nodes,
    quoted triples, and IRIs, language tags or datatypes that the KE would refuse give ``None``.

    Raises:
        ValueError: ``term`` is not a term of the SPARQL JSON results format.
    """
    kind = term.get("type")
    value = term.get("value")
    if not isinstance(value, str):
        if kind == "triple":  # RDF-star: a quoted triple, whose value is an object
            return None
        raise ValueError(f"a result term has no text 'value': {dict(term)!r}")
    if kind == "uri":
        return None if iri_problem(value) is not None else f"<{value}>"
    if kind in ("literal", "typed-literal"):  # "typed-literal": SPARQL 1.0's JSON, still seen
        lang = term.get("xml:lang")
        datatype = term.get("datatype")
        if lang is not None:
            if not isinstance(lang, str) or not _LANG_TAG.fullmatch(lang):
                return None
            return _literal(value, None, lang)
        if datatype is not None and (not isinstance(datatype, str) or iri_problem(datatype)):
            return None
        return _literal(value, datatype, None)
    if kind in ("bnode", "triple"):
        return None
    raise ValueError(f"a result term has an unknown type {kind!r}")
