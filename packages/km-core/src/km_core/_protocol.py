"""The one interface between a KnowledgeBase and the Knowledge Engine it talks to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ._models import (
    AskResult,
    BindingSet,
    HandleRequest,
    HandleResponse,
    KnowledgeBaseInfo,
    KnowledgeInteractionInfo,
    KnowledgeInteractionRegistration,
    LeaseInfo,
    PollResult,
    PostResult,
)

__all__ = ["ClientProtocol"]


@runtime_checkable
class ClientProtocol(Protocol):
    """What a transport must offer so that a `KnowledgeBase` can use it.

    Every method is a coroutine. km-core depends on nothing else of a transport: km-httpx
    implements it over HTTP, km-testing in memory. Methods raise errors from the
    `KnowledgeMapperError` tree (see `km_core.KnowledgeEngineError`), never the transport's own.
    """

    async def get_version(self) -> str:
        """The version of the Knowledge Engine (``GET /version``)."""
        ...

    async def ke_is_available(self) -> bool:
        """True when the Knowledge Engine answers and reports a version; never raises."""
        ...

    async def list_kbs(self) -> list[KnowledgeBaseInfo]:
        """Every knowledge base registered with the KE (``GET /sc``)."""
        ...

    async def get_kb(self, kb_id: str) -> KnowledgeBaseInfo | None:
        """One knowledge base, or ``None`` when the KE does not know it (``GET /sc``)."""
        ...

    async def register_kb(self, kb: KnowledgeBaseInfo, *, reregister: bool = False) -> None:
        """Register a knowledge base (``POST /sc``).

        With ``reregister=True`` an existing KB of the same id is deleted first: the KE has no
        upsert, and answers 400 to a second registration of one id.
        """
        ...

    async def unregister_kb(self, kb_id: str) -> None:
        """Delete a knowledge base and its interactions (``DELETE /sc``)."""
        ...

    async def renew_lease(self, kb_id: str) -> LeaseInfo:
        """Renew the lease of a KB that registered with one (``PUT /sc/lease/renew``)."""
        ...

    async def list_kis(self, kb_id: str) -> list[KnowledgeInteractionInfo]:
        """The knowledge interactions the KB registered (``GET /sc/ki``)."""
        ...

    async def register_ki(self, kb_id: str, ki: KnowledgeInteractionRegistration) -> str:
        """Register a knowledge interaction and return its id (``POST /sc/ki``)."""
        ...

    async def unregister_ki(self, kb_id: str, ki_id: str) -> None:
        """Delete a knowledge interaction (``DELETE /sc/ki``)."""
        ...

    async def ask(
        self,
        kb_id: str,
        ki_id: str,
        binding_set: BindingSet,
        *,
        recipients: Sequence[str] | None = None,
    ) -> AskResult:
        """Ask through an ASK interaction (``POST /sc/ask``); ``recipients`` limits who is asked."""
        ...

    async def post(
        self,
        kb_id: str,
        ki_id: str,
        binding_set: BindingSet,
        *,
        recipients: Sequence[str] | None = None,
    ) -> PostResult:
        """Post through a POST interaction (``POST /sc/post``)."""
        ...

    async def poll_ki_call(self, kb_id: str) -> tuple[PollResult, HandleRequest | None]:
        """Wait for the next handle request of the KB (the long poll, ``GET /sc/handle``).

        Returns ``(PollResult.HANDLE, request)``, ``(PollResult.REPOLL, None)`` after the KE's
        heartbeat, or ``(PollResult.EXIT, None)`` when the KB is stopping. Only one poll per KB
        may be open at a time; a second one raises `PollConflictError`.
        """
        ...

    async def post_handle_response(self, kb_id: str, ki_id: str, response: HandleResponse) -> None:
        """Answer a handle request (``POST /sc/handle``)."""
        ...

    async def upload_domain_knowledge(self, kb_id: str, knowledge: str) -> None:
        """Replace the KB's domain knowledge (``POST /sc/knowledge``, Jena rules syntax)."""
        ...

    async def close(self) -> None:
        """Release the transport's resources. Closing twice is harmless."""
        ...
