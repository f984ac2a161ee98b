"""Knowledge interactions as declared on a KnowledgeBase, and the handlers behind them."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar, get_args, get_origin

from ._binding_model import BindingModel
from ._dependencies import (
    Dependant,
    RequestContext,
    RunSync,
    Solver,
    analyse_parameters,
    describe,
    is_coroutine_callable,
    type_hints,
)
from ._errors import (
    BindingValidationError,
    ConfigurationError,
    GraphPatternError,
    HandlerDeclarationError,
)
from ._models import (
    BindingSet,
    KnowledgeInteractionRegistration,
    KnowledgeInteractionType,
)
from .patterns import GraphPattern, parse_graph_pattern
from .terms import unreadable
from .terms._convert import short_repr

__all__ = [
    "AnswerKnowledgeInteraction",
    "AskKnowledgeInteraction",
    "KnowledgeInteraction",
    "PostKnowledgeInteraction",
    "ReactKnowledgeInteraction",
]

B = TypeVar("B")
A = TypeVar("A")
R = TypeVar("R")

_NAME = re.compile(r"^[A-Za-z0-9-]+$")


def check_ki_name(name: object) -> str:
    """The KE's rule for interaction names: letters, digits and hyphens, at least one."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigurationError(
            f"knowledge interaction name {name!r} is not valid: the Knowledge Engine accepts "
            "only letters, digits and hyphens (it becomes part of the interaction's IRI)"
        )
    return name


def _required_pattern(ki_name: str, label: str, pattern: object) -> str:
    if isinstance(pattern, str) and not pattern.strip():
        raise GraphPatternError(f"{label} is empty", pattern=pattern, ki_name=ki_name)
    if not isinstance(pattern, str):
        raise ConfigurationError(
            f"knowledge interaction {ki_name!r}: {label} must be a non-empty graph pattern, "
            f"got {pattern!r}"
        )
    return pattern


def _optional_pattern(ki_name: str, label: str, pattern: object) -> str | None:
    return None if pattern is None else _required_pattern(ki_name, label, pattern)


def _check_prefixes(ki_name: str, prefixes: object) -> dict[str, str]:
    if prefixes is None:
        return {}
    if not isinstance(prefixes, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in prefixes.items()
    ):
        raise ConfigurationError(
            f"knowledge interaction {ki_name!r}: prefixes must map prefix names to namespace "
            f"IRIs (str to str), got {prefixes!r}"
        )
    return dict(prefixes)


def _check_fits(
    ki_name: str,
    model: type[BindingModel] | None,
    pattern: GraphPattern | None,
    label: str,
    *,
    complete: bool,
) -> None:
    """Check a binding model's variables against a pattern (all of them when ``complete``)."""
    if model is None:
        return
    if pattern is None:
        raise ConfigurationError(
            f"knowledge interaction {ki_name!r}: {model.__name__} is given for the {label}, "
            "but the interaction has no such pattern"
        )
    fields = model.model_variables()
    known = ", ".join(f"?{v}" for v in sorted(pattern.variables)) or "none"
    extra = sorted(fields - pattern.variables)
    if extra:
        raise GraphPatternError(
            f"{model.__name__} has fields for {', '.join(f'?{v}' for v in extra)}, which "
            f"{'is not a variable' if len(extra) == 1 else 'are not variables'} of the {label} "
            f"(its variables: {known})",
            pattern=pattern.text,
            ki_name=ki_name,
        )
    missing = sorted(pattern.variables - fields)
    if complete and missing:
        raise GraphPatternError(
            f"{model.__name__} has no field for {', '.join(f'?{v}' for v in missing)}, but "
            f"the bindings it describes must bind every variable of the {label}",
            pattern=pattern.text,
            ki_name=ki_name,
        )


def _check_model(ki_name: str, label: str, model: object) -> type[BindingModel] | None:
    if model is None:
        return None
    if not (isinstance(model, type) and issubclass(model, BindingModel)):
        raise ConfigurationError(
            f"knowledge interaction {ki_name!r}: {label} must be a BindingModel subclass, "
            f"got {model!r}"
        )
    return model


class KnowledgeInteraction:
    """A knowledge interaction declared on a `KnowledgeBase`.

    Attributes:
        name: The interaction's name, unique within its knowledge base.
        prefixes: The prefixes its graph patterns use.
        id: The KE's id for it once registered (``<kb id>/interaction/<name>``), else ``None``.
        kind: ASK, ANSWER, POST or REACT.
    """

    kind: ClassVar[KnowledgeInteractionType]

    def __init__(self, *, name: str, prefixes: Mapping[str, str] | None) -> None:
        self.name = check_ki_name(name)
        self.prefixes = _check_prefixes(name, prefixes)
        self.id: str | None = None
        self.timeout: float | None = None

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
        self.graph_pattern = _required_pattern(name, "graph_pattern", graph_pattern)
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
        self.argument_graph_pattern = _required_pattern(
            name, "argument_graph_pattern", argument_graph_pattern
        )
        self.result_graph_pattern = _optional_pattern(
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
        self.result_model = _check_model(name, "result_model", result_model)

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
        self.binding_model = _check_model(name, "binding_model", binding_model)
        _check_fits(name, self.binding_model, self.pattern, "graph pattern", complete=False)
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
        self.argument_model = _check_model(name, "argument_model", argument_model)
        _check_fits(
            name, self.argument_model, self.argument_pattern, "argument pattern", complete=False
        )
        _check_fits(name, self.result_model, self.result_pattern, "result pattern", complete=False)


class Handler:
    """A handler function with everything needed to call it, read once from its signature."""

    __slots__ = ("function", "input_model", "is_async", "parameters")

    def __init__(
        self,
        function: Callable[..., Any],
        *,
        ki_name: str,
        input_model: type[BindingModel] | None,
        scope: Mapping[str, Any] | None = None,
    ) -> None:
        what = f"handler {describe(function)!r} of knowledge interaction {ki_name!r}"
        if not callable(function):
            raise HandlerDeclarationError(f"{what}: is not callable")
        try:
            signature = inspect.signature(function)
        except (TypeError, ValueError) as exc:
            raise HandlerDeclarationError(f"{what}: cannot read its signature: {exc}") from exc
        parameters = list(signature.parameters.values())
        if not parameters or parameters[0].kind not in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            raise HandlerDeclarationError(
                f"{what}: its first parameter must receive the incoming binding set, but it "
                "has no positional parameter. Write it as 'def handler(binding_set): ...'."
            )
        hints = type_hints(function, "handler", scope)
        first = parameters[0]
        annotated_model = _model_of_annotation(
            hints.get(first.name, inspect.Parameter.empty), what=what, parameter=first.name
        )
        if input_model is not None and annotated_model not in (None, input_model):
            raise HandlerDeclarationError(
                f"{what}: parameter {first.name!r} is annotated with list[{annotated_model}] "
                f"but the interaction was declared with {input_model.__name__}"
            )
        self.function = function
        self.input_model = input_model or annotated_model
        self.is_async = is_coroutine_callable(function)
        self.parameters = analyse_parameters(
            function, parameters[1:], hints, what="handler", scope=scope
        )

    async def __call__(
        self,
        binding_set: BindingSet,
        context: RequestContext,
        overrides: Mapping[Callable[..., Any], Callable[..., Any]],
        overridden: dict[Callable[..., Any], Dependant],
        run_sync: RunSync,
    ) -> Any:
        """Convert the input, inject the parameters, call the function and return its result."""
        bindings: list[Any]
        if self.input_model is None:
            bindings = binding_set
        elif all(not binding for binding in binding_set):
            # The KE sends an ask that binds nothing as one empty binding ([{}]): no model
            # instance can hold it, and it means what no bindings mean, "everything".
            bindings = []
        else:
            bindings = [self.input_model.from_binding(b) for b in binding_set]
        if not self.parameters:
            if self.is_async:
                return await self.function(bindings)
            return await run_sync(self.function, bindings)
        solver = Solver(context, overrides, overridden, run_sync)
        stack = solver.exit_stack
        try:
            kwargs = await solver.arguments(self.parameters)
            if self.is_async:
                result = await self.function(bindings, **kwargs)
            else:
                result = await run_sync(self.function, bindings, **kwargs)
        except BaseException as exc:
            # Teardown sees the handler's exception, but may not swallow it: a handler that
            # raised has no result to post.
            await stack.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        await stack.aclose()
        return result


def _model_of_annotation(
    annotation: Any, *, what: str, parameter: str
) -> type[BindingModel] | None:
    """The BindingModel a ``list[Model]`` annotation names; ``None`` for plain bindings."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return None
    origin = get_origin(annotation)
    if origin in (list, Sequence, Iterable, tuple) or (
        isinstance(origin, type) and issubclass(origin, Sequence)
    ):
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        if not args:
            return None
        item = args[0]
        if isinstance(item, type) and issubclass(item, BindingModel):
            return item
        if item is Any or item is dict or get_origin(item) in (dict, Mapping):
            return None
    elif annotation in (list, Sequence):
        return None
    raise HandlerDeclarationError(
        f"{what}: parameter {parameter!r} receives the incoming binding set, so it must be "
        f"annotated as a list of bindings (BindingSet, list[dict[str, str]]) or a list of a "
        f"BindingModel subclass, not {annotation!r}"
    )


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
            input_model=_check_model(name, "binding_model", binding_model),
            scope=scope,
        )
        self.binding_model = self.handler.input_model
        _check_fits(name, self.binding_model, self.pattern, "graph pattern", complete=True)

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
            input_model=_check_model(name, "argument_model", argument_model),
            scope=scope,
        )
        self.argument_model = self.handler.input_model
        _check_fits(
            name, self.argument_model, self.argument_pattern, "argument pattern", complete=False
        )
        _check_fits(name, self.result_model, self.result_pattern, "result pattern", complete=True)

    @property
    def has_result(self) -> bool:
        """Whether the reaction answers with bindings (it has a result graph pattern)."""
        return self.result_graph_pattern is not None

    @property
    def output_model(self) -> type[BindingModel] | None:
        """The model the handler's results are checked against, if any."""
        return self.result_model


def to_binding_set(
    value: object, *, what: str, model: type[BindingModel] | None = None
) -> BindingSet:
    """Check and convert bindings (dicts of RDF terms, or binding models) to a binding set.

    With a ``model``, plain dict bindings must fit it, and come out as it writes them.

    Raises:
        BindingValidationError: ``value`` is not a list of bindings; the message says which
            item is wrong and why.
    """
    if value is None:
        return []
    if isinstance(value, Mapping | BindingModel | str | bytes) or not isinstance(value, Iterable):
        raise BindingValidationError(
            f"{what} must be a list of bindings, got {type(value).__name__}: {value!r:.200}"
        )
    result: BindingSet = []
    for index, item in enumerate(value):
        if isinstance(item, BindingModel):
            result.append(item.to_binding())
        elif isinstance(item, dict):
            for key, term in item.items():
                if not isinstance(key, str) or not isinstance(term, str):
                    raise BindingValidationError(
                        f"{what}: binding {index} maps {key!r} to {term!r}; bindings map "
                        "variable names (str) to RDF terms in text (str)"
                    )
                if model is None:
                    problem = unreadable(term)
                    if problem is not None:
                        raise BindingValidationError(
                            f"{what}: binding {index} maps {key!r} to {short_repr(term)}, which "
                            f"the Knowledge Engine cannot read: {problem}. Write an IRI as "
                            "'<http://example.org/oak>', a string as '\"oak\"' (quotes "
                            "included), a number as '21'"
                        )
            result.append(model.from_binding(item).to_binding() if model else item)
        else:
            raise BindingValidationError(
                f"{what}: binding {index} is a {type(item).__name__} ({item!r:.200}), not a "
                "dict or a BindingModel"
            )
    return result


def from_binding_set(binding_set: BindingSet, model: type[BindingModel] | None) -> list[Any]:
    """Bindings as the model (when there is one) or as they are."""
    if model is None:
        return binding_set
    return [model.from_binding(binding) for binding in binding_set]
