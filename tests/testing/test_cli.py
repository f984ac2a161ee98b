"""The ``km-testing`` command: ``serve`` in a real subprocess, its help, its errors."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from km_testing._cli import main
from tests.testing.serving import (
    read_line_matching,
    signal_process,
    start_process,
    stop_process,
)

KB_ID = "http://example.org/kb/cli"
URL = r"(http://127\.0\.0\.1:(\d+)/rest)"
STOPPING = (
    "This long polling request is cancelled by the server because it or the Knowledge Base is "
    "stopping. Do not reinitiate this request."
)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_serve_binds_127_0_0_1_prints_its_url_and_stops_on_a_signal(
    tmp_path: Path, sig: signal.Signals
) -> None:
    stderr = tmp_path / "stderr.txt"
    process = await start_process(
        "-m", "km_testing._cli", "serve", "--port", "0", "--heartbeat", "7", stderr_path=stderr
    )
    try:
        assert process.stdout is not None
        found = await read_line_matching(process.stdout, URL)  # no --host: 127.0.0.1
        base_url = found.group(1)
        async with httpx.AsyncClient(base_url=base_url) as http:
            response = await http.get("/version")
        assert response.status_code == 200
        assert response.json() == {"version": "1.5.0"}
        signal_process(process, sig)
        returncode = await asyncio.wait_for(process.wait(), 10)
        assert returncode == 0, stderr.read_text()
    finally:
        await stop_process(process, sig=signal.SIGKILL)


async def read_response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One HTTP/1.1 response with a Content-Length: its status line and its body."""
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    return status_line, await reader.readexactly(length)


async def test_stopping_the_server_ends_an_open_long_poll_with_410(tmp_path: Path) -> None:
    stderr = tmp_path / "stderr.txt"
    process = await start_process(
        "-m", "km_testing._cli", "serve", "--port", "0", stderr_path=stderr
    )
    writer: asyncio.StreamWriter | None = None
    try:
        assert process.stdout is not None
        found = await read_line_matching(process.stdout, URL)
        base_url, port = found.group(1), int(found.group(2))
        async with httpx.AsyncClient(base_url=base_url) as http:
            body = {
                "knowledgeBaseId": KB_ID,
                "knowledgeBaseName": "c",
                "knowledgeBaseDescription": "",
            }
            assert (await http.post("/sc", json=body)).status_code == 200
            ki = {
                "knowledgeInteractionType": "AnswerKnowledgeInteraction",
                "graphPattern": "?a ?b ?c .",
            }
            registered = await http.post("/sc/ki", headers={"Knowledge-Base-Id": KB_ID}, json=ki)
            assert registered.status_code == 200
        async with asyncio.timeout(10):
            # A connection the server has accepted and reads (it answered on it), then the poll
            # on it: the server reads the poll before it accepts the probe's new connection,
            # so the probe finds the poll open.
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            head = f"Host: 127.0.0.1:{port}\r\nKnowledge-Base-Id: {KB_ID}\r\n\r\n"
            writer.write(f"GET /rest/version HTTP/1.1\r\n{head}".encode())
            status_line, _ = await read_response(reader)
            assert status_line.startswith(b"HTTP/1.1 200"), status_line
            writer.write(f"GET /rest/sc/handle HTTP/1.1\r\n{head}".encode())
            await writer.drain()
            async with httpx.AsyncClient(base_url=base_url) as prober:
                probe = await prober.get("/sc/handle", headers={"Knowledge-Base-Id": KB_ID})
            assert probe.status_code == 409
            signal_process(process, signal.SIGTERM)
            status_line, stopped = await read_response(reader)
        assert status_line.startswith(b"HTTP/1.1 410"), status_line
        assert STOPPING.encode() in stopped
        assert await asyncio.wait_for(process.wait(), 10) == 0, stderr.read_text()
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        await stop_process(process, sig=signal.SIGKILL)


def test_help_lists_the_serve_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "usage: km-testing" in out
    assert "serve" in out


def test_serve_help_lists_its_options_and_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--help"])
    assert exited.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for option in ("--host", "--port", "--heartbeat", "--kb-wait-timeout", "--log-level"):
        assert option in out
    assert "default: 127.0.0.1" in out
    assert "default: 8280" in out
    assert "default: 29" in out
    assert "default: 10" in out
    assert "default: info" in out


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("km-testing")
    completed = subprocess.run(
        [str(script), "serve", "--help"], capture_output=True, text=True, timeout=30, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert "--kb-wait-timeout" in completed.stdout


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["serve", "--heartbeat", "0"], "heartbeat must be positive"),
        (["serve", "--kb-wait-timeout", "-1"], "kb_wait_timeout must be 0 or more"),
        (["serve", "--port", "70000"], "is not a port"),
        (["serve", "--log-level", "loud"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], complaint: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert complaint in capsys.readouterr().err


def test_serve_without_the_server_extra_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['uvicorn'] = None; "
        "from km_testing._cli import main; main(['serve'])"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert "install km-testing with its server extra" in lines[0]
    assert '"./packages/km-testing[server]"' in lines[0]
    assert "uvicorn" in lines[0]
