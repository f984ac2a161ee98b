"""Reading a callable's signature once, at declaration, into the `Dependant` graph it needs.

A handler's parameters (after its binding set) and the parameters of each factory it depends on
are analysed when the handler is declared; a call then only walks the graph (see ``_solver``).
Errors name the handler, the parameter and what to write instead.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any, get_args, get_origin

from km_core._errors import HandlerDeclarationError

from ._markers import ContextValue, Depends

__all__ = ["Dependant", "analyse", "analyse_parameters", "describe", "type_hints"]


class ParameterKind(enum.Enum):
    CONTEXT = "context"
    DEPENDENCY = "dependency"


@dataclasses.dataclass(slots=True)
class Parameter:
    name: str
    kind: ParameterKind
    dependant: Dependant | None = None


@dataclasses.dataclass(slots=True)
class Dependant:
    """A callable with the parameters it needs injected, analysed once."""

    call: Callable[..., Any]
    parameters: list[Parameter]
    use_cache: bool = True
    is_coroutine: bool = False
    is_async_generator: bool = False
    is_generator: bool = False


def describe(call: Callable[..., Any]) -> str:
    """A short name of a callable for error messages."""
    name = getattr(call, "__qualname__", None) or getattr(call, "__name__", None)
    return name if isinstance(name, str) else repr(call)


def _unwrap_partial(call: Callable[..., Any]) -> Callable[..., Any]:
    while isinstance(call, functools.partial):
        call = call.func
    return call


def is_coroutine_callable(call: Callable[..., Any]) -> bool:
    """True for ``async def`` functions and objects whose ``__call__`` is one."""
    call = _unwrap_partial(call)
    if inspect.iscoroutinefunction(call):
        return True
    if inspect.isclass(call):
        return False
    return inspect.iscoroutinefunction(getattr(call, "__call__", None))  # noqa: B004


def _is_generator(call: Callable[..., Any]) -> bool:
    call = _unwrap_partial(call)
    return inspect.isgeneratorfunction(call) or inspect.isgeneratorfunction(
        getattr(call, "__call__", None)  # noqa: B004
    )


def _is_async_generator(call: Callable[..., Any]) -> bool:
    call = _unwrap_partial(call)
    return inspect.isasyncgenfunction(call) or inspect.isasyncgenfunction(
        getattr(call, "__call__", None)  # noqa: B004
    )


def type_hints(
    call: Callable[..., Any], what: str, scope: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Resolve a callable's annotations, ``from __future__ import annotations`` included.

    Names are looked up in the callable's module and then in ``scope``: the local names of the
    code that declared the handler, so that classes and factories defined inside a function
    (a test, an application factory) resolve too.

    Raises:
        HandlerDeclarationError: an annotation names something that cannot be found.
    """
    target: Any = _unwrap_partial(call)
    if inspect.isclass(target):
        target = target.__init__
    elif not (inspect.isfunction(target) or inspect.ismethod(target)):
        target = getattr(target, "__call__", target)  # noqa: B004
    try:
        globalns = getattr(target, "__globals__", None)
        localns = dict(scope) if scope else None
        if localns is not None and globalns is not None:
            # Module names win over local ones, as they would in the code itself.
            localns = {k: v for k, v in localns.items() if k not in globalns}
        return typing.get_type_hints(
            target, globalns=globalns, localns=localns, include_extras=True
        )
    except NameError as exc:
        raise HandlerDeclarationError(
            f"{what} {describe(call)!r}: cannot resolve its annotations ({exc}). With "
            "'from __future__ import annotations', annotations are resolved when the handler "
            "is declared: define or import every name they use before that point."
        ) from exc
    except Exception as exc:
        raise HandlerDeclarationError(
            f"{what} {describe(call)!r}: cannot resolve its annotations: {exc}"
        ) from exc


def _depends_of(annotation: Any, default: Any) -> Depends | None:
    if isinstance(default, Depends):
        return default
    if get_origin(annotation) is Annotated:
        for extra in get_args(annotation)[1:]:
            if isinstance(extra, Depends):
                return extra
    return None


def _strip_annotated(annotation: Any) -> Any:
    if get_origin(annotation) is Annotated:
        return get_args(annotation)[0]
    return annotation


def analyse_parameters(
    call: Callable[..., Any],
    parameters: list[inspect.Parameter],
    hints: Mapping[str, Any],
    *,
    what: str,
    stack: tuple[Callable[..., Any], ...] = (),
    scope: Mapping[str, Any] | None = None,
) -> list[Parameter]:
    """Turn the injectable parameters of a callable into `Parameter`s.

    Raises:
        HandlerDeclarationError: a parameter is neither a dependency nor the request context.
    """
    result: list[Parameter] = []
    for parameter in parameters:
        where = f"{what} {describe(call)!r}, parameter {parameter.name!r}"
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise HandlerDeclarationError(f"{where}: variadic parameters cannot be injected")
        annotation = hints.get(parameter.name, inspect.Parameter.empty)
        depends = _depends_of(annotation, parameter.default)
        if depends is not None:
            if not callable(depends.dependency):
                raise HandlerDeclarationError(
                    f"{where}: Depends() needs a callable, got {depends.dependency!r}"
                )
            try:
                dependant = analyse(
                    depends.dependency,
                    use_cache=depends.use_cache,
                    stack=(*stack, call),
                    scope=scope,
                )
            except HandlerDeclarationError as exc:
                # Name the whole path, so the user finds the handler that needs the factory.
                raise HandlerDeclarationError(f"{where}: {exc}") from exc.__cause__
            result.append(Parameter(parameter.name, ParameterKind.DEPENDENCY, dependant))
            continue
        if _is_context_value(_strip_annotated(annotation)):
            result.append(Parameter(parameter.name, ParameterKind.CONTEXT))
            continue
        if parameter.default is not inspect.Parameter.empty:
            continue  # a plain default: left to the callable
        if annotation is inspect.Parameter.empty:
            raise HandlerDeclarationError(
                f"{where}: has no annotation, so nothing can be injected. Annotate it as "
                "Annotated[T, Depends(factory)] or RequestContext, or give it a default."
            )
        raise HandlerDeclarationError(
            f"{where}: cannot inject a value of type {_type_name(annotation)}. Use "
            "Annotated[T, Depends(factory)] for a dependency, or RequestContext for the "
            "request's context."
        )
    return result


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__qualname__
    return repr(annotation)


def analyse(
    call: Callable[..., Any],
    *,
    use_cache: bool = True,
    stack: tuple[Callable[..., Any], ...] = (),
    scope: Mapping[str, Any] | None = None,
) -> Dependant:
    """Analyse a dependency factory and, recursively, the factories it depends on.

    Raises:
        HandlerDeclarationError: the factory is not callable, depends on itself, or has a
            parameter that cannot be injected.
    """
    if not callable(call):
        raise HandlerDeclarationError(f"Depends() needs a callable, got {call!r}")
    if call in stack:
        chain = " -> ".join(describe(c) for c in (*stack, call))
        raise HandlerDeclarationError(f"dependency cycle: {chain}")
    try:
        signature = inspect.signature(call)
    except (TypeError, ValueError) as exc:
        raise HandlerDeclarationError(
            f"dependency {describe(call)!r}: cannot read its signature: {exc}"
        ) from exc
    hints = type_hints(call, "dependency", scope)
    parameters = analyse_parameters(
        call,
        list(signature.parameters.values()),
        hints,
        what="dependency",
        stack=stack,
        scope=scope,
    )
    return Dependant(
        call=call,
        parameters=parameters,
        use_cache=use_cache,
        is_coroutine=is_coroutine_callable(call),
        is_async_generator=_is_async_generator(call),
        is_generator=_is_generator(call),
    )


def _is_context_value(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, ContextValue)
