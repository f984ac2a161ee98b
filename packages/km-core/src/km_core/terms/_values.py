"""The term types of binding models: `IRI`, `RDFTerm`, `LangString`, `TypedLiteral`, `Datatype`.

Each checks its value when it is made, and pydantic validates a field of one of these types by
making one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Self

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from km_core._errors import ConfigurationError

from ._escape import escape
from ._iri import iri_problem
from ._namespaces import XSD_STRING
from ._parse import LANG_TAG, parse_term, write_literal


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
        problem = iri_problem(value)
        if problem is not None:
            raise ValueError(
                f"{value!r} is not an absolute IRI (like 'http://example.org/a'): {problem}"
            )
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
        if not isinstance(self.lang, str) or not LANG_TAG.fullmatch(self.lang):
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
        problem = iri_problem(self.datatype) if isinstance(self.datatype, str) else "not a str"
        if problem is not None:
            raise ValueError(f"{self.datatype!r} is not an absolute datatype IRI: {problem}")

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
        problem = iri_problem(self.iri)
        if problem is not None:
            raise ConfigurationError(f"Datatype({self.iri!r}): not an absolute IRI: {problem}")
