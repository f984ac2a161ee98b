"""The one lifecycle state of a knowledge base: its registration, and what runs it.

`Lifecycle` holds where a knowledge base is in its life, and is changed only through its
methods: whether the KE has it registered (and, if the KE ended that registration, why), the
task of `serve` while it starts and serves, the task of the handling loop while it polls, and
whether a stop was asked for. The session, the handling loop and the serving code all read and
change this one object.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
from typing import Any

__all__ = ["STOPPED_BY_ENGINE", "SUPERSEDED", "Lifecycle", "Registration", "Run"]

STOPPED_BY_ENGINE = (
    "the Knowledge Engine stopped this knowledge base while it served: it was deleted, its "
    "lease expired, or the Knowledge Engine shut down"
)
SUPERSEDED = (
    "another instance registered this knowledge base id while this one was away; the newer "
    "instance serves, and this one stopped without deleting its registration"
)


class Registration(enum.Enum):
    """Whether, and how, the KE has this knowledge base registered."""

    NONE = "none"
    """Not registered: never yet, or unregistered."""
    ACTIVE = "active"
    """Registered, with its interactions."""
    ENDED = "ended"
    """The KE ended the registration while the KB served (its poll said EXIT): the KB is gone
    from the KE, and unregistering sends nothing."""
    SUPERSEDED = "superseded"
    """Another instance registered this KB id while this one was away; the registration is
    that instance's, and this one leaves it alone."""


@dataclasses.dataclass(slots=True)
class Run:
    """A task that runs part of the knowledge base's life, and the event loop it runs on."""

    loop: asyncio.AbstractEventLoop
    task: asyncio.Task[Any]
    done: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    """Set when the run is over."""


class Lifecycle:
    """Where a knowledge base is in its life; see the module docstring.

    Attributes:
        registration: Whether the KE has the KB registered.
        serving: `serve`'s run, from its start (connecting) until it returns.
        handling: The handling loop's run, while it polls and drains.
        stop_requested: `stop` was called during the current run.
        polling: The handling loop runs and its last poll did not fail (or the KB was
            registered again since): with an active registration, the KB is ready.
    """

    __slots__ = ("handling", "polling", "registration", "serving", "stop_requested")

    def __init__(self) -> None:
        self.registration = Registration.NONE
        self.serving: Run | None = None
        self.handling: Run | None = None
        self.stop_requested = False
        self.polling = False

    def __repr__(self) -> str:
        running = "handling" if self.handling else "serving" if self.serving else "idle"
        return f"<Lifecycle {self.registration.value}, {running}>"

    @property
    def registered(self) -> bool:
        """Whether the KB counts as registered (an ended registration does until unregistered)."""
        return self.registration in (Registration.ACTIVE, Registration.ENDED)

    @property
    def ready(self) -> bool:
        """Registered and polling: the KE can reach the KB's handlers."""
        return self.polling and self.registration is Registration.ACTIVE

    @property
    def ended_because(self) -> str | None:
        """Why the KE ended the registration, when it did; ``None`` otherwise."""
        if self.registration is Registration.ENDED:
            return STOPPED_BY_ENGINE
        if self.registration is Registration.SUPERSEDED:
            return SUPERSEDED
        return None

    def start_handling(self) -> Run:
        """The handling loop starts in the current task.

        Raises:
            RuntimeError: it runs already.
        """
        if self.handling is not None:
            raise RuntimeError("the handling loop is already running")
        task = asyncio.current_task()
        assert task is not None
        self.handling = Run(asyncio.get_running_loop(), task)
        self.stop_requested = False
        self.polling = True
        return self.handling

    def end_handling(self) -> None:
        """The handling loop has drained and returns."""
        self.polling = False
        if self.handling is not None:
            self.handling.done.set()
            self.handling = None

    def start_serving(self) -> None:
        """`serve` starts in the current task."""
        task = asyncio.current_task()
        assert task is not None
        self.serving = Run(asyncio.get_running_loop(), task)
        self.stop_requested = False

    def end_serving(self) -> None:
        """`serve` returns."""
        self.serving = None

    def stop_target(self) -> Run | None:
        """The run that `stop` cancels: the handling loop's, else `serve`'s while it starts."""
        return self.handling or self.serving

    def request_stop(self, task: asyncio.Task[Any]) -> None:
        """Cancel ``task`` as a stop that was asked for, once; on the task's own event loop.

        The KB polls no more from now on, so it is no longer ready.
        """
        if not self.stop_requested and not task.done():
            self.stop_requested = True
            self.polling = False
            task.cancel()
