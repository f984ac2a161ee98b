"""Shared parts for the tests of km-core's private modules: a host, interactions, a registry.

The lower layers read their knowledge base through small Protocols (`SessionHost`,
`HandlingHost`); `Host` is a plain object that satisfies them, so each unit is tested on its own,
without the `KnowledgeBase` façade.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from km_core import Backoff, KnowledgeBaseInfo
from km_core._authorization import AccessControl
from km_core._declarations import (
    AnswerKnowledgeInteraction,
    AskKnowledgeInteraction,
    ReactKnowledgeInteraction,
    Registry,
)
from km_core._handling import ErrorPolicy
from km_testing import TestClient
from tests.support import EX, KB_ID, OAK

PATTERN = "?tree ex:height ?height ."
ANSWER = [{"tree": OAK, "height": '"21"'}]
FAST = Backoff(initial=0.001, maximum=0.01)
"""A backoff whose pauses take milliseconds."""


@dataclasses.dataclass
class Host:
    """A knowledge base as the session and the handling loop see it (`HandlingHost`)."""

    client: TestClient
    id: str = KB_ID
    name: str = "internals"
    poll_backoff: Backoff = FAST
    lease_renewal_time: int | None = None
    error_policy: ErrorPolicy = ErrorPolicy.EMPTY_BINDING_SET
    handler_timeout: float | None = None
    response_retry_period: float = 10.0
    dependency_overrides: dict[Callable[..., Any], Callable[..., Any]] = dataclasses.field(
        default_factory=dict
    )

    def info(self) -> KnowledgeBaseInfo:
        return KnowledgeBaseInfo(
            knowledge_base_id=self.id,
            knowledge_base_name=self.name,
            knowledge_base_description="a knowledge base under test",
            lease_renewal_time=self.lease_renewal_time,
        )


def answer(
    name: str, handler: Callable[..., Any], *, timeout: float | None = None
) -> AnswerKnowledgeInteraction:
    """An ANSWER interaction over `PATTERN` with ``handler``."""
    ki = AnswerKnowledgeInteraction(
        name=name, graph_pattern=PATTERN, handler=handler, prefixes=EX, scope=None
    )
    ki.timeout = timeout
    return ki


def react(
    name: str, handler: Callable[..., Any], *, result: bool = False
) -> ReactKnowledgeInteraction:
    """A REACT interaction with ``handler``; with a result graph pattern if ``result``."""
    return ReactKnowledgeInteraction(
        name=name,
        argument_graph_pattern="?tree ex:plantedAt ?place .",
        result_graph_pattern="?tree ex:height ?height ." if result else None,
        handler=handler,
        prefixes=EX,
    )


def ask(name: str) -> AskKnowledgeInteraction[Any]:
    """An ASK interaction over `PATTERN`."""
    return AskKnowledgeInteraction(name=name, graph_pattern=PATTERN, prefixes=EX)


def registry_of(*kis: Any) -> Registry:
    """A registry of `KB_ID` holding ``kis``."""
    registry = Registry(KB_ID)
    for ki in kis:
        registry.add(ki)
    return registry


def open_access(kb_id: str = KB_ID) -> AccessControl:
    """The access control of a KB without authorization: everybody, no policy, no audit."""
    return AccessControl(kb_id=kb_id, permitted="*", authorize=None, audit=None, timeout=None)
