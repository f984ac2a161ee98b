"""Dependency injection for handlers, FastAPI-style; it knows nothing of a knowledge base.

- ``_markers``: `Depends` and `ContextValue`, what a signature declares;
- ``_analysis``: a signature read once, at declaration, into a `Dependant` graph;
- ``_solver``: the graph resolved for one call (cache, overrides, generator teardown);
- ``_threads``: sync code in worker threads;
- ``_injection``: `Injection`, the one object a call injects from;
- ``_injected``: `Injected`, a function with a given first argument and the rest injected;
- ``_handler``: `Handler`, a handler function wrapped for calling per request.
"""

from ._analysis import Dependant, analyse, describe, type_hints
from ._handler import Handler
from ._injected import Injected
from ._injection import Injection
from ._markers import ContextValue, Depends
from ._threads import RunSync, executor_runner, run_in_default_thread, wait_for_thread

__all__ = [
    "ContextValue",
    "Dependant",
    "Depends",
    "Handler",
    "Injected",
    "Injection",
    "RunSync",
    "analyse",
    "describe",
    "executor_runner",
    "run_in_default_thread",
    "type_hints",
    "wait_for_thread",
]
