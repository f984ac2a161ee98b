"""`Injection`: the one object a handler call receives beside its bindings.

It carries what the call injects from: the per-call context value, the dependency overrides (and
the analysis of those already used), and the runner for sync code. Whoever calls handlers makes
one per call; the handler and the solver only read it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from ._analysis import Dependant
from ._threads import RunSync

__all__ = ["Injection"]


@dataclasses.dataclass(frozen=True, slots=True)
class Injection:
    """What one handler call injects from.

    Attributes:
        context: The value given to parameters annotated with a `ContextValue` subclass.
        overrides: Maps a factory to the factory to call instead, consulted at every depth.
        overridden: The analysis of overrides already used, kept across calls by the owner of
            ``overrides``.
        run_sync: Runs sync handlers and factories in a worker thread.
    """

    context: object
    overrides: Mapping[Callable[..., Any], Callable[..., Any]]
    overridden: dict[Callable[..., Any], Dependant]
    run_sync: RunSync
