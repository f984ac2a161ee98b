"""A small TOML writer for config dicts: tables for mappings, arrays of tables for lists of them.

Within a table the plain keys come first, then its tables, as TOML requires. A mapping below a
table that fits on a line (``tree = { iri = "..." }``), and a mapping inside an array, is an
inline table. Multi-line strings are written as multi-line strings. TOML has no null: a key
whose value is None is left out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["dump_toml"]

INLINE_WIDTH = 72
"""The longest inline table written for a mapping below a table (``tree = { iri = ... }``)."""

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_NOT_LITERAL = re.compile(r"'''|[\x00-\x08\x0b-\x1f\x7f]")


def dump_toml(data: Mapping[str, Any]) -> str:
    """The TOML text of a mapping of strings, numbers, booleans, lists and mappings."""
    lines: list[str] = []
    _table(data, (), lines)
    return "\n".join(lines).lstrip("\n") + "\n"


def _table(table: Mapping[str, Any], path: tuple[str, ...], lines: list[str]) -> None:
    """Write a table's plain keys, then its tables; its header is the caller's to write."""
    plain, nested = _split(table, path)
    lines.extend(f"{_key(key)} = {_value(value)}" for key, value in plain)
    for key, value in nested:
        here = (*path, key)
        header = ".".join(_key(part) for part in here)
        if _is_table_array(value):
            for item in value:
                lines.extend(("", f"[[{header}]]"))
                _table(item, here, lines)
            continue
        inner_plain, _ = _split(value, here)
        if inner_plain or not value:  # a table of tables only needs no header of its own
            lines.extend(("", f"[{header}]"))
        _table(value, here, lines)


def _split(
    table: Mapping[str, Any], path: tuple[str, ...]
) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """A table's keys written as ``key = value``, and those written as tables of their own."""
    plain, nested = [], []
    for key, value in table.items():
        if value is None:
            continue
        if (_is_table(value) and not (path and _fits_inline(value))) or _is_table_array(value):
            nested.append((key, value))
        else:
            plain.append((key, value))
    return plain, nested


def _fits_inline(value: Mapping[str, Any]) -> bool:
    """Whether a nested mapping of plain values is short enough for an inline table."""
    plain = all(not isinstance(inner, Mapping | list) for inner in value.values())
    return plain and len(_value(value)) <= INLINE_WIDTH


def _is_table(value: Any) -> bool:
    return isinstance(value, Mapping)


def _is_table_array(value: Any) -> bool:
    return (
        isinstance(value, list) and bool(value) and all(isinstance(item, Mapping) for item in value)
    )


def _key(key: str) -> str:
    return key if _BARE.fullmatch(key) else _string(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _multiline(value) if "\n" in value else _string(value)
    if isinstance(value, Mapping):
        items = (
            f"{_key(key)} = {_value(inner)}" for key, inner in value.items() if inner is not None
        )
        return "{ " + ", ".join(items) + " }" if value else "{}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} in TOML")


def _string(value: str) -> str:
    """A basic string: JSON's escapes are TOML's, but for DEL."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _multiline(value: str) -> str:
    """A multi-line string: literal when it can be, basic with escapes when it cannot."""
    if not _NOT_LITERAL.search(value) and not value.endswith("'"):
        return f"'''\n{value}'''"
    escaped = "".join(_ESCAPES.get(char, char) for char in value)
    return '"""\n' + escaped.replace('"""', '""\\"') + '"""'


_ESCAPES = {"\\": "\\\\"} | {
    chr(code): f"\\u{code:04x}" for code in (*range(0x20), 0x7F) if chr(code) not in "\n\t"
}
