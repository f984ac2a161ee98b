"""LocalKnowledgeEngine: the Knowledge Engine's network semantics in one process, transport-free.

Every method behaves as the matching REST endpoint of the KE 1.5 does, as far as a knowledge base
can observe: the same ids, the same status codes and messages (carried by km-core's errors, whose
``status_code`` and ``message`` the HTTP server puts on the wire), the same long-poll rules, and
the same answers to asks and posts, reasoner included. Waiters are woken by futures and events;
timers (the heartbeat, the wait timeout, leases) are deadlines on those waits or scheduled
callbacks, never a loop that sleeps and looks again.

The engine is assembled from its parts: `_Registry` (KBs, interactions, leases, domain
knowledge), `_Mailbox` (long polls and answers) and `_Exchanges` (asks and posts, through the
reasoner). All methods run on one event loop: the one of the process's KBs, or the HTTP
server's.
"""

from __future__ import annotations

from collections import OrderedDict

from ._common import DEFAULT_HEARTBEAT, DEFAULT_KB_WAIT_TIMEOUT, DEFAULT_LEASE_CHECK_PERIOD
from ._exchanges import _Exchanges
from ._registry import _Registry
from ._state import _KnowledgeBase
from .reasoner import DEFAULT_MATCH_BUDGET

__all__ = ["LocalKnowledgeEngine"]


class LocalKnowledgeEngine(_Registry, _Exchanges):
    """The Knowledge Engine's observable behaviour, in memory.

    Args:
        heartbeat: Seconds an idle long poll is held before it answers REPOLL (the KE's 202).
        kb_wait_timeout: Seconds an ask or post waits for each contacted interaction before
            that exchange is FAILED; ``0`` waits forever.
        reasoner_level: The level of KBs that register without one (the KE's default is 2).
        version: What ``GET /version`` reports.
        lease_check_period: Seconds between the engine's checks for expired leases, as the
            KE's (10 s): a lease ends at the first check after it runs out. ``0`` ends it the
            moment it runs out.
        match_budget: Search steps the reasoner may spend matching one rule's patterns
            before it gives up on the interactions involved (their exchanges FAIL with a
            message saying so) rather than stall.
    """

    def __init__(
        self,
        *,
        heartbeat: float = DEFAULT_HEARTBEAT,
        kb_wait_timeout: float = DEFAULT_KB_WAIT_TIMEOUT,
        reasoner_level: int = 2,
        version: str = "1.5.0",
        lease_check_period: float = DEFAULT_LEASE_CHECK_PERIOD,
        match_budget: int = DEFAULT_MATCH_BUDGET,
    ) -> None:
        if heartbeat <= 0:
            raise ValueError(f"heartbeat must be positive, got {heartbeat!r}")
        if kb_wait_timeout < 0:
            raise ValueError(f"kb_wait_timeout must be 0 or more, got {kb_wait_timeout!r}")
        self.heartbeat = heartbeat
        self.kb_wait_timeout = kb_wait_timeout
        self.reasoner_level = reasoner_level
        self.version = version
        if lease_check_period < 0:
            raise ValueError(f"lease_check_period must be 0 or more, got {lease_check_period!r}")
        self.lease_check_period = lease_check_period
        self._lease_checks_from: float | None = None  # loop time of the first check
        self._kbs: dict[str, _KnowledgeBase] = {}

        if match_budget < 1:
            raise ValueError(f"match_budget must be positive, got {match_budget!r}")
        self.match_budget = match_budget
        self._network_version = 0
        self._plans = OrderedDict()
