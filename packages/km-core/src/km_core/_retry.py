"""Trying again after a failure: one backoff, one way of logging, for every retry path.

Polling, registering again, connecting, posting responses and renewing leases each keep an
`Episode`: a run of consecutive failures of one kind of call. Each failure pauses for the
episode's backoff (capped, exponential, with jitter; at least what the KE asked for with
``Retry-After``), logs its first failure (and a failure of a different kind, once) at WARNING and
the rest at DEBUG, and the first success after failures ends the episode with one INFO line. So
a KE that fails for an hour costs a bounded number of requests a second and two WARNING lines,
not a line per attempt.
"""

from __future__ import annotations

import asyncio
import logging

from ._backoff import Backoff

__all__ = ["Episode"]

logger = logging.getLogger("km_core")

MAX_WARNINGS = 2
"""WARNING lines an episode logs at most: its first failure, and a failure of another kind."""


BODY_SAMPLE = 200
"""Characters of an unreadable answer's body that the log line quotes."""


def _cause(error: BaseException) -> str:
    cause = str(error) or type(error).__name__
    body = getattr(error, "body", None)  # an answer that could not be read: say what it was
    if isinstance(body, str):
        cause += f"; the answer began {body[:BODY_SAMPLE]!r}" if body else "; the answer was empty"
    return cause


class Episode:
    """Consecutive failures of one kind of call, and the pause before trying again.

    Args:
        backoff: How long to pause after the n-th consecutive failure.
        kb_id: The knowledge base, for the log.
        what: What is tried, as the log names it (``"polling"``, ``"renewing the lease"``).

    Attributes:
        failures: Consecutive failures so far; 0 when the last attempt succeeded.
    """

    def __init__(self, backoff: Backoff, *, kb_id: str, what: str) -> None:
        self.backoff = backoff
        self.kb_id = kb_id
        self.what = what
        self.failures = 0
        self._warned: list[str] = []
        self._kinds: set[str] = set()

    def first(self, kind: str) -> bool:
        """Whether this is the episode's first failure of ``kind`` (for a line of its own)."""
        if kind in self._kinds:
            return False
        self._kinds.add(kind)
        return True

    def delay(self, error: BaseException | None = None) -> float:
        """The pause after the current number of failures; at least ``error.retry_after``."""
        delay = self.backoff.delay(max(self.failures, 1))
        retry_after = getattr(error, "retry_after", None)
        if isinstance(retry_after, int | float) and retry_after > delay:
            delay = min(float(retry_after), max(self.backoff.maximum, delay) * 10)
        return delay

    def failed(self, error: BaseException, *, log: bool = True) -> float:
        """Count a failure, log it, and return how long to pause before the next attempt.

        Args:
            error: What failed.
            log: Log it (``False`` when the caller logged it in its own words).
        """
        self.failures += 1
        delay = self.delay(error)
        cause = _cause(error)
        if not log:  # the caller said it in its own words: this cause is told
            if cause not in self._warned:
                self._warned.append(cause)
            return delay
        if len(self._warned) < MAX_WARNINGS and cause not in self._warned:
            self._warned.append(cause)
            logger.warning(
                "knowledge base %s: %s failed (%s); trying again in %.2f s, backing off while "
                "it keeps failing",
                self.kb_id,
                self.what,
                cause,
                delay,
            )
        else:
            logger.debug(
                "knowledge base %s: %s failed again (attempt %d: %s); next in %.2f s",
                self.kb_id,
                self.what,
                self.failures,
                cause,
                delay,
            )
        return delay

    async def pause(
        self, error: BaseException, *, log: bool = True, at_most: float | None = None
    ) -> None:
        """Count a failure, log it, and wait before the next attempt.

        Args:
            error: What failed.
            log: Log it.
            at_most: Wait no longer than this (a deadline's remaining time).
        """
        delay = self.failed(error, log=log)
        if at_most is not None:
            delay = max(0.0, min(delay, at_most))
        await asyncio.sleep(delay)  # a deliberate pause before retrying, not a wait for a state

    def succeeded(self) -> int:
        """End the episode: log that it works again, if it had failed. Returns the failures."""
        failures = self.failures
        if failures:
            logger.info(
                "knowledge base %s: %s works again after %d failed attempts",
                self.kb_id,
                self.what,
                failures,
            )
        self.failures = 0
        self._warned.clear()
        self._kinds.clear()
        return failures
