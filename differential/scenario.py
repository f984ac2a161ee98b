"""What a scenario is, how a module declares one, and how a run picks them.

A scenario is an ``async def name(rec: Recorder) -> None`` in a module of
`differential.scenarios`, decorated with `scenario`. Its group is its module's name (the
concern it tests), its description the first line of its docstring. It drives one engine
through ``rec`` only, so that the same function can run against each engine.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from differential.recorder import Recorder

ScenarioFunction = Callable[[Recorder], Awaitable[None]]
"""The body of a scenario: drives one engine through the recorder."""

DEFAULT_TIMEOUT = 90.0
"""Seconds a scenario may run on one engine before it is stopped and counted as failed."""


@dataclass(frozen=True)
class Scenario:
    """One scenario, declared with `scenario`.

    Attributes:
        name: The function's name.
        group: The concern it belongs to: the name of its module.
        run: The function.
        description: The first line of its docstring.
        slow: Whether it waits for an engine timeout (the 10 s wait, the 29 s heartbeat, a
            30 s lease); ``--quick`` skips these.
        timeout: Seconds it may run on one engine.
    """

    name: str
    group: str
    run: ScenarioFunction
    description: str
    slow: bool
    timeout: float

    @property
    def qualified_name(self) -> str:
        """``group/name``, as the CLI lists it and ``--scenario`` matches it."""
        return f"{self.group}/{self.name}"


REGISTERED: list[Scenario] = []
"""Every scenario declared so far, in declaration order."""


def scenario(
    *, slow: bool = False, timeout: float = DEFAULT_TIMEOUT
) -> Callable[[ScenarioFunction], ScenarioFunction]:
    """Declare the decorated function a scenario (see `Scenario` for the arguments)."""

    def register(function: ScenarioFunction) -> ScenarioFunction:
        doc = (function.__doc__ or "").strip()
        REGISTERED.append(
            Scenario(
                name=getattr(function, "__name__", repr(function)),
                group=function.__module__.rsplit(".", 1)[-1],
                run=function,
                description=doc.splitlines()[0] if doc else "",
                slow=slow,
                timeout=timeout,
            )
        )
        return function

    return register


def matches(item: Scenario, pattern: str) -> bool:
    """Whether ``pattern`` selects the scenario.

    A pattern with a wildcard (``*``, ``?``, ``[``) is a shell-style pattern matched against
    the name and the qualified name (``ask_answer/*``); one without is a substring of the
    qualified name.
    """
    if any(char in pattern for char in "*?["):
        return fnmatch.fnmatchcase(item.name, pattern) or fnmatch.fnmatchcase(
            item.qualified_name, pattern
        )
    return pattern in item.qualified_name


def select(
    scenarios: Iterable[Scenario], patterns: Sequence[str] = (), *, quick: bool = False
) -> list[Scenario]:
    """The scenarios any of ``patterns`` selects (all when none), without slow ones if quick."""
    return [
        item
        for item in scenarios
        if (not patterns or any(matches(item, pattern) for pattern in patterns))
        and not (quick and item.slow)
    ]
