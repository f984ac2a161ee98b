"""The serving half of a KnowledgeBase: ``async with``, serving, stopping, middleware, readiness.

`Service` is a mixin of `KnowledgeBase`; each method hands the KB and its state to the
functions of ``_serve``.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any, Self, cast

from km_core._handling import InFlight
from km_core._lifecycle import Lifecycle
from km_core._middleware import Middleware, MiddlewareStack

from . import _serve
from ._lifespan import ServiceLife

__all__ = ["Service"]


class Service:
    """Serving a knowledge base (a mixin of `KnowledgeBase`)."""

    _state: Lifecycle
    _life: ServiceLife
    _in_flight: InFlight
    _middleware: MiddlewareStack

    @property
    def _servable(self) -> _serve.Servable:
        return cast(_serve.Servable, self)  # the KnowledgeBase this is a mixin of

    async def __aenter__(self) -> Self:
        """Connect, register (unless registered already) and start the KB's lifespan.

        Raises:
            StartupError: the lifespan or a startup hook raised; the KB was unregistered and
                closed again.
        """
        await _serve.enter(self._servable, self._state, self._life)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop a running handling loop (it drains), end the lifespan, unregister and close."""
        await _serve.shut_down(self._servable, self._state, self._life)

    @property
    def ready(self) -> bool:
        """Whether the KB is registered and its handling loop polls: the KE reaches its handlers.

        It turns ``False`` when a poll fails (the KE away) and ``True`` again once a poll
        succeeds or the KB is registered again; it turns ``False`` for good when a stop is
        asked for (`stop`, SIGTERM). ``km run --metrics-port`` serves it as ``/readyz``.
        """
        return self._state.ready

    @property
    def middleware(self) -> tuple[Middleware, ...]:
        """The KB's middleware, outermost first."""
        return tuple(self._middleware)

    def add_middleware(self, middleware: Middleware) -> None:
        """Add a middleware inside those given before; see docs/middleware.md.

        It wraps the handle requests of the next handling loop started, and asks and posts
        from now on.

        Raises:
            ConfigurationError: it is not a `Middleware`.
        """
        self._middleware.add(middleware)

    def stop(self) -> None:
        """Ask the running handling loop to stop: no more polls, then it drains and returns.

        Safe to call from any thread, and more than once. The loop waits for in-flight
        handlers up to its ``grace_period``, then cancels the rest (each still answered).
        """
        _serve.stop(self._state)

    async def serve(
        self,
        *,
        max_concurrent_handlers: int = 10,
        grace_period: float | None = 30.0,
        connect_wait: float | None = None,
        handle_signals: bool = True,
    ) -> None:
        """Run the KB as a service until SIGINT or SIGTERM (or `stop`).

        Connects (waiting up to ``connect_wait`` seconds for the KE), registers, starts the
        KB's lifespan (``lifespan=``, `on_startup`, `every`), and runs the handling loop. The
        first SIGINT or SIGTERM stops polling and lets in-flight handlers finish within
        ``grace_period`` seconds (``None``: as long as they take), then cancels the rest,
        answers what it cancelled, ends the lifespan (cancelling the KB's tasks, then
        `on_shutdown`), unregisters and closes. A second SIGINT cancels the handlers at once.
        The signal handlers that were there before are restored.

        Args:
            max_concurrent_handlers: As for `start_handling_loop`.
            grace_period: Seconds in-flight handlers get to finish when stopping.
            connect_wait: Seconds to wait for a KE that is not up yet; ``None``: forever.
            handle_signals: Install the SIGINT/SIGTERM handlers; pass ``False`` in an
                application that handles signals itself (and calls `stop`).

        Raises:
            KnowledgeEngineUnavailableError: the KE did not answer within ``connect_wait``.
            StartupError: the lifespan or a startup hook raised.
            KnowledgeBaseStoppedError: the KE stopped the KB while it served (it was deleted,
                its lease expired, or the KE shut down); it is not unregistered.
        """
        await _serve.serve(
            self._servable,
            self._state,
            self._life,
            self._in_flight.cancel_all,
            max_concurrent_handlers=max_concurrent_handlers,
            grace_period=grace_period,
            connect_wait=connect_wait,
            handle_signals=handle_signals,
        )

    def run(self, **options: Any) -> None:
        """Run `serve` in a new event loop until the KB stops; for scripts and ``km run``."""
        asyncio.run(self.serve(**options))
