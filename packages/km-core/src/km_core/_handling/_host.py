"""What the handling loop reads from the knowledge base it serves, as a Protocol.

The loop never imports `KnowledgeBase`; it reads these attributes for each request, so a change
to one (``kb.error_policy = ...``) counts from the next request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from km_core._session import SessionHost

from ._policy import ErrorPolicy

__all__ = ["HandlingHost"]


class HandlingHost(SessionHost, Protocol):
    """A knowledge base as the handling loop sees it."""

    @property
    def error_policy(self) -> ErrorPolicy:
        """How a request that could not be served is answered."""
        ...

    @property
    def handler_timeout(self) -> float | None:
        """Seconds a handler may take, unless its interaction says otherwise."""
        ...

    @property
    def response_retry_period(self) -> float:
        """Seconds during which a response that could not be posted is tried again."""
        ...

    @property
    def dependency_overrides(self) -> dict[Callable[..., Any], Callable[..., Any]]:
        """Dependency factories and what to call instead."""
        ...
