"""Bindings in and out: checking what a user or a handler gives, and reading what the KE sends.

`to_binding_set` turns dicts or binding models into a checked binding set (every term one the
KE can read); `from_binding_set` turns received bindings into the interaction's model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from km_core._errors import BindingValidationError
from km_core._models import BindingSet
from km_core.terms import unreadable
from km_core.terms._convert import short_repr

from ._model import BindingModel

__all__ = ["from_binding_set", "to_binding_set"]


def to_binding_set(
    value: object, *, what: str, model: type[BindingModel] | None = None
) -> BindingSet:
    """Check and convert bindings (dicts of RDF terms, or binding models) to a binding set.

    With a ``model``, plain dict bindings must fit it, and come out as it writes them.

    Raises:
        BindingValidationError: ``value`` is not a list of bindings; the message says which
            item is wrong and why.
    """
    if value is None:
        return []
    if type(value) is not list and (
        isinstance(value, Mapping | BindingModel | str | bytes) or not isinstance(value, Iterable)
    ):
        raise BindingValidationError(
            f"{what} must be a list of bindings, got {type(value).__name__}: {value!r:.200}"
        )
    result: BindingSet = []
    for index, item in enumerate(value):
        if isinstance(item, BindingModel):
            result.append(item.to_binding())
        elif isinstance(item, dict):
            for key, term in item.items():
                if not isinstance(key, str) or not isinstance(term, str):
                    raise BindingValidationError(
                        f"{what}: binding {index} maps {key!r} to {term!r}; bindings map "
                        "variable names (str) to RDF terms in text (str)"
                    )
                if model is None:
                    problem = unreadable(term)
                    if problem is not None:
                        raise BindingValidationError(
                            f"{what}: binding {index} maps {key!r} to {short_repr(term)}, which "
                            f"the Knowledge Engine cannot read: {problem}. Write an IRI as "
                            "'<http://example.org/oak>', a string as '\"oak\"' (quotes "
                            "included), a number as '21'"
                        )
            result.append(model.from_binding(item).to_binding() if model else item)
        else:
            raise BindingValidationError(
                f"{what}: binding {index} is a {type(item).__name__} ({item!r:.200}), not a "
                "dict or a BindingModel"
            )
    return result


def from_binding_set(binding_set: BindingSet, model: type[BindingModel] | None) -> list[Any]:
    """Bindings as the model (when there is one) or as they are."""
    if model is None:
        return binding_set
    return [model.from_binding(binding) for binding in binding_set]
