"""The declaring half of a KnowledgeBase: the decorators and declarations of its interactions.

`Declaring` is a mixin of `KnowledgeBase`: ``answer_ki`` and ``react_ki`` wrap a handler,
``ask_ki`` and ``post_ki`` return a handle for outgoing calls. Each interaction is checked when
declared and added to the KB's `Registry`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload

from km_core._binding import BindingModel
from km_core._errors import ConfigurationError
from km_core._lifecycle import Lifecycle
from km_core._models import Binding

from ._interactions import (
    AnswerKnowledgeInteraction,
    AskKnowledgeInteraction,
    Handled,
    KnowledgeInteraction,
    PostKnowledgeInteraction,
    ReactKnowledgeInteraction,
)
from ._permitted import Permitted, check_permitted
from ._registry import Registry

__all__ = ["Declaring"]

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound=BindingModel)
N = TypeVar("N", bound=BindingModel)


def _with_options(ki: Handled, timeout: float | None, permitted: Permitted | None) -> Handled:
    if timeout is not None and timeout <= 0:
        raise ConfigurationError(
            f"knowledge interaction {ki.name!r}: timeout must be positive, got {timeout!r}"
        )
    ki.timeout = timeout
    if permitted is not None:
        ki.permitted = check_permitted(permitted, what=f"knowledge interaction {ki.name!r}")
    return ki


def _declaring_scope() -> dict[str, Any] | None:
    """The local names where the decorator was applied (two frames up: decorator, caller)."""
    try:
        frame = sys._getframe(2)
    except ValueError:  # pragma: no cover - no such frame
        return None
    return dict(frame.f_locals)


class Declaring:
    """Declares a knowledge base's interactions (a mixin of `KnowledgeBase`)."""

    id: str
    _registry: Registry
    _state: Lifecycle

    @property
    def knowledge_interactions(self) -> Mapping[str, KnowledgeInteraction]:
        """Every declared interaction, by name (read-only)."""
        return self._registry.by_name()

    def _declare(self, ki: KnowledgeInteraction) -> None:
        if self._state.registered:
            raise RuntimeError(
                f"knowledge base {self.id} is already registered; declare knowledge "
                f"interaction {ki.name!r} before calling register()"
            )
        self._registry.add(ki)

    def answer_ki(
        self,
        name: str,
        graph_pattern: str,
        *,
        prefixes: Mapping[str, str] | None = None,
        binding_model: type[BindingModel] | None = None,
        timeout: float | None = None,
        permitted: Permitted | None = None,
    ) -> Callable[[F], F]:
        """Declare an ANSWER interaction served by the decorated handler.

        The handler receives the incoming binding set as its first parameter (a list of dicts,
        or of ``binding_model``, which may also be given as the parameter's annotation
        ``list[Model]``) and returns the answering bindings. Other parameters are injected
        (`Depends`, `RequestContext`). It may be ``def`` or ``async def``; the decorator returns
        it unchanged.

        Args:
            name: Unique within this KB: letters, digits and hyphens.
            graph_pattern: The triples this KB can answer, with ``?variables``.
            prefixes: Prefix names used in the pattern, to namespace IRIs.
            binding_model: The `BindingModel` the handler receives and answers with; plain
                dict answers must fit it too.
            timeout: Seconds the handler may take (overrides the KB's ``handler_timeout``).
            permitted: The ids of the knowledge bases that may use it, or ``"*"`` for
                everybody; ``None``: the KB's ``permitted``. A request from any other is
                denied before the handler runs (see the KB's ``authorize``).

        Raises:
            ConfigurationError: a bad name, pattern, prefixes, model or ``permitted``, or a
                name in use.
            HandlerDeclarationError: the handler's signature cannot be served.
        """

        def decorator(function: F) -> F:
            ki = AnswerKnowledgeInteraction(
                scope=_declaring_scope(),
                name=name,
                graph_pattern=graph_pattern,
                handler=function,
                prefixes=prefixes,
                binding_model=binding_model,
            )
            self._declare(_with_options(ki, timeout, permitted))
            return function

        return decorator

    def react_ki(
        self,
        name: str,
        argument_graph_pattern: str,
        result_graph_pattern: str | None = None,
        *,
        prefixes: Mapping[str, str] | None = None,
        argument_model: type[BindingModel] | None = None,
        result_model: type[BindingModel] | None = None,
        timeout: float | None = None,
        permitted: Permitted | None = None,
    ) -> Callable[[F], F]:
        """Declare a REACT interaction served by the decorated handler.

        Like `answer_ki`; the handler returns bindings of the result graph pattern, or an
        empty list (or ``None``) when the interaction has no result pattern.

        Args:
            name: Unique within this KB: letters, digits and hyphens.
            argument_graph_pattern: The triples posted to this KB.
            result_graph_pattern: The triples it answers with, or ``None`` for none.
            prefixes: Prefix names used in the patterns, to namespace IRIs.
            argument_model: The `BindingModel` the handler receives.
            result_model: The `BindingModel` it answers with; plain dict results must fit it.
            timeout: Seconds the handler may take (overrides the KB's ``handler_timeout``).
            permitted: The ids of the knowledge bases that may use it, or ``"*"`` for
                everybody; ``None``: the KB's ``permitted``. A request from any other is
                denied before the handler runs (see the KB's ``authorize``).

        Raises:
            ConfigurationError: a bad name, pattern, prefixes, model or ``permitted``, or a
                name in use.
            HandlerDeclarationError: the handler's signature cannot be served.
        """

        def decorator(function: F) -> F:
            ki = ReactKnowledgeInteraction(
                scope=_declaring_scope(),
                name=name,
                argument_graph_pattern=argument_graph_pattern,
                result_graph_pattern=result_graph_pattern,
                handler=function,
                prefixes=prefixes,
                argument_model=argument_model,
                result_model=result_model,
            )
            self._declare(_with_options(ki, timeout, permitted))
            return function

        return decorator

    @overload
    def ask_ki(
        self,
        name: str,
        graph_pattern: str,
        *,
        prefixes: Mapping[str, str] | None = ...,
        binding_model: None = ...,
        knowledge_gaps_enabled: bool = ...,
    ) -> AskKnowledgeInteraction[Binding]: ...

    @overload
    def ask_ki(
        self,
        name: str,
        graph_pattern: str,
        *,
        prefixes: Mapping[str, str] | None = ...,
        binding_model: type[M],
        knowledge_gaps_enabled: bool = ...,
    ) -> AskKnowledgeInteraction[M]: ...

    def ask_ki(
        self,
        name: str,
        graph_pattern: str,
        *,
        prefixes: Mapping[str, str] | None = None,
        binding_model: type[BindingModel] | None = None,
        knowledge_gaps_enabled: bool = False,
    ) -> AskKnowledgeInteraction[Any]:
        """Declare an ASK interaction and return its handle for `ask`.

        Args:
            name: Unique within this KB: letters, digits and hyphens.
            graph_pattern: The triples to ask for, with ``?variables``.
            prefixes: Prefix names used in the pattern, to namespace IRIs.
            binding_model: The `BindingModel` that `ask` takes and returns.
            knowledge_gaps_enabled: Ask the KE to report what is missing when nobody answers.

        Raises:
            ConfigurationError: a bad name, pattern, prefixes or model, or a name in use.
        """
        ki: AskKnowledgeInteraction[Any] = AskKnowledgeInteraction(
            name=name,
            graph_pattern=graph_pattern,
            prefixes=prefixes,
            binding_model=binding_model,
            knowledge_gaps_enabled=knowledge_gaps_enabled,
        )
        self._declare(ki)
        return ki

    @overload
    def post_ki(
        self,
        name: str,
        argument_graph_pattern: str,
        result_graph_pattern: str | None = ...,
        *,
        prefixes: Mapping[str, str] | None = ...,
        argument_model: None = ...,
        result_model: None = ...,
    ) -> PostKnowledgeInteraction[Binding, Binding]: ...

    @overload
    def post_ki(
        self,
        name: str,
        argument_graph_pattern: str,
        result_graph_pattern: str | None = ...,
        *,
        prefixes: Mapping[str, str] | None = ...,
        argument_model: type[M],
        result_model: None = ...,
    ) -> PostKnowledgeInteraction[M, Binding]: ...

    @overload
    def post_ki(
        self,
        name: str,
        argument_graph_pattern: str,
        result_graph_pattern: str | None = ...,
        *,
        prefixes: Mapping[str, str] | None = ...,
        argument_model: None = ...,
        result_model: type[N],
    ) -> PostKnowledgeInteraction[Binding, N]: ...

    @overload
    def post_ki(
        self,
        name: str,
        argument_graph_pattern: str,
        result_graph_pattern: str | None = ...,
        *,
        prefixes: Mapping[str, str] | None = ...,
        argument_model: type[M],
        result_model: type[N],
    ) -> PostKnowledgeInteraction[M, N]: ...

    def post_ki(
        self,
        name: str,
        argument_graph_pattern: str,
        result_graph_pattern: str | None = None,
        *,
        prefixes: Mapping[str, str] | None = None,
        argument_model: type[BindingModel] | None = None,
        result_model: type[BindingModel] | None = None,
    ) -> PostKnowledgeInteraction[Any, Any]:
        """Declare a POST interaction and return its handle for `post`.

        Args:
            name: Unique within this KB: letters, digits and hyphens.
            argument_graph_pattern: The triples posted.
            result_graph_pattern: The triples expected back, or ``None`` for none.
            prefixes: Prefix names used in the patterns, to namespace IRIs.
            argument_model: The `BindingModel` that `post` takes.
            result_model: The `BindingModel` that `post` returns.

        Raises:
            ConfigurationError: a bad name, pattern, prefixes or model, or a name in use.
        """
        ki: PostKnowledgeInteraction[Any, Any] = PostKnowledgeInteraction(
            name=name,
            argument_graph_pattern=argument_graph_pattern,
            result_graph_pattern=result_graph_pattern,
            prefixes=prefixes,
            argument_model=argument_model,
            result_model=result_model,
        )
        self._declare(ki)
        return ki
