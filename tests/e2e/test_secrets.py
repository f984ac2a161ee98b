"""A password in the Knowledge Engine's URL is sent as HTTP Basic auth and shown nowhere.

``http://user:s3cret@HOST:PORT/rest`` as the KE URL: the client takes the user and password out
of the URL and sends them as an ``Authorization: Basic`` header. The password must appear in no
log line of ``km run`` (even at DEBUG, through connecting, serving, losing the KE and
registering again, and stopping), in no ``repr`` or ``str`` of the client or the settings, and
in no error message, traceback included. Everything binds to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import traceback
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from km_core import (
    KnowledgeBase,
    KnowledgeEngineUnavailableError,
    UnexpectedResponseError,
)
from km_httpx import ExitStatus, HttpxClient, KmSettings
from km_testing import serve_locally
from tests.testing.serving import (
    ProcessOutput,
    read_line_matching,
    start_logging_process,
    start_process,
    stop_process,
)

PASSWORD = "s3cret"
BASIC = "Basic dXNlcjpzM2NyZXQ="  # base64 of "user:s3cret"
BASIC_TOKEN = BASIC.removeprefix("Basic ")
APP_ID = "http://example.org/kb/secretive"
ASKER_ID = "http://example.org/kb/secretive-asker"
PATTERN = "?tree <http://example.org/height> ?height ."
OAK = "<http://example.org/oak>"

APP = f'''\
from km_core import Backoff, KnowledgeBase

kb = KnowledgeBase(
    id="{APP_ID}",
    name="secretive",
    description="Knows how tall the oak is",
    poll_backoff=Backoff(initial=0.1, maximum=0.5),
)


@kb.answer_ki("heights", "{PATTERN}")
def heights(binding_set: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{{"tree": "{OAK}", "height": '"21.5"'}}]
'''


def free_port() -> int:
    """A port nothing listens on now (bound to port 0, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def with_password(url: str) -> str:
    assert url.startswith("http://")
    return url.replace("http://", f"http://user:{PASSWORD}@", 1)


def everything_said(exc: BaseException) -> str:
    """An error's str, repr and whole traceback (causes included), as ``--log-level debug``."""
    return "\n".join([str(exc), repr(exc), *traceback.format_exception(exc)])


@contextlib.asynccontextmanager
async def km_testing_serve_on(
    port: int, stderr_path: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``km-testing serve`` on ``port``; yields the process (to be killed, maybe)."""
    process = await start_process(
        "-m",
        "km_testing._cli",
        "serve",
        "--port",
        str(port),
        "--log-level",
        "warning",
        stderr_path=stderr_path,
    )
    try:
        assert process.stdout is not None
        await read_line_matching(process.stdout, rf"serves http://127\.0\.0\.1:{port}/rest$")
        yield process
    finally:
        await stop_process(process)


async def ask_heights(url: str) -> list[dict[str, str]]:
    """Ask the heights once, as a KB in this process that registers and unregisters."""
    asker = KnowledgeBase(id=ASKER_ID, name="asker", description="Asks", client=HttpxClient(url))
    ask = asker.ask_ki("heights", "?t <http://example.org/height> ?h .")
    async with asker:
        return await asker.ask(ask)


# ---------------------------------------------------------------------- km run in a subprocess


@pytest.mark.timeout(90)
async def test_km_run_logs_no_password_from_connecting_to_stopping(tmp_path: Path) -> None:
    app = tmp_path / "secretive_app.py"
    app.write_text(APP)
    port = free_port()
    plain_url = f"http://127.0.0.1:{port}/rest"
    km = ProcessOutput(
        await start_logging_process(
            "-m",
            "km_httpx._cli",
            "run",
            f"{app}:kb",
            "--ke-url",
            with_password(plain_url),
            "--log-level",
            "debug",
            "--connect-wait",
            "20",
            "--grace-period",
            "5",
        )
    )
    try:
        # Nothing listens yet: connecting fails, and is tried again.
        await read_line_matching(km.lines, "connecting to the Knowledge Engine failed")
        async with km_testing_serve_on(port, tmp_path / "first.stderr") as first:
            await read_line_matching(km.lines, "the Knowledge Engine answers")
            await read_line_matching(km.lines, "handling loop started")
            assert await ask_heights(plain_url) == [{"t": OAK, "h": '"21.5"'}]
            # The KE dies under the open poll (SIGKILL: no 410 to say goodbye).
            await stop_process(first, sig=signal.SIGKILL)
        await read_line_matching(km.lines, "polling failed")
        async with km_testing_serve_on(port, tmp_path / "second.stderr"):
            # The new KE does not know the KB: its poll gets 404, and it registers again.
            await read_line_matching(km.lines, "no longer knows it")
            await read_line_matching(km.lines, f"registered knowledge base {APP_ID}")
            assert await ask_heights(plain_url) == [{"t": OAK, "h": '"21.5"'}]
            status = await km.stop(sig=signal.SIGTERM)
    finally:
        await km.stop(sig=signal.SIGKILL, grace=5)
    output = km.text
    assert status == ExitStatus.OK, output
    assert f"unregistered knowledge base {APP_ID}" in output
    # Not vacuous: the log names the KE, and says how it sent requests to it (DEBUG).
    assert f"127.0.0.1:{port}" in output
    assert f"http://user:***@127.0.0.1:{port}/rest" in output
    assert f"HTTP Request: GET {plain_url}/sc/handle" in output
    assert PASSWORD not in output
    assert BASIC_TOKEN not in output


# ---------------------------------------------------------------------- in this process


async def test_the_client_and_the_settings_show_no_password() -> None:
    url = with_password(f"http://127.0.0.1:{free_port()}/rest")
    client = HttpxClient(url)
    try:
        assert client.base_url == url.replace(f"user:{PASSWORD}@", "")
        for shown in (repr(client), str(client)):
            assert PASSWORD not in shown
            assert "127.0.0.1:" in shown
    finally:
        await client.close()
    settings = KmSettings(ke_url=url)
    assert settings.ke_url == url  # kept, for the client to use
    for shown in (repr(settings), str(settings)):
        assert PASSWORD not in shown
        assert "user:***@127.0.0.1:" in shown


async def test_connecting_to_nothing_says_where_without_the_password() -> None:
    port = free_port()
    kb = KnowledgeBase(
        id=APP_ID,
        name="secretive",
        description="",
        client=HttpxClient(with_password(f"http://127.0.0.1:{port}/rest")),
    )
    try:
        with pytest.raises(KnowledgeEngineUnavailableError) as raised:
            await kb.connect()
    finally:
        await kb.close()
    said = everything_said(raised.value)
    assert f"nothing is listening at 127.0.0.1:{port}" in raised.value.message
    assert PASSWORD not in said
    assert BASIC_TOKEN not in said


def answering(status: int, body: dict[str, Any], seen: list[tuple[str, str | None]]) -> Any:
    """An ASGI app that answers every request with ``status`` and ``body`` as JSON.

    It records the path and the Authorization header of each request in ``seen``.
    """
    payload = json.dumps(body).encode()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        headers = dict(scope["headers"])
        authorization = headers.get(b"authorization")
        seen.append((scope["path"], authorization.decode() if authorization else None))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    return app


async def test_a_server_that_is_not_a_knowledge_engine_is_named_without_the_password() -> None:
    seen: list[tuple[str, str | None]] = []
    async with serve_locally(answering(404, {"detail": "Not Found"}, seen)) as url:
        kb = KnowledgeBase(
            id=APP_ID, name="secretive", description="", client=HttpxClient(with_password(url))
        )
        try:
            with pytest.raises(KnowledgeEngineUnavailableError) as raised:
                await kb.connect()
        finally:
            await kb.close()
    said = everything_said(raised.value)
    cause = raised.value.__cause__
    assert isinstance(cause, UnexpectedResponseError)
    assert cause.status_code == 404
    assert f"something answers at {url}, but not as a Knowledge Engine" in raised.value.message
    assert PASSWORD not in said
    assert BASIC_TOKEN not in said
    assert seen == [("/rest/version", BASIC)]


async def test_the_password_reaches_the_server_as_basic_auth() -> None:
    seen: list[tuple[str, str | None]] = []
    async with serve_locally(answering(200, {"version": "1.2.3"}, seen)) as url:
        kb = KnowledgeBase(
            id=APP_ID, name="secretive", description="", client=HttpxClient(with_password(url))
        )
        try:
            await kb.connect()
        finally:
            await kb.close()
    assert seen == [("/rest/version", BASIC)]
