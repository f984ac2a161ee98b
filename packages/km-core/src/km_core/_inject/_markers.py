"""The markers a handler's signature uses: `Depends` for a factory's value, and `ContextValue`.

A parameter marked with `Depends` receives what its factory returns; a parameter annotated with
a `ContextValue` subclass receives the value the caller hands in for that call (the request's
context). Nothing here knows what a knowledge base is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

__all__ = ["ContextValue", "Depends"]


@dataclasses.dataclass(frozen=True, slots=True)
class Depends:
    """Marks a handler parameter whose value a factory provides.

    Use it in the parameter's annotation, ``db: Annotated[Db, Depends(get_db)]``, or as its
    default, ``db: Db = Depends(get_db)``. The factory may be a plain or ``async`` function, or a
    generator (sync or async) that yields the value and cleans up after the handler. Its own
    parameters are injected the same way.

    Attributes:
        dependency: The factory.
        use_cache: Reuse the factory's result within one handler call when several parameters
            (at any depth) depend on it. ``False`` calls the factory for each of them.
    """

    dependency: Callable[..., Any]
    use_cache: bool = True


class ContextValue:
    """A type whose instance the caller supplies for each call, rather than a factory.

    A handler or factory parameter annotated with a subclass receives the value of the call's
    `Injection`. km-core's `RequestContext` is one.
    """

    __slots__ = ()
