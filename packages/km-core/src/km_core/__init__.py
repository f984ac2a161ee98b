"""km-core: the async KnowledgeBase of the Knowledge Mapper SDK for the TNO Knowledge Engine.

Everything public is importable from this package; its modules are private.
"""

from .__about__ import __version__
from ._binding_model import BindingModel
from ._dependencies import Depends, RequestContext
from ._errors import (
    BindingValidationError,
    ConfigurationError,
    HandlerDeclarationError,
    KnowledgeEngineError,
    KnowledgeEngineResponseError,
    KnowledgeEngineUnavailableError,
    KnowledgeMapperError,
    PollConflictError,
    SmartConnectorNotFoundError,
    UnknownKnowledgeInteractionError,
)
from ._interactions import (
    AnswerKnowledgeInteraction,
    AskKnowledgeInteraction,
    KnowledgeInteraction,
    PostKnowledgeInteraction,
    ReactKnowledgeInteraction,
)
from ._knowledge_base import AskResponse, KnowledgeBase, PostResponse
from ._models import (
    AskExchangeInfo,
    AskResult,
    Binding,
    BindingSet,
    CommunicativeAct,
    ExchangeInfo,
    ExchangeStatus,
    HandleRequest,
    HandleResponse,
    KnowledgeBaseInfo,
    KnowledgeInteractionInfo,
    KnowledgeInteractionRegistration,
    KnowledgeInteractionType,
    LeaseInfo,
    PollResult,
    PostExchangeInfo,
    PostResult,
)
from ._protocol import ClientProtocol

__all__ = [
    "AnswerKnowledgeInteraction",
    "AskExchangeInfo",
    "AskKnowledgeInteraction",
    "AskResponse",
    "AskResult",
    "Binding",
    "BindingModel",
    "BindingSet",
    "BindingValidationError",
    "ClientProtocol",
    "CommunicativeAct",
    "ConfigurationError",
    "Depends",
    "ExchangeInfo",
    "ExchangeStatus",
    "HandleRequest",
    "HandleResponse",
    "HandlerDeclarationError",
    "KnowledgeBase",
    "KnowledgeBaseInfo",
    "KnowledgeEngineError",
    "KnowledgeEngineResponseError",
    "KnowledgeEngineUnavailableError",
    "KnowledgeInteraction",
    "KnowledgeInteractionInfo",
    "KnowledgeInteractionRegistration",
    "KnowledgeInteractionType",
    "KnowledgeMapperError",
    "LeaseInfo",
    "PollConflictError",
    "PollResult",
    "PostExchangeInfo",
    "PostKnowledgeInteraction",
    "PostResponse",
    "PostResult",
    "ReactKnowledgeInteraction",
    "RequestContext",
    "SmartConnectorNotFoundError",
    "UnknownKnowledgeInteractionError",
    "__version__",
]
