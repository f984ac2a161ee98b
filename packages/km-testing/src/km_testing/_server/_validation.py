"""JSON values into km-core's models, as the KE's Jackson and bean-validation layers read them.

Scalar coercion, Jackson's names for JSON values, and the KE's 400 messages.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ._responses import _bad

_VIOLATION_ORDER = {
    name: index
    for index, name in enumerate(
        ("knowledgeBaseName", "knowledgeBaseId", "knowledgeBaseDescription")
    )
}
M = TypeVar("M", bound=BaseModel)


def _json_kind(value: Any) -> str:
    """How Jackson names a JSON value's token in its messages."""
    if isinstance(value, list):
        return "Array"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int | float):
        return "Number"
    return "String"


def _scalar_text(value: Any) -> Any:
    """Jackson's coercion of a JSON scalar into a string field; other values as they are."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return value


def _is_string_field(annotation: Any) -> bool:
    """Whether a model field holds a string (``str`` or ``str | None``)."""
    if annotation is str:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return set(typing.get_args(annotation)) == {str, type(None)}
    return False


def _model(model: type[M], body: Any, what: str) -> M:
    """Validate a JSON object into a model, with the KE's 400 messages.

    Deserialisation problems (a value of the wrong kind) are reported the way Jackson does,
    before bean validation reports the missing required fields.
    """
    if body is None:
        raise _bad(f"ConstraintViolationException: {what} must not be null\n ")
    if not isinstance(body, dict):
        raise _bad(
            f"MismatchedInputException: Cannot deserialize value of type `{model.__name__}` "
            f"from {_json_kind(body)} value"
        )
    coerced = dict(body)
    for name, field in model.model_fields.items():
        key = field.alias or name
        if key in coerced and _is_string_field(field.annotation):
            coerced[key] = _scalar_text(coerced[key])
    try:
        return model.model_validate(coerced)
    except ValidationError as exc:
        errors = exc.errors()
        # A required field that is absent or null is bean validation's @NotNull; anything else
        # is a value Jackson could not read.
        wrong = [e for e in errors if e["type"] != "missing" and e.get("input") is not None]
        if wrong:
            error = wrong[0]
            where = ".".join(str(part) for part in error["loc"])
            raise _bad(
                f"InvalidFormatException: Cannot deserialize value of type `{model.__name__}`"
                f" (property '{where}'): {error['msg']}"
            ) from None
        # In the order the KE's validator reports them.
        missing = sorted(
            (".".join(str(part) for part in error["loc"]) for error in errors),
            key=lambda name: _VIOLATION_ORDER.get(name, len(_VIOLATION_ORDER)),
        )
        raise _bad(
            "ConstraintViolationException: "
            + "".join(f"{what}.{name} must not be null\n " for name in missing)
        ) from None
