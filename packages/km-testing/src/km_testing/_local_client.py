"""LocalEngineClient: a ClientProtocol that calls a LocalKnowledgeEngine in the same process."""

from __future__ import annotations

from collections.abc import Sequence

from km_core import (
    AskResult,
    BindingSet,
    ClientClosedError,
    HandleRequest,
    HandleResponse,
    KnowledgeBaseInfo,
    KnowledgeEngineError,
    KnowledgeEngineResponseError,
    KnowledgeInteractionInfo,
    KnowledgeInteractionRegistration,
    LeaseInfo,
    PollResult,
    PostResult,
)

from .engine import LocalKnowledgeEngine

__all__ = ["REREGISTER_ATTEMPTS", "LocalEngineClient"]

REREGISTER_ATTEMPTS = 5
"""How often ``register_kb(reregister=True)`` registers the KB before it gives up."""


class LocalEngineClient:
    """A `km_core.ClientProtocol` for a `LocalKnowledgeEngine` in the same process: no sockets.

    Several knowledge bases, each with a client of its own on the same engine, exchange
    knowledge as they would through a real Knowledge Engine. Errors are those the KE's REST API
    gives, as km-core's errors, with the endpoint and ids filled in.

    Args:
        engine: The engine to talk to.
    """

    def __init__(self, engine: LocalKnowledgeEngine) -> None:
        self.engine = engine
        self._closed = False

    def _check(self, endpoint: str) -> None:
        if self._closed:
            raise ClientClosedError(f"{endpoint}: the LocalEngineClient is closed")

    @staticmethod
    def _located(
        error: KnowledgeEngineError, endpoint: str, kb_id: str | None, ki_id: str | None = None
    ) -> KnowledgeEngineError:
        error.endpoint = endpoint
        error.kb_id = error.kb_id or kb_id
        error.ki_id = error.ki_id or ki_id
        error.args = (error._describe(),)
        return error

    async def get_version(self) -> str:
        """The engine's version."""
        self._check("GET /version")
        return self.engine.version

    async def ke_is_available(self) -> bool:
        """True until the client is closed."""
        return not self._closed

    async def list_kbs(self) -> list[KnowledgeBaseInfo]:
        """``GET /sc``."""
        self._check("GET /sc")
        return self.engine.list_kbs()

    async def get_kb(self, kb_id: str) -> KnowledgeBaseInfo | None:
        """``GET /sc`` with a header; ``None`` for an unknown KB."""
        self._check("GET /sc")
        try:
            return self.engine.get_kb(kb_id)
        except KnowledgeEngineResponseError as exc:
            if exc.status_code == 404:
                return None
            raise self._located(exc, "GET /sc", kb_id) from None

    async def register_kb(self, kb: KnowledgeBaseInfo, *, reregister: bool = False) -> None:
        """``POST /sc``; with ``reregister``, a KB of the same id is deleted first."""
        self._check("POST /sc")
        kb_id = kb.knowledge_base_id
        for attempt in range(REREGISTER_ATTEMPTS):
            try:
                await self.engine.register_kb(kb)
                return
            except KnowledgeEngineResponseError as exc:
                in_use = exc.status_code == 400 and "already in use" in exc.message
                if not (reregister and in_use) or attempt == REREGISTER_ATTEMPTS - 1:
                    raise self._located(exc, "POST /sc", kb_id) from None
            # As HttpxClient does: delete what holds the id (again, if another registration
            # slipped in between), then register.
            try:
                await self.unregister_kb(kb_id)
            except KnowledgeEngineResponseError as exc:
                if exc.status_code != 404:
                    raise

    async def unregister_kb(self, kb_id: str) -> None:
        """``DELETE /sc``."""
        self._check("DELETE /sc")
        try:
            await self.engine.delete_kb(kb_id)
        except KnowledgeEngineError as exc:
            raise self._located(exc, "DELETE /sc", kb_id) from None

    async def renew_lease(self, kb_id: str) -> LeaseInfo:
        """``PUT /sc/lease/renew``."""
        self._check("PUT /sc/lease/renew")
        try:
            return self.engine.renew_lease(kb_id)
        except KnowledgeEngineError as exc:
            raise self._located(exc, "PUT /sc/lease/renew", kb_id) from None

    async def list_kis(self, kb_id: str) -> list[KnowledgeInteractionInfo]:
        """``GET /sc/ki``."""
        self._check("GET /sc/ki")
        try:
            return self.engine.list_kis(kb_id)
        except KnowledgeEngineError as exc:
            raise self._located(exc, "GET /sc/ki", kb_id) from None

    async def register_ki(self, kb_id: str, ki: KnowledgeInteractionRegistration) -> str:
        """``POST /sc/ki``."""
        self._check("POST /sc/ki")
        try:
            return self.engine.register_ki(kb_id, ki)
        except KnowledgeEngineError as exc:
            raise self._located(exc, "POST /sc/ki", kb_id) from None

    async def unregister_ki(self, kb_id: str, ki_id: str) -> None:
        """``DELETE /sc/ki``."""
        self._check("DELETE /sc/ki")
        try:
            self.engine.delete_ki(kb_id, ki_id)
        except KnowledgeEngineError as exc:
            raise self._located(exc, "DELETE /sc/ki", kb_id, ki_id) from None

    async def ask(
        self,
        kb_id: str,
        ki_id: str,
        binding_set: BindingSet,
        *,
        recipients: Sequence[str] | None = None,
    ) -> AskResult:
        """``POST /sc/ask``."""
        self._check("POST /sc/ask")
        try:
            return await self.engine.ask(kb_id, ki_id, binding_set, recipients)
        except KnowledgeEngineError as exc:
            raise self._located(exc, "POST /sc/ask", kb_id, ki_id) from None

    async def post(
        self,
        kb_id: str,
        ki_id: str,
        binding_set: BindingSet,
        *,
        recipients: Sequence[str] | None = None,
    ) -> PostResult:
        """``POST /sc/post``."""
        self._check("POST /sc/post")
        try:
            return await self.engine.post(kb_id, ki_id, binding_set, recipients)
        except KnowledgeEngineError as exc:
            raise self._located(exc, "POST /sc/post", kb_id, ki_id) from None

    async def poll_ki_call(self, kb_id: str) -> tuple[PollResult, HandleRequest | None]:
        """``GET /sc/handle``: waits on the engine, woken by the request that arrives."""
        self._check("GET /sc/handle")
        try:
            return await self.engine.poll(kb_id)
        except KnowledgeEngineError as exc:
            raise self._located(exc, "GET /sc/handle", kb_id) from None

    async def post_handle_response(self, kb_id: str, ki_id: str, response: HandleResponse) -> None:
        """``POST /sc/handle``."""
        self._check("POST /sc/handle")
        try:
            self.engine.answer(
                kb_id,
                ki_id,
                response.handle_request_id,
                response.binding_set,
                response.error_message,
            )
        except KnowledgeEngineError as exc:
            raise self._located(exc, "POST /sc/handle", kb_id, ki_id) from None

    async def upload_domain_knowledge(self, kb_id: str, knowledge: str) -> None:
        """``POST /sc/knowledge``."""
        self._check("POST /sc/knowledge")
        try:
            self.engine.set_domain_knowledge(kb_id, knowledge)
        except KnowledgeEngineError as exc:
            raise self._located(exc, "POST /sc/knowledge", kb_id) from None

    async def close(self) -> None:
        """Refuse further calls; the engine itself runs on."""
        self._closed = True
