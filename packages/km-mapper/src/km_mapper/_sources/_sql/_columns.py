"""The types of a query's columns and of a statement's parameters, and values fitted to them.

An incoming value is converted to the type of the column it is compared with, or of the
parameter it fills, before it is bound: the text ``"5"`` of an IRI template's placeholder
becomes the integer 5 for an integer column, and a value that cannot be of the column's type
matches no row. PostgreSQL (asyncpg) insists on it: it binds every parameter in its declared
type. MySQL and MariaDB report their column types too. SQLite reports none; its type affinity
converts what it compares, and dates, times and decimals are bound as text it can compare.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import TextClause

from km_mapper._terms import NoMatch, Value, convert

__all__ = ["UNKNOWN", "ColumnType", "column_types", "fit", "fitted_row", "parameter_types"]


@dataclasses.dataclass(frozen=True, slots=True)
class ColumnType:
    """The Python type of a column's values.

    Attributes:
        python: The type; ``None`` when unknown (the value is bound as it is).
        aware: For a datetime column: whether its values have a time zone.
    """

    python: type | None
    aware: bool | None = None


UNKNOWN = ColumnType(None)

_INT = ColumnType(int)
_DECIMAL = ColumnType(Decimal)
_FLOAT = ColumnType(float)
_TEXT = ColumnType(str)
_DATE = ColumnType(dt.date)
_TIME = ColumnType(dt.time)
_NAIVE = ColumnType(dt.datetime, aware=False)

# PostgreSQL's type OIDs (pg_type), as asyncpg reports them.
_POSTGRES: dict[int, ColumnType] = {
    16: ColumnType(bool),
    17: ColumnType(bytes),
    19: _TEXT,
    20: _INT,
    21: _INT,
    23: _INT,
    25: _TEXT,
    26: _INT,
    700: _FLOAT,
    701: _FLOAT,
    1042: _TEXT,
    1043: _TEXT,
    1082: _DATE,
    1083: _TIME,
    1114: _NAIVE,
    1184: ColumnType(dt.datetime, aware=True),
    1186: ColumnType(dt.timedelta),
    1266: _TIME,
    1700: _DECIMAL,
}
# MySQL's and MariaDB's field types (FIELD_TYPE), as PyMySQL reports them. BLOB and TEXT
# columns share their codes, so they stay unknown.
_MYSQL: dict[int, ColumnType] = {
    0: _DECIMAL,
    1: _INT,
    2: _INT,
    3: _INT,
    4: _FLOAT,
    5: _FLOAT,
    7: _NAIVE,
    8: _INT,
    9: _INT,
    10: _DATE,
    11: _TIME,
    12: _NAIVE,
    13: _INT,
    14: _DATE,
    15: _TEXT,
    246: _DECIMAL,
    247: _TEXT,
    253: _TEXT,
    254: _TEXT,
}
_BY_DIALECT: dict[str, dict[int, ColumnType]] = {
    "postgresql": _POSTGRES,
    "mysql": _MYSQL,
    "mariadb": _MYSQL,
}


def column_types(dialect: str, description: Sequence[Sequence[Any]] | None) -> list[ColumnType]:
    """The type of each column of a result, from its DB-API ``cursor.description``."""
    known = _BY_DIALECT.get(dialect, {})
    return [
        known.get(column[1], UNKNOWN) if isinstance(column[1], int) else UNKNOWN
        for column in description or ()
    ]


async def parameter_types(
    connection: AsyncConnection, statement: TextClause
) -> dict[str, ColumnType]:
    """The type of each named parameter of a statement, where the database says (PostgreSQL).

    PostgreSQL infers a parameter's type from where it stands (``VALUES (:tree, ...)`` takes
    the column's type), and asyncpg tells it when the statement is prepared. Other databases
    convert what they are given, and get an empty mapping.
    """
    if connection.dialect.name != "postgresql":
        return {}
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    compiled = statement.compile(dialect=connection.dialect)
    names = compiled.positiontup or []
    prepared = await driver.prepare(compiled.string)
    oids = [parameter.oid for parameter in prepared.get_parameters()]
    if len(oids) != len(names):
        return {}
    return {name: _POSTGRES.get(oid, UNKNOWN) for name, oid in zip(names, oids, strict=True)}


def fit(value: Value, column: ColumnType, dialect: str) -> object:
    """``value`` as the driver should bind it for ``column``; `NoMatch` if it cannot be one.

    A datetime with a time zone fits only a column with time zones, and one without fits only
    a column without: a naive value's instant is unknown.
    """
    if column.python is not None:
        try:
            value = convert(value, column.python)
        except (ValueError, ArithmeticError) as exc:
            return NoMatch(str(exc))
        if (
            column.aware is not None
            and isinstance(value, dt.datetime)
            and (value.tzinfo is not None) != column.aware
        ):
            if column.aware:
                return NoMatch(f"{value.isoformat()} has no time zone, the column's values do")
            return NoMatch(f"{value.isoformat()} has a time zone, the column's values do not")
    if dialect == "sqlite":
        return _for_sqlite(value)
    return value


def _for_sqlite(value: Value) -> object:
    # SQLite has no date, time or decimal types: such values are stored, and compared, as
    # text (ISO 8601) or as numbers.
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else str(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return value


def fitted_row(
    values: Mapping[str, Value], columns: Mapping[str, ColumnType], dialect: str
) -> dict[str, object] | NoMatch:
    """Each value fitted to its column (or parameter); the first `NoMatch` if one does not fit."""
    row: dict[str, object] = {}
    for name, value in values.items():
        fitted = fit(value, columns.get(name, UNKNOWN), dialect)
        if isinstance(fitted, NoMatch):
            return NoMatch(f"{name!r}: {fitted.reason}")
        row[name] = fitted
    return row
