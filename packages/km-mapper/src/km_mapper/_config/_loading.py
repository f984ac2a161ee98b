"""Reading a config file: YAML, TOML or JSON into a `MapperConfig`, or one error that says where.

`load_config` picks the format by the file's suffix. Whatever goes wrong (no such file, text
that does not parse, a key that is unknown, missing or of the wrong kind) becomes a
`MapperConfigError` that names the file, the line and the key. Paths in the file are read
relative to the file's directory, so ``km run path/to/mapper.yaml`` works from anywhere.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import Any

import yaml  # type: ignore[import-untyped, unused-ignore]
from pydantic import BaseModel, ValidationError

from km_mapper._errors import MapperConfigError

from ._locating import DuplicateKeyError, Locator, json_locator, toml_locator, yaml_locator
from ._messages import describe_errors, dotted
from ._models import MapperConfig, SparqlSource, SqlSource

__all__ = ["FORMATS", "load_config", "validation_error"]

FORMATS = {".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".json": "json"}
"""The formats by file suffix."""

MAX_LISTED = 3
"""How many further problems an error names, after the first."""


def load_config(path: str | os.PathLike[str]) -> MapperConfig:
    """Read and validate a mapper config file.

    The format follows the suffix: ``.yaml`` or ``.yml`` (PyYAML's safe loader), ``.toml`` or
    ``.json``. A relative ``file`` of a SPARQL source, and the database file of a relative
    SQLite URL (``sqlite+aiosqlite:///trees.db``), are made absolute against the directory of
    the config file, not the working directory.

    Args:
        path: The config file.

    Returns:
        The validated config.

    Raises:
        MapperConfigError: the file cannot be read, does not parse, or is not a valid config;
            the message names the file, the line and the key, and what is wrong.
    """
    name = os.fspath(path)
    kind = FORMATS.get(PurePath(name).suffix.lower())
    if kind is None:
        raise MapperConfigError(
            "cannot tell the format: the file's name must end in .yaml, .yml, .toml or .json",
            path=name,
        )
    try:
        text = Path(name).read_text(encoding="utf-8").removeprefix("\ufeff")
    except FileNotFoundError:
        raise MapperConfigError("no such file", path=name) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MapperConfigError(f"cannot read the file: {_reason(exc)}", path=name) from None
    data, locate = _PARSERS[kind](text, name)
    if not isinstance(data, dict):
        what = "nothing" if data is None else f"a {type(data).__name__}"
        raise MapperConfigError(
            f"the file holds {what}; a config file is a mapping with the keys knowledge_base, "
            "sources and knowledge_interactions",
            path=name,
        )
    try:
        config = MapperConfig.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, data, MapperConfig, locate, path=name) from None
    return _with_paths_resolved(config, Path(name).resolve().parent)


def validation_error(
    error: ValidationError,
    data: Any,
    model: type[BaseModel],
    locate: Locator,
    *,
    path: str | None,
) -> MapperConfigError:
    """The `MapperConfigError` of a validation error: its first problem, naming the others.

    Args:
        error: What pydantic raised.
        data: The data that was validated.
        model: The model it was validated as.
        locate: Finds the line of a key path (``lambda path: None`` without a file).
        path: The file, if there is one.
    """
    first, *others = describe_errors(error, data, model, locate)
    message = first.message
    if others:
        where = [
            (problem.key or "the file") + (f" (line {problem.line})" if problem.line else "")
            for problem in others[:MAX_LISTED]
        ]
        more = f", and {len(others) - MAX_LISTED} more" if len(others) > MAX_LISTED else ""
        message += f"; and also at {', '.join(where)}{more}"
    return MapperConfigError(message, path=path, line=first.line, key=first.key)


# ---------------------------------------------------------------------- the formats


def _read_yaml(text: str, name: str) -> tuple[Any, Locator]:
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = None if node is None else loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1
        problem = exc.problem or exc.context or "not valid YAML"
        raise MapperConfigError(f"not valid YAML: {problem}", path=name, line=line) from None
    except yaml.YAMLError as exc:
        raise MapperConfigError(f"not valid YAML: {exc}", path=name) from None
    if node is None:
        return None, _nowhere
    return data, _no_duplicates(lambda: yaml_locator(node), name)


def _read_json(text: str, name: str) -> tuple[Any, Locator]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MapperConfigError(f"not valid JSON: {exc.msg}", path=name, line=exc.lineno) from None
    return data, _no_duplicates(lambda: json_locator(text), name)


_TOML_AT = re.compile(r"\s*\(at line (\d+), column \d+\)$")


def _read_toml(text: str, name: str) -> tuple[Any, Locator]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_AT.search(str(exc))
        line = int(found.group(1)) if found else None
        problem = _TOML_AT.sub("", str(exc))
        raise MapperConfigError(f"not valid TOML: {problem}", path=name, line=line) from None
    return data, toml_locator(text)


_PARSERS: dict[str, Callable[[str, str], tuple[Any, Locator]]] = {
    "yaml": _read_yaml,
    "json": _read_json,
    "toml": _read_toml,
}


def _nowhere(path: object) -> None:
    return None


def _no_duplicates(make: Callable[[], Locator], name: str) -> Locator:
    """The locator ``make`` builds; a key given twice in one mapping is an error."""
    try:
        return make()
    except DuplicateKeyError as exc:
        first, again = exc.lines
        raise MapperConfigError(
            f"given twice, on lines {first} and {again}; the second would replace the first: "
            "keep one",
            path=name,
            line=again,
            key=dotted(exc.path),
        ) from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    if isinstance(exc, UnicodeDecodeError):
        return "it is not UTF-8 text"
    return str(exc)


# ---------------------------------------------------------------------- relative paths


def _with_paths_resolved(config: MapperConfig, directory: Path) -> MapperConfig:
    """The config with its relative file paths made absolute against ``directory``."""
    sources = dict(config.sources)
    for name, source in config.sources.items():
        if isinstance(source, SparqlSource) and source.file is not None:
            if not source.file.is_absolute():
                sources[name] = source.model_copy(update={"file": directory / source.file})
        elif isinstance(source, SqlSource):
            url = sqlite_url_resolved(source.url, directory)
            if url != source.url:
                sources[name] = source.model_copy(update={"url": url})
    if sources == config.sources:
        return config
    return config.model_copy(update={"sources": sources})


def sqlite_url_resolved(url: str, directory: Path) -> str:
    """A SQLite URL whose database file is relative, made absolute against ``directory``.

    ``sqlite+aiosqlite:///trees.db`` becomes ``sqlite+aiosqlite:////abs/dir/trees.db``. Other
    URLs come back as they are: other databases, absolute paths, ``:memory:``, ``file:`` URIs,
    and a URL without a database (``sqlite://``, in memory).
    """
    scheme, separator, rest = url.partition("://")
    if not separator or scheme.split("+", 1)[0].lower() != "sqlite" or not rest.startswith("/"):
        return url
    database, query_mark, query = rest[1:].partition("?")
    if (
        not database
        or database == ":memory:"
        or database.startswith("file:")
        or PurePath(database).is_absolute()
    ):
        return url
    return f"{scheme}:///{(directory / database).as_posix()}{query_mark}{query}"
