"""An in-process SPARQL store: pyoxigraph, in memory, loaded from an RDF file when it opens.

The file is Turtle (``.ttl``) or N-Triples (``.nt``), by its suffix, and goes into the default
graph. Queries and updates run in worker threads of the store's own (one per handler the KB
runs, so that the event loop is never blocked and the process-wide pool is left alone).
Updates change the store in memory only: nothing is written back to the file, and a restart
starts again from the file.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pyoxigraph

from km_mapper._errors import MapperConfigError, SourceError

__all__ = ["InProcessStore"]

logger = logging.getLogger(__name__)

_FORMATS = {".ttl": pyoxigraph.RdfFormat.TURTLE, ".nt": pyoxigraph.RdfFormat.N_TRIPLES}

T = TypeVar("T")


class InProcessStore:
    """A pyoxigraph store in memory, loaded from a Turtle or N-Triples file.

    Args:
        source: The source's name, for messages.
        file: The file to load when the store opens.

    Raises:
        MapperConfigError: the file's suffix is neither ``.ttl`` nor ``.nt``.
    """

    def __init__(self, source: str, file: Path) -> None:
        self._source = source
        self._file = file
        self._format = _FORMATS.get(file.suffix.lower())
        if self._format is None:
            raise MapperConfigError(
                f"SPARQL source {source!r}: file {str(file)!r} is neither Turtle ('.ttl') nor "
                "N-Triples ('.nt'); convert it to one of them, or name it by its format"
            )
        self._store: pyoxigraph.Store | None = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def where(self) -> str:
        """The file the store was loaded from."""
        return f"the in-process store of {str(self._file)!r}"

    async def open(self, *, pool_size: int) -> None:
        """Load the file into a new store.

        Raises:
            SourceError: the file cannot be read, or does not parse; the message names the
                file and, for a syntax error, the line.
        """
        await self.close()
        self._executor = ThreadPoolExecutor(
            max_workers=pool_size, thread_name_prefix=f"km-sparql-{self._source}"
        )
        store = pyoxigraph.Store()
        try:
            await self._run(store.load, path=self._file, format=self._format)
        except SyntaxError as exc:
            line = "" if exc.lineno is None else f", line {exc.lineno}"
            await self.close()
            raise SourceError(
                f"SPARQL source {self._source!r}: {str(self._file)!r}{line}: {exc.msg}"
            ) from None
        except OSError as exc:
            await self.close()
            raise SourceError(
                f"SPARQL source {self._source!r}: cannot read {str(self._file)!r}: "
                f"{exc.strerror or exc}"
            ) from None
        self._store = store
        logger.debug(
            "SPARQL source %r: loaded %d triples from %s", self._source, len(store), self._file
        )

    async def close(self) -> None:
        """Drop the store; work still running in its threads finishes on its own."""
        executor, self._executor = self._executor, None
        self._store = None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    async def select(self, query: str) -> object:
        """Run a query in a worker thread; its results as a parsed SPARQL JSON document."""
        return await self._call(_select_json, query, "a query")

    async def update(self, update: str) -> None:
        """Run an update in a worker thread; the file is left as it is."""
        await self._call(pyoxigraph.Store.update, update, "an update")

    async def _call(
        self, function: Callable[[pyoxigraph.Store, str], T], text: str, what: str
    ) -> T:
        store, executor = self._store, self._executor
        if store is None or executor is None:
            raise SourceError(f"SPARQL source {self._source!r} is not open (or closed already)")
        try:
            return await self._run(function, store, text, executor=executor)
        except (SyntaxError, OSError, ValueError) as exc:
            reason = exc.msg if isinstance(exc, SyntaxError) else str(exc)
            raise SourceError(
                f"SPARQL source {self._source!r}: {self.where} refused {what}: {reason}"
            ) from None
        except RuntimeError:
            if self._executor is executor:
                raise
            # The store closed (its executor shut down) between the check and the call.
            raise SourceError(f"SPARQL source {self._source!r} closed during {what}") from None

    async def _run(
        self,
        function: Callable[..., T],
        *args: object,
        executor: ThreadPoolExecutor | None = None,
        **kwargs: object,
    ) -> T:
        loop = asyncio.get_running_loop()
        call = functools.partial(function, *args, **kwargs)
        return await loop.run_in_executor(executor or self._executor, call)


def _select_json(store: pyoxigraph.Store, query: str) -> object:
    result = store.query(query)
    if isinstance(result, pyoxigraph.QueryTriples):
        raise ValueError("a CONSTRUCT or DESCRIBE query gives triples, not solutions")
    serialized = result.serialize(format=pyoxigraph.QueryResultsFormat.JSON)
    return json.loads(serialized or b"{}")
