"""Reaching the Knowledge Engine at start: attempts with backoff, and errors that say why not.

`wait_for_engine` asks the KE for its version until it answers or the wait is over. The
transport's error for the last attempt says what went wrong (nothing listening, something that
is not a KE, TLS, a timeout: km-httpx tells them apart, with the URL); the error raised here adds
how many attempts were made over how long. A wait of N seconds lasts N seconds: the last attempt
is made when the wait is over, not one backoff before.
"""

from __future__ import annotations

import asyncio
import logging
import time

from ._backoff import Backoff
from ._errors import KnowledgeEngineError, KnowledgeEngineUnavailableError
from ._protocol import ClientProtocol

__all__ = ["describe_attempts", "wait_for_engine"]

logger = logging.getLogger("km_core")


def describe_attempts(attempts: int, seconds: float) -> str:
    """``"1 attempt"`` or ``"12 attempts over 30 s"``."""
    if attempts == 1:
        return "1 attempt"
    return f"{attempts} attempts over {seconds:.3g} s"


async def wait_for_engine(
    client: ClientProtocol, *, kb_id: str, wait: float | None, backoff: Backoff
) -> str:
    """Ask the KE for its version until it answers, for at most ``wait`` seconds.

    Args:
        client: The transport.
        kb_id: The knowledge base that waits, for the log and the error.
        wait: Seconds to keep trying; ``0``: once; ``None``: until it answers.
        backoff: The pause between attempts.

    Returns:
        The KE's version.

    Raises:
        KnowledgeEngineUnavailableError: no version within ``wait``; the message gives the
            last attempt's cause and the attempts made.
        ClientClosedError: the client is closed.
    """
    started = time.monotonic()
    deadline = None if wait is None else started + wait
    attempts = 0
    reported: str | None = None
    while True:
        attempts += 1
        try:
            version = await client.get_version()
        except KnowledgeEngineError as exc:
            cause = exc
        else:
            if attempts > 1:
                logger.info(
                    "knowledge base %s: the Knowledge Engine answers (version %s) after %s",
                    kb_id,
                    version,
                    describe_attempts(attempts, time.monotonic() - started),
                )
            return version
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            raise KnowledgeEngineUnavailableError(
                f"cannot connect to the Knowledge Engine: {cause.message} "
                f"({describe_attempts(attempts, now - started)})",
                endpoint=cause.endpoint or "GET /version",
                kb_id=kb_id,
            ) from cause
        if cause.message != reported:  # the first failure, or a different one: say so
            reported = cause.message
            left = "" if deadline is None else f" for up to {deadline - now:.3g} s more"
            logger.warning(
                "knowledge base %s: cannot connect to the Knowledge Engine yet: %s; trying again%s",
                kb_id,
                cause.message,
                left,
            )
        delay = backoff.delay(attempts)
        if deadline is not None:
            delay = min(delay, deadline - now)
        await asyncio.sleep(delay)  # a KE starting up signals nothing: try again later
