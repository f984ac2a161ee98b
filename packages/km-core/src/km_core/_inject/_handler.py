"""The handler wrapper: a function read once from its signature, then called per request.

`Handler` checks the signature at declaration (a first parameter for the binding set, the
others injectable), and per call converts the incoming bindings to the handler's model, injects
the other parameters from the call's `Injection`, runs the function (in a worker thread when it
is sync) and tears its dependencies down.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, get_args, get_origin

from km_core._binding import BindingModel
from km_core._errors import HandlerDeclarationError
from km_core._models import BindingSet

from ._analysis import analyse_parameters, describe, is_coroutine_callable, type_hints
from ._injection import Injection
from ._solver import Solver

__all__ = ["Handler"]


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

    async def __call__(self, binding_set: BindingSet, injection: Injection) -> Any:
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
            return await injection.run_sync(self.function, bindings)
        solver = Solver(injection)
        stack = solver.exit_stack
        try:
            kwargs = await solver.arguments(self.parameters)
            if self.is_async:
                result = await self.function(bindings, **kwargs)
            else:
                result = await injection.run_sync(self.function, bindings, **kwargs)
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
