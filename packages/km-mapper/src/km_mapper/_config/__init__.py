"""The config file: its models, and reading it with errors that name the line.

``_models`` holds the pydantic models; ``_loading`` reads YAML, TOML and JSON files, with
``_locating`` finding the line of a key and ``_messages`` saying what is wrong in plain words.
"""

from ._loading import load_config
from ._models import (
    AnswerInteraction,
    AskInteraction,
    EngineSettings,
    Interaction,
    KnowledgeBaseSettings,
    MapperConfig,
    PostInteraction,
    PythonSource,
    ReactInteraction,
    SourceConfig,
    SparqlSource,
    SqlSource,
    TermMapping,
)

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
    "load_config",
]
