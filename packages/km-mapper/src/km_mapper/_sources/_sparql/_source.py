"""The SPARQL `Source`: an endpoint over HTTP, or an in-process store loaded from a file.

Each ANSWER and REACT interaction is prepared when the knowledge base is built (a configured
query or update is parsed then, so that a mistake in one fails at startup); each handle request
then checks its bindings, builds one query or update (`._queries`) and sends it: one request to
the store per handle request. A REACT returns no result bindings (an empty binding set), with or
without a result pattern.
"""

from __future__ import annotations

import logging
from pathlib import Path

from km_core import BindingSet
from km_mapper._config import AnswerInteraction, ReactInteraction, SparqlSource
from km_mapper._errors import MapperConfigError, SourceError
from km_mapper._sources._base import Prepared, Serve, Source

from ._backend import Backend
from ._checks import check_select, check_update
from ._queries import BindingReader, InsertData, Select, UpdateTemplate
from ._remote import RemoteEndpoint
from ._results import read_solutions
from ._store import InProcessStore

__all__ = ["SparqlDataSource"]

logger = logging.getLogger(__name__)

_ENDPOINT_ONLY = ("update_endpoint", "username_env", "password_env", "headers_env")


class SparqlDataSource(Source):
    """Serves interactions from a SPARQL 1.1 endpoint, or from an RDF file loaded in memory.

    With ``endpoint``, queries and updates go over the SPARQL 1.1 protocol (`RemoteEndpoint`);
    with ``file``, to a pyoxigraph store loaded from it (`InProcessStore`), whose updates are
    not written back to the file.

    Args:
        name: The source's name in the config file.
        config: Its settings.
        root: The directory a relative ``file`` is read from (the config file's, say); default:
            the working directory.

    Raises:
        MapperConfigError: settings that do not fit together, such as credentials for a file.
    """

    def __init__(self, name: str, config: SparqlSource, *, root: Path | None = None) -> None:
        self.name = name
        self._backend: Backend
        if config.endpoint is not None:
            self._backend = RemoteEndpoint(
                name,
                endpoint=config.endpoint,
                update_endpoint=config.update_endpoint,
                timeout=config.timeout,
                username_env=config.username_env,
                password_env=config.password_env,
                headers_env=config.headers_env,
            )
            return
        assert config.file is not None  # the model holds exactly one of the two
        given = [key for key in _ENDPOINT_ONLY if getattr(config, key)]
        if given:
            raise MapperConfigError(
                f"SPARQL source {name!r}: {', '.join(given)} apply to an 'endpoint', and this "
                "source reads a 'file': remove them"
            )
        path = config.file if root is None or config.file.is_absolute() else root / config.file
        self._backend = InProcessStore(name, path)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}: {self._backend.where}>"

    async def open(self, *, pool_size: int) -> None:
        """Check the endpoint with ``ASK {}``, or load the file.

        Raises:
            SourceError: the endpoint cannot be reached, or the file not read.
            MapperConfigError: an environment variable named for a credential is not set.
        """
        await self._backend.open(pool_size=pool_size)

    async def close(self) -> None:
        """Close the HTTP client, or drop the in-memory store."""
        await self._backend.close()

    def answerer(self, ki: Prepared) -> Serve:
        """The function that serves an ANSWER interaction with a SELECT.

        Raises:
            MapperConfigError: ``ki`` is no ANSWER, has ``terms``, or its ``query`` is not a
                SELECT of the pattern's variables that takes a trailing VALUES clause.
        """
        config = ki.config
        if not isinstance(config, AnswerInteraction):
            raise self._misfit(ki, "it is not an ANSWER interaction")
        self._check_no_terms(ki)
        variables = tuple(ki.variables)
        if config.query is None:
            select = Select.from_pattern(ki.pattern.triples, variables)
        else:
            try:
                check_select(config.query, ki.prefixes, variables)
            except ValueError as exc:
                raise self._misfit(ki, f"query: {exc}") from None
            select = Select.from_query(config.query, ki.prefixes, variables)
        reader = BindingReader(ki.name, variables, complete=False)
        backend = self._backend

        async def answer(binding_set: BindingSet) -> BindingSet:
            query = select.build(reader.read(binding_set))
            logger.debug("SPARQL source %r, interaction %r: query\n%s", self.name, ki.name, query)
            document = await backend.select(query)
            try:
                solutions = read_solutions(document, variables)
            except ValueError as exc:
                raise SourceError(
                    f"SPARQL source {self.name!r}: {backend.where} answered the query of "
                    f"knowledge interaction {ki.name!r} with unreadable results: {exc}"
                ) from None
            if solutions.left_out:
                logger.warning(
                    "SPARQL source %r, interaction %r: left out %d solution(s) holding a blank "
                    "node or another term the Knowledge Engine cannot take (in %s)",
                    self.name,
                    ki.name,
                    solutions.left_out,
                    ", ".join(f"?{name}" for name in sorted(solutions.variables)),
                )
            return solutions.bindings

        return answer

    def reactor(self, ki: Prepared) -> Serve:
        """The function that serves a REACT interaction with an update; it answers ``[]``.

        Raises:
            MapperConfigError: ``ki`` is no REACT, has ``terms`` or ``statements``, or its
                ``update`` lacks its ``# values`` line or does not parse.
        """
        config = ki.config
        if not isinstance(config, ReactInteraction):
            raise self._misfit(ki, "it is not a REACT interaction")
        self._check_no_terms(ki)
        if config.statements:
            raise self._misfit(
                ki, "'statements' are for SQL sources; a SPARQL source runs an 'update'"
            )
        variables = tuple(ki.variables)
        builder: InsertData | UpdateTemplate
        if config.update is None:
            builder = InsertData(ki.pattern.triples, ki.name)
        else:
            try:
                check_update(config.update, ki.prefixes, variables)
                builder = UpdateTemplate.parse(config.update, ki.prefixes, variables)
            except ValueError as exc:
                raise self._misfit(ki, f"update: {exc}") from None
        reader = BindingReader(ki.name, variables, complete=True)
        backend = self._backend

        async def react(binding_set: BindingSet) -> BindingSet:
            update = builder.build(reader.read(binding_set))
            if update is not None:
                logger.debug(
                    "SPARQL source %r, interaction %r: update\n%s", self.name, ki.name, update
                )
                await backend.update(update)
            return []

        return react

    def _check_no_terms(self, ki: Prepared) -> None:
        if ki.config.terms:
            raise self._misfit(
                ki,
                "'terms' are for SQL sources; a SPARQL source takes and gives RDF terms as "
                "they are: remove 'terms'",
            )

    def _misfit(self, ki: Prepared, problem: str) -> MapperConfigError:
        return MapperConfigError(
            f"knowledge interaction {ki.name!r} (served by SPARQL source {self.name!r}): {problem}"
        )
