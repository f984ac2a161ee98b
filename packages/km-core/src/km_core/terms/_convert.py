"""The converters of binding-model fields: one per supported type, between values and terms.

`converter_for` picks the converter of a field's type (or of its `Datatype`); `check_bindable`
writes a value with it, turning failures into `BindingValidationError`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from km_core._errors import BindingValidationError, ConfigurationError

from ._escape import escape, unescape
from ._iri import is_absolute_iri
from ._lexical import LEXICAL
from ._namespaces import (
    FLOAT_TYPES,
    INTEGER_TYPES,
    XSD,
    XSD_BOOLEAN,
    XSD_DATE,
    XSD_DATETIME,
    XSD_DECIMAL,
    XSD_DOUBLE,
    XSD_INTEGER,
    XSD_STRING,
    XSD_TIME,
)
from ._parse import Term, parse_term, write_literal
from ._values import IRI, Datatype, LangString, RDFTerm, TypedLiteral


class Converter(NamedTuple):
    """How one Python type is read from and written to RDF terms."""

    describe: str  # what the field accepts, for error messages
    parse: Callable[[str], Any]
    write: Callable[[Any], str]


def _literal(text: str) -> Term:
    term = parse_term(text)
    if term.kind != "literal":
        raise ValueError(f"{text!r} is not a literal")
    return term


def _datatype_name(term: Term) -> str:
    if term.lang:
        return f"a string tagged @{term.lang}"
    return f"<{term.datatype}>" if term.datatype else "a plain string"


def _check_datatype(text: str, term: Term, accepted: frozenset[str], what: str) -> None:
    if term.lang is not None or (term.datatype or XSD_STRING) not in accepted:
        raise ValueError(f"{text!r} is {_datatype_name(term)}, not {what}")


# -- one converter per supported type


def _parse_iri(text: str) -> IRI:
    iri = text[1:-1]
    if text[:1] != "<" or text[-1:] != ">" or not is_absolute_iri(iri):
        raise ValueError(f"{text!r} is not an absolute IRI in angle brackets")
    return str.__new__(IRI, iri)


def _typed(python: type, accepted: frozenset[str], datatype: str, what: str) -> Converter:
    from_lexical, to_lexical = LEXICAL[python]
    tail = f'"^^<{datatype}>'

    def parse(text: str) -> Any:
        if text.endswith(tail) and text[:1] == '"':
            # The form the KE itself writes: skip the general parser.
            return from_lexical(unescape(text[1 : -len(tail)]))
        term = _literal(text)
        _check_datatype(text, term, accepted, what)
        return from_lexical(term.value)

    def write(value: Any) -> str:
        return f'"{to_lexical(value)}"^^<{datatype}>'

    return Converter(what, parse, write)


def _parse_str(text: str) -> str:
    term = _literal(text)
    _check_datatype(text, term, frozenset({XSD_STRING}), "a plain string")
    return term.value


def _write_str(value: str) -> str:
    return f'"{escape(value)}"'


def _parse_lang_string(text: str) -> LangString:
    term = _literal(text)
    if term.lang is None:
        raise ValueError(f"{text!r} is {_datatype_name(term)}, not a language-tagged string")
    # parse_term checked the tag already; skip LangString's own check of it.
    result = object.__new__(LangString)
    object.__setattr__(result, "value", term.value)
    object.__setattr__(result, "lang", term.lang)
    return result


def _parse_typed_literal(text: str) -> TypedLiteral:
    term = _literal(text)
    if term.lang is not None:
        raise ValueError(f"{text!r} is language-tagged; use LangString for it")
    return TypedLiteral(term.value, term.datatype or XSD_STRING)


def _write_any(value: Any) -> str:
    if isinstance(value, IRI):
        return value.term
    if isinstance(value, LangString | TypedLiteral | RDFTerm):
        return str(value)
    if isinstance(value, str):
        parse_term(value)  # raises unless the text is an RDF term
        return value
    raise TypeError(f"a {type(value).__name__} is not an RDF term in text")


_CONVERTERS: dict[Any, Converter] = {
    IRI: Converter("an IRI", _parse_iri, lambda value: f"<{value}>"),
    RDFTerm: Converter("any RDF term", RDFTerm, _write_any),
    Any: Converter("any RDF term", RDFTerm, _write_any),
    LangString: Converter("a language-tagged string", _parse_lang_string, str),
    TypedLiteral: Converter("a literal", _parse_typed_literal, str),
    str: Converter("a plain string", _parse_str, _write_str),
    bool: _typed(bool, frozenset({XSD_BOOLEAN}), XSD_BOOLEAN, "an xsd:boolean"),
    int: _typed(int, INTEGER_TYPES, XSD_INTEGER, "an xsd:integer"),
    float: _typed(
        float,
        FLOAT_TYPES | INTEGER_TYPES | {XSD_DECIMAL},
        XSD_DOUBLE,
        "a number (xsd:double, xsd:decimal or xsd:integer)",
    ),
    Decimal: _typed(
        Decimal,
        INTEGER_TYPES | {XSD_DECIMAL},
        XSD_DECIMAL,
        "an xsd:decimal or xsd:integer",
    ),
    dt.datetime: _typed(
        dt.datetime,
        frozenset({XSD_DATETIME, XSD + "dateTimeStamp"}),
        XSD_DATETIME,
        "an xsd:dateTime",
    ),
    dt.date: _typed(dt.date, frozenset({XSD_DATE}), XSD_DATE, "an xsd:date"),
    dt.time: _typed(dt.time, frozenset({XSD_TIME}), XSD_TIME, "an xsd:time"),
}


def _custom_datatype(python: Any, datatype: str) -> Converter:
    if python not in LEXICAL:
        raise ConfigurationError(
            f"Datatype({datatype!r}) needs a field of type str, int, float, Decimal, bool, "
            f"datetime, date or time, not {python!r}"
        )
    from_lexical, to_lexical = LEXICAL[python]
    what = f"a literal of datatype <{datatype}>"

    def parse(text: str) -> Any:
        term = _literal(text)
        if term.lang is not None or (term.datatype or XSD_STRING) != datatype:
            raise ValueError(f"{text!r} is {_datatype_name(term)}, not {what}")
        return from_lexical(term.value)

    def write(value: Any) -> str:
        return write_literal(to_lexical(value), datatype)

    return Converter(what, parse, write)


def converter_for(python: Any, metadata: list[Any]) -> Converter | None:
    """The converter of a field type (``Optional`` already removed), or ``None``."""
    for item in metadata:
        if isinstance(item, Datatype):
            return _custom_datatype(python, item.iri)
    return _CONVERTERS.get(python)


def short_repr(value: Any, limit: int = 200) -> str:
    """``repr(value)``, cut to ``limit`` characters, and safe for values too big to print."""
    try:
        text = repr(value)
    except ValueError:  # an int beyond the interpreter's digit limit
        return f"<a {type(value).__name__} too large to print>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_bindable(value: Any, converter: Converter, variable: str) -> str:
    """Write ``value`` with ``converter``, turning failures into BindingValidationError."""
    try:
        return converter.write(value)
    except (TypeError, ValueError, OverflowError, InvalidOperation) as exc:
        raise BindingValidationError(
            f"variable {variable!r}: cannot write {short_repr(value)} as {converter.describe}: "
            f"{exc}"
        ) from exc
