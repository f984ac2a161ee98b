"""`km_core.terms.iri_problem`: the one check of an absolute IRI, and the checks that use it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from km_core import IRI, ConfigurationError, Datatype, GraphPatternError, TypedLiteral
from km_core.patterns import parse_graph_pattern
from km_core.terms import iri_problem, is_absolute_iri, parse_term

ACCEPTED = [
    "http://example.org/oak",
    "https://example.org",
    "HTTPS://EXAMPLE.ORG/Oak",
    "http://example.org/a?b=c#d",
    "http://example.org/bäume/eik",  # beyond ASCII, and fine
    "http://例え.jp/木",
    "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
    "mailto:forester@example.org",
    "tag:example.org,2024:oak",
]

REFUSED = [
    # (text, what the message must name)
    ("http://example.org/kb/\x00", "the control character U+0000"),
    ("http://example.org/kb/\x07", "the control character U+0007"),
    ("http://example.org/kb/\n", "the control character U+000A"),
    ("http://example.org/kb/\x1f", "the control character U+001F"),
    ("http://example.org/kb/\x7f", "the control character U+007F"),
    ("http://example.org/kb/\x85", "the control character U+0085"),
    ("http://example.org/kb/\x9f", "the control character U+009F"),
    ("\x01http://example.org/kb", "the control character U+0001"),
    ("http://example.org/kb/\ud800", "the lone surrogate U+D800"),
    ("http://example.org/kb/\udfff", "the lone surrogate U+DFFF"),
    ("https://", "https IRI without a host"),
    ("http://", "http IRI without a host"),
    ("http:foo", "http IRI without a host"),
    ("HTTP:foo", "http IRI without a host"),
    ("http:///path", "http IRI without a host"),
    ("oak", "relative IRI"),
    ("/relative.nl", "relative IRI"),
    ("../kb/oak", "relative IRI"),
    ("#oak", "relative IRI"),
    ("1http://example.org/", "relative IRI"),
    ("", "empty"),
    ("http://example.org/a b", "a space (U+0020)"),
    ("strange characters and spaces | & ^", "relative IRI"),
    ("http://example.org/a\u00a0b", "the white-space character U+00A0"),
    ("http://example.org/a\u2028b", "the white-space character U+2028"),
    ("http://example.org/<a>", "'<' (U+003C)"),
    ('http://example.org/"a"', "'\"' (U+0022)"),
    ("http://example.org/{a}", "'{' (U+007B)"),
    ("http://example.org/a|b", "'|' (U+007C)"),
    ("http://example.org/a\\b", "'\\\\' (U+005C)"),
    ("http://example.org/a^b", "'^' (U+005E)"),
    ("http://example.org/a`b", "'`' (U+0060)"),
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_an_absolute_iri_has_no_problem(text: str) -> None:
    assert iri_problem(text) is None
    assert is_absolute_iri(text)


@pytest.mark.parametrize(("text", "named"), REFUSED)
def test_the_problem_of_a_refused_iri_is_named(text: str, named: str) -> None:
    problem = iri_problem(text)

    assert problem is not None
    assert named in problem
    assert not is_absolute_iri(text)


def test_a_character_problem_comes_before_a_missing_host() -> None:
    assert iri_problem("https://\x01") == (
        "it holds the control character U+0001, which no IRI may hold"
    )


def test_the_problem_is_one_sentence_without_a_final_period() -> None:
    for text, _ in REFUSED:
        problem = iri_problem(text)
        assert problem is not None
        assert problem.startswith("it ")
        assert not problem.endswith(".")
        assert "\n" not in problem


@given(st.text())
def test_is_absolute_iri_is_iri_problem_is_none(text: str) -> None:
    problem = iri_problem(text)

    assert is_absolute_iri(text) is (problem is None)
    assert problem is None or problem.startswith("it ")


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=20))
def test_no_iri_with_a_control_character_passes(text: str) -> None:
    iri = "http://example.org/" + text
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text):
        assert not is_absolute_iri(iri)


# -- the checks that use it


@pytest.mark.parametrize(("text", "named"), REFUSED)
def test_the_iri_type_refuses_with_the_problem(text: str, named: str) -> None:
    with pytest.raises(ValueError, match="is not an absolute IRI") as error:
        IRI(text)
    assert named in str(error.value)


def test_the_datatype_of_a_literal_is_checked_with_it() -> None:
    with pytest.raises(ValueError, match="U\\+0085"):
        TypedLiteral("21.5", "http://example.org/celsius\x85")
    with pytest.raises(ConfigurationError, match="relative IRI"):
        Datatype("celsius")


def test_a_term_in_angle_brackets_is_checked_with_it() -> None:
    with pytest.raises(ValueError, match="not an absolute IRI"):
        parse_term("<http://example.org/\x7f>")
    assert parse_term("<http://example.org/bäume>").value == "http://example.org/bäume"


@pytest.mark.parametrize(
    ("pattern", "prefixes", "named"),
    [
        ("?a <http://example.org/p\\u0085> ?b", None, "the control character U+0085"),
        ("?a <https:p> ?b", None, "https IRI without a host"),
        ("?a <p> ?b", None, "relative IRI"),
        ("?a ex:p ?b", {"ex": "http://example.org/\x7f/"}, "the control character U+007F"),
        ("?a ex:p ?b", {"ex": "http://example.org/a\u00a0b/"}, "U+00A0"),
    ],
)
def test_a_graph_pattern_iri_is_checked_with_it(
    pattern: str, prefixes: dict[str, str] | None, named: str
) -> None:
    with pytest.raises(GraphPatternError, match="not an absolute IRI") as error:
        parse_graph_pattern(pattern, prefixes)
    assert named in str(error.value)
