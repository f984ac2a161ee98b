"""What the session reads from the knowledge base it works for, as a Protocol.

The session never imports `KnowledgeBase`; it reads these attributes when it needs them, so a
change to one (``kb.poll_backoff = ...``) counts from the next call.
"""

from __future__ import annotations

from typing import Protocol

from km_core._backoff import Backoff
from km_core._models import KnowledgeBaseInfo
from km_core._protocol import ClientProtocol

__all__ = ["SessionHost"]


class SessionHost(Protocol):
    """A knowledge base as the session sees it."""

    @property
    def id(self) -> str:
        """The KB's id."""
        ...

    @property
    def name(self) -> str:
        """The KB's name."""
        ...

    @property
    def client(self) -> ClientProtocol:
        """The transport."""
        ...

    @property
    def poll_backoff(self) -> Backoff:
        """The backoff of every retry."""
        ...

    @property
    def lease_renewal_time(self) -> int | None:
        """The lease, in seconds; ``None``: no lease."""
        ...

    def info(self) -> KnowledgeBaseInfo:
        """The KB's registration body."""
        ...
