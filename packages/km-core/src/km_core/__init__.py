"""km-core: the async KnowledgeBase of the Knowledge Mapper SDK for the TNO Knowledge Engine.

Everything public is importable from this package; its modules are private.
"""

from .__about__ import __version__
from ._access_log import ACCESS_LOGGER_NAME
from ._authorization import AccessDecision, AccessRequest
from ._backoff import Backoff
from ._binding import BindingModel
from ._declarations import (
    AnswerKnowledgeInteraction,
    AskKnowledgeInteraction,
    KnowledgeInteraction,
    PostKnowledgeInteraction,
    ReactKnowledgeInteraction,
)
from ._errors import (
    AccessDeniedError,
    BindingValidationError,
    ClientClosedError,
    ConfigurationError,
    GraphPatternError,
    HandlerDeclarationError,
    KnowledgeBaseStoppedError,
    KnowledgeEngineError,
    KnowledgeEngineResponseError,
    KnowledgeEngineServerError,
    KnowledgeEngineUnavailableError,
    KnowledgeMapperError,
    PollConflictError,
    RateLimitedError,
    SmartConnectorNotFoundError,
    StartupError,
    UnexpectedResponseError,
    UnknownKnowledgeInteractionError,
)
from ._inject import Depends
from ._knowledge_base import (
    AskResponse,
    ErrorPolicy,
    KnowledgeBase,
    PostResponse,
    RequestContext,
)
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
from ._serving import Lifespan
from .terms import XSD
from .terms._values import IRI, Datatype, LangString, RDFTerm, TypedLiteral

__all__ = [
    "ACCESS_LOGGER_NAME",
    "IRI",
    "XSD",
    "AccessDecision",
    "AccessDeniedError",
    "AccessRequest",
    "AnswerKnowledgeInteraction",
    "AskExchangeInfo",
    "AskKnowledgeInteraction",
    "AskResponse",
    "AskResult",
    "Backoff",
    "Binding",
    "BindingModel",
    "BindingSet",
    "BindingValidationError",
    "ClientClosedError",
    "ClientProtocol",
    "CommunicativeAct",
    "ConfigurationError",
    "Datatype",
    "Depends",
    "ErrorPolicy",
    "ExchangeInfo",
    "ExchangeStatus",
    "GraphPatternError",
    "HandleRequest",
    "HandleResponse",
    "HandlerDeclarationError",
    "KnowledgeBase",
    "KnowledgeBaseInfo",
    "KnowledgeBaseStoppedError",
    "KnowledgeEngineError",
    "KnowledgeEngineResponseError",
    "KnowledgeEngineServerError",
    "KnowledgeEngineUnavailableError",
    "KnowledgeInteraction",
    "KnowledgeInteractionInfo",
    "KnowledgeInteractionRegistration",
    "KnowledgeInteractionType",
    "KnowledgeMapperError",
    "LangString",
    "LeaseInfo",
    "Lifespan",
    "PollConflictError",
    "PollResult",
    "PostExchangeInfo",
    "PostKnowledgeInteraction",
    "PostResponse",
    "PostResult",
    "RDFTerm",
    "RateLimitedError",
    "ReactKnowledgeInteraction",
    "RequestContext",
    "SmartConnectorNotFoundError",
    "StartupError",
    "TypedLiteral",
    "UnexpectedResponseError",
    "UnknownKnowledgeInteractionError",
    "__version__",
]
