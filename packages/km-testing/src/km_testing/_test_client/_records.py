"""The records a test inspects: the responses the KB posted, and the asks and posts it made."""

from __future__ import annotations

import dataclasses
from typing import Literal

from km_core import BindingSet

__all__ = ["OutgoingCall", "RecordedHandleResponse"]


@dataclasses.dataclass(frozen=True, slots=True)
class RecordedHandleResponse:
    """A response the knowledge base posted to a handle request.

    Attributes:
        handle_request_id: The request it answers.
        knowledge_interaction_id: The interaction the request was for.
        binding_set: The bindings posted, or ``None`` when an error message was posted instead.
        error_message: The error message posted, if any.
    """

    handle_request_id: int
    knowledge_interaction_id: str
    binding_set: BindingSet | None
    error_message: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class OutgoingCall:
    """An ask or a post the knowledge base made.

    Attributes:
        kind: ``"ask"`` or ``"post"``.
        knowledge_interaction_name: The name of the ASK or POST interaction.
        knowledge_interaction_id: Its id.
        binding_set: The bindings sent.
        recipients: The knowledge bases it was limited to, or ``None`` for everyone.
    """

    kind: Literal["ask", "post"]
    knowledge_interaction_name: str | None
    knowledge_interaction_id: str
    binding_set: BindingSet
    recipients: list[str] | None
