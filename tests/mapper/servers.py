"""The real servers of km-mapper's tests: PostgreSQL, MariaDB and Apache Jena Fuseki.

Three settings name them; ``.ci/services.sh start`` starts the three on 127.0.0.1 and prints them
(and writes them to ``/tmp/km-ci-services/env.sh``, which ``.ci/run`` sources):

``KM_TEST_POSTGRES_URL``
    A SQLAlchemy async URL, e.g. ``postgresql+asyncpg://km:km@127.0.0.1:55432/km``. Its role
    must be allowed to create databases.
``KM_TEST_MARIADB_URL``
    A SQLAlchemy async URL, e.g. ``mysql+aiomysql://km:km@127.0.0.1:33306/km``. Its user must be
    allowed to create and drop the databases whose names start with ``km_``.
``KM_TEST_FUSEKI_URL``
    The URL of an updatable Fuseki dataset, e.g. ``http://127.0.0.1:33030/km``: SPARQL queries at
    ``/query`` (or ``/sparql``), updates at ``/update``, the graph store protocol at ``/data``.

A test that needs a server whose setting is missing skips, with a reason that names the setting.
With ``KM_TEST_SERVICES_REQUIRED`` set (to anything but ``0``), as ``.ci/run`` sets it, it fails
instead: CI never skips them silently.

The fixtures give each test a clean state: ``postgres_database`` and ``mariadb_database`` a
database of its own (``km_test_`` and a random suffix), dropped afterwards; ``fuseki_dataset``
the dataset emptied (``CLEAR ALL``) before and after the test. The SQL databases are therefore
isolated even between concurrent test runs; the Fuseki dataset is not, so one test run at a time
may use a Fuseki.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import URL, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

POSTGRES_SETTING = "KM_TEST_POSTGRES_URL"
MARIADB_SETTING = "KM_TEST_MARIADB_URL"
FUSEKI_SETTING = "KM_TEST_FUSEKI_URL"
REQUIRED_SETTING = "KM_TEST_SERVICES_REQUIRED"

__all__ = [
    "FUSEKI_SETTING",
    "MARIADB_SETTING",
    "POSTGRES_SETTING",
    "REQUIRED_SETTING",
    "SparqlDataset",
    "SqlDatabase",
    "fuseki_dataset",
    "fuseki_url",
    "mariadb_database",
    "mariadb_url",
    "postgres_database",
    "postgres_url",
]


def _setting(name: str, server: str) -> str:
    """The value of the setting ``name``; skips the calling test (or fails it) when unset."""
    value = os.environ.get(name, "").strip()
    if value:
        return value
    reason = f"no {server} server: set {name} (see .ci/services.sh, which starts one)"
    if os.environ.get(REQUIRED_SETTING, "") not in ("", "0"):
        pytest.fail(f"{reason}; {REQUIRED_SETTING} is set, so it may not skip", pytrace=False)
    pytest.skip(reason)


def postgres_url() -> str:
    """``KM_TEST_POSTGRES_URL``: the PostgreSQL server's SQLAlchemy async URL."""
    return _setting(POSTGRES_SETTING, "PostgreSQL")


def mariadb_url() -> str:
    """``KM_TEST_MARIADB_URL``: the MariaDB server's SQLAlchemy async URL."""
    return _setting(MARIADB_SETTING, "MariaDB")


def fuseki_url() -> str:
    """``KM_TEST_FUSEKI_URL``: the URL of the updatable Fuseki dataset, without a trailing /."""
    return _setting(FUSEKI_SETTING, "Fuseki").rstrip("/")


@dataclass(frozen=True)
class SqlDatabase:
    """A test's own database on a real server, dropped when the test ends."""

    url: str
    """Its SQLAlchemy async URL, password included: what a mapper config names."""
    name: str
    """The database's name: ``km_test_`` and a random suffix."""
    engine: AsyncEngine
    """An engine on it, for the test's own setup and checks; disposed when the test ends."""


def _test_database_name() -> str:
    return f"km_test_{uuid.uuid4().hex[:12]}"


def _rendered(url: URL) -> str:
    return url.render_as_string(hide_password=False)


@pytest.fixture
async def postgres_database() -> AsyncIterator[SqlDatabase]:
    """A fresh PostgreSQL database owned by the setting's role, dropped after the test."""
    server = make_url(postgres_url())
    name = _test_database_name()
    # CREATE and DROP DATABASE may not run in a transaction.
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = server.set(database=name)
        engine = create_async_engine(url)
        try:
            yield SqlDatabase(_rendered(url), name, engine)
        finally:
            await engine.dispose()
            async with admin.connect() as connection:
                # FORCE: connections the code under test left open do not keep it.
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@pytest.fixture
async def mariadb_database() -> AsyncIterator[SqlDatabase]:
    """A fresh MariaDB database (utf8mb4) of the setting's user, dropped after the test."""
    server = make_url(mariadb_url())
    name = _test_database_name()
    admin = create_async_engine(server, poolclass=NullPool)
    try:
        async with admin.begin() as connection:
            await connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        url = server.set(database=name)
        engine = create_async_engine(url)
        try:
            yield SqlDatabase(_rendered(url), name, engine)
        finally:
            await engine.dispose()
            async with admin.begin() as connection:
                # A transaction left open on one of its tables would make DROP wait; not forever.
                await connection.execute(text("SET SESSION lock_wait_timeout = 20"))
                await connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    finally:
        await admin.dispose()


@dataclass(frozen=True)
class SparqlDataset:
    """The Fuseki dataset, emptied for a test, and a client to speak the SPARQL protocol with."""

    url: str
    """The dataset's URL (``KM_TEST_FUSEKI_URL``)."""
    client: httpx.AsyncClient
    """An HTTP client, closed when the test ends."""
    graph: str
    """An IRI of a named graph that no other test uses, for a test that wants one."""

    @property
    def query_url(self) -> str:
        """The SPARQL query endpoint."""
        return f"{self.url}/query"

    @property
    def update_url(self) -> str:
        """The SPARQL update endpoint."""
        return f"{self.url}/update"

    @property
    def data_url(self) -> str:
        """The graph store protocol endpoint (read and write)."""
        return f"{self.url}/data"

    async def update(self, update: str) -> None:
        """Runs a SPARQL update; raises ``httpx.HTTPStatusError`` when it is refused."""
        response = await self.client.post(self.update_url, data={"update": update})
        response.raise_for_status()

    async def select(self, query: str) -> list[dict[str, str]]:
        """Runs a SPARQL SELECT query: one dict per solution, of each bound variable's value."""
        response = await self.client.post(
            self.query_url,
            data={"query": query},
            headers={"Accept": "application/sparql-results+json"},
        )
        response.raise_for_status()
        return [
            {variable: term["value"] for variable, term in solution.items()}
            for solution in response.json()["results"]["bindings"]
        ]


@pytest.fixture
async def fuseki_dataset() -> AsyncIterator[SparqlDataset]:
    """The Fuseki dataset, empty when the test starts, and emptied again after it."""
    url = fuseki_url()
    async with httpx.AsyncClient(timeout=20) as client:
        graph = f"urn:km-test:graph:{uuid.uuid4().hex}"
        dataset = SparqlDataset(url, client, graph)
        await dataset.update("CLEAR ALL")
        try:
            yield dataset
        finally:
            await dataset.update("CLEAR ALL")
