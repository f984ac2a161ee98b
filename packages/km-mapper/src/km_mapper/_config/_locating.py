"""Where each key of a config file is: the line of a dotted key, in YAML, JSON and TOML text.

The values come from the formats' own parsers; these passes only find lines, so that an error
can say where to look. YAML uses PyYAML's node tree. JSON gets a small position-tracking pass of
its own, because the YAML composer does not read every JSON file (tabs, for one). TOML is
scanned line by line for table headers and ``key =`` lines: good enough for a config file.
Every `Locator` answers the line of the deepest part of a path that the file holds.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
import re
from collections.abc import Callable, Sequence

import yaml  # type: ignore[import-untyped, unused-ignore]

__all__ = [
    "DuplicateKeyError",
    "KeyPath",
    "Locator",
    "json_locator",
    "toml_locator",
    "yaml_locator",
]

KeyPath = Sequence[str | int]
"""A key in the file, as its parts: ``("knowledge_interactions", 2, "query")``."""

Locator = Callable[[KeyPath], int | None]
"""The 1-based line of a path's deepest part the file holds; None when not even its first."""


class DuplicateKeyError(Exception):
    """A mapping that names one key twice: a later value would silently replace the first."""

    def __init__(self, path: KeyPath, lines: tuple[int, int]) -> None:
        super().__init__(path, lines)
        self.path = tuple(path)
        self.lines = lines


@dataclasses.dataclass
class _Located:
    """One value in the file: the line of its key (or of the item), and where its parts are."""

    line: int
    keys: dict[str, _Located] | None = None
    items: list[_Located] | None = None


def _tree_locator(root: _Located) -> Locator:
    def locate(path: KeyPath) -> int | None:
        here, line = root, None
        for part in path:
            step: _Located | None = None
            if isinstance(part, int) and here.items is not None and 0 <= part < len(here.items):
                step = here.items[part]
            elif here.keys is not None:
                step = here.keys.get(str(part))
            if step is None:
                break
            here, line = step, step.line
        return line

    return locate


# ---------------------------------------------------------------------- YAML


def yaml_locator(root: yaml.Node) -> Locator:
    """The locator of a composed YAML document.

    Raises:
        DuplicateKeyError: a mapping names a key twice.
    """
    return _tree_locator(_from_yaml(root, root.start_mark.line + 1, (), set()))


def _from_yaml(node: yaml.Node, line: int, path: KeyPath, seen: set[int]) -> _Located:
    located = _Located(line)
    if id(node) in seen:  # an alias of one of its own ancestors
        return located
    seen = seen | {id(node)}
    if isinstance(node, yaml.MappingNode):
        located.keys = {}
        for key_node, value_node in node.value:
            key, key_line = str(key_node.value), key_node.start_mark.line + 1
            if key == "<<" and key_node.tag == "tag:yaml.org,2002:merge":
                continue
            if key in located.keys:
                raise DuplicateKeyError((*path, key), (located.keys[key].line, key_line))
            located.keys[key] = _from_yaml(value_node, key_line, (*path, key), seen)
    elif isinstance(node, yaml.SequenceNode):
        located.items = [
            _from_yaml(item, item.start_mark.line + 1, (*path, index), seen)
            for index, item in enumerate(node.value)
        ]
    return located


# ---------------------------------------------------------------------- JSON

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_SCALAR = re.compile(r"[^\s,\]}]+")


def json_locator(text: str) -> Locator:
    """The locator of a JSON document that `json.loads` has read.

    Raises:
        DuplicateKeyError: an object names a key twice.
    """
    return _tree_locator(_JsonPass(text).document())


class _JsonPass:
    """Walks JSON text that is known to be valid, noting the line of every key and item."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.newlines = [match.start() for match in re.finditer("\n", text)]

    def document(self) -> _Located:
        self._skip()
        return self._value(self._line(), ())

    def _line(self) -> int:
        return bisect.bisect_right(self.newlines, self.pos - 1) + 1

    def _skip(self) -> None:
        match = _WHITESPACE.match(self.text, self.pos)
        assert match is not None  # the pattern matches the empty string
        self.pos = match.end()

    def _token(self, pattern: re.Pattern[str]) -> str:
        match = pattern.match(self.text, self.pos)
        if match is None:  # pragma: no cover - json.loads accepted the text
            raise ValueError(f"unexpected JSON at offset {self.pos}")
        self.pos = match.end()
        return match.group()

    def _value(self, line: int, path: KeyPath) -> _Located:
        opening = self.text[self.pos]
        if opening == "{":
            return self._object(line, path)
        if opening == "[":
            return self._array(line, path)
        self._token(_STRING if opening == '"' else _SCALAR)
        return _Located(line)

    def _object(self, line: int, path: KeyPath) -> _Located:
        located = _Located(line, keys={})
        assert located.keys is not None
        self.pos += 1
        self._skip()
        while self.text[self.pos] != "}":
            key_line = self._line()
            key = str(json.loads(self._token(_STRING)))
            self._skip()
            self.pos += 1  # the colon
            self._skip()
            if key in located.keys:
                raise DuplicateKeyError((*path, key), (located.keys[key].line, key_line))
            located.keys[key] = self._value(key_line, (*path, key))
            self._skip()
            if self.text[self.pos] == ",":
                self.pos += 1
                self._skip()
        self.pos += 1
        return located

    def _array(self, line: int, path: KeyPath) -> _Located:
        located = _Located(line, items=[])
        assert located.items is not None
        self.pos += 1
        self._skip()
        while self.text[self.pos] != "]":
            located.items.append(self._value(self._line(), (*path, len(located.items))))
            self._skip()
            if self.text[self.pos] == ",":
                self.pos += 1
                self._skip()
        self.pos += 1
        return located


# ---------------------------------------------------------------------- TOML

_HEADER = re.compile(r"\s*(\[\[?)\s*(?P<keys>[^\[\]#]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY_LINE = re.compile(r"""\s*(?P<keys>(?:[A-Za-z0-9_\-. \t]|"(?:[^"\\]|\\.)*"|'[^']*')+?)\s*=""")
_KEY_PART = re.compile(r"""\s*(?:([A-Za-z0-9_\-]+)|"((?:[^"\\]|\\.)*)"|'([^']*)')\s*(\.|$)""")


def _toml_keys(text: str) -> list[str] | None:
    """The parts of a dotted TOML key (``a."b.c".d``); None when the text is not a key."""
    parts, pos = [], 0
    while pos < len(text):
        match = _KEY_PART.match(text, pos)
        if match is None or match.end() == pos:
            return None
        bare, basic, literal = match.group(1, 2, 3)
        if bare is not None:
            parts.append(bare)
        elif basic is not None:
            parts.append(str(json.loads(f'"{basic}"')))
        else:
            parts.append(literal)
        pos = match.end()
        if not match.group(4):
            break
    return parts if pos == len(text) and parts else None


def toml_locator(text: str) -> Locator:
    """The locator of a TOML document that `tomllib` has read.

    Headers and ``key =`` lines are found by scanning the lines, outside multi-line strings;
    a key inside an inline table or array is placed on the line of the key that holds it.
    """
    lines: dict[tuple[str | int, ...], int] = {}
    arrays: dict[tuple[str | int, ...], int] = {}  # array-of-tables path: its last index
    table: tuple[str | int, ...] = ()
    in_string: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        if in_string is not None:
            if raw.count(in_string) % 2 == 1:
                in_string = None
            continue
        header = _HEADER.match(raw)
        keys = _toml_keys(header.group("keys")) if header else None
        if header and keys is not None:
            table = _toml_table(keys, arrays, many=header.group(1) == "[[")
            for end in range(1, len(table) + 1):
                lines.setdefault(table[:end], number)
            continue
        key_line = _KEY_LINE.match(raw)
        keys = _toml_keys(key_line.group("keys")) if key_line else None
        if key_line and keys is not None:
            for end in range(1, len(keys) + 1):
                lines.setdefault((*table, *keys[:end]), number)
            rest = raw[key_line.end() :]
            for quotes in ('"""', "'''"):
                if rest.count(quotes) % 2 == 1:
                    in_string = quotes

    def locate(path: KeyPath) -> int | None:
        for end in range(len(path), 0, -1):
            line = lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None

    return locate


def _toml_table(
    keys: list[str], arrays: dict[tuple[str | int, ...], int], *, many: bool
) -> tuple[str | int, ...]:
    """The path of a ``[table]`` or ``[[array]]`` header, with the indexes of its arrays."""
    path: tuple[str | int, ...] = ()
    for key in keys[:-1]:
        path = (*path, key)
        if path in arrays:
            path = (*path, arrays[path])
    path = (*path, keys[-1])
    if many:
        arrays[path] = arrays.get(path, -1) + 1
        return (*path, arrays[path])
    return path
