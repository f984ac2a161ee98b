"""Resolving a handler's dependencies for one call: caching, overrides, generator teardown.

A `Solver` walks the `Dependant` graph made at declaration. Per call, results are cached by
factory (unless ``use_cache=False``), overrides are consulted at every depth, sync factories run
in a worker thread, and generator factories are entered on an `AsyncExitStack` whose teardown
runs after the handler returns (or raises).
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from types import TracebackType
from typing import Any

from ._analysis import Dependant, Parameter, ParameterKind, analyse
from ._injection import Injection
from ._threads import RunSync

__all__ = ["Solver"]


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

    def __init__(self, injection: Injection) -> None:
        self._context = injection.context
        self._overrides = injection.overrides
        self._overridden = injection.overridden
        self._run_sync = injection.run_sync
        self._cache: dict[Callable[..., Any], Any] = {}
        self._active_overrides: set[Callable[..., Any]] = set()
        self.exit_stack = AsyncExitStack()

    async def arguments(self, parameters: list[Parameter]) -> dict[str, Any]:
        """The keyword arguments for a callable with these parameters."""
        arguments: dict[str, Any] = {}
        for parameter in parameters:
            if parameter.kind is ParameterKind.CONTEXT:
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
