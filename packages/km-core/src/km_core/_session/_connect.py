"""Reaching the Knowledge Engine at start: attempts with backoff, and errors that say why not.

`wait_for_engine` asks the KE for its version until it answers or the wait is over. The
transport's error for the last attempt says what went wrong (nothing listening, something that
is not a KE, TLS, a timeout: km-httpx tells them apart, with the URL); the error raised here adds
how many attempts were made over how long. A wait of N seconds lasts N seconds: the last attempt
is made when the wait is over, not one backoff before.
"""

from __future__ import annotations

import logging
import time

from km_core._backoff import Backoff
from km_core._errors import KnowledgeEngineError, KnowledgeEngineUnavailableError
from km_core._protocol import ClientProtocol
from km_core._retry import Episode

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
    episode = Episode(backoff, kb_id=kb_id, what="connecting to the Knowledge Engine")
    while True:
        try:
            version = await client.get_version()
        except KnowledgeEngineError as exc:
            cause = exc
        else:
            if episode.failures:
                logger.info(
                    "knowledge base %s: the Knowledge Engine answers (version %s) after %s",
                    kb_id,
                    version,
                    describe_attempts(episode.failures + 1, time.monotonic() - started),
                )
            return version
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            raise KnowledgeEngineUnavailableError(
                f"cannot connect to the Knowledge Engine: {cause.message} "
                f"({describe_attempts(episode.failures + 1, now - started)})",
                endpoint=cause.endpoint or "GET /version",
                kb_id=kb_id,
            ) from cause
        # A KE starting up signals nothing: try again later (the last time when the wait ends).
        await episode.pause(
            _Cause(cause.message), at_most=None if deadline is None else deadline - now
        )


class _Cause(Exception):
    """The transport's reason, without the endpoint and KB details the log line has anyway."""
