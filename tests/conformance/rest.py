"""Helpers for the conformance tests that talk raw REST to any Knowledge Engine.

A real KE is shared: other people's knowledge bases live on it too. `Network` gives each test
KB ids and IRIs of its own (a random tag in both), so that no one else's interaction matches
the test's patterns and no one else's KB id is touched, and deletes the test's KBs afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from km_core import (
    AskResult,
    HandleRequest,
    HandleResponse,
    KnowledgeBaseInfo,
    KnowledgeEngineError,
    KnowledgeInteractionRegistration,
    KnowledgeInteractionType,
    PollConflictError,
    PollResult,
)
from km_httpx import HttpxClient

# Seconds for any one step that is quick on an idle engine. Generous: a real KE that others use
# at the same time (registering and deleting many KBs, say) has been seen to stall for over 15 s.
STEP = 30
INTEGER = "<http://www.w3.org/2001/XMLSchema#integer>"
T = TypeVar("T")


def kb(kb_id: str, *, lease: int | None = None) -> KnowledgeBaseInfo:
    return KnowledgeBaseInfo(
        knowledge_base_id=kb_id,
        knowledge_base_name="conformance",
        knowledge_base_description="",
        lease_renewal_time=lease,
    )


def ki(kind: KnowledgeInteractionType, name: str, pattern: str) -> KnowledgeInteractionRegistration:
    """An ASK or ANSWER interaction."""
    return KnowledgeInteractionRegistration(
        knowledge_interaction_type=kind, knowledge_interaction_name=name, graph_pattern=pattern
    )


def proactive(
    kind: KnowledgeInteractionType, name: str, argument: str, result: str | None = None
) -> KnowledgeInteractionRegistration:
    """A POST or REACT interaction."""
    return KnowledgeInteractionRegistration(
        knowledge_interaction_type=kind,
        knowledge_interaction_name=name,
        argument_graph_pattern=argument,
        result_graph_pattern=result,
    )


async def delete_kbs(url: str, *kb_ids: str) -> None:
    """Delete these KBs if the engine has them (a real KE keeps what a failed run left)."""
    async with HttpxClient(url) as client:
        for kb_id in kb_ids:
            with contextlib.suppress(KnowledgeEngineError):
                if await client.get_kb(kb_id) is not None:
                    await client.unregister_kb(kb_id)


def integer(value: int) -> str:
    return f'"{value}"^^{INTEGER}'


def ordered(binding_set: list[dict[str, str]]) -> list[dict[str, str]]:
    """A binding set in a fixed order: the KE's binding sets are sets."""
    return sorted(binding_set, key=lambda binding: sorted(binding.items()))


class Network:
    """One test's KBs on the engine at ``url``, with ids and IRIs no one else uses."""

    def __init__(self, url: str, client: HttpxClient) -> None:
        self.url = url
        self.client = client
        self.tag = uuid.uuid4().hex[:12]
        self.kb_ids: list[str] = []

    def kb_id(self, name: str) -> str:
        return f"http://example.org/kb/conformance-{self.tag}/{name}"

    def iri(self, name: str) -> str:
        return f"<http://example.org/conformance-{self.tag}/{name}>"

    async def register(self, name: str, *, lease: int | None = None) -> str:
        kb_id = self.kb_id(name)
        self.kb_ids.append(kb_id)
        await self.client.register_kb(kb(kb_id, lease=lease), reregister=True)
        return kb_id

    async def with_ki(self, name: str, registration: KnowledgeInteractionRegistration) -> str:
        """Register KB ``name`` (unless this test did) and the interaction; its id."""
        kb_id = self.kb_id(name)
        if kb_id not in self.kb_ids:
            await self.register(name)
        return await self.client.register_ki(kb_id, registration)

    async def answerer(self, name: str, pattern: str) -> str:
        """A KB with one ANSWER interaction ``answer`` on ``pattern``; the interaction's id."""
        return await self.with_ki(name, ki(KnowledgeInteractionType.ANSWER, "answer", pattern))

    async def asker(self, name: str, pattern: str) -> str:
        """A KB with one ASK interaction ``ask`` on ``pattern``; the interaction's id."""
        return await self.with_ki(name, ki(KnowledgeInteractionType.ASK, "ask", pattern))

    async def close(self) -> None:
        await delete_kbs(self.url, *self.kb_ids)


async def next_request(client: HttpxClient, kb_id: str) -> HandleRequest:
    """The KB's next handle request (polled; the engine must have one on its way)."""
    result, request = await asyncio.wait_for(client.poll_ki_call(kb_id), STEP)
    assert result is PollResult.HANDLE, f"{kb_id} polled {result}"
    assert request is not None
    return request


async def respond(
    client: HttpxClient,
    kb_id: str,
    request: HandleRequest,
    binding_set: list[dict[str, str]] | None = None,
    *,
    error: str | None = None,
) -> None:
    """Answer ``request`` with bindings, or with an error message."""
    response = HandleResponse(
        handle_request_id=request.handle_request_id,
        binding_set=(binding_set or []) if error is None else None,
        error_message=error,
    )
    await client.post_handle_response(kb_id, request.knowledge_interaction_id, response)


async def serve_until_answered(
    client: HttpxClient,
    asking: asyncio.Task[AskResult],
    answerers: list[str],
    answer: Callable[[str, HandleRequest], list[dict[str, str]]],
) -> tuple[AskResult, Mapping[str, HandleRequest]]:
    """Poll for every answerer and answer what each receives, until ``asking`` is done.

    Returns:
        The ask's result, and the request each answerer that was contacted received.
    """
    polls: dict[asyncio.Task[tuple[PollResult, HandleRequest | None]], str] = {}
    received: dict[str, HandleRequest] = {}
    try:
        async with asyncio.timeout(2 * STEP):
            while not asking.done():
                for kb_id in set(answerers) - set(polls.values()) - set(received):
                    polls[asyncio.create_task(client.poll_ki_call(kb_id))] = kb_id
                done, _ = await asyncio.wait({*polls, asking}, return_when=asyncio.FIRST_COMPLETED)
                for poll in done & set(polls):
                    kb_id = polls.pop(poll)
                    result, request = poll.result()
                    assert result is PollResult.HANDLE, f"{kb_id} polled {result}"
                    assert request is not None
                    received[kb_id] = request
                    await respond(client, kb_id, request, answer(kb_id, request))
            return asking.result(), received
    finally:
        asking.cancel()
        for poll in polls:
            poll.cancel()
        await asyncio.gather(asking, *polls, return_exceptions=True)


# ------------------------------------------------ the reasoner's scenarios (test_reasoning_*)

Respond = Callable[[HandleRequest], list[dict[str, str]]]
"""What a served KB answers to a handle request: its binding set."""


async def register_at_level(
    net: Network, name: str, level: int | None, *, kb_name: str = "conformance"
) -> str:
    """Register KB ``name`` of ``net`` with reasoner level ``level`` (None: the engine's)."""
    kb_id = net.kb_id(name)
    net.kb_ids.append(kb_id)
    info = KnowledgeBaseInfo(
        knowledge_base_id=kb_id,
        knowledge_base_name=kb_name,
        knowledge_base_description="",
        reasoner_level=level,
    )
    await net.client.register_kb(info, reregister=True)
    return kb_id


def rows_within(rows: list[dict[str, str]]) -> Respond:
    """An answer: the ``rows`` that agree with some binding of the request (``[]``: all)."""

    def respond(request: HandleRequest) -> list[dict[str, str]]:
        incoming = request.binding_set or [{}]
        return [
            row
            for row in rows
            if any(all(row.get(var) == value for var, value in b.items()) for b in incoming)
        ]

    return respond


def nothing(request: HandleRequest) -> list[dict[str, str]]:
    """An answer with no bindings (what a REACT without a result pattern must send)."""
    return []


class Served:
    """The test's answering and reacting KBs, each polled in the background and answering.

    Use it as an async context manager around the test's exchanges. Every KB answers each
    request with its `Respond` and records it in `received`, up to `limit` requests; a failed
    poll (two 409s in a row, 404, 500) or a request beyond the limit is raised when the block
    ends.
    """

    def __init__(
        self, client: HttpxClient, respond: Mapping[str, Respond], *, limit: int = 20
    ) -> None:
        self.client = client
        self.answers = dict(respond)
        self.limit = limit
        self.received: dict[str, list[HandleRequest]] = {kb_id: [] for kb_id in respond}
        self._arrived = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []

    async def _serve(self, kb_id: str) -> None:
        for _ in range(self.limit):
            result, request = await self._poll(kb_id)
            if result is PollResult.EXIT:
                return
            assert request is not None
            async with self._arrived:
                self.received[kb_id].append(request)
                self._arrived.notify_all()
            await respond(self.client, kb_id, request, self.answers[kb_id](request))
        raise AssertionError(f"{kb_id} received more than {self.limit} requests")

    async def _poll(self, kb_id: str) -> tuple[PollResult, HandleRequest | None]:
        """The KB's next request, or EXIT.

        KE 1.5.0 answers 409 now and then right after an answered poll: a first 409 is polled
        again after a moment, a second in a row is raised. A heartbeat (REPOLL) is polled
        again, up to 10 times (about 5 minutes).
        """
        conflicts = 0
        for _ in range(10):
            try:
                result, request = await self.client.poll_ki_call(kb_id)
            except PollConflictError:
                conflicts += 1
                if conflicts > 1:
                    raise
                await asyncio.sleep(0.1)
                continue
            conflicts = 0
            if result is not PollResult.REPOLL:
                return result, request
        raise AssertionError(f"{kb_id} got no request in 10 polls")

    async def __aenter__(self) -> Served:
        self._tasks = [asyncio.create_task(self._serve(kb_id)) for kb_id in self.answers]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for task in self._tasks:
            task.cancel()
        results = await asyncio.gather(*self._tasks, return_exceptions=True)
        problems = [r for r in results if isinstance(r, Exception)]
        if problems and exc_info[0] is None:
            raise problems[0]

    def add(self, kb_id: str, respond: Respond) -> None:
        """Serve one more KB (registered after the block began) from now on."""
        self.answers[kb_id] = respond
        self.received[kb_id] = []
        self._tasks.append(asyncio.create_task(self._serve(kb_id)))

    def clear(self) -> None:
        """Forget what was received so far (before the next exchange of a test)."""
        for requests in self.received.values():
            requests.clear()

    def bindings(self, kb_id: str) -> list[list[dict[str, str]]]:
        """The binding sets the KB received, in order, each in a fixed order."""
        return [ordered(request.binding_set) for request in self.received[kb_id]]

    async def run(self, exchange: Awaitable[T]) -> T:
        """The ask's or post's result, while the KBs answer (at most 2 `STEP`\\ s)."""
        async with asyncio.timeout(2 * STEP):
            return await exchange

    async def wait_for(self, kb_id: str, check: Callable[[HandleRequest], bool]) -> HandleRequest:
        """The first request the KB received (or receives within a `STEP`) that ``check``s."""
        async with asyncio.timeout(STEP), self._arrived:
            while True:
                for request in self.received[kb_id]:
                    if check(request):
                        return request
                await self._arrived.wait()
