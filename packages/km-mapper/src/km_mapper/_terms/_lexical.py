"""Lexical forms of Python values, per XML Schema datatype: writing, reading, converting.

`natural` writes a value as its type decides (an int as an xsd:integer); `READERS` read the
lexical form of a datatype into a Python value; `convert` turns a value into another Python
type when the value stays the same (5.0 into 5, ``"2024-05-01"`` into a date).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
import re
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Final, TypeAlias

from km_core.terms import (
    FLOAT_TYPES,
    INTEGER_TYPES,
    RDF,
    XSD,
    XSD_BOOLEAN,
    XSD_DATE,
    XSD_DATETIME,
    XSD_DECIMAL,
    XSD_DOUBLE,
    XSD_INTEGER,
    XSD_STRING,
    XSD_TIME,
)

__all__ = [
    "LANG_STRING",
    "NUMERIC",
    "PYTHON_TYPES",
    "READERS",
    "Value",
    "convert",
    "natural",
    "read_str",
]

Value: TypeAlias = (
    str | int | float | Decimal | bool | dt.date | dt.datetime | dt.time | dt.timedelta | bytes
)
"""A value a codec reads from a term, or that a statement binds."""

_BASE64: Final = XSD + "base64Binary"
_HEX: Final = XSD + "hexBinary"
_DURATION: Final = XSD + "dayTimeDuration"
LANG_STRING: Final = RDF + "langString"
NUMERIC: Final = INTEGER_TYPES | FLOAT_TYPES | {XSD_DECIMAL}

_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_DOUBLE_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?INF|NaN")
_ZONE = r"(?:Z|[+-][0-9]{2}:[0-9]{2})?"
_TIME_TEXT = r"[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
_DATE_TEXT = re.compile(rf"([0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}){_ZONE}")
_DATETIME_TEXT = re.compile(rf"[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}[T ]{_TIME_TEXT}{_ZONE}")
_TIME_ONLY_TEXT = re.compile(rf"{_TIME_TEXT}{_ZONE}")
_FRACTION = re.compile(r"(\.[0-9]{6})[0-9]+")
_DURATION_TEXT = re.compile(
    r"(-?)P(?=[0-9T])(?:([0-9]+)D)?"
    r"(?:T(?=[0-9])(?:([0-9]+)H)?(?:([0-9]+)M)?(?:([0-9]+(?:\.[0-9]+)?)S)?)?"
)


# ---------------------------------------------------------------- lexical forms


def _minutes_only(offset: dt.timedelta | None) -> bool:
    return offset is None or offset % dt.timedelta(minutes=1) == dt.timedelta(0)


def _zone_text(text: str, offset: dt.timedelta | None) -> str:
    return text[:-6] + "Z" if offset == dt.timedelta(0) and text.endswith("+00:00") else text


def _datetime_lexical(value: dt.datetime) -> str:
    if not _minutes_only(value.utcoffset()):  # xsd offsets are whole minutes
        value = value.astimezone(dt.UTC)
    return _zone_text(value.isoformat(), value.utcoffset())


def _time_lexical(value: dt.time) -> str:
    if not _minutes_only(value.utcoffset()):
        raise ValueError(f"{value} has a time zone offset finer than minutes; xsd:time has none")
    return _zone_text(value.isoformat(), value.utcoffset())


def _duration_lexical(value: dt.timedelta) -> str:
    sign = "-" if value < dt.timedelta(0) else ""
    micros = abs(value) // dt.timedelta(microseconds=1)
    seconds, micros = divmod(micros, 1_000_000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    second = f"{seconds}.{micros:06d}".rstrip("0").rstrip(".") if micros else str(seconds)
    clock = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M")) if n)
    if seconds or micros or not (days or clock):
        clock += f"{second}S"
    return f"{sign}P{f'{days}D' if days else ''}{'T' + clock if clock else ''}"


def _float_lexical(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "INF" if value > 0 else "-INF"
    return repr(value)


def natural(value: object) -> tuple[str, str]:
    """The lexical form and datatype a value's Python type gives it.

    Raises:
        ValueError: the type has no RDF form here (a ``timedelta``, a ``list``, ...).
    """
    if isinstance(value, bool):  # before int: a bool is an int
        return ("true" if value else "false"), XSD_BOOLEAN
    if isinstance(value, int):
        return str(value), XSD_INTEGER
    if isinstance(value, Decimal):
        if not value.is_finite():  # NaN and infinities have no xsd:decimal form
            return _float_lexical(float(value)), XSD_DOUBLE
        return format(value, "f"), XSD_DECIMAL
    if isinstance(value, float):
        return _float_lexical(value), XSD_DOUBLE
    if isinstance(value, dt.datetime):  # before date: a datetime is a date
        return _datetime_lexical(value), XSD_DATETIME
    if isinstance(value, dt.date):
        return value.isoformat(), XSD_DATE
    if isinstance(value, dt.time):
        return _time_lexical(value), XSD_TIME
    if isinstance(value, str):
        return value, XSD_STRING
    if isinstance(value, dt.timedelta):
        return _duration_lexical(value), _DURATION
    if isinstance(value, uuid.UUID):
        return str(value), XSD_STRING
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii"), _BASE64
    raise ValueError(
        f"a value of type {type(value).__name__} has no RDF form; convert it in the query "
        "(CAST(... AS VARCHAR), say) or give the variable a datatype in 'terms'"
    )


def _read_int(text: str) -> int:
    if not _INT_TEXT.fullmatch(text):
        raise ValueError(f"{text!r} is not an integer")
    return int(text)


def _read_decimal(text: str) -> Decimal:
    if not _DECIMAL_TEXT.fullmatch(text):
        raise ValueError(f"{text!r} is not a decimal number")
    return Decimal(text)


def _read_float(text: str) -> float:
    if not _DOUBLE_TEXT.fullmatch(text):
        raise ValueError(f"{text!r} is not a number")
    return float(text)


def _read_bool(text: str) -> bool:
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError(f"{text!r} is not a boolean (true, false, 1 or 0)")


def _read_datetime(text: str) -> dt.datetime:
    if not _DATETIME_TEXT.fullmatch(text):
        raise ValueError(f"{text!r} is not a date and time (2024-05-01T12:00:00)")
    return dt.datetime.fromisoformat(_FRACTION.sub(r"\1", text))


def _read_date(text: str) -> dt.date:
    match = _DATE_TEXT.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a date (2024-05-01)")
    return dt.date.fromisoformat(match.group(1))


def _read_time(text: str) -> dt.time:
    if not _TIME_ONLY_TEXT.fullmatch(text):
        raise ValueError(f"{text!r} is not a time (12:00:00)")
    return dt.time.fromisoformat(_FRACTION.sub(r"\1", text))


def _read_base64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ValueError(f"{text!r} is not base64") from None


def _read_duration(text: str) -> dt.timedelta:
    match = _DURATION_TEXT.fullmatch(text)
    if match is None or text.endswith("T"):
        raise ValueError(f"{text!r} is not a duration in days, hours, minutes and seconds")
    sign, days, hours, minutes, seconds = match.groups()
    value = dt.timedelta(
        days=int(days or 0),
        hours=int(hours or 0),
        minutes=int(minutes or 0),
        microseconds=int((Decimal(seconds or 0) * 1_000_000).to_integral_value()),
    )
    return -value if sign else value


def read_str(text: str) -> str:
    return text


READERS: dict[str, Callable[[str], Value]] = {
    **dict.fromkeys(INTEGER_TYPES, _read_int),
    **dict.fromkeys(FLOAT_TYPES, _read_float),
    XSD_DECIMAL: _read_decimal,
    XSD_BOOLEAN: _read_bool,
    XSD_DATETIME: _read_datetime,
    XSD + "dateTimeStamp": _read_datetime,
    XSD_DATE: _read_date,
    XSD_TIME: _read_time,
    XSD_STRING: read_str,
    _BASE64: _read_base64,
    _HEX: bytes.fromhex,
    _DURATION: _read_duration,
    XSD + "duration": _read_duration,
}
PYTHON_TYPES: dict[str, type] = {
    **dict.fromkeys(INTEGER_TYPES, int),
    **dict.fromkeys(FLOAT_TYPES, float),
    XSD_DECIMAL: Decimal,
    XSD_BOOLEAN: bool,
    XSD_DATETIME: dt.datetime,
    XSD_DATE: dt.date,
    XSD_TIME: dt.time,
    _BASE64: bytes,
    _HEX: bytes,
    _DURATION: dt.timedelta,
}


def convert(value: object, target: type) -> Value:
    """``value`` as a ``target`` (int, Decimal, float, bool, date, datetime, time, str, bytes).

    Numbers convert when the value stays the same (5.0 to 5, never 5.5 to 5), text is read in
    the target's lexical form, anything converts to text in its own lexical form.

    Raises:
        ValueError: ``value`` cannot be a ``target``; the message says why.
    """
    if type(value) is target:
        return value  # type: ignore[return-value]
    if isinstance(value, str) and target is not str:
        reader = _TEXTREADERS.get(target)
        if reader is None:
            raise ValueError(f"text cannot be a {target.__name__}")
        return reader(value)
    if target is str:
        if isinstance(value, bytes):
            raise ValueError("bytes are not text")
        return natural(value)[0]
    if isinstance(value, int | Decimal | float):
        return _convert_number(value, target)
    day = dt.timedelta(days=1)
    if target is dt.time and isinstance(value, dt.timedelta) and dt.timedelta(0) <= value < day:
        return (dt.datetime.min + value).time()  # MySQL's TIME columns read as durations
    if target is bytes and isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise ValueError(f"a {type(value).__name__} ({value!r:.60}) cannot be a {target.__name__}")


def _convert_number(value: int | Decimal | float, target: type) -> Value:
    if target is int:
        if not isinstance(value, int) and not (math.isfinite(value) and value == int(value)):
            raise ValueError(f"{value} is not a whole number")
        return int(value)
    if target is bool and value in (0, 1):
        return bool(value)
    if not isinstance(value, bool):
        if target is float:
            return float(value)
        if target is Decimal and not isinstance(value, float):
            return Decimal(value)
        if target is Decimal and math.isfinite(value):
            return Decimal(repr(value))
    raise ValueError(f"{value!r:.60} cannot be a {target.__name__}")


_TEXTREADERS: dict[type, Callable[[str], Value]] = {
    int: _read_int,
    Decimal: _read_decimal,
    float: _read_float,
    bool: _read_bool,
    dt.datetime: _read_datetime,
    dt.date: _read_date,
    dt.time: _read_time,
    dt.timedelta: _read_duration,
}
