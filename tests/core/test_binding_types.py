"""RDF terms to Python values and back: every field type of a BindingModel, on the wire.

A binding is a dict of variable name to one RDF term in the KE's text form. These tests pin the
exact text each field type writes, the forms the KE emits that each type reads (its bare
numbers and booleans, long typed forms, ``xsd:`` prefixed datatypes), the errors for terms
that do not fit, and, with hypothesis, that every supported value survives a round trip.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from decimal import Decimal
from typing import Annotated, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field, ValidationError, create_model

from km_core import (
    IRI,
    XSD,
    BindingModel,
    BindingValidationError,
    ConfigurationError,
    Datatype,
    LangString,
    RDFTerm,
    TypedLiteral,
)
from km_core.terms import escape, parse_term, unescape
from km_core.terms._parse import write_literal

CELSIUS = "http://example.org/celsius"
FAHRENHEIT = "http://example.org/fahrenheit"
OAK = "http://example.org/oak"


def typed(lexical: str, datatype: str) -> str:
    """The long typed form the KE emits: ``"12"^^<http://www.w3.org/2001/XMLSchema#integer>``."""
    return f'"{lexical}"^^<{XSD}{datatype}>'


def tz(**offset: float) -> dt.timezone:
    return dt.timezone(dt.timedelta(**offset))


def same_float(a: float, b: float) -> bool:
    """Equal, with the same sign (so -0.0 is not 0.0), and NaN matches NaN."""
    if math.isnan(b):
        return math.isnan(a)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


# One model per field type; the variable is always "v".


class IRIModel(BindingModel):
    v: IRI


class StrModel(BindingModel):
    v: str


class IntModel(BindingModel):
    v: int


class FloatModel(BindingModel):
    v: float


class DecimalModel(BindingModel):
    v: Decimal


class BoolModel(BindingModel):
    v: bool


class DateTimeModel(BindingModel):
    v: dt.datetime


class DateModel(BindingModel):
    v: dt.date


class TimeModel(BindingModel):
    v: dt.time


class LangModel(BindingModel):
    v: LangString


class TypedModel(BindingModel):
    v: TypedLiteral


class CelsiusModel(BindingModel):
    v: Annotated[Decimal, Datatype(CELSIUS)]


class XsdStringModel(BindingModel):
    v: Annotated[str, Datatype(XSD + "string")]


class TermModel(BindingModel):
    v: RDFTerm


class AnyModel(BindingModel):
    v: Any


def round_trip(model: type[BindingModel], value: Any, wire: str) -> Any:
    """Write ``value`` through ``model``, check the exact text, read it back; the value read."""
    original = model(v=value)
    binding = original.to_binding()
    assert binding == {"v": wire}
    back = model.from_binding(binding)
    assert back == original
    return back.v  # type: ignore[attr-defined]


# ---------------------------------------------------------------- 1. round trip per type


@pytest.mark.parametrize(
    ("given_iri", "wire"),
    [
        (OAK, f"<{OAK}>"),
        (f"<{OAK}>", f"<{OAK}>"),
        (IRI(OAK), f"<{OAK}>"),
        ("http://example.org/bäume", "<http://example.org/bäume>"),
        ("<http://example.org/木#幹>", "<http://example.org/木#幹>"),
        (
            "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
            "<urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66>",
        ),
        ("https://example.org/a?b=c&d=e#f", "<https://example.org/a?b=c&d=e#f>"),
    ],
)
def test_iri_round_trip(given_iri: str, wire: str) -> None:
    value = round_trip(IRIModel, given_iri, wire)
    assert isinstance(value, IRI)
    assert value == wire[1:-1]  # kept without its angle brackets
    assert value.term == wire


@pytest.mark.parametrize(
    ("text", "wire"),
    [
        ("", '""'),
        ("Eik", '"Eik"'),
        ('say "hi"', '"say \\"hi\\""'),
        ('"', '"\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("ends with a backslash\\", '"ends with a backslash\\\\"'),
        ("\\u0041 is not an escape here", '"\\\\u0041 is not an escape here"'),
        ("line\nbreak", '"line\\nbreak"'),
        ("tab\there", '"tab\\there"'),
        ("carriage\rreturn", '"carriage\\rreturn"'),
        ("\r\n", '"\\r\\n"'),
        ("bell\b and feed\f", '"bell\\b and feed\\f"'),
        ("bäume", '"bäume"'),
        ("木", '"木"'),
        ("tree 🌳", '"tree 🌳"'),
        ("clef 𝄞 and \U0010fffd", '"clef 𝄞 and \U0010fffd"'),
        ("nul\x00 and del\x7f", '"nul\x00 and del\x7f"'),
        ('"@en', '"\\"@en"'),
        ('"^^<http://example.org/x>', '"\\"^^<http://example.org/x>"'),
    ],
)
def test_str_round_trip(text: str, wire: str) -> None:
    assert round_trip(StrModel, text, wire) == text


@pytest.mark.parametrize(
    "number",
    [0, 1, -1, 12, -42, 2**63 - 1, 2**64 + 1, -(2**64) - 1, 10**40, -(2**200)],
)
def test_int_round_trip(number: int) -> None:
    value = round_trip(IntModel, number, typed(str(number), "integer"))
    assert type(value) is int
    assert value == number


@pytest.mark.parametrize(
    ("number", "lexical"),
    [
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (21.5, "21.5"),
        (-1.25, "-1.25"),
        (math.inf, "INF"),
        (-math.inf, "-INF"),
        (math.nan, "NaN"),
        (1e300, "1e+300"),
        (5e-324, "5e-324"),
        (0.1, "0.1"),
    ],
)
def test_float_round_trip(number: float, lexical: str) -> None:
    binding = FloatModel(v=number).to_binding()
    assert binding == {"v": typed(lexical, "double")}
    value = FloatModel.from_binding(binding).v
    assert type(value) is float
    assert same_float(value, number)


def test_float_negative_zero_keeps_its_sign() -> None:
    value = FloatModel.from_binding(FloatModel(v=-0.0).to_binding()).v
    assert value == 0.0
    assert math.copysign(1.0, value) == -1.0


def test_float_nan_reads_back_as_nan() -> None:
    assert math.isnan(FloatModel.from_binding({"v": typed("NaN", "double")}).v)


@pytest.mark.parametrize(
    ("number", "lexical"),
    [
        (Decimal("21.5"), "21.5"),
        (Decimal("0"), "0"),
        (Decimal("1.50"), "1.50"),
        (Decimal("-7.125"), "-7.125"),
        (
            Decimal("123456789012345678901234567890.098765432109876543210987654321"),
            "123456789012345678901234567890.098765432109876543210987654321",
        ),
        (Decimal("1E+3"), "1000"),
        (Decimal("2.5E+2"), "250"),
        (Decimal("1E-30"), "0.000000000000000000000000000001"),
        (Decimal("-0"), "-0"),
    ],
)
def test_decimal_round_trip(number: Decimal, lexical: str) -> None:
    value = round_trip(DecimalModel, number, typed(lexical, "decimal"))
    assert isinstance(value, Decimal)
    assert value == number
    assert value.is_signed() == number.is_signed()


def test_decimal_negative_zero_keeps_its_sign() -> None:
    value = DecimalModel.from_binding(DecimalModel(v=Decimal("-0")).to_binding()).v
    assert value == 0
    assert value.is_signed()


@pytest.mark.parametrize(("flag", "lexical"), [(True, "true"), (False, "false")])
def test_bool_round_trip(flag: bool, lexical: str) -> None:
    assert round_trip(BoolModel, flag, typed(lexical, "boolean")) is flag


@pytest.mark.parametrize(
    ("moment", "lexical"),
    [
        (dt.datetime(2024, 5, 1, 12, 30), "2024-05-01T12:30:00"),
        (dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC), "2024-05-01T12:30:00Z"),
        (
            dt.datetime(2024, 5, 1, 12, 30, tzinfo=tz(hours=5, minutes=30)),
            "2024-05-01T12:30:00+05:30",
        ),
        (dt.datetime(2024, 5, 1, 12, 30, tzinfo=tz(hours=-3)), "2024-05-01T12:30:00-03:00"),
        (dt.datetime(2024, 5, 1, 12, 30, 15, 123456), "2024-05-01T12:30:15.123456"),
        (dt.datetime(2024, 5, 1, 12, 30, 15, 5, tzinfo=dt.UTC), "2024-05-01T12:30:15.000005Z"),
        (dt.datetime(1, 1, 1), "0001-01-01T00:00:00"),
        (dt.datetime(9999, 12, 31, 23, 59, 59, 999999), "9999-12-31T23:59:59.999999"),
    ],
)
def test_datetime_round_trip(moment: dt.datetime, lexical: str) -> None:
    value = round_trip(DateTimeModel, moment, typed(lexical, "dateTime"))
    assert value == moment
    assert value.utcoffset() == moment.utcoffset()


@pytest.mark.parametrize(
    ("moment", "lexical"),
    [
        # xsd time zones have whole minutes: the same instant is written in UTC.
        (
            dt.datetime(2024, 1, 1, 12, 0, tzinfo=tz(hours=5, minutes=30, seconds=15)),
            "2024-01-01T06:29:45Z",
        ),
        (dt.datetime(2024, 1, 1, 12, 0, tzinfo=tz(hours=-5, seconds=-15)), "2024-01-01T17:00:15Z"),
        (
            dt.datetime(2024, 1, 1, 12, 0, tzinfo=tz(hours=1, microseconds=5)),
            "2024-01-01T10:59:59.999995Z",
        ),
    ],
)
def test_datetime_offset_with_seconds_is_written_as_the_same_instant_in_utc(
    moment: dt.datetime, lexical: str
) -> None:
    binding = DateTimeModel(v=moment).to_binding()
    assert binding == {"v": typed(lexical, "dateTime")}
    value = DateTimeModel.from_binding(binding).v
    assert value == moment  # the same instant
    assert value.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    ("day", "lexical"),
    [
        (dt.date(2024, 2, 29), "2024-02-29"),
        (dt.date(1, 1, 1), "0001-01-01"),
        (dt.date(9999, 12, 31), "9999-12-31"),
    ],
)
def test_date_round_trip(day: dt.date, lexical: str) -> None:
    value = round_trip(DateModel, day, typed(lexical, "date"))
    assert type(value) is dt.date
    assert value == day


@pytest.mark.parametrize(
    ("moment", "lexical"),
    [
        (dt.time(12, 30), "12:30:00"),
        (dt.time(0, 0), "00:00:00"),
        (dt.time(12, 30, 15, 123456), "12:30:15.123456"),
        (dt.time(12, 30, tzinfo=tz(hours=5, minutes=30)), "12:30:00+05:30"),
        (dt.time(12, 30, tzinfo=tz(hours=-8)), "12:30:00-08:00"),
        (dt.time(12, 30, tzinfo=dt.UTC), "12:30:00+00:00"),
    ],
)
def test_time_round_trip(moment: dt.time, lexical: str) -> None:
    value = round_trip(TimeModel, moment, typed(lexical, "time"))
    assert value == moment
    assert value.utcoffset() == moment.utcoffset()


@pytest.mark.parametrize(
    ("text", "wire"),
    [
        (LangString("Eik", "nl"), '"Eik"@nl'),
        (LangString("Oak", "en-GB"), '"Oak"@en-GB'),
        (LangString("木", "ja"), '"木"@ja'),
        (LangString("Bäume 🌳", "de-CH-1996"), '"Bäume 🌳"@de-CH-1996'),
        (LangString('say "hi"\n', "en"), '"say \\"hi\\"\\n"@en'),
        (LangString("", "en"), '""@en'),
    ],
)
def test_lang_string_round_trip(text: LangString, wire: str) -> None:
    value = round_trip(LangModel, text, wire)
    assert isinstance(value, LangString)
    assert (value.value, value.lang) == (text.value, text.lang)
    assert str(value) == wire


def test_lang_string_with_a_non_ascii_tag_is_rejected_clearly() -> None:
    with pytest.raises(ValueError, match="'日本' is not a language tag"):
        LangString("x", "日本")
    with pytest.raises(BindingValidationError) as info:
        LangModel.from_binding({"v": '"木"@日本'})
    message = str(info.value)
    assert "LangModel.v" in message
    assert "'v'" in message
    assert "@日本" in message


@pytest.mark.parametrize(
    ("literal", "wire"),
    [
        (TypedLiteral("21.5", CELSIUS), f'"21.5"^^<{CELSIUS}>'),
        (TypedLiteral("abc"), '"abc"'),  # xsd:string is never printed
        (TypedLiteral("12", XSD + "integer"), typed("12", "integer")),
        (TypedLiteral('a"b\\c', XSD + "token"), typed('a\\"b\\\\c', "token")),
        (TypedLiteral("", "http://example.org/bäume"), '""^^<http://example.org/bäume>'),
    ],
)
def test_typed_literal_round_trip(literal: TypedLiteral, wire: str) -> None:
    value = round_trip(TypedModel, literal, wire)
    assert value == literal
    assert str(value) == wire


def test_typed_literal_reads_a_plain_string_as_xsd_string() -> None:
    value = TypedModel.from_binding({"v": '"abc"'}).v
    assert value == TypedLiteral("abc", XSD + "string")
    assert TypedModel.from_binding({"v": '"abc"^^xsd:string'}).v == value


def test_custom_datatype_round_trip() -> None:
    value = round_trip(CelsiusModel, Decimal("21.5"), f'"21.5"^^<{CELSIUS}>')
    assert value == Decimal("21.5")
    assert CelsiusModel.from_binding({"v": f'"-3"^^<{CELSIUS}>'}).v == Decimal("-3")


@pytest.mark.parametrize(
    "wire",
    [
        f'"21.5"^^<{FAHRENHEIT}>',
        "21.5",
        typed("21.5", "decimal"),
        '"21.5"',
        '"21.5"@en',
        f"<{CELSIUS}>",
    ],
)
def test_custom_datatype_rejects_a_literal_of_another_datatype(wire: str) -> None:
    with pytest.raises(BindingValidationError) as info:
        CelsiusModel.from_binding({"v": wire})
    message = str(info.value)
    assert "CelsiusModel.v" in message
    assert repr(wire) in message
    assert CELSIUS in message


def test_custom_datatype_xsd_string_on_str_round_trips() -> None:
    model = XsdStringModel(v="Eik")
    assert XsdStringModel.from_binding(model.to_binding()) == model


@pytest.mark.parametrize(
    "term",
    [
        '"x"@en',
        "_:b0",
        f"<{OAK}>",
        '"x"',
        '"a\\"b\\nc"',
        typed("21.5", "decimal"),
        '"21.5"^^xsd:decimal',
        f'"21.5"^^<{CELSIUS}>',
        "12",
        "21.5",
        "1e3",
        "true",
        '"木"@ja',
    ],
)
@pytest.mark.parametrize("model", [TermModel, AnyModel])
def test_rdf_term_and_any_keep_the_term_exactly(model: type[BindingModel], term: str) -> None:
    read = model.from_binding({"v": term})
    assert read.v == term  # type: ignore[attr-defined]
    assert type(read.v) is RDFTerm  # type: ignore[attr-defined]
    assert read.to_binding() == {"v": term}
    assert model(v=term).to_binding() == {"v": term}


def test_rdf_term_field_rejects_a_non_term_on_construction() -> None:
    with pytest.raises(ValidationError, match="not an RDF term"):
        TermModel(v="oak")


def _written_or_none(model: BindingModel) -> str | None:
    try:
        return model.to_binding()["v"]
    except BindingValidationError:
        return None


def _is_term(text: str) -> bool:
    try:
        parse_term(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("value", ["oak", "", IRI(OAK)])
def test_any_field_never_writes_text_that_is_not_an_rdf_term(value: Any) -> None:
    # An Any field is not validated when the model is built, so writing it must either
    # produce an RDF term or refuse with a BindingValidationError.
    written = _written_or_none(AnyModel(v=value))
    assert written is None or _is_term(written), f"{value!r} was written as {written!r}"


# ---------------------------------------------------------------- 2. the KE's forms


@pytest.mark.parametrize(
    ("wire", "number"),
    [
        ("12", 12),
        ("-7", -7),
        ("+3", 3),
        ("0", 0),
        ("123456789012345678901234567890", 123456789012345678901234567890),
        (typed("12", "integer"), 12),
        ('"12"^^xsd:integer', 12),
        (typed("-12", "int"), -12),
        (typed("9223372036854775807", "long"), 9223372036854775807),
        (typed("12", "short"), 12),
        (typed("12", "byte"), 12),
        (typed("12", "nonNegativeInteger"), 12),
        (typed("-12", "nonPositiveInteger"), -12),
        (typed("12", "positiveInteger"), 12),
        (typed("-12", "negativeInteger"), -12),
        (typed("18446744073709551615", "unsignedLong"), 18446744073709551615),
        (typed("12", "unsignedInt"), 12),
        (typed("12", "unsignedShort"), 12),
        (typed("12", "unsignedByte"), 12),
        ('"12"^^xsd:int', 12),
        ('"12"^^xsd:long', 12),
    ],
)
def test_int_reads_the_ke_forms(wire: str, number: int) -> None:
    value = IntModel.from_binding({"v": wire}).v
    assert type(value) is int
    assert value == number


@pytest.mark.parametrize(
    ("wire", "number"),
    [
        ("21.5", Decimal("21.5")),
        ("-0.5", Decimal("-0.5")),
        ("12", Decimal("12")),
        (typed("21.5", "decimal"), Decimal("21.5")),
        ('"21.5"^^xsd:decimal', Decimal("21.5")),
        (typed("12", "integer"), Decimal("12")),
        (typed("12", "int"), Decimal("12")),
        (
            typed("0.1000000000000000000000000001", "decimal"),
            Decimal("0.1000000000000000000000000001"),
        ),
    ],
)
def test_decimal_reads_the_ke_forms(wire: str, number: Decimal) -> None:
    value = DecimalModel.from_binding({"v": wire}).v
    assert isinstance(value, Decimal)
    assert value == number
    assert str(value) == str(number)  # exact, not through a float


@pytest.mark.parametrize(
    ("wire", "number"),
    [
        ("1e3", 1000.0),
        ("1E3", 1000.0),
        ("-2.5e-1", -0.25),
        ("21.5", 21.5),
        ("12", 12.0),
        (typed("1.5E0", "double"), 1.5),
        ('"1.5E0"^^xsd:double', 1.5),
        (typed("1.5", "float"), 1.5),
        (typed("21.5", "decimal"), 21.5),
        ('"21.5"^^xsd:decimal', 21.5),
        (typed("12", "integer"), 12.0),
        (typed("12", "int"), 12.0),
        (typed("INF", "double"), math.inf),
        (typed("-INF", "double"), -math.inf),
        (typed("-0", "double"), -0.0),
    ],
)
def test_float_reads_the_ke_forms(wire: str, number: float) -> None:
    value = FloatModel.from_binding({"v": wire}).v
    assert type(value) is float
    assert same_float(value, number)


@pytest.mark.parametrize(
    ("wire", "flag"),
    [
        ("true", True),
        ("false", False),
        (typed("true", "boolean"), True),
        (typed("false", "boolean"), False),
        ('"true"^^xsd:boolean', True),
        (typed("1", "boolean"), True),
        (typed("0", "boolean"), False),
        ('"1"^^xsd:boolean', True),
    ],
)
def test_bool_reads_the_ke_forms(wire: str, flag: bool) -> None:
    assert BoolModel.from_binding({"v": wire}).v is flag


@pytest.mark.parametrize(
    ("wire", "moment"),
    [
        (
            typed("2024-05-01T12:30:00.123456789Z", "dateTime"),
            dt.datetime(2024, 5, 1, 12, 30, 0, 123456, tzinfo=dt.UTC),
        ),
        (typed("2024-05-01T12:30:00Z", "dateTime"), dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC)),
        ('"2024-05-01T12:30:00Z"^^xsd:dateTime', dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC)),
        (
            typed("2024-05-01T12:30:00.5+02:00", "dateTime"),
            dt.datetime(2024, 5, 1, 12, 30, 0, 500000, tzinfo=tz(hours=2)),
        ),
        (
            typed("2024-05-01T12:30:00.123456789", "dateTime"),
            dt.datetime(2024, 5, 1, 12, 30, 0, 123456),
        ),
        (
            typed("2024-05-01T12:30:00Z", "dateTimeStamp"),
            dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC),
        ),
    ],
)
def test_datetime_reads_the_ke_forms(wire: str, moment: dt.datetime) -> None:
    value = DateTimeModel.from_binding({"v": wire}).v
    assert value == moment
    assert value.utcoffset() == moment.utcoffset()


def test_datetime_reads_hour_24_as_midnight_of_the_next_day() -> None:
    # XSD 1.1: 24:00:00 is a valid xsd:dateTime lexical form, the first instant of the next day.
    value = DateTimeModel.from_binding({"v": typed("2024-05-01T24:00:00", "dateTime")}).v
    assert value == dt.datetime(2024, 5, 2, 0, 0)


@pytest.mark.parametrize(
    "wire",
    [
        typed("2024-05-01", "date"),
        '"2024-05-01"^^xsd:date',
        typed("2024-05-01Z", "date"),
        typed("2024-05-01+02:00", "date"),
        typed("2024-05-01-05:00", "date"),
    ],
)
def test_date_reads_the_ke_forms(wire: str) -> None:
    value = DateModel.from_binding({"v": wire}).v
    assert type(value) is dt.date
    assert value == dt.date(2024, 5, 1)


@pytest.mark.parametrize(
    ("wire", "moment"),
    [
        (typed("12:30:00", "time"), dt.time(12, 30)),
        (
            typed("12:30:00.123456789+05:30", "time"),
            dt.time(12, 30, 0, 123456, tzinfo=tz(hours=5.5)),
        ),
        ('"12:30:00Z"^^xsd:time', dt.time(12, 30, tzinfo=dt.UTC)),
    ],
)
def test_time_reads_the_ke_forms(wire: str, moment: dt.time) -> None:
    value = TimeModel.from_binding({"v": wire}).v
    assert value == moment
    assert value.utcoffset() == moment.utcoffset()


@pytest.mark.parametrize(
    ("wire", "text"),
    [
        ('"abc"', "abc"),
        (typed("abc", "string"), "abc"),
        ('"abc"^^xsd:string', "abc"),
        ('"\\u00e4\\U0001F333"', "ä🌳"),
        ('"it\\\'s"', "it's"),
    ],
)
def test_str_reads_the_ke_forms(wire: str, text: str) -> None:
    assert StrModel.from_binding({"v": wire}).v == text


def test_iri_reads_the_ke_form() -> None:
    value = IRIModel.from_binding({"v": "<http://example.org/bäume>"}).v
    assert value == IRI("http://example.org/bäume")


# ---------------------------------------------------------------- 3. errors


class Reading(BindingModel):
    """Aliases unlike the field names, so a message can be seen to name both."""

    sensor: IRI = Field(alias="s_iri")
    label: str = Field(alias="name_text")
    count: int = Field(alias="tree_total")
    amount: Decimal = Field(alias="cost")


READING_FIELDS = {"sensor": "s_iri", "label": "name_text", "count": "tree_total", "amount": "cost"}


def assert_names(message: str, field: str, variable: str, wire: str) -> None:
    assert f"Reading.{field}" in message
    assert repr(variable) in message
    assert repr(wire) in message


@pytest.mark.parametrize(
    ("field", "wire"),
    [
        ("label", f"<{OAK}>"),  # an IRI into str
        ("label", "_:b0"),
        ("label", '"Eik"@nl'),  # a language-tagged string into str
        ("label", typed("12", "integer")),
        ("label", "12"),
        ("sensor", f'"{OAK}"'),  # a literal into IRI
        ("sensor", '"Eik"@nl'),
        ("sensor", "<oak>"),  # a relative IRI
        ("sensor", "<../oak>"),
        ("sensor", "_:b0"),
        ("sensor", "xsd:integer"),
        ("count", '"abc"'),
        ("count", typed("abc", "integer")),
        ("count", "1.5"),
        ("count", typed("1.5", "integer")),
        ("count", typed("1.5", "decimal")),
        ("count", "1e3"),
        ("count", "true"),
        ("count", typed("12", "decimal")),
        ("count", '"12"'),
        ("count", typed("1_000", "integer")),
        ("count", typed("١٢", "integer")),  # Arabic-Indic digits: int() would take them
        ("amount", typed("1.5E3", "decimal")),  # a decimal written with an exponent
        ("amount", typed("1E3", "decimal")),
        ("amount", "1e3"),
        ("amount", typed("NaN", "decimal")),
        ("amount", typed("1.5", "double")),
        ("amount", '"21.5"'),
        ("amount", '"21.5"@en'),
    ],
)
def test_mismatch_names_model_field_variable_and_value(field: str, wire: str) -> None:
    variable = READING_FIELDS[field]
    with pytest.raises(BindingValidationError) as info:
        Reading.from_binding({variable: wire})
    assert_names(str(info.value), field, variable, wire)


GARBAGE = [
    "oak",
    '"unterminated',
    "<no scheme>",
    "",
    "?x",
    '"a"@',
    '"a"^^',
    '"a"^^ex:t',
    "'single'",
]


@pytest.mark.parametrize("wire", GARBAGE)
@pytest.mark.parametrize("field", list(READING_FIELDS))
def test_garbage_is_rejected_for_every_field_type(field: str, wire: str) -> None:
    variable = READING_FIELDS[field]
    with pytest.raises(BindingValidationError) as info:
        Reading.from_binding({variable: wire})
    assert_names(str(info.value), field, variable, wire)


@pytest.mark.parametrize(
    "wire",
    [
        *GARBAGE,
        '"a"b"',  # an unescaped quote inside the literal
        '"abc\\"',  # the closing quote is escaped: the literal never ends
        '"\\"',
        '"a"^^<http://example.org/x"',
        '"a\\qb"',  # an unknown escape
    ],
)
@pytest.mark.parametrize("model", [StrModel, TermModel])
def test_malformed_terms_are_rejected_by_str_and_rdf_term(
    model: type[BindingModel], wire: str
) -> None:
    with pytest.raises(BindingValidationError) as info:
        model.from_binding({"v": wire})
    message = str(info.value)
    assert f"{model.__name__}.v" in message
    assert "'v'" in message
    assert repr(wire) in message


def test_missing_required_variable_names_model_field_and_variable() -> None:
    binding = {"s_iri": f"<{OAK}>", "name_text": '"Eik"', "cost": "21.5"}
    with pytest.raises(BindingValidationError) as info:
        Reading.from_binding(binding)
    message = str(info.value)
    assert "Reading" in message
    assert "tree_total" in message
    assert "count" in message


def test_a_complete_reading_is_read() -> None:
    binding = {"s_iri": f"<{OAK}>", "name_text": '"Eik"', "tree_total": "12", "cost": "21.5"}
    reading = Reading.from_binding(binding)
    assert reading == Reading(s_iri=OAK, name_text="Eik", tree_total=12, cost=Decimal("21.5"))
    assert reading.to_binding() == {
        "s_iri": f"<{OAK}>",
        "name_text": '"Eik"',
        "tree_total": typed("12", "integer"),
        "cost": typed("21.5", "decimal"),
    }


class Price(BindingModel):
    amount: Decimal = Field(alias="cost")
    temperature: Annotated[Decimal, Datatype(CELSIUS)] | None = Field(default=None, alias="temp")


@pytest.mark.parametrize(
    "bad", [Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("-Infinity")]
)
def test_writing_a_non_finite_decimal_names_the_variable(bad: Decimal) -> None:
    # pydantic refuses these when the model is validated; model_construct skips that.
    with pytest.raises(BindingValidationError, match="'cost'") as info:
        Price.model_construct(amount=bad).to_binding()
    assert str(bad).lstrip("-") in str(info.value)
    with pytest.raises(BindingValidationError, match="'temp'"):
        Price.model_construct(amount=Decimal(1), temperature=bad).to_binding()


def test_pydantic_refuses_a_non_finite_decimal_on_construction() -> None:
    with pytest.raises(ValidationError):
        Price(cost=Decimal("NaN"))


class Schedule(BindingModel):
    start: dt.time = Field(alias="start_time")
    when: dt.datetime | None = Field(default=None, alias="event_time")
    total: int | None = Field(default=None, alias="tree_total")


@pytest.mark.parametrize(
    "moment",
    [
        dt.time(12, 0, tzinfo=tz(hours=1, seconds=30)),
        dt.time(12, 0, tzinfo=tz(hours=-1, seconds=-30)),
        dt.time(12, 0, tzinfo=tz(hours=1, microseconds=5)),
    ],
)
def test_writing_a_time_with_an_offset_in_seconds_names_the_variable(moment: dt.time) -> None:
    # xsd:time has no date to carry a move to UTC, so a sub-minute offset cannot be written.
    with pytest.raises(BindingValidationError, match="'start_time'"):
        Schedule(start_time=moment).to_binding()


@pytest.mark.parametrize(
    "moment",
    [
        dt.datetime(1, 1, 1, tzinfo=tz(seconds=30)),
        dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=tz(seconds=-30)),
    ],
)
def test_writing_a_datetime_whose_utc_instant_is_out_of_range_names_the_variable(
    moment: dt.datetime,
) -> None:
    with pytest.raises(BindingValidationError, match="'event_time'"):
        Schedule(start_time=dt.time(12), event_time=moment).to_binding()


def test_writing_an_int_too_long_for_str_names_the_variable() -> None:
    with pytest.raises(BindingValidationError, match="'tree_total'"):
        Schedule(start_time=dt.time(12), tree_total=10**5000).to_binding()


class Nested(BindingModel):
    v: int


@pytest.mark.parametrize(
    "annotation",
    [
        list[str],
        dict,
        dict[str, str],
        Nested,
        BaseModel,
        int | str,
        int | str | None,
        tuple[int, int],
        bytes,
        Annotated[IRI, Datatype(CELSIUS)],
        Annotated[LangString, Datatype(CELSIUS)],
    ],
)
def test_unsupported_field_types_fail_at_class_definition(annotation: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        create_model("Forest", __base__=BindingModel, trees=(annotation, ...))
    assert "Forest.trees" in str(info.value)


def test_unsupported_field_type_fails_in_a_class_statement() -> None:
    def define() -> type[BindingModel]:
        class Grove(BindingModel):
            oaks: list[str]

        return Grove

    with pytest.raises(ConfigurationError, match=r"Grove\.oaks: .*list\[str\]"):
        define()


def test_a_relative_datatype_iri_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="celsius"):
        Datatype("celsius")


# ---------------------------------------------------------------- 4. optional fields and aliases


class Tree(BindingModel):
    tree: IRI = Field(alias="tree_id")
    height: Decimal | None = None
    common_name: LangString | None = None
    planted_on: dt.date | None = Field(default=None, alias="plantedOn")


def test_optional_fields_left_out_when_none() -> None:
    assert Tree(tree_id=OAK).to_binding() == {"tree_id": f"<{OAK}>"}


def test_optional_fields_may_be_missing() -> None:
    tree = Tree.from_binding({"tree_id": f"<{OAK}>"})
    assert tree == Tree(tree_id=OAK)
    assert tree.height is None
    assert tree.common_name is None
    assert tree.planted_on is None


def test_all_fields_bound() -> None:
    binding = {
        "tree_id": f"<{OAK}>",
        "height": typed("21.5", "decimal"),
        "common_name": '"Eik"@nl',
        "plantedOn": typed("2020-04-01", "date"),
    }
    tree = Tree.from_binding(binding)
    assert tree == Tree(
        tree_id=OAK,
        height=Decimal("21.5"),
        common_name=LangString("Eik", "nl"),
        plantedOn=dt.date(2020, 4, 1),
    )
    assert tree.to_binding() == binding


def test_alias_names_the_variable_both_ways() -> None:
    tree = Tree(tree=OAK)  # built by field name too
    assert tree.tree == OAK
    assert tree.to_binding() == {"tree_id": f"<{OAK}>"}
    # The field name is not the variable: a binding of ?tree leaves tree_id unbound.
    with pytest.raises(BindingValidationError, match="tree_id"):
        Tree.from_binding({"tree": f"<{OAK}>"})


def test_no_camel_case_conversion() -> None:
    tree = Tree.from_binding(
        {
            "tree_id": f"<{OAK}>",
            "commonName": '"Eik"@nl',  # not common_name: ignored
            "planted_on": typed("2020-04-01", "date"),  # not the alias plantedOn: ignored
        }
    )
    assert tree.common_name is None
    assert tree.planted_on is None
    tree = Tree.from_binding({"tree_id": f"<{OAK}>", "common_name": '"Eik"@nl'})
    assert tree.common_name == LangString("Eik", "nl")
    assert "common_name" in tree.to_binding()


def test_extra_variables_are_ignored() -> None:
    tree = Tree.from_binding({"tree_id": f"<{OAK}>", "colour": '"green"'})
    assert tree.to_binding() == {"tree_id": f"<{OAK}>"}


def test_model_variables_and_required_variables() -> None:
    assert Tree.model_variables() == frozenset({"tree_id", "height", "common_name", "plantedOn"})
    assert Tree.model_required_variables() == frozenset({"tree_id"})
    assert Reading.model_variables() == frozenset(READING_FIELDS.values())
    assert Reading.model_required_variables() == frozenset(READING_FIELDS.values())
    assert Schedule.model_required_variables() == frozenset({"start_time"})


def test_optional_field_with_a_default_other_than_none_is_not_required() -> None:
    class Counted(BindingModel):
        count: int = 0

    assert Counted.model_required_variables() == frozenset()
    assert Counted.model_variables() == frozenset({"count"})
    assert Counted.from_binding({}).count == 0
    assert Counted().to_binding() == {"count": typed("0", "integer")}


# ---------------------------------------------------------------- 5. properties

PROPERTY = settings(deadline=None, database=None)

_IRI_FORBIDDEN = set('<>"{}|\\^`')
iri_chars = st.characters(codec="utf-8", exclude_categories=["Cc"]).filter(
    lambda c: not c.isspace() and c not in _IRI_FORBIDDEN
)
iris = st.builds(
    lambda scheme, rest: f"{scheme}:{rest}",
    st.from_regex(r"[A-Za-z][A-Za-z0-9+.\-]{0,7}", fullmatch=True),
    st.text(iri_chars, max_size=40),
)
texts = st.text(st.characters(codec="utf-8"))  # the full range except surrogates
lang_tags = st.from_regex(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8}){0,3}", fullmatch=True)
lang_strings = st.builds(LangString, texts, lang_tags)
typed_literals = st.builds(TypedLiteral, texts, iris)
whole_minute_zones = st.builds(
    dt.timezone, st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: dt.timedelta(minutes=m))
)
decimals = st.decimals(allow_nan=False, allow_infinity=False)


def read_back(model: type[BindingModel], value: Any) -> Any:
    return model.from_binding(model(v=value).to_binding()).v  # type: ignore[attr-defined]


@PROPERTY
@given(iris)
def test_property_iri(value: str) -> None:
    assert read_back(IRIModel, value) == value


@PROPERTY
@given(texts)
def test_property_str(value: str) -> None:
    assert read_back(StrModel, value) == value


@PROPERTY
@given(st.integers() | st.integers(min_value=-(2**300), max_value=2**300))
def test_property_int(value: int) -> None:
    assert read_back(IntModel, value) == value


@PROPERTY
@given(st.floats())
def test_property_float(value: float) -> None:
    assert same_float(read_back(FloatModel, value), value)


@PROPERTY
@given(decimals)
def test_property_decimal(value: Decimal) -> None:
    back = read_back(DecimalModel, value)
    assert back == value
    assert back.is_signed() == value.is_signed()


@PROPERTY
@given(decimals)
def test_property_custom_datatype(value: Decimal) -> None:
    assert read_back(CelsiusModel, value) == value


@PROPERTY
@given(st.booleans())
def test_property_bool(value: bool) -> None:
    assert read_back(BoolModel, value) is value


@PROPERTY
@given(st.datetimes())
def test_property_naive_datetime(value: dt.datetime) -> None:
    back = read_back(DateTimeModel, value)
    assert back == value
    assert back.tzinfo is None


@PROPERTY
@given(st.datetimes(timezones=whole_minute_zones))
def test_property_aware_datetime(value: dt.datetime) -> None:
    back = read_back(DateTimeModel, value)
    assert back == value
    assert back.utcoffset() == value.utcoffset()


@PROPERTY
@given(st.dates())
def test_property_date(value: dt.date) -> None:
    assert read_back(DateModel, value) == value


@PROPERTY
@given(st.times() | st.times(timezones=whole_minute_zones))
def test_property_time(value: dt.time) -> None:
    back = read_back(TimeModel, value)
    assert back == value
    assert back.utcoffset() == value.utcoffset()


@PROPERTY
@given(lang_strings)
def test_property_lang_string(value: LangString) -> None:
    assert read_back(LangModel, value) == value


@PROPERTY
@given(typed_literals)
def test_property_typed_literal(value: TypedLiteral) -> None:
    assert read_back(TypedModel, value) == value


@PROPERTY
@given(
    st.one_of(
        iris.map(lambda iri: f"<{iri}>"),
        texts.map(write_literal),
        lang_strings.map(str),
        typed_literals.map(str),
        st.integers().map(str),
        st.from_regex(r"_:[A-Za-z0-9]{1,10}", fullmatch=True),
    )
)
def test_property_rdf_term(term: str) -> None:
    for model in (TermModel, AnyModel):
        read = model.from_binding({"v": term})
        assert read.v == term  # type: ignore[attr-defined]
        assert read.to_binding() == {"v": term}


@PROPERTY
@given(texts)
def test_property_escape_unescape(text: str) -> None:
    escaped = escape(text)
    assert unescape(escaped) == text
    # Nothing that would end the literal or the line survives unescaped.
    assert not re.search(r'(?<!\\)(?:\\\\)*["\n\r]', escaped)
    assert parse_term(write_literal(text)).value == text
    assert parse_term(str(LangString(text, "en"))).value == text


def test_escape_examples() -> None:
    assert escape('a"b\\c\nd\re\tf\bg\fh') == 'a\\"b\\\\c\\nd\\re\\tf\\bg\\fh'
    assert escape("plain 木 🌳") == "plain 木 🌳"
    assert unescape('a\\"b\\\\c\\nd\\re\\tf\\bg\\fh') == 'a"b\\c\nd\re\tf\bg\fh'
    assert unescape("\\u00e4\\U0001F333\\'") == "ä🌳'"
    assert unescape("\\\\u0041") == "\\u0041"


@pytest.mark.parametrize("text", ["\\q", "abc\\", "\\"])
def test_unescape_rejects_what_is_not_an_escape(text: str) -> None:
    with pytest.raises(ValueError, match="escape"):
        unescape(text)


# ---------------------------------------------------------------- 6. performance smoke test


class Observation(BindingModel):
    tree: IRI
    height: Decimal
    name: LangString
    planted: dt.date
    count: int


def test_from_binding_of_ten_thousand_bindings_is_not_pathological() -> None:
    bindings = [
        {
            "tree": f"<http://example.org/tree/{i}>",
            "height": typed(f"{i % 50}.{i % 10}", "decimal"),
            "name": f'"Boom {i}"@nl',
            "planted": typed(f"20{i % 25:02d}-0{i % 9 + 1}-1{i % 10}", "date"),
            "count": typed(str(i), "integer"),
        }
        for i in range(10_000)
    ]
    start = time.perf_counter()
    observations = [Observation.from_binding(binding) for binding in bindings]
    elapsed = time.perf_counter() - start
    assert elapsed < 5.0, f"10,000 bindings took {elapsed:.2f} s"
    assert sum(o.count for o in observations) == sum(range(10_000))
    assert observations[1234].tree == "http://example.org/tree/1234"
    assert observations[1234].name == LangString("Boom 1234", "nl")
