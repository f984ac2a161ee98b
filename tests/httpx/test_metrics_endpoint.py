"""``km run --metrics-port``: /metrics, /healthz and /readyz, and the server behind them.

The acceptance tests run ``km run`` as a subprocess against a ``km-testing serve`` subprocess,
make requests through it from an asking KB in this process, and scrape its endpoint with httpx;
they wait on the lines ``km run`` logs, never by sleeping. The others start the health server in
this process, on a KB with the TestClient, and speak raw HTTP/1.1 to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from km_core import (
    Backoff,
    BindingSet,
    KnowledgeBase,
    KnowledgeBaseStoppedError,
    KnowledgeEngineUnavailableError,
    Middleware,
    PollResult,
)
from km_core.prometheus import PrometheusMiddleware
from km_httpx import ExitStatus, HttpxClient
from km_httpx import _cli as cli
from km_httpx._health import MAX_HEADER_BYTES, MAX_REQUEST_LINE, HealthServer, serve_with_endpoint
from km_httpx._settings import SettingsLoadError, load_settings
from km_testing import TestClient
from tests.testing.serving import (
    ProcessOutput,
    km_testing_serve_process,
    read_line_matching,
    start_logging_process,
    stop_process,
)

APP_ID = "http://example.org/kb/metered"
ASKER_ID = "http://example.org/kb/metered-asker"
PATTERN = "?tree <http://example.org/height> ?height ."
OAK = "<http://example.org/oak>"
SERVING = r"serving metrics and health on (http://\S+)"
LOOP_STARTED = "handling loop started"
REGISTERED = f"registered knowledge base {re.escape(APP_ID)}"

# A quick backoff, so that the KB polls again soon after the engine is back.
APP = f'''
from km_core import Backoff, KnowledgeBase

kb = KnowledgeBase(
    id="{APP_ID}",
    name="metered",
    description="Knows how tall the oak is",
    poll_backoff=Backoff(initial=0.05, maximum=0.5),
)


@kb.answer_ki("heights", "{PATTERN}")
def heights(binding_set: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{{"tree": "{OAK}", "height": '"21.5"'}}]
'''


def write_app(tmp_path: Path) -> Path:
    app = tmp_path / "metered_app.py"
    app.write_text(APP)
    return app


async def start_km_run(app: Path, ke_url: str, *options: str) -> ProcessOutput:
    """``km run app:kb --ke-url URL --metrics-port 0 *options``, its log read line by line."""
    process = await start_logging_process(
        "-m",
        "km_httpx._cli",
        "run",
        f"{app}:kb",
        "--ke-url",
        ke_url,
        "--connect-wait",
        "10",
        "--grace-period",
        "5",
        "--metrics-port",
        "0",
        *options,
    )
    return ProcessOutput(process)


@contextlib.asynccontextmanager
async def asker(url: str) -> AsyncIterator[KnowledgeBase]:
    """A KB in this process that asks for heights through the engine at ``url``."""
    kb = KnowledgeBase(id=ASKER_ID, name="asker", description="Asks", client=HttpxClient(url))
    kb.ask_ki("heights", "?t <http://example.org/height> ?h .")
    async with kb:
        yield kb


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a /metrics page, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    page: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return page.get((name, frozenset({"kb": APP_ID, **labels}.items())), 0.0)


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# ---------------------------------------------------------------------- km run, acceptance


async def test_km_run_counts_the_requests_it_serves_and_is_healthy_and_ready(
    tmp_path: Path,
) -> None:
    app = write_app(tmp_path)
    async with km_testing_serve_process(tmp_path) as (url, _engine):
        km = await start_km_run(app, url)
        try:
            endpoint = (await read_line_matching(km.lines, SERVING)).group(1)
            assert urlsplit(endpoint).hostname == "127.0.0.1"
            assert urlsplit(endpoint).port != 0  # the port it picked
            await read_line_matching(km.lines, LOOP_STARTED)
            async with httpx.AsyncClient(base_url=endpoint, timeout=10) as http:
                healthz = await http.get("/healthz")
                assert (healthz.status_code, healthz.text) == (200, "ok\n")
                readyz = await http.get("/readyz")
                assert (readyz.status_code, readyz.text) == (200, "ready\n")
                async with asker(url) as kb:
                    for _ in range(3):
                        assert await kb.ask("heights", [{"t": OAK}]) == [{"t": OAK, "h": '"21.5"'}]
                # Each request's access line comes after the middleware counted it.
                for _ in range(3):
                    await read_line_matching(km.lines, r" km_core\.access: .*: answered 1 binding")
                scraped = await http.get("/metrics")
            assert scraped.status_code == 200
            assert scraped.headers["content-type"] == CONTENT_TYPE_LATEST
            page = samples(scraped.text)
            labels = {"interaction": "heights", "outcome": "answered", "response": "bindings"}
            assert value(page, "km_handle_requests_total", **labels) == 3
            assert value(page, "km_handler_duration_seconds_count", interaction="heights") == 3
            assert value(page, "km_polls_total", result="handle") == 3
            assert value(page, "km_handlers_in_flight") == 0
            assert value(page, "km_polling") == 1
            assert value(page, "km_registrations_total", kind="first") == 1
            assert value(page, "km_responses_dropped_total") == 0
        finally:
            status = await km.stop(sig=signal.SIGTERM)
    assert status == ExitStatus.OK, km.text
    assert "Traceback" not in km.text


async def test_readyz_follows_the_engine_going_away_and_coming_back(tmp_path: Path) -> None:
    app = write_app(tmp_path)
    async with km_testing_serve_process(tmp_path) as (url, engine):
        port = urlsplit(url).port
        assert port is not None
        km = await start_km_run(app, url)
        try:
            endpoint = (await read_line_matching(km.lines, SERVING)).group(1)
            await read_line_matching(km.lines, LOOP_STARTED)
            async with httpx.AsyncClient(base_url=endpoint, timeout=10) as http:
                assert (await http.get("/readyz")).status_code == 200

                assert await stop_process(engine, sig=signal.SIGKILL) == -signal.SIGKILL
                await read_line_matching(
                    km.lines, f"knowledge base {re.escape(APP_ID)}: polling failed"
                )
                away = await http.get("/readyz")
                assert away.status_code == 503
                assert away.text.startswith("not polling: the Knowledge Engine is away ("), (
                    away.text
                )
                assert away.text.count("\n") == 1
                assert (await http.get("/healthz")).status_code == 200  # alive all the same

                # The engine is back on the same port: it forgot the KB, which registers again.
                async with km_testing_serve_process(tmp_path, "--port", str(port)) as (again, _):
                    assert again == url
                    await read_line_matching(km.lines, REGISTERED)
                    back = await http.get("/readyz")
                    assert (back.status_code, back.text) == (200, "ready\n")
                    page = samples((await http.get("/metrics")).text)
                    assert value(page, "km_registrations_total", kind="again") >= 1
                    assert value(page, "km_registrations_total", kind="first") == 1
                    failures = sum(
                        count
                        for (name, labels), count in page.items()
                        if name == "km_poll_failures_total" and ("kb", APP_ID) in labels
                    )
                    assert failures >= 1
                    assert value(page, "km_polling") == 1
                    status = await km.stop(sig=signal.SIGTERM)
        finally:
            await km.stop(sig=signal.SIGKILL)
    assert status == ExitStatus.OK, km.text


async def test_healthz_answers_while_km_run_waits_for_the_engine(tmp_path: Path) -> None:
    app = write_app(tmp_path)
    km = await start_km_run(app, f"http://127.0.0.1:{unused_port()}/rest")
    try:
        endpoint = (await read_line_matching(km.lines, SERVING)).group(1)
        async with httpx.AsyncClient(base_url=endpoint, timeout=10) as http:
            assert (await http.get("/healthz")).status_code == 200
            waiting = await http.get("/readyz")
            assert (waiting.status_code, waiting.text) == (
                503,
                "not registered: waiting for the Knowledge Engine\n",
            )
    finally:
        status = await km.stop(sig=signal.SIGTERM)
    assert status == ExitStatus.OK, km.text


async def test_a_metrics_port_in_use_is_a_usage_error(tmp_path: Path) -> None:
    app = write_app(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = await start_logging_process(
            "-m",
            "km_httpx._cli",
            "run",
            f"{app}:kb",
            "--ke-url",
            f"http://127.0.0.1:{unused_port()}/rest",
            "--metrics-port",
            str(port),
        )
        km = ProcessOutput(process)
        status = await km.exited(within=20)
    assert status == ExitStatus.USAGE, km.text
    lines = km.text.splitlines()
    assert lines[-1] == (
        f"km: cannot serve metrics and health on 127.0.0.1:{port}: address already in use"
    ), km.text
    assert "Traceback" not in km.text
    assert "cannot connect" not in km.text  # it stopped before connecting


def test_without_prometheus_client_km_run_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # as if not installed
    with pytest.raises(SystemExit) as exited:
        cli.main(["run", f"{write_app(tmp_path)}:kb", "--metrics-port", "9464"])
    assert exited.value.code == ExitStatus.USAGE
    assert capsys.readouterr().err == (
        "km: --metrics-port needs prometheus-client: pip install 'km-httpx[metrics]'\n"
    )


def test_km_run_help_names_the_metrics_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["run", "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert (
        "--metrics-port PORT serve Prometheus metrics on /metrics, and /healthz and /readyz" in text
    )
    assert "--metrics-host HOST the address --metrics-port listens on (default: 127.0.0.1)" in text


def test_the_metrics_settings_come_from_the_environment_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("KM_METRICS_PORT", "KM_METRICS_HOST"):
        monkeypatch.delenv(name, raising=False)
    assert load_settings({}).metrics_port is None
    assert load_settings({}).metrics_host == "127.0.0.1"
    monkeypatch.setenv("KM_METRICS_PORT", "9464")
    monkeypatch.setenv("KM_METRICS_HOST", "0.0.0.0")
    settings = load_settings({})
    assert (settings.metrics_port, settings.metrics_host) == (9464, "0.0.0.0")
    assert load_settings({"metrics_port": "0"}).metrics_port == 0  # the flag wins
    with pytest.raises(SettingsLoadError, match=r"metrics_port: .*65535.* \(got '70000'\)"):
        load_settings({"metrics_port": "70000"})


# ---------------------------------------------------------------------- the server itself


@pytest.fixture
def scripted() -> TestClient:
    """The KE, scripted (the ``client`` fixture of this directory is an HttpxClient)."""
    return TestClient()


def quick_kb(scripted: TestClient) -> KnowledgeBase:
    kb = KnowledgeBase(id=APP_ID, name="metered", description="", client=scripted)

    @kb.answer_ki("heights", PATTERN)
    async def heights(binding_set: BindingSet) -> BindingSet:
        return []

    return kb


@contextlib.asynccontextmanager
async def health_server(kb: KnowledgeBase, **options: float) -> AsyncIterator[HealthServer]:
    registry = CollectorRegistry()
    kb.add_middleware(PrometheusMiddleware(registry))
    async with HealthServer(kb, port=0, registry=registry, **options) as server:
        yield server


async def exchange(server: HealthServer, data: bytes) -> tuple[str, dict[str, str], bytes]:
    """Send raw bytes; return the status line, the headers and the body of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(10):
            answer = await reader.read()  # to EOF: the server closes after one response
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {
        name.lower(): value.strip()
        for name, _, value in (line.partition(":") for line in header_lines)
    }
    return status, headers, body


def get(path: str, method: str = "GET") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()


async def test_the_server_answers_get_and_head_and_refuses_the_rest(scripted: TestClient) -> None:
    async with health_server(quick_kb(scripted)) as server:
        status, headers, body = await exchange(server, get("/healthz"))
        assert (status, body) == ("HTTP/1.1 200 OK", b"ok\n")
        assert headers["connection"] == "close"
        assert headers["content-length"] == "3"

        status, headers, body = await exchange(server, get("/healthz", "HEAD"))
        assert (status, headers["content-length"], body) == ("HTTP/1.1 200 OK", "3", b"")

        status, headers, body = await exchange(server, get("/metrics?x=1"))
        assert status == "HTTP/1.1 200 OK"
        assert headers["content-type"] == CONTENT_TYPE_LATEST
        assert b"# TYPE km_handle_requests_total counter" in body

        status, _, _ = await exchange(server, get("/elsewhere"))
        assert status == "HTTP/1.1 404 Not Found"
        status, headers, _ = await exchange(server, get("/metrics", "POST"))
        assert status == "HTTP/1.1 405 Method Not Allowed"
        assert headers["allow"] == "GET, HEAD"

        status, _, _ = await exchange(server, b"GARBAGE\r\n\r\n")
        assert status == "HTTP/1.1 400 Bad Request"
        long_line = get("/" + "a" * MAX_REQUEST_LINE)
        status, _, _ = await exchange(server, long_line)
        assert status == "HTTP/1.1 414 URI Too Long"
        filler = b"X-Filler: " + b"b" * 1000 + b"\r\n"
        fillers = filler * (MAX_HEADER_BYTES // len(filler) + 1)
        status, _, _ = await exchange(server, b"GET /healthz HTTP/1.1\r\n" + fillers + b"\r\n")
        assert status == "HTTP/1.1 431 Request Header Fields Too Large"
        long_header = b"X-Long: " + b"c" * MAX_REQUEST_LINE + b"\r\n"
        status, _, _ = await exchange(server, b"GET /healthz HTTP/1.1\r\n" + long_header + b"\r\n")
        assert status == "HTTP/1.1 431 Request Header Fields Too Large"


async def test_a_connection_that_sends_nothing_is_closed_after_the_read_timeout(
    scripted: TestClient,
) -> None:
    async with health_server(quick_kb(scripted), read_timeout=0.2) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /healthz HTTP/1.1\r\n")  # and never the end of the headers
        await writer.drain()
        async with asyncio.timeout(10):
            assert await reader.read() == b""  # closed without an answer
        writer.close()
        await writer.wait_closed()
        # It still serves others.
        status, _, _ = await exchange(server, get("/healthz"))
        assert status == "HTTP/1.1 200 OK"


class Heard(Middleware):
    """Sets an event when the handling loop hears of a poll, or of a failed one."""

    def __init__(self) -> None:
        self.polled = asyncio.Event()
        self.failed = asyncio.Event()

    def on_poll(self, kb_id: str, result: PollResult) -> None:
        self.polled.set()

    def on_poll_failure(self, kb_id: str, error: BaseException) -> None:
        self.failed.set()


async def readyz(server: HealthServer) -> tuple[str, bytes]:
    status, _, body = await exchange(server, get("/readyz"))
    return status, body


UNAVAILABLE = "HTTP/1.1 503 Service Unavailable"


async def test_readyz_says_not_registered_starting_ready_and_stopping(scripted: TestClient) -> None:
    kb = quick_kb(scripted)
    async with health_server(kb) as server:
        heard = Heard()
        kb.add_middleware(heard)  # after the server's: it hears once the server knows
        assert await readyz(server) == (
            UNAVAILABLE,
            b"not registered: waiting for the Knowledge Engine\n",
        )
        await kb.connect()
        await kb.register()
        assert await readyz(server) == (UNAVAILABLE, b"not polling yet: starting\n")
        loop = asyncio.create_task(kb.start_handling_loop())
        scripted.enqueue_handle_request("heights", [{"tree": OAK}])
        await asyncio.wait_for(heard.polled.wait(), 10)
        assert await readyz(server) == ("HTTP/1.1 200 OK", b"ready\n")
        kb.stop()
        assert await readyz(server) == (UNAVAILABLE, b"stopping\n")
        await asyncio.wait_for(loop, 10)
        await kb.unregister()
        assert await readyz(server) == (UNAVAILABLE, b"stopping: unregistered\n")


async def test_readyz_says_the_engine_is_away_after_a_failed_poll(scripted: TestClient) -> None:
    kb = quick_kb(scripted)
    kb.poll_backoff = Backoff(initial=30, maximum=30)  # after the failed poll, the loop waits
    async with health_server(kb) as server:
        heard = Heard()
        kb.add_middleware(heard)
        await kb.connect()
        await kb.register()
        scripted.fail_next("poll_ki_call", KnowledgeEngineUnavailableError("connection refused"))
        loop = asyncio.create_task(kb.start_handling_loop())
        await asyncio.wait_for(heard.failed.wait(), 10)
        assert await readyz(server) == (
            UNAVAILABLE,
            b"not polling: the Knowledge Engine is away (KnowledgeEngineUnavailableError)\n",
        )
        kb.stop()  # during the 30 s pause
        await asyncio.wait_for(loop, 10)


async def test_serve_with_endpoint_serves_the_registry_of_the_kbs_own_middleware(
    scripted: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="km_httpx")
    kb = quick_kb(scripted)
    own = PrometheusMiddleware(CollectorRegistry())
    kb.add_middleware(own)
    scraped: list[httpx.Response] = []

    @kb.on_startup
    async def scrape() -> None:  # registered, the endpoint up: scrape it once
        endpoint = re.search(SERVING, caplog.text)
        assert endpoint is not None
        async with httpx.AsyncClient(base_url=endpoint.group(1), timeout=10) as http:
            scraped.append(await http.get("/metrics"))
        scripted.enqueue_exit()  # then the KE stops the KB once it polls

    with pytest.raises(KnowledgeBaseStoppedError):
        await asyncio.wait_for(
            serve_with_endpoint(kb, host="127.0.0.1", port=0, handle_signals=False), 10
        )
    assert [m for m in kb.middleware if isinstance(m, PrometheusMiddleware)] == [own]
    [response] = scraped
    page = samples(response.text)
    assert value(page, "km_registrations_total", kind="first") == 1
    assert not any(name.startswith("python_") for name, _ in page)  # not the default registry
