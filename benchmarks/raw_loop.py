"""The raw httpx baselines of the HTTP scenarios: an answering knowledge base without the SDK.

Plain ``httpx`` calls on one ``AsyncClient``: register the knowledge base and the same ANSWER
interaction as the SDK's answerer, then serve it with one long poll open at a time, in one of
two ways:

- **sequential** (``answerer.py --kind raw``): poll ``GET /sc/handle``, run the handler, post
  its result with ``POST /sc/handle``, and only then poll again. One request at a time: the
  baseline for scenario 1 at N=1.
- **overlapped** (``answerer.py --kind raw-overlap``): when a poll returns a request, start a
  task that runs the handler and posts the result, and poll again at once, so that the post
  overlaps the next poll, as the SDK's handling loop does; at most ``bound`` handlers at a time
  (a semaphore taken before each poll, as the SDK does). The fair ceiling for scenario 3: the
  same two round trips per request, with nothing else.

A poll that the server refuses with 409 ("only one connection per knowledge base") is counted
in ``Counters.conflicts`` and sent again at once. 202 (the heartbeat) is polled again; 404 or
410 (the knowledge base was deleted) ends the loop.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx
from cpu import Counters, emit, serve_commands

PATTERN = "?tree ex:height ?height ."  # the harness's (common.PATTERN)
TREE = "<http://example.org/tree>"
DOUBLE = "http://www.w3.org/2001/XMLSchema#double"


def answer(stamp: float | None) -> list[dict[str, str]]:
    """No bindings, or one whose ``?height`` is the time the handler started."""
    if stamp is None:
        return []
    return [{"tree": TREE, "height": f'"{stamp!r}"^^<{DOUBLE}>'}]


@dataclass
class RawOptions:
    """What the raw answerer serves and how."""

    url: str
    kb_id: str
    prefix: str
    delay: float = 0.0
    stamp: bool = False
    overlap: bool = False
    bound: int = 10


class RawKb:
    """The four calls of the protocol that an answering knowledge base needs."""

    def __init__(self, http: httpx.AsyncClient, options: RawOptions, counters: Counters) -> None:
        self.http = http
        self.url = options.url
        self.kb_id = options.kb_id
        self.headers = {"Knowledge-Base-Id": options.kb_id}
        self.counters = counters

    async def register(self, prefix: str) -> None:
        """Register the knowledge base and its ANSWER interaction, ``heights``."""
        registered = await self.http.post(
            f"{self.url}/sc",
            json={
                "knowledgeBaseId": self.kb_id,
                "knowledgeBaseName": "raw answerer",
                "knowledgeBaseDescription": "benchmark baseline",
            },
        )
        registered.raise_for_status()
        ki = await self.http.post(
            f"{self.url}/sc/ki",
            headers=self.headers,
            json={
                "knowledgeInteractionType": "AnswerKnowledgeInteraction",
                "knowledgeInteractionName": "heights",
                "graphPattern": PATTERN,
                "prefixes": {"ex": prefix},
            },
        )
        ki.raise_for_status()

    async def poll(self) -> dict[str, Any] | None:
        """The next handle request; ``None`` once the knowledge base is gone."""
        while True:
            poll = await self.http.get(f"{self.url}/sc/handle", headers=self.headers)
            status = poll.status_code
            if status == 200:
                request: dict[str, Any] = poll.json()
                return request
            if status == 202:
                continue
            if status == 409:
                self.counters.conflicts += 1
                continue
            if status in (404, 410):
                return None
            poll.raise_for_status()
            raise RuntimeError(f"GET /sc/handle answered {status}")

    async def respond(self, request: dict[str, Any], bindings: list[dict[str, str]]) -> None:
        """Post the result of one handle request."""
        response = await self.http.post(
            f"{self.url}/sc/handle",
            headers={**self.headers, "Knowledge-Interaction-Id": request["knowledgeInteractionId"]},
            json={"handleRequestId": request["handleRequestId"], "bindingSet": bindings},
        )
        response.raise_for_status()
        self.counters.handled += 1

    async def unregister(self) -> None:
        """Delete the knowledge base, which ends its open poll with 410."""
        await self.http.delete(f"{self.url}/sc", headers=self.headers)


async def handle(kb: RawKb, request: dict[str, Any], options: RawOptions) -> None:
    """Run the handler (wait ``delay``) and post its result."""
    started = time.monotonic() if options.stamp else None
    if options.delay:
        await asyncio.sleep(options.delay)
    await kb.respond(request, answer(started))


async def sequential(kb: RawKb, options: RawOptions) -> None:
    """Poll, handle, post, and only then poll again."""
    while (request := await kb.poll()) is not None:
        await handle(kb, request, options)


async def overlapped(kb: RawKb, options: RawOptions) -> None:
    """Poll again as soon as a request is handed to its task; at most ``bound`` tasks."""
    permits = asyncio.Semaphore(options.bound)
    tasks: set[asyncio.Task[None]] = set()
    failures: list[BaseException] = []

    async def serve(request: dict[str, Any]) -> None:
        try:
            await handle(kb, request, options)
        except Exception as exc:
            failures.append(exc)
        finally:
            permits.release()

    while True:
        await permits.acquire()
        request = await kb.poll()
        if request is None:
            break
        task = asyncio.create_task(serve(request))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    if failures:
        raise failures[0]


async def serve_raw(options: RawOptions, counters: Counters) -> None:
    """Register, say ``ready``, serve until told to stop, then unregister and drain."""
    async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=120)) as http:
        kb = RawKb(http, options, counters)
        await kb.register(options.prefix)
        emit("ready")

        async def unregister_when_asked() -> None:
            await serve_commands(counters)
            await kb.unregister()

        stopper = asyncio.create_task(unregister_when_asked())
        await (overlapped if options.overlap else sequential)(kb, options)
        await stopper
