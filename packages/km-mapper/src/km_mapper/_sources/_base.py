"""What every source is: opened once, closed once, and asked to serve prepared interactions.

A `Source` turns each ANSWER or REACT interaction it serves into a `Serve` function when the
knowledge base is built, so that a mistake in a query or a mapping fails at startup; the
function then runs per handle request, concurrently with others, on the KB's handling loop.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence

from km_core import BindingSet
from km_core.patterns import GraphPattern
from km_mapper._config import AnswerInteraction, ReactInteraction, TermMapping

__all__ = ["Prepared", "Serve", "Source"]

Serve = Callable[[BindingSet], Awaitable[BindingSet]]
"""Serves one handle request: the incoming binding set in, the answering binding set out."""


@dataclasses.dataclass(frozen=True, slots=True)
class Prepared:
    """An ANSWER or REACT interaction of the config, with its patterns parsed.

    Attributes:
        config: The interaction as the file gives it.
        prefixes: The file's prefixes with the interaction's own on top.
        pattern: The graph pattern (an ANSWER's) or the argument pattern (a REACT's).
        result_pattern: A REACT's result pattern, if it has one.
        variables: The pattern's variables, sorted: the only binding keys accepted.
        result_variables: The result pattern's variables, sorted.
        terms: How each variable's values are written, with prefixed datatypes expanded.
    """

    config: AnswerInteraction | ReactInteraction
    prefixes: Mapping[str, str]
    pattern: GraphPattern
    result_pattern: GraphPattern | None
    variables: Sequence[str]
    result_variables: Sequence[str]
    terms: Mapping[str, TermMapping]

    @property
    def name(self) -> str:
        """The interaction's name."""
        return self.config.name


class Source(abc.ABC):
    """A data source: a database, a SPARQL store, or code of yours."""

    name: str
    """The source's name in the config file, for messages and log lines."""

    @abc.abstractmethod
    async def open(self, *, pool_size: int) -> None:
        """Connect (and check the connection); ``pool_size`` is the KB's handler bound.

        Raises:
            SourceError: the source cannot be reached; the message says which and why.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections and pools; harmless when not open."""

    @abc.abstractmethod
    def answerer(self, ki: Prepared) -> Serve:
        """The function that serves an ANSWER interaction.

        Raises:
            MapperConfigError: the interaction's settings do not fit this source.
        """

    @abc.abstractmethod
    def reactor(self, ki: Prepared) -> Serve:
        """The function that serves a REACT interaction.

        Raises:
            MapperConfigError: the interaction's settings do not fit this source.
        """
