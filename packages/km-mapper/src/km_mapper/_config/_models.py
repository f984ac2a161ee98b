"""The mapper's config file as pydantic models: the KE, the KB, its sources and interactions.

Every model forbids unknown keys, so a typo is an error that names the key, not a setting that
silently does nothing. Secrets never appear in the file: a source names the environment
variables that hold them (``password_env``, ``headers_env``), read when the source opens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "AnswerInteraction",
    "AskInteraction",
    "EngineSettings",
    "Interaction",
    "KnowledgeBaseSettings",
    "MapperConfig",
    "PostInteraction",
    "PythonSource",
    "ReactInteraction",
    "SourceConfig",
    "SparqlSource",
    "SqlSource",
    "TermMapping",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- the KE and the KB


class EngineSettings(_Model):
    """How to reach the Knowledge Engine and serve: the settings of ``km run``, by name.

    Flags and ``KM_*`` environment variables given to ``km run`` take precedence over these.
    """

    ke_url: str | None = None
    max_concurrent_handlers: int | None = Field(default=None, ge=1)
    grace_period: float | None = Field(default=None, ge=0)
    connect_wait: float | None = Field(default=None, ge=0)
    log_level: str | None = None
    access_log: bool | None = None
    insecure: bool | None = None
    headers_env: dict[str, str] = Field(default_factory=dict)
    """Extra headers for every request to the KE: header name to the environment variable that
    holds its value (a reverse proxy's token, say)."""


class KnowledgeBaseSettings(_Model):
    """The knowledge base: who it is, and how it answers what it cannot serve."""

    id: str
    name: str
    description: str = ""
    permitted: Literal["*"] | list[str] = "*"
    """Who may use an interaction that does not say: ``"*"`` or knowledge base ids."""
    policy: str | None = None
    """An authorization policy, ``package.module:function`` (see km-core's ``authorize=``)."""
    error_policy: Literal["empty_binding_set", "error_message"] = "empty_binding_set"
    handler_timeout: float | None = Field(default=None, gt=0)
    lease_renewal_time: int | None = None
    reasoner_level: int | None = None


# ---------------------------------------------------------------- sources


class SqlSource(_Model):
    """A database through SQLAlchemy 2 (async).

    ``url`` is an SQLAlchemy URL without the password, such as
    ``postgresql+asyncpg://trees@127.0.0.1:5432/trees``, ``mysql+aiomysql://...`` or
    ``sqlite+aiosqlite:///trees.db`` (the embedded default); the password comes from
    ``password_env``. The pool holds ``max_concurrent_handlers`` connections.
    """

    type: Literal["sql"]
    url: str
    password_env: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments for ``create_async_engine`` (``pool_recycle``, ``connect_args``, ...)."""


class SparqlSource(_Model):
    """A SPARQL 1.1 endpoint over HTTP, or an in-process store loaded from an RDF file.

    Exactly one of ``endpoint`` and ``file`` is given. ``update_endpoint`` defaults to
    ``endpoint``; credentials come from ``username_env`` and ``password_env`` (HTTP basic auth)
    or ``headers_env`` (header name to environment variable).
    """

    type: Literal["sparql"]
    endpoint: str | None = None
    update_endpoint: str | None = None
    file: Path | None = None
    """A Turtle (``.ttl``) or N-Triples (``.nt``) file for an in-process store."""
    username_env: str | None = None
    password_env: str | None = None
    headers_env: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _one_place(self) -> SparqlSource:
        if (self.endpoint is None) == (self.file is None):
            raise ValueError("give exactly one of 'endpoint' (a SPARQL server) and 'file'")
        return self


class PythonSource(_Model):
    """Code of yours, for what the SQL and SPARQL sources do not cover.

    ``object`` is ``package.module:name``: a class (made with ``args`` and ``kwargs``) or an
    object whose ``answer(interaction, binding_set)`` and ``react(interaction, binding_set)``
    methods (sync or async) serve the interactions, or a function ``(interaction, binding_set)``
    that serves them all.
    """

    type: Literal["python"]
    object: str
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)


SourceConfig = Annotated[SqlSource | SparqlSource | PythonSource, Field(discriminator="type")]


# ---------------------------------------------------------------- interactions


class TermMapping(_Model):
    """How the values of one variable are written as RDF terms, and read back.

    At most one of ``iri``, ``datatype`` and ``language``. Without any, a value's Python type
    decides (int: xsd:integer, Decimal: xsd:decimal, bool: xsd:boolean, date, datetime, str: a
    plain string literal).
    """

    iri: str | None = None
    """An IRI template with one ``{placeholder}`` for the value:
    ``http://example.org/trees/{id}``. Incoming IRIs that do not fit it match nothing."""
    datatype: str | None = None
    """A datatype IRI, full or prefixed (``xsd:date``)."""
    language: str | None = None
    """A language tag: the value is a string in that language."""

    @model_validator(mode="after")
    def _at_most_one(self) -> TermMapping:
        given = [name for name in ("iri", "datatype", "language") if getattr(self, name)]
        if len(given) > 1:
            raise ValueError(f"give at most one of 'iri', 'datatype' and 'language', not {given}")
        return self


class _Interaction(_Model):
    name: str
    prefixes: dict[str, str] = Field(default_factory=dict)
    """Added to (and overriding) the file's top-level prefixes."""


class _Handled(_Interaction):
    source: str | None = None
    """The source that serves it; default: the file's ``source``, or its only source."""
    permitted: Literal["*"] | list[str] | None = None
    timeout: float | None = Field(default=None, gt=0)
    terms: dict[str, TermMapping] = Field(default_factory=dict)
    """How each variable's values are written (and read back), by variable name."""


class AnswerInteraction(_Handled):
    """An ANSWER interaction and how its source answers it.

    For a SQL source, ``query`` is a SELECT whose result columns are the pattern's variables;
    for a SPARQL source, a SELECT is made from the pattern (or ``query`` is one of yours).
    """

    type: Literal["answer"]
    graph_pattern: str
    query: str | None = None


class ReactInteraction(_Handled):
    """A REACT interaction and how its source reacts.

    For a SQL source, ``statements`` run for each incoming binding, all in one transaction,
    with the variables as named parameters (``:tree``); for a SPARQL source, an INSERT DATA is
    made from the argument pattern (or ``update`` is one of yours).
    """

    type: Literal["react"]
    argument_graph_pattern: str
    result_graph_pattern: str | None = None
    statements: list[str] = Field(default_factory=list)
    update: str | None = None


class AskInteraction(_Interaction):
    """An ASK the KB declares, for a Python source to use."""

    type: Literal["ask"]
    graph_pattern: str
    knowledge_gaps_enabled: bool = False


class PostInteraction(_Interaction):
    """A POST the KB declares, for a Python source to use."""

    type: Literal["post"]
    argument_graph_pattern: str
    result_graph_pattern: str | None = None


Interaction = Annotated[
    AnswerInteraction | ReactInteraction | AskInteraction | PostInteraction,
    Field(discriminator="type"),
]


# ---------------------------------------------------------------- the file


class MapperConfig(_Model):
    """A whole mapper config file."""

    knowledge_engine: EngineSettings = Field(default_factory=EngineSettings)
    knowledge_base: KnowledgeBaseSettings
    prefixes: dict[str, str] = Field(default_factory=dict)
    sources: dict[str, SourceConfig]
    source: str | None = None
    """The source of interactions that do not name one."""
    knowledge_interactions: list[Interaction]

    @model_validator(mode="after")
    def _sources_exist(self) -> MapperConfig:
        if self.source is not None and self.source not in self.sources:
            raise ValueError(
                f"source {self.source!r} is not among the sources: {sorted(self.sources)}"
            )
        names = [ki.name for ki in self.knowledge_interactions]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"knowledge interaction names must be unique: {duplicates}")
        for ki in self.knowledge_interactions:
            if isinstance(ki, AnswerInteraction | ReactInteraction):
                self.source_of(ki)
        return self

    def source_of(self, ki: AnswerInteraction | ReactInteraction) -> str:
        """The name of the source that serves ``ki``.

        Raises:
            ValueError: it names no known source, or none while the file has several.
        """
        name = ki.source or self.source
        if name is None:
            if len(self.sources) == 1:
                return next(iter(self.sources))
            raise ValueError(
                f"knowledge interaction {ki.name!r} names no source, and the file has "
                f"{len(self.sources)}: give it 'source:', or give the file a default 'source:'"
            )
        if name not in self.sources:
            raise ValueError(
                f"knowledge interaction {ki.name!r}: source {name!r} is not among the sources: "
                f"{sorted(self.sources)}"
            )
        return name
