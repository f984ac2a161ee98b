"""The Python source: code of yours serves the interactions the other sources cannot.

The config names ``package.module:name``. A class is made with the config's ``args`` and
``kwargs``; the object's ``answer(interaction, binding_set)`` and ``react(interaction,
binding_set)`` methods serve ANSWER and REACT interactions, and ``open()`` and ``close()``, when
it has them, run when the KB starts and stops serving. A plain function
``(interaction, binding_set)`` serves both kinds. Any of them may be sync (run in a worker
thread) or async.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from km_core import BindingSet
from km_mapper._config import PythonSource
from km_mapper._errors import MapperConfigError
from km_mapper._imports import import_object

from ._base import Prepared, Serve, Source

__all__ = ["PythonCode"]


async def _call(function: Callable[..., Any], *args: Any) -> Any:
    """Await an async function; run a sync one in a worker thread."""
    if inspect.iscoroutinefunction(function):
        return await function(*args)
    result = await asyncio.to_thread(function, *args)
    if inspect.isawaitable(result):
        return await result
    return result


class PythonCode(Source):
    """Interactions served by code the config names."""

    def __init__(self, name: str, config: PythonSource) -> None:
        self.name = name
        where = f"source {name!r}"
        target = import_object(config.object, what=where)
        if inspect.isclass(target):
            try:
                target = target(*config.args, **config.kwargs)
            except Exception as exc:
                raise MapperConfigError(
                    f"{where}: making {config.object} raised {type(exc).__name__}: {exc}"
                ) from exc
        elif config.args or config.kwargs:
            raise MapperConfigError(
                f"{where}: args and kwargs are for a class; {config.object} is not one"
            )
        self._object = target

    def _method(self, kind: str, ki: Prepared) -> Callable[..., Any]:
        method = getattr(self._object, kind, None)
        if callable(method):
            return method  # type: ignore[no-any-return]
        if inspect.isfunction(self._object) or inspect.isbuiltin(self._object):
            return self._object
        raise MapperConfigError(
            f"source {self.name!r}: knowledge interaction {ki.name!r} is an "
            f"{kind.upper()}, but the object has no {kind}(interaction, binding_set) method"
        )

    async def open(self, *, pool_size: int) -> None:
        """Run the object's ``open()``, if it has one."""
        opener = getattr(self._object, "open", None)
        if callable(opener) and not inspect.isfunction(self._object):
            await _call(opener)

    async def close(self) -> None:
        """Run the object's ``close()``, if it has one."""
        closer = getattr(self._object, "close", None)
        if callable(closer) and not inspect.isfunction(self._object):
            await _call(closer)

    def answerer(self, ki: Prepared) -> Serve:
        """Hand ANSWER requests to ``answer(interaction, binding_set)``."""
        return self._serve(self._method("answer", ki), ki.name)

    def reactor(self, ki: Prepared) -> Serve:
        """Hand REACT requests to ``react(interaction, binding_set)``."""
        return self._serve(self._method("react", ki), ki.name)

    @staticmethod
    def _serve(function: Callable[..., Any], name: str) -> Serve:
        async def serve(binding_set: BindingSet) -> BindingSet:
            result: BindingSet = await _call(function, name, binding_set)
            return result

        return serve
