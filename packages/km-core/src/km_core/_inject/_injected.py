"""A function whose first argument is given and whose other parameters are injected.

`Injected` reads a signature once (it must have a positional first parameter; the others must be
injectable: `Depends` or a `ContextValue`), and per call resolves the other parameters from an
`Injection`, runs the function (in a worker thread when it is sync) and tears its dependencies
down. Handlers and authorization policies are both such functions.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from km_core._errors import HandlerDeclarationError

from ._analysis import Parameter, analyse_parameters, is_coroutine_callable, type_hints
from ._injection import Injection
from ._solver import Solver

__all__ = ["Injected"]


class Injected:
    """A function read once from its signature: a first argument, then injected parameters.

    Attributes:
        function: The function itself.
        is_async: Whether it is awaited (otherwise it runs in a worker thread).
        first: Its first parameter, which receives the argument given to each call.
        hints: Its resolved annotations, by parameter name.
        parameters: The parameters injected after the first.
    """

    __slots__ = ("first", "function", "hints", "is_async", "parameters")

    def __init__(
        self,
        function: Callable[..., Any],
        *,
        what: str,
        kind: str,
        first: str,
        example: str,
        scope: Mapping[str, Any] | None = None,
    ) -> None:
        """Read ``function``'s signature.

        Args:
            function: The function.
            what: How error messages name it (``"handler 'f' of knowledge interaction 'x'"``).
            kind: What it is, for the messages of type-hint errors (``"handler"``).
            first: What its first parameter receives, for the message when it has none.
            example: A signature to show in that message (``"def handler(binding_set): ..."``).
            scope: Names its annotations may use beyond its module's (where it was declared).

        Raises:
            HandlerDeclarationError: it is not callable, or its signature cannot be served.
        """
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
                f"{what}: its first parameter must receive {first}, but it has no positional "
                f"parameter. Write it as '{example}'."
            )
        self.function = function
        self.hints = type_hints(function, kind, scope)
        self.first = parameters[0]
        self.is_async = is_coroutine_callable(function)
        self.parameters: list[Parameter] = analyse_parameters(
            function, parameters[1:], self.hints, what=kind, scope=scope
        )

    async def call(self, argument: Any, injection: Injection) -> Any:
        """Call the function with ``argument`` first and the other parameters injected."""
        if not self.parameters:
            if self.is_async:
                return await self.function(argument)
            return await injection.run_sync(self.function, argument)
        solver = Solver(injection)
        stack = solver.exit_stack
        try:
            kwargs = await solver.arguments(self.parameters)
            if self.is_async:
                result = await self.function(argument, **kwargs)
            else:
                result = await injection.run_sync(self.function, argument, **kwargs)
        except BaseException as exc:
            # Teardown sees the function's exception, but may not swallow it: a function that
            # raised has no result to use.
            await stack.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        await stack.aclose()
        return result
