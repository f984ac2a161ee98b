"""Binding models: pydantic models whose fields are the variables of a graph pattern."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from ._errors import BindingValidationError
from ._models import Binding

__all__ = ["BindingModel"]


class BindingModel(BaseModel):
    """A binding as a typed object: each field is one variable of a knowledge interaction.

    The variable is the field's name, or its alias when it has one; nothing converts between
    snake_case and camelCase behind your back. Field values are RDF terms in the KE's text form
    (``"<http://example.org/oak>"``, ``'"12"^^<http://www.w3.org/2001/XMLSchema#integer>'``).
    Optional fields (``str | None = None``) are variables a binding may leave unbound, as the
    arguments of an ask may.

    Example:
        ```python
        class Tree(BindingModel):
            tree: str
            height: str | None = None
        ```
    """

    model_config: ClassVar[ConfigDict] = ConfigDict(
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="ignore",
    )

    @classmethod
    def from_binding(cls, binding: Mapping[str, str]) -> Self:
        """Build the model from one binding (variable name to RDF term).

        Raises:
            BindingValidationError: the binding does not fit the model; the message names the
                model, the variable and the offending value.
        """
        try:
            return cls.model_validate(binding)
        except ValidationError as exc:
            raise BindingValidationError(
                f"binding {dict(binding)!r} does not fit {cls.__name__}: {_first_error(exc)}"
            ) from exc

    def to_binding(self) -> Binding:
        """The binding this model stands for: variable name to RDF term, unbound ones left out."""
        dumped: dict[str, Any] = self.model_dump(by_alias=True, exclude_none=True)
        binding: Binding = {}
        for variable, value in dumped.items():
            if not isinstance(value, str):
                raise BindingValidationError(
                    f"{type(self).__name__}.{variable} is {value!r}, not an RDF term in text"
                )
            binding[variable] = value
        return binding


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "binding"
    return f"{where}: {error['msg']}"
