"""The SPARQL source: ANSWER and REACT against the in-process store and a real SPARQL server.

Every behaviour test runs against the in-process store (pyoxigraph, loaded from a temporary
file) and, when ``KM_TEST_FUSEKI_URL`` names a Fuseki dataset (``http://127.0.0.1:33030/km``,
with ``/query`` and ``/update`` beneath it), against that server too; each test writes under a
namespace of its own, so tests share the dataset without seeing each other's data. The HTTP
side (credentials, errors, one request per handle request, the pool) is tested against a small
recording HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import http.server
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyoxigraph
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rdflib.plugins.sparql import prepareQuery

from km_core import BindingSet, BindingValidationError
from km_core.patterns import parse_graph_pattern
from km_core.terms import FLOAT_TYPES, XSD, escape, parse_term
from km_mapper import MapperConfigError, SourceError
from km_mapper._config import AnswerInteraction, ReactInteraction, SparqlSource
from km_mapper._sources import Prepared
from km_mapper._sources._sparql import SparqlDataSource
from km_mapper._sources._sparql._terms import read_value, sparql_text

FUSEKI_URL = os.environ.get("KM_TEST_FUSEKI_URL", "").rstrip("/")
SPARQL_LOGGER = "km_mapper._sources._sparql"

# ---------------------------------------------------------------- local helpers


def prepared(ki: AnswerInteraction | ReactInteraction, prefixes: dict[str, str]) -> Prepared:
    """The interaction as the mapper prepares it: its patterns parsed with the prefixes."""
    prefixes = {**prefixes, **ki.prefixes}
    if isinstance(ki, AnswerInteraction):
        pattern, result = parse_graph_pattern(ki.graph_pattern, prefixes), None
    else:
        pattern = parse_graph_pattern(ki.argument_graph_pattern, prefixes)
        result = (
            None
            if ki.result_graph_pattern is None
            else parse_graph_pattern(ki.result_graph_pattern, prefixes)
        )
    return Prepared(
        config=ki,
        prefixes=prefixes,
        pattern=pattern,
        result_pattern=result,
        variables=sorted(pattern.variables),
        result_variables=sorted(result.variables) if result else [],
        terms={},
    )


def answer_ki(pattern: str, **settings: Any) -> AnswerInteraction:
    return AnswerInteraction(type="answer", name="answers", graph_pattern=pattern, **settings)


def react_ki(pattern: str, **settings: Any) -> ReactInteraction:
    return ReactInteraction(type="react", name="reacts", argument_graph_pattern=pattern, **settings)


def sparql(**settings: Any) -> SparqlSource:
    return SparqlSource(type="sparql", **settings)


def post_update(url: str, update: str) -> None:
    """Run an update on the Fuseki dataset directly (to seed it)."""
    response = httpx.post(
        f"{url}/update", content=update, headers={"Content-Type": "application/sparql-update"}
    )
    response.raise_for_status()


def normalised(value: str) -> tuple[str, str, str | None, str | None]:
    """A binding value parsed, ``xsd:string`` as plain and language tags in lower case."""
    term = parse_term(value)
    datatype = None if term.datatype == XSD + "string" else term.datatype
    # A store may keep a double by its value: pyoxigraph gives 1.0E3 back as 1000.
    lexical = repr(float(term.value)) if datatype in FLOAT_TYPES else term.value
    return term.kind, lexical, datatype, term.lang.lower() if term.lang else None


def logged(caplog: pytest.LogCaptureFixture, kind: str) -> list[str]:
    """The queries (``kind="query"``) or updates the SPARQL source logged at DEBUG."""
    marker = f": {kind}\n"
    return [
        record.getMessage().split(marker, 1)[1]
        for record in caplog.records
        if record.name.startswith(SPARQL_LOGGER) and marker in record.getMessage()
    ]


def sorted_bindings(bindings: BindingSet) -> list[list[tuple[str, str]]]:
    return sorted(sorted(binding.items()) for binding in bindings)


@dataclass
class Data:
    """A backend with a namespace of the test's own, and the source on it, opened."""

    backend: str
    ns: str
    source: SparqlDataSource
    prefixes: dict[str, str]

    def iri(self, local: str) -> str:
        return f"<{self.ns}{local}>"

    async def everything(self) -> set[tuple[str, str, str]]:
        """Every triple whose subject is in the test's namespace."""
        ki = prepared(answer_ki("?s ?p ?o ."), {})
        rows = await self.source.answerer(ki)([])
        return {(b["s"], b["p"], b["o"]) for b in rows if b["s"].startswith(f"<{self.ns}")}


BACKENDS = [
    "store-ttl",
    "store-nt",
    pytest.param(
        "fuseki",
        marks=pytest.mark.skipif(
            not FUSEKI_URL,
            reason="KM_TEST_FUSEKI_URL is not set (a Fuseki dataset such as "
            "http://127.0.0.1:33030/km, with /query and /update)",
        ),
    ),
]


@pytest.fixture(params=BACKENDS)
async def data(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Data]:
    """Three trees (with heights, species and a note) in the backend under test."""
    ns = f"http://example.org/{uuid.uuid4().hex}/"
    triples = (
        f'<{ns}oak> <{ns}height> "21.5"^^<{XSD}decimal> .\n'
        f"<{ns}oak> <{ns}species> <{ns}Quercus> .\n"
        f'<{ns}beech> <{ns}height> "30"^^<{XSD}integer> .\n'
        f"<{ns}beech> <{ns}species> <{ns}Fagus> .\n"
        f'<{ns}elm> <{ns}height> "12"^^<{XSD}integer> .\n'
        f'<{ns}elm> <{ns}note> "says \\"hi\\" {{ }}"@en .\n'
    )
    backend: str = request.param
    if backend == "fuseki":
        post_update(FUSEKI_URL, "INSERT DATA {\n" + triples + "}")
        config = sparql(endpoint=f"{FUSEKI_URL}/query", update_endpoint=f"{FUSEKI_URL}/update")
    else:
        file = tmp_path / ("trees.ttl" if backend == "store-ttl" else "trees.nt")
        file.write_text(triples, encoding="utf-8")
        config = sparql(file=file)
    source = SparqlDataSource("trees", config)
    await source.open(pool_size=4)
    try:
        yield Data(backend, ns, source, {"ex": ns})
    finally:
        await source.close()


# ---------------------------------------------------------------- ANSWER


async def test_answer_without_bindings_gives_every_match(data: Data) -> None:
    answer = data.source.answerer(prepared(answer_ki("?tree ex:height ?h ."), data.prefixes))
    assert sorted_bindings(await answer([])) == sorted_bindings(
        [
            {"tree": data.iri("beech"), "h": f'"30"^^<{XSD}integer>'},
            {"tree": data.iri("elm"), "h": f'"12"^^<{XSD}integer>'},
            {"tree": data.iri("oak"), "h": f'"21.5"^^<{XSD}decimal>'},
        ]
    )
    assert sorted_bindings(await answer([{}])) == sorted_bindings(await answer([]))


async def test_answer_with_bindings_gives_the_matches_of_each(data: Data) -> None:
    answer = data.source.answerer(prepared(answer_ki("?tree ex:height ?h ."), data.prefixes))
    found = await answer([{"tree": data.iri("oak")}, {"tree": data.iri("elm")}])
    assert sorted_bindings(found) == sorted_bindings(
        [
            {"tree": data.iri("elm"), "h": f'"12"^^<{XSD}integer>'},
            {"tree": data.iri("oak"), "h": f'"21.5"^^<{XSD}decimal>'},
        ]
    )
    # A bare number, as the KE writes one, is an xsd:integer.
    assert await answer([{"h": "30"}]) == [
        {"tree": data.iri("beech"), "h": f'"30"^^<{XSD}integer>'}
    ]
    assert await answer([{"tree": data.iri("nowhere")}]) == []


async def test_partial_bindings_leave_the_other_variables_undefined(
    data: Data, caplog: pytest.LogCaptureFixture
) -> None:
    pattern = "?tree ex:height ?h . ?tree ex:species ?sp ."
    answer = data.source.answerer(prepared(answer_ki(pattern), data.prefixes))
    with caplog.at_level(logging.DEBUG, SPARQL_LOGGER):
        found = await answer([{"tree": data.iri("oak")}, {"sp": data.iri("Fagus")}])
    assert {b["tree"] for b in found} == {data.iri("oak"), data.iri("beech")}
    (query,) = logged(caplog, "query")
    assert f"(UNDEF {data.iri('oak')})" in query
    assert f"({data.iri('Fagus')} UNDEF)" in query


async def test_a_pattern_without_variables_answers_yes_or_no(data: Data) -> None:
    known = data.source.answerer(
        prepared(answer_ki("ex:oak ex:species ex:Quercus ."), data.prefixes)
    )
    unknown = data.source.answerer(
        prepared(answer_ki("ex:oak ex:species ex:Fagus ."), data.prefixes)
    )
    assert await known([{}]) == [{}]
    assert await unknown([{}]) == []
    react = data.source.reactor(prepared(react_ki("ex:oak ex:species ex:Fagus ."), data.prefixes))
    assert await react([{}]) == []
    assert await unknown([]) == [{}]


async def test_a_configured_query_gets_the_bindings_as_a_trailing_values_clause(
    data: Data,
) -> None:
    query = (
        "SELECT ?tree ?h WHERE { ?tree ex:height ?h FILTER(?h > 15) }\n"
        "ORDER BY DESC(?h) # the tallest first"
    )
    ki = prepared(answer_ki("?tree ex:height ?h .", query=query), data.prefixes)
    answer = data.source.answerer(ki)
    assert [b["tree"] for b in await answer([])] == [data.iri("beech"), data.iri("oak")]
    assert [b["tree"] for b in await answer([{"tree": data.iri("oak")}])] == [data.iri("oak")]
    assert await answer([{"tree": data.iri("elm")}]) == []


async def test_solutions_with_blank_nodes_are_left_out(
    data: Data, caplog: pytest.LogCaptureFixture
) -> None:
    insert = data.source.reactor(prepared(react_ki("?t ex:height ?h ."), data.prefixes))
    await insert([{"t": data.iri("ash"), "h": "7"}])
    update = f"INSERT DATA {{ {data.iri('ash')} {data.iri('note')} _:somebody }}"
    if data.backend == "fuseki":
        post_update(FUSEKI_URL, update)
    else:
        await data.source._backend.update(update)
    answer = data.source.answerer(prepared(answer_ki("?t ex:note ?n ."), data.prefixes))
    with caplog.at_level(logging.WARNING, SPARQL_LOGGER):
        found = await answer([])
    assert [b["t"] for b in found] == [data.iri("elm")]
    assert "left out 1 solution(s)" in caplog.text
    assert "?n" in caplog.text


# ---------------------------------------------------------------- REACT, and round trips

ROUND_TRIP = [
    "42",
    f'"-7"^^<{XSD}integer>',
    f'"21.5"^^<{XSD}decimal>',
    "1.0E3",
    "true",
    f'"false"^^<{XSD}boolean>',
    '"2024-02-29"^^xsd:date',
    f'"2024-02-29T13:14:15Z"^^<{XSD}dateTime>',
    f'"2024-02-29T13:14:15.5+01:00"^^<{XSD}dateTime>',
    '"eik"@nl',
    '"oak tree"@en-GB',
    '"plain"',
    f'"typed string"^^<{XSD}string>',
    '"quotes \\" { braces } ; and \\\\ backslashes"',
    '"line\\nbreak\\ttab and \\u00e9 and \\U0001F333"',
    r'"a backslash-u: \\u0022 stays six characters"',
    '"} ; DROP ALL ; INSERT DATA { <http://x> <http://y> <http://z> } #"',
    "<http://example.org/some/where?q=1#frag>",
    "<urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66>",
    "<http://example.org/bäume>",
]


async def test_react_inserts_and_answer_reads_back_every_kind_of_term(data: Data) -> None:
    pattern = "?thing ex:value ?value ."
    react = data.source.reactor(prepared(react_ki(pattern), data.prefixes))
    answer = data.source.answerer(prepared(answer_ki(pattern), data.prefixes))
    sent = {data.iri(f"thing{i}"): value for i, value in enumerate(ROUND_TRIP)}
    assert await react([{"thing": t, "value": v} for t, v in sent.items()]) == []
    found = {b["thing"]: b["value"] for b in await answer([])}
    assert found.keys() == sent.keys()
    for thing, value in sent.items():
        assert normalised(found[thing]) == normalised(value), value
    # And each matches itself when sent back as a binding.
    for thing in sent:
        assert [b["thing"] for b in await answer([{"value": found[thing]}])] == [thing]


async def test_one_insert_data_holds_the_triples_of_every_binding(
    data: Data, caplog: pytest.LogCaptureFixture
) -> None:
    pattern = "?t ex:height ?h . ?t ex:species ex:Ulmus ."
    react = data.source.reactor(prepared(react_ki(pattern), data.prefixes))
    bindings = [{"t": data.iri(f"young{i}"), "h": str(i)} for i in range(3)]
    with caplog.at_level(logging.DEBUG, SPARQL_LOGGER):
        assert await react(bindings + bindings[:1]) == []
    (update,) = logged(caplog, "update")
    assert update.count(f"{data.iri('Ulmus')} .") == 3
    answer = data.source.answerer(prepared(answer_ki(pattern), data.prefixes))
    assert len(await answer([])) == 3


async def test_a_configured_update_gets_the_bindings_at_its_values_line(data: Data) -> None:
    update = (
        "DELETE { ?tree ex:height ?old } INSERT { ?tree ex:height ?new }\n"
        "WHERE {\n  # values\n  OPTIONAL { ?tree ex:height ?old }\n}"
    )
    ki = react_ki("?tree ex:height ?new .", update=update, result_graph_pattern="?tree ex:ok ?x .")
    react = data.source.reactor(prepared(ki, data.prefixes))
    assert (
        await react([{"tree": data.iri("oak"), "new": "22"}, {"tree": data.iri("fir"), "new": "9"}])
        == []
    )
    answer = data.source.answerer(prepared(answer_ki("?tree ex:height ?h ."), data.prefixes))
    heights = {b["tree"]: b["h"] for b in await answer([])}
    assert heights[data.iri("oak")] == f'"22"^^<{XSD}integer>'
    assert heights[data.iri("fir")] == f'"9"^^<{XSD}integer>'
    assert heights[data.iri("beech")] == f'"30"^^<{XSD}integer>'


# ---------------------------------------------------------------- injection attempts

INJECTED_IRI = "<http://x> } ; DROP ALL ; SELECT * WHERE { ?s ?p ?o"
INJECTED_LITERAL = '"x\\" } ; DROP ALL ; SELECT * WHERE { ?s ?p ?o . #"'


@pytest.mark.parametrize(
    ("binding", "problem"),
    [
        ({"tree": INJECTED_IRI}, "is not an absolute IRI"),
        ({"tree": "<http://x> } ; DROP ALL ; #>"}, "is not an absolute IRI"),
        ({"h": '"1" } ; DROP ALL ; #'}, "unreadable suffix"),
        ({"h": '"1"^^<http://x> } DROP ALL #>'}, "unreadable datatype"),
        ({"h": '"1"@en } DROP ALL #'}, "unreadable suffix"),
        ({"h": "1 } ; DROP ALL"}, "is not an RDF term"),
        ({"tree": "_:b0"}, "blank node"),
        ({"tree } ; DROP ALL ; SELECT * WHERE { ?s": "<http://x>"}, "is not a variable"),
        ({"?tree": "<http://x>"}, "is not a variable"),
        ({"tree": 12}, "not int"),
    ],
)
async def test_injection_through_a_binding_is_refused_and_nothing_is_sent(
    data: Data, binding: dict[str, Any], problem: str
) -> None:
    before = await data.everything()
    answer = data.source.answerer(prepared(answer_ki("?tree ex:height ?h ."), data.prefixes))
    react = data.source.reactor(prepared(react_ki("?tree ex:height ?h ."), data.prefixes))
    with pytest.raises(BindingValidationError, match=problem) as refused:
        await answer([{"tree": data.iri("oak")}, binding])
    assert "knowledge interaction 'answers', binding 2 of 2" in str(refused.value)
    with pytest.raises(BindingValidationError, match=problem):
        await react([{"tree": data.iri("oak"), "h": "1"} | binding])
    assert await data.everything() == before


async def test_a_literal_that_looks_like_sparql_stays_one_literal(
    data: Data, caplog: pytest.LogCaptureFixture
) -> None:
    before = await data.everything()
    answer = data.source.answerer(prepared(answer_ki("?tree ex:note ?n ."), data.prefixes))
    with caplog.at_level(logging.DEBUG, SPARQL_LOGGER):
        assert await answer([{"n": INJECTED_LITERAL}]) == []
    (query,) = logged(caplog, "query")
    # The query parses as one SELECT with one triple and one VALUES row of one literal.
    algebra = prepareQuery(query).algebra
    assert algebra.name == "SelectQuery"
    assert query.count("VALUES") == 1
    values_row = query.split("VALUES (?n) {\n", 1)[1]
    assert values_row.count("\n") == 1  # one row, then the closing brace
    assert parse_term(values_row.strip().removesuffix("}").strip()[1:-1]) == parse_term(
        INJECTED_LITERAL
    )
    # Stored through a REACT, it comes back as it was; nothing else changed.
    react = data.source.reactor(prepared(react_ki("?tree ex:note ?n ."), data.prefixes))
    await react([{"tree": data.iri("oak"), "n": INJECTED_LITERAL}])
    after = await data.everything()
    assert after - before == {(data.iri("oak"), data.iri("note"), INJECTED_LITERAL)}
    assert await answer([{"n": INJECTED_LITERAL}]) == [
        {"tree": data.iri("oak"), "n": INJECTED_LITERAL}
    ]


async def test_react_refuses_incomplete_bindings_and_literal_subjects(data: Data) -> None:
    before = await data.everything()
    react = data.source.reactor(prepared(react_ki("?tree ex:height ?h ."), data.prefixes))
    with pytest.raises(BindingValidationError, match=r"leaves \?h unbound"):
        await react([{"tree": data.iri("oak"), "h": "1"}, {"tree": data.iri("ash")}])
    with pytest.raises(BindingValidationError, match=r"\?tree stands as a triple's subject"):
        await react([{"tree": '"oak"', "h": "1"}])
    assert await data.everything() == before
    assert await react([]) == []


@given(st.text())
def test_any_lexical_form_is_written_as_one_literal_that_reads_back_as_it_was(
    lexical: str,
) -> None:
    term = read_value('"' + escape(lexical) + '"')
    store = pyoxigraph.Store()
    store.update(f"INSERT DATA {{ <http://ex.org/s> <http://ex.org/p> {sparql_text(term)} }}")
    (quad,) = list(store)
    assert isinstance(quad.object, pyoxigraph.Literal)
    assert quad.object.value == lexical


VALUES_FROM_THE_NETWORK = st.one_of(
    st.text(),
    st.builds(lambda inner: f"<{inner}>", st.text()),
    st.builds(lambda lexical, suffix: f'"{lexical}"{suffix}', st.text(), st.text()),
    st.builds(lambda lexical, tail: f'"{lexical}"^^<{tail}', st.text(), st.text()),
)


@given(VALUES_FROM_THE_NETWORK)
def test_any_value_from_the_network_is_refused_or_written_as_one_term(text: str) -> None:
    try:
        term = read_value(text)
    except ValueError:
        return
    query = f"SELECT ?x WHERE {{ }} VALUES ?x {{ {sparql_text(term)} }}"
    solutions = pyoxigraph.Store().query(query)
    assert isinstance(solutions, pyoxigraph.QuerySolutions)
    (solution,) = list(solutions)
    assert solution["x"] is not None


# ---------------------------------------------------------------- the in-process store


async def test_the_store_names_the_file_and_line_of_a_syntax_error(tmp_path: Path) -> None:
    file = tmp_path / "broken.ttl"
    file.write_text('<http://a> <http://b> "fine" .\n<http://a> <http://b> "unclosed .\n')
    source = SparqlDataSource("trees", sparql(file=file))
    with pytest.raises(SourceError, match=r"broken\.ttl', line 2: .*") as failed:
        await source.open(pool_size=1)
    assert "'trees'" in str(failed.value)
    missing = SparqlDataSource("trees", sparql(file=tmp_path / "missing.nt"))
    with pytest.raises(SourceError, match=r"cannot read .*missing\.nt"):
        await missing.open(pool_size=1)


async def test_the_store_reads_a_relative_file_from_root_and_never_writes_it(
    tmp_path: Path,
) -> None:
    file = tmp_path / "trees.nt"
    triple = f'<http://ex.org/oak> <http://ex.org/height> "21"^^<{XSD}integer> .\n'
    file.write_text(triple)
    source = SparqlDataSource("trees", sparql(file=Path("trees.nt")), root=tmp_path)
    await source.open(pool_size=2)
    react = source.reactor(prepared(react_ki("?t <http://ex.org/height> ?h ."), {}))
    await react([{"t": "<http://ex.org/ash>", "h": "3"}])
    answer = source.answerer(prepared(answer_ki("?t <http://ex.org/height> ?h ."), {}))
    assert len(await answer([])) == 2
    await source.close()
    assert file.read_text() == triple
    with pytest.raises(SourceError, match="not open"):
        await answer([])


# ---------------------------------------------------------------- configuration refused at startup


@pytest.mark.parametrize(
    ("ki", "problem"),
    [
        (answer_ki("?t ex:h ?h .", query="ASK { ?t ex:h ?h }"), "it is an ASK query"),
        (answer_ki("?t ex:h ?h .", query="SELECT ?t WHERE { ?t ex:h ?h }"), r"does not select \?h"),
        (
            answer_ki("?t ex:h ?h .", query="SELECT * WHERE { ?t ex:h ?h ; ex:x ?x }"),
            r"selects \?x, which the graph pattern does not have",
        ),
        (answer_ki("?t ex:h ?h .", query="SELECT ?t ?h WHERE { ?t ex:h ?h "), "not a SPARQL 1.1"),
        (
            answer_ki("?t ex:h ?h .", query="SELECT * WHERE { ?t ex:h ?h } VALUES ?t { ex:a }"),
            "cannot take the VALUES clause",
        ),
        (answer_ki("?t ex:h ?h .", terms={"h": {"datatype": "xsd:int"}}), "'terms' are for SQL"),
        (react_ki("?t ex:h ?h .", update="INSERT { ?t ex:h ?h } WHERE { }"), "found none"),
        (
            react_ki("?t ex:h ?h .", update="INSERT { ?t ex:h ?h }\n# values\nWHERE { }"),
            "must stand inside a WHERE group",
        ),
        (
            react_ki("?t ex:h ?h .", update="INSERT { ?t ex:h ?h WHERE {\n# values\n}"),
            "not a SPARQL",
        ),
        (react_ki("?t ex:h ?h .", statements=["INSERT ..."]), "'statements' are for SQL"),
    ],
)
def test_unusable_interactions_fail_when_prepared(
    tmp_path: Path, ki: AnswerInteraction | ReactInteraction, problem: str
) -> None:
    source = SparqlDataSource("trees", sparql(file=tmp_path / "t.ttl"))
    serve = source.answerer if isinstance(ki, AnswerInteraction) else source.reactor
    with pytest.raises(MapperConfigError, match=problem) as refused:
        serve(prepared(ki, {"ex": "http://example.org/"}))
    assert "knowledge interaction" in str(refused.value)


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"file": "trees.rdf"}, "neither Turtle"),
        ({"file": "t.ttl", "username_env": "U", "password_env": "P"}, "apply to an 'endpoint'"),
        ({"file": "t.ttl", "update_endpoint": "http://x/update"}, "apply to an 'endpoint'"),
        ({"endpoint": "http://user:s3cr3t@127.0.0.1/q"}, "holds credentials"),
        ({"endpoint": "ftp://127.0.0.1/q"}, "not an http"),
        ({"endpoint": "http://127.0.0.1/q", "username_env": "U"}, "give both"),
    ],
)
def test_unusable_sources_fail_when_made(settings: dict[str, Any], problem: str) -> None:
    with pytest.raises(MapperConfigError, match=problem) as refused:
        SparqlDataSource("trees", sparql(**settings))
    assert "s3cr3t" not in str(refused.value)


# ---------------------------------------------------------------- over HTTP: a recording server

USER, PASSWORD, TOKEN = "reader", "pa55-w0rd-secret", "tok-7f3a9c-secret"
ASK_TRUE = json.dumps({"head": {}, "boolean": True})


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: str


@dataclass
class Behaviour:
    status: int = 200
    body: str | None = None  # None: an ASK result for ASK {}, else an empty SELECT result
    content_type: str = "application/sparql-results+json"
    delay: float = 0.0
    requests: list[Recorded] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(behaviour: Behaviour) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            with behaviour.lock:
                behaviour.requests.append(Recorded("POST", self.path, dict(self.headers), body))
                behaviour.in_flight += 1
                behaviour.most_in_flight = max(behaviour.most_in_flight, behaviour.in_flight)
            try:
                if behaviour.delay and body != "ASK {}":
                    time.sleep(behaviour.delay)
                answer = behaviour.body
                if answer is None:
                    answer = ASK_TRUE if body == "ASK {}" else _select_result()
                status = behaviour.status if body != "ASK {}" or behaviour.body else 200
                data = answer.encode()
                self.send_response(status)
                self.send_header("Content-Type", behaviour.content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout under test)
            finally:
                with behaviour.lock:
                    behaviour.in_flight -= 1

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _select_result() -> str:
    oak = {"type": "uri", "value": "http://example.org/oak"}
    height = {"type": "literal", "value": "21.5", "datatype": XSD + "decimal"}
    return json.dumps(
        {"head": {"vars": ["t", "h"]}, "results": {"bindings": [{"t": oak, "h": height}]}}
    )


@pytest.fixture
def server() -> Iterator[tuple[str, Behaviour]]:
    behaviour = Behaviour()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(behaviour))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", behaviour
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("KM_TEST_SPARQL_USER", USER)
    monkeypatch.setenv("KM_TEST_SPARQL_PASSWORD", PASSWORD)
    monkeypatch.setenv("KM_TEST_SPARQL_TOKEN", f"Bearer {TOKEN}")
    return {
        "username_env": "KM_TEST_SPARQL_USER",
        "password_env": "KM_TEST_SPARQL_PASSWORD",
        "headers_env": {"X-Api-Token": "KM_TEST_SPARQL_TOKEN"},
    }


def assert_no_secret(text: str) -> None:
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    for secret in (PASSWORD, TOKEN, basic):
        assert secret not in text


HEIGHTS = "?t <http://example.org/height> ?h ."


async def test_credentials_and_headers_are_sent_and_one_request_serves_each_call(
    server: tuple[str, Behaviour], credentials: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    url, behaviour = server
    config = sparql(endpoint=f"{url}/query", update_endpoint=f"{url}/update", **credentials)
    source = SparqlDataSource("remote", config)
    with caplog.at_level(logging.DEBUG):
        await source.open(pool_size=2)
        answer = source.answerer(prepared(answer_ki(HEIGHTS), {}))
        react = source.reactor(prepared(react_ki(HEIGHTS), {}))
        found = await answer([{"t": "<http://example.org/oak>"}, {"t": "<http://example.org/elm>"}])
        await react([{"t": "<http://example.org/ash>", "h": "3"}, {"t": "<http://x/y>", "h": "4"}])
        await source.close()
    assert found == [{"t": "<http://example.org/oak>", "h": f'"21.5"^^<{XSD}decimal>'}]
    check, query, update = behaviour.requests  # one request each, after the check
    expected_auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    for request in behaviour.requests:
        assert request.headers["Authorization"] == expected_auth
        assert request.headers["X-Api-Token"] == f"Bearer {TOKEN}"
    assert (check.path, check.body) == ("/query", "ASK {}")
    assert query.path == "/query"
    assert query.headers["Content-Type"] == "application/sparql-query"
    assert query.headers["Accept"] == "application/sparql-results+json"
    assert "VALUES (?t)" in query.body
    assert update.path == "/update"
    assert update.headers["Content-Type"] == "application/sparql-update"
    assert update.body.startswith("INSERT DATA {")
    assert_no_secret(caplog.text)
    assert_no_secret(repr(source))


async def test_an_error_status_is_a_source_error_with_a_body_excerpt_and_no_secret(
    server: tuple[str, Behaviour], credentials: dict[str, Any]
) -> None:
    url, behaviour = server
    source = SparqlDataSource("remote", sparql(endpoint=f"{url}/sparql", **credentials))
    await source.open(pool_size=1)
    answer = source.answerer(prepared(answer_ki(HEIGHTS), {}))
    # A server that echoes the request's headers in its error page.
    behaviour.status, behaviour.content_type = 500, "text/plain"
    behaviour.body = f"Lexical error at line 3.\n\n  Authorization: Basic ...{PASSWORD}... {TOKEN}"
    with pytest.raises(SourceError) as failed:
        await answer([])
    message = str(failed.value)
    assert "'remote'" in message
    assert f"{url}/sparql answered a query with HTTP 500" in message
    assert "Lexical error at line 3." in message
    assert_no_secret(message)
    behaviour.status, behaviour.body = 401, "Unauthorized"
    with pytest.raises(SourceError, match="HTTP 401") as failed:
        await answer([])
    assert "'KM_TEST_SPARQL_PASSWORD'" in str(failed.value)
    assert_no_secret(str(failed.value))
    behaviour.status, behaviour.body = 200, "<html>not json</html>"
    with pytest.raises(SourceError, match="other than SPARQL JSON results"):
        await answer([])
    behaviour.body = json.dumps({"head": {}, "boolean": True})
    with pytest.raises(SourceError, match="unreadable results"):
        await answer([])
    await source.close()


async def test_a_refused_binding_sends_no_request(server: tuple[str, Behaviour]) -> None:
    url, behaviour = server
    source = SparqlDataSource("remote", sparql(endpoint=url))
    await source.open(pool_size=1)
    answer = source.answerer(prepared(answer_ki(HEIGHTS), {}))
    react = source.reactor(prepared(react_ki(HEIGHTS), {}))
    with pytest.raises(BindingValidationError):
        await answer([{"t": INJECTED_IRI}])
    with pytest.raises(BindingValidationError):
        await react([{"t": "<http://example.org/oak>", "h": "1", "x": "2"}])
    await source.close()
    assert [request.body for request in behaviour.requests] == ["ASK {}"]


async def test_an_endpoint_that_fails_its_check_fails_open(
    server: tuple[str, Behaviour], credentials: dict[str, Any]
) -> None:
    url, behaviour = server
    behaviour.status, behaviour.body, behaviour.content_type = 404, "No such dataset", "text/plain"
    source = SparqlDataSource("remote", sparql(endpoint=f"{url}/nope", **credentials))
    with pytest.raises(SourceError, match=r"answered the check ASK \{\} with HTTP 404") as failed:
        await source.open(pool_size=1)
    assert "No such dataset" in str(failed.value)


async def test_an_unreachable_endpoint_fails_open_with_a_clear_error(
    credentials: dict[str, Any],
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    source = SparqlDataSource(
        "remote", sparql(endpoint=f"http://127.0.0.1:{port}/q?key=abc", **credentials)
    )
    with pytest.raises(
        SourceError,
        match=f"could not send the check ASK {{}} to http://127.0.0.1:{port}/q: ConnectError",
    ) as failed:
        await source.open(pool_size=1)
    assert "key=abc" not in str(failed.value)
    assert_no_secret(str(failed.value))


async def test_a_slow_endpoint_times_out(server: tuple[str, Behaviour]) -> None:
    url, behaviour = server
    source = SparqlDataSource("remote", sparql(endpoint=url, timeout=0.2))
    await source.open(pool_size=1)
    behaviour.delay = 1
    with pytest.raises(SourceError, match=r"did not answer a query within 0\.2 s"):
        await source.answerer(prepared(answer_ki(HEIGHTS), {}))([])
    await source.close()


async def test_a_credential_variable_that_is_not_set_fails_open(
    server: tuple[str, Behaviour], credentials: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KM_TEST_SPARQL_TOKEN")
    source = SparqlDataSource("remote", sparql(endpoint=server[0], **credentials))
    with pytest.raises(MapperConfigError, match="'KM_TEST_SPARQL_TOKEN', which is not set"):
        await source.open(pool_size=1)
    assert server[1].requests == []


async def test_the_connection_pool_holds_pool_size_connections(
    server: tuple[str, Behaviour],
) -> None:
    url, behaviour = server
    source = SparqlDataSource("remote", sparql(endpoint=url))
    await source.open(pool_size=2)
    behaviour.delay = 0.2
    answer = source.answerer(prepared(answer_ki(HEIGHTS), {}))
    results = await asyncio.gather(*(answer([]) for _ in range(6)))
    await source.close()
    assert all(len(found) == 1 for found in results)
    assert len(behaviour.requests) == 7
    assert behaviour.most_in_flight == 2


# ---------------------------------------------------------------- a Fuseki dataset's own URL

needs_fuseki = pytest.mark.skipif(not FUSEKI_URL, reason="KM_TEST_FUSEKI_URL is not set")


@needs_fuseki
async def test_fuseki_takes_queries_and_updates_at_the_dataset_url() -> None:
    ns = f"http://example.org/{uuid.uuid4().hex}/"
    source = SparqlDataSource("fuseki", sparql(endpoint=FUSEKI_URL))
    await source.open(pool_size=1)
    pattern = f"?t <{ns}height> ?h ."
    await source.reactor(prepared(react_ki(pattern), {}))([{"t": f"<{ns}oak>", "h": "21"}])
    found = await source.answerer(prepared(answer_ki(pattern), {}))([])
    await source.close()
    assert found == [{"t": f"<{ns}oak>", "h": f'"21"^^<{XSD}integer>'}]


@needs_fuseki
async def test_fuseki_reports_a_failed_update_with_its_message() -> None:
    source = SparqlDataSource(
        "fuseki", sparql(endpoint=f"{FUSEKI_URL}/query", update_endpoint=f"{FUSEKI_URL}/query")
    )
    await source.open(pool_size=1)
    react = source.reactor(prepared(react_ki("?t <http://example.org/h> ?h ."), {}))
    with pytest.raises(SourceError, match=r"/query answered an update with HTTP 4\d\d"):
        await react([{"t": "<http://example.org/oak>", "h": "1"}])
    await source.close()
