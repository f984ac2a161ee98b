"""FastAPI-style dependency injection for handlers.

A handler's signature is read once, when it is declared, into a `Dependant` graph; each call
then only walks that graph. Per call, results are cached by factory (unless ``use_cache=False``),
``KnowledgeBase.dependency_overrides`` is consulted at every depth, sync factories run in a
worker thread, and generator factories are entered on an `AsyncExitStack` whose teardown runs
after the handler returns (or raises) and before its response is posted.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import enum
import functools
import inspect
import typing
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias, get_args, get_origin

from ._errors import HandlerDeclarationError

if TYPE_CHECKING:
    from ._interactions import KnowledgeInteraction
    from ._knowledge_base import KnowledgeBase

__all__ = ["Depends", "RequestContext"]

RunSync: TypeAlias = Callable[..., Awaitable[Any]]
"""Runs a sync callable in a worker thread: ``await run_sync(fn, *args, **kwargs)``."""


@dataclasses.dataclass(frozen=True, slots=True)
class Depends:
    """Marks a handler parameter whose value a factory provides.

    Use it in the parameter's annotation, ``db: Annotated[Db, Depends(get_db)]``, or as its
    default, ``db: Db = Depends(get_db)``. The factory may be a plain or ``async`` function, or a
    generator (sync or async) that yields the value and cleans up after the handler. Its own
    parameters are injected the same way.

    Attributes:
        dependency: The factory.
        use_cache: Reuse the factory's result within one handler call when several parameters
            (at any depth) depend on it. ``False`` calls the factory for each of them.
    """

    dependency: Callable[..., Any]
    use_cache: bool = True


@dataclasses.dataclass(frozen=True, slots=True)
class RequestContext:
    """What a handler may want to know about the request it is serving.

    Declare a parameter of this type, in a handler or in a dependency factory, to receive it.

    Attributes:
        knowledge_base: The knowledge base that serves the request.
        knowledge_interaction: The ANSWER or REACT interaction that was called.
        requesting_kb_id: The id of the knowledge base that asked or posted, when known.
        handle_request_id: The KE's id of this handle request, when the request came from the
            KE (``None`` for `KnowledgeBase.call`).
    """

    knowledge_base: KnowledgeBase
    knowledge_interaction: KnowledgeInteraction
    requesting_kb_id: str | None = None
    handle_request_id: int | None = None


class _Kind(enum.Enum):
    CONTEXT = "context"
    DEPENDENCY = "dependency"


@dataclasses.dataclass(slots=True)
class _Parameter:
    name: str
    kind: _Kind
    dependant: Dependant | None = None


@dataclasses.dataclass(slots=True)
class Dependant:
    """A callable with the parameters it needs injected, analysed once."""

    call: Callable[..., Any]
    parameters: list[_Parameter]
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
) -> list[_Parameter]:
    """Turn the injectable parameters of a callable into `_Parameter`s.

    Raises:
        HandlerDeclarationError: a parameter is neither a dependency nor the request context.
    """
    result: list[_Parameter] = []
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
            result.append(_Parameter(parameter.name, _Kind.DEPENDENCY, dependant))
            continue
        if _strip_annotated(annotation) is RequestContext:
            result.append(_Parameter(parameter.name, _Kind.CONTEXT))
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


_EXHAUSTED = object()


def _advance(generator: Iterator[Any]) -> Any:
    # StopIteration cannot cross a Future, so it is turned into a sentinel in the thread.
    return next(generator, _EXHAUSTED)


def _throw(generator: typing.Generator[Any, Any, Any], exc: BaseException) -> None:
    try:
        generator.throw(exc)
    except StopIteration:
        return
    raise RuntimeError("a generator dependency must yield exactly once; it yielded again")


class _SyncGeneratorContext(AbstractAsyncContextManager[Any]):
    """Enters and exits a sync generator factory in a worker thread."""

    def __init__(self, generator: typing.Generator[Any, Any, Any], run_sync: RunSync) -> None:
        self._generator = generator
        self._run_sync = run_sync

    async def __aenter__(self) -> Any:
        value = await self._run_sync(_advance, self._generator)
        if value is _EXHAUSTED:
            raise RuntimeError("a generator dependency must yield exactly once; it yielded nothing")
        return value

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc is None:
            if await self._run_sync(_advance, self._generator) is not _EXHAUSTED:
                raise RuntimeError(
                    "a generator dependency must yield exactly once; it yielded again"
                )
            return False
        await self._run_sync(_throw, self._generator, exc)
        return False


class Solver:
    """Resolves a dependant's parameters for one call."""

    __slots__ = (
        "_active_overrides",
        "_cache",
        "_context",
        "_overridden",
        "_overrides",
        "_run_sync",
        "exit_stack",
    )

    def __init__(
        self,
        context: RequestContext,
        overrides: Mapping[Callable[..., Any], Callable[..., Any]],
        overridden: dict[Callable[..., Any], Dependant],
        run_sync: RunSync,
    ) -> None:
        self._context = context
        self._overrides = overrides
        self._overridden = overridden
        self._run_sync = run_sync
        self._cache: dict[Callable[..., Any], Any] = {}
        self._active_overrides: set[Callable[..., Any]] = set()
        self.exit_stack = AsyncExitStack()

    async def arguments(self, parameters: list[_Parameter]) -> dict[str, Any]:
        """The keyword arguments for a callable with these parameters."""
        arguments: dict[str, Any] = {}
        for parameter in parameters:
            if parameter.kind is _Kind.CONTEXT:
                arguments[parameter.name] = self._context
            else:
                assert parameter.dependant is not None
                arguments[parameter.name] = await self._resolve(parameter.dependant)
        return arguments

    def _effective(self, dependant: Dependant) -> Dependant:
        override = self._overrides.get(dependant.call) if self._overrides else None
        # An override may wrap the factory it replaces; inside it, the original stands.
        if override is None or dependant.call in self._active_overrides:
            return dependant
        # Overrides are analysed on first use and remembered; they keep the original's use_cache.
        analysed = self._overridden.get(override)
        if analysed is None:
            analysed = analyse(override)
            self._overridden[override] = analysed
        if analysed.use_cache != dependant.use_cache:
            analysed = dataclasses.replace(analysed, use_cache=dependant.use_cache)
        return analysed

    async def _resolve(self, dependant: Dependant) -> Any:
        original = dependant.call
        dependant = self._effective(dependant)
        call = dependant.call
        if dependant.use_cache and call in self._cache:
            return self._cache[call]
        if call is original:
            kwargs = await self.arguments(dependant.parameters)
        else:
            self._active_overrides.add(original)
            try:
                kwargs = await self.arguments(dependant.parameters)
            finally:
                self._active_overrides.discard(original)
        if dependant.is_async_generator:
            value = await self.exit_stack.enter_async_context(asynccontextmanager(call)(**kwargs))
        elif dependant.is_generator:
            generator = await self._run_sync(functools.partial(call, **kwargs))
            value = await self.exit_stack.enter_async_context(
                _SyncGeneratorContext(generator, self._run_sync)
            )
        elif dependant.is_coroutine:
            value = await call(**kwargs)
        else:
            value = await self._run_sync(functools.partial(call, **kwargs))
        if dependant.use_cache:
            self._cache[call] = value
        return value


async def run_in_default_thread(call: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Run a sync callable in asyncio's default executor, with the caller's context variables."""
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    future = loop.run_in_executor(None, functools.partial(context.run, call, *args, **kwargs))
    return await wait_for_thread(future)


def executor_runner(executor: Any) -> RunSync:
    """A `RunSync` that runs callables in ``executor``, with the caller's context variables."""

    async def run_sync(call: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        future = loop.run_in_executor(
            executor, functools.partial(context.run, call, *args, **kwargs)
        )
        return await wait_for_thread(future)

    return run_sync


async def wait_for_thread(future: asyncio.Future[Any]) -> Any:
    """Await a worker thread's result; on cancellation, wait until the thread is done.

    A thread cannot be stopped, so a cancelled caller still waits for it before the
    cancellation goes on: whatever the thread uses (a dependency's resource, a permit) is
    torn down only once nothing uses it any more.
    """
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        while not future.done():
            try:
                await asyncio.shield(future)
            except asyncio.CancelledError:
                continue
            except Exception:
                break
        raise
