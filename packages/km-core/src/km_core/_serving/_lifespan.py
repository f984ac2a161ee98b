"""The service life of a knowledge base: its lifespan, startup and shutdown hooks, owned tasks.

A knowledge base that serves (``kb.serve()``, ``kb.run()``, ``km run``, ``async with kb:``)
enters its `ServiceLife` once it is connected and registered, and leaves it after its handling loop
has drained and before it unregisters. In between, the tasks it started through the lifespan are
its own: they are cancelled and awaited when it stops, and an exception that ends one is logged
with the KB's id. This module knows nothing of the handling loop; the `KnowledgeBase` calls
`ServiceLife.start` and `ServiceLife.stop` at those two points.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any, TypeAlias

from km_core._errors import ConfigurationError, StartupError
from km_core._inject import run_in_default_thread

__all__ = ["Hook", "Lifespan", "ServiceLife"]

logger = logging.getLogger("km_core")

Hook: TypeAlias = Callable[[], Awaitable[None] | None]
"""A startup or shutdown hook: a function without arguments, ``def`` or ``async def``."""

Lifespan: TypeAlias = Callable[[Any], AbstractAsyncContextManager[Any]]
"""The ``lifespan=`` of a knowledge base, as in Starlette: a function that takes the knowledge
base and returns the async context manager it serves inside, usually an ``async def`` decorated
with `contextlib.asynccontextmanager` that yields once."""


def _name_of(function: Callable[..., Any]) -> str:
    return getattr(function, "__qualname__", None) or repr(function)


def _check_hook(function: Any, what: str) -> None:
    if not callable(function):
        raise ConfigurationError(f"{what} must be a function, got {function!r}")
    try:
        inspect.signature(function).bind()
    except TypeError:
        raise ConfigurationError(
            f"{what} {_name_of(function)!r} must take no arguments; use the knowledge base "
            "from the enclosing scope"
        ) from None
    except ValueError:  # no signature to inspect (some builtins): it is tried when it runs
        pass


async def _call(function: Callable[[], Any]) -> None:
    """Await an async hook; run a sync one in a worker thread, so the event loop stays free."""
    if inspect.iscoroutinefunction(function):
        await function()
        return
    result = await run_in_default_thread(function)
    if inspect.isawaitable(result):  # a sync function that returned a coroutine
        await result


class ServiceLife:
    """What runs around one knowledge base's service life, and the tasks it owns.

    Args:
        kb_id: The knowledge base's id, for the log.
        factory: The ``lifespan=`` of the knowledge base, if any.
    """

    def __init__(self, kb_id: str, factory: Lifespan | None = None) -> None:
        if factory is not None and not callable(factory):
            raise ConfigurationError(
                f"knowledge base {kb_id}: lifespan must be a function that takes the knowledge "
                "base and returns an async context manager (e.g. made with "
                f"@contextlib.asynccontextmanager), got {factory!r}"
            )
        self.kb_id = kb_id
        self.factory = factory
        self.startup: list[Hook] = []
        self.shutdown: list[Hook] = []
        self.periodic: list[tuple[float, Callable[[], Any]]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stack: AsyncExitStack | None = None

    @property
    def running(self) -> bool:
        """Whether the lifespan has started and not yet stopped."""
        return self._stack is not None

    def add_startup(self, hook: Hook) -> None:
        """Run ``hook`` when the service starts, after the hooks added before it."""
        _check_hook(hook, "a startup hook")
        self.startup.append(hook)

    def add_shutdown(self, hook: Hook) -> None:
        """Run ``hook`` when the service stops, after the hooks added before it."""
        _check_hook(hook, "a shutdown hook")
        self.shutdown.append(hook)

    def add_periodic(self, seconds: float, function: Callable[[], Any]) -> None:
        """Run ``function`` every ``seconds`` while the service runs."""
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
            raise ConfigurationError(
                f"knowledge base {self.kb_id}: every() needs a positive number of seconds, "
                f"got {seconds!r}"
            )
        _check_hook(function, "a periodic function")
        self.periodic.append((float(seconds), function))

    # ------------------------------------------------------------------ owned tasks

    def create_task(
        self, coroutine: Coroutine[Any, Any, Any], *, name: str | None = None
    ) -> asyncio.Task[Any]:
        """Start a task that this service owns: cancelled and awaited when it stops.

        Raises:
            RuntimeError: the service is not running (start tasks from a startup hook, the
                lifespan, a handler or another owned task).
        """
        if self._stack is None:
            coroutine.close()
            raise RuntimeError(
                f"knowledge base {self.kb_id} is not serving: start its tasks from its lifespan, "
                "a startup hook, a handler or another of its tasks, once it serves"
            )
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()  # retrieved here: no task's exception goes unnoticed
        if error is not None:
            logger.error(
                "knowledge base %s: task %s failed: %r",
                self.kb_id,
                task.get_name(),
                error,
                exc_info=error,
            )

    async def _every(self, seconds: float, function: Callable[[], Any]) -> None:
        """Run ``function`` now and then every ``seconds``; a failing run is logged, not fatal."""
        loop = asyncio.get_running_loop()
        next_run = loop.time()
        while True:
            try:
                await _call(function)
            except Exception:
                logger.exception(
                    "knowledge base %s: periodic function %s failed; it runs again in %g s",
                    self.kb_id,
                    _name_of(function),
                    seconds,
                )
            next_run += seconds
            now = loop.time()
            if next_run < now:  # a run took longer than the period: skip the missed ones
                next_run = now + seconds - (now - next_run) % seconds
            await asyncio.sleep(next_run - now)  # a schedule, not a wait for a state

    async def _cancel_tasks(self) -> None:
        """Cancel every owned task and wait until each has ended."""
        while self._tasks:
            tasks = set(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)

    # ------------------------------------------------------------------ start and stop

    async def start(self, kb: Any) -> None:
        """Enter the lifespan, run the startup hooks, start the periodic functions.

        Args:
            kb: The knowledge base, handed to the lifespan factory.

        Raises:
            StartupError: the lifespan or a startup hook raised; what had started is stopped.
            RuntimeError: the lifespan is already running.
        """
        if self._stack is not None:
            raise RuntimeError(f"the lifespan of knowledge base {self.kb_id} is already running")
        stack = AsyncExitStack()
        self._stack = stack
        step = "its lifespan"
        try:
            if self.factory is not None:
                manager: Any = self.factory(kb)
                if not isinstance(manager, AbstractAsyncContextManager):
                    if inspect.iscoroutine(manager):
                        manager.close()  # an async def without @asynccontextmanager
                    raise ConfigurationError(
                        f"lifespan {_name_of(self.factory)!r} returned {manager!r}, not an async "
                        "context manager; decorate it with @contextlib.asynccontextmanager"
                    )
                await stack.enter_async_context(manager)
            for hook in self.startup:
                step = f"startup hook {_name_of(hook)!r}"
                await _call(hook)
            for seconds, function in self.periodic:
                self.create_task(
                    self._every(seconds, function), name=f"km-every-{_name_of(function)}"
                )
        except BaseException as exc:
            await self._unwind(exc)
            if isinstance(exc, Exception):
                raise StartupError(
                    f"knowledge base {self.kb_id} could not start: {step} raised "
                    f"{type(exc).__name__}: {exc}",
                    kb_id=self.kb_id,
                ) from exc
            raise
        logger.debug("knowledge base %s: started its lifespan", self.kb_id)

    async def _unwind(self, error: BaseException) -> None:
        """Undo a failed start: cancel the tasks it made and leave the lifespan with the error."""
        stack, self._stack = self._stack, None
        await self._cancel_tasks()
        if stack is not None:
            with contextlib.suppress(BaseException):
                await stack.__aexit__(type(error), error, error.__traceback__)

    async def stop(self) -> None:
        """Cancel and await the owned tasks, run the shutdown hooks, leave the lifespan.

        Every step runs even when one before it failed; each failure is logged with the KB's
        id. Harmless when the lifespan is not running.
        """
        stack, self._stack = self._stack, None
        if stack is None:
            return
        await self._cancel_tasks()
        for hook in self.shutdown:
            try:
                await _call(hook)
            except Exception:
                logger.exception(
                    "knowledge base %s: shutdown hook %s failed", self.kb_id, _name_of(hook)
                )
        try:
            await stack.aclose()
        except Exception:
            logger.exception("knowledge base %s: its lifespan failed on exit", self.kb_id)
        logger.debug("knowledge base %s: ended its lifespan", self.kb_id)
