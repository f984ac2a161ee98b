"""Between a source's values and RDF terms: `TermCodec`, one per variable, from its `TermMapping`.

A codec writes a Python value (a database column's, say) as the RDF term the KE carries in a
binding, and reads an incoming binding value back into the Python value a statement binds.
Without a mapping the value's type decides the datatype: ``5`` is ``"5"^^xsd:integer``. An
``iri`` template writes ``<http://example.org/trees/{id}>`` with the value percent-encoded, a
``datatype`` writes ``"lexical"^^<datatype>``, a ``language`` writes ``"text"@lang``.

Reading is strict about the shape and lenient about numbers: an IRI that does not fit the
template, a string in another language or a literal of another datatype reads as a `NoMatch`
(it matches no row), while ``"5.0"^^xsd:decimal`` reads as 5 where integers are expected.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Mapping, Sequence
from decimal import InvalidOperation
from urllib.parse import quote, unquote

from km_core.terms import XSD_STRING, escape, iri_problem, parse_term
from km_mapper._config import TermMapping
from km_mapper._errors import MapperConfigError

from ._lexical import (
    LANG_STRING,
    NUMERIC,
    PYTHON_TYPES,
    READERS,
    Value,
    convert,
    natural,
    read_str,
)

__all__ = ["NoMatch", "TermCodec", "codecs_for"]

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclasses.dataclass(frozen=True, slots=True)
class NoMatch:
    """An incoming term that no value of the variable can be: the binding matches no row.

    Attributes:
        reason: Why, for a log line or an error: ``"<http://x/1> does not fit the template"``.
    """

    reason: str


# ---------------------------------------------------------------- IRI templates


def _show(term: str) -> str:
    """A term from the network, safe to put in a message: quoted, and cut short."""
    return repr(term) if len(term) <= 80 else repr(term[:77]) + "..."


class _Template:
    """An IRI template with one placeholder: filled with a value, and matched back to one."""

    def __init__(self, template: str, where: str) -> None:
        placeholders = _PLACEHOLDER.findall(template)
        rest = _PLACEHOLDER.sub("", template)
        if len(placeholders) != 1 or "{" in rest or "}" in rest:
            raise ValueError(
                f"{where}: {template!r} needs exactly one placeholder in braces, as in "
                "'http://example.org/trees/{id}'"
            )
        self.prefix, self.suffix = _PLACEHOLDER.split(template)[0::2]
        self.whole = not self.prefix and not self.suffix
        """The value is the whole IRI: the column holds IRIs, written as they are."""
        problem = None if self.whole else iri_problem(self.prefix + "x" + self.suffix)
        if problem is not None:
            raise ValueError(f"{where}: {template!r} does not make absolute IRIs: {problem}")

    def fill(self, text: str) -> str:
        iri = text if self.whole else self.prefix + quote(text, safe="") + self.suffix
        problem = iri_problem(iri)
        if problem is not None:
            raise ValueError(f"{iri!r} is not an absolute IRI: {problem}")
        return f"<{iri}>"

    def match(self, iri: str) -> str | NoMatch:
        if self.whole:
            return iri
        end = len(iri) - len(self.suffix)
        if not (iri.startswith(self.prefix) and iri.endswith(self.suffix)) or end < len(
            self.prefix
        ):
            return NoMatch(
                f"{_show(f'<{iri}>')} does not fit the template {self.prefix}{{…}}{self.suffix}"
            )
        encoded = iri[len(self.prefix) : end]
        try:
            text = unquote(encoded, errors="strict")
        except UnicodeDecodeError:
            return NoMatch(f"{_show(f'<{iri}>')} holds a percent-encoding that is not UTF-8")
        if quote(text, safe="") != encoded:  # one IRI per value: no other spelling matches
            return NoMatch(f"{_show(f'<{iri}>')} is not the template's spelling of {_show(text)}")
        return text


# ---------------------------------------------------------------- the codec


class TermCodec:
    """Writes one variable's values as RDF terms and reads them back.

    Args:
        variable: The variable's name, for messages.
        mapping: How its values are written; ``None``: by their Python type.

    Raises:
        ValueError: the mapping cannot be used (a template without one placeholder, a
            datatype or language tag that is not one); the message says which.
    """

    __slots__ = ("_datatype", "_language", "_template", "variable")

    def __init__(self, variable: str, mapping: TermMapping | None = None) -> None:
        self.variable = variable
        where = f"variable {variable!r}"
        mapping = mapping or TermMapping()
        self._template = None if mapping.iri is None else _Template(mapping.iri, where)
        self._datatype = mapping.datatype
        if self._datatype is not None:
            if self._datatype.startswith("<") and self._datatype.endswith(">"):
                self._datatype = self._datatype[1:-1]
            problem = iri_problem(self._datatype)
            if problem is not None:
                raise ValueError(f"{where}: datatype {mapping.datatype!r} is not an IRI: {problem}")
            if self._datatype == LANG_STRING:
                raise ValueError(f"{where}: for rdf:langString give a 'language' instead")
        self._language = mapping.language
        if self._language is not None:
            try:
                parse_term(f'""@{self._language}')
            except ValueError:
                raise ValueError(
                    f"{where}: {self._language!r} is not a language tag (like 'en' or 'nl-BE')"
                ) from None

    def __repr__(self) -> str:
        return f"TermCodec({self.variable!r})"

    def to_term(self, value: object) -> str | None:
        """The RDF term of a value, as the KE writes it in a binding; ``None`` for NULL.

        Raises:
            ValueError: the value cannot be written so; the message names the variable.
        """
        if value is None:
            return None
        try:
            if self._template is not None:
                if isinstance(value, bytes | bytearray | memoryview):
                    raise ValueError("bytes cannot fill an IRI template")
                return self._template.fill(natural(value)[0])
            if self._language is not None:
                text = value if isinstance(value, str) else natural(value)[0]
                return f'"{escape(text)}"@{self._language}'
            if self._datatype is not None:
                return self._typed(value, self._datatype)
            lexical, datatype = natural(value)
        except ValueError as exc:
            raise ValueError(f"variable {self.variable!r}: {exc}") from None
        if datatype == XSD_STRING:
            return f'"{escape(lexical)}"'
        return f'"{lexical}"^^<{datatype}>'

    def _typed(self, value: object, datatype: str) -> str:
        target = PYTHON_TYPES.get(datatype)
        if target is None or isinstance(value, uuid.UUID):
            lexical = value if isinstance(value, str) else natural(value)[0]
        else:
            lexical = natural(convert(value, target))[0]
        if datatype == XSD_STRING:
            return f'"{escape(lexical)}"'
        return f'"{escape(lexical)}"^^<{datatype}>'

    def from_term(self, term: str) -> Value | NoMatch:
        """The value an incoming binding value stands for, or `NoMatch` when none can."""
        try:
            parsed = parse_term(term)
        except ValueError:
            return NoMatch(f"{_show(term)} is not an RDF term")
        if self._template is not None:
            if parsed.kind != "iri":
                return NoMatch(f"{_show(term)} is not an IRI")
            return self._template.match(parsed.value)
        if parsed.kind != "literal":
            return NoMatch(f"{_show(term)} is not a literal")
        if self._language is not None:
            if parsed.lang is None or parsed.lang.lower() != self._language.lower():
                return NoMatch(f"{_show(term)} is not a string tagged @{self._language}")
            return parsed.value
        if parsed.lang is not None:
            if self._datatype not in (None, XSD_STRING):
                return NoMatch(f"{_show(term)} is a language-tagged string")
            return parsed.value
        datatype = parsed.datatype or XSD_STRING
        try:
            if self._datatype is None:
                return READERS.get(datatype, read_str)(parsed.value)
            if self._datatype in NUMERIC and datatype in NUMERIC:
                number = READERS[datatype](parsed.value)
                return convert(number, PYTHON_TYPES[self._datatype])
            if datatype != self._datatype:
                return NoMatch(f"{_show(term)} is not of datatype <{self._datatype}>")
            return READERS.get(datatype, read_str)(parsed.value)
        except (ValueError, InvalidOperation, OverflowError) as exc:
            return NoMatch(f"{_show(term)}: {exc}")


def codecs_for(
    interaction: str, variables: Sequence[str], terms: Mapping[str, TermMapping]
) -> dict[str, TermCodec]:
    """A codec for each variable of an interaction's pattern.

    Raises:
        MapperConfigError: ``terms`` names a variable the pattern does not have, or a mapping
            cannot be used.
    """
    unknown = sorted(set(terms) - set(variables))
    if unknown:
        raise MapperConfigError(
            f"knowledge interaction {interaction!r}: 'terms' names {unknown}, which are not "
            f"variables of its graph pattern ({', '.join(variables)})",
            key="terms",
        )
    codecs = {}
    for variable in variables:
        try:
            codecs[variable] = TermCodec(variable, terms.get(variable))
        except ValueError as exc:
            raise MapperConfigError(
                f"knowledge interaction {interaction!r}: {exc}", key=f"terms.{variable}"
            ) from None
    return codecs
