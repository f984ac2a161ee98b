"""What runs a SPARQL source's queries: a remote endpoint or the in-process store.

Both give a SELECT's solutions as the SPARQL 1.1 JSON results document, parsed, so that one
conversion (`._results`) serves both, and both raise `km_mapper.SourceError` naming the source.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Backend"]


class Backend(Protocol):
    """Runs SPARQL queries and updates; opened once, closed once."""

    @property
    def where(self) -> str:
        """Where the data is, for messages: the endpoint's URL or the store's file."""
        ...

    async def open(self, *, pool_size: int) -> None:
        """Connect and check, or load the file.

        Raises:
            SourceError: the endpoint cannot be reached or the file not read.
        """
        ...

    async def close(self) -> None:
        """Release what `open` took; harmless when not open."""
        ...

    async def select(self, query: str) -> object:
        """A SELECT's solutions, as the parsed SPARQL JSON results document.

        Raises:
            SourceError: the query failed; the message says where and why.
        """
        ...

    async def update(self, update: str) -> None:
        """Run an update.

        Raises:
            SourceError: the update failed; the message says where and why.
        """
        ...
