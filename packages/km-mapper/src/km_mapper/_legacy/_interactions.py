"""The legacy file's knowledge interactions as ours: names, patterns, SQL, permitted lists.

Each interaction keeps its type, prefixes and patterns. An unnamed one gets a name. What the
legacy's SQL source read (``sql_query``, ``column_prefixes``) becomes a ``query``, REACT
``statements`` with named parameters, and ``terms``. ``vars`` goes: the variables are read from
the patterns. The permitted lists follow the file's authorization (see `Authorization`).
"""

from __future__ import annotations

import enum
import re
from typing import Any

from ._context import Conversion

__all__ = ["Authorization", "convert_interactions"]

PATTERN_KEYS = {
    "ask": ("pattern", "graph_pattern"),
    "answer": ("pattern", "graph_pattern"),
    "post": ("argument_pattern", "argument_graph_pattern"),
    "react": ("argument_pattern", "argument_graph_pattern"),
}
"""The legacy's pattern key of each type, and ours."""

KNOWN_KEYS = frozenset(
    {"type", "name", "prefixes", "pattern", "argument_pattern", "result_pattern", "permitted"}
    | {"vars", "sql_query", "column_prefixes", "knowledge_gaps_enabled"}
)

_PLACEHOLDER = re.compile(r"%([%s])")

Key = tuple[str | int, ...]


class Authorization(enum.Enum):
    """How the legacy file decided who may use an interaction."""

    NONE = "none"
    """Everybody may; the permitted lists are not read."""
    STATIC = "static"
    """Only those in the interaction's permitted list; nobody without one."""
    SQL = "sql"
    """A ``policies`` table decides; the permitted lists are not read."""


def convert_interactions(
    legacy: list[Any], *, sql: bool, authorization: Authorization, conversion: Conversion
) -> list[dict[str, Any]]:
    """The interactions of ours for the legacy file's ``knowledge_interactions``.

    Args:
        legacy: The legacy file's list.
        sql: Whether the data source is a SQL database.
        authorization: How the legacy file authorized requests.
        conversion: The conversion, for its notes and errors.

    Raises:
        MapperConfigError: an interaction the legacy could not have registered either.
    """
    items = [
        conversion.mapping(item, "knowledge_interactions", index)
        for index, item in enumerate(legacy)
    ]
    names = _names(items, conversion)
    converted = [
        _interaction(item, name, ("knowledge_interactions", index), sql, authorization, conversion)
        for index, (item, name) in enumerate(zip(items, names, strict=True))
    ]
    with_vars = [name for item, name in zip(items, names, strict=True) if "vars" in item]
    if with_vars:
        conversion.note(
            f"vars dropped from {_listed(with_vars)}: the variables are read from the patterns"
        )
    return converted


def _interaction(
    item: dict[str, Any],
    name: str,
    key: Key,
    sql: bool,
    authorization: Authorization,
    conversion: Conversion,
) -> dict[str, Any]:
    kind = item.get("type")
    if kind not in PATTERN_KEYS:
        conversion.fail(
            f"must be one of 'ask', 'answer', 'post', 'react', not {kind!r}", *key, "type"
        )
    ki: dict[str, Any] = {"name": name, "type": kind}
    if item.get("prefixes"):
        ki["prefixes"] = conversion.mapping(item["prefixes"], *key, "prefixes")
    theirs, ours = PATTERN_KEYS[kind]
    ki[ours] = conversion.text(item.get(theirs), *key, theirs)
    if kind in ("post", "react") and item.get("result_pattern"):
        pattern = conversion.text(item["result_pattern"], *key, "result_pattern")
        ki["result_graph_pattern"] = pattern
    if kind == "ask" and "knowledge_gaps_enabled" in item:
        ki["knowledge_gaps_enabled"] = bool(item["knowledge_gaps_enabled"])
        conversion.note(
            f"interaction {name!r}: knowledge_gaps_enabled is now honoured (the legacy ignored it)"
        )
    if kind in ("answer", "react"):
        _permitted(item, ki, key, authorization, conversion)
        if sql:
            _sql(item, ki, key, conversion)
    elif "permitted" in item:
        conversion.note(
            f"interaction {name!r}: permitted dropped (a knowledge base does not serve its own "
            f"{kind} interactions, so there is nobody to let in or keep out)"
        )
    if not sql and ("sql_query" in item or "column_prefixes" in item):
        conversion.note(
            f"interaction {name!r}: sql_query and column_prefixes dropped (only a SQL source "
            "reads them)"
        )
    unknown = sorted(set(item) - KNOWN_KEYS)
    if unknown:
        conversion.note(
            f"interaction {name!r}: {', '.join(unknown)} not carried over (not keys of ours)"
        )
    return ki


def _names(items: list[dict[str, Any]], conversion: Conversion) -> list[str]:
    """The interactions' names, given or made up (``answer-1``), one note for the made-up."""
    given: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.get("name") is not None:
            name = conversion.text(item["name"], "knowledge_interactions", index, "name")
            if name in given:
                conversion.fail(
                    f"{name!r} is also the name of knowledge_interactions[{given[name]}]: "
                    "names must be unique",
                    "knowledge_interactions",
                    index,
                    "name",
                )
            given[name] = index
    names: list[str] = []
    made: list[str] = []
    counts: dict[str, int] = {}
    for index, item in enumerate(items):
        chosen: str | None = item.get("name")
        if chosen is None:
            kind = str(item.get("type"))
            while chosen is None or chosen in given:
                counts[kind] = counts.get(kind, 0) + 1
                chosen = f"{kind}-{counts[kind]}"
            made.append(f"knowledge_interactions[{index}] is {chosen!r}")
        names.append(chosen)
    if made:
        conversion.note(
            f"interactions without a name got one: {', '.join(made)} (the Knowledge Engine's "
            "ids of them change)"
        )
    return names


def _permitted(
    item: dict[str, Any],
    ki: dict[str, Any],
    key: Key,
    authorization: Authorization,
    conversion: Conversion,
) -> None:
    """The interaction's permitted list, as the file's authorization read it."""
    if "permitted" not in item:
        return
    name, permitted = ki["name"], item["permitted"]
    if authorization is not Authorization.STATIC:
        reason = (
            "without authorization_enabled"
            if authorization is Authorization.NONE
            else "with authorization type sql"
        )
        conversion.note(
            f"interaction {name!r}: permitted dropped (the legacy did not read it {reason})"
        )
    elif permitted == "*":
        ki["permitted"] = "*"
    elif isinstance(permitted, str):
        ki["permitted"] = [permitted]
        conversion.note(
            f"interaction {name!r}: permitted {permitted!r} became a list of that one id (the "
            "legacy let in every id that is part of the string)"
        )
    else:
        ids = conversion.strings(permitted, *key, "permitted")
        if "*" in ids:
            conversion.note(
                f"interaction {name!r}: '*' dropped from its permitted list (in a list, the "
                "legacy read it as an id, not as everybody)"
            )
        ki["permitted"] = [kb_id for kb_id in ids if kb_id != "*"]


def _sql(item: dict[str, Any], ki: dict[str, Any], key: Key, conversion: Conversion) -> None:
    """The query or statements, and the terms, of an interaction served by a SQL database."""
    query = item.get("sql_query")
    if query is None:
        wanted = "a query" if ki["type"] == "answer" else "statements"
        conversion.note(
            f"interaction {ki['name']!r} has no sql_query (the legacy failed on every request "
            f"to it): give it {wanted}"
        )
    elif ki["type"] == "answer":
        ki["query"] = conversion.text(query, *key, "sql_query").strip().rstrip(";").rstrip()
        conversion.note(
            "SQL answers: incoming bindings now filter the query's rows as bound parameters, "
            "no longer through a HAVING clause added to sql_query"
        )
        conversion.note(
            "SQL answers: a value is now written by its SQL type (DECIMAL as xsd:decimal, DATE "
            "as xsd:date, ...), where the legacy wrote integers as xsd:integer and all else as "
            "plain strings: give a variable a datatype under terms to choose"
        )
    else:
        statements = [query] if isinstance(query, dict) else query
        if not isinstance(statements, list):
            conversion.fail("must be a list of {statement, bindings}", *key, "sql_query")
        ki["statements"] = [
            _statement(statement, (*key, "sql_query", index), conversion)
            for index, statement in enumerate(statements)
        ]
        conversion.note(
            "SQL reacts: the statements of a request now run in one transaction, and a failing "
            "statement fails the request; the legacy committed after each binding and skipped "
            "a failing statement"
        )
        conversion.note(
            'SQL reacts: an incoming literal is now bound as its value ("9"^^xsd:integer as '
            '9, "oak" as oak), where the legacy bound typed literals as their whole text'
        )
    prefixes = item.get("column_prefixes")
    if prefixes:
        columns = conversion.mapping(prefixes, *key, "column_prefixes")
        ki["terms"] = {
            column: {
                "iri": conversion.text(prefix, *key, "column_prefixes", column) + f"{{{column}}}"
            }
            for column, prefix in columns.items()
        }


def _statement(statement: object, key: Key, conversion: Conversion) -> str:
    """A legacy ``{statement, bindings}`` with ``%s`` placeholders, with ``:var`` in their place."""
    given = conversion.mapping(statement, *key)
    text = conversion.text(given.get("statement"), *key, "statement")
    bindings = conversion.strings(given.get("bindings", []), *key, "bindings")
    count = sum(1 for match in _PLACEHOLDER.finditer(text) if match.group(1) == "s")
    if count != len(bindings):
        conversion.fail(
            f"the statement has {count} %s placeholders and {len(bindings)} bindings: give "
            "one binding per placeholder, in order",
            *key,
        )
    order = iter(bindings)
    return _PLACEHOLDER.sub(lambda match: "%" if match.group(1) == "%" else f":{next(order)}", text)


def _listed(names: list[str]) -> str:
    return ", ".join(repr(name) for name in names)
