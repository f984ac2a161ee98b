"""Signal capture for a serving knowledge base: SIGINT and SIGTERM stop it, then are restored.

The first SIGINT or SIGTERM asks for a graceful stop; a second SIGINT cancels the handlers in
flight at once. `capture_signals` is a context manager that puts back, on exit, the handlers
that were there before; where the event loop cannot take signals (not the main thread) it
captures nothing, and the caller stops the KB itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator

__all__ = ["capture_signals"]

logger = logging.getLogger("km_core")


@contextlib.contextmanager
def capture_signals(
    kb_id: str, stop: Callable[[], None], force: Callable[[], None]
) -> Iterator[None]:
    """Within the block, SIGINT/SIGTERM call ``stop``, and a second SIGINT calls ``force``.

    Args:
        kb_id: The knowledge base, for the log.
        stop: Begins a graceful stop.
        force: Cancels what is still running.
    """
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.getsignal(sig) for sig in signals}
    received: list[int] = []

    def on_signal(sig: int) -> None:
        received.append(sig)
        if len(received) == 1:
            logger.warning(
                "knowledge base %s: %s received; stopping (send SIGINT again to cancel the "
                "handlers at once)",
                kb_id,
                signal.Signals(sig).name,
            )
            stop()
        elif sig == signal.SIGINT:
            logger.warning("knowledge base %s: cancelling in-flight handlers", kb_id)
            force()

    try:
        for sig in signals:
            loop.add_signal_handler(sig, on_signal, sig)
    except (NotImplementedError, RuntimeError, ValueError):
        # Not the main thread, or a platform without loop signal handlers: the caller stops us.
        for sig in signals:
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
        yield
        return
    try:
        yield
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
            signal.signal(sig, previous[sig])
