"""The SQL a SQL source runs: the configured query and statements checked, and queries built.

No text from the network ever becomes SQL text. An ANSWER's incoming bindings filter its query
as bound parameters (``km_answer.tree = :km_0_0``) whose names are made here; the column names
come from the query's own result, matched to the pattern's variables. A REACT's statements
name their parameters after the argument pattern's variables, and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Select, and_, bindparam, column, or_, select, text
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.types import NullType

from km_mapper._errors import MapperConfigError

__all__ = ["answer_query", "filtered", "probe", "react_statements"]

_NO_TYPE = NullType()
"""Bound parameters carry no SQL type: no cast is written, the database infers the type from
where the parameter stands, and the value was already converted to it (``_columns``)."""


def _trimmed(sql: str) -> str:
    return sql.strip().rstrip(";").rstrip()


def _enclosable(query: str) -> str:
    """The query, ready for parentheses around it: a ``-- comment`` at its end stays one."""
    return query + "\n"


def _parameters(clause: TextClause) -> list[str]:
    return list(clause.compile().params)


def answer_query(interaction: str, query: str | None) -> str:
    """An ANSWER's query, checked: given, one statement, and without parameters.

    Raises:
        MapperConfigError: no query, or one with a ``:name`` parameter.
    """
    if query is None or not _trimmed(query):
        raise MapperConfigError(
            f"knowledge interaction {interaction!r} is served by a SQL source and needs a "
            "'query': a SELECT whose result columns are named like the pattern's variables",
            key="query",
        )
    query = _trimmed(query)
    names = _parameters(text(query))
    if names:
        raise MapperConfigError(
            f"knowledge interaction {interaction!r}: the query has the parameter(s) "
            f"{', '.join(':' + name for name in names)}, but an ANSWER's query takes none (the "
            "incoming bindings filter its result); write \\: for a colon that is not one",
            key="query",
        )
    return query


def probe(query: str) -> TextClause:
    """The query run for its result's columns alone: their names and types, no rows."""
    return text(f"SELECT * FROM ({_enclosable(query)}) AS km_probe WHERE 1 = 0")


def filtered(
    query: str, columns: Sequence[str], conditions: Sequence[Mapping[str, object]]
) -> Select[tuple[object, ...]]:
    """The query, keeping the rows that meet any of the conditions: one statement.

    ``SELECT * FROM (query) AS km_answer WHERE (c1 = :km_0_0 AND c2 = :km_0_1) OR ...``

    Args:
        query: The configured query.
        columns: The names of its result's columns, as the database gives them.
        conditions: Per incoming binding, the columns it constrains and the values (converted
            to the columns' types) they must have. None is empty.
    """
    answer = (
        text(_enclosable(query)).columns(*(column(name) for name in columns)).subquery("km_answer")
    )
    return select(answer).where(
        or_(
            *(
                and_(
                    *(
                        answer.c[name] == bindparam(f"km_{i}_{j}", value, type_=_NO_TYPE)
                        for j, (name, value) in enumerate(condition.items())
                    )
                )
                for i, condition in enumerate(conditions)
            )
        )
    )


def react_statements(
    interaction: str, statements: Sequence[str], variables: Sequence[str]
) -> list[TextClause]:
    """A REACT's statements, checked: given, and with only pattern variables as parameters.

    Raises:
        MapperConfigError: no statements, or a ``:name`` parameter that is not a variable of
            the argument graph pattern.
    """
    if not statements:
        raise MapperConfigError(
            f"knowledge interaction {interaction!r} is served by a SQL source and needs "
            "'statements': the SQL run for each incoming binding, with its variables as "
            "parameters (INSERT INTO trees (id) VALUES (:tree))",
            key="statements",
        )
    clauses = []
    for index, statement in enumerate(statements):
        if not _trimmed(statement):
            raise MapperConfigError(
                f"knowledge interaction {interaction!r}: statement {index + 1} is empty",
                key=f"statements[{index}]",
            )
        clause = text(_trimmed(statement))
        names = _parameters(clause)
        clause = clause.bindparams(*(bindparam(name, type_=_NO_TYPE) for name in names))
        unknown = [name for name in names if name not in variables]
        if unknown:
            raise MapperConfigError(
                f"knowledge interaction {interaction!r}: statement {index + 1} has the "
                f"parameter(s) {', '.join(':' + name for name in unknown)}, which are not "
                f"variables of the argument graph pattern ({', '.join(variables)}); write \\: "
                "for a colon that is not a parameter",
                key=f"statements[{index}]",
            )
        clauses.append(clause)
    return clauses
