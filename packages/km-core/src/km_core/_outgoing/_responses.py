"""What `ask_with_info` and `post_with_info` return: the results with the KE's exchange info."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from km_core._models import AskExchangeInfo, PostExchangeInfo

__all__ = ["AskResponse", "PostResponse"]

B = TypeVar("B")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class AskResponse(Generic[B]):
    """The result of `KnowledgeBase.ask_with_info`.

    Attributes:
        binding_set: The answers, as the ASK interaction's binding model when it has one.
        exchange_info: One entry per contacted ANSWER interaction: who, when, and whether it
            succeeded (with the KE's failure message when not).
        knowledge_gaps: The missing triple patterns, when the interaction was declared with
            ``knowledge_gaps_enabled``; ``None`` otherwise.
    """

    binding_set: list[B]
    exchange_info: list[AskExchangeInfo] = field(default_factory=list)
    knowledge_gaps: list[list[str]] | None = None


@dataclass(frozen=True, slots=True)
class PostResponse(Generic[R]):
    """The result of `KnowledgeBase.post_with_info`.

    Attributes:
        result_binding_set: The reactions' results, as the POST interaction's result model when
            it has one.
        exchange_info: One entry per contacted REACT interaction.
    """

    result_binding_set: list[R]
    exchange_info: list[PostExchangeInfo] = field(default_factory=list)
