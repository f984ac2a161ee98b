"""Building the knowledge base a config describes: its interactions, sources and rules.

`build_knowledge_base` declares each interaction on a km-core `KnowledgeBase`, with a handler
that hands the request to the interaction's source, and gives the KB a lifespan that opens
every source before the first poll and closes them after the last answer. Every mistake a
source can see without connecting (a missing query, an unknown parameter) fails here, before
anything is served.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from km_core import BindingSet, ClientProtocol, ErrorPolicy, KnowledgeBase
from km_core.patterns import GraphPattern, parse_graph_pattern
from km_core.terms import XSD

from ._config import (
    AnswerInteraction,
    AskInteraction,
    MapperConfig,
    PostInteraction,
    ReactInteraction,
    TermMapping,
)
from ._errors import MapperConfigError
from ._imports import import_object
from ._sources import Prepared, Serve, Source, make_source

__all__ = ["DEFAULT_POOL_SIZE", "build_knowledge_base", "prepare"]

logger = logging.getLogger("km_mapper")

DEFAULT_POOL_SIZE = 10
"""Connections per source when the config does not set ``max_concurrent_handlers``."""


def _expand(datatype: str, prefixes: Mapping[str, str], where: str) -> str:
    """A datatype written ``xsd:date`` or in full, as a full IRI."""
    if datatype.startswith(("http://", "https://", "urn:")):
        return datatype
    prefix, sep, local = datatype.partition(":")
    if sep and prefix in prefixes:
        return prefixes[prefix] + local
    if sep and prefix == "xsd":
        return XSD + local
    raise MapperConfigError(
        f"{where}: datatype {datatype!r} is neither a full IRI nor prefixed with a known prefix"
    )


def _pattern(text: str, prefixes: Mapping[str, str], where: str) -> GraphPattern:
    try:
        return parse_graph_pattern(text, prefixes)
    except ValueError as exc:  # GraphPatternError is a ConfigurationError, a ValueError
        raise MapperConfigError(f"{where}: {exc}") from exc


def prepare(ki: AnswerInteraction | ReactInteraction, prefixes: Mapping[str, str]) -> Prepared:
    """An interaction of the config with its patterns parsed and its term mappings checked.

    Raises:
        MapperConfigError: a pattern does not parse, or a term mapping names no variable.
    """
    where = f"knowledge interaction {ki.name!r}"
    if isinstance(ki, AnswerInteraction):
        pattern = _pattern(ki.graph_pattern, prefixes, where)
        result = None
    else:
        pattern = _pattern(ki.argument_graph_pattern, prefixes, where)
        result = (
            _pattern(ki.result_graph_pattern, prefixes, where) if ki.result_graph_pattern else None
        )
    known = set(pattern.variables) | (set(result.variables) if result else set())
    terms: dict[str, TermMapping] = {}
    for variable, mapping in ki.terms.items():
        if variable not in known:
            raise MapperConfigError(
                f"{where}: terms names {variable!r}, which is not a variable of its pattern; "
                f"the variables are {sorted(known)}"
            )
        if mapping.datatype:
            mapping = mapping.model_copy(
                update={"datatype": _expand(mapping.datatype, prefixes, where)}
            )
        terms[variable] = mapping
    return Prepared(
        config=ki,
        prefixes=dict(prefixes),
        pattern=pattern,
        result_pattern=result,
        variables=sorted(pattern.variables),
        result_variables=sorted(result.variables) if result else [],
        terms=terms,
    )


def _handler(serve: Serve) -> Callable[[BindingSet], Any]:
    """A km-core handler that hands the request's binding set to ``serve``."""

    async def handle(binding_set: BindingSet) -> BindingSet:
        return await serve(binding_set)

    return handle


def _lifespan(
    sources: Mapping[str, Source], pool_size: int
) -> Callable[[KnowledgeBase], contextlib.AbstractAsyncContextManager[None]]:
    """Open every source when the KB starts serving; close them all when it stops."""

    @contextlib.asynccontextmanager
    async def lifespan(kb: KnowledgeBase) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for name, source in sources.items():
                await source.open(pool_size=pool_size)
                stack.push_async_callback(source.close)
                logger.info("knowledge base %s: source %r is open", kb.id, name)
            yield

    return lifespan


def build_knowledge_base(
    config: MapperConfig,
    *,
    client: ClientProtocol | None = None,
    pool_size: int | None = None,
) -> KnowledgeBase:
    """The knowledge base ``config`` describes, ready to serve.

    Args:
        config: The loaded config.
        client: The transport; ``km run`` supplies one when left out.
        pool_size: Connections per source; by default the config's
            ``knowledge_engine.max_concurrent_handlers`` (10 when unset).

    Raises:
        MapperConfigError: an interaction, a source or the policy cannot be used.
    """
    settings = config.knowledge_base
    size = pool_size or config.knowledge_engine.max_concurrent_handlers or DEFAULT_POOL_SIZE
    sources = {name: make_source(name, source) for name, source in config.sources.items()}
    policy = (
        import_object(settings.policy, what="knowledge_base.policy") if settings.policy else None
    )
    kb = KnowledgeBase(
        id=settings.id,
        name=settings.name,
        description=settings.description,
        client=client,
        permitted=settings.permitted,
        authorize=policy,
        error_policy=ErrorPolicy(settings.error_policy),
        handler_timeout=settings.handler_timeout,
        lease_renewal_time=settings.lease_renewal_time,
        reasoner_level=settings.reasoner_level,
        lifespan=_lifespan(sources, size),
    )
    for ki in config.knowledge_interactions:
        prefixes = {**config.prefixes, **ki.prefixes}
        if isinstance(ki, AskInteraction):
            kb.ask_ki(
                ki.name,
                ki.graph_pattern,
                prefixes=prefixes,
                knowledge_gaps_enabled=ki.knowledge_gaps_enabled,
            )
        elif isinstance(ki, PostInteraction):
            kb.post_ki(
                ki.name, ki.argument_graph_pattern, ki.result_graph_pattern, prefixes=prefixes
            )
        else:
            source = sources[config.source_of(ki)]
            prepared = prepare(ki, prefixes)
            if isinstance(ki, AnswerInteraction):
                kb.answer_ki(
                    ki.name,
                    ki.graph_pattern,
                    prefixes=prefixes,
                    permitted=ki.permitted,
                    timeout=ki.timeout,
                )(_handler(source.answerer(prepared)))
            else:
                kb.react_ki(
                    ki.name,
                    ki.argument_graph_pattern,
                    ki.result_graph_pattern,
                    prefixes=prefixes,
                    permitted=ki.permitted,
                    timeout=ki.timeout,
                )(_handler(source.reactor(prepared)))
    return kb
