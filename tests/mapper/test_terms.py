"""TermCodec: a source's values written as RDF terms, and incoming terms read back."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from km_core.terms import XSD, parse_term
from km_mapper import MapperConfigError
from km_mapper._config import TermMapping
from km_mapper._terms import NoMatch, TermCodec, codecs_for, convert

INTEGER = f"<{XSD}integer>"
DECIMAL = f"<{XSD}decimal>"
DOUBLE = f"<{XSD}double>"
BOOLEAN = f"<{XSD}boolean>"
DATE = f"<{XSD}date>"
DATETIME = f"<{XSD}dateTime>"
TIME = f"<{XSD}time>"
TREES = "http://example.org/trees/{id}"

plain = TermCodec("x")
trees = TermCodec("tree", TermMapping(iri=TREES))


def typed(datatype: str) -> TermCodec:
    return TermCodec("x", TermMapping(datatype=XSD + datatype))


# ---------------------------------------------------------------- writing, by the value's type


@pytest.mark.parametrize(
    ("value", "term"),
    [
        (5, f'"5"^^{INTEGER}'),
        (-12345678901234567890, f'"-12345678901234567890"^^{INTEGER}'),
        (True, f'"true"^^{BOOLEAN}'),  # a bool, not the integer 1
        (False, f'"false"^^{BOOLEAN}'),
        (Decimal("12.50"), f'"12.50"^^{DECIMAL}'),
        (Decimal("1E+2"), f'"100"^^{DECIMAL}'),
        (Decimal("NaN"), f'"NaN"^^{DOUBLE}'),
        (1.5, f'"1.5"^^{DOUBLE}'),
        (float("-inf"), f'"-INF"^^{DOUBLE}'),
        (dt.date(2024, 5, 1), f'"2024-05-01"^^{DATE}'),
        (dt.datetime(2024, 5, 1, 12, 30), f'"2024-05-01T12:30:00"^^{DATETIME}'),
        (
            dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC),
            f'"2024-05-01T12:30:00Z"^^{DATETIME}',
        ),
        (
            dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            f'"2024-05-01T12:30:00+02:00"^^{DATETIME}',
        ),
        (dt.time(7, 15, 0, 500), f'"07:15:00.000500"^^{TIME}'),
        (dt.timedelta(days=1, hours=2, seconds=3.5), f'"P1DT2H3.5S"^^<{XSD}dayTimeDuration>'),
        (dt.timedelta(0), f'"PT0S"^^<{XSD}dayTimeDuration>'),
        ("oak", '"oak"'),
        ('say "hi"\n\\', r'"say \"hi\"\n\\"'),
        (b"\x00\xff", f'"AP8="^^<{XSD}base64Binary>'),
        (uuid.UUID(int=1), '"00000000-0000-0000-0000-000000000001"'),
    ],
)
def test_a_value_is_written_as_its_type_decides(value: object, term: str) -> None:
    assert plain.to_term(value) == term
    parse_term(term)


def test_null_is_no_term() -> None:
    assert plain.to_term(None) is None
    assert trees.to_term(None) is None


def test_a_value_without_an_rdf_form_is_refused_with_what_to_do() -> None:
    with pytest.raises(ValueError, match=r"variable 'x'.*list.*CAST"):
        plain.to_term([1, 2])


def test_a_time_zone_of_seconds_is_written_in_utc() -> None:
    odd = dt.timezone(dt.timedelta(hours=1, seconds=30))
    term = plain.to_term(dt.datetime(2024, 5, 1, 12, 0, tzinfo=odd))
    assert term == f'"2024-05-01T10:59:30Z"^^{DATETIME}'


# ---------------------------------------------------------------- mappings


def test_an_iri_template_is_filled_with_the_value_percent_encoded() -> None:
    assert trees.to_term(5) == "<http://example.org/trees/5>"
    assert trees.to_term("a b/c?d#e") == "<http://example.org/trees/a%20b%2Fc%3Fd%23e>"
    assert trees.to_term("eik-één") == "<http://example.org/trees/eik-%C3%A9%C3%A9n>"
    assert trees.from_term("<http://example.org/trees/a%20b%2Fc%3Fd%23e>") == "a b/c?d#e"
    assert trees.from_term("<http://example.org/trees/5>") == "5"


@pytest.mark.parametrize(
    "term",
    [
        "<http://example.org/other/5>",
        "<http://example.org/trees>",
        "<http://example.org/trees/a/b>",  # the template writes a%2Fb
        "<http://example.org/trees/a%2fb>",  # and in upper case
        "<http://example.org/trees/%FF>",  # not UTF-8
        '"5"',
        f'"5"^^{INTEGER}',
        "_:b0",
        "not a term",
    ],
)
def test_an_incoming_term_that_does_not_fit_the_template_matches_nothing(term: str) -> None:
    assert isinstance(trees.from_term(term), NoMatch)


def test_a_template_with_a_suffix() -> None:
    codec = TermCodec("tree", TermMapping(iri="http://example.org/trees/{id}#it"))
    assert codec.to_term("7") == "<http://example.org/trees/7#it>"
    assert codec.from_term("<http://example.org/trees/7#it>") == "7"
    assert isinstance(codec.from_term("<http://example.org/trees/7>"), NoMatch)


def test_a_template_of_only_the_placeholder_writes_the_column_s_iris() -> None:
    codec = TermCodec("tree", TermMapping(iri="{iri}"))
    assert codec.to_term("http://example.org/oak") == "<http://example.org/oak>"
    assert codec.from_term("<http://example.org/oak>") == "http://example.org/oak"
    with pytest.raises(ValueError, match="not an absolute IRI"):
        codec.to_term("oak")


def test_bytes_cannot_fill_a_template() -> None:
    with pytest.raises(ValueError, match="bytes"):
        trees.to_term(b"5")


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (TermMapping(iri="http://example.org/{a}/{b}"), "exactly one placeholder"),
        (TermMapping(iri="http://example.org/trees"), "exactly one placeholder"),
        (TermMapping(iri="trees/{id}"), "does not make absolute IRIs"),
        (TermMapping(datatype="celsius"), "is not an IRI"),
        (TermMapping(language="not a tag"), "is not a language tag"),
        (
            TermMapping(datatype="http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"),
            "give a 'language'",
        ),
    ],
)
def test_a_mapping_that_cannot_be_used_is_refused(mapping: TermMapping, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TermCodec("x", mapping)


def test_a_datatype_converts_the_value_to_its_type() -> None:
    assert typed("decimal").to_term(12.5) == f'"12.5"^^{DECIMAL}'
    assert typed("decimal").to_term("12.50") == f'"12.50"^^{DECIMAL}'
    assert typed("integer").to_term(Decimal("3.0")) == f'"3"^^{INTEGER}'
    assert typed("boolean").to_term(1) == f'"true"^^{BOOLEAN}'
    assert typed("date").to_term("2024-05-01") == f'"2024-05-01"^^{DATE}'
    # SQLite keeps datetimes as text, often with a space
    assert typed("dateTime").to_term("2024-05-01 12:30:00") == f'"2024-05-01T12:30:00"^^{DATETIME}'
    assert typed("string").to_term(5) == '"5"'
    celsius = TermCodec("t", TermMapping(datatype="http://example.org/celsius"))
    assert celsius.to_term(Decimal("21.5")) == '"21.5"^^<http://example.org/celsius>'
    assert celsius.from_term('"21.5"^^<http://example.org/celsius>') == "21.5"
    assert isinstance(celsius.from_term('"21.5"'), NoMatch)


@pytest.mark.parametrize(
    ("datatype", "value"),
    [("integer", Decimal("3.5")), ("integer", "abc"), ("boolean", 2), ("date", "yesterday")],
)
def test_a_value_a_datatype_cannot_hold_is_refused(datatype: str, value: object) -> None:
    with pytest.raises(ValueError, match="variable 'x'"):
        typed(datatype).to_term(value)


def test_a_language_writes_and_reads_strings_in_it() -> None:
    dutch = TermCodec("name", TermMapping(language="nl"))
    assert dutch.to_term('de "Eik"') == r'"de \"Eik\""@nl'
    assert dutch.from_term('"Eik"@nl') == "Eik"
    assert dutch.from_term('"Eik"@NL') == "Eik"  # tags are case-insensitive
    assert isinstance(dutch.from_term('"Oak"@en'), NoMatch)
    assert isinstance(dutch.from_term('"Eik"'), NoMatch)


# ---------------------------------------------------------------- reading


@pytest.mark.parametrize(
    ("term", "value"),
    [
        (f'"5"^^{INTEGER}', 5),
        ("5", 5),
        (f'"5"^^<{XSD}unsignedShort>', 5),
        (f'"12.50"^^{DECIMAL}', Decimal("12.50")),
        ("12.5", Decimal("12.5")),
        (f'"1e3"^^{DOUBLE}', 1000.0),
        (f'"true"^^{BOOLEAN}', True),
        ("false", False),
        (f'"2024-05-01"^^{DATE}', dt.date(2024, 5, 1)),
        (
            f'"2024-05-01T12:30:00.1234567Z"^^{DATETIME}',
            dt.datetime(2024, 5, 1, 12, 30, 0, 123456, dt.UTC),
        ),
        (f'"12:30:00"^^{TIME}', dt.time(12, 30)),
        (f'"-P2DT1M"^^<{XSD}dayTimeDuration>', -dt.timedelta(days=2, minutes=1)),
        (f'"AP8="^^<{XSD}base64Binary>', b"\x00\xff"),
        (f'"00ff"^^<{XSD}hexBinary>', b"\x00\xff"),
        ('"oak"', "oak"),
        (f'"oak"^^<{XSD}string>', "oak"),
        ('"Eik"@nl', "Eik"),
        ('"5"^^<http://example.org/celsius>', "5"),
    ],
)
def test_an_incoming_literal_is_read_as_its_datatype_decides(term: str, value: object) -> None:
    read = plain.from_term(term)
    assert read == value
    assert type(read) is type(value)


@pytest.mark.parametrize(
    "term",
    [
        "<http://example.org/oak>",
        "_:b0",
        f'"five"^^{INTEGER}',
        f'"2024-13-01"^^{DATE}',
        f'"2024-05-01"^^{DATETIME}',
        f'"P1Y"^^<{XSD}dayTimeDuration>',
        f'"maybe"^^{BOOLEAN}',
        f'"!!"^^<{XSD}base64Binary>',
        '"unterminated',
        "",
    ],
)
def test_a_malformed_or_foreign_term_matches_nothing(term: str) -> None:
    assert isinstance(plain.from_term(term), NoMatch)


def test_numbers_are_read_by_value_into_a_numeric_datatype() -> None:
    assert typed("integer").from_term(f'"5.0"^^{DECIMAL}') == 5
    assert type(typed("integer").from_term(f'"5.0"^^{DECIMAL}')) is int
    assert isinstance(typed("integer").from_term(f'"5.5"^^{DECIMAL}'), NoMatch)
    assert typed("decimal").from_term("5") == Decimal(5)
    assert typed("double").from_term("5") == 5.0
    assert isinstance(typed("decimal").from_term('"5"'), NoMatch)
    assert isinstance(typed("date").from_term(f'"2024-05-01T00:00:00"^^{DATETIME}'), NoMatch)


def test_a_no_match_says_why_with_the_term_quoted_and_cut_short() -> None:
    long = "<http://example.org/other/" + "x" * 200 + ">"
    reason = trees.from_term(long)
    assert isinstance(reason, NoMatch)
    assert "does not fit the template" in reason.reason
    assert len(reason.reason) < 200


# ---------------------------------------------------------------- converting


@pytest.mark.parametrize(
    ("value", "target", "expected"),
    [
        ("5", int, 5),
        (Decimal("5.0"), int, 5),
        (True, int, 1),
        (5, Decimal, Decimal(5)),
        (0.1, Decimal, Decimal("0.1")),
        (5, float, 5.0),
        (1, bool, True),
        ("2024-05-01", dt.date, dt.date(2024, 5, 1)),
        ("2024-05-01 12:00:00", dt.datetime, dt.datetime(2024, 5, 1, 12)),
        (dt.timedelta(hours=7), dt.time, dt.time(7)),
        (5, str, "5"),
        (dt.date(2024, 5, 1), str, "2024-05-01"),
        (bytearray(b"ab"), bytes, b"ab"),
    ],
)
def test_convert_keeps_the_value(value: object, target: type, expected: object) -> None:
    converted = convert(value, target)
    assert converted == expected
    assert type(converted) is target


@pytest.mark.parametrize(
    ("value", "target"),
    [
        ("5.5", int),
        (5.5, int),
        (float("inf"), int),
        (True, Decimal),
        (float("nan"), Decimal),
        (2, bool),
        ("abc", float),
        (dt.datetime(2024, 5, 1), dt.date),
        (dt.date(2024, 5, 1), dt.datetime),
        (b"ab", str),
        ("ab", bytes),
        (dt.timedelta(days=2), dt.time),
    ],
)
def test_convert_refuses_what_would_change_the_value(value: object, target: type) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        convert(value, target)


def test_terms_for_a_variable_the_pattern_lacks_are_refused() -> None:
    with pytest.raises(MapperConfigError, match=r"'trees'.*\['heigth'\].*height, tree"):
        codecs_for("trees", ["height", "tree"], {"heigth": TermMapping(datatype=XSD + "decimal")})
    with pytest.raises(MapperConfigError, match=r"terms\.tree: .*'trees'.*placeholder"):
        codecs_for("trees", ["tree"], {"tree": TermMapping(iri="http://example.org/")})
    codecs = codecs_for("trees", ["height", "tree"], {"tree": TermMapping(iri=TREES)})
    assert codecs["tree"].to_term(1) == "<http://example.org/trees/1>"
    assert codecs["height"].to_term(1) == f'"1"^^{INTEGER}'


# ---------------------------------------------------------------- round trips


def _round_trip(codec: TermCodec, value: object) -> object:
    term = codec.to_term(value)
    assert term is not None
    parse_term(term)  # what is written, the KE can read
    return codec.from_term(term)


@given(st.integers())
def test_integers_round_trip(value: int) -> None:
    assert _round_trip(plain, value) == value


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_decimals_round_trip(value: Decimal) -> None:
    back = _round_trip(plain, value)
    assert back == value
    assert isinstance(back, Decimal)


@given(st.floats())
def test_doubles_round_trip(value: float) -> None:
    back = _round_trip(plain, value)
    assert isinstance(back, float)
    assert back == value or (back != back and value != value)  # NaN is NaN


@given(st.booleans())
def test_booleans_round_trip(value: bool) -> None:
    assert _round_trip(plain, value) is value


@given(st.dates())
def test_dates_round_trip(value: dt.date) -> None:
    assert _round_trip(plain, value) == value


@given(st.datetimes(timezones=st.none() | st.timezones()))
def test_datetimes_round_trip_naive_staying_naive(value: dt.datetime) -> None:
    try:
        term = plain.to_term(value)
    except OverflowError:  # out of range once written in UTC
        assume(False)
    assert term is not None
    back = plain.from_term(term)
    assert isinstance(back, dt.datetime)
    assert (back.tzinfo is None) == (value.tzinfo is None)
    if value.tzinfo is None:
        assert back == value
    else:  # the same instant (== is False for a time a DST change makes ambiguous)
        assert back.astimezone(dt.UTC) == value.astimezone(dt.UTC)


@given(st.times())
def test_times_round_trip(value: dt.time) -> None:
    assert _round_trip(plain, value) == value


@given(st.timedeltas())
def test_durations_round_trip(value: dt.timedelta) -> None:
    assert _round_trip(plain, value) == value


@given(st.text())
def test_strings_round_trip(value: str) -> None:
    assert _round_trip(plain, value) == value
    assert _round_trip(TermCodec("x", TermMapping(language="en-GB")), value) == value


@given(st.binary())
def test_bytes_round_trip(value: bytes) -> None:
    assert _round_trip(plain, value) == value


@given(st.text())
def test_iri_template_values_round_trip(value: str) -> None:
    assert _round_trip(trees, value) == value


@given(st.integers())
def test_integer_ids_round_trip_through_a_template_as_text(value: int) -> None:
    back = _round_trip(trees, value)
    assert back == str(value)
    assert convert(back, int) == value


@given(
    st.text(alphabet=st.characters(codec="ascii", exclude_characters='<>"{}|\\^` '), max_size=20)
)
def test_an_incoming_iri_reads_back_to_itself_or_matches_nothing(tail: str) -> None:
    iri = f"<http://example.org/trees/{tail}>"
    assume(not any(ord(c) < 0x20 or ord(c) == 0x7F for c in tail))
    value = trees.from_term(iri)
    if not isinstance(value, NoMatch):
        assert trees.to_term(value) == iri  # one IRI per value, and back
