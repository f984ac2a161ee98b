"""The exit statuses of ``km run``, which a supervisor (systemd, Kubernetes, Docker) acts on."""

from __future__ import annotations

import enum

__all__ = ["ExitStatus"]


class ExitStatus(enum.IntEnum):
    """How ``km run`` ended, as its exit status.

    A supervisor should restart the service on `UNREACHABLE` and `STOPPED_BY_ENGINE` (the KE
    was away or restarted: a new start waits for it and registers again), and not on `USAGE`
    (the command or the code it loads needs fixing first).
    """

    OK = 0
    """Stopped as asked: SIGINT or SIGTERM, a graceful stop."""
    ERROR = 1
    """Any other failure: the Knowledge Engine refused what the KB asked, or a bug (with its
    traceback)."""
    USAGE = 2
    """A mistake in the command, its settings, or the code it loads (a declaration the SDK
    refuses, an import error): one line on stderr."""
    STARTUP_FAILED = 3
    """The KB's lifespan or a startup hook raised."""
    UNREACHABLE = 4
    """The Knowledge Engine could not be reached at start, within ``--connect-wait``."""
    STOPPED_BY_ENGINE = 5
    """The Knowledge Engine stopped the KB while it served: it deleted the KB, the KB's lease
    expired, or the KE shut down."""
