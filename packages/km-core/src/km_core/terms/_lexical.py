"""The lexical forms of Python values: how each supported type is read from and written to text.

The text here is a literal's lexical form, without quotes or datatype: ``12``, ``21.5``,
``2024-05-01T12:00:00Z``. `LEXICAL` maps each Python type to its reader and writer; the
converters of plain fields and of fields with a custom datatype both use it.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

INTEGER = re.compile(r"[+-]?[0-9]+")
DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_DOUBLE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?INF|NaN")
_FRACTION = re.compile(r"(\.\d{6})\d+")
_DATE_TZ = re.compile(r"(Z|[+-]\d{2}:\d{2})$")


def _int_from(lexical: str) -> int:
    if not INTEGER.fullmatch(lexical):
        raise ValueError(f"{lexical!r} is not an integer")
    return int(lexical)


def _float_from(lexical: str) -> float:
    if not _DOUBLE.fullmatch(lexical):
        raise ValueError(f"{lexical!r} is not a number")
    return float(lexical)


def _whole_minutes(offset: dt.timedelta | None) -> bool:
    return offset is None or offset % dt.timedelta(minutes=1) == dt.timedelta(0)


def _float_lexical(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "INF" if value > 0 else "-INF"
    return repr(float(value))


def _decimal_from(lexical: str) -> Decimal:
    if not DECIMAL.fullmatch(lexical):
        raise ValueError(f"{lexical!r} is not a decimal number")
    return Decimal(lexical)


def _decimal_lexical(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"{value} has no xsd:decimal form")
    return format(value, "f")


def _bool_from(lexical: str) -> bool:
    if lexical in ("true", "1"):
        return True
    if lexical in ("false", "0"):
        return False
    raise ValueError(f"{lexical!r} is not a boolean (true, false, 1 or 0)")


_HOUR_24 = re.compile(r"(\d{4,}-\d{2}-\d{2})T24:00:00(?:\.0+)?(.*)")


def _datetime_from(lexical: str) -> dt.datetime:
    try:
        end_of_day = _HOUR_24.fullmatch(lexical)
        if end_of_day:  # xsd's 24:00:00 is midnight at the end of that day
            start = dt.datetime.fromisoformat(f"{end_of_day[1]}T00:00:00{end_of_day[2]}")
            return start + dt.timedelta(days=1)
        return dt.datetime.fromisoformat(_FRACTION.sub(r"\1", lexical))
    except (ValueError, OverflowError):
        raise ValueError(f"{lexical!r} is not an xsd:dateTime") from None


def _datetime_lexical(value: dt.datetime) -> str:
    if not _whole_minutes(value.utcoffset()):
        # xsd time zones have whole minutes: write the same instant in UTC.
        try:
            value = value.astimezone(dt.UTC)
        except OverflowError:
            raise ValueError(f"{value} is out of range once written in UTC") from None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") and value.tzinfo is dt.UTC else text


def _date_from(lexical: str) -> dt.date:
    try:
        return dt.date.fromisoformat(lexical if len(lexical) == 10 else _DATE_TZ.sub("", lexical))
    except ValueError:
        raise ValueError(f"{lexical!r} is not an xsd:date") from None


def _time_from(lexical: str) -> dt.time:
    try:
        return dt.time.fromisoformat(_FRACTION.sub(r"\1", lexical))
    except ValueError:
        raise ValueError(f"{lexical!r} is not an xsd:time") from None


def _time_lexical(value: dt.time) -> str:
    if not _whole_minutes(value.utcoffset()):
        raise ValueError(f"{value} has a time zone offset finer than minutes; xsd:time has none")
    return value.isoformat()


LEXICAL: dict[type, tuple[Callable[[str], Any], Callable[[Any], str]]] = {
    str: (lambda lexical: lexical, str),
    int: (_int_from, str),
    float: (_float_from, _float_lexical),
    Decimal: (_decimal_from, _decimal_lexical),
    bool: (_bool_from, lambda value: "true" if value else "false"),
    dt.datetime: (_datetime_from, _datetime_lexical),
    dt.date: (_date_from, lambda value: value.isoformat()),
    dt.time: (_time_from, _time_lexical),
}
