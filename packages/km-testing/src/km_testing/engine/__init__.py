"""The local Knowledge Engine: registry, mailboxes, exchanges, and a reasoner of its own.

`LocalKnowledgeEngine` is the one entry point; km-testing's in-process client and its HTTP
server both drive it.
"""

from ._common import DEFAULT_HEARTBEAT, DEFAULT_KB_WAIT_TIMEOUT, DEFAULT_LEASE_CHECK_PERIOD
from ._engine import LocalKnowledgeEngine
from .reasoner import DEFAULT_MATCH_BUDGET

__all__ = [
    "DEFAULT_HEARTBEAT",
    "DEFAULT_KB_WAIT_TIMEOUT",
    "DEFAULT_LEASE_CHECK_PERIOD",
    "DEFAULT_MATCH_BUDGET",
    "LocalKnowledgeEngine",
]
