"""Binding values as the Knowledge Engine reads them, checks them and writes them back.

The KE reads each binding value with its RDF library's node syntax and writes it back in full:

- an IRI in angle brackets stays as written, relative ones too (``<oak>``);
- a prefixed name is expanded with the library's built-in prefixes (``rdf:type``,
  ``ex:oak`` for ``http://example.org/oak``, ``:oak`` for ``http://example/oak``); a prefix it
  does not know makes the whole name an IRI (``vocab:oak`` is ``<vocab:oak>``);
- a literal keeps its lexical form; ``xsd:string`` is dropped, a prefixed datatype expanded,
  a language tag put in its canonical case (``en-gb`` is ``en-GB``);
- ``true``, ``false`` and bare numbers become typed literals;
- every blank node is a fresh one: each occurrence in a binding set it hands on gets its own
  label, ``_:b0``, ``_:b1``..., so a blank node never fits one that was sent.

Messages about a binding name it the way the KE's library prints one:
``{?t=http://example.org/oak, ?h="21"^^xsd:integer}``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any, Final

from km_core import BindingSet, KnowledgeEngineResponseError
from km_core.terms import XSD, XSD_STRING, escape, parse_term, split_literal

__all__ = [
    "BUILT_IN_PREFIXES",
    "check_binding_set",
    "is_blank_node",
    "read_value",
    "relabel_blank_nodes",
    "write_binding",
]

BUILT_IN_PREFIXES: Final[Mapping[str, str]] = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": XSD,
    "owl": "http://www.w3.org/2002/07/owl#",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "skosxl": "http://www.w3.org/2008/05/skos-xl#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "dcterms": "http://purl.org/dc/terms/",
    "dctypes": "http://purl.org/dc/dcmitype/",
    "fn": "http://www.w3.org/2005/xpath-functions#",
    "op": "http://www.w3.org/2005/xpath-functions#",
    "math": "http://www.w3.org/2005/xpath-functions/math#",
    "fns": "http://www.w3.org/ns/sparql#",
    "afn": "http://jena.apache.org/ARQ/function#",
    "apf": "http://jena.apache.org/ARQ/procedure#",
    "agg": "http://jena.apache.org/ARQ/function/aggregate#",
    "list": "http://jena.apache.org/ARQ/list#",
    "ex": "http://example.org/",
    "ns": "http://example.org/ns#",
    "": "http://example/",
}
"""The prefixes the KE's parser of binding values knows without any declaration."""

_IRI_TEXT = re.compile(r'[^\s<>"{}|\\^`\x00-\x1f\x7f]*')
_PREFIXED_NAME = re.compile(r'([A-Za-z][\w.\-]*)?:([^\s<>"{}|\\^`\x00-\x1f\x7f]*)')
_LANG_TAG = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
_NOT_A_VALUE = "Variable values should not be null and follow SPARQL literal/iri syntax."


def _expand(name: str) -> str | None:
    """The IRI a prefixed name stands for, or ``None`` when ``name`` is not one."""
    found = _PREFIXED_NAME.fullmatch(name)
    if found is None:
        return None
    prefix, local = found.group(1) or "", found.group(2)
    namespace = BUILT_IN_PREFIXES.get(prefix)
    return namespace + local if namespace is not None else name


def _lang_case(tag: str) -> str:
    """A language tag in its canonical case: ``en-GB``, ``zh-Hant-TW``, ``de-CH-1996``."""
    first, *rest = tag.split("-")
    parts = [first.lower()]
    private = first.lower() == "x"
    for part in rest:
        if private or len(part) == 1:
            private = private or part.lower() == "x"
            parts.append(part.lower())
        elif len(part) == 2:
            parts.append(part.upper())
        elif len(part) == 4 and part.isalpha():
            parts.append(part.title())
        else:
            parts.append(part.lower())
    return "-".join(parts)


def _datatype(written: str, text: str) -> str:
    if written.startswith("<") and written.endswith(">") and _IRI_TEXT.fullmatch(written[1:-1]):
        return written[1:-1]
    expanded = _expand(written)
    if expanded is None:
        raise ValueError(f"{text!r} has an unreadable datatype {written!r}")
    return expanded


def _literal(text: str) -> str:
    lexical, suffix = split_literal(text)
    if not suffix:
        return f'"{escape(lexical)}"'
    if suffix.startswith("^^"):
        datatype = _datatype(suffix[2:], text)
        if datatype == XSD_STRING:
            return f'"{escape(lexical)}"'
        return f'"{escape(lexical)}"^^<{datatype}>'
    if suffix[0] == "@" and _LANG_TAG.fullmatch(suffix[1:]):
        return f'"{escape(lexical)}"@{_lang_case(suffix[1:])}'
    raise ValueError(f"{text!r} has an unreadable suffix {suffix!r} after its closing quote")


def read_value(text: str) -> str:
    """A binding value as the KE writes it back after reading it.

    Raises:
        ValueError: the KE cannot read ``text`` as an RDF term; the message says why.
    """
    if not text:
        raise ValueError("an empty string is not an RDF term")
    first = text[0]
    if first == "<":
        if text[-1] != ">" or _IRI_TEXT.fullmatch(text[1:-1]) is None:
            raise ValueError(f"{text!r} is not an IRI in angle brackets")
        return text
    if first == '"':
        return _literal(text)
    if text.startswith("_:") and len(text) > 2:
        return text
    expanded = _expand(text)
    if expanded is not None:
        return f"<{expanded}>"
    term = parse_term(text)  # true, false and bare numbers; raises for anything else
    return f'"{escape(term.value)}"^^<{term.datatype}>'


def is_blank_node(text: str) -> bool:
    """Whether a value (as `read_value` writes it) is a blank node."""
    return text.startswith("_:")


def relabel_blank_nodes(binding_set: BindingSet) -> BindingSet:
    """The bindings with every blank node made fresh: ``_:b0``, ``_:b1``... by occurrence."""
    if not any(is_blank_node(v) for binding in binding_set for v in binding.values()):
        return binding_set
    count = 0
    relabelled: BindingSet = []
    for binding in binding_set:
        fresh: dict[str, str] = {}
        for key, value in binding.items():
            if is_blank_node(value):
                value = f"_:b{count}"
                count += 1
            fresh[key] = value
        relabelled.append(fresh)
    return relabelled


def _jena_term(value: str) -> str:
    """One value as the KE's library prints it inside a message."""
    if value.startswith("<") and value.endswith(">"):
        return value[1:-1]
    if is_blank_node(value):
        return f"_:{uuid.uuid4()}"  # the node the answer made is a fresh one
    datatype = value.rpartition('"^^<')[2] if value.endswith(">") else ""
    if datatype:
        lexical = value[: -len(datatype) - 3]
        iri = datatype[:-1]
        return f"{lexical}^^xsd:{iri[len(XSD) :]}" if iri.startswith(XSD) else f"{lexical}^^{iri}"
    return value


def write_binding(binding: Mapping[str, str]) -> str:
    """A binding the way the KE's messages print it: ``{?t=http://example.org/oak, ?h="1"}``."""
    return "{" + ", ".join(f"?{key}={_jena_term(v)}" for key, v in binding.items()) + "}"


def _bad_request(message: str) -> KnowledgeEngineResponseError:
    return KnowledgeEngineResponseError(message, status_code=400)


def check_binding_set(binding_set: Any) -> BindingSet:
    """The KE's checks of a binding set sent to ``/sc/ask``, ``/sc/post`` or ``/sc/handle``.

    Returns:
        The bindings with their values as the KE writes them back (see `read_value`).

    Raises:
        KnowledgeEngineResponseError: 400, with the KE's message, for anything but a list of
            objects that map variable names to RDF terms.
    """
    if not isinstance(binding_set, list):
        raise _bad_request("The BindingSet should be a valid JSON array with Bindings.")
    return [_check_binding(binding) for binding in binding_set]


def _check_binding(binding: Any) -> dict[str, str]:
    if binding is None:
        raise _bad_request("Bindings must be non-null.")
    if not isinstance(binding, dict):
        raise _bad_request("The BindingSet should be a valid JSON array with Bindings.")
    checked: dict[str, str] = {}
    for key, value in binding.items():
        if not isinstance(key, str) or key.startswith("?"):
            raise _bad_request("Variable names should not be null or start with a question mark.")
        if value is None:
            raise _bad_request(_NOT_A_VALUE)
        if isinstance(value, list | dict):  # never written out: it may nest a thousand deep
            raise _bad_request("The BindingSet should be a valid JSON array with Bindings.")
        text = (
            value
            if isinstance(value, str)
            else str(value).lower()
            if isinstance(value, bool)
            else str(value)
        )
        if text.startswith("?"):
            raise _bad_request(
                "Binding values should be concrete nodes (either RDF literals or RDF URIs)."
            )
        try:
            checked[key] = read_value(text)
        except ValueError as exc:
            raise _bad_request(f"{_NOT_A_VALUE} {exc}") from exc
    return checked
