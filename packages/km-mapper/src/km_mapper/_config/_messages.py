"""pydantic's validation errors in plain words, each with the key and the line it is about.

pydantic's locations hold more than the keys of the file: the tag of a discriminated union
(``("knowledge_interactions", 2, "answer", "qeury")``) and the member of a plain union
(``("permitted", "list[str]", 1)``). `describe_errors` drops those, names the key as it is
written (``knowledge_interactions[2].qeury``), asks a `Locator` for its line, and says what is
wrong the way a person would: an unknown key with the keys that are allowed there, a missing
key, a value of the wrong kind, a value that is not one of the choices.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from ._locating import KeyPath

__all__ = ["Problem", "describe_errors", "dotted"]

_KINDS = {
    "string": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "list": "a list",
    "dict": "a mapping of keys to values",
    "model": "a mapping of keys to values",
    "model_attributes": "a mapping of keys to values",
    "none": "empty",
    "path": "a file path",
}

_WORDS: dict[str, Callable[[dict[str, Any]], str]] = {
    "greater_than": lambda ctx: f"must be greater than {ctx['gt']}",
    "greater_than_equal": lambda ctx: f"must be at least {ctx['ge']}",
    "less_than": lambda ctx: f"must be less than {ctx['lt']}",
    "less_than_equal": lambda ctx: f"must be at most {ctx['le']}",
}


@dataclasses.dataclass(frozen=True)
class Problem:
    """One thing wrong in a config file.

    Attributes:
        key: The dotted key (``knowledge_interactions[2].query``), or None for the whole file.
        line: Its line, or that of its nearest enclosing key; None when unknown.
        message: What is wrong, in plain words.
    """

    key: str | None
    line: int | None
    message: str


def dotted(path: KeyPath) -> str | None:
    """A key path as written in messages: ``knowledge_interactions[2].query``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or None


def describe_errors(
    error: ValidationError,
    data: Any,
    model: type[BaseModel],
    locate: Callable[[KeyPath], int | None],
) -> list[Problem]:
    """The problems of a validation error, in the order of their lines.

    Errors of one key from different members of a union become one problem: the member that
    got furthest, or all members' expectations together (``must be '*' or a list``).

    Args:
        error: What pydantic raised.
        data: The data that was validated, to tell the file's keys from pydantic's tags.
        model: The model that was validated.
        locate: Finds the line of a key path.
    """
    sites: dict[Any, list[tuple[int, KeyPath, dict[str, Any]]]] = {}
    for number, error_details in enumerate(error.errors(include_url=False)):
        details: dict[str, Any] = dict(error_details)
        path, site = _file_path(details["loc"], data, missing=details["type"] == "missing")
        if details["type"] in ("union_tag_invalid", "union_tag_not_found"):
            path = (*path, "type")
        group = sites.setdefault(number if site is None else site, [])
        group.append((len(details["loc"]), path, details))
    problems = []
    for group in sites.values():
        deepest = max(depth for depth, _, _ in group)
        by_path: dict[tuple[str | int, ...], list[dict[str, Any]]] = {}
        for depth, path, details in group:
            if depth == deepest:
                by_path.setdefault(tuple(path), []).append(details)
        for path, found in by_path.items():
            message = _message(found[0], model) if len(found) == 1 else _either(found, model)
            problems.append(Problem(dotted(path), locate(path) if path else None, message))
    problems.sort(key=lambda problem: (problem.line is None, problem.line or 0))
    return problems


def _file_path(
    loc: Sequence[str | int], data: Any, *, missing: bool
) -> tuple[KeyPath, tuple[str | int, ...] | None]:
    """The keys of the file in a pydantic location, and where a plain union was, if one was.

    ``missing`` keeps the last part even though the file does not hold it.
    """
    path: list[str | int] = []
    site: tuple[str | int, ...] | None = None
    here, tag_skipped = data, False
    for position, part in enumerate(loc):
        last = position == len(loc) - 1
        if isinstance(here, dict) and not tag_skipped and here.get("type") == part:
            tag_skipped = True  # the tag of a discriminated union, at most once per mapping
            continue
        if isinstance(here, dict) and (part in here or (last and missing)):
            path.append(part)
            here, tag_skipped = here.get(str(part)), False
        elif isinstance(here, list) and isinstance(part, int):
            path.append(part)
            here, tag_skipped = (here[part] if 0 <= part < len(here) else None), False
        elif site is None:  # the member of a plain union (``list[str]``), not a key of the file
            site = tuple(path)
    return path, site


def _either(found: list[dict[str, Any]], model: type[BaseModel]) -> str:
    """``must be '*'`` and ``must be a list`` (a plain union's members) as one message."""
    wanted = [
        _message(details, model).removeprefix("must be ").split(", not ")[0] for details in found
    ]
    return f"must be {' or '.join(dict.fromkeys(wanted))}, not {_shown(found[0].get('input'))}"


def _message(details: dict[str, Any], model: type[BaseModel]) -> str:
    kind, ctx, value = details["type"], details.get("ctx") or {}, details.get("input")
    loc = details["loc"]
    if kind == "extra_forbidden":
        return _unknown_key(str(loc[-1]), _keys_at(model, loc[:-1]))
    if kind == "missing":
        return "is required"
    if kind == "literal_error":
        choices = _choices(ctx["expected"])
        one = "one of " if "," in choices else ""
        return f"must be {one}{choices}, not {_shown(value)}"
    if kind == "union_tag_invalid":
        return f"must be one of {ctx['expected_tags']}, not {_shown(ctx['tag'])}"
    if kind == "union_tag_not_found":
        tags = ", ".join(repr(tag) for tag in _tags_at(model, loc))
        return f"is required, to say which kind this is: one of {tags}"
    if kind in _WORDS:
        return f"{_WORDS[kind](ctx)}, not {_shown(value)}"
    if kind.endswith(("_type", "_parsing", "_from_float")):
        for prefix, words in _KINDS.items():
            if kind.startswith(prefix + "_"):
                return f"must be {words}, not {_shown(value)}"
    text = str(details["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        text = text.removeprefix(prefix)
    return text[:1].lower() + text[1:]


def _unknown_key(key: str, allowed: list[str]) -> str:
    message = f"unknown key {key!r}"
    close = difflib.get_close_matches(key, allowed, n=1)
    if close:
        message += f" (did you mean {close[0]!r}?)"
    if allowed:
        message += f"; the keys here are: {', '.join(allowed)}"
    return message


def _choices(expected: str) -> str:
    """Pydantic's ``'a', 'b' or 'c'`` as ``'a', 'b', 'c'``."""
    return expected.replace(" or ", ", ")


def _shown(value: Any) -> str:
    """A value as a message shows it: short, and by its kind when it is not a scalar."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "empty"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------------- the models' shape


def _members(annotation: Any) -> Iterator[Any]:
    """The types an annotation allows: the members of a union, without Annotated and None."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        yield from _members(typing.get_args(annotation)[0])
    elif origin is typing.Union or origin is types.UnionType:
        for member in typing.get_args(annotation):
            yield from _members(member)
    elif annotation is not type(None):
        yield annotation


def _tag_of(member: Any) -> str | None:
    if isinstance(member, type) and issubclass(member, BaseModel):
        field = member.model_fields.get("type")
        if field is not None and typing.get_origin(field.annotation) is typing.Literal:
            return str(typing.get_args(field.annotation)[0])
    return None


def _types_at(model: type[BaseModel], loc: Sequence[str | int]) -> list[Any]:
    """The types pydantic validated at a location: a model, a list, a dict, a union's members."""
    found: list[Any] = [model]
    for part in loc:
        tagged = [member for member in found if _tag_of(member) == part]
        if tagged and len(found) > 1:
            found = tagged
            continue
        following: list[Any] = []
        for member in found:
            origin, args = typing.get_origin(member), typing.get_args(member)
            if isinstance(member, type) and issubclass(member, BaseModel):
                field = member.model_fields.get(str(part))
                if field is not None:
                    following.extend(_members(field.annotation))
            elif origin is list and args and isinstance(part, int):
                following.extend(_members(args[0]))
            elif origin is dict and len(args) == 2:
                following.extend(_members(args[1]))
        found = following
    return found


def _keys_at(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    for member in _types_at(model, loc):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return list(member.model_fields)
    return []


def _tags_at(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    return [tag for tag in map(_tag_of, _types_at(model, loc)) if tag is not None]
