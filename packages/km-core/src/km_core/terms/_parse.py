"""RDF terms in the KE's text form: reading them (`parse_term`, `unreadable`) and writing literals.

On the wire every binding value is one RDF term written as text: ``<http://ex.org/a>``,
``"abc"``, ``"abc"@en``, ``"12"^^<http://www.w3.org/2001/XMLSchema#integer>``, and the KE's bare
forms ``12``, ``21.5``, ``1e3`` and ``true``. This module parses that text into a `Term` and
writes a literal back.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ._escape import escape, unescape
from ._iri import is_absolute_iri
from ._lexical import DECIMAL, INTEGER
from ._namespaces import (
    BUILT_IN_PREFIXES,
    XSD_BOOLEAN,
    XSD_DECIMAL,
    XSD_DOUBLE,
    XSD_INTEGER,
    XSD_STRING,
)

LANG_TAG = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
_BARE_DOUBLE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][+-]?[0-9]+")
# A quoted literal: the lexical form (no bare quote, no lone trailing backslash), then a suffix.
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"(.*)', re.DOTALL)


class Term(NamedTuple):
    """One parsed RDF term."""

    kind: str  # "iri", "literal" or "bnode"
    value: str  # the IRI, the literal's lexical form (unescaped), or the blank node label
    datatype: str | None = None  # literals only; None for plain and language-tagged ones
    lang: str | None = None


def split_literal(text: str) -> tuple[str, str]:
    """A quoted literal's lexical form (unescaped) and what follows its closing quote.

    Raises:
        ValueError: ``text`` is not a quoted literal.
    """
    quoted = _QUOTED.fullmatch(text)
    if quoted is None:
        raise ValueError(f"{text!r} is not a quoted literal (a bare quote, or no closing one)")
    return unescape(quoted.group(1)), quoted.group(2)


def parse_term(text: str) -> Term:
    """Parse one RDF term in the KE's text form.

    Raises:
        ValueError: ``text`` is not an RDF term.
    """
    if not text:
        raise ValueError("an empty string is not an RDF term")
    first = text[0]
    if first == "<":
        if text[-1] != ">" or not is_absolute_iri(text[1:-1]):
            raise ValueError(f"{text!r} is not an absolute IRI in angle brackets")
        return Term("iri", text[1:-1])
    if first == '"':
        lexical, suffix = split_literal(text)
        if not suffix:
            return Term("literal", lexical)
        if suffix.startswith("^^"):
            return Term("literal", lexical, _datatype_iri(suffix[2:], text))
        if suffix[0] == "@" and LANG_TAG.fullmatch(suffix[1:]):
            return Term("literal", lexical, None, suffix[1:])
        raise ValueError(f"{text!r} has an unreadable suffix {suffix!r} after its closing quote")
    if text.startswith("_:") and len(text) > 2:
        return Term("bnode", text[2:])
    if text in ("true", "false"):
        return Term("literal", text, XSD_BOOLEAN)
    if INTEGER.fullmatch(text):
        return Term("literal", text, XSD_INTEGER)
    if DECIMAL.fullmatch(text):
        return Term("literal", text, XSD_DECIMAL)
    if _BARE_DOUBLE.fullmatch(text):
        return Term("literal", text, XSD_DOUBLE)
    raise ValueError(f'{text!r} is not an RDF term (an <IRI>, a "literal" or a number)')


_IRI_TEXT = re.compile(r'[^\s<>"{}|\\^`\x00-\x1f\x7f]*')
_PREFIXED_NAME = re.compile(r'(?:[A-Za-z][\w.\-]*)?:[^\s<>"{}|\\^`\x00-\x1f\x7f]*')


def unreadable(text: str) -> str | None:
    """Why the KE cannot read ``text`` as a binding value, or ``None`` when it can.

    The KE reads more than `parse_term` does: relative IRIs in angle brackets, prefixed names
    (``rdf:type``; a prefix it does not know makes the name an IRI as written) and prefixed
    datatypes. What it cannot read it answers with a 500 and no reason, so check first.
    """
    first = text[:1]
    if first == "<":
        if text[-1] == ">" and _IRI_TEXT.fullmatch(text, 1, len(text) - 1):
            return None
        return "an IRI in angle brackets holds no spaces, quotes or other angle brackets"
    if first == '"':
        quoted = _QUOTED.fullmatch(text)
        if quoted is None:
            return 'a literal needs its closing quote, and quotes inside it escaped as \\"'
        suffix = quoted.group(2)
        if (
            not suffix
            or (suffix[0] == "@" and LANG_TAG.fullmatch(suffix, 1))
            or (suffix.startswith("^^") and unreadable(suffix[2:]) is None and suffix[2] != '"')
        ):
            return None
        return f"{suffix!r} after the closing quote is neither @language nor ^^datatype"
    if (text.startswith("_:") and len(text) > 2) or _PREFIXED_NAME.fullmatch(text):
        return None
    try:
        parse_term(text)
    except ValueError:
        return "it is not an <IRI>, a quoted literal, a prefixed name, a number, true or false"
    return None


_DATATYPES_SEEN: dict[str, str] = {}


def _datatype_iri(written: str, text: str) -> str:
    known = _DATATYPES_SEEN.get(written)
    if known is not None:
        return known
    if written.startswith("<") and written.endswith(">") and is_absolute_iri(written[1:-1]):
        iri = written[1:-1]
    else:
        prefix, _, local = written.partition(":")
        if prefix not in BUILT_IN_PREFIXES or not local:
            raise ValueError(f"{text!r} has an unreadable datatype {written!r}")
        iri = BUILT_IN_PREFIXES[prefix] + local
    if len(_DATATYPES_SEEN) < 1024:  # few datatypes recur; bound the memo all the same
        _DATATYPES_SEEN[written] = iri
    return iri


def write_literal(lexical: str, datatype: str | None = None) -> str:
    """A quoted literal, with its datatype unless it is a plain string."""
    if datatype is None or datatype == XSD_STRING:
        return f'"{escape(lexical)}"'
    return f'"{escape(lexical)}"^^<{datatype}>'
