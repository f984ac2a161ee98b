"""The served engine's process and the per-exchange probes of ``served_budget.py``.

A ``km-testing serve`` equivalent in a process of its own (optionally recording when each
request arrives and when its answer is sent), a bare HTTP/1.1 client over asyncio streams, and
the first two measurements: one exchange (``GET /version``) back to back and 50 in flight, and
the long poll's round trip with a request already queued.
"""

import asyncio
import contextlib
import json
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from answering import Http
from common import IN_FLIGHT_ASKS
from cpu import process_cpu_s

from km_core import (
    HandleResponse,
    KnowledgeBaseInfo,
    KnowledgeInteractionRegistration,
    KnowledgeInteractionType,
)
from km_httpx import HttpxClient

EVENTS_PATH = "/budget/events"


# ---------------------------------------------------------------- the server process


def serve(record: bool) -> None:
    """Serve a local engine as ``km-testing serve --log-level warning`` does; print the URL."""
    import uvicorn

    from km_testing import LocalKnowledgeEngine, create_app

    app = create_app(LocalKnowledgeEngine())
    events: list[list[Any]] = []

    async def recorder(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        if scope["path"] == EVENTS_PATH:  # the record so far, then cleared
            body = json.dumps(events).encode()
            events.clear()
            length = [(b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": length})
            await send({"type": "http.response.body", "body": body})
            return
        if not record:
            await app(scope, receive, send)
            return
        # method, path, client port, arrival, answer sent
        event = [scope["method"], scope["path"], scope["client"][1], time.monotonic(), 0.0]

        async def timed_send(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                event[4] = time.monotonic()

        await app(scope, receive, timed_send)
        events.append(event)

    config = uvicorn.Config(
        recorder,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        ws="none",
        lifespan="off",
        timeout_graceful_shutdown=5,
    )

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            port = self.servers[0].sockets[0].getsockname()[1]
            print(f"serving http://127.0.0.1:{port}/rest", flush=True)

    Server(config).run()


@contextlib.asynccontextmanager
async def server_process(record: bool) -> AsyncIterator[tuple[str, int]]:
    """The server in a process of its own: its base URL and process id."""
    options = [] if record else ["--no-record"]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("served_budget.py")),
        "--serve",
        *options,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(30):
            line = (await process.stdout.readline()).decode()
        if "http://" not in line:
            raise RuntimeError(f"the server did not start: {line!r}")
        yield line.split()[-1], process.pid
    finally:
        process.terminate()
        await process.wait()


# ---------------------------------------------------------------- bare HTTP/1.1


class BareConnection:
    """One keep-alive HTTP/1.1 connection over asyncio streams: GET and read the answer."""

    def __init__(self, url: str) -> None:
        netloc = url.split("//", 1)[1].split("/", 1)[0]
        self.host, port = netloc.rsplit(":", 1)
        self.port = int(port)
        self.prefix = "/" + url.split("//", 1)[1].split("/", 1)[1]
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self, path: str) -> bytes:
        """``GET path``; the body of the answer (read by its ``Content-Length``).

        A connection that the server has closed meanwhile (its keep-alive timeout) is opened
        again, once.
        """
        try:
            return await self._get(path)
        except (asyncio.IncompleteReadError, ConnectionError):
            await self.close()
            return await self._get(path)

    async def _get(self, path: str) -> bytes:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return await reader.readexactly(length)

    async def close(self) -> None:
        """Close the connection."""
        if self.streams is not None:
            self.streams[1].close()
            with contextlib.suppress(OSError):
                await self.streams[1].wait_closed()
            self.streams = None


async def server_events(url: str) -> list[list[Any]]:
    """The server's record since the last call (and clear it)."""
    connection = BareConnection(url)
    try:
        return list(json.loads(await connection.get(EVENTS_PATH)))
    finally:
        await connection.close()


# ---------------------------------------------------------------- 1. one exchange


def per_call(seconds: float, calls: int) -> float:
    """Microseconds per call."""
    return seconds / calls * 1e6


async def one_exchange(url: str, server_pid: int, calls: int = 1000) -> dict[str, Any]:
    """GET /version: HttpxClient against bare asyncio streams back to back, in turns; and
    HttpxClient with `IN_FLIGHT_ASKS` calls in flight, as the asker keeps its asks."""
    bare = BareConnection(url)
    version_path = bare.prefix + "/version"
    results: dict[str, list[dict[str, float]]] = {"httpx_client": [], "bare_asyncio": []}
    in_flight = f"httpx_client_{IN_FLIGHT_ASKS}_in_flight"
    results[in_flight] = []
    async with HttpxClient(url) as client:
        gate = asyncio.Semaphore(IN_FLIGHT_ASKS)

        async def gated() -> None:
            async with gate:
                await client.get_version()

        async def concurrently() -> None:
            await asyncio.gather(*(gated() for _ in range(calls)))

        async def back_to_back(call: Callable[[], Awaitable[object]]) -> None:
            for _ in range(calls):
                await call()

        runs: dict[str, Callable[[], Awaitable[None]]] = {
            "httpx_client": lambda: back_to_back(client.get_version),
            "bare_asyncio": lambda: back_to_back(lambda: bare.get(version_path)),
            in_flight: concurrently,
        }
        for _ in range(3):
            for name, timed in runs.items():
                await timed()  # a warm-up as long as the run
                await server_events(url)  # clear
                wall, cpu, server = time.perf_counter(), time.process_time(), server_cpu(server_pid)
                await timed()
                sample = {
                    "wall_us": per_call(time.perf_counter() - wall, calls),
                    "client_cpu_us": per_call(time.process_time() - cpu, calls),
                    "server_cpu_us": per_call(server_cpu(server_pid) - server, calls),
                }
                ports = {e[2] for e in await server_events(url) if e[1].endswith("/version")}
                if ports:
                    sample["connections"] = len(ports)
                results[name].append(sample)
    await bare.close()
    return results


def server_cpu(pid: int) -> float:
    """The server's CPU seconds so far."""
    return process_cpu_s(pid) or 0.0


# ---------------------------------------------------------------- 2. the poll round trip


async def poll_round_trip(
    http: Http, server_pid: int, rounds: int = 5, batch: int = IN_FLIGHT_ASKS
) -> list[dict[str, float]]:
    """Polls back to back while ``batch`` asks wait: the cost of delivering one request."""
    answering, asking = HttpxClient(http.url), HttpxClient(http.url)
    answerer_id, asker_id = http.kb("budget-answerer"), http.kb("budget-asker")
    pattern = f"?tree <{http.prefix}budget-height> ?height ."
    samples = []
    try:
        ki_ids = []
        for client, kb_id, kind in (
            (answering, answerer_id, KnowledgeInteractionType.ANSWER),
            (asking, asker_id, KnowledgeInteractionType.ASK),
        ):
            info = KnowledgeBaseInfo(
                knowledge_base_id=kb_id,
                knowledge_base_name="budget",
                knowledge_base_description="-",
            )
            await client.register_kb(info)
            registration = KnowledgeInteractionRegistration(
                knowledge_interaction_type=kind,
                knowledge_interaction_name="heights",
                graph_pattern=pattern,
            )
            ki_ids.append(await client.register_ki(kb_id, registration))
        answer_ki, ask_ki = ki_ids
        for _ in range(rounds + 1):  # the first round warms up
            asks = [asyncio.create_task(asking.ask(asker_id, ask_ki, [])) for _ in range(batch)]
            await asyncio.sleep(0.5)  # every ask is queued at the engine by now
            times, requests = [], []
            cpu, server = time.process_time(), server_cpu(server_pid)
            for _ in range(batch):
                started = time.perf_counter()
                _, request = await answering.poll_ki_call(answerer_id)
                times.append(time.perf_counter() - started)
                assert request is not None
                requests.append(request)
            cpu, server = time.process_time() - cpu, server_cpu(server_pid) - server
            await asyncio.gather(
                *(
                    answering.post_handle_response(
                        answerer_id,
                        answer_ki,
                        HandleResponse(handle_request_id=r.handle_request_id, binding_set=[]),
                    )
                    for r in requests
                )
            )
            await asyncio.gather(*asks)
            samples.append(
                {
                    "p50_ms": statistics.median(times) * 1e3,
                    "answerer_cpu_us": per_call(cpu, batch),
                    "server_cpu_us": per_call(server, batch),
                }
            )
    finally:
        for client, kb_id in ((answering, answerer_id), (asking, asker_id)):
            with contextlib.suppress(Exception):
                await client.unregister_kb(kb_id)
            await client.close()
    return samples[1:]
