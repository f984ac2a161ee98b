"""Serving a knowledge base as a service: serve, stop, its service life, signal capture.

- ``_serve``: `serve`, `enter`, `shut_down` and `stop`;
- ``_lifespan``: `ServiceLife`, the lifespan, hooks and tasks of a serving KB;
- ``_service``: `Service`, the ``async with``/``serve``/``run``/``stop`` half of
  `KnowledgeBase`;
- ``_hooks``: `ServiceHooks`, the ``on_startup``/``on_shutdown``/``every``/``create_task`` half
  of `KnowledgeBase`;
- ``_signals``: `capture_signals`, SIGINT and SIGTERM while serving.
"""

from ._hooks import ServiceHooks
from ._lifespan import Hook, Lifespan, ServiceLife
from ._serve import Servable, enter, serve, shut_down, stop
from ._service import Service
from ._signals import capture_signals

__all__ = [
    "Hook",
    "Lifespan",
    "Servable",
    "Service",
    "ServiceHooks",
    "ServiceLife",
    "capture_signals",
    "enter",
    "serve",
    "shut_down",
    "stop",
]
