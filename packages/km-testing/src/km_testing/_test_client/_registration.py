"""The `ClientProtocol` registration calls: the KB, its lease, interactions, domain knowledge."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from km_core import (
    ConfigurationError,
    KnowledgeBaseInfo,
    KnowledgeEngineResponseError,
    KnowledgeInteractionInfo,
    KnowledgeInteractionRegistration,
    LeaseInfo,
    PollResult,
    SmartConnectorNotFoundError,
)

from ._base import _TestClientBase


class _Registration(_TestClientBase):
    """The registration calls of `ClientProtocol`, for the one KB this client serves."""

    async def list_kbs(self) -> list[KnowledgeBaseInfo]:
        """The registered knowledge base, if any."""
        self._enter("list_kbs")
        return [self._kb] if self._kb else []

    async def get_kb(self, kb_id: str) -> KnowledgeBaseInfo | None:
        """The registered knowledge base if it has this id."""
        self._enter("get_kb")
        if self._kb is not None and self._kb.knowledge_base_id == kb_id:
            return self._kb
        return None

    async def register_kb(self, kb: KnowledgeBaseInfo, *, reregister: bool = False) -> None:
        """Register the knowledge base this client serves."""
        self._enter("register_kb")
        if self._kb is not None:
            if self._kb.knowledge_base_id != kb.knowledge_base_id:
                raise ConfigurationError(
                    f"this TestClient serves knowledge base {self._kb.knowledge_base_id}; "
                    f"use another TestClient for {kb.knowledge_base_id}"
                )
            if not reregister:
                raise KnowledgeEngineResponseError(
                    "That knowledge base ID is already in use.",
                    status_code=400,
                    endpoint="POST /sc",
                    kb_id=kb.knowledge_base_id,
                )
            self._forget_kb()
        self._kb = kb
        self._next_handle_request_id = max(self._next_handle_request_id, 1)

    def _forget_kb(self) -> None:
        self._kb = None
        self._kis.clear()
        self._pending.clear()

    async def unregister_kb(self, kb_id: str) -> None:
        """Delete the knowledge base; an open poll answers EXIT, later polls fail with 404."""
        self._enter("unregister_kb")
        self._require_kb(kb_id, "DELETE /sc")
        self._forget_kb()
        if self._polling:
            self._queue.put_nowait(PollResult.EXIT)

    async def renew_lease(self, kb_id: str) -> LeaseInfo:
        """Count a lease renewal."""
        self._enter("renew_lease")
        kb = self._require_kb(kb_id, "PUT /sc/lease/renew")
        if kb.lease_renewal_time is None:
            raise SmartConnectorNotFoundError(
                "Knowledge base found, but its lease could not be found. Knowledge bases "
                "without a lease do not have to be renewed.",
                endpoint="PUT /sc/lease/renew",
                kb_id=kb_id,
            )
        self.lease_renewals += 1
        expires = datetime.now(UTC) + timedelta(seconds=kb.lease_renewal_time)
        return LeaseInfo(knowledge_base_id=kb_id, expires=expires)

    async def list_kis(self, kb_id: str) -> list[KnowledgeInteractionInfo]:
        """The registered interactions."""
        self._enter("list_kis")
        self._require_kb(kb_id, "GET /sc/ki")
        return list(self._kis.values())

    async def register_ki(self, kb_id: str, ki: KnowledgeInteractionRegistration) -> str:
        """Register an interaction; its id is ``<kb id>/interaction/<name>``, as on the KE."""
        self._enter("register_ki")
        self._require_kb(kb_id, "POST /sc/ki")
        name = ki.knowledge_interaction_name or str(uuid.uuid4())
        ki_id = f"{kb_id}/interaction/{name}"
        if ki_id in self._kis:
            raise KnowledgeEngineResponseError(
                f"The Knowledge Interaction with URI '{ki_id}' should not be already registered.",
                status_code=400,
                endpoint="POST /sc/ki",
                kb_id=kb_id,
                ki_id=ki_id,
            )
        self._kis[ki_id] = KnowledgeInteractionInfo(
            **ki.model_dump(), knowledge_interaction_id=ki_id
        )
        return ki_id

    async def unregister_ki(self, kb_id: str, ki_id: str) -> None:
        """Delete an interaction."""
        self._enter("unregister_ki")
        self._require_kb(kb_id, "DELETE /sc/ki")
        if self._kis.pop(ki_id, None) is None:
            raise SmartConnectorNotFoundError(
                "Knowledge base found, but the given knowledge interaction knowledge base ID "
                "is unknown.",
                endpoint="DELETE /sc/ki",
                kb_id=kb_id,
                ki_id=ki_id,
            )

    async def upload_domain_knowledge(self, kb_id: str, knowledge: str) -> None:
        """Store the domain knowledge."""
        self._enter("upload_domain_knowledge")
        self._require_kb(kb_id, "POST /sc/knowledge")
        self.domain_knowledge = knowledge
