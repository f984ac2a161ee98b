"""The SQL source against SQLite always, and PostgreSQL and MariaDB when their URLs are given.

``KM_TEST_POSTGRES_URL`` (``postgresql+asyncpg://km:km@127.0.0.1:55432/km``) and
``KM_TEST_MARIADB_URL`` (``mysql+aiomysql://km:km@127.0.0.1:33306/km``) name the servers;
without them those runs are skipped. Every test makes its own table, named uniquely, and
drops it afterwards.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import threading
import traceback
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from km_core import BindingSet
from km_core.patterns import parse_graph_pattern
from km_core.terms import XSD
from km_mapper import MapperConfigError, SourceError
from km_mapper._config import AnswerInteraction, ReactInteraction, SqlSource, TermMapping
from km_mapper._sources import Prepared
from km_mapper._sources._sql import SqlDatabase

EX = {"ex": "http://example.org/"}
TREE = "http://example.org/trees/{id}"
PASSWORD_ENV = "KM_TEST_SQL_PASSWORD"
SERVERS = {
    "postgresql": ("KM_TEST_POSTGRES_URL", "postgresql+asyncpg://km:km@127.0.0.1:55432/km"),
    "mariadb": ("KM_TEST_MARIADB_URL", "mysql+aiomysql://km:km@127.0.0.1:33306/km"),
}
# Column types per database: SQLite keeps dates as ISO text and booleans as 0 and 1.
COLUMNS = {
    "sqlite": {"date": "DATE", "datetime": "TIMESTAMP", "bool": "BOOLEAN"},
    "postgresql": {"date": "DATE", "datetime": "TIMESTAMP", "bool": "BOOLEAN"},
    "mariadb": {"date": "DATE", "datetime": "DATETIME", "bool": "BOOLEAN"},
}
TERMS = {
    "tree": TermMapping(iri=TREE),
    "height": TermMapping(datatype=XSD + "decimal"),
    "planted": TermMapping(datatype=XSD + "date"),
    "measured": TermMapping(datatype=XSD + "dateTime"),
    "healthy": TermMapping(datatype=XSD + "boolean"),
    "name": TermMapping(language="nl"),
}
PATTERN = """
    ?tree ex:height ?height ; ex:planted ?planted ; ex:measured ?measured ;
          ex:healthy ?healthy ; ex:name ?name ; ex:rings ?rings .
"""
ROWS = [
    # id, name, height, planted, measured, healthy, rings
    (1, "Eik", Decimal("12.25"), dt.date(1990, 4, 1), dt.datetime(2024, 5, 1, 12, 30), True, 34),
    (
        2,
        "Beuk",
        Decimal("8.75"),
        dt.date(2001, 10, 15),
        dt.datetime(2024, 5, 2, 9, 0, 5),
        False,
        23,
    ),
    (3, "Lin'de", Decimal("20.05"), None, dt.datetime(2024, 5, 3, 0, 0), True, None),
]


def integer(value: int) -> str:
    return f'"{value}"^^<{XSD}integer>'


def decimal(value: str) -> str:
    return f'"{value}"^^<{XSD}decimal>'


def tree(number: int | str) -> str:
    return f"<http://example.org/trees/{number}>"


EXPECTED = [
    {
        "tree": tree(1),
        "height": decimal("12.25"),
        "planted": f'"1990-04-01"^^<{XSD}date>',
        "measured": f'"2024-05-01T12:30:00"^^<{XSD}dateTime>',
        "healthy": f'"true"^^<{XSD}boolean>',
        "name": '"Eik"@nl',
        "rings": integer(34),
    },
    {
        "tree": tree(2),
        "height": decimal("8.75"),
        "planted": f'"2001-10-15"^^<{XSD}date>',
        "measured": f'"2024-05-02T09:00:05"^^<{XSD}dateTime>',
        "healthy": f'"false"^^<{XSD}boolean>',
        "name": '"Beuk"@nl',
        "rings": integer(23),
    },
    {  # NULLs are left out
        "tree": tree(3),
        "height": decimal("20.05"),
        "measured": f'"2024-05-03T00:00:00"^^<{XSD}dateTime>',
        "healthy": f'"true"^^<{XSD}boolean>',
        "name": """"Lin'de"@nl""",
    },
]


# ---------------------------------------------------------------- the databases


@dataclass
class Database:
    """One database to test against, and an engine of the test's own to look into it."""

    kind: str
    url: str  # without the password: that is in PASSWORD_ENV
    admin: AsyncEngine
    table: str = field(default_factory=lambda: f"trees_{uuid.uuid4().hex[:10]}")
    statements: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def columns(self) -> dict[str, str]:
        return COLUMNS[self.kind]

    def source(self, **options: Any) -> SqlDatabase:
        config = SqlSource(
            type="sql",
            url=self.url,
            password_env=PASSWORD_ENV if self.kind != "sqlite" else None,
            options=options,
        )
        return SqlDatabase("trees-db", config)

    def watch(self, source: SqlDatabase) -> list[tuple[str, Any]]:
        """Record every statement (and its parameters) the source's engine sends."""

        def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
            self.statements.append((statement, parameters))

        event.listen(source.engine.sync_engine, "before_cursor_execute", record)
        return self.statements

    async def sql(self, statement: str, parameters: Any = None) -> list[Any]:
        async with self.admin.begin() as connection:
            result = await connection.execute(text(statement), parameters)
            return list(result.fetchall()) if result.returns_rows else []

    async def exists(self) -> bool:
        async with self.admin.connect() as connection:
            return bool(
                await connection.run_sync(lambda sync: sync.dialect.has_table(sync, self.table))
            )

    def value(self, value: object) -> object:
        """A value as the test stores it: SQLite gets dates as ISO text."""
        if self.kind == "sqlite" and isinstance(value, dt.date | dt.datetime):
            return value.isoformat()
        if self.kind == "sqlite" and isinstance(value, Decimal):
            return float(value)
        return value


def _server_url(kind: str) -> URL:
    setting, example = SERVERS[kind]
    url = os.environ.get(setting)
    if not url:
        pytest.skip(f"no {kind} server: set {setting} to its SQLAlchemy URL, e.g. {example}")
    return make_url(url)


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
async def database(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Database]:
    kind: str = request.param
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'trees.db'}"
        admin = create_async_engine(url)
    else:
        full = _server_url(kind)
        admin = create_async_engine(full)
        url = full._replace(password=None).render_as_string(hide_password=False)
        monkeypatch.setenv(PASSWORD_ENV, full.password or "")
    database = Database(kind, url, admin)
    try:
        yield database
    finally:
        await database.sql(f"DROP TABLE IF EXISTS {database.table}")
        await admin.dispose()


@pytest.fixture
async def trees(database: Database) -> Database:
    """The database with a table of three trees."""
    c = database.columns
    await database.sql(
        f"CREATE TABLE {database.table} (id INTEGER PRIMARY KEY, name VARCHAR(100), "
        f"height NUMERIC(6, 2), planted {c['date']}, measured {c['datetime']}, "
        f"healthy {c['bool']}, rings INTEGER)"
    )
    await database.sql(
        f"INSERT INTO {database.table} VALUES (:id, :name, :height, :planted, :measured, "
        ":healthy, :rings)",
        [
            dict(
                zip(
                    ("id", "name", "height", "planted", "measured", "healthy", "rings"),
                    (database.value(value) for value in row),
                    strict=True,
                )
            )
            for row in ROWS
        ],
    )
    return database


@pytest.fixture
async def source(trees: Database) -> AsyncIterator[SqlDatabase]:
    source = trees.source()
    yield source
    await source.close()


def answer(table: str, **changes: Any) -> Prepared:
    config = AnswerInteraction(
        type="answer",
        name="trees",
        graph_pattern=PATTERN,
        query=(
            "SELECT id AS tree, height, planted, measured, healthy, name, rings, "
            f"'extra' AS ignored FROM {table}"
        ),
        terms=TERMS,
    )
    return prepared(config.model_copy(update=changes))


def prepared(config: AnswerInteraction | ReactInteraction) -> Prepared:
    if isinstance(config, AnswerInteraction):
        pattern, result = parse_graph_pattern(config.graph_pattern, EX), None
    else:
        pattern = parse_graph_pattern(config.argument_graph_pattern, EX)
        result = (
            parse_graph_pattern(config.result_graph_pattern, EX)
            if config.result_graph_pattern
            else None
        )
    return Prepared(
        config=config,
        prefixes=EX,
        pattern=pattern,
        result_pattern=result,
        variables=sorted(pattern.variables),
        result_variables=sorted(result.variables) if result else [],
        terms=config.terms,
    )


def react(table: str, statements: list[str], **changes: Any) -> Prepared:
    config = ReactInteraction(
        type="react",
        name="plant",
        argument_graph_pattern="?tree ex:height ?height ; ex:name ?name .",
        statements=statements,
        terms={"tree": TermMapping(iri=TREE), "height": TermMapping(datatype=XSD + "decimal")},
    )
    return prepared(config.model_copy(update=changes))


def by_tree(bindings: BindingSet) -> BindingSet:
    return sorted(bindings, key=lambda binding: binding.get("tree", ""))


# ---------------------------------------------------------------- ANSWER


async def test_answer_without_bindings_gives_every_row(
    source: SqlDatabase, trees: Database
) -> None:
    serve = source.answerer(answer(trees.table))
    await source.open(pool_size=2)
    assert by_tree(await serve([])) == EXPECTED
    assert by_tree(await serve([{}])) == EXPECTED  # an empty binding asks for nothing


async def test_answer_filters_by_iri(source: SqlDatabase, trees: Database) -> None:
    serve = source.answerer(answer(trees.table))
    await source.open(pool_size=2)
    assert await serve([{"tree": tree(2)}]) == [EXPECTED[1]]
    assert by_tree(await serve([{"tree": tree(3)}, {"tree": tree(1)}])) == [
        EXPECTED[0],
        EXPECTED[2],
    ]
    assert await serve([{"tree": tree(99)}]) == []
    assert await serve([{"tree": "<http://example.org/other/1>"}]) == []


async def test_typed_values_round_trip(source: SqlDatabase, trees: Database) -> None:
    serve = source.answerer(answer(trees.table))
    await source.open(pool_size=2)
    for expected in EXPECTED:  # every variable as it was written, read back as a filter
        assert await serve([expected]) == [expected]
        for variable, term in expected.items():
            matching = [row for row in EXPECTED if row.get(variable) == term]
            assert by_tree(await serve([{variable: term}])) == matching, variable


async def test_answer_compares_values_not_spellings(source: SqlDatabase, trees: Database) -> None:
    serve = source.answerer(answer(trees.table))
    await source.open(pool_size=2)
    assert await serve([{"height": decimal("12.250")}]) == [EXPECTED[0]]
    assert await serve([{"height": f'"8.75e0"^^<{XSD}double>'}]) == [EXPECTED[1]]
    assert await serve([{"rings": decimal("34.0")}]) == [EXPECTED[0]]
    assert await serve([{"name": '"Eik"@NL'}]) == [EXPECTED[0]]


@pytest.mark.parametrize(
    "binding",
    [
        {"height": '"tall"'},  # text where a decimal is
        {"rings": decimal("34.5")},  # no integer
        {"name": '"Eik"@en'},  # another language
        {"name": '"Eik"'},  # no language
        {"planted": f'"1990-04-01T00:00:00"^^<{XSD}dateTime>'},  # a dateTime, not a date
        {"healthy": integer(1)},  # an integer, not a boolean
        {"tree": '"1"'},  # a literal, not an IRI
    ],
)
async def test_a_value_of_another_kind_matches_nothing(
    source: SqlDatabase, trees: Database, binding: dict[str, str]
) -> None:
    serve = source.answerer(answer(trees.table))
    await source.open(pool_size=2)
    statements = trees.watch(source)
    assert await serve([binding]) == []
    if trees.kind != "sqlite":  # SQLite says no column's type: it compares, and finds none
        assert statements == []  # nothing can match: nothing is asked
    assert await serve([binding, {"tree": tree(2)}]) == [EXPECTED[1]]


async def test_a_naive_datetime_matches_only_naive_columns(
    source: SqlDatabase, trees: Database
) -> None:
    serve = source.answerer(answer(trees.table))
    await source.open(pool_size=2)
    aware = f'"2024-05-01T12:30:00Z"^^<{XSD}dateTime>'
    assert await serve([{"measured": aware}]) == []


async def test_variables_find_their_columns_in_any_case(
    source: SqlDatabase, trees: Database
) -> None:
    serve = source.answerer(  # PostgreSQL names the column treeid
        answer(
            trees.table,
            graph_pattern="?treeId ex:rings ?rings .",
            query=f"SELECT id AS treeId, rings FROM {trees.table}",
            terms={"treeId": TermMapping(iri=TREE)},
        )
    )
    await source.open(pool_size=1)
    assert await serve([{"treeId": tree(2)}]) == [{"treeId": tree(2), "rings": integer(23)}]


async def test_aware_datetimes_round_trip_through_a_column_with_time_zones(
    source: SqlDatabase, trees: Database
) -> None:
    if trees.kind != "postgresql":
        pytest.skip("only PostgreSQL keeps time zones (timestamp with time zone)")
    await trees.sql(f"ALTER TABLE {trees.table} ADD COLUMN seen TIMESTAMP WITH TIME ZONE")
    await trees.sql(f"UPDATE {trees.table} SET seen = '2024-05-01T12:30:00+02:00' WHERE id = 1")
    serve = source.answerer(
        answer(
            trees.table,
            graph_pattern="?tree ex:seen ?seen .",
            query=f"SELECT id AS tree, seen FROM {trees.table}",
            terms={"tree": TermMapping(iri=TREE)},
        )
    )
    await source.open(pool_size=1)
    seen = f'"2024-05-01T10:30:00Z"^^<{XSD}dateTime>'
    assert await serve([{"seen": seen}]) == [{"tree": tree(1), "seen": seen}]
    same = f'"2024-05-01T12:30:00+02:00"^^<{XSD}dateTime>'
    assert await serve([{"seen": same}]) == [{"tree": tree(1), "seen": seen}]
    assert await serve([{"seen": f'"2024-05-01T10:30:00"^^<{XSD}dateTime>'}]) == []  # naive


async def test_one_statement_for_a_hundred_bindings(source: SqlDatabase, trees: Database) -> None:
    serve = source.answerer(answer(trees.table))
    await source.open(pool_size=2)
    statements = trees.watch(source)
    bindings = [{"tree": tree(n), "rings": integer(34)} for n in range(100)]
    assert await serve(bindings) == [EXPECTED[0]]
    assert len(statements) == 1
    sql, parameters = statements[0]
    assert " OR " in sql
    assert len(parameters) == 200  # every value bound, none written into the SQL


async def test_a_query_may_end_in_a_comment_and_a_semicolon(
    source: SqlDatabase, trees: Database
) -> None:
    query = answer(trees.table).config.query
    serve = source.answerer(answer(trees.table, query=f"{query} -- all trees;\n;"))
    await source.open(pool_size=1)
    assert await serve([{"tree": tree(2)}]) == [EXPECTED[1]]
    assert by_tree(await serve([])) == EXPECTED


async def test_the_query_is_probed_at_first_use_when_declared_after_open(
    source: SqlDatabase, trees: Database
) -> None:
    await source.open(pool_size=2)
    serve = source.answerer(answer(trees.table))
    statements = trees.watch(source)
    assert await serve([{"tree": tree(1)}]) == [EXPECTED[0]]
    assert len(statements) == 2  # the probe, once, then the query
    assert await serve([{"tree": tree(2)}]) == [EXPECTED[1]]
    assert len(statements) == 3


# ---------------------------------------------------------------- injection


KEYS = [
    "tree = 1 OR 1=1; --",
    'height"; DROP TABLE trees; --',
    "height` = 1; DROP TABLE trees; --",
    "1=1) OR (1",
]


@pytest.mark.parametrize("key", KEYS)
async def test_a_binding_key_that_is_not_a_variable_is_refused(
    source: SqlDatabase, trees: Database, key: str
) -> None:
    serve = source.answerer(answer(trees.table))
    await source.open(pool_size=2)
    statements = trees.watch(source)
    for binding_set in ([{key: integer(1)}], [{}, {"tree": tree(1), key: integer(1)}]):
        with pytest.raises(SourceError, match="not a variable of the graph pattern"):
            await serve(binding_set)
    assert statements == []
    assert await trees.exists()


VALUES = [
    '"x\'); DROP TABLE trees; --"',
    "\"1' OR '1'='1\"@nl",
    '"1 OR 1=1"^^<http://www.w3.org/2001/XMLSchema#decimal>',
    "<http://example.org/trees/1%27%29%3B%20DROP%20TABLE%20trees%3B%20--%20>",
    "<http://example.org/trees/1%20OR%201%3D1>",
]


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("variable", ["tree", "name", "height"])
async def test_a_value_cannot_change_the_statement(
    source: SqlDatabase, trees: Database, value: str, variable: str
) -> None:
    serve = source.answerer(answer(trees.table))
    await source.open(pool_size=2)
    statements = trees.watch(source)
    assert await serve([{variable: value}]) == []
    assert await serve([{variable: value}, {"tree": tree(1)}]) == [EXPECTED[0]]
    for sql, _ in statements:
        for fragment in ("DROP", "1=1", "OR 1", "'1'", "x'"):
            assert fragment not in sql
    assert await trees.exists()
    assert len(await trees.sql(f"SELECT id FROM {trees.table}")) == 3


# ---------------------------------------------------------------- REACT


def plant(table: str, *more: str, **changes: Any) -> Prepared:
    return react(
        table,
        [f"INSERT INTO {table} (id, height, name) VALUES (:tree, :height, :name)", *more],
        **changes,
    )


def planting(number: int, height: str = "1.50", name: str = '"Jonge eik"') -> dict[str, str]:
    return {"tree": tree(number), "height": decimal(height), "name": name}


async def test_react_inserts_every_binding_in_one_transaction(
    source: SqlDatabase, trees: Database
) -> None:
    count = f"UPDATE {trees.table} SET rings = :tree WHERE id = :tree"  # one parameter, twice
    serve = source.reactor(plant(trees.table, count))
    await source.open(pool_size=2)
    statements = trees.watch(source)
    bindings = [planting(10), planting(11, "2.25", '"Es"'), planting(12, "0.5", '"O\'Brien"')]
    assert await serve(bindings) == []
    assert [len(rows) for _, rows in statements] == [3, 3]  # two executemany, of three rows
    rows = await trees.sql(
        f"SELECT id, height, name, rings FROM {trees.table} WHERE id >= 10 ORDER BY id"
    )
    assert [(id_, Decimal(str(height)), name, rings) for id_, height, name, rings in rows] == [
        (10, Decimal("1.5"), "Jonge eik", 10),
        (11, Decimal("2.25"), "Es", 11),
        (12, Decimal("0.5"), "O'Brien", 12),
    ]


async def test_a_failing_statement_rolls_the_whole_request_back(
    source: SqlDatabase, trees: Database
) -> None:
    serve = source.reactor(plant(trees.table))
    await source.open(pool_size=2)
    with pytest.raises(SourceError, match=r"'plant': the statement 1 failed"):
        await serve([planting(20), planting(21), planting(1)])  # tree 1 exists already
    assert await trees.sql(f"SELECT id FROM {trees.table} WHERE id >= 20") == []


async def test_a_failing_second_statement_undoes_the_first(
    source: SqlDatabase, trees: Database
) -> None:
    again = f"INSERT INTO {trees.table} (id) VALUES (:tree)"  # the same tree: refused
    serve = source.reactor(plant(trees.table, again))
    await source.open(pool_size=2)
    with pytest.raises(SourceError, match="the statement 2 failed"):
        await serve([planting(30)])
    assert await trees.sql(f"SELECT id FROM {trees.table} WHERE id = 30") == []


async def test_a_statement_the_database_refuses_fails_at_open_or_first_use(
    source: SqlDatabase, trees: Database
) -> None:
    missing = plant(trees.table, f"UPDATE {trees.table}_missing SET height = :height")
    source.reactor(missing)
    if trees.kind == "postgresql":  # PostgreSQL prepares it, for its parameters' types
        with pytest.raises(SourceError, match=r"'plant': statement 2 is refused by the database"):
            await source.open(pool_size=1)
        return
    await source.open(pool_size=1)
    serve = source.reactor(missing)
    with pytest.raises(SourceError, match=r"'plant': the statement 2 failed"):
        await serve([planting(32)])
    assert await trees.sql(f"SELECT id FROM {trees.table} WHERE id = 32") == []


async def test_react_refuses_a_value_that_does_not_fit_and_changes_nothing(
    source: SqlDatabase, trees: Database
) -> None:
    serve = source.reactor(plant(trees.table))
    await source.open(pool_size=2)
    with pytest.raises(SourceError, match=r"binding 2, \?tree: .*does not fit the template"):
        await serve([planting(40), {**planting(41), "tree": "<http://example.org/other/41>"}])
    with pytest.raises(SourceError, match="not a variable"):
        await serve([{**planting(42), "id); DROP TABLE x; --": integer(1)}])
    assert await trees.sql(f"SELECT id FROM {trees.table} WHERE id >= 40") == []
    assert await trees.exists()


async def test_react_binds_null_for_a_missing_variable(
    source: SqlDatabase, trees: Database
) -> None:
    serve = source.reactor(plant(trees.table))
    await source.open(pool_size=2)
    await serve([{"tree": tree(50), "height": decimal("3")}])
    assert await trees.sql(f"SELECT name FROM {trees.table} WHERE id = 50") == [(None,)]


async def test_react_with_a_result_pattern_returns_the_rows_of_its_statements(
    source: SqlDatabase, trees: Database
) -> None:
    serve = source.reactor(
        plant(
            trees.table,
            f"SELECT id AS planted, height AS size FROM {trees.table} WHERE id = :tree",
            result_graph_pattern="?planted ex:size ?size .",
            terms={
                "tree": TermMapping(iri=TREE),
                "planted": TermMapping(iri=TREE),
                "height": TermMapping(datatype=XSD + "decimal"),
                "size": TermMapping(datatype=XSD + "decimal"),
            },
        )
    )
    await source.open(pool_size=2)
    result = await serve([planting(60, "1.25"), planting(61, "2.5")])
    assert sorted(result, key=str) == [
        {"planted": tree(60), "size": decimal("1.25")},
        {"planted": tree(61), "size": decimal("2.5" if trees.kind == "sqlite" else "2.50")},
    ]


# ---------------------------------------------------------------- configuration


def test_an_answer_needs_a_query(tmp_path: Path) -> None:
    source = SqlDatabase("db", SqlSource(type="sql", url=f"sqlite+aiosqlite:///{tmp_path}/x.db"))
    with pytest.raises(MapperConfigError, match=r"query: knowledge interaction 'trees'.*'query'"):
        source.answerer(answer("t", query=None))
    with pytest.raises(MapperConfigError, match=r":height, but an ANSWER's query takes none"):
        source.answerer(answer("t", query="SELECT id AS tree FROM t WHERE height > :height"))
    source.answerer(answer("t", query="SELECT id AS tree FROM t WHERE note = 'a\\:b';"))


def test_react_statements_may_use_only_argument_variables(tmp_path: Path) -> None:
    source = SqlDatabase("db", SqlSource(type="sql", url=f"sqlite+aiosqlite:///{tmp_path}/x.db"))
    with pytest.raises(MapperConfigError, match=r"statements\[1\]: .*statement 2 .*:heigth"):
        source.reactor(react("t", ["DELETE FROM t", "INSERT INTO t VALUES (:tree, :heigth)"]))
    with pytest.raises(MapperConfigError, match="needs 'statements'"):
        source.reactor(react("t", []))
    with pytest.raises(MapperConfigError, match="'update' is for SPARQL sources"):
        source.reactor(react("t", ["DELETE FROM t"], update="DELETE WHERE {?s ?p ?o}"))
    with pytest.raises(MapperConfigError, match=r"terms.*\['rings'\]"):
        source.reactor(react("t", ["DELETE FROM t"], terms={"rings": TermMapping()}))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "not an SQLAlchemy URL"),
        ("postgresql://km@127.0.0.1/km", "does not name an async driver"),
        ("nosuch+driver://km@127.0.0.1/km", "does not name an async driver"),
        ("postgresql+asyncpg://km:hunter2@127.0.0.1/km", "holds a password"),
    ],
)
def test_a_url_that_cannot_be_used_is_refused_without_its_password(url: str, message: str) -> None:
    with pytest.raises(MapperConfigError, match=message) as caught:
        SqlDatabase("db", SqlSource(type="sql", url=url))
    assert "hunter2" not in str(caught.value)


# ---------------------------------------------------------------- connections


async def test_the_pool_holds_as_many_connections_as_handlers(
    source: SqlDatabase, trees: Database
) -> None:
    serve = source.answerer(answer(trees.table))
    await source.open(pool_size=3)
    pool: Any = source.engine.pool
    assert pool.size() == 3
    most = 0

    def checked_out(*args: Any) -> None:
        nonlocal most
        most = max(most, pool.checkedout())

    event.listen(source.engine.sync_engine, "checkout", checked_out)
    results = await asyncio.gather(*(serve([{"tree": tree(n % 3 + 1)}]) for n in range(12)))
    assert [result[0]["tree"] for result in results] == [tree(n % 3 + 1) for n in range(12)]
    assert 1 <= most <= 3


async def test_a_connection_the_server_dropped_is_replaced(
    source: SqlDatabase, trees: Database
) -> None:
    if trees.kind == "sqlite":
        pytest.skip("SQLite has no server to drop a connection")
    serve = source.answerer(answer(trees.table))
    await source.open(pool_size=1)
    whoami = "SELECT pg_backend_pid()" if trees.kind == "postgresql" else "SELECT CONNECTION_ID()"
    async with source.engine.connect() as connection:
        (pid,) = (await connection.execute(text(whoami))).one()
    kill = f"SELECT pg_terminate_backend({pid})" if trees.kind == "postgresql" else f"KILL {pid}"
    await trees.sql(kill)
    assert await serve([{"tree": tree(1)}]) == [EXPECTED[0]]  # pre-ping found it dead


async def test_a_wrong_password_is_a_source_error_without_the_password(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    if database.kind == "sqlite":
        pytest.skip("SQLite has no passwords")
    monkeypatch.setenv(PASSWORD_ENV, "Wr0ng-Secret!")
    source = database.source()
    with pytest.raises(SourceError, match="'trees-db' cannot connect to") as caught:
        await source.open(pool_size=1)
    assert "Wr0ng-Secret!" not in str(caught.value)
    assert "Wr0ng-Secret!" not in repr(source)
    assert "Wr0ng-Secret!" not in "".join(traceback.format_exception(caught.value))


async def test_an_unreachable_server_is_a_source_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "s3cret-Pass")
    source = SqlDatabase(
        "far",
        SqlSource(
            type="sql", url="postgresql+asyncpg://km@127.0.0.1:1/km", password_env=PASSWORD_ENV
        ),
    )
    with pytest.raises(
        SourceError,
        match=r"'far' cannot connect to postgresql\+asyncpg://km@127.0.0.1:1/km: .*Connect",
    ) as caught:
        await source.open(pool_size=1)
    assert "s3cret-Pass" not in str(caught.value)
    assert "s3cret-Pass" not in repr(source)
    with pytest.raises(SourceError, match="not open"):
        source.engine  # noqa: B018
    missing = SqlDatabase(
        "nowhere", SqlSource(type="sql", url=f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/x.db")
    )
    with pytest.raises(SourceError, match="'nowhere' cannot connect"):
        await missing.open(pool_size=1)
    await _aiosqlite_workers_stopped()


async def _aiosqlite_workers_stopped() -> None:
    """Wait for aiosqlite's worker threads to end, as a failed connect does not.

    aiosqlite stops the thread of a connection that failed without waiting for it; should the
    test's event loop close first, the thread fails to hand back its last result.
    """
    workers = [t for t in threading.enumerate() if "_connection_worker_thread" in t.name]
    await asyncio.to_thread(lambda: [worker.join(5) for worker in workers])
    await asyncio.sleep(0)


async def test_a_password_variable_that_is_not_set_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    source = SqlDatabase(
        "db",
        SqlSource(
            type="sql", url="postgresql+asyncpg://km@127.0.0.1:1/km", password_env=PASSWORD_ENV
        ),
    )
    with pytest.raises(SourceError, match=f"'{PASSWORD_ENV}' \\(password_env\\) is not set"):
        await source.open(pool_size=1)


async def test_a_query_the_database_refuses_fails_at_open(trees: Database) -> None:
    source = trees.source()
    source.answerer(answer(trees.table, query=f"SELECT nope AS tree FROM {trees.table}"))
    with pytest.raises(SourceError, match=r"knowledge interaction 'trees': the query failed"):
        await source.open(pool_size=1)
    with pytest.raises(SourceError, match="not open"):
        source.engine  # noqa: B018


async def test_an_in_memory_database_opens_and_closes_twice() -> None:
    source = SqlDatabase("memory", SqlSource(type="sql", url="sqlite+aiosqlite://"))
    serve = source.answerer(answer("t", query="SELECT 1 AS rings"))
    await source.open(pool_size=4)
    assert await serve([]) == [{"rings": integer(1)}]
    with pytest.raises(RuntimeError, match="open already"):
        await source.open(pool_size=4)
    await source.close()
    await source.close()
    with pytest.raises(SourceError, match="not open"):
        await serve([])
