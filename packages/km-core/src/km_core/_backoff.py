"""How long the handling loop waits before polling again after a transient error."""

from __future__ import annotations

import dataclasses
import random

from ._errors import ConfigurationError

__all__ = ["Backoff"]


@dataclasses.dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter, capped.

    The n-th consecutive failure (counting from 0) waits ``initial * multiplier ** n`` seconds,
    at most ``maximum``, less a random part of up to ``jitter`` of it, so that many KBs that
    lost the same KE do not all come back at the same instant.

    Attributes:
        initial: The first wait, in seconds.
        maximum: The longest wait, in seconds.
        multiplier: How much each consecutive failure lengthens the wait.
        jitter: The random share (0 to 1) taken off each wait.
    """

    initial: float = 0.5
    maximum: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.maximum:
            raise ConfigurationError(
                f"Backoff needs 0 < initial <= maximum, got initial={self.initial!r}, "
                f"maximum={self.maximum!r}"
            )
        if self.multiplier < 1:
            raise ConfigurationError(f"Backoff.multiplier must be >= 1, got {self.multiplier!r}")
        if not 0 <= self.jitter <= 1:
            raise ConfigurationError(f"Backoff.jitter must be 0 to 1, got {self.jitter!r}")

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failures (1 for the first)."""
        exponent = max(failures - 1, 0)
        # Stop growing once the cap is reached, so huge failure counts cannot overflow.
        base = self.initial
        for _ in range(exponent):
            base *= self.multiplier
            if base >= self.maximum:
                break
        base = min(base, self.maximum)
        return base * (1 - self.jitter * random.random())
