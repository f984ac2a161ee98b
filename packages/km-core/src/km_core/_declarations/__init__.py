"""The interactions a knowledge base declares, and its registry of them.

- ``_checks``: names, patterns, prefixes and models, checked at declaration;
- ``_permitted``: the ``permitted`` argument: ``"*"`` or knowledge base ids;
- ``_interactions``: the ASK, ANSWER, POST and REACT interaction classes;
- ``_registry``: a KB's interactions by name and, once registered, by id;
- ``_declaring``: the ``answer_ki``/``react_ki``/``ask_ki``/``post_ki`` half of `KnowledgeBase`.
"""

from ._declaring import Declaring
from ._interactions import (
    AnswerKnowledgeInteraction,
    AskKnowledgeInteraction,
    Handled,
    KnowledgeInteraction,
    PostKnowledgeInteraction,
    ReactKnowledgeInteraction,
)
from ._permitted import EVERYBODY, Permitted, check_permitted
from ._registry import Registry

__all__ = [
    "EVERYBODY",
    "AnswerKnowledgeInteraction",
    "AskKnowledgeInteraction",
    "Declaring",
    "Handled",
    "KnowledgeInteraction",
    "Permitted",
    "PostKnowledgeInteraction",
    "ReactKnowledgeInteraction",
    "Registry",
    "check_permitted",
]
