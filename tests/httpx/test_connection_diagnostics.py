"""Why the Knowledge Engine cannot be reached, as `HttpxClient.get_version` and
`KnowledgeBase.connect` tell it, against real things on 127.0.0.1.

Each cause is produced by a real part: a port nobody listens on, HTTP servers that are not a
Knowledge Engine, https to a plain HTTP server, a server with a self-signed certificate, a
socket that accepts but never answers, a listener whose backlog is full, and a host under
``.invalid``. Every message names the URL (or host and port) of a client made with
``http://user:s3cret@...``, and none gives the password away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from km_core import (
    KnowledgeBase,
    KnowledgeEngineError,
    KnowledgeEngineUnavailableError,
    UnexpectedResponseError,
)
from km_httpx import HttpxClient
from km_testing import LocalKnowledgeEngine, serve_locally

HOST = "127.0.0.1"
KB_ID = "http://example.org/kb/diagnosed"
SECRET = "s3cret"
LOGGERS = ("km_core", "km_httpx")


def with_password(url: str) -> str:
    """``http://127.0.0.1:1/rest`` as ``http://user:s3cret@127.0.0.1:1/rest``."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://user:{SECRET}@{rest}"


def shown_by(client: HttpxClient, url: str) -> str:
    """The URL as ``client`` shows it, in its repr and its messages, checked to be ``url``
    without its password: masked as ``***``, or the credentials left out altogether."""
    text = repr(client)
    assert SECRET not in text
    found = re.fullmatch(r"<HttpxClient '(.*)'>", text)
    assert found, text
    masked = url.replace(f"user:{SECRET}@", "user:***@")
    bare = url.replace(f"user:{SECRET}@", "")
    assert found.group(1) in (masked, bare), text
    return found.group(1)


@pytest.fixture
def sdk_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Everything the SDK logs, down to DEBUG."""
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def sdk_text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(
        record.getMessage() for record in caplog.records if record.name.split(".")[0] in LOGGERS
    )


async def diagnose(url: str, **options: Any) -> tuple[KnowledgeEngineError, str, str]:
    """The error of ``get_version``, its message, and the URL as the client shows it.

    Asserts that ``connect(wait=0)`` makes one attempt and says what ``get_version`` said, and
    that neither the errors nor the client's repr give the password away.
    """
    client = HttpxClient(url, **options)
    try:
        shown = shown_by(client, url)
        with pytest.raises(KnowledgeEngineError) as version_error:
            await client.get_version()
        kb = KnowledgeBase(id=KB_ID, name="diagnosed", description="", client=client)
        with pytest.raises(KnowledgeEngineUnavailableError) as connect_error:
            await kb.connect(wait=0)
    finally:
        await client.close()
    error = version_error.value
    message = error.message
    assert connect_error.value.message == (
        f"cannot connect to the Knowledge Engine: {message} (1 attempt)"
    )
    assert connect_error.value.endpoint == "GET /version"
    assert connect_error.value.kb_id == KB_ID
    for text in (str(error), repr(error), str(connect_error.value), repr(connect_error.value)):
        assert SECRET not in text
    return error, message, shown


@pytest.fixture
def unused_port() -> Iterator[int]:
    """A port bound on 127.0.0.1 without listening: connecting to it is refused."""
    with socket.socket() as reserved:
        reserved.bind((HOST, 0))
        yield reserved.getsockname()[1]


# ---------------------------------------------------------------------- nothing listening


async def test_nothing_listening(unused_port: int, sdk_log: pytest.LogCaptureFixture) -> None:
    url = with_password(f"http://{HOST}:{unused_port}/rest")
    error, message, shown = await diagnose(url)
    assert isinstance(error, KnowledgeEngineUnavailableError)
    assert message == (
        f"nothing is listening at {HOST}:{unused_port}, where {shown}/version points "
        "(connection refused)"
    )
    assert SECRET not in sdk_text(sdk_log)


# ---------------------------------------------------------------------- not a Knowledge Engine


async def version_page(request: Request) -> Response:
    kind = request.path_params["kind"]
    if kind == "html":
        return HTMLResponse("<html><body><h1>Welcome to our intranet</h1></body></html>")
    if kind == "list":
        return JSONResponse(["1.5.0"])
    if kind == "empty":
        return JSONResponse({})
    return PlainTextResponse("Not Found", status_code=404)


@pytest.fixture
async def not_a_ke() -> AsyncIterator[str]:
    """A real HTTP server that is not a Knowledge Engine; yields ``http://127.0.0.1:PORT``.

    ``/version`` is 404; ``/X/version`` is HTML for X=html, ``["1.5.0"]`` for list, ``{}`` for
    empty, and 404 for any other X (``/rest`` included).
    """
    app = Starlette(routes=[Route("/{kind}/version", version_page)])
    async with serve_locally(app, host=HOST) as base_url:
        yield base_url.removesuffix("/rest")


REST_HINT = (
    "; check the URL: the Knowledge Engine's REST API base usually ends in /rest, for example "
    "http://localhost:8280/rest"
)


@pytest.mark.parametrize(
    ("path", "status", "what", "hint"),
    [
        ("", 404, "answered Not Found", REST_HINT),
        ("/rest", 404, "answered Not Found", "; check the URL"),
        ("/html", 200, "answered with something that is not JSON", REST_HINT),
        ("/list", 200, "answered with a JSON list, not an object", REST_HINT),
        ("/empty", 200, "answered without a version", REST_HINT),
    ],
)
async def test_a_server_that_is_not_a_knowledge_engine(
    not_a_ke: str,
    sdk_log: pytest.LogCaptureFixture,
    path: str,
    status: int,
    what: str,
    hint: str,
) -> None:
    url = with_password(not_a_ke + path)
    error, message, shown = await diagnose(url)
    assert isinstance(error, UnexpectedResponseError)
    assert error.status_code == status
    assert message == (
        f"something answers at {shown}, but not as a Knowledge Engine's REST API does: "
        f"GET {shown}/version {what} (status {status}){hint}"
    )
    assert SECRET not in sdk_text(sdk_log)


# ---------------------------------------------------------------------- TLS


async def test_https_to_a_plain_http_server(
    not_a_ke: str, sdk_log: pytest.LogCaptureFixture
) -> None:
    address = not_a_ke.removeprefix("http://")
    url = with_password(f"https://{address}/rest")
    error, message, shown = await diagnose(url)
    assert isinstance(error, KnowledgeEngineUnavailableError)
    found = re.fullmatch(
        rf"the TLS handshake for {re.escape(shown)}/version failed \((.+)\): does "
        rf"{re.escape(address)} speak https, and does the URL's scheme match\?",
        message,
    )
    assert found, message
    assert SECRET not in sdk_text(sdk_log)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command; (cert, key)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl command to make a self-signed certificate with")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            f"/CN={HOST}",
            "-addext",
            f"subjectAltName=IP:{HOST}",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


@pytest.fixture
async def tls_ke(certificate: tuple[Path, Path]) -> AsyncIterator[str]:
    """An https server with the self-signed certificate that answers ``GET .../version`` as a
    KE does; yields ``https://127.0.0.1:PORT``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    body = b'{"version": "1.5.0"}'

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                await reader.readuntil(b"\r\n\r\n")
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
                )
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            pass  # a client that refused the certificate hangs up
        finally:
            writer.close()

    server = await asyncio.start_server(answer, HOST, 0, ssl=context)
    async with server:
        yield f"https://{HOST}:{server.sockets[0].getsockname()[1]}"


async def test_a_certificate_that_cannot_be_verified(
    tls_ke: str, certificate: tuple[Path, Path], sdk_log: pytest.LogCaptureFixture
) -> None:
    url = with_password(f"{tls_ke}/rest")
    error, message, shown = await diagnose(url)
    assert isinstance(error, KnowledgeEngineUnavailableError)
    address = tls_ke.removeprefix("https://")
    assert message.startswith(
        f"the TLS certificate of {address} could not be verified for {shown}/version ("
    )
    assert "self-signed certificate" in message or "self signed certificate" in message
    assert message.endswith(
        "); give HttpxClient an httpx.AsyncClient with verify= set to your CA bundle"
    )
    assert SECRET not in sdk_text(sdk_log)

    # The same server, its certificate trusted, answers: the certificate was the cause.
    trusting = httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(certificate[0])))
    trusted = HttpxClient(url, http_client=trusting)
    try:
        assert await trusted.get_version() == "1.5.0"
        kb = KnowledgeBase(id=KB_ID, name="diagnosed", description="", client=trusted)
        await kb.connect(wait=0)
    finally:
        await trusted.close()
        await trusting.aclose()


async def test_a_server_that_closes_the_connection_unanswered(
    sdk_log: pytest.LogCaptureFixture,
) -> None:
    """A KE killed while a request is under way closes the connection without an answer."""

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")  # the request's head, then nothing
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(hang_up, HOST, 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        error, message, shown = await diagnose(with_password(f"http://{HOST}:{port}/rest"))
    assert isinstance(error, KnowledgeEngineUnavailableError)
    assert message == (
        f"{HOST}:{port} closed the connection before {shown}/version answered (Server "
        "disconnected without sending a response.): did the Knowledge Engine stop? If it never "
        "answered, is it an https server?"
    )
    assert SECRET not in sdk_text(sdk_log)


# ---------------------------------------------------------------------- timeouts


async def test_a_server_that_never_answers(sdk_log: pytest.LogCaptureFixture) -> None:
    with socket.socket() as silent:  # the kernel accepts connections; nobody reads them
        silent.bind((HOST, 0))
        silent.listen(8)
        url = with_password(f"http://{HOST}:{silent.getsockname()[1]}/rest")
        loop = asyncio.get_running_loop()
        started = loop.time()
        error, message, shown = await diagnose(url, timeout=httpx.Timeout(0.5))
        took = loop.time() - started
    assert isinstance(error, KnowledgeEngineUnavailableError)
    assert message == f"{shown}/version did not answer within 0.5 s (read timeout)"
    assert 2 * 0.5 <= took < 2 * 0.5 + 10  # two attempts: get_version and connect
    assert SECRET not in sdk_text(sdk_log)


@contextlib.contextmanager
def full_backlog() -> Iterator[int]:
    """A listener that never accepts, its backlog filled: the kernel drops further SYNs."""
    with contextlib.ExitStack() as stack:
        listener = stack.enter_context(socket.socket())
        listener.bind((HOST, 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(16):
            filler = stack.enter_context(socket.socket())
            filler.settimeout(0.3)
            try:
                filler.connect((HOST, port))
            except TimeoutError:
                break
        else:
            pytest.skip("this kernel does not drop connections to a full backlog")
        yield port


async def test_a_connect_timeout(sdk_log: pytest.LogCaptureFixture) -> None:
    with full_backlog() as port:
        url = with_password(f"http://{HOST}:{port}/rest")
        error, message, shown = await diagnose(url, timeout=httpx.Timeout(0.5))
    assert isinstance(error, KnowledgeEngineUnavailableError)
    assert message == (
        f"no connection to {HOST}:{port} for {shown}/version within 0.5 s (connect "
        "timeout): is the host up, and is a firewall dropping the connection?"
    )
    assert SECRET not in sdk_text(sdk_log)


# ---------------------------------------------------------------------- names


async def test_a_host_name_that_does_not_resolve(sdk_log: pytest.LogCaptureFixture) -> None:
    url = with_password("http://km-engine.invalid:8280/rest")  # RFC 6761: never resolves
    error, message, shown = await diagnose(url)
    assert isinstance(error, KnowledgeEngineUnavailableError)
    assert message.startswith(
        f"the host name 'km-engine.invalid' of {shown}/version does not resolve ("
    )
    assert SECRET not in sdk_text(sdk_log)


# ---------------------------------------------------------------------- waiting


def connect_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The WARNING lines km_core logged about this test's knowledge base."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "km_core"
        and record.levelno == logging.WARNING
        and record.getMessage().startswith(f"knowledge base {KB_ID}: ")
    ]


async def test_connect_waits_as_long_as_asked_and_warns_once_per_cause(
    unused_port: int, sdk_log: pytest.LogCaptureFixture
) -> None:
    url = with_password(f"http://{HOST}:{unused_port}/rest")
    client = HttpxClient(url)
    cause = (
        f"nothing is listening at {HOST}:{unused_port}, where {shown_by(client, url)}/version "
        "points (connection refused)"
    )
    wait = 1.5
    kb = KnowledgeBase(id=KB_ID, name="diagnosed", description="", client=client)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        with pytest.raises(KnowledgeEngineUnavailableError) as raised:
            await kb.connect(wait=wait)
    finally:
        await kb.close()
    waited = loop.time() - started
    assert wait <= waited < wait + 5
    found = re.fullmatch(
        rf"cannot connect to the Knowledge Engine: {re.escape(cause)} "
        r"\((\d+) attempts over ([0-9.]+) s\)",
        raised.value.message,
    )
    assert found, raised.value.message
    # Each attempt is refused at once: it tried again, backing off (0.4 s or more) between
    # attempts rather than hammering the port.
    assert 2 <= int(found.group(1)) <= 10
    assert wait <= float(found.group(2)) <= waited + 0.005  # the message rounds to 0.01 s
    # One cause, however many attempts: one WARNING, which names it.
    warnings = connect_warnings(sdk_log)
    assert len(warnings) == 1, warnings
    assert cause in warnings[0]
    assert SECRET not in sdk_text(sdk_log)


class _FirstWarning(logging.Handler):
    """Sets an event at the first WARNING about this test's knowledge base."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.event = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith(f"knowledge base {KB_ID}: "):
            self.event.set()


async def test_a_knowledge_engine_that_comes_up_while_connect_waits(
    sdk_log: pytest.LogCaptureFixture,
) -> None:
    engine = LocalKnowledgeEngine()
    first_warning = _FirstWarning()
    logger = logging.getLogger("km_core")
    logger.addHandler(first_warning)
    loop = asyncio.get_running_loop()
    try:
        with socket.socket() as reserved:  # nothing listens on the port yet
            reserved.bind((HOST, 0))
            port = reserved.getsockname()[1]
            url = with_password(f"http://{HOST}:{port}/rest")
            kb = KnowledgeBase(id=KB_ID, name="diagnosed", description="", client=HttpxClient(url))
            started = loop.time()
            connecting = asyncio.create_task(kb.connect(wait=10))
            await asyncio.wait_for(first_warning.event.wait(), 10)
            assert not connecting.done()  # refused, and waiting to try again
        try:
            async with serve_locally(engine, host=HOST, port=port):
                await asyncio.wait_for(connecting, 15)
                took = loop.time() - started
                assert await kb.client.get_version() == engine.version
        finally:
            connecting.cancel()
            with contextlib.suppress(BaseException):
                await connecting
            await kb.close()
    finally:
        logger.removeHandler(first_warning)
    assert took < 10
    [warning] = connect_warnings(sdk_log)
    assert f"nothing is listening at {HOST}:{port}" in warning
    answered = [
        r.getMessage()
        for r in sdk_log.records
        if r.name == "km_core" and "the Knowledge Engine answers" in r.getMessage()
    ]
    assert len(answered) == 1, answered
    assert re.fullmatch(
        rf"knowledge base {re.escape(KB_ID)}: the Knowledge Engine answers \(version "
        rf"{re.escape(engine.version)}\) after \d+ attempts over [0-9.]+ s",
        answered[0],
    ), answered[0]
    assert SECRET not in sdk_text(sdk_log)
