"""A client written for the real KE, unchanged, against ``km-testing serve``.

The legacy ``knowledge-mapper`` 0.0.24 (synchronous, on ``requests``) is installed from PyPI into
a fresh virtualenv and runs as a separate process: it registers a knowledge base with an ANSWER
and an ASK interaction through its own API, serves its handle loop, and asks. In this process an
SDK knowledge base (km-core with km-httpx's HttpxClient) asks the legacy KB, and answers it.
Both talk to ``km-testing serve`` on 127.0.0.1 over real sockets.

Every subprocess runs under a deadline and is killed in ``finally``. Readiness and progress are
read from the processes' output, never by sleeping.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.legacy import LEGACY_PACKAGE, LegacyUnavailable, ensure_legacy_python
from km_core import BindingSet, ExchangeStatus, KnowledgeBase, RequestContext
from km_httpx import HttpxClient
from tests.testing.serving import signal_process

EX = {"ex": "http://example.org/"}
SDK_ID = "http://example.org/kb/sdk"
LEGACY_ID = "http://example.org/kb/legacy"
OAK = "<http://example.org/oak>"
BEECH = "<http://example.org/beech>"
XSD = "http://www.w3.org/2001/XMLSchema#"

STEP_TIMEOUT = 15  # seconds for any one step of a subprocess

LEGACY_SCRIPT = textwrap.dedent(
    '''
    """A knowledge base written against knowledge-mapper 0.0.24, as its users write them."""

    import json
    import sys
    import threading

    from knowledge_mapper.knowledge_base import KnowledgeBaseRegistrationRequest
    from knowledge_mapper.knowledge_interaction import (
        AnswerKnowledgeInteractionRegistrationRequest,
        AskKnowledgeInteractionRegistrationRequest,
    )
    from knowledge_mapper.tke_client import TkeClient

    KE_URL, KB_ID = sys.argv[1], sys.argv[2]
    EX = {"ex": sys.argv[3] if len(sys.argv) > 3 else "http://example.org/"}
    HEIGHTS = {"<http://example.org/oak>": "21.5", "<http://example.org/beech>": "30"}
    lock = threading.Lock()


    def emit(event, **data):
        with lock:
            print(json.dumps({"event": event, **data}), flush=True)


    def heights(bindings, requesting_kb_id):
        emit("answering", requester=requesting_kb_id, bindings=bindings)
        wanted = {b["tree"] for b in bindings if "tree" in b}
        return [
            {"tree": tree, "height": height}
            for tree, height in HEIGHTS.items()
            if not wanted or tree in wanted
        ]


    client = TkeClient(KE_URL)
    client.connect()
    kb = client.register(
        KnowledgeBaseRegistrationRequest(
            id=KB_ID, name="legacy", description="A knowledge-mapper 0.0.24 knowledge base"
        )
    )
    answer = kb.register_knowledge_interaction(
        AnswerKnowledgeInteractionRegistrationRequest(
            pattern="?tree ex:height ?height .", prefixes=EX, handler=heights
        ),
        name="tree-heights",
    )
    ask = kb.register_knowledge_interaction(
        AskKnowledgeInteractionRegistrationRequest(pattern="?x ex:age ?years .", prefixes=EX),
        name="tree-ages",
    )


    def loop():
        try:
            kb.start_handle_loop()
            emit("loop-ended")
        except BaseException as exc:
            emit("loop-failed", error=repr(exc))


    handler_thread = threading.Thread(target=loop, daemon=True)
    handler_thread.start()
    emit("ready", answer_ki=answer.id, ask_ki=ask.id)

    for line in sys.stdin:
        command = line.strip()
        if command == "ask":
            emit("asked", result=ask.ask([{}]))
        elif command == "exit":
            kb.unregister()
            handler_thread.join(30)
            emit("exited", loop_alive=handler_thread.is_alive())
            break
    '''
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def legacy_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv's python with knowledge-mapper 0.0.24 installed from PyPI."""
    try:
        return ensure_legacy_python(tmp_path_factory.mktemp("legacy"))
    except LegacyUnavailable as exc:
        if exc.unreachable:
            pytest.skip(f"cannot install {LEGACY_PACKAGE}: {exc}")
        pytest.fail(str(exc))


async def _stop(process: asyncio.subprocess.Process, *, grace: float = 10) -> None:
    """Terminate, then kill after ``grace`` seconds; always reap."""
    if process.returncode is None:
        signal_process(process, signal.SIGTERM)
        try:
            async with asyncio.timeout(grace):
                await process.wait()
        except TimeoutError:
            signal_process(process, signal.SIGKILL)
            await process.wait()


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


@pytest.fixture
async def ke_url(tmp_path: Path) -> AsyncIterator[str]:
    """``km-testing serve`` on a free port of 127.0.0.1; its base URL once it listens."""
    port = _free_port()
    script = Path(sys.executable).with_name("km-testing")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "km_testing._cli"]
    log = (tmp_path / "server.log").open("wb")
    server = await asyncio.create_subprocess_exec(
        *command,
        "serve",
        "--port",
        str(port),
        "--heartbeat",
        "1",
        "--kb-wait-timeout",
        "5",
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
    )
    assert server.stdout is not None
    drain: asyncio.Task[None] | None = None
    try:
        url = f"http://127.0.0.1:{port}/rest"
        async with asyncio.timeout(STEP_TIMEOUT):
            while True:
                line = (await server.stdout.readline()).decode()
                if not line:
                    pytest.fail(
                        f"km-testing serve ended before listening:\n"
                        f"{(tmp_path / 'server.log').read_text()[-3000:]}"
                    )
                if url in line:
                    break
        drain = asyncio.create_task(_drain(server.stdout))
        yield url
    finally:
        await _stop(server)
        if drain is not None:
            async with asyncio.timeout(STEP_TIMEOUT):
                await drain
        log.close()


class Legacy:
    """The legacy KB's process: JSON events on its stdout, commands on its stdin."""

    def __init__(self, process: asyncio.subprocess.Process, log: Path) -> None:
        self.process = process
        self.log = log
        self.events: list[dict[str, Any]] = []

    async def next(self, event: str) -> dict[str, Any]:
        """The next event of that kind (others are kept in ``events``)."""
        assert self.process.stdout is not None
        async with asyncio.timeout(STEP_TIMEOUT):
            while True:
                line = await self.process.stdout.readline()
                if not line:
                    await self.process.wait()
                    pytest.fail(
                        f"the legacy KB ended (status {self.process.returncode}) before "
                        f"{event!r}:\n{self.log.read_text()[-3000:]}"
                    )
                data = json.loads(line)
                self.events.append(data)
                if data["event"] in ("loop-failed",):
                    pytest.fail(f"the legacy handle loop failed: {data}")
                if data["event"] == event:
                    return data

    async def command(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{text}\n".encode())
        await self.process.stdin.drain()


async def test_a_legacy_knowledge_mapper_kb_and_an_sdk_kb_exchange_knowledge(
    legacy_python: Path, ke_url: str, tmp_path: Path
) -> None:
    await exchange_with_a_legacy_kb(legacy_python, ke_url, tmp_path)


async def exchange_with_a_legacy_kb(
    legacy_python: Path,
    ke_url: str,
    tmp_path: Path,
    *,
    sdk_id: str = SDK_ID,
    legacy_id: str = LEGACY_ID,
    namespace: str = EX["ex"],
) -> None:
    """The legacy KB and an SDK KB ask each other, on the engine at ``ke_url``.

    Both KBs' patterns use the prefix ``ex:`` for ``namespace``; on a Knowledge Engine that
    others use too, give them ids and a namespace of their own.
    """
    ex = {"ex": namespace}
    client = HttpxClient(ke_url)
    sdk = KnowledgeBase(id=sdk_id, name="sdk", description="An SDK knowledge base", client=client)
    requesters: list[str | None] = []

    @sdk.answer_ki("tree-ages", "?tree ex:age ?age .", prefixes=ex)
    async def ages(binding_set: BindingSet, context: RequestContext) -> BindingSet:
        requesters.append(context.requesting_kb_id)
        return [{"tree": OAK, "age": "120"}, {"tree": BEECH, "age": "80"}]

    heights = sdk.ask_ki("heights", "?t ex:height ?h .", prefixes=ex)

    script = tmp_path / "legacy_kb.py"
    script.write_text(LEGACY_SCRIPT)
    log_path = tmp_path / "legacy.log"
    log = log_path.open("wb")
    process: asyncio.subprocess.Process | None = None
    sdk_loop: asyncio.Task[None] | None = None
    try:
        await sdk.connect()
        await sdk.register()
        sdk_loop = asyncio.create_task(sdk.start_handling_loop())

        process = await asyncio.create_subprocess_exec(
            str(legacy_python),
            str(script),
            ke_url,
            legacy_id,
            namespace,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        legacy = Legacy(process, log_path)
        ready = await legacy.next("ready")
        assert ready["answer_ki"] == f"{legacy_id}/interaction/tree-heights"
        assert ready["ask_ki"] == f"{legacy_id}/interaction/tree-ages"

        # The SDK asks; the legacy KB's handle loop answers in its own names and bare values.
        response = await sdk.ask_with_info(heights, [{"t": OAK}])
        assert response.binding_set == [{"t": OAK, "h": f'"21.5"^^<{XSD}decimal>'}]
        (info,) = response.exchange_info
        assert info.status is ExchangeStatus.SUCCEEDED
        assert info.knowledge_base_id == legacy_id
        assert info.knowledge_interaction_id == ready["answer_ki"]
        assert info.binding_set == [{"tree": OAK, "height": f'"21.5"^^<{XSD}decimal>'}]
        answering = await legacy.next("answering")
        assert answering["requester"] == sdk_id
        assert answering["bindings"] == [{"tree": OAK}]

        everything = await sdk.ask(heights)
        assert sorted(b["t"] for b in everything) == sorted([OAK, BEECH])

        # The legacy KB asks; the SDK KB's loop answers.
        await legacy.command("ask")
        asked = (await legacy.next("asked"))["result"]
        assert sorted(asked["bindingSet"], key=lambda b: b["x"]) == [
            {"x": BEECH, "years": f'"80"^^<{XSD}integer>'},
            {"x": OAK, "years": f'"120"^^<{XSD}integer>'},
        ]
        assert [i["knowledgeBaseId"] for i in asked["exchangeInfo"]] == [sdk_id]
        assert asked["exchangeInfo"][0]["status"] == "SUCCEEDED"
        assert requesters == [legacy_id]

        # The legacy KB unregisters: its poll gets 410 and its loop ends; the process exits.
        await legacy.command("exit")
        exited = await legacy.next("exited")
        assert exited["loop_alive"] is False
        assert any(event["event"] == "loop-ended" for event in legacy.events)
        async with asyncio.timeout(STEP_TIMEOUT):
            assert await process.wait() == 0
        assert await client.get_kb(legacy_id) is None
    finally:
        if process is not None:
            if process.stdin is not None:
                process.stdin.close()
            signal_process(process, signal.SIGKILL)
            await process.wait()
        log.close()
        try:
            await sdk.unregister()
        finally:
            if sdk_loop is not None:
                async with asyncio.timeout(STEP_TIMEOUT):
                    await sdk_loop
            await sdk.close()
