"""The long poll (``GET /sc/handle``) and the answers to it (``POST /sc/handle``).

A KB's one poll waits at the KE until a handle request comes or the 29 s heartbeat ends it
(`DEFAULT_POLL_TIMEOUT` is its read timeout); `poll_outcome` says what its status means.
Closing the client must end the open polls, each with `ClientClosedError`, and let the answers
under way finish first: `HandleTraffic` keeps track of both.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import httpx

from km_core import ClientClosedError, HandleRequest, PollResult

from ._bodies import parse
from ._status_errors import status_error

__all__ = ["DEFAULT_POLL_TIMEOUT", "HandleTraffic", "poll_outcome"]

DEFAULT_POLL_TIMEOUT = 120.0
"""Read timeout of the long poll: well above the KE's 29 s heartbeat. A client that gives up
before the KE answers leaves the KB's only poll slot taken, and its next poll gets 409."""


class HandleTraffic:
    """The long polls and the handle responses under way, for `HttpxClient.close`."""

    def __init__(self) -> None:
        self._polls: set[asyncio.Task[Any]] = set()
        self._closing_polls: set[asyncio.Task[Any]] = set()
        self._responses_in_flight = 0
        self._responses_done = asyncio.Event()
        self._responses_done.set()

    @contextlib.contextmanager
    def polling(self, kb_id: str) -> Iterator[None]:
        """Around the current task's poll: when `close` cancels it, raise `ClientClosedError`."""
        task = asyncio.current_task()
        assert task is not None
        self._polls.add(task)
        try:
            yield
        except asyncio.CancelledError:
            if task in self._closing_polls:
                task.uncancel()
                raise ClientClosedError(
                    f"GET /sc/handle: the HttpxClient was closed during the poll of {kb_id}"
                ) from None
            raise
        finally:
            self._polls.discard(task)
            self._closing_polls.discard(task)

    @contextlib.contextmanager
    def responding(self) -> Iterator[None]:
        """Around a handle response's post: `close` waits until it is done."""
        self._responses_in_flight += 1
        self._responses_done.clear()
        try:
            yield
        finally:
            self._responses_in_flight -= 1
            if self._responses_in_flight == 0:
                self._responses_done.set()

    async def close(self) -> None:
        """Cancel the open polls (each then raises `ClientClosedError`); await the responses."""
        for task in list(self._polls):
            self._closing_polls.add(task)
            task.cancel()
        await self._responses_done.wait()


def poll_outcome(response: httpx.Response, kb_id: str) -> tuple[PollResult, HandleRequest | None]:
    """What a poll's answer means: 200 a handle request, 202 poll again, 410 stop; else an error."""
    status = response.status_code
    if status == 200:
        request: HandleRequest = parse(response, HandleRequest, "GET /sc/handle", kb_id)
        return PollResult.HANDLE, request
    if status == 202:
        return PollResult.REPOLL, None
    if status == 410:
        return PollResult.EXIT, None
    raise status_error(response, "GET /sc/handle", kb_id, None)
