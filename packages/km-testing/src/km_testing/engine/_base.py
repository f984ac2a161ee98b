"""The state every part of the engine shares, declared once: settings, KBs, the network version.

`LocalKnowledgeEngine` is assembled from parts that each own one concern (`_Registry`,
`_Mailbox`, `_Exchanges`); this base declares what they share, so that each part type-checks on
its own.
"""

from __future__ import annotations

from ._meta import MetaEvent
from ._state import _KnowledgeBase


class _EngineBase:
    """Settings and state shared by the engine's parts."""

    heartbeat: float
    kb_wait_timeout: float
    reasoner_level: int
    version: str
    lease_check_period: float
    match_budget: int
    _lease_checks_from: float | None
    _kbs: dict[str, _KnowledgeBase]
    _network_version: int

    def _network_changed(self, kb: _KnowledgeBase | None = None) -> None:
        """Note that KBs, interactions or domain knowledge changed (plans must be redone)."""
        self._network_version += 1

    def _announce(self, kb: _KnowledgeBase, event: MetaEvent) -> None:
        """Tell the other KBs' REACTs on the meta pattern that ``kb`` came, changed or went."""
