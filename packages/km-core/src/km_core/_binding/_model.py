"""Binding models: pydantic models whose fields are the variables of a graph pattern."""

from __future__ import annotations

import types
from collections.abc import Mapping
from decimal import InvalidOperation
from typing import Annotated, Any, ClassVar, NamedTuple, Self, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError

from km_core._errors import BindingValidationError, ConfigurationError
from km_core._models import Binding
from km_core.terms._convert import Converter, check_bindable, converter_for, short_repr

__all__ = ["BindingModel"]

_SUPPORTED = (
    "str, int, float, Decimal, bool, datetime, date, time, IRI, LangString, TypedLiteral, "
    "RDFTerm (or Any), optionally Annotated with Datatype(...)"
)


class _Field(NamedTuple):
    name: str
    variable: str
    converter: Converter
    required: bool


class BindingModel(BaseModel):
    """A binding as a typed object: each field is one variable of a graph pattern.

    The variable is the field's name, or its alias when it has one; nothing converts between
    snake_case and camelCase unless you configure an alias generator yourself. Each field's
    type says how its RDF term is read and written:

    | field type | RDF term |
    |---|---|
    | `IRI` | ``<http://example.org/oak>`` |
    | ``str`` | ``"text"`` (a plain string, ``xsd:string``) |
    | ``int`` | ``"12"^^xsd:integer`` (any xsd integer type; bare ``12``) |
    | ``float`` | ``"1.5E0"^^xsd:double`` (reads any xsd number; bare ``1e3``) |
    | ``Decimal`` | ``"21.5"^^xsd:decimal`` (reads xsd:integer too; bare ``21.5``) |
    | ``bool`` | ``"true"^^xsd:boolean`` (bare ``true``) |
    | ``datetime``, ``date``, ``time`` | ``xsd:dateTime``, ``xsd:date``, ``xsd:time`` |
    | `LangString` | ``"Eik"@nl`` |
    | `TypedLiteral` | any literal, as lexical form and datatype |
    | ``Annotated[T, Datatype(iri)]`` | a literal of that datatype, with ``T``'s lexical form |
    | `RDFTerm` or ``Any`` | any term, kept exactly as written |

    Optional fields (``int | None = None``) are variables a binding may leave unbound, as the
    arguments of an ask may; required fields must be bound. A field of any other type is an
    error when the class is defined.

    Example:
        ```python
        class Tree(BindingModel):
            tree: IRI
            height: Decimal | None = None
        ```
    """

    model_config: ClassVar[ConfigDict] = ConfigDict(
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="ignore",
    )

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.__pydantic_complete__:
            cls._binding_fields()  # unsupported field types fail here, at class definition

    @classmethod
    def _binding_fields(cls) -> tuple[_Field, ...]:
        plan: tuple[_Field, ...] | None = cls.__dict__.get("_km_binding_fields")
        if plan is None:
            plan = _plan(cls)
            type.__setattr__(cls, "_km_binding_fields", plan)
        return plan

    @classmethod
    def model_variables(cls) -> frozenset[str]:
        """The variables the model's fields stand for (aliases where given)."""
        return frozenset(f.variable for f in cls._binding_fields())

    @classmethod
    def model_required_variables(cls) -> frozenset[str]:
        """The variables every binding of this model must bind."""
        return frozenset(f.variable for f in cls._binding_fields() if f.required)

    @classmethod
    def from_binding(cls, binding: Mapping[str, str]) -> Self:
        """Build the model from one binding (variable name to RDF term in text).

        Raises:
            BindingValidationError: a term does not fit its field, or a required variable is
                unbound; the message names the model, the variable and the offending value.
        """
        values: dict[str, Any] = {}
        get = binding.get
        for field in cls._binding_fields():
            text = get(field.variable)
            if text is None:
                continue
            try:
                if not isinstance(text, str):
                    raise TypeError(f"a {type(text).__name__}, not an RDF term in text")
                values[field.name] = field.converter.parse(text)
            except (ValueError, TypeError, OverflowError, InvalidOperation) as exc:
                raise BindingValidationError(
                    f"{cls.__name__}.{field.name}: variable {field.variable!r} is "
                    f"{short_repr(text)}, which is not {field.converter.describe}: {exc}"
                ) from exc
        if len(values) < len(cls._binding_fields()):
            for field in cls._binding_fields():
                if field.required and field.name not in values:
                    raise BindingValidationError(
                        f"{cls.__name__}.{field.name}: variable {field.variable!r} is unbound "
                        f"in {short_repr(dict(binding))}, but the field is required"
                    )
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise BindingValidationError(
                f"binding {dict(binding)!r} does not fit {cls.__name__}: {_first_error(exc)}"
            ) from exc

    def to_binding(self) -> Binding:
        """The binding this model stands for: variable to RDF term, unbound ones left out.

        Raises:
            BindingValidationError: a value cannot be written as its field's RDF term.
        """
        binding: Binding = {}
        for field in self._binding_fields():
            value = getattr(self, field.name)
            if value is not None:
                binding[field.variable] = check_bindable(value, field.converter, field.variable)
        return binding


def _plan(model: type[BindingModel]) -> tuple[_Field, ...]:
    fields = []
    for name, info in model.model_fields.items():
        annotation, metadata = _unwrap(info.annotation, list(info.metadata), model, name)
        try:
            converter = converter_for(annotation, metadata)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{model.__name__}.{name}: {exc}") from exc
        if converter is None:
            raise ConfigurationError(
                f"{model.__name__}.{name}: a field of type {_type_name(annotation)} cannot hold "
                f"an RDF term; use {_SUPPORTED}"
            )
        variable = info.alias or name
        fields.append(_Field(name, variable, converter, info.is_required()))
    return tuple(fields)


def _unwrap(
    annotation: Any, metadata: list[Any], model: type[BindingModel], name: str
) -> tuple[Any, list[Any]]:
    """Strip ``Optional`` and ``Annotated`` from a field's type, collecting the metadata."""
    origin = get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) != 1:
            raise ConfigurationError(
                f"{model.__name__}.{name}: a union of {_type_name(annotation)} cannot be read "
                "from an RDF term; use one type (optionally with None), or RDFTerm"
            )
        return _unwrap(members[0], metadata, model, name)
    if origin is Annotated:
        inner, *extra = get_args(annotation)
        return _unwrap(inner, [*metadata, *extra], model, name)
    return annotation, metadata


def _type_name(annotation: Any) -> str:
    return annotation.__qualname__ if isinstance(annotation, type) else repr(annotation)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "binding"
    return f"{where}: {error['msg']}"
