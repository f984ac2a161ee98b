"""A legacy config, converted and run, side by side with knowledge-mapper 0.0.24 itself.

A knowledge-mapper 0.0.24 config file (the SQL tree example: an ANSWER of heights and names,
a REACT that inserts trees, static authorization) is converted with ``convert_legacy``; the
result, with only its knowledge base's id changed, is served by ``km run`` while the legacy tool
serves the original file, both on the same MariaDB database and the same local Knowledge
Engine (served over HTTP on 127.0.0.1, in this process). An SDK knowledge base asks each of
them the same questions and posts each a new tree: the answers must be the same, and another
knowledge base, not on the permitted lists, gets nothing from either.

Where the two differ, the test says how, as the conversion notes announce it: the legacy
compares a column with an incoming literal as the Knowledge Engine writes it, quotes and
datatype included, so a binding of a height or a name never matches; and it inserts an
integer posted as a typed literal as that text, which MariaDB refuses.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest
from sqlalchemy import make_url, text

from benchmarks.legacy import LEGACY_PACKAGE, LegacyUnavailable, ensure_legacy_python
from km_core import ExchangeStatus, KnowledgeBase
from km_httpx import HttpxClient
from km_mapper._legacy import convert_legacy, dump_config
from km_testing import create_app
from tests.mapper.running import ServedProcess, WatchedEngine, km_run, legacy_run
from tests.mapper.servers import SqlDatabase
from tests.testing.serving import serving

LEGACY_ID = "http://example.org/kb/legacy-trees"
OURS_ID = "http://example.org/kb/our-trees"
ASKER_ID = "http://example.org/kb/tree-asker"
OUTSIDER_ID = "http://example.org/kb/outsider"

EX = {"ex": "http://example.org/"}
PATTERN = "?tree ex:height ?height . ?tree ex:name ?name ."
INTEGER = "<http://www.w3.org/2001/XMLSchema#integer>"
PASSWORD_ENV = "KM_MAPPER_SQL_PASSWORD"

ROWS = [("oak-1", 21, "oak"), ("beech-2", 30, "beech"), ("elm-3", 21, "elm")]

MYSQL_CONNECTOR = "mysql-connector-python<9"
"""knowledge-mapper 0.0.24 requires mysql-connector-python without a version, and its SQL
answers ask for ``cursor(named_tuple=True)``, which today's releases (26.10.0) no longer take:
every answer fails with a TypeError, logged, and is answered empty. 8.4.0 still takes it."""

WAIT = 20.0
"""Seconds any one ask or post may take."""


def tree(tree_id: str) -> str:
    return f"<http://example.org/trees/{tree_id}>"


def integer(value: int) -> str:
    return f'"{value}"^^{INTEGER}'


def binding(tree_id: str, height: int, name: str) -> dict[str, str]:
    """A tree as both knowledge bases write it: an IRI, an integer, a plain string."""
    return {"tree": tree(tree_id), "height": integer(height), "name": f'"{name}"'}


OAK, BEECH, ELM = (binding(*row) for row in ROWS)

LEGACY_CONFIG = """\
// The SQL tree example, as a knowledge-mapper 0.0.24 user writes it.
{{
  "knowledge_engine_endpoint": "http://ke-runtime:8280/rest",  // KE_ENDPOINT overrides it
  "knowledge_base": {{
    "id": "{kb_id}",
    "name": "Legacy trees",
    "description": "The trees table, served by knowledge-mapper 0.0.24.",
  }},
  "sql_host": {host},
  "sql_port": {port},
  "sql_database": {database},
  "sql_user": {user},
  "sql_password": {password},
  "authorization_enabled": true,
  "knowledge_interactions": [
    {{
      "type": "answer",
      "name": "tree-heights",
      "prefixes": {{"ex": "http://example.org/"}},
      "pattern": "?tree ex:height ?height . ?tree ex:name ?name .",
      "sql_query": "SELECT id AS tree, height, name FROM trees",
      "column_prefixes": {{"tree": "http://example.org/trees/"}},
      "permitted": ["{asker}"],
    }},
    {{
      "type": "react",
      "name": "plant-tree",
      "prefixes": {{"ex": "http://example.org/"}},
      "argument_pattern": "?tree ex:height ?height . ?tree ex:name ?name .",
      "result_pattern": null,  // the legacy reads the key; it must be there
      "sql_query": [
        {{
          "statement": "INSERT INTO trees (id, height, name) VALUES (%s, %s, %s)",
          "bindings": ["tree", "height", "name"],
        }},
      ],
      "column_prefixes": {{"tree": "http://example.org/trees/"}},
      "permitted": ["{asker}"],
    }},
  ],
}}
"""


Binding = frozenset[tuple[str, str]]


def as_set(bindings: Iterable[dict[str, str]]) -> set[Binding]:
    """Bindings as a set, to compare answers whatever their order."""
    return {frozenset(b.items()) for b in bindings}


@pytest.fixture(scope="module")
def legacy_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv's python with knowledge-mapper 0.0.24 installed from PyPI, and a
    mysql-connector-python its SQL source can use (see `MYSQL_CONNECTOR`)."""
    try:
        python = ensure_legacy_python(tmp_path_factory.mktemp("legacy"))
    except LegacyUnavailable as exc:
        if exc.unreachable:
            pytest.skip(f"cannot install {LEGACY_PACKAGE}: {exc}")
        pytest.fail(str(exc))
    command = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    command += ["--timeout", "20", "--retries", "1", MYSQL_CONNECTOR]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip(f"pip install {MYSQL_CONNECTOR} took over 120 s; is PyPI reachable?")
    if done.returncode != 0:
        pytest.fail(f"pip install {MYSQL_CONNECTOR} failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return python


async def make_trees(database: SqlDatabase) -> None:
    async with database.engine.begin() as connection:
        await connection.execute(
            text("CREATE TABLE trees (id VARCHAR(64) PRIMARY KEY, height INT, name VARCHAR(64))")
        )
        await connection.execute(
            text("INSERT INTO trees (id, height, name) VALUES (:id, :height, :name)"),
            [{"id": i, "height": h, "name": n} for i, h, n in ROWS],
        )


async def rows(database: SqlDatabase) -> set[tuple[str, int, str]]:
    async with database.engine.connect() as connection:
        result = await connection.execute(text("SELECT id, height, name FROM trees"))
        return {(row.id, row.height, row.name) for row in result}


def legacy_config(database: SqlDatabase) -> str:
    url = make_url(database.url)
    return LEGACY_CONFIG.format(
        kb_id=LEGACY_ID,
        asker=ASKER_ID,
        host=json.dumps(url.host),
        port=url.port or 3306,
        database=json.dumps(url.database),
        user=json.dumps(url.username),
        password=json.dumps(url.password),
    )


def converted(legacy: Path, database: SqlDatabase, out: Path) -> None:
    """Convert the legacy file, check what came of it, and write ours with our KB's id."""
    url = make_url(database.url)
    config, notes = convert_legacy(legacy)
    [answer, react] = config["knowledge_interactions"]
    assert config["sources"] == {
        "legacy": {
            "type": "sql",
            "url": f"mysql+aiomysql://{url.username}@{url.host}:{url.port}/{url.database}",
            "password_env": PASSWORD_ENV,
        }
    }
    assert config["knowledge_base"]["permitted"] == []
    assert answer == {
        "name": "tree-heights",
        "type": "answer",
        "prefixes": EX,
        "graph_pattern": PATTERN,
        "permitted": [ASKER_ID],
        "query": "SELECT id AS tree, height, name FROM trees",
        "terms": {"tree": {"iri": "http://example.org/trees/{tree}"}},
    }
    assert react["statements"] == [
        "INSERT INTO trees (id, height, name) VALUES (:tree, :height, :name)"
    ]
    assert react["permitted"] == [ASKER_ID]
    assert any(f"set the environment variable {PASSWORD_ENV}" in note for note in notes)
    config["knowledge_base"]["id"] = OURS_ID
    written = dump_config(config)
    # The password (here the same as the user name) is not in the url, nor anywhere else.
    assert f":{url.password}@" not in written
    assert "password:" not in written
    out.write_text(written, encoding="utf-8")


class Asker:
    """The SDK knowledge bases that ask and post: the permitted one, and an outsider."""

    def __init__(self, url: str) -> None:
        self.kbs: dict[str, KnowledgeBase] = {}
        for kb_id in (ASKER_ID, OUTSIDER_ID):
            kb = KnowledgeBase(
                id=kb_id, name=kb_id.rsplit("/", 1)[-1], description="asks", client=HttpxClient(url)
            )
            kb.ask_ki("trees", PATTERN, prefixes=EX)
            kb.post_ki("plant", PATTERN, prefixes=EX)
            self.kbs[kb_id] = kb

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for kb in self.kbs.values():
                await asyncio.wait_for(stack.enter_async_context(kb), WAIT)
            yield

    async def ask(
        self, recipient: str, bindings: list[dict[str, str]] | None = None, *, by: str = ASKER_ID
    ) -> list[dict[str, str]]:
        """Ask ``recipient`` alone; check that it, and only it, answered."""
        response = await asyncio.wait_for(
            self.kbs[by].ask_with_info("trees", bindings, recipients=[recipient]), WAIT
        )
        [info] = response.exchange_info
        assert (info.knowledge_base_id, info.status) == (recipient, ExchangeStatus.SUCCEEDED), info
        return response.binding_set

    async def post(
        self, recipient: str, bindings: list[dict[str, str]], *, by: str = ASKER_ID
    ) -> None:
        response = await asyncio.wait_for(
            self.kbs[by].post_with_info("plant", bindings, recipients=[recipient]), WAIT
        )
        [info] = response.exchange_info
        assert (info.knowledge_base_id, info.status) == (recipient, ExchangeStatus.SUCCEEDED), info
        assert response.result_binding_set == []

    async def both(
        self, bindings: list[dict[str, str]] | None = None, *, by: str = ASKER_ID
    ) -> tuple[set[Binding], set[Binding]]:
        """The legacy's answer and ours, as sets of bindings; each answer without duplicates."""
        legacy = await self.ask(LEGACY_ID, bindings, by=by)
        ours = await self.ask(OURS_ID, bindings, by=by)
        assert len(as_set(legacy)) == len(legacy), legacy
        assert len(as_set(ours)) == len(ours), ours
        return as_set(legacy), as_set(ours)


@pytest.mark.timeout(300)
async def test_a_converted_legacy_config_answers_as_the_legacy_does(
    mariadb_database: SqlDatabase, legacy_python: Path, tmp_path: Path
) -> None:
    await make_trees(mariadb_database)
    legacy_file = tmp_path / "legacy" / "config.jsonc"
    legacy_file.parent.mkdir()
    legacy_file.write_text(legacy_config(mariadb_database), encoding="utf-8")
    ours_file = tmp_path / "ours" / "mapper.yaml"
    ours_file.parent.mkdir()
    converted(legacy_file, mariadb_database, ours_file)
    password = str(make_url(mariadb_database.url).password)

    engine = WatchedEngine()
    async with serving(create_app(engine)) as url:
        asker = Asker(url)
        processes: list[ServedProcess] = []
        try:
            async with asker.running():
                legacy = await legacy_run(legacy_python, legacy_file, url)
                processes.append(legacy)
                ours = await km_run(ours_file, url, env={PASSWORD_ENV: password})
                processes.append(ours)
                await asyncio.gather(legacy.ready(engine, LEGACY_ID), ours.ready(engine, OURS_ID))

                await asks_and_posts(asker, mariadb_database)

                legacy_status, ours_status = await asyncio.gather(legacy.stop(), ours.stop())
                assert ours_status == 0, ours.output()
                assert legacy_status == 0, legacy.output()  # it unregisters on SIGTERM too
                assert engine.registered() == {ASKER_ID, OUTSIDER_ID}
        finally:
            await asyncio.gather(*(process.stop() for process in processes))
            for process in processes:  # shown when the test fails
                print(f"---------- {process.name}:\n{process.output()}")
            for kb in asker.kbs.values():
                await kb.close()


async def asks_and_posts(asker: Asker, database: SqlDatabase) -> None:
    everything = [OAK, BEECH, ELM]

    # Where the two agree. Without bindings: every row.
    legacy, ours = await asker.both()
    assert legacy == ours == as_set(everything)
    # One tree by its IRI; several; one that is not there; an IRI the prefix does not fit.
    legacy, ours = await asker.both([{"tree": OAK["tree"]}])
    assert legacy == ours == as_set([OAK])
    several = [{"tree": OAK["tree"]}, {"tree": ELM["tree"]}, {"tree": tree("no-such-tree")}]
    legacy, ours = await asker.both(several)
    assert legacy == ours == as_set([OAK, ELM])
    legacy, ours = await asker.both([{"tree": tree("no-such-tree")}])
    assert legacy == ours == set()
    legacy, ours = await asker.both([{"tree": "<http://example.org/bushes/oak-1>"}])
    assert legacy == ours == set()
    # Somebody not on the permitted list gets nothing from either.
    legacy, ours = await asker.both(by=OUTSIDER_ID)
    assert legacy == ours == set()

    # Where they differ, as the conversion notes say (filtering by bindings): the legacy
    # compares a column with a literal as the KE writes it, quotes and datatype included
    # ('"21"^^<...#integer>', MariaDB reads it as the number 0; '"beech"' is no name), so a
    # binding of a height or a name never matches a row. Ours reads the literal's value.
    legacy, ours = await asker.both([{"height": integer(21)}])
    assert (legacy, ours) == (set(), as_set([OAK, ELM]))
    legacy, ours = await asker.both([{"name": '"beech"'}])
    assert (legacy, ours) == (set(), as_set([BEECH]))
    legacy, ours = await asker.both([{"tree": OAK["tree"], "height": integer(21)}, BEECH])
    assert (legacy, ours) == (set(), as_set([OAK, BEECH]))
    legacy, ours = await asker.both(
        [{"tree": OAK["tree"], "height": integer(21)}, {"tree": BEECH["tree"]}]
    )
    assert (legacy, ours) == (as_set([BEECH]), as_set([OAK, BEECH]))

    # A new tree through each, with its height a plain literal, which the legacy's REACT
    # unquotes: both write it to the one database, and both answer with both new trees.
    birch = {"tree": tree("birch-4"), "height": '"12"', "name": '"birch"'}
    maple = {"tree": tree("maple-5"), "height": '"8"', "name": '"maple"'}
    await asker.post(LEGACY_ID, [birch])
    await asker.post(OURS_ID, [maple])
    planted = {*ROWS, ("birch-4", 12, "birch"), ("maple-5", 8, "maple")}
    assert await rows(database) == planted
    everything += [binding("birch-4", 12, "birch"), binding("maple-5", 8, "maple")]
    legacy, ours = await asker.both()
    assert legacy == ours == as_set(everything)

    # Nobody else may plant: neither writes what the outsider posts.
    await asker.post(LEGACY_ID, [binding("yew-6", 5, "yew")], by=OUTSIDER_ID)
    await asker.post(OURS_ID, [binding("yew-7", 5, "yew")], by=OUTSIDER_ID)
    assert await rows(database) == planted

    # A height as any asker writes an integer, a typed literal: ours writes it; the legacy
    # hands '"9"^^<...#integer>' to MariaDB as it is, which refuses it (strict mode), and it
    # logs a warning, rolls back, and reports success all the same.
    await asker.post(LEGACY_ID, [binding("linden-8", 9, "linden")])
    await asker.post(OURS_ID, [binding("willow-9", 9, "willow")])
    assert await rows(database) == {*planted, ("willow-9", 9, "willow")}
    everything.append(binding("willow-9", 9, "willow"))
    legacy, ours = await asker.both()
    assert legacy == ours == as_set(everything)
