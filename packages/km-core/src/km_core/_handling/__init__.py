"""The handling loop: poll, dispatch, respond, for requests the KE sends this knowledge base.

A request flows one way: ``_loop`` takes one of the ``_permits``, polls and starts a task per
request; ``_request`` serves it there; ``_dispatch`` runs it through authorization
(``km_core._authorization``), injection, the handler and conversion (``_policy`` answering what
fails); ``_respond`` posts the response; ``_in_flight`` owns the tasks until they end. ``_host``
is what the loop reads from its knowledge base.
"""

from ._dispatch import ContextFactory, Dispatcher
from ._host import HandlingHost
from ._in_flight import InFlight
from ._loop import QUICK_REPOLL, HandlingLoop, check_loop_arguments
from ._policy import ErrorPolicy, failure
from ._respond import Responder

__all__ = [
    "QUICK_REPOLL",
    "ContextFactory",
    "Dispatcher",
    "ErrorPolicy",
    "HandlingHost",
    "HandlingLoop",
    "InFlight",
    "Responder",
    "check_loop_arguments",
    "failure",
]
