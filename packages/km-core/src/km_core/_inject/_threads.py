"""Running sync callables in worker threads, with the caller's context variables.

A thread cannot be stopped: a caller cancelled while its thread runs still waits for the thread
before the cancellation goes on (`wait_for_thread`), so nothing the thread uses is torn down
under it.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

__all__ = ["RunSync", "executor_runner", "run_in_default_thread", "wait_for_thread"]

RunSync: TypeAlias = Callable[..., Awaitable[Any]]
"""Runs a sync callable in a worker thread: ``await run_sync(fn, *args, **kwargs)``."""


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
