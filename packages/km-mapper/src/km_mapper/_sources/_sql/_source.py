"""`SqlDatabase`: a SQL source on SQLAlchemy 2's asyncio engine, its pool and its password.

The engine is made when the source opens: its URL is the file's, with the password read from
the environment variable ``password_env`` names; its pool holds as many connections as the
knowledge base runs handlers (``pool_size``), and checks each one before lending it
(``pool_pre_ping``), so a restarted database costs one failed check, not a failed request.
The password is never written anywhere: URLs are shown with ``***`` in its place, and driver
messages have it cut out.
"""

from __future__ import annotations

import logging
import os
from typing import Any
from urllib.parse import quote, quote_plus

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from km_mapper._config import AnswerInteraction, ReactInteraction, SqlSource
from km_mapper._errors import MapperConfigError, SourceError
from km_mapper._sources._base import Prepared, Serve, Source

from ._serving import Answering, Reacting

__all__ = ["SqlDatabase"]

logger = logging.getLogger(__name__)

_ASYNC_DRIVERS = "postgresql+asyncpg://, mysql+aiomysql:// or sqlite+aiosqlite://"


class SqlDatabase(Source):
    """A database through SQLAlchemy 2 (async): PostgreSQL, MariaDB, MySQL or SQLite.

    An ANSWER interaction runs its ``query``, filtered by the incoming bindings in one
    statement; a REACT interaction runs its ``statements`` for every incoming binding, all in
    one transaction. See `Answering` and `Reacting`.

    Args:
        name: The source's name in the config file.
        config: Its settings.

    Raises:
        MapperConfigError: the URL is not an SQLAlchemy URL of an async driver, or holds a
            password (that belongs in the environment variable ``password_env`` names).
    """

    def __init__(self, name: str, config: SqlSource) -> None:
        self.name = name
        self._config = config
        self._url = _checked_url(name, config)
        self._engine: AsyncEngine | None = None
        self._plans: list[Answering | Reacting] = []

    def __repr__(self) -> str:
        return f"SqlDatabase({self.name!r}, {self.url!r})"

    @property
    def url(self) -> str:
        """The database's URL, with ``***`` for any password."""
        return self._url.render_as_string(hide_password=True)

    @property
    def engine(self) -> AsyncEngine:
        """The SQLAlchemy engine, while the source is open.

        Raises:
            SourceError: the source is not open.
        """
        if self._engine is None:
            raise SourceError(f"SQL source {self.name!r} is not open: open() it first")
        return self._engine

    async def open(self, *, pool_size: int) -> None:
        """Make the engine, check the connection, and check the queries and statements.

        Args:
            pool_size: The most connections the pool holds: the KB's handler bound.

        Raises:
            SourceError: the database cannot be reached, refuses the login, or refuses a
                query or statement; the message names the source and the reason, never the
                password.
            RuntimeError: the source is open already.
        """
        if self._engine is not None:
            raise RuntimeError(f"SQL source {self.name!r} is open already")
        password = self._password()
        url = self._url if password is None else self._url.set(password=password)
        options: dict[str, Any] = {"pool_pre_ping": True}
        if not _memory_database(url):  # one in-memory SQLite database has one connection
            options |= {"pool_size": pool_size, "max_overflow": 0}
        options |= self._config.options
        try:
            engine = create_async_engine(url, **options)
        except (ArgumentError, TypeError, ValueError) as exc:
            raise MapperConfigError(
                f"SQL source {self.name!r}: no engine can be made of its url and options: "
                f"{_scrubbed(exc, password)}",
                key=f"sources.{self.name}.options",
            ) from None
        try:
            await self._check(engine, password)
            for plan in self._plans:
                await plan.prepare(engine)
        except BaseException:
            await engine.dispose()
            raise
        self._engine = engine
        logger.info("SQL source %r: connected to %s (pool of %d)", self.name, self.url, pool_size)

    async def _check(self, engine: AsyncEngine, password: str | None) -> None:
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as exc:
            reason = _scrubbed(getattr(exc, "orig", None) or exc, password)
            raise SourceError(
                f"SQL source {self.name!r} cannot connect to {self.url}: {reason}. Check that "
                "the database runs and is reachable, and the user and password"
                + (f" (in ${self._config.password_env})" if self._config.password_env else "")
            ) from None

    def _password(self) -> str | None:
        variable = self._config.password_env
        if variable is None:
            return None
        password = os.environ.get(variable)
        if password is None:
            raise SourceError(
                f"SQL source {self.name!r}: the environment variable {variable!r} "
                "(password_env) is not set; set it to the database password"
            )
        return password

    async def close(self) -> None:
        """Close the pool's connections; harmless when not open."""
        engine, self._engine = self._engine, None
        if engine is not None:
            await engine.dispose()
            logger.info("SQL source %r: closed", self.name)

    def answerer(self, ki: Prepared) -> Serve:
        """The function that serves an ANSWER interaction with its ``query``.

        Raises:
            MapperConfigError: the interaction has no query, a query with parameters, or
                ``terms`` that cannot be used.
        """
        if not isinstance(ki.config, AnswerInteraction):
            raise MapperConfigError(f"knowledge interaction {ki.name!r} is not an ANSWER")
        plan = Answering(self.name, ki, lambda: self.engine)
        self._plans.append(plan)
        return plan.serve

    def reactor(self, ki: Prepared) -> Serve:
        """The function that serves a REACT interaction with its ``statements``.

        Raises:
            MapperConfigError: the interaction has no statements, a parameter that is not a
                variable of its argument pattern, an ``update`` (SPARQL's), or ``terms`` that
                cannot be used.
        """
        if not isinstance(ki.config, ReactInteraction):
            raise MapperConfigError(f"knowledge interaction {ki.name!r} is not a REACT")
        if ki.config.update is not None:
            raise MapperConfigError(
                f"knowledge interaction {ki.name!r}: 'update' is for SPARQL sources; SQL source "
                f"{self.name!r} runs 'statements'",
                key="update",
            )
        plan = Reacting(self.name, ki, lambda: self.engine)
        self._plans.append(plan)
        return plan.serve


def _checked_url(name: str, config: SqlSource) -> URL:
    key = f"sources.{name}.url"
    try:
        url = make_url(config.url)
    except ArgumentError:
        raise MapperConfigError(
            f"SQL source {name!r}: the url is not an SQLAlchemy URL, such as "
            "postgresql+asyncpg://user@host:5432/database",
            key=key,
        ) from None
    shown = url.render_as_string(hide_password=True)
    if url.password is not None:
        raise MapperConfigError(
            f"SQL source {name!r}: the url {shown} holds a password; take it out, put the "
            "password in an environment variable, and name that variable in 'password_env'",
            key=key,
        )
    try:
        is_async = bool(url.get_dialect().is_async)
    except NoSuchModuleError:
        is_async = False
    if not is_async:
        raise MapperConfigError(
            f"SQL source {name!r}: {shown} does not name an async driver; use {_ASYNC_DRIVERS}",
            key=key,
        )
    return url


def _memory_database(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and (
        url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"
    )


def _scrubbed(error: object, password: str | None) -> str:
    """An error's message, with the password cut out should a driver have quoted it."""
    message = f"{type(error).__name__}: {error}".strip()
    if password:
        for spelling in (password, quote_plus(password), quote(password, safe="")):
            message = message.replace(spelling, "***")
    return message
