"""RDF terms in the KE's text form, and their conversion to and from Python values.

On the wire every binding value is one RDF term written as text: ``<http://ex.org/a>``,
``"abc"``, ``"abc"@en``, ``"12"^^<http://www.w3.org/2001/XMLSchema#integer>``, and the KE's bare
forms ``12``, ``21.5``, ``1e3`` and ``true``. This module parses that text and writes it back,
and maps each supported Python type to and from it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, Final, NamedTuple, Self

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from ._errors import BindingValidationError, ConfigurationError

__all__ = [
    "IRI",
    "XSD",
    "Datatype",
    "LangString",
    "RDFTerm",
    "TypedLiteral",
    "is_absolute_iri",
]

XSD: Final = "http://www.w3.org/2001/XMLSchema#"
"""The XML Schema namespace, for datatype IRIs: ``XSD + "integer"``."""
RDF: Final = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XSD_STRING: Final = XSD + "string"
XSD_INTEGER: Final = XSD + "integer"
XSD_DECIMAL: Final = XSD + "decimal"
XSD_DOUBLE: Final = XSD + "double"
XSD_BOOLEAN: Final = XSD + "boolean"
XSD_DATETIME: Final = XSD + "dateTime"
XSD_DATE: Final = XSD + "date"
XSD_TIME: Final = XSD + "time"

INTEGER_TYPES: Final = frozenset(
    XSD + name
    for name in (
        "integer",
        "int",
        "long",
        "short",
        "byte",
        "nonNegativeInteger",
        "nonPositiveInteger",
        "positiveInteger",
        "negativeInteger",
        "unsignedLong",
        "unsignedInt",
        "unsignedShort",
        "unsignedByte",
    )
)
FLOAT_TYPES: Final = frozenset({XSD_DOUBLE, XSD + "float"})

# Prefixed datatypes the KE's parser knows without any prefix declaration.
_BUILT_IN_PREFIXES: Final = {
    "xsd": XSD,
    "rdf": RDF,
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
}

_ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]*")
_LANG_TAG = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_DOUBLE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?INF|NaN")
_BARE_DOUBLE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][+-]?[0-9]+")
_FRACTION = re.compile(r"(\.\d{6})\d+")
_DATE_TZ = re.compile(r"(Z|[+-]\d{2}:\d{2})$")
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}
_NEEDS_ESCAPE = re.compile(r'["\\\n\r\t\b\f]')
_UNESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.)|$)", re.DOTALL)
# A quoted literal: the lexical form (no bare quote, no lone trailing backslash), then a suffix.
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"(.*)', re.DOTALL)
_SURROGATES = re.compile("[\ud800-\udfff]")
_SIMPLE_UNESCAPES = {
    "t": "\t",
    "b": "\b",
    "n": "\n",
    "r": "\r",
    "f": "\f",
    '"': '"',
    "'": "'",
    "\\": "\\",
}


_HTTP_WITHOUT_HOST = re.compile(r"(?i)https?:(?!//[^/?#])")


def is_absolute_iri(text: str) -> bool:
    """Whether ``text`` is an absolute IRI: a scheme, a colon, no forbidden characters.

    An ``http`` or ``https`` IRI must also name a host (``https://`` alone is not an IRI).
    """
    return _ABSOLUTE_IRI.fullmatch(text) is not None and not _HTTP_WITHOUT_HOST.match(text)


def escape(text: str) -> str:
    """Escape a string for a quoted RDF literal (quotes, backslashes, line breaks, tabs)."""
    if _NEEDS_ESCAPE.search(text) is None:
        return text
    return _NEEDS_ESCAPE.sub(lambda m: _ESCAPES[m.group()], text)


def _unescape_one(match: re.Match[str]) -> str:
    short, long, char = match.groups()
    if short or long:
        return chr(int(short or long, 16))
    if char is None:
        raise ValueError("a lone backslash ends the text: an unfinished escape")
    if char in _SIMPLE_UNESCAPES:
        return _SIMPLE_UNESCAPES[char]
    raise ValueError(f"unknown escape \\{char}")


def unescape(text: str) -> str:
    r"""Undo `escape`, and the ``\uXXXX`` and ``\UXXXXXXXX`` escapes."""
    if "\\" not in text:
        return text
    result = _UNESCAPE.sub(_unescape_one, text)
    if _SURROGATES.search(result):
        # \uD83D\uDE00 style pairs: join them into the one character they stand for.
        try:
            result = result.encode("utf-16", "surrogatepass").decode("utf-16")
        except UnicodeDecodeError:
            raise ValueError(f"{text!r} holds an unpaired surrogate escape") from None
    return result


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
        if suffix[0] == "@" and _LANG_TAG.fullmatch(suffix[1:]):
            return Term("literal", lexical, None, suffix[1:])
        raise ValueError(f"{text!r} has an unreadable suffix {suffix!r} after its closing quote")
    if text.startswith("_:") and len(text) > 2:
        return Term("bnode", text[2:])
    if text in ("true", "false"):
        return Term("literal", text, XSD_BOOLEAN)
    if _INTEGER.fullmatch(text):
        return Term("literal", text, XSD_INTEGER)
    if _DECIMAL.fullmatch(text):
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
            or (suffix[0] == "@" and _LANG_TAG.fullmatch(suffix, 1))
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
        if prefix not in _BUILT_IN_PREFIXES or not local:
            raise ValueError(f"{text!r} has an unreadable datatype {written!r}")
        iri = _BUILT_IN_PREFIXES[prefix] + local
    if len(_DATATYPES_SEEN) < 1024:  # few datatypes recur; bound the memo all the same
        _DATATYPES_SEEN[written] = iri
    return iri


def write_literal(lexical: str, datatype: str | None = None) -> str:
    """A quoted literal, with its datatype unless it is a plain string."""
    if datatype is None or datatype == XSD_STRING:
        return f'"{escape(lexical)}"'
    return f'"{escape(lexical)}"^^<{datatype}>'


# ---------------------------------------------------------------------- term types


class _TextTerm(str):
    """A ``str`` subclass that pydantic validates by calling the class itself."""

    __slots__ = ()

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _validate_as(cls),
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )


class IRI(_TextTerm):
    """An absolute IRI (``http://example.org/oak``), written ``<http://example.org/oak>``.

    Accepts the IRI with or without its angle brackets and keeps it without them.

    Raises:
        ValueError: not an absolute IRI.
    """

    __slots__ = ()

    def __new__(cls, value: str) -> Self:
        if not isinstance(value, str):
            raise TypeError(f"an IRI is a str, not {type(value).__name__}")
        if value.startswith("<") and value.endswith(">"):
            value = value[1:-1]
        if not is_absolute_iri(value):
            raise ValueError(f"{value!r} is not an absolute IRI (like 'http://example.org/a')")
        return super().__new__(cls, value)

    def __repr__(self) -> str:
        return f"IRI({str(self)!r})"

    @property
    def term(self) -> str:
        """The IRI as an RDF term: in angle brackets."""
        return f"<{self}>"


class RDFTerm(_TextTerm):
    """Any RDF term, kept exactly as it was written: the lossless choice.

    Raises:
        ValueError: not an RDF term.
    """

    __slots__ = ()

    def __new__(cls, value: str) -> Self:
        if not isinstance(value, str):
            raise TypeError(f"an RDFTerm is a str, not {type(value).__name__}")
        parse_term(value)
        return super().__new__(cls, value)

    def __repr__(self) -> str:
        return f"RDFTerm({str(self)!r})"


def _validate_as(cls: Callable[[str], Any]) -> Callable[[Any], Any]:
    def validate(value: Any) -> Any:
        if isinstance(value, cls):  # type: ignore[arg-type]
            return value
        return cls(value)

    return validate


@dataclasses.dataclass(frozen=True, slots=True)
class LangString:
    """A language-tagged string: ``LangString("Eik", "nl")`` is written ``"Eik"@nl``.

    Attributes:
        value: The text.
        lang: A BCP 47 language tag (ASCII letters, digits and hyphens), e.g. ``"nl"``,
            ``"en-GB"``.
    """

    value: str
    lang: str

    def __post_init__(self) -> None:
        if not isinstance(self.value, str):
            raise TypeError(f"LangString.value must be a str, not {type(self.value).__name__}")
        if not isinstance(self.lang, str) or not _LANG_TAG.fullmatch(self.lang):
            raise ValueError(f"{self.lang!r} is not a language tag (like 'en' or 'nl-BE')")

    def __str__(self) -> str:
        return f'"{escape(self.value)}"@{self.lang}'


@dataclasses.dataclass(frozen=True, slots=True)
class TypedLiteral:
    """A literal of any datatype, as its lexical form and datatype IRI.

    ``TypedLiteral("21.5", "http://example.org/celsius")`` is written
    ``"21.5"^^<http://example.org/celsius>``.
    """

    lexical: str
    datatype: str = XSD_STRING

    def __post_init__(self) -> None:
        if not isinstance(self.lexical, str):
            raise TypeError(f"TypedLiteral.lexical must be a str, not {type(self.lexical)}")
        if not isinstance(self.datatype, str) or not is_absolute_iri(self.datatype):
            raise ValueError(f"{self.datatype!r} is not an absolute datatype IRI")

    def __str__(self) -> str:
        return write_literal(self.lexical, self.datatype)


@dataclasses.dataclass(frozen=True, slots=True)
class Datatype:
    """Declares the datatype of a field: ``Annotated[Decimal, Datatype(CELSIUS)]``.

    The field's value is read from, and written as, a literal of this datatype; its lexical
    form is that of the field's Python type.
    """

    iri: str

    def __post_init__(self) -> None:
        if not is_absolute_iri(self.iri):
            raise ConfigurationError(f"Datatype({self.iri!r}): not an absolute IRI")


# ---------------------------------------------------------------------- converters


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


# -- lexical forms, shared by the plain and the custom-datatype converters


def _int_from(lexical: str) -> int:
    if not _INTEGER.fullmatch(lexical):
        raise ValueError(f"{lexical!r} is not an integer")
    return int(lexical)


def _float_from(lexical: str) -> float:
    if not _DOUBLE.fullmatch(lexical):
        raise ValueError(f"{lexical!r} is not a number")
    return float(lexical)


def _whole_minutes(offset: dt.timedelta | None) -> bool:
    return offset is None or offset % dt.timedelta(minutes=1) == dt.timedelta(0)


def _float_lexical(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "INF" if value > 0 else "-INF"
    return repr(float(value))


def _decimal_from(lexical: str) -> Decimal:
    if not _DECIMAL.fullmatch(lexical):
        raise ValueError(f"{lexical!r} is not a decimal number")
    return Decimal(lexical)


def _decimal_lexical(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"{value} has no xsd:decimal form")
    return format(value, "f")


def _bool_from(lexical: str) -> bool:
    if lexical in ("true", "1"):
        return True
    if lexical in ("false", "0"):
        return False
    raise ValueError(f"{lexical!r} is not a boolean (true, false, 1 or 0)")


_HOUR_24 = re.compile(r"(\d{4,}-\d{2}-\d{2})T24:00:00(?:\.0+)?(.*)")


def _datetime_from(lexical: str) -> dt.datetime:
    try:
        end_of_day = _HOUR_24.fullmatch(lexical)
        if end_of_day:  # xsd's 24:00:00 is midnight at the end of that day
            start = dt.datetime.fromisoformat(f"{end_of_day[1]}T00:00:00{end_of_day[2]}")
            return start + dt.timedelta(days=1)
        return dt.datetime.fromisoformat(_FRACTION.sub(r"\1", lexical))
    except (ValueError, OverflowError):
        raise ValueError(f"{lexical!r} is not an xsd:dateTime") from None


def _datetime_lexical(value: dt.datetime) -> str:
    if not _whole_minutes(value.utcoffset()):
        # xsd time zones have whole minutes: write the same instant in UTC.
        try:
            value = value.astimezone(dt.UTC)
        except OverflowError:
            raise ValueError(f"{value} is out of range once written in UTC") from None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") and value.tzinfo is dt.UTC else text


def _date_from(lexical: str) -> dt.date:
    try:
        return dt.date.fromisoformat(lexical if len(lexical) == 10 else _DATE_TZ.sub("", lexical))
    except ValueError:
        raise ValueError(f"{lexical!r} is not an xsd:date") from None


def _time_from(lexical: str) -> dt.time:
    try:
        return dt.time.fromisoformat(_FRACTION.sub(r"\1", lexical))
    except ValueError:
        raise ValueError(f"{lexical!r} is not an xsd:time") from None


def _time_lexical(value: dt.time) -> str:
    if not _whole_minutes(value.utcoffset()):
        raise ValueError(f"{value} has a time zone offset finer than minutes; xsd:time has none")
    return value.isoformat()


_LEXICAL: dict[type, tuple[Callable[[str], Any], Callable[[Any], str]]] = {
    str: (lambda lexical: lexical, str),
    int: (_int_from, str),
    float: (_float_from, _float_lexical),
    Decimal: (_decimal_from, _decimal_lexical),
    bool: (_bool_from, lambda value: "true" if value else "false"),
    dt.datetime: (_datetime_from, _datetime_lexical),
    dt.date: (_date_from, lambda value: value.isoformat()),
    dt.time: (_time_from, _time_lexical),
}

# -- one converter per supported type


def _parse_iri(text: str) -> IRI:
    iri = text[1:-1]
    if text[:1] != "<" or text[-1:] != ">" or not is_absolute_iri(iri):
        raise ValueError(f"{text!r} is not an absolute IRI in angle brackets")
    return str.__new__(IRI, iri)


def _typed(python: type, accepted: frozenset[str], datatype: str, what: str) -> Converter:
    from_lexical, to_lexical = _LEXICAL[python]
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
    if python not in _LEXICAL:
        raise ConfigurationError(
            f"Datatype({datatype!r}) needs a field of type str, int, float, Decimal, bool, "
            f"datetime, date or time, not {python!r}"
        )
    from_lexical, to_lexical = _LEXICAL[python]
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
