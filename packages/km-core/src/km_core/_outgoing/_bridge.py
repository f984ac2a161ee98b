"""The sync bridge: `ask_sync` and `post_sync` for sync code in worker threads.

`SyncCalls` is a mixin of `KnowledgeBase`. A sync call hands its coroutine to the event loop the
handling loop runs on and blocks its own thread until the result comes; it refuses, with a
message that says what to do instead, where waiting would deadlock (the loop's own thread) or
block another loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar, overload

from km_core._binding import BindingModel
from km_core._declarations import AskKnowledgeInteraction, PostKnowledgeInteraction
from km_core._lifecycle import Lifecycle
from km_core._models import Binding

from ._calls import AsyncCalls

__all__ = ["SyncCalls"]

B = TypeVar("B")
A = TypeVar("A")
R = TypeVar("R")


class SyncCalls(AsyncCalls):
    """Asks and posts from sync code (a mixin of `KnowledgeBase`)."""

    _state: Lifecycle

    def _loop_for_bridge(self, name: str) -> asyncio.AbstractEventLoop:
        run = self._state.handling
        loop = run.loop if run is not None else None
        if loop is None or loop.is_closed() or not loop.is_running():
            raise RuntimeError(
                f"{name}() needs the handling loop of knowledge base {self.id} to be running: it "
                "hands the call to that loop. Call it from a sync handler, or use 'await' on the "
                "async method from async code."
            )
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is loop:
            raise RuntimeError(
                f"{name}() was called on the event loop's own thread, where it would block the "
                "loop it is waiting for (a deadlock). In async code, await the async method "
                "instead; sync handlers run in worker threads, where it works."
            )
        if current is not None:
            raise RuntimeError(
                f"{name}() was called from a thread that runs another event loop, which it "
                "would block; await the async method instead"
            )
        return loop

    def _bridge(
        self,
        loop: asyncio.AbstractEventLoop,
        coroutine: Coroutine[Any, Any, Any],
        timeout: float | None,
    ) -> Any:
        # The coroutine runs in a copy of this thread's context: run_coroutine_threadsafe
        # schedules its task with call_soon_threadsafe, which takes the calling thread's current
        # context. So what the request's task holds (a middleware's OpenTelemetry span) and what
        # the handler set reach the ask or post, as they do with `await kb.ask`.
        future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    @overload
    def ask_sync(
        self,
        ki: AskKnowledgeInteraction[B],
        binding_set: Sequence[B | Binding] | None = ...,
        *,
        recipients: Sequence[str] | None = ...,
        timeout: float | None = ...,
    ) -> list[B]: ...

    @overload
    def ask_sync(
        self,
        ki: str,
        binding_set: Sequence[Binding | BindingModel] | None = ...,
        *,
        recipients: Sequence[str] | None = ...,
        timeout: float | None = ...,
    ) -> list[Any]: ...

    def ask_sync(
        self,
        ki: AskKnowledgeInteraction[Any] | str,
        binding_set: Sequence[Any] | None = None,
        *,
        recipients: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> list[Any]:
        """`ask` for sync code in a worker thread (a sync handler), while the loop runs.

        Schedules the ask on the handling loop's event loop and blocks this thread until it
        completes, at most ``timeout`` seconds (``None``: no limit; on expiry the ask is
        cancelled and `TimeoutError` raised).

        Raises:
            RuntimeError: the handling loop is not running, or this is the event loop's own
                thread (where waiting would deadlock).
        """
        loop = self._loop_for_bridge("ask_sync")
        coroutine = self.ask(ki, binding_set, recipients=recipients)
        return self._bridge(loop, coroutine, timeout)  # type: ignore[no-any-return]

    @overload
    def post_sync(
        self,
        ki: PostKnowledgeInteraction[A, R],
        binding_set: Sequence[A | Binding],
        *,
        recipients: Sequence[str] | None = ...,
        timeout: float | None = ...,
    ) -> list[R]: ...

    @overload
    def post_sync(
        self,
        ki: str,
        binding_set: Sequence[Binding | BindingModel],
        *,
        recipients: Sequence[str] | None = ...,
        timeout: float | None = ...,
    ) -> list[Any]: ...

    def post_sync(
        self,
        ki: PostKnowledgeInteraction[Any, Any] | str,
        binding_set: Sequence[Any],
        *,
        recipients: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> list[Any]:
        """`post` for sync code in a worker thread (a sync handler), while the loop runs.

        Raises:
            RuntimeError: the handling loop is not running, or this is the event loop's own
                thread (where waiting would deadlock).
        """
        loop = self._loop_for_bridge("post_sync")
        coroutine = self.post(ki, binding_set, recipients=recipients)
        return self._bridge(loop, coroutine, timeout)  # type: ignore[no-any-return]
