"""A KB on HttpxClient serves a scripted long poll: concurrency, and surviving poll failures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from km_core import (
    Backoff,
    BindingSet,
    ClientClosedError,
    KnowledgeBase,
)
from km_httpx import HttpxClient
from tests.support import Arrivals

BASE = "http://ke.test/rest"
KB_ID = "http://example.org/kb/over-http"
KI_ID = f"{KB_ID}/interaction/heights"
OAK = "<http://example.org/oak>"

Step = int | str | dict[str, Any]
"""A scripted answer to one poll: a status, "drop", "exit", or a handle request body."""


class ScriptedKnowledgeEngine:
    """Just enough of a KE for one KB, with a long poll that answers from a script."""

    def __init__(self) -> None:
        self.script: asyncio.Queue[Step] = asyncio.Queue()
        self.open_polls = 0
        self.poll_opened = asyncio.Event()
        self.conflicts = 0
        self.polls = 0
        self.registrations = 0
        self.answers: list[tuple[httpx.Headers, dict[str, Any]]] = []

    def handle(self, request_id: int, binding_set: BindingSet) -> None:
        self.script.put_nowait(
            {
                "knowledgeInteractionId": KI_ID,
                "handleRequestId": request_id,
                "bindingSet": binding_set,
                "requestingKnowledgeBaseId": "http://example.org/kb/asker",
            }
        )

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/rest")
        if path == "/version":
            return httpx.Response(200, json={"version": "1.5.0"})
        if path == "/sc" and request.method == "POST":
            self.registrations += 1
            return httpx.Response(200)
        if path == "/sc" and request.method == "DELETE":
            return httpx.Response(200)
        if path == "/sc/ki" and request.method == "POST":
            name = json.loads(request.content)["knowledgeInteractionName"]
            return httpx.Response(
                200, json={"knowledgeInteractionId": f"{KB_ID}/interaction/{name}"}
            )
        if path == "/sc/handle" and request.method == "GET":
            return await self._poll(request)
        if path == "/sc/handle" and request.method == "POST":
            self.answers.append((request.headers, json.loads(request.content)))
            return httpx.Response(200)
        return httpx.Response(404, json={"messageType": "error", "message": "no such path"})

    async def _poll(self, request: httpx.Request) -> httpx.Response:
        if self.open_polls:  # the real KE's rule: one poll per KB
            self.conflicts += 1
            return httpx.Response(
                409,
                json={
                    "messageType": "error",
                    "message": "Only one connection per Knowledge-Base-Id is allowed and we "
                    "already have one.",
                },
            )
        self.polls += 1
        self.open_polls += 1
        self.poll_opened.set()
        try:
            step = await self.script.get()
        finally:
            self.open_polls -= 1
        if step == "drop":
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        if step == "exit":
            return httpx.Response(
                410,
                json={
                    "messageType": "message",
                    "message": "This long polling request is cancelled by the server because "
                    "it or the Knowledge Base is stopping. Do not reinitiate this request.",
                },
            )
        if isinstance(step, int):
            return httpx.Response(
                step, json={"messageType": "error", "message": f"scripted {step}"}
            )
        assert isinstance(step, dict)
        return httpx.Response(200, json=step)


@pytest.fixture
def engine() -> ScriptedKnowledgeEngine:
    return ScriptedKnowledgeEngine()


@pytest.fixture
async def http_kb(engine: ScriptedKnowledgeEngine) -> AsyncIterator[KnowledgeBase]:
    transport = httpx.MockTransport(engine)
    async with httpx.AsyncClient(transport=transport) as http:
        client = HttpxClient(BASE, http_client=http)
        kb = KnowledgeBase(
            id=KB_ID,
            name="over-http",
            description="",
            client=client,
            poll_backoff=Backoff(initial=0.001, maximum=0.01),
        )
        yield kb
        await kb.close()


async def test_handlers_run_concurrently_over_http(
    http_kb: KnowledgeBase, engine: ScriptedKnowledgeEngine
) -> None:
    bound = 10
    arrivals = Arrivals()

    @http_kb.answer_ki("heights", "?tree <http://example.org/height> ?height .")
    async def heights(binding_set: BindingSet) -> BindingSet:
        await arrivals.arrive()
        await arrivals.wait_for(bound)  # nobody answers before all ten are running
        return [{"tree": b["tree"], "height": '"21"'} for b in binding_set]

    await http_kb.connect()
    await http_kb.register()
    for request_id in range(1, bound + 1):
        engine.handle(request_id, [{"tree": OAK}])
    engine.script.put_nowait("exit")
    await http_kb.start_handling_loop(max_concurrent_handlers=bound)

    assert engine.conflicts == 0
    assert sorted(body["handleRequestId"] for _, body in engine.answers) == list(
        range(1, bound + 1)
    )
    for headers, body in engine.answers:
        assert headers["Knowledge-Base-Id"] == KB_ID
        assert headers["Knowledge-Interaction-Id"] == KI_ID
        assert body["bindingSet"] == [{"tree": OAK, "height": '"21"'}]
        assert "errorMessage" not in body


async def test_the_loop_survives_409_500_and_a_dropped_connection(
    http_kb: KnowledgeBase, engine: ScriptedKnowledgeEngine, caplog: pytest.LogCaptureFixture
) -> None:
    @http_kb.answer_ki("heights", "?tree <http://example.org/height> ?height .")
    async def heights(binding_set: BindingSet) -> BindingSet:
        return [{"tree": OAK, "height": '"21"'}]

    await http_kb.register()
    engine.handle(1, [])
    for step in (409, 500, "drop"):
        engine.script.put_nowait(step)
    engine.handle(2, [])
    engine.script.put_nowait(503)
    engine.handle(3, [])
    engine.script.put_nowait("exit")
    await http_kb.start_handling_loop()

    assert sorted(body["handleRequestId"] for _, body in engine.answers) == [1, 2, 3]
    assert engine.polls == 8  # every scripted step was polled: the loop kept polling
    messages = [r.getMessage() for r in caplog.records if r.name == "km_core"]
    # A first 409 is polled again at once, without a warning; the 500 after it starts the
    # episode of failures that backs off and warns.
    assert not any("scripted 409" in m for m in messages if "polling failed" in m)
    assert any("polling failed" in m and "scripted 500" in m for m in messages)
    assert any("polling failed" in m and "scripted 503" in m for m in messages)


async def test_a_404_during_the_poll_registers_the_kb_again(
    http_kb: KnowledgeBase, engine: ScriptedKnowledgeEngine
) -> None:
    @http_kb.answer_ki("heights", "?tree <http://example.org/height> ?height .")
    async def heights(binding_set: BindingSet) -> BindingSet:
        return [{"tree": OAK, "height": '"1"'}]

    await http_kb.register()
    assert engine.registrations == 1
    engine.script.put_nowait(404)  # the KE restarted and forgot the KB
    engine.handle(1, [])
    engine.script.put_nowait("exit")
    await http_kb.start_handling_loop()
    assert engine.registrations == 2
    assert [body["handleRequestId"] for _, body in engine.answers] == [1]


async def test_closing_the_client_during_a_poll_ends_the_loop_with_an_error(
    http_kb: KnowledgeBase, engine: ScriptedKnowledgeEngine
) -> None:
    @http_kb.answer_ki("heights", "?tree <http://example.org/height> ?height .")
    async def heights(binding_set: BindingSet) -> BindingSet:
        return []

    await http_kb.register()
    loop_task = asyncio.create_task(http_kb.start_handling_loop())
    await asyncio.wait_for(engine.poll_opened.wait(), 10)
    await http_kb.close()

    with pytest.raises(ClientClosedError, match="closed during the poll"):
        await asyncio.wait_for(loop_task, 10)
