"""Helpers for the conformance tests that talk raw REST to any Knowledge Engine.

A real KE is shared: other people's knowledge bases live on it too. `Network` gives each test
KB ids and IRIs of its own (a random tag in both), so that no one else's interaction matches
the test's patterns and no one else's KB id is touched, and deletes the test's KBs afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Mapping

from km_core import (
    AskResult,
    HandleRequest,
    HandleResponse,
    KnowledgeBaseInfo,
    KnowledgeEngineError,
    KnowledgeInteractionRegistration,
    KnowledgeInteractionType,
    PollResult,
)
from km_httpx import HttpxClient

# Seconds for any one step that is quick on an idle engine. Generous: a real KE that others use
# at the same time (registering and deleting many KBs, say) has been seen to stall for over 15 s.
STEP = 30
INTEGER = "<http://www.w3.org/2001/XMLSchema#integer>"


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
