"""The mapper's exceptions: a config that cannot be used, a source that fails."""

from __future__ import annotations

from km_core import ConfigurationError, KnowledgeMapperError

__all__ = ["MapperConfigError", "SourceError"]


class MapperConfigError(ConfigurationError):
    """A config file that cannot be used; the message names the file, the line and the key.

    Attributes:
        path: The file, when the error is about one.
        line: Its line (1-based), when known.
        key: The dotted key, such as ``knowledge_interactions[2].query``, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        where = ""
        if path is not None:
            where = path if line is None else f"{path}, line {line}"
            where += ": "
        if key is not None:
            where += f"{key}: "
        super().__init__(f"{where}{message}")
        self.path = path
        self.line = line
        self.key = key


class SourceError(KnowledgeMapperError):
    """A source could not do what was asked (unreachable, refused, or a failed statement).

    The message names the source and what failed, never a password or a header's value.
    """
