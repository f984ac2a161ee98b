"""Scenario 9: km-mapper against knowledge-mapper 0.0.24, answering from one MariaDB table.

Both serve the same ANSWER, the trees of a table on a real MariaDB (``--mariadb-url``, default
``$KM_TEST_MARIADB_URL``), to the local engine that the harness serves over HTTP:

- km-mapper as ``km run mapper.yaml --ke-url URL --max-concurrent-handlers 10``: a SQL source
  whose pool holds 10 connections; it answers a request with its query as a subquery,
  filtered by the incoming bindings, in one statement (``... WHERE km_answer.tree = %s OR ...``).
- knowledge-mapper 0.0.24 as ``python -m knowledge_mapper legacy.jsonc`` (in scenario 6's
  virtualenv, with ``LEGACY_CONNECTOR`` installed into it), with ``KE_ENDPOINT``: one request at
  a time on one MySQL connection, filtering with ``HAVING 0 OR 1 AND tree = %s ...`` appended to
  the query.

The scenario makes a database of its own (``km_bench_`` and a random suffix) with a table
``trees (id INT PRIMARY KEY, height INT, name VARCHAR(64))`` of ``mapper_rows`` rows, and drops
it when it ends. The asks come from a KB of the harness's process on the engine, each binding
one tree (the same random sequence for both), so that each answer is one row, which is
checked: the tree's height and name. Each repetition runs a fresh process of each, in turns.

An ANSWER with 100 incoming bindings is counted separately: a second km-mapper process reaches
MariaDB through `WireTap`, a TCP relay in this process that reads the MySQL protocol's command
packets its client sends (``COM_QUERY`` with the SQL text, ``COM_PING``, ...). That is every
statement the server receives from that process and nothing from anyone else: MariaDB's own
counters (``SHOW GLOBAL STATUS LIKE 'Com_select'``) are server-wide, and the general log and
``performance_schema`` need privileges a test user does not have. The server-wide
``Com_select`` is still read around each ask, as a cross-check on a quiet server.

Each process reports readiness in its log, read line by line: ``km run`` logs ``handling loop
started``, knowledge-mapper 0.0.24 ``Waiting for response to long poll`` before its first
poll. Both stop on SIGTERM, unregistering first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from answering import Http
from common import IN_FLIGHT_ASKS, WARMUP_ASKS, Report, Row, Sizes, finish, fmt, spread, start
from cpu import process_cpu_s
from legacy import LEGACY_PACKAGE, LegacyUnavailable, ensure_legacy_python
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from km_core import ExchangeStatus, KnowledgeBase

MARIADB_SETTING = "KM_TEST_MARIADB_URL"
# knowledge-mapper 0.0.24 does not pin mysql-connector-python, and its SQL source asks for
# named-tuple cursors, which 9.3.0 (April 2025) removed: with today's release every ANSWER fails
# (the TypeError is logged and nothing is answered). So its virtualenv for this scenario gets the
# release that was current when 0.0.24 came out (December 2024).
LEGACY_CONNECTOR = "mysql-connector-python==9.1.0"
PIP_TIMEOUT = 120.0  # seconds for pip to install it
PASSWORD_ENV = "BENCH_MARIADB_PASSWORD"  # read by km-mapper's SQL source (password_env)
HANDLERS = 10  # km-mapper's max_concurrent_handlers, and so its pool's connections
PREFIX = "http://example.org/"
TREES = "http://example.org/trees/"
PATTERN = "?tree ex:height ?height . ?tree ex:name ?name ."
QUERY = "SELECT id AS tree, height, name FROM trees"
XSD_INTEGER = "http://www.w3.org/2001/XMLSchema#integer"
ASK = "trees"
SPECIES = ("oak", "beech", "lime", "maple", "ash", "birch", "elm", "willow", "pine", "yew")
INSERT_BATCH = 5000  # rows per INSERT
SEED = 9

READY_TIMEOUT = 60.0  # seconds for a process to register and start its handling loop
STOP_TIMEOUT = 30.0  # seconds for it to unregister and exit on SIGTERM before it is killed
REAP_TIMEOUT = 10.0
BURST_TIMEOUT = 600.0  # seconds for one burst of asks: a process that died fails it in time
TAIL = 40  # lines of a process's log quoted in errors

KM_READY = "handling loop started"
LEGACY_READY = "Waiting for response to long poll"

MAPPER_YAML = """\
# Scenario 9: km-mapper on the benchmark's MariaDB database (written by benchmarks/mapper.py).
knowledge_base:
  id: {kb_id}
  name: trees
  description: The trees table of the benchmark database.

prefixes:
  ex: {prefix}

sources:
  trees:
    type: sql
    url: {url}
{password}
knowledge_interactions:
  - name: tree-heights
    type: answer
    graph_pattern: {pattern}
    query: {query}
    terms:
      tree: {{iri: {template}}}
"""


class DatabaseUnavailable(Exception):
    """The MariaDB server cannot be used (a bad URL, or it cannot be reached)."""


def shown_url(url: str | None) -> str | None:
    """A database URL with ``***`` for its password, fit for a log or results.json."""
    if not url:
        return url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not an SQLAlchemy URL)"


def _server_url(raw: str) -> URL:
    """The MariaDB URL on the aiomysql driver, which km-mapper's SQL source needs."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise DatabaseUnavailable(f"{shown_url(raw)} is not an SQLAlchemy URL") from None
    if url.get_backend_name() not in ("mysql", "mariadb"):
        raise DatabaseUnavailable(f"{shown_url(raw)} is not a MariaDB (or MySQL) URL")
    return url.set(drivername="mysql+aiomysql")


def _tree_iri(tree: int) -> str:
    return f"<{TREES}{tree}>"


# ---------------------------------------------------------------- the legacy's virtualenv


def _legacy_environment() -> dict[str, str]:
    """This environment without what would make another python import our modules."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _has_named_tuple_cursors(python: Path) -> bool:
    check = "import mysql.connector.cursor as c; assert hasattr(c, 'MySQLCursorNamedTuple')"
    try:
        done = subprocess.run(
            [str(python), "-c", check],
            capture_output=True,
            timeout=60,
            env=_legacy_environment(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def ensure_legacy_sql_python(cache_dir: Path) -> Path:
    """The python of the legacy virtualenv, with ``LEGACY_CONNECTOR`` installed into it.

    The virtualenv is scenario 6's (`ensure_legacy_python`, which makes it on first use), which
    does not use MySQL; this blocks for minutes on first use.

    Raises:
        LegacyUnavailable: either cannot be installed (e.g. PyPI is unreachable).
    """
    python = ensure_legacy_python(cache_dir)
    if _has_named_tuple_cursors(python):
        return python
    command = [
        str(python),
        *("-m", "pip", "install", "--disable-pip-version-check", "--no-input"),
        *("--timeout", "20", "--retries", "1", LEGACY_CONNECTOR),
    ]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=PIP_TIMEOUT,
            env=_legacy_environment(),
        )
    except subprocess.TimeoutExpired:
        raise LegacyUnavailable(
            f"pip install {LEGACY_CONNECTOR} took over {PIP_TIMEOUT:g} s; is PyPI reachable?",
            unreachable=True,
        ) from None
    if done.returncode != 0 or not _has_named_tuple_cursors(python):
        output = (done.stdout + done.stderr)[-2000:]
        raise LegacyUnavailable(f"pip install {LEGACY_CONNECTOR} failed:\n{output}")
    return python


# ---------------------------------------------------------------- the database


@dataclass(frozen=True)
class BenchDatabase:
    """The scenario's own database: its URL (with the password) and the rows it holds."""

    url: URL
    trees: dict[int, tuple[int, str]]  # id: (height, name)

    def expected(self, tree: int) -> dict[str, str]:
        """The binding that answers an ask for ``tree``."""
        height, name = self.trees[tree]
        return {
            "tree": _tree_iri(tree),
            "height": f'"{height}"^^<{XSD_INTEGER}>',
            "name": f'"{name}"',
        }


@contextlib.asynccontextmanager
async def bench_database(raw_url: str, rows: int) -> AsyncIterator[BenchDatabase]:
    """A new database ``km_bench_<random>`` with ``rows`` trees, dropped when the block ends.

    Raises:
        DatabaseUnavailable: the URL is not a MariaDB one, or the server cannot be reached or
            refuses to create the database.
    """
    server = _server_url(raw_url)
    name = f"km_bench_{uuid.uuid4().hex[:12]}"
    try:
        admin = create_async_engine(server, poolclass=NullPool)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise DatabaseUnavailable(f"no engine for {shown_url(raw_url)}: {exc}") from None
    try:
        try:
            async with admin.begin() as connection:
                await connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        except OperationalError as exc:
            reason = getattr(exc, "orig", None) or exc
            raise DatabaseUnavailable(
                f"cannot create a database at {shown_url(raw_url)}: {reason}"
            ) from None
        try:
            url = server.set(database=name)
            yield BenchDatabase(url, await _fill(url, rows))
        finally:
            async with admin.begin() as connection:
                # A connection left open on the table would make DROP wait; not forever.
                await connection.execute(text("SET SESSION lock_wait_timeout = 20"))
                await connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    finally:
        await admin.dispose()


async def _fill(url: URL, rows: int) -> dict[int, tuple[int, str]]:
    """Create the ``trees`` table and insert ``rows`` trees, ``INSERT_BATCH`` rows a statement."""
    rng = random.Random(SEED)
    trees = {
        tree: (rng.randint(2, 45), f"{rng.choice(SPECIES)} {tree}") for tree in range(1, rows + 1)
    }
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "CREATE TABLE trees (id INT PRIMARY KEY, height INT NOT NULL, "
                    "name VARCHAR(64) NOT NULL) ENGINE=InnoDB"
                )
            )
            insert = text("INSERT INTO trees (id, height, name) VALUES (:id, :height, :name)")
            batch: list[dict[str, Any]] = []
            for tree, (height, name) in trees.items():
                batch.append({"id": tree, "height": height, "name": name})
                if len(batch) == INSERT_BATCH:
                    await connection.execute(insert, batch)
                    batch = []
            if batch:
                await connection.execute(insert, batch)
        async with engine.connect() as connection:
            await connection.execute(text("ANALYZE TABLE trees"))
    finally:
        await engine.dispose()
    return trees


async def com_select(connection: AsyncConnection) -> int:
    """MariaDB's server-wide count of SELECT statements (``SHOW`` does not count)."""
    row = (await connection.execute(text("SHOW GLOBAL STATUS LIKE 'Com_select'"))).one()
    return int(row[1])


# ---------------------------------------------------------------- the statements on the wire

_COMMANDS = {
    0x01: "quit",
    0x02: "init_db",
    0x03: "query",
    0x0E: "ping",
    0x11: "change_user",
    0x16: "prepare",
    0x17: "execute",
    0x1F: "reset_connection",
}


@dataclass(frozen=True)
class Command:
    """One command a client sent: its kind (``query``, ``ping``, ...) and, for a query, its SQL."""

    kind: str
    sql: str = ""

    @property
    def verb(self) -> str:
        """A query's first word (``SELECT``, ``ROLLBACK``, ...); else the command's kind."""
        words = self.sql.lstrip(" \n\t(").split(None, 1)
        return words[0].upper() if self.kind == "query" and words else self.kind

    @property
    def is_statement(self) -> bool:
        """A statement on the data: a query or a prepared statement's execution, other than
        the control of the session or its transaction (the pool's ROLLBACK on return)."""
        return self.kind == "execute" or (self.kind == "query" and self.verb not in _CONTROL)

    @property
    def is_select(self) -> bool:
        return self.kind == "execute" or self.verb in ("SELECT", "WITH")


_CONTROL = frozenset({"ROLLBACK", "COMMIT", "BEGIN", "START", "SET", "SAVEPOINT", "RELEASE"})


class WireTap:
    """A TCP relay to MariaDB that records the commands its clients send.

    In the MySQL protocol every command starts a new exchange, so its packet has sequence
    number 0 and its first byte says which command it is (``COM_QUERY`` with the SQL text,
    ``COM_PING``, ``COM_STMT_EXECUTE``, ...); the handshake's packets from the client have
    higher numbers. The relay forwards every byte as it comes and reads the client's side.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.commands: list[Command] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def listen_port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def __aenter__(self) -> WireTap:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._server.wait_closed()

    async def _relay(self, client: asyncio.StreamReader, to_client: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            try:
                server, to_server = await asyncio.open_connection(self.host, self.port)
            except OSError:
                to_client.close()
                return
            await asyncio.gather(
                self._pump(client, to_server, _CommandReader(self.commands)),
                self._pump(server, to_client, None),
            )
        finally:
            self._tasks.discard(task)

    @staticmethod
    async def _pump(
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        reader: _CommandReader | None,
    ) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                if reader is not None:
                    reader.feed(data)
                await sink.drain()
        except OSError:  # a connection reset: the relay ends as the connection did
            pass
        finally:
            sink.close()


class _CommandReader:
    """Reads a client's packets as they come and records each command packet."""

    def __init__(self, commands: list[Command]) -> None:
        self._commands = commands
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while len(buffer) >= 4:
            length = int.from_bytes(buffer[:3], "little")
            if len(buffer) < 4 + length:
                return
            sequence, payload = buffer[3], bytes(buffer[4 : 4 + length])
            del buffer[: 4 + length]
            if sequence == 0 and payload:
                kind = _COMMANDS.get(payload[0], f"0x{payload[0]:02x}")
                sql = payload[1:].decode(errors="replace") if kind == "query" else ""
                self._commands.append(Command(kind, sql))


# ---------------------------------------------------------------- the answering processes


class Served:
    """A knowledge base's process, its log (stderr) read line by line, the last lines kept."""

    def __init__(self, process: asyncio.subprocess.Process, what: str) -> None:
        self.process = process
        self.what = what
        self.tail: deque[str] = deque(maxlen=TAIL)
        self._drain: asyncio.Task[None] | None = None

    @property
    def log_tail(self) -> str:
        return "\n".join(self.tail)

    async def wait_for(self, marker: str) -> None:
        """Read the log until a line holds ``marker``; fail at its end or after the timeout."""
        stream = self.process.stderr
        assert stream is not None
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                while True:
                    line = await stream.readline()
                    if not line:
                        status = await self.process.wait()
                        raise RuntimeError(
                            f"{self.what} ended (status {status}) before it was ready:\n"
                            f"{self.log_tail}"
                        )
                    self.tail.append(line.decode(errors="replace").rstrip())
                    if marker in self.tail[-1]:
                        break
        except TimeoutError:
            raise RuntimeError(
                f"{self.what} was not ready within {READY_TIMEOUT:g} s:\n{self.log_tail}"
            ) from None
        # From now on the log is read to its end, so that the pipe never fills.
        self._drain = asyncio.create_task(self._read_rest(stream))

    async def _read_rest(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.tail.append(line.decode(errors="replace").rstrip())

    async def stop(self) -> int | None:
        """SIGTERM, then kill if it has not exited in time; its exit status (None: killed)."""
        process = self.process
        status: int | None = None
        try:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STOP_TIMEOUT):
                    status = await process.wait()
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            async with asyncio.timeout(REAP_TIMEOUT):
                await process.wait()
            if self._drain is not None:
                try:
                    async with asyncio.timeout(REAP_TIMEOUT):
                        await self._drain
                except TimeoutError:
                    self._drain.cancel()
        return status


@contextlib.asynccontextmanager
async def served(
    command: Sequence[str],
    env: dict[str, str],
    cwd: Path,
    what: str,
    marker: str,
    problems: list[str],
) -> AsyncIterator[Served]:
    """Run ``command`` until the block ends, once its log shows ``marker``; then stop it.

    A process that does not exit with status 0 on SIGTERM is recorded in ``problems``; the
    figures measured meanwhile stand.
    """
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env=env,
    )
    kb = Served(process, what)
    try:
        await kb.wait_for(marker)
        try:
            yield kb
        except Exception as exc:
            exc.add_note(f"{what}: its log ends with\n{kb.log_tail}")
            raise
    finally:
        status = await kb.stop()
        if status != 0:
            problems.append(
                f"{what}: exit status {status} on SIGTERM"
                + (f"; last line: {kb.tail[-1]}" if kb.tail else "")
            )


def _environment(*, ours: bool) -> dict[str, str]:
    """The environment of a served process: no KM_* settings; no PYTHONPATH for the legacy."""
    env = os.environ if ours else _legacy_environment()
    env = {k: v for k, v in env.items() if not k.startswith("KM_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _km_command() -> list[str]:
    """``km``, the script beside this python; else ``python -m km_httpx._cli``."""
    script = Path(sys.executable).with_name("km")
    return [str(script)] if script.exists() else [sys.executable, "-m", "km_httpx._cli"]


def _without_password(url: URL) -> str:
    """The URL as km-mapper's config names it: without the password (``password_env`` has it)."""
    bare = URL.create(
        url.drivername,
        username=url.username,
        host=url.host,
        port=url.port,
        database=url.database,
        query=url.query,
    )
    return bare.render_as_string(hide_password=False)


def write_mapper_config(path: Path, url: URL, kb_id: str) -> None:
    """km-mapper's config file: the ANSWER ``tree-heights`` on the ``trees`` table."""
    path.write_text(
        MAPPER_YAML.format(
            kb_id=json.dumps(kb_id),
            prefix=json.dumps(PREFIX),
            url=json.dumps(_without_password(url)),
            password=f"    password_env: {PASSWORD_ENV}\n" if url.password is not None else "",
            pattern=json.dumps(PATTERN),
            query=json.dumps(QUERY),
            template=json.dumps(TREES + "{id}"),
        )
    )


def write_legacy_config(path: Path, url: URL, kb_id: str, ke_url: str) -> None:
    """knowledge-mapper 0.0.24's config file for the same ANSWER (JSON, which JSON5 reads)."""
    config = {
        "knowledge_engine_endpoint": ke_url,
        "knowledge_base": {"id": kb_id, "name": "trees", "description": "The trees table."},
        "sql_host": url.host or "127.0.0.1",
        "sql_port": url.port or 3306,
        "sql_user": url.username,
        "sql_password": url.password or "",
        "sql_database": url.database,
        "knowledge_interactions": [
            {
                "type": "answer",
                "name": "tree-heights",
                "prefixes": {"ex": PREFIX},
                "pattern": PATTERN,
                "sql_query": QUERY,
                "column_prefixes": {"tree": TREES},
            }
        ],
    }
    path.write_text(json.dumps(config, indent=2))
    path.chmod(0o600)  # it holds the password, as knowledge-mapper 0.0.24's files do


@contextlib.asynccontextmanager
async def km_mapper(
    http: Http, workdir: Path, url: URL, kb_id: str, problems: list[str]
) -> AsyncIterator[Served]:
    """``km run mapper.yaml --ke-url URL --max-concurrent-handlers 10``, serving ``kb_id``."""
    config = workdir / f"mapper-{kb_id.rsplit('/', 1)[-1]}.yaml"
    write_mapper_config(config, url, kb_id)
    env = _environment(ours=True)
    if url.password is not None:
        env[PASSWORD_ENV] = url.password
    command = [
        *_km_command(),
        "run",
        str(config),
        *("--ke-url", http.url, "--max-concurrent-handlers", str(HANDLERS)),
    ]
    async with served(command, env, workdir, f"km run ({kb_id})", KM_READY, problems) as kb:
        yield kb


@contextlib.asynccontextmanager
async def legacy_mapper(
    python: Path, http: Http, workdir: Path, url: URL, kb_id: str, problems: list[str]
) -> AsyncIterator[Served]:
    """``python -m knowledge_mapper legacy.jsonc`` with ``KE_ENDPOINT``, serving ``kb_id``."""
    config = workdir / f"legacy-{kb_id.rsplit('/', 1)[-1]}.jsonc"
    write_legacy_config(config, url, kb_id, http.url)
    env = _environment(ours=False)
    env["KE_ENDPOINT"] = http.url
    command = [str(python), "-m", "knowledge_mapper", str(config)]
    what = f"{LEGACY_PACKAGE} ({kb_id})"
    async with served(command, env, workdir, what, LEGACY_READY, problems) as kb:
        yield kb


# ---------------------------------------------------------------- the asks


def _check(info: Any, kb_id: str, trees: Sequence[int], db: BenchDatabase) -> None:
    """One exchange, with ``kb_id``, that succeeded; the answer is exactly the trees' rows."""
    exchanges = info.exchange_info
    if len(exchanges) != 1 or exchanges[0].knowledge_base_id != kb_id:
        others = [e.knowledge_base_id for e in exchanges]
        raise RuntimeError(f"an ask reached {others}, not only {kb_id}")
    if exchanges[0].status != ExchangeStatus.SUCCEEDED:
        raise RuntimeError(f"an ask to {kb_id} failed: {exchanges[0]}")
    got = sorted(sorted(binding.items()) for binding in info.binding_set)
    wanted = sorted(sorted(db.expected(tree).items()) for tree in set(trees))
    if got != wanted:
        shown = [dict(b) for b in got[:3]]
        raise RuntimeError(
            f"{kb_id} answered {len(got)} bindings, not the {len(wanted)} rows asked for: "
            f"{shown}{' ...' if len(got) > 3 else ''} (wanted e.g. {dict(wanted[0])})"
        )


async def lookups(
    asker: KnowledgeBase, kb_id: str, trees: Sequence[int], db: BenchDatabase
) -> float:
    """Wall time of one ask per tree, gathered with at most IN_FLIGHT_ASKS in flight."""
    gate = asyncio.Semaphore(IN_FLIGHT_ASKS)

    async def one(tree: int) -> None:
        async with gate:
            info = await asker.ask_with_info(ASK, [{"tree": _tree_iri(tree)}])
        _check(info, kb_id, [tree], db)

    started = time.perf_counter()
    async with asyncio.timeout(BURST_TIMEOUT):
        await asyncio.gather(*(one(tree) for tree in trees))
    return time.perf_counter() - started


async def one_ask(
    asker: KnowledgeBase, kb_id: str, trees: Sequence[int], db: BenchDatabase
) -> float:
    """Wall time of one ask that binds every tree of ``trees``."""
    started = time.perf_counter()
    async with asyncio.timeout(BURST_TIMEOUT):
        info = await asker.ask_with_info(ASK, [{"tree": _tree_iri(tree)} for tree in trees])
    seconds = time.perf_counter() - started
    _check(info, kb_id, trees, db)
    return seconds


@dataclass
class Runs:
    """What one contender measured over the repetitions."""

    asks_per_s: list[float] = field(default_factory=list)
    many_bindings_s: list[float] = field(default_factory=list)
    cpu_ms_per_ask: list[float | None] = field(default_factory=list)

    def cpu(self) -> dict[str, Any] | None:
        """The spread of the answering process's CPU per ask; ``None`` where unknown."""
        known = [ms for ms in self.cpu_ms_per_ask if ms is not None]
        return spread(known) if known and len(known) == len(self.cpu_ms_per_ask) else None


async def _measure(
    asker: KnowledgeBase,
    kb: Served,
    kb_id: str,
    db: BenchDatabase,
    warmup: Sequence[int],
    trees: Sequence[int],
    many: Sequence[int],
    runs: Runs,
) -> None:
    """Warm up, time a burst of single-tree asks, then time one ask with many bindings.

    The answering process's CPU time over the burst, from ``/proc``, is taken too.
    """
    await lookups(asker, kb_id, warmup, db)
    before = process_cpu_s(kb.process.pid)
    seconds = await lookups(asker, kb_id, trees, db)
    after = process_cpu_s(kb.process.pid)
    runs.asks_per_s.append(len(trees) / seconds)
    cpu = None if before is None or after is None else (after - before) / len(trees) * 1000
    runs.cpu_ms_per_ask.append(cpu)
    runs.many_bindings_s.append(await one_ask(asker, kb_id, many, db))


# ---------------------------------------------------------------- the scenario


def _not_run(report: Report, why: str) -> None:
    report.scenarios["9_mapper_mariadb"] = {"skipped": why}
    report.rows.append(Row("9. km-mapper on MariaDB", f"not run: {why}".splitlines()[0], "-", None))


def _asker(http: Http) -> KnowledgeBase:
    """A KB with the ASK ``trees`` on the answer's pattern: on the engine itself when local."""
    engine = getattr(http.asker.client, "engine", None)
    if engine is not None:
        from km_testing import LocalEngineClient

        client: Any = LocalEngineClient(engine)
    else:
        from km_httpx import HttpxClient

        client = HttpxClient(http.url)
    kb = KnowledgeBase(
        id=http.kb("mapper-asker"), name="asker", description="scenario 9's asker", client=client
    )
    kb.ask_ki(ASK, PATTERN, prefixes={"ex": PREFIX})
    return kb


async def scenario_mapper(sizes: Sizes, report: Report, http: Http) -> None:
    """Scenario 9: km-mapper (N=10) against knowledge-mapper 0.0.24 on one MariaDB table."""
    if not sizes.mariadb_url:
        _not_run(report, f"no MariaDB: give --mariadb-url URL or set {MARIADB_SETTING}")
        return
    asker = _asker(http)
    try:
        async with bench_database(sizes.mariadb_url, sizes.mapper_rows) as db:
            legacy_skipped: str | None = None
            try:
                python: Path | None = await asyncio.to_thread(
                    ensure_legacy_sql_python, sizes.legacy_cache
                )
            except LegacyUnavailable as exc:
                python, legacy_skipped = None, str(exc)
            await start(asker)
            try:
                await _run(sizes, report, http, asker, db, python, legacy_skipped)
            finally:
                await finish(asker)
    except DatabaseUnavailable as exc:
        _not_run(report, str(exc))


async def _run(
    sizes: Sizes,
    report: Report,
    http: Http,
    asker: KnowledgeBase,
    db: BenchDatabase,
    python: Path | None,
    legacy_skipped: str | None,
) -> None:
    rows, asks, bindings = sizes.mapper_rows, sizes.mapper_asks, sizes.mapper_bindings
    rng = random.Random(SEED)
    warmup = [rng.randint(1, rows) for _ in range(WARMUP_ASKS)]
    trees = [rng.randint(1, rows) for _ in range(asks)]
    many = [rng.sample(range(1, rows + 1), min(bindings, rows)) for _ in range(sizes.repeat)]
    ours, legacy = Runs(), Runs()
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="km-bench-mapper-") as tmp:
        workdir = Path(tmp)
        for i in range(sizes.repeat):
            turns = ["ours", "legacy"] if i % 2 == 0 else ["legacy", "ours"]
            for turn in turns:
                if turn == "ours":
                    kb_id = http.kb(f"mapper-km-{i + 1}")
                    async with km_mapper(http, workdir, db.url, kb_id, problems) as kb:
                        await _measure(asker, kb, kb_id, db, warmup, trees, many[i], ours)
                elif python is not None:
                    kb_id = http.kb(f"mapper-legacy-{i + 1}")
                    async with legacy_mapper(python, http, workdir, db.url, kb_id, problems) as kb:
                        await _measure(asker, kb, kb_id, db, warmup, trees, many[i], legacy)
        counted = await _count_statements(http, workdir, db, asker, many, problems)

    results: dict[str, Any] = {
        "rows": rows,
        "asks": asks,
        "max_concurrent_handlers": HANDLERS,
        "in_flight_asks": IN_FLIGHT_ASKS,
        "km_mapper": {
            "asks_per_s": spread(ours.asks_per_s),
            "many_bindings_s": spread(ours.many_bindings_s),
            "cpu_ms_per_ask": ours.cpu(),
        },
        "many_bindings": counted,
        "stop_problems": problems,
    }
    our_rate = results["km_mapper"]["asks_per_s"]
    title = f"9. vs {LEGACY_PACKAGE}: ANSWER over {rows:,} rows on MariaDB, N={HANDLERS}"
    if python is None:
        results["legacy"] = {"skipped": legacy_skipped}
        report.rows.append(
            Row(
                title,
                f"km-mapper {fmt(our_rate, digits=0)} asks/s; legacy not run: "
                f"{legacy_skipped}".splitlines()[0],
                ">= 5x",
                None,
            )
        )
        legacy_many = ""
    else:
        legacy_rate = spread(legacy.asks_per_s)
        ratio = our_rate["median"] / legacy_rate["median"]
        results["legacy"] = {
            "package": LEGACY_PACKAGE,
            "asks_per_s": legacy_rate,
            "many_bindings_s": spread(legacy.many_bindings_s),
            "cpu_ms_per_ask": legacy.cpu(),
        }
        results["ratio"] = ratio
        report.rows.append(
            Row(
                title,
                f"{asks} asks of one tree each: km-mapper {fmt(our_rate, digits=0)} asks/s vs "
                f"legacy {fmt(legacy_rate, digits=0)} asks/s: {ratio:.1f}x",
                ">= 5x",
                ratio >= 5,
            )
        )
        legacy_many = f"; legacy {fmt(results['legacy']['many_bindings_s'], 1000, ' ms', 0)}"
    report.scenarios["9_mapper_mariadb"] = results
    statements, selects = counted["statements_per_ask"], counted["selects_per_ask"]
    others = sorted({verb for verbs in counted["commands_per_ask"] for verb in verbs} - {"SELECT"})
    report.rows.append(
        Row(
            f"9. an ANSWER with {bindings} incoming bindings, km-mapper on MariaDB",
            f"{_range(statements)} SQL statement per ask ({_range(selects)} SELECT), counted on "
            f"the wire over {len(statements)} asks (other commands: {', '.join(others) or '-'}); "
            f"MariaDB's server-wide Com_select +{_range(counted['com_select_delta'])}; answered "
            f"in {fmt(results['km_mapper']['many_bindings_s'], 1000, ' ms', 0)}{legacy_many}",
            "1 statement",
            all(count == 1 for count in statements) and all(count == 1 for count in selects),
        )
    )
    cpus = {
        name: results[key]["cpu_ms_per_ask"]
        for name, key in (("km-mapper", "km_mapper"), ("legacy", "legacy"))
        if results[key].get("cpu_ms_per_ask")
    }
    if cpus:
        report.rows.append(
            Row(
                "9. CPU of the answering process per ask (not the database's)",
                "; ".join(f"{name} {fmt(cpu, unit=' ms', digits=1)}" for name, cpu in cpus.items()),
                "(context)",
                None,
            )
        )


def _range(counts: Sequence[int]) -> str:
    low, high = min(counts), max(counts)
    return str(low) if low == high else f"{low}-{high}"


async def _count_statements(
    http: Http,
    workdir: Path,
    db: BenchDatabase,
    asker: KnowledgeBase,
    many: Sequence[Sequence[int]],
    problems: list[str],
) -> dict[str, Any]:
    """Through `WireTap`: the statements that km-mapper sends for each ask of many bindings."""
    kb_id = http.kb("mapper-km-counted")
    host, port = db.url.host or "127.0.0.1", db.url.port or 3306
    per_ask: list[list[Command]] = []
    com_select_delta: list[int] = []
    engine = create_async_engine(db.url, poolclass=NullPool)
    try:
        async with (
            WireTap(host, port) as tap,
            engine.connect() as status,
        ):
            tapped = db.url.set(host="127.0.0.1", port=tap.listen_port)
            async with km_mapper(http, workdir, tapped, kb_id, problems):
                await one_ask(asker, kb_id, many[0], db)  # its pool's first connections
                for trees in many:
                    mark, before = len(tap.commands), await com_select(status)
                    await one_ask(asker, kb_id, trees, db)
                    com_select_delta.append(await com_select(status) - before)
                    per_ask.append(tap.commands[mark:])
    finally:
        await engine.dispose()
    statements = [[c for c in commands if c.is_statement] for commands in per_ask]
    example = next((c.sql for c in statements[0] if c.is_select), "") if statements else ""
    return {
        "bindings": len(many[0]),
        "statements_per_ask": [len(s) for s in statements],
        "selects_per_ask": [sum(c.is_select for c in s) for s in statements],
        "commands_per_ask": [[c.verb for c in commands] for commands in per_ask],
        "statement": example[:400] + (" ..." if len(example) > 400 else ""),
        "statement_chars": len(example),
        "com_select_delta": com_select_delta,
    }
