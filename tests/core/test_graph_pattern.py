"""The graph pattern parser, tested through its private module on purpose.

`km_core._graph_pattern` is not public API: the knowledge interaction declarations use it. Its
behaviour is pinned here directly: the triples and variables it reads, the canonical text the
KE's ``GET /sc/ki`` gives back, and the `GraphPatternError` (with line and column) raised for
everything the KE's ``POST /sc/ki`` rejects.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rdflib import Literal, URIRef, Variable
from rdflib.namespace import RDF, XSD

from km_core import ConfigurationError, GraphPatternError
from km_core.patterns import GraphPattern, parse_graph_pattern

EX = "http://example.org/"
PREFIXES = {"ex": EX, "xsd": str(XSD)}
KI = "tree-heights"


def ex(name: str) -> URIRef:
    return URIRef(EX + name)


def parse(pattern: str, prefixes: dict[str, str] | None = None) -> GraphPattern:
    return parse_graph_pattern(pattern, PREFIXES if prefixes is None else prefixes, ki_name=KI)


def parse_error(pattern: object, prefixes: object = None) -> GraphPatternError:
    with pytest.raises(GraphPatternError) as caught:
        parse_graph_pattern(pattern, prefixes, ki_name=KI)  # type: ignore[arg-type]
    return caught.value


# --- triples and variables ---------------------------------------------------------------------


def test_one_triple_gives_its_triple_and_variables() -> None:
    pattern = parse("?tree ex:height ?height .")

    assert pattern.triples == ((Variable("tree"), ex("height"), Variable("height")),)
    assert pattern.variables == frozenset({"tree", "height"})
    assert pattern.text == "?tree ex:height ?height ."


def test_variables_of_several_triples_are_collected_once() -> None:
    pattern = parse("?a ex:p ?b . ?b ex:q ?c . ?c ex:r ?a . ?d ex:s ex:thing")

    assert pattern.variables == frozenset({"a", "b", "c", "d"})
    assert all(isinstance(name, str) and not name.startswith("?") for name in pattern.variables)


def test_a_variable_may_stand_in_every_position() -> None:
    pattern = parse("?s ?p ?o")

    assert pattern.triples == ((Variable("s"), Variable("p"), Variable("o")),)


def test_dollar_variables_are_ordinary_variables() -> None:
    assert parse("$a ex:p ?b").variables == frozenset({"a", "b"})


def test_prefixed_names_are_expanded_with_the_given_prefixes() -> None:
    pattern = parse(
        "?x ex:p foaf:name", {"ex": "http://ex.org/ns#", "foaf": "http://xmlns.com/foaf/0.1/"}
    )

    assert pattern.triples == (
        (Variable("x"), URIRef("http://ex.org/ns#p"), URIRef("http://xmlns.com/foaf/0.1/name")),
    )


def test_the_default_prefix_and_escaped_local_names_are_expanded() -> None:
    pattern = parse("?x :p ex:a\\.b", {"": "http://default.org/", "ex": EX})

    assert pattern.triples == ((Variable("x"), URIRef("http://default.org/p"), ex("a.b")),)


def test_a_means_rdf_type() -> None:
    pattern = parse("?tree a ex:Tree")

    assert pattern.triples == ((Variable("tree"), RDF.type, ex("Tree")),)


def test_full_iris_need_no_prefixes() -> None:
    pattern = parse_graph_pattern("?a <http://example.org/isRelatedTo> ?b")

    assert pattern.triples == ((Variable("a"), ex("isRelatedTo"), Variable("b")),)
    assert pattern.prefixes == {}


def test_semicolons_and_commas_repeat_subject_and_predicate_in_order() -> None:
    pattern = parse("?t a ex:Tree ; ex:height 21, 22 ; ex:name ?n .")

    assert pattern.triples == (
        (Variable("t"), RDF.type, ex("Tree")),
        (Variable("t"), ex("height"), Literal(21)),
        (Variable("t"), ex("height"), Literal(22)),
        (Variable("t"), ex("name"), Variable("n")),
    )


def test_triples_keep_the_order_they_are_written_in() -> None:
    # rdflib's query algebra reorders triples for evaluation; the pattern must not.
    pattern = parse("?a ?b ?c . ?c ex:p ex:o . ex:s ex:q ?a")

    assert [triple[1] for triple in pattern.triples] == [Variable("b"), ex("p"), ex("q")]


def test_a_long_pattern_parses() -> None:
    text = " ".join(f"?s{i} ex:p{i} ?o{i} ." for i in range(300))

    assert len(parse(text).triples) == 300


def test_comments_are_ignored() -> None:
    pattern = parse("# trees\n?t ex:height ?h . # in metres\n# end")

    assert pattern.triples == ((Variable("t"), ex("height"), Variable("h")),)


# --- literals ----------------------------------------------------------------------------------

LITERALS = [
    # (as written, the rdflib term, as the canonical text writes it)
    ('"oak"', Literal("oak"), '"oak"'),
    ("'oak'", Literal("oak"), '"oak"'),
    ('"""oak"""', Literal("oak"), '"oak"'),
    ('"oak"^^xsd:string', Literal("oak"), '"oak"'),
    ('"eik"@nl', Literal("eik", lang="nl"), '"eik"@nl'),
    ('"oak"@en-GB', Literal("oak", lang="en-GB"), '"oak"@en-GB'),
    ("12", Literal("12", datatype=XSD.integer), "12"),
    ("-5", Literal("-5", datatype=XSD.integer), "-5"),
    ("+5", Literal("5", datatype=XSD.integer), "5"),  # rdflib normalises; the KE keeps "+5"
    ('"5"^^xsd:integer', Literal("5", datatype=XSD.integer), "5"),
    ('"12"^^<http://www.w3.org/2001/XMLSchema#integer>', Literal(12), "12"),
    ("21.5", Literal("21.5", datatype=XSD.decimal), "21.5"),
    ("-21.5", Literal("-21.5", datatype=XSD.decimal), "-21.5"),  # rdflib's own parser fails
    ('"21.5"^^xsd:decimal', Literal(Decimal("21.5")), "21.5"),
    ("1e3", Literal("1e3", datatype=XSD.double), "1.0E3"),
    ("-2.5E-3", Literal("-2.5E-3", datatype=XSD.double), "-2.5E-3"),
    ("true", Literal(True), "true"),
    ("false", Literal(False), "false"),
    ('"true"^^xsd:boolean', Literal(True), "true"),
    (
        '"2024-05-01"^^xsd:date',
        Literal("2024-05-01", datatype=XSD.date),
        '"2024-05-01"^^<http://www.w3.org/2001/XMLSchema#date>',
    ),
    (
        '"x"^^<http://example.org/type>',
        Literal("x", datatype=ex("type")),
        '"x"^^<http://example.org/type>',
    ),
    (
        '"INF"^^xsd:double',
        Literal("INF", datatype=XSD.double),
        '"INF"^^<http://www.w3.org/2001/XMLSchema#double>',
    ),
    ('"say \\"hi\\"\\\\ \\n\\t"', Literal('say "hi"\\ \n\t'), '"say \\"hi\\"\\\\ \\n\\t"'),
    ('"""two\nlines"""', Literal("two\nlines"), '"two\\nlines"'),
    ('"caf\\u00e9"', Literal("café"), '"café"'),
    ('"bell\\u0007"', Literal("bell\x07"), '"bell\\u0007"'),
]


@pytest.mark.parametrize(("written", "term", "canonical"), LITERALS)
def test_every_literal_form_is_read_and_written(
    written: str, term: Literal, canonical: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pattern = parse(f"?tree ex:value {written}")

    assert pattern.triples == ((Variable("tree"), ex("value"), term),)
    assert pattern.canonical() == f"?tree <http://example.org/value> {canonical} . "
    assert parse(pattern.canonical()).triples == pattern.triples
    assert capsys.readouterr() == ("", "")


def test_an_ill_typed_literal_is_kept_in_long_form() -> None:
    pattern = parse('?tree ex:value "abc"^^xsd:integer')
    (_, _, value) = pattern.triples[0]

    assert isinstance(value, Literal)
    assert (str(value), value.datatype) == ("abc", XSD.integer)
    assert pattern.canonical() == (
        '?tree <http://example.org/value> "abc"^^<http://www.w3.org/2001/XMLSchema#integer> . '
    )
    assert parse(pattern.canonical()).canonical() == pattern.canonical()


def test_a_literal_may_be_the_subject() -> None:
    assert parse("12 ex:p ?x").triples == ((Literal(12), ex("p"), Variable("x")),)


# --- canonical text ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "prefixes", "canonical"),
    [
        (
            "?a <http://example.org/isRelatedTo> ?b",
            {},
            "?a <http://example.org/isRelatedTo> ?b . ",
        ),
        (
            "?a ex:p ?b . ?b ex:q ?c",
            {"ex": "http://ex/"},
            "?a <http://ex/p> ?b . ?b <http://ex/q> ?c . ",
        ),
        (
            "?tree a ex:Tree ; ex:height 21.5 ; ex:name 'oak'@en .",
            {"ex": EX},
            "?tree <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://example.org/Tree> . "
            "?tree <http://example.org/height> 21.5 . "
            '?tree <http://example.org/name> "oak"@en . ',
        ),
        (
            "?m ex:count 12 . ?m ex:done true . ?m ex:ratio 1e3",
            {"ex": EX},
            "?m <http://example.org/count> 12 . ?m <http://example.org/done> true . "
            "?m <http://example.org/ratio> 1.0E3 . ",
        ),
    ],
)
def test_canonical_text_is_the_kes(text: str, prefixes: dict[str, str], canonical: str) -> None:
    written = parse(text, prefixes).canonical()

    assert written == canonical
    assert written.endswith(" . ")


SAME_PATTERN = [
    "?a ex:p ?b . ?b ex:q 12",
    "?a ex:p ?b.?b ex:q 12.",
    "  ?a   ex:p   ?b .\n  ?b ex:q 12 .\n",
    "?a\tex:p\t?b\t.\r\n?b\tex:q\t12",
    "# first\n?a ex:p ?b . # comment\n?b\n  ex:q\n    12 .",
    "?a <http://example.org/p> ?b . ?b <http://example.org/q> 12 .",
]


@pytest.mark.parametrize("text", SAME_PATTERN)
def test_whitespace_newlines_and_prefixes_do_not_change_the_canonical_text(text: str) -> None:
    assert parse(text).canonical() == (
        "?a <http://example.org/p> ?b . ?b <http://example.org/q> 12 . "
    )


def test_canonical_text_reads_back_to_the_same_pattern() -> None:
    pattern = parse("?t a ex:Tree ; ex:name 'oak'@en, \"eik\" ; ex:height -21.5 .")
    again = parse(pattern.canonical(), {})

    assert again.triples == pattern.triples
    assert again.variables == pattern.variables
    assert again.canonical() == pattern.canonical()


# --- the GraphPattern value --------------------------------------------------------------------


def test_a_graph_pattern_is_frozen_and_hashable() -> None:
    pattern = parse("?a ex:p ?b")

    with pytest.raises(dataclasses.FrozenInstanceError):
        pattern.text = "?x ?y ?z"  # type: ignore[misc]
    assert hash(pattern) == hash(parse("?a ex:p ?b"))
    assert pattern == parse("?a ex:p ?b")


def test_the_prefixes_are_a_read_only_copy() -> None:
    prefixes = {"ex": EX}
    pattern = parse_graph_pattern("?a ex:p ?b", prefixes)
    prefixes["ex"] = "http://changed.org/"

    assert pattern.prefixes == {"ex": EX}
    with pytest.raises(TypeError):
        pattern.prefixes["ex"] = "http://changed.org/"  # type: ignore[index]


def test_importing_the_module_does_not_import_rdflib() -> None:
    code = (
        "import sys, km_core; before = 'rdflib' in sys.modules; "
        "import km_core.patterns._grammar; assert before or 'rdflib' not in sys.modules"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr


# --- errors ------------------------------------------------------------------------------------


def test_errors_are_configuration_and_value_errors_that_name_the_interaction() -> None:
    error = parse_error("?a ex:p ?b FILTER(?b > 3)", PREFIXES)

    assert isinstance(error, ConfigurationError)
    assert isinstance(error, ValueError)
    assert error.ki_name == KI
    assert error.pattern == "?a ex:p ?b FILTER(?b > 3)"
    assert str(error).startswith(f"knowledge interaction {KI!r}: ")
    assert str(error).endswith("in graph pattern '?a ex:p ?b FILTER(?b > 3)'")


def test_errors_without_an_interaction_name() -> None:
    with pytest.raises(GraphPatternError) as caught:
        parse_graph_pattern("")

    assert caught.value.ki_name is None
    assert not str(caught.value).startswith("knowledge interaction")


@pytest.mark.parametrize("text", ["", "   ", "\n\t\n"])
def test_an_empty_pattern_is_rejected(text: str) -> None:
    error = parse_error(text)

    assert "empty" in str(error)
    assert error.pattern == text


def test_a_pattern_of_only_comments_has_no_triples() -> None:
    assert "no triples" in str(parse_error("# nothing here\n"))


def test_a_pattern_that_is_no_string_is_rejected() -> None:
    error = parse_error(None)

    assert "must be a string" in str(error)


def position_of(error: GraphPatternError) -> str:
    """The character an error's line and column point at."""
    assert error.line is not None
    assert error.column is not None
    return error.pattern.split("\n")[error.line - 1][error.column - 1]


def test_a_syntax_error_on_the_first_line_is_placed_within_the_pattern() -> None:
    error = parse_error('?a ex:p "unclosed', PREFIXES)

    assert (error.line, error.column) == (1, 9)
    assert position_of(error) == '"'
    assert "syntax error" in str(error)
    assert "at line 1, column 9" in str(error)


def test_a_syntax_error_on_line_two_column_five() -> None:
    error = parse_error("?a ex:p ?b .\n    @b ex:q ?c .", PREFIXES)

    assert (error.line, error.column) == (2, 5)
    assert position_of(error) == "@"
    assert "at line 2, column 5" in str(error)


def test_a_syntax_error_deep_in_a_multi_line_pattern() -> None:
    text = "?tree a ex:Tree ;\n      ex:height ?h .\n?tree ex:name 'oak' 'eik' ."
    error = parse_error(text, PREFIXES)

    assert (error.line, error.column) == (3, 21)
    assert position_of(error) == "'"


def test_a_missing_dot_between_triples_is_named() -> None:
    error = parse_error("?a ex:p ?b\n  ?b ex:q ?c", PREFIXES)

    assert (error.line, error.column) == (2, 3)
    assert "' . ' expected" in str(error)


def test_columns_count_a_tab_as_one_character() -> None:
    error = parse_error("?a ex:p ?b .\n\t?b ex:q @x", PREFIXES)

    assert (error.line, error.column) == (2, 10)
    assert position_of(error) == "@"


def test_columns_are_counted_in_the_text_as_written_before_unicode_escapes() -> None:
    error = parse_error('?a ex:p "caf\\u00e9" @x', PREFIXES)

    assert (error.line, error.column) == (1, 21)
    assert position_of(error) == "@"


def test_a_pattern_that_stops_halfway_is_placed_at_its_end() -> None:
    error = parse_error("?a ex:p ?b .\n?c ex:q", PREFIXES)

    assert (error.line, error.column) == (2, 8)
    assert "ends in the middle of a triple" in str(error)


def test_braces_around_the_pattern_are_a_syntax_error() -> None:
    error = parse_error("?a ex:p ?b } LIMIT 1", PREFIXES)

    assert (error.line, error.column) == (1, 12)
    assert "'}'" in str(error)


def test_an_unclosed_iri_gets_a_hint() -> None:
    assert "'>'" in str(parse_error("?a <http://example.org/p ?b"))


def test_an_invalid_unicode_escape_is_a_syntax_error() -> None:
    error = parse_error('?a ex:p "\\UFFFFFFFF"', PREFIXES)

    assert (error.line, error.column) == (1, 10)


def test_an_undefined_prefix_is_named_with_the_fix() -> None:
    error = parse_error("?a ex:p ?b . ?b foaf:name ?n", {"ex": EX})

    assert "'foaf'" in str(error)
    assert "prefixes" in str(error)


def test_no_prefix_is_predefined() -> None:
    error = parse_error('?a <http://example.org/p> "5"^^xsd:integer')

    assert "'xsd'" in str(error)
    assert "predefined" in str(error)


def test_an_undefined_default_prefix_is_named() -> None:
    assert "':'" in str(parse_error("?a :p ?b", {"ex": EX}))


def test_a_relative_iri_is_rejected() -> None:
    assert "relative IRI" in str(parse_error("?a <p> ?b"))


NOT_TRIPLES = [
    ("?a ex:p ?b FILTER(?b > 3)", "FILTER"),
    ("?a ex:p ?b . FILTER regex(?b, 'x')", "FILTER"),
    ("?a ex:p ?b OPTIONAL { ?b ex:q ?c }", "OPTIONAL"),
    ("{ ?a ex:p ?b } UNION { ?a ex:q ?b }", "UNION"),
    ("?a ex:p ?b MINUS { ?a ex:q ?b }", "MINUS"),
    ("?a ex:p ?b . BIND(?b * 2 AS ?c)", "BIND"),
    ("VALUES ?b { 1 2 } ?a ex:p ?b", "VALUES"),
    ("GRAPH ?g { ?a ex:p ?b }", "GRAPH"),
    ("SERVICE <http://example.org/sparql> { ?a ex:p ?b }", "SERVICE"),
    ("{ SELECT ?a WHERE { ?a ex:p ?b } }", "subquery"),
    ("SELECT ?a WHERE { ?a ex:p ?b }", "subquery"),
    ("{ ?a ex:p ?b }", "nested group"),
    ("?a ex:p/ex:q ?b", "property path with '/'"),
    ("?a ex:p* ?b", "property path with '*'"),
    ("?a ex:p+ ?b", "property path with '+'"),
    ("?a ex:p? ?b", "property path with '?'"),
    ("?a ex:p|ex:q ?b", "property path with '|'"),
    ("?a ^ex:p ?b", "property path with '^'"),
    ("?a !ex:p ?b", "property path with '!'"),
    ("?a ex:p _:b", "blank node '_:b'"),
    ("_:b ex:p ?a", "blank node '_:b'"),
    ("?a ex:p []", "blank node"),
    ("?a ex:p [ ex:q ?c ]", "blank node"),
    ("?a ex:p ( 1 2 )", "blank node"),
]


@pytest.mark.parametrize(("text", "construct"), NOT_TRIPLES)
def test_anything_but_triples_is_rejected_by_name(
    text: str, construct: str, capsys: pytest.CaptureFixture[str]
) -> None:
    error = parse_error(text, PREFIXES)

    assert construct in str(error)
    assert error.ki_name == KI
    assert error.pattern == text
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("text", ["?a ex:p _:b", "?a ex:p []"])
def test_a_blank_node_error_says_to_use_a_variable(text: str) -> None:
    assert "use a variable" in str(parse_error(text, PREFIXES))


@pytest.mark.parametrize(
    ("prefixes", "message"),
    [
        (["ex", EX], "must be a mapping"),
        ({"ex": 42}, "prefixes must map"),
        ({1: EX}, "prefixes must map"),
        ({"ex": None}, "prefixes must map"),
        ({"ex:": EX}, "without the colon: 'ex'"),
        ({"1ex": EX}, "not a valid prefix name"),
        ({"ex": "http://example.org/a b/"}, "not an absolute IRI"),
        ({"ex": "relative/"}, "not an absolute IRI"),
    ],
)
def test_a_bad_prefix_map_is_rejected(prefixes: object, message: str) -> None:
    error = parse_error("?a ex:p ?b", prefixes)

    assert message in str(error)
    assert error.ki_name == KI


SYNTAX_ERRORS = [
    "?a ex:p",
    "?a",
    "?a ex:p ?b ?c",
    "?a ex:p ?b ,",
    "?a ex:p ?b ;\n ex:q",
    "?a ex:p ?b .. ?c ex:q ?d",
    '?a ex:p "x"@',
    '?a ex:p "x"^^',
    "?a ex:p <a b>",
    "?a ex:p ?b . { ?c",
    "?a ex:p ?b FILTER",
    "PREFIX ex: <http://example.org/> ?a ex:p ?b",
    "?a ex:p ?b }",
    "}",
    "?a ex:p 'x\n'",
    "?a ex:p ?b . " * 40 + "?a ex:p",
]


@pytest.mark.parametrize("text", SYNTAX_ERRORS)
def test_every_syntax_error_is_a_graph_pattern_error_with_a_position(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    error = parse_error(text, PREFIXES)

    assert "syntax error" in str(error)
    assert error.line is not None
    assert error.column is not None
    assert 1 <= error.line <= text.count("\n") + 1
    assert 1 <= error.column <= len(text.split("\n")[error.line - 1]) + 1
    assert capsys.readouterr() == ("", "")


# --- properties --------------------------------------------------------------------------------

NAMESPACES = {"ex": "http://example.org/", "s": "https://schema.org/", "n": "urn:x-ns:"}

variable_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,7}", fullmatch=True)
local_names = st.from_regex(r"[A-Za-z][A-Za-z0-9_\-]{0,7}", fullmatch=True)


@st.composite
def iris(draw: st.DrawFn) -> tuple[str, URIRef]:
    """An IRI, written in full or with a prefix, and its term."""
    prefix = draw(st.sampled_from(sorted(NAMESPACES)))
    local = draw(local_names)
    iri = URIRef(NAMESPACES[prefix] + local)
    written = draw(st.sampled_from([f"<{iri}>", f"{prefix}:{local}"]))
    return written, iri


@st.composite
def variables(draw: st.DrawFn) -> tuple[str, Variable]:
    name = draw(variable_names)
    return f"{draw(st.sampled_from('?$'))}{name}", Variable(name)


def quoted(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\r", "\\r") + '"'


plain_text = st.text(st.characters(codec="utf-8"), max_size=12)  # no lone surrogates

literals = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(lambda d: f"{d:f}"),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: f"{f:.17e}"),
    st.sampled_from(["true", "false"]),
    plain_text.map(quoted),
    st.tuples(plain_text, st.from_regex(r"[a-z]{2}(-[A-Z]{2})?", fullmatch=True)).map(
        lambda pair: f"{quoted(pair[0])}@{pair[1]}"
    ),
    st.tuples(plain_text, st.sampled_from(["xsd:date", "xsd:token", "<urn:x-type>"])).map(
        lambda pair: f"{quoted(pair[0])}^^{pair[1]}"
    ),
)
# No bare '.' between a prefixed name and the next one: 'ex:a.ex:b' is one local name.
separators = st.sampled_from([" . ", " .", ".\n", " .\n", "\n.\n\t", " . # note\n"])


@st.composite
def iri_patterns(draw: st.DrawFn) -> tuple[str, list[tuple[URIRef | Variable, ...]]]:
    """A pattern of variables and IRIs, and the triples it stands for."""
    node = st.one_of(variables(), iris())
    triples = draw(st.lists(st.tuples(node, node, node), min_size=1, max_size=5))
    text = ""
    for index, triple in enumerate(triples):
        if index:
            text += draw(separators)
        text += " ".join(written for written, _ in triple)
    text += draw(st.sampled_from(["", " .", " .\n"]))
    return text, [tuple(term for _, term in triple) for triple in triples]


@st.composite
def literal_patterns(draw: st.DrawFn) -> str:
    """A pattern whose objects are often literals of every kind."""
    subject = st.one_of(variables(), iris()).map(lambda pair: pair[0])
    predicate = st.one_of(variables(), iris()).map(lambda pair: pair[0])
    obj = st.one_of(subject, literals)
    triples = draw(st.lists(st.tuples(subject, predicate, obj), min_size=1, max_size=5))
    return " .\n".join(" ".join(triple) for triple in triples)


ALL_PREFIXES = {**NAMESPACES, "xsd": str(XSD)}


@settings(deadline=None)
@given(iri_patterns())
def test_random_patterns_of_variables_and_iris_read_back_from_their_canonical_text(
    case: tuple[str, list[tuple[URIRef | Variable, ...]]],
) -> None:
    text, expected = case
    pattern = parse_graph_pattern(text, NAMESPACES)
    again = parse_graph_pattern(pattern.canonical())

    assert [list(triple) for triple in pattern.triples] == [list(t) for t in expected]
    assert pattern.variables == {
        str(t) for triple in expected for t in triple if isinstance(t, Variable)
    }
    assert again.triples == pattern.triples
    assert again.variables == pattern.variables
    assert again.canonical() == pattern.canonical()


@settings(deadline=None)
@given(literal_patterns())
def test_random_patterns_with_literals_read_back_from_their_canonical_text(text: str) -> None:
    pattern = parse_graph_pattern(text, ALL_PREFIXES)
    again = parse_graph_pattern(pattern.canonical())

    assert again.triples == pattern.triples
    assert again.variables == pattern.variables
    assert again.canonical() == pattern.canonical()
