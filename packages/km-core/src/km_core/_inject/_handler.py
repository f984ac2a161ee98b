"""The handler wrapper: a function read once from its signature, then called per request.

`Handler` is an `Injected` function whose first parameter receives the binding set: it checks
that parameter's annotation at declaration, and per call converts the incoming bindings to the
handler's model before `Injected` injects the other parameters, runs the function (in a worker
thread when it is sync) and tears its dependencies down.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, get_args, get_origin

from km_core._binding import BindingModel
from km_core._errors import HandlerDeclarationError
from km_core._models import BindingSet

from ._analysis import describe
from ._injected import Injected
from ._injection import Injection

__all__ = ["Handler"]


class Handler(Injected):
    """A handler function with everything needed to call it, read once from its signature."""

    __slots__ = ("direct", "input_model")

    def __init__(
        self,
        function: Callable[..., Any],
        *,
        ki_name: str,
        input_model: type[BindingModel] | None,
        scope: Mapping[str, Any] | None = None,
    ) -> None:
        what = f"handler {describe(function)!r} of knowledge interaction {ki_name!r}"
        super().__init__(
            function,
            what=what,
            kind="handler",
            first="the incoming binding set",
            example="def handler(binding_set): ...",
            scope=scope,
        )
        first = self.first
        annotated_model = _model_of_annotation(
            self.hints.get(first.name, inspect.Parameter.empty), what=what, parameter=first.name
        )
        if input_model is not None and annotated_model not in (None, input_model):
            raise HandlerDeclarationError(
                f"{what}: parameter {first.name!r} is annotated with list[{annotated_model}] "
                f"but the interaction was declared with {input_model.__name__}"
            )
        self.input_model = input_model or annotated_model
        self.direct: Callable[[BindingSet], Awaitable[Any]] | None = (
            function if self.is_async and not self.parameters and self.input_model is None else None
        )
        """The function itself when a call needs nothing around it (async, plain bindings,
        nothing to inject): awaiting ``direct(binding_set)`` is then the whole call."""

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
        if not self.parameters:  # the common case, without a call more
            if self.is_async:
                return await self.function(bindings)
            return await injection.run_sync(self.function, bindings)
        return await self.call(bindings, injection)


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
