"""The data the SDK exchanges with a Knowledge Engine, as pydantic models.

Field names are snake_case in Python and the KE's camelCase on the wire (``by_alias``); both
spellings are accepted when validating. Fields the KE adds in later versions are ignored, and
fields that are ``None`` are left out when serialising, as the KE itself does.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, Self, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

__all__ = [
    "AskExchangeInfo",
    "AskResult",
    "Binding",
    "BindingSet",
    "CommunicativeAct",
    "ExchangeInfo",
    "ExchangeStatus",
    "HandleRequest",
    "HandleResponse",
    "KnowledgeBaseInfo",
    "KnowledgeInteractionInfo",
    "KnowledgeInteractionRegistration",
    "KnowledgeInteractionType",
    "LeaseInfo",
    "PollResult",
    "PostExchangeInfo",
    "PostResult",
]

Binding: TypeAlias = dict[str, str]
"""One binding: variable names (without ``?``) to RDF terms in text, e.g. ``"<http://ex.org/a>"``."""

BindingSet: TypeAlias = list[dict[str, str]]
"""A list of bindings, the unit every knowledge interaction sends and receives."""

INFORM_PURPOSE = "https://w3id.org/knowledge-engine/InformPurpose"


class PollResult(enum.Enum):
    """What a long poll (``GET /sc/handle``) brought back."""

    HANDLE = "handle"
    """A handle request arrived: run the handler and post its response."""
    REPOLL = "repoll"
    """Nothing arrived before the KE's heartbeat: poll again."""
    EXIT = "exit"
    """The knowledge base is stopping: poll no more."""


class KnowledgeInteractionType(enum.StrEnum):
    """The four kinds of knowledge interaction, with the KE's names for them."""

    ASK = "AskKnowledgeInteraction"
    ANSWER = "AnswerKnowledgeInteraction"
    POST = "PostKnowledgeInteraction"
    REACT = "ReactKnowledgeInteraction"


class ExchangeStatus(enum.StrEnum):
    """Whether one contacted knowledge interaction answered."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class _KEModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="ignore",
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready form the KE expects: camelCase keys, ``None`` fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class KnowledgeBaseInfo(_KEModel):
    """A knowledge base (smart connector) as the KE registers and lists it."""

    knowledge_base_id: str
    knowledge_base_name: str
    knowledge_base_description: str
    lease_renewal_time: int | None = None
    """Seconds the KB lives without a lease renewal (30 to 3600); ``None``: no lease."""
    reasoner_level: int | None = None
    """The KE's reasoner level (1 to 5); ``None``: the KE's default."""


class LeaseInfo(_KEModel):
    """The answer to a lease renewal."""

    knowledge_base_id: str
    expires: datetime


class CommunicativeAct(_KEModel):
    """The purposes a knowledge interaction requires and satisfies."""

    required_purposes: list[str] = Field(default_factory=lambda: [INFORM_PURPOSE])
    satisfied_purposes: list[str] = Field(default_factory=lambda: [INFORM_PURPOSE])


class KnowledgeInteractionRegistration(_KEModel):
    """The body of ``POST /sc/ki``: one knowledge interaction to register."""

    knowledge_interaction_type: KnowledgeInteractionType
    knowledge_interaction_name: str | None = None
    graph_pattern: str | None = None
    argument_graph_pattern: str | None = None
    result_graph_pattern: str | None = None
    prefixes: dict[str, str] | None = None
    communicative_act: CommunicativeAct | None = None
    knowledge_gaps_enabled: bool | None = None
    include_meta_kis: bool | None = Field(default=None, alias="includeMetaKIs")


class KnowledgeInteractionInfo(KnowledgeInteractionRegistration):
    """A registered knowledge interaction, as ``GET /sc/ki`` lists it."""

    knowledge_interaction_id: str


class HandleRequest(_KEModel):
    """A request for one of this KB's ANSWER or REACT interactions, from the long poll."""

    knowledge_interaction_id: str
    handle_request_id: int
    binding_set: BindingSet = Field(default_factory=list)
    requesting_knowledge_base_id: str | None = None


class HandleResponse(_KEModel):
    """The answer to a handle request: a binding set, or an error message (exactly one)."""

    handle_request_id: int
    binding_set: BindingSet | None = None
    error_message: str | None = None

    @model_validator(mode="after")
    def _one_answer(self) -> Self:
        if (self.binding_set is None) == (self.error_message is None):
            raise ValueError("a handle response has either a binding_set or an error_message")
        return self


class ExchangeInfo(_KEModel):
    """What happened with one contacted knowledge interaction during an ask or a post."""

    initiator: str = "knowledgeBase"
    knowledge_base_id: str
    knowledge_interaction_id: str
    exchange_start: datetime | None = None
    exchange_end: datetime | None = None
    status: ExchangeStatus
    failed_message: str | None = None


class AskExchangeInfo(ExchangeInfo):
    """One contacted ANSWER interaction; its bindings are in the answerer's variable names."""

    binding_set: BindingSet = Field(default_factory=list)


class PostExchangeInfo(ExchangeInfo):
    """One contacted REACT interaction; its bindings are in the reactor's variable names."""

    argument_binding_set: BindingSet = Field(default_factory=list)
    result_binding_set: BindingSet = Field(default_factory=list)


class AskResult(_KEModel):
    """The answer to ``POST /sc/ask``."""

    binding_set: BindingSet = Field(default_factory=list)
    exchange_info: list[AskExchangeInfo] = Field(default_factory=list)
    knowledge_gaps: list[list[str]] | None = None
    """Present only when the ASK interaction has ``knowledge_gaps_enabled``."""


class PostResult(_KEModel):
    """The answer to ``POST /sc/post``."""

    result_binding_set: BindingSet = Field(default_factory=list)
    exchange_info: list[PostExchangeInfo] = Field(default_factory=list)
