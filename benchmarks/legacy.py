"""The legacy SDK for benchmark scenario 6: a knowledge-mapper 0.0.24 KB that answers.

``knowledge-mapper`` 0.0.24 is the synchronous SDK (on ``requests``) that this SDK replaces.
:func:`ensure_legacy_python` installs it from PyPI into a virtualenv of its own, and
:func:`legacy_answerer` runs a knowledge base written against it in a subprocess, with one ANSWER
interaction on the harness's pattern, so that the harness can ask it with this SDK and time the
answers.

The legacy KB's handle loop (``KnowledgeBase.start_handle_loop``) is sequential: it long-polls
``GET /sc/handle``, calls the handler ``(bindings, requesting_kb_id)`` on its own thread, posts
the result with ``POST /sc/handle`` and only then polls again; every call goes through the
module-level ``requests`` functions, so each is a new TCP connection. It ends when the poll is
answered with 410; a poll sent after the KB is gone gets 404, which it raises as
``KnowledgeBaseUnregistered``, and a result posted after that fails with
``UnexpectedHttpResponseError``. The KB script below counts both as a clean end once it has
unregistered itself.

The legacy KB talks to its parent in JSON lines on stdout (one ``{"event": ...}`` a line) and
takes commands on stdin; readiness is read from its output, never by sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

LEGACY_PACKAGE = "knowledge-mapper==0.0.24"

# The harness's answering pattern and prefixes (benchmarks/harness.py: PATTERN and EX).
PATTERN = "?tree ex:height ?height ."
EX = {"ex": "http://example.org/"}

VENV_TIMEOUT = 60.0  # seconds to create the virtualenv
PIP_TIMEOUT = 120.0  # seconds for pip to install the legacy SDK
IMPORT_TIMEOUT = 60.0  # seconds for the check that an existing virtualenv imports it
READY_TIMEOUT = 30.0  # seconds for the legacy KB to register and start its handle loop
STOP_TIMEOUT = 30.0  # seconds for it to unregister and exit before it is killed
REAP_TIMEOUT = 10.0  # seconds for a killed process to be reaped and its stdout to end
TAIL = 3000  # characters of pip's output or the KB's stderr quoted in errors

_NAME, _, _VERSION = LEGACY_PACKAGE.partition("==")

# Words in pip's output that mean the package index could not be reached.
_UNREACHABLE = (
    "NewConnectionError",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "ConnectTimeout",
    "ReadTimeout",
    "Connection refused",
    "No matching distribution found",
    "Could not find a version that satisfies",
)

# Run as: python -c LEGACY_KB KE_URL KB_ID DELAY PATTERN PREFIXES_JSON. Events on stdout:
# "registered", "loop-started", "loop-ended", "loop-failed", "stopped". Commands on stdin:
# "unregister" (end of input does the same). Exit status 0 means the loop ended cleanly.
LEGACY_KB = textwrap.dedent(
    '''
    """A knowledge base written against knowledge-mapper 0.0.24 that answers after a delay."""

    import json
    import sys
    import threading
    import time

    from knowledge_mapper.knowledge_base import (
        KnowledgeBaseRegistrationRequest,
        KnowledgeBaseUnregistered,
    )
    from knowledge_mapper.knowledge_interaction import (
        AnswerKnowledgeInteractionRegistrationRequest,
    )
    from knowledge_mapper.tke_client import TkeClient
    from knowledge_mapper.tke_exceptions import UnexpectedHttpResponseError

    KE_URL, KB_ID = sys.argv[1], sys.argv[2]
    DELAY = float(sys.argv[3])
    PATTERN, PREFIXES = sys.argv[4], json.loads(sys.argv[5])
    output = threading.Lock()
    stopping = threading.Event()
    failed = threading.Event()


    def emit(event, **data):
        with output:
            print(json.dumps({"event": event, **data}), flush=True)


    def heights(bindings, requesting_kb_id):
        if DELAY > 0:
            time.sleep(DELAY)
        return []


    client = TkeClient(KE_URL)
    client.connect()
    kb = client.register(
        KnowledgeBaseRegistrationRequest(
            id=KB_ID, name="legacy", description="A knowledge-mapper 0.0.24 answerer"
        )
    )
    answer = kb.register_knowledge_interaction(
        AnswerKnowledgeInteractionRegistrationRequest(
            pattern=PATTERN, prefixes=PREFIXES, handler=heights
        ),
        name="heights",
    )
    emit("registered", kb=KB_ID, ki=answer.id)


    def loop():
        emit("loop-started")
        try:
            kb.start_handle_loop()
        except (KnowledgeBaseUnregistered, UnexpectedHttpResponseError) as exc:
            # Unregistered between two polls (404) or while a handler ran (its result: 404).
            if stopping.is_set():
                emit("loop-ended", how=type(exc).__name__)
            else:
                failed.set()
                emit("loop-failed", error=repr(exc))
        except BaseException as exc:
            failed.set()
            emit("loop-failed", error=repr(exc))
        else:
            emit("loop-ended", how="410")


    handle_loop = threading.Thread(target=loop, name="legacy-handle-loop", daemon=True)
    handle_loop.start()

    for line in sys.stdin:
        if line.strip() == "unregister":
            break
    stopping.set()
    kb.unregister()
    handle_loop.join(20)
    alive = handle_loop.is_alive()
    emit("stopped", loop_alive=alive)
    sys.exit(1 if alive or failed.is_set() else 0)
    '''
)


class LegacyUnavailable(Exception):
    """The legacy SDK could not be installed (e.g. PyPI unreachable); the message says why.

    Attributes:
        unreachable: Whether pip's output says that the package index could not be reached.
    """

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


def _environment() -> dict[str, str]:
    """This process's environment, without what would make another python import our modules."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _text(output: str | bytes | None) -> str:
    if output is None:
        return ""
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output


def _imports_legacy(python: Path) -> bool:
    """Whether ``python`` imports the legacy SDK, at the pinned version."""
    if not python.exists():
        return False
    check = (
        "import importlib.metadata, knowledge_mapper.tke_client; "
        f"assert importlib.metadata.version({_NAME!r}) == {_VERSION!r}"
    )
    try:
        done = subprocess.run(
            [str(python), "-c", check],
            capture_output=True,
            timeout=IMPORT_TIMEOUT,
            env=_environment(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def ensure_legacy_python(cache_dir: Path) -> Path:
    """Return the python of a virtualenv under ``cache_dir`` with the legacy SDK installed.

    The virtualenv is created and ``LEGACY_PACKAGE`` installed from PyPI on first use; later
    calls reuse it as long as its python imports ``knowledge_mapper``. This blocks (for up to
    three minutes on first use); from async code, call it with ``asyncio.to_thread``.

    Args:
        cache_dir: The directory to keep the virtualenv in; created if missing.

    Returns:
        The path of the virtualenv's python.

    Raises:
        LegacyUnavailable: The virtualenv could not be created (60 s) or pip could not install
            the package (120 s), e.g. because PyPI is unreachable; the message quotes the tail
            of their output.
    """
    venv = cache_dir / f"venv-{_NAME}-{_VERSION}"
    python = venv / "bin" / "python"
    if _imports_legacy(python):
        return python
    cache_dir.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", "--clear", str(venv)],
            check=True,
            capture_output=True,
            timeout=VENV_TIMEOUT,
            env=_environment(),
        )
    except subprocess.TimeoutExpired as exc:
        raise LegacyUnavailable(
            f"creating a virtualenv at {venv} took over {VENV_TIMEOUT:g} s"
        ) from exc
    except (OSError, subprocess.CalledProcessError) as exc:
        output = _text(getattr(exc, "stdout", None)) + _text(getattr(exc, "stderr", None))
        raise LegacyUnavailable(
            f"could not create a virtualenv at {venv}: {exc}\n{output[-TAIL:]}"
        ) from exc
    command = [
        str(python),
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--timeout",
        "20",
        "--retries",
        "1",
        LEGACY_PACKAGE,
    ]
    try:
        install = subprocess.run(
            command, capture_output=True, text=True, timeout=PIP_TIMEOUT, env=_environment()
        )
    except subprocess.TimeoutExpired as exc:
        output = _text(exc.stdout) + _text(exc.stderr)
        raise LegacyUnavailable(
            f"pip install {LEGACY_PACKAGE} took over {PIP_TIMEOUT:g} s; is PyPI reachable?\n"
            f"{output[-TAIL:]}",
            unreachable=True,
        ) from exc
    output = install.stdout + install.stderr
    if install.returncode != 0:
        unreachable = any(marker in output for marker in _UNREACHABLE)
        why = "PyPI looks unreachable" if unreachable else f"pip exited with {install.returncode}"
        raise LegacyUnavailable(
            f"pip install {LEGACY_PACKAGE} failed ({why}):\n{output[-TAIL:]}",
            unreachable=unreachable,
        )
    if not _imports_legacy(python):
        raise LegacyUnavailable(
            f"pip installed {LEGACY_PACKAGE} but {python} cannot import it:\n{output[-TAIL:]}"
        )
    return python


def _tail(log: IO[bytes]) -> str:
    """The last ``TAIL`` characters written to ``log`` (the legacy KB's stderr)."""
    log.flush()
    size = log.seek(0, os.SEEK_END)
    log.seek(max(0, size - TAIL))
    return log.read().decode(errors="replace")


def _event(line: bytes) -> dict[str, Any] | None:
    """One JSON event line of the legacy KB, or ``None`` for anything else it printed."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return data if isinstance(data, dict) and "event" in data else None


async def _until_ready(
    process: asyncio.subprocess.Process, events: list[dict[str, Any]], stderr: IO[bytes]
) -> None:
    """Read the KB's events until it registered and started its handle loop."""
    assert process.stdout is not None
    waiting = {"registered", "loop-started"}
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            while waiting:
                line = await process.stdout.readline()
                if not line:
                    status = await process.wait()
                    raise RuntimeError(
                        f"the legacy KB ended (status {status}) before it was ready:\n"
                        f"{_tail(stderr)}"
                    )
                event = _event(line)
                if event is None:
                    continue
                events.append(event)
                if event["event"] == "loop-failed":
                    raise RuntimeError(
                        f"the legacy KB's handle loop failed: {event.get('error')}\n{_tail(stderr)}"
                    )
                waiting.discard(event["event"])
    except TimeoutError:
        raise RuntimeError(
            f"the legacy KB was not ready within {READY_TIMEOUT:g} s (missing "
            f"{sorted(waiting)}):\n{_tail(stderr)}"
        ) from None


async def _collect(stream: asyncio.StreamReader, events: list[dict[str, Any]]) -> None:
    """Read the KB's stdout to its end, keeping its events, so that the pipe never fills."""
    while line := await stream.readline():
        event = _event(line)
        if event is not None:
            events.append(event)


async def _stop(process: asyncio.subprocess.Process, collector: asyncio.Task[None] | None) -> bool:
    """Ask the KB to unregister and exit; kill it if it does not in time; always reap it.

    Returns:
        Whether it exited by itself with status 0.
    """
    clean = False
    try:
        if process.returncode is None and process.stdin is not None:
            with contextlib.suppress(ConnectionError):
                process.stdin.write(b"unregister\n")
                await process.stdin.drain()
            process.stdin.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_TIMEOUT):
                clean = await process.wait() == 0
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        async with asyncio.timeout(REAP_TIMEOUT):
            await process.wait()
        if collector is not None:
            try:
                async with asyncio.timeout(REAP_TIMEOUT):
                    await collector
            except TimeoutError:
                collector.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await collector
    return clean


@contextlib.asynccontextmanager
async def legacy_answerer(
    python: Path, ke_url: str, kb_id: str, delay: float, *, prefixes: dict[str, str] = EX
) -> AsyncIterator[None]:
    """Run a knowledge-mapper 0.0.24 KB that answers ``PATTERN`` while the block runs.

    The KB registers ``kb_id`` at ``ke_url`` (re-registering it if it exists) with one ANSWER
    interaction, ``heights``, on ``"?tree ex:height ?height ."`` (``prefixes``), whose handler
    sleeps ``delay`` seconds (``time.sleep``) and answers no bindings. The block runs once the KB
    has registered and its handle loop's thread has started. On leaving, the KB unregisters,
    which ends its loop, and exits; it is killed if it has not within 30 s.

    Args:
        python: A python with the legacy SDK (see :func:`ensure_legacy_python`).
        ke_url: The Knowledge Engine's REST API, e.g. ``http://127.0.0.1:8280/rest``.
        kb_id: The legacy KB's id.
        delay: Seconds each answer takes; 0 answers at once.
        prefixes: The pattern's prefixes; ``EX`` unless a run on a shared KE uses its own.

    Yields:
        Nothing; the KB answers while the block runs.

    Raises:
        RuntimeError: The KB ended, or its handle loop failed, before it was ready, or it was not
            ready within 30 s; or, when the block itself raised nothing, the KB did not end
            cleanly. The message quotes the tail of its stderr.
    """
    with tempfile.TemporaryFile(prefix="km-legacy-kb-", suffix=".log") as stderr:
        process = await asyncio.create_subprocess_exec(
            str(python),
            "-c",
            LEGACY_KB,
            ke_url,
            kb_id,
            repr(float(delay)),
            PATTERN,
            json.dumps(prefixes),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            env=_environment(),
        )
        events: list[dict[str, Any]] = []
        collector: asyncio.Task[None] | None = None
        try:
            await _until_ready(process, events, stderr)
            assert process.stdout is not None
            collector = asyncio.create_task(_collect(process.stdout, events))
            yield
        except BaseException:
            await _stop(process, collector)
            raise
        if not await _stop(process, collector):
            failures = [e for e in events if e["event"] in ("loop-failed", "stopped")]
            raise RuntimeError(
                f"the legacy KB did not end cleanly (status {process.returncode}; {failures}):\n"
                f"{_tail(stderr)}"
            )
