"""The service-life decorators of a KnowledgeBase: startup and shutdown hooks, periodic work.

`ServiceHooks` is a mixin of `KnowledgeBase`; what it declares runs inside the KB's
`ServiceLife` (see ``_lifespan``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ._lifespan import Hook, ServiceLife

__all__ = ["ServiceHooks"]

F = TypeVar("F", bound=Callable[..., Any])
H = TypeVar("H", bound=Hook)


class ServiceHooks:
    """Hooks and tasks of a serving knowledge base (a mixin of `KnowledgeBase`)."""

    _life: ServiceLife

    def on_startup(self, hook: H) -> H:
        """Decorate a function to run when the KB starts serving, after its lifespan is entered.

        The hook takes no arguments and may be ``def`` (run in a worker thread) or
        ``async def``. Hooks run in the order they were declared, once the KB is connected and
        registered (so they may `ask` and `post`) and before the handling loop polls. One that
        raises stops the start: `serve` raises `StartupError`, and ``km run`` exits with one
        line on stderr and a non-zero status.
        """
        self._life.add_startup(hook)
        return hook

    def on_shutdown(self, hook: H) -> H:
        """Decorate a function to run when the KB stops serving, before its lifespan is left.

        Shutdown hooks run in the order they were declared, after the handling loop has drained
        and the KB's tasks have been cancelled, and before the KB unregisters. One that raises
        is logged; the others still run.
        """
        self._life.add_shutdown(hook)
        return hook

    def every(self, seconds: float) -> Callable[[F], F]:
        """Decorate a function to run every ``seconds`` while the KB serves.

        The function takes no arguments and may be ``def`` (run in a worker thread, where
        `ask_sync` works) or ``async def``. Its first run starts when the KB has started, the
        next ones every ``seconds`` after the start of the one before (a run that takes longer
        skips the runs it overlaps). A run that raises is logged with the KB's id, and the next
        run comes as planned. It is cancelled when the KB stops.

        Example:
            ```python
            @kb.every(5.0)
            async def ask_heights() -> None:
                print(await kb.ask(heights))
            ```
        """

        def decorator(function: F) -> F:
            self._life.add_periodic(seconds, function)
            return function

        return decorator

    def create_task(
        self, coroutine: Coroutine[Any, Any, Any], *, name: str | None = None
    ) -> asyncio.Task[Any]:
        """Start a task that the KB owns: cancelled and awaited when the KB stops serving.

        Call it while the KB serves: from its lifespan, a startup hook, a handler or another of
        its tasks. An exception that ends the task is logged with the KB's id and the task's
        name; the KB keeps serving.

        Args:
            coroutine: What the task runs.
            name: The task's name, for the log.

        Raises:
            RuntimeError: the KB is not serving.
        """
        return self._life.create_task(coroutine, name=name)
