"""Serving one interaction from a SQL database: `Answering` runs a query, `Reacting` statements.

Both accept only the variables of the interaction's pattern as binding keys: a binding with
any other key refuses the whole request (`SourceError`), so that nothing a requester names
ever reaches the SQL. Values are read by the variables' `TermCodec`, converted to the types of
the columns or parameters they meet (`_columns`), and always bound as parameters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from km_core import BindingSet
from km_mapper._config import AnswerInteraction, ReactInteraction
from km_mapper._errors import SourceError
from km_mapper._sources._base import Prepared
from km_mapper._terms import NoMatch, Value, codecs_for

from ._columns import UNKNOWN, ColumnType, column_types, fitted_row, parameter_types
from ._statements import answer_query, filtered, probe, react_statements

__all__ = ["Answering", "Reacting"]

logger = logging.getLogger(__name__)

_MAX_PARAMETERS = 10_000
"""Parameters per filtered query; more incoming values take more statements (databases cap
a statement's parameters at 32,767 or 65,535)."""


class _Serving:
    """What answering and reacting share: the interaction, its codecs, its checks."""

    def __init__(
        self, source: str, ki: Prepared, engine: Callable[[], AsyncEngine], out: Sequence[str]
    ) -> None:
        self._source = source
        self._ki = ki
        self._engine = engine
        self._codecs = codecs_for(ki.name, [*ki.variables, *ki.result_variables], ki.terms)
        self._out = out
        self._where = f"SQL source {source!r}, knowledge interaction {ki.name!r}"

    async def prepare(self, engine: AsyncEngine) -> None:
        """Learn the column or parameter types, and check the SQL, once the source is open."""
        async with engine.connect() as connection:
            await self._learn(connection)

    async def _learn(self, connection: AsyncConnection) -> None:
        raise NotImplementedError

    def _refuse_unknown_keys(self, binding_set: BindingSet) -> None:
        variables = set(self._ki.variables)
        for index, binding in enumerate(binding_set):
            unknown = [key for key in binding if key not in variables]
            if unknown:
                shown = ", ".join(repr(key[:60]) for key in unknown[:3])
                raise SourceError(
                    f"{self._where}: incoming binding {index + 1} has {shown}, which "
                    f"{'is' if len(unknown) == 1 else 'are'} not a variable of the graph "
                    f"pattern ({', '.join(self._ki.variables)}); the request is refused"
                )

    def _bindings(self, keys: Sequence[str], rows: Iterable[Sequence[Any]]) -> BindingSet:
        """Each row as a binding of the variables named by its columns; NULLs left out."""
        positions = _positions(self._out, keys)
        seen: set[tuple[tuple[str, str], ...]] = set()
        bindings: BindingSet = []
        for row in rows:
            binding = {}
            for variable, position in positions.items():
                try:
                    term = self._codecs[variable].to_term(row[position])
                except ValueError as exc:
                    raise SourceError(f"{self._where}: column {keys[position]!r}: {exc}") from None
                if term is not None:
                    binding[variable] = term
            key = tuple(binding.items())
            if binding and key not in seen:
                seen.add(key)
                bindings.append(binding)
        return bindings

    def _failed(self, what: str, exc: SQLAlchemyError) -> SourceError:
        reason = getattr(exc, "orig", None) or exc
        return SourceError(f"{self._where}: the {what} failed: {type(reason).__name__}: {reason}")


def _positions(variables: Sequence[str], keys: Sequence[str]) -> dict[str, int]:
    """Where each variable's column is: the one of its name, else of its name in any case.

    PostgreSQL folds unquoted names to lower case: ``AS treeId`` names the column ``treeid``.
    """
    exact = {key: index for index, key in enumerate(keys)}
    folded: dict[str, list[int]] = {}
    for index, key in enumerate(keys):
        folded.setdefault(key.casefold(), []).append(index)
    positions = {}
    for variable in variables:
        if variable in exact:
            positions[variable] = exact[variable]
        elif len(folded.get(variable.casefold(), ())) == 1:
            positions[variable] = folded[variable.casefold()][0]
    return positions


class Answering(_Serving):
    """Serves an ANSWER interaction with its ``query``.

    Without incoming bindings (or with an empty one) the query runs as it is. With bindings,
    one statement filters its result: ``SELECT * FROM (query) AS km_answer WHERE (col =
    :param AND ...) OR ...``; a binding with a value no row can have (an IRI that does not fit
    the template, text where numbers are) is left out, and without any left nothing is run.
    A variable that names no column of the result does not filter. Each result row becomes
    a binding of the variables that name its columns, NULLs left out, duplicates dropped.

    Raises:
        MapperConfigError: no query, a query with parameters, or unusable ``terms``.
    """

    def __init__(self, source: str, ki: Prepared, engine: Callable[[], AsyncEngine]) -> None:
        super().__init__(source, ki, engine, ki.variables)
        assert isinstance(ki.config, AnswerInteraction)
        self._query = answer_query(ki.name, ki.config.query)
        self._columns: dict[str, tuple[str, ColumnType]] | None = None
        """Each variable's column (its name in the result) and type, once probed."""
        self._names: list[str] = []

    async def _learn(self, connection: AsyncConnection) -> None:
        try:
            result = await connection.execute(probe(self._query))
        except SQLAlchemyError as exc:
            raise self._failed("query", exc) from exc
        self._names = list(result.keys())
        types = column_types(connection.dialect.name, result.cursor.description)
        positions = _positions(self._ki.variables, self._names)
        self._columns = {
            variable: (self._names[position], types[position] if types else UNKNOWN)
            for variable, position in positions.items()
        }
        missing = sorted(set(self._ki.variables) - set(positions))
        if missing:
            logger.warning(
                "%s: the query's result has no column for %s; they are never bound",
                self._where,
                ", ".join("?" + name for name in missing),
            )

    async def serve(self, binding_set: BindingSet) -> BindingSet:
        """Answer one handle request.

        Raises:
            SourceError: a binding key is not a variable of the pattern, or the query failed.
        """
        self._refuse_unknown_keys(binding_set)
        wanted = self._wanted(binding_set)
        if wanted is not None and not wanted:
            return []
        keys: list[str] = []
        rows: list[Any] = []
        try:
            async with self._engine().connect() as connection:
                statements: list[Any] = [text(self._query)]
                if wanted is not None:
                    if self._columns is None:
                        await self._learn(connection)
                    conditions = self._conditions(wanted, connection.dialect.name)
                    if conditions is not None:
                        statements = [
                            filtered(self._query, self._names, chunk)
                            for chunk in _chunks(conditions)
                        ]
                for statement in statements:
                    result = await connection.execute(statement)
                    keys = list(result.keys())
                    rows.extend(result.fetchall())
        except SQLAlchemyError as exc:
            raise self._failed("query", exc) from exc
        bindings = self._bindings(keys, rows)
        logger.debug("%s: %d bindings in, %d out", self._where, len(binding_set), len(bindings))
        return bindings

    def _wanted(self, binding_set: BindingSet) -> list[dict[str, Value]] | None:
        """The values each binding asks for; ``None`` when one asks for nothing (all rows)."""
        if not binding_set or any(not binding for binding in binding_set):
            return None
        wanted = []
        for index, binding in enumerate(binding_set):
            values = {}
            for variable, term in binding.items():
                value = self._codecs[variable].from_term(term)
                if isinstance(value, NoMatch):
                    logger.debug(
                        "%s: binding %d matches nothing: %s", self._where, index + 1, value.reason
                    )
                    break
                values[variable] = value
            else:
                wanted.append(values)
        return wanted

    def _conditions(
        self, wanted: list[dict[str, Value]], dialect: str
    ) -> list[dict[str, object]] | None:
        """The column conditions of the wanted values; ``None`` when one has none (all rows)."""
        assert self._columns is not None
        columns = self._columns
        conditions: dict[tuple[tuple[str, object], ...], dict[str, object]] = {}
        for values in wanted:
            found = {columns[name][0]: value for name, value in values.items() if name in columns}
            types = {columns[name][0]: columns[name][1] for name in values if name in columns}
            row = fitted_row(found, types, dialect)
            if isinstance(row, NoMatch):
                logger.debug("%s: a binding matches nothing: %s", self._where, row.reason)
                continue
            if not row:
                return None
            conditions.setdefault(tuple(row.items()), row)
        return list(conditions.values())


def _chunks(conditions: list[dict[str, object]]) -> Iterable[list[dict[str, object]]]:
    chunk: list[dict[str, object]] = []
    count = 0
    for condition in conditions:
        if chunk and count + len(condition) > _MAX_PARAMETERS:
            yield chunk
            chunk, count = [], 0
        chunk.append(condition)
        count += len(condition)
    if chunk:
        yield chunk


class Reacting(_Serving):
    """Serves a REACT interaction with its ``statements``, in one transaction per request.

    Each statement runs for every incoming binding, with the binding's values as its
    parameters (``:tree``; a variable the binding lacks is NULL): executed as one batch
    (``executemany``) when the interaction has no result pattern. With one, the statements
    run binding by binding, and the rows they return (a ``SELECT``, or ``RETURNING``) become
    the result bindings. Any failure rolls the whole request back; so does a value that
    cannot be what its parameter is (an IRI that does not fit the template).

    Raises:
        MapperConfigError: no statements, a parameter that is not an argument variable, or
            unusable ``terms``.
    """

    def __init__(self, source: str, ki: Prepared, engine: Callable[[], AsyncEngine]) -> None:
        super().__init__(source, ki, engine, ki.result_variables)
        assert isinstance(ki.config, ReactInteraction)
        self._statements = react_statements(ki.name, ki.config.statements, ki.variables)
        self._parameters = [list(s.compile().params) for s in self._statements]
        self._types: list[dict[str, ColumnType]] | None = None

    async def _learn(self, connection: AsyncConnection) -> None:
        types = []
        for index, statement in enumerate(self._statements):
            try:
                types.append(await parameter_types(connection, statement))
            except Exception as exc:  # the driver's own error: asyncpg prepares the statement
                raise SourceError(
                    f"{self._where}: statement {index + 1} is refused by the database: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
        self._types = types

    async def serve(self, binding_set: BindingSet) -> BindingSet:
        """React to one handle request: all statements, all bindings, one transaction.

        Raises:
            SourceError: a binding key is not an argument variable, a value cannot be bound,
                or a statement failed; nothing of the request is then kept.
        """
        self._refuse_unknown_keys(binding_set)
        if not binding_set:
            return []
        values = [self._values(index, binding) for index, binding in enumerate(binding_set)]
        try:
            async with self._engine().begin() as connection:
                if self._types is None:
                    await self._learn(connection)
                results = await self._run(connection, values)
        except SQLAlchemyError as exc:  # the transaction is rolled back
            raise self._failed("transaction", exc) from exc
        unique = list({tuple(binding.items()): binding for binding in results}.values())
        logger.debug(
            "%s: %d bindings in, all statements run, %d out",
            self._where,
            len(binding_set),
            len(unique),
        )
        return unique

    async def _run(
        self, connection: AsyncConnection, values: list[dict[str, Value | None]]
    ) -> BindingSet:
        """Run every statement for every binding; the bindings of the rows they return."""
        dialect = connection.dialect.name
        results: BindingSet = []
        for index, statement in enumerate(self._statements):
            batch = [self._row(index, value, dialect) for value in values]
            try:
                if self._ki.result_pattern is None:
                    await connection.execute(statement, batch)
                    continue
                for parameters in batch:
                    result = await connection.execute(statement, parameters)
                    if result.returns_rows:
                        results += self._bindings(list(result.keys()), result.fetchall())
            except SQLAlchemyError as exc:
                raise self._failed(f"statement {index + 1}", exc) from exc
        return results

    def _values(self, index: int, binding: Mapping[str, str]) -> dict[str, Value | None]:
        values: dict[str, Value | None] = dict.fromkeys(self._ki.variables)
        for variable, term in binding.items():
            value = self._codecs[variable].from_term(term)
            if isinstance(value, NoMatch):
                raise SourceError(
                    f"{self._where}: incoming binding {index + 1}, ?{variable}: {value.reason}; "
                    "the request is refused, nothing was changed"
                )
            values[variable] = value
        return values

    def _row(self, index: int, values: Mapping[str, Value | None], dialect: str) -> dict[str, Any]:
        assert self._types is not None
        names = self._parameters[index]
        given = {name: value for name in names if (value := values[name]) is not None}
        row = fitted_row(given, self._types[index], dialect)
        if isinstance(row, NoMatch):
            raise SourceError(
                f"{self._where}: statement {index + 1}: {row.reason}; the request is refused, "
                "nothing was changed"
            )
        return {name: row.get(name) for name in names}
