"""What an access decision is about (`AccessRequest`) and what it says (`AccessDecision`)."""

from __future__ import annotations

import dataclasses

from km_core._declarations import KnowledgeInteraction
from km_core._models import BindingSet

__all__ = ["AccessDecision", "AccessRequest"]


@dataclasses.dataclass(frozen=True, slots=True)
class AccessRequest:
    """A request to use an interaction, as an authorization policy and the audit hook see it.

    Attributes:
        knowledge_base_id: The knowledge base that serves the interaction.
        knowledge_interaction: The ANSWER or REACT interaction that was called.
        requesting_kb_id: The knowledge base that asked or posted, as the KE names it
            (``None`` for `KnowledgeBase.call` without one).
        handle_request_id: The KE's id of the handle request (``None`` for
            `KnowledgeBase.call`).
        binding_set: The incoming bindings, as the KE sent them.
    """

    knowledge_base_id: str
    knowledge_interaction: KnowledgeInteraction
    requesting_kb_id: str | None
    handle_request_id: int | None
    binding_set: BindingSet


@dataclasses.dataclass(frozen=True, slots=True)
class AccessDecision:
    """Whether a request may use the interaction, and why; what the audit hook receives.

    Attributes:
        request: The request decided on.
        allowed: Whether it reaches the handler.
        reason: Why, in words: ``"permitted"``, ``"not in the permitted list"``, ``"denied by
            the policy"``, ``"the policy raised ValueError"``, ``"the policy did not answer
            within 10 s"``, ...
    """

    request: AccessRequest
    allowed: bool
    reason: str

    @property
    def denial(self) -> str:
        """What a denied requester is told: that it may not use the interaction, nothing more."""
        request = self.request
        return (
            f"knowledge base {request.requesting_kb_id or '(unnamed)'} is not permitted to use "
            f"knowledge interaction {request.knowledge_interaction.name!r}"
        )
