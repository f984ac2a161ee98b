"""The knowledge interactions a KnowledgeBase declares: ASK, ANSWER, POST and REACT.

Each checks its name, patterns and models when it is made (see ``_checks``); ANSWER and REACT
wrap their handler in a `Handler`, analysed once. ``registration()`` is the body the KE
registers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Generic, Literal, TypeVar

from km_core._binding import BindingModel
from km_core._inject import Handler
from km_core._models import KnowledgeInteractionRegistration, KnowledgeInteractionType
from km_core.patterns import parse_graph_pattern

from ._checks import (
    check_fits,
    check_ki_name,
    check_model,
    check_prefixes,
    optional_pattern,
    required_pattern,
)

__all__ = [
    "AnswerKnowledgeInteraction",
    "AskKnowledgeInteraction",
    "Handled",
    "KnowledgeInteraction",
    "PostKnowledgeInteraction",
    "ReactKnowledgeInteraction",
]

B = TypeVar("B")
A = TypeVar("A")
R = TypeVar("R")


class KnowledgeInteraction:
    """A knowledge interaction declared on a `KnowledgeBase`.

    Attributes:
        name: The interaction's name, unique within its knowledge base.
        prefixes: The prefixes its graph patterns use.
        id: The KE's id for it once registered (``<kb id>/interaction/<name>``), else ``None``.
        kind: ASK, ANSWER, POST or REACT.
        timeout: ANSWER and REACT: seconds its handler may take (``None``: the KB's
            ``handler_timeout``).
        permitted: ANSWER and REACT: the knowledge bases that may use it, ``"*"`` for
            everybody (``None``: the KB's ``permitted``).
    """

    kind: ClassVar[KnowledgeInteractionType]

    def __init__(self, *, name: str, prefixes: Mapping[str, str] | None) -> None:
        self.name = check_ki_name(name)
        self.prefixes = check_prefixes(name, prefixes)
        self.id: str | None = None
        self.timeout: float | None = None
        self.permitted: frozenset[str] | Literal["*"] | None = None

    def _registration_fields(self) -> dict[str, Any]:
        raise NotImplementedError

    def registration(self) -> KnowledgeInteractionRegistration:
        """The body that registers this interaction with the KE."""
        return KnowledgeInteractionRegistration(
            knowledge_interaction_type=self.kind,
            knowledge_interaction_name=self.name,
            prefixes=self.prefixes,
            **self._registration_fields(),
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class _GraphPatternInteraction(KnowledgeInteraction):
    """ASK and ANSWER: one graph pattern."""

    def __init__(self, *, name: str, graph_pattern: str, prefixes: Mapping[str, str] | None):
        super().__init__(name=name, prefixes=prefixes)
        self.graph_pattern = required_pattern(name, "graph_pattern", graph_pattern)
        self.pattern = parse_graph_pattern(self.graph_pattern, self.prefixes, ki_name=name)

    @property
    def variables(self) -> frozenset[str]:
        """The variables of the graph pattern (names without ``?``)."""
        return self.pattern.variables

    def _registration_fields(self) -> dict[str, Any]:
        return {"graph_pattern": self.graph_pattern}


class _ArgumentResultInteraction(KnowledgeInteraction):
    """POST and REACT: an argument pattern and an optional result pattern."""

    def __init__(
        self,
        *,
        name: str,
        argument_graph_pattern: str,
        result_graph_pattern: str | None,
        prefixes: Mapping[str, str] | None,
        result_model: type[BindingModel] | None,
    ) -> None:
        super().__init__(name=name, prefixes=prefixes)
        self.argument_graph_pattern = required_pattern(
            name, "argument_graph_pattern", argument_graph_pattern
        )
        self.result_graph_pattern = optional_pattern(
            name, "result_graph_pattern", result_graph_pattern
        )
        self.argument_pattern = parse_graph_pattern(
            self.argument_graph_pattern, self.prefixes, ki_name=name
        )
        self.result_pattern = (
            None
            if self.result_graph_pattern is None
            else parse_graph_pattern(self.result_graph_pattern, self.prefixes, ki_name=name)
        )
        self.result_model = check_model(name, "result_model", result_model)

    @property
    def argument_variables(self) -> frozenset[str]:
        """The variables of the argument graph pattern."""
        return self.argument_pattern.variables

    @property
    def result_variables(self) -> frozenset[str]:
        """The variables of the result graph pattern (none when there is none)."""
        return self.result_pattern.variables if self.result_pattern else frozenset()

    @property
    def variables(self) -> frozenset[str]:
        """The variables of both patterns."""
        return self.argument_variables | self.result_variables

    def _registration_fields(self) -> dict[str, Any]:
        return {
            "argument_graph_pattern": self.argument_graph_pattern,
            "result_graph_pattern": self.result_graph_pattern,
        }


class AskKnowledgeInteraction(_GraphPatternInteraction, Generic[B]):
    """An ASK interaction: a handle to pass to `KnowledgeBase.ask`.

    Its type parameter is what `ask` returns a list of: ``dict[str, str]`` bindings, or the
    `BindingModel` it was declared with.
    """

    kind = KnowledgeInteractionType.ASK

    def __init__(
        self,
        *,
        name: str,
        graph_pattern: str,
        prefixes: Mapping[str, str] | None = None,
        binding_model: type[BindingModel] | None = None,
        knowledge_gaps_enabled: bool = False,
    ) -> None:
        super().__init__(name=name, graph_pattern=graph_pattern, prefixes=prefixes)
        self.binding_model = check_model(name, "binding_model", binding_model)
        check_fits(name, self.binding_model, self.pattern, "graph pattern", complete=False)
        self.knowledge_gaps_enabled = bool(knowledge_gaps_enabled)

    def _registration_fields(self) -> dict[str, Any]:
        return {
            **super()._registration_fields(),
            "knowledge_gaps_enabled": self.knowledge_gaps_enabled or None,
        }


class PostKnowledgeInteraction(_ArgumentResultInteraction, Generic[A, R]):
    """A POST interaction: a handle to pass to `KnowledgeBase.post`.

    Its type parameters are what `post` accepts (``A``) and returns a list of (``R``).
    """

    kind = KnowledgeInteractionType.POST

    def __init__(
        self,
        *,
        name: str,
        argument_graph_pattern: str,
        result_graph_pattern: str | None = None,
        prefixes: Mapping[str, str] | None = None,
        argument_model: type[BindingModel] | None = None,
        result_model: type[BindingModel] | None = None,
    ) -> None:
        super().__init__(
            name=name,
            argument_graph_pattern=argument_graph_pattern,
            result_graph_pattern=result_graph_pattern,
            prefixes=prefixes,
            result_model=result_model,
        )
        self.argument_model = check_model(name, "argument_model", argument_model)
        check_fits(
            name, self.argument_model, self.argument_pattern, "argument pattern", complete=False
        )
        check_fits(name, self.result_model, self.result_pattern, "result pattern", complete=False)


class AnswerKnowledgeInteraction(_GraphPatternInteraction):
    """An ANSWER interaction and its handler."""

    kind = KnowledgeInteractionType.ANSWER
    has_result = True
    """ANSWER interactions always answer with bindings of their graph pattern."""

    def __init__(
        self,
        *,
        name: str,
        graph_pattern: str,
        handler: Callable[..., Any],
        prefixes: Mapping[str, str] | None = None,
        binding_model: type[BindingModel] | None = None,
        scope: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(name=name, graph_pattern=graph_pattern, prefixes=prefixes)
        self.handler = Handler(
            handler,
            ki_name=name,
            input_model=check_model(name, "binding_model", binding_model),
            scope=scope,
        )
        self.binding_model = self.handler.input_model
        check_fits(name, self.binding_model, self.pattern, "graph pattern", complete=True)

    @property
    def output_model(self) -> type[BindingModel] | None:
        """The model the handler's answers are checked against, if any."""
        return self.binding_model


class ReactKnowledgeInteraction(_ArgumentResultInteraction):
    """A REACT interaction and its handler."""

    kind = KnowledgeInteractionType.REACT

    def __init__(
        self,
        *,
        name: str,
        argument_graph_pattern: str,
        handler: Callable[..., Any],
        result_graph_pattern: str | None = None,
        prefixes: Mapping[str, str] | None = None,
        argument_model: type[BindingModel] | None = None,
        result_model: type[BindingModel] | None = None,
        scope: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            name=name,
            argument_graph_pattern=argument_graph_pattern,
            result_graph_pattern=result_graph_pattern,
            prefixes=prefixes,
            result_model=result_model,
        )
        self.handler = Handler(
            handler,
            ki_name=name,
            input_model=check_model(name, "argument_model", argument_model),
            scope=scope,
        )
        self.argument_model = self.handler.input_model
        check_fits(
            name, self.argument_model, self.argument_pattern, "argument pattern", complete=False
        )
        check_fits(name, self.result_model, self.result_pattern, "result pattern", complete=True)

    @property
    def has_result(self) -> bool:
        """Whether the reaction answers with bindings (it has a result graph pattern)."""
        return self.result_graph_pattern is not None

    @property
    def output_model(self) -> type[BindingModel] | None:
        """The model the handler's results are checked against, if any."""
        return self.result_model


Handled = AnswerKnowledgeInteraction | ReactKnowledgeInteraction
"""The interactions that have a handler, which the handling loop serves."""
