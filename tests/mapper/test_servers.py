"""The real servers of km-mapper's tests answer, and the fixtures give each test a clean state.

These run against the servers that ``.ci/services.sh start`` starts (see tests/mapper/servers.py);
without their settings they skip, and with ``KM_TEST_SERVICES_REQUIRED`` set they fail.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.mapper.servers import (
    POSTGRES_SETTING,
    REQUIRED_SETTING,
    SparqlDataset,
    SqlDatabase,
    postgres_url,
)


async def create_insert_select(database: SqlDatabase) -> None:
    """A table made, filled and read back through the fixture's engine and through its URL."""
    async with database.engine.begin() as connection:
        await connection.execute(
            text("CREATE TABLE city (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL)")
        )
        await connection.execute(
            text("INSERT INTO city (id, name) VALUES (:id, :name)"),
            [{"id": 1, "name": "Delft"}, {"id": 2, "name": "Groningen"}],
        )
    # The URL alone reaches the same database: a mapper config names just that.
    engine = create_async_engine(database.url)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(text("SELECT id, name FROM city ORDER BY id"))).all()
    finally:
        await engine.dispose()
    assert [tuple(row) for row in rows] == [(1, "Delft"), (2, "Groningen")]


async def test_postgres_database_is_usable(postgres_database: SqlDatabase) -> None:
    async with postgres_database.engine.connect() as connection:
        current = (await connection.execute(text("SELECT current_database()"))).scalar_one()
        tables = (
            await connection.execute(
                text("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
            )
        ).scalar_one()
    assert current == postgres_database.name
    assert tables == 0, "a test's database starts empty"
    await create_insert_select(postgres_database)


async def test_mariadb_database_is_usable(mariadb_database: SqlDatabase) -> None:
    async with mariadb_database.engine.connect() as connection:
        current = (await connection.execute(text("SELECT DATABASE()"))).scalar_one()
        tables = (
            await connection.execute(
                text("SELECT count(*) FROM information_schema.tables WHERE table_schema = :name"),
                {"name": mariadb_database.name},
            )
        ).scalar_one()
    assert current == mariadb_database.name
    assert tables == 0, "a test's database starts empty"
    await create_insert_select(mariadb_database)


async def test_fuseki_dataset_is_usable(fuseki_dataset: SparqlDataset) -> None:
    count = "SELECT (COUNT(*) AS ?n) { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }"
    assert await fuseki_dataset.select(count) == [{"n": "0"}], "the dataset starts empty"

    await fuseki_dataset.update(
        "PREFIX ex: <http://example.org/> "
        'INSERT DATA { ex:delft ex:name "Delft" . '
        f'GRAPH <{fuseki_dataset.graph}> {{ ex:groningen ex:name "Groningen" }} }}'
    )

    default = await fuseki_dataset.select(
        "SELECT ?city ?name { ?city <http://example.org/name> ?name }"
    )
    assert default == [{"city": "http://example.org/delft", "name": "Delft"}]
    named = await fuseki_dataset.select(
        f"SELECT ?name {{ GRAPH <{fuseki_dataset.graph}> {{ ?city ?p ?name }} }}"
    )
    assert named == [{"name": "Groningen"}]
    # The graph store protocol serves the same data.
    response = await fuseki_dataset.client.get(
        fuseki_dataset.data_url, params={"default": ""}, headers={"Accept": "text/turtle"}
    )
    response.raise_for_status()
    assert '"Delft"' in response.text


def test_a_missing_setting_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(POSTGRES_SETTING, raising=False)
    monkeypatch.delenv(REQUIRED_SETTING, raising=False)
    with pytest.raises(pytest.skip.Exception, match=f"set {POSTGRES_SETTING}"):
        postgres_url()


def test_a_missing_setting_fails_when_the_servers_are_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(POSTGRES_SETTING, raising=False)
    monkeypatch.setenv(REQUIRED_SETTING, "1")
    with pytest.raises(pytest.fail.Exception, match=f"{REQUIRED_SETTING} is set"):
        postgres_url()
