"""What every part of the local engine shares: its defaults, its errors and the id checks.

The defaults are the KE's (heartbeat, wait timeout, lease checks, queue sizes); `_error` builds
the km-core error whose status and message the HTTP server puts on the wire; `_Failed` carries
an exchange's ``failedMessage``. Ids are checked with km-core's IRI check,
`km_core.terms.iri_problem`.
"""

from __future__ import annotations

import datetime as dt
import logging

from km_core import KnowledgeEngineResponseError, SmartConnectorNotFoundError

logger = logging.getLogger("km_testing.engine")

DEFAULT_HEARTBEAT = 29.0
"""Seconds an idle long poll is held before it is answered with 202, as on the KE."""
DEFAULT_LEASE_CHECK_PERIOD = 10.0
"""Seconds between the KE's checks for expired leases."""
DEFAULT_KB_WAIT_TIMEOUT = 10.0
"""Seconds an ask or post waits for each contacted KI, as the KE's ``KE_KB_WAIT_TIMEOUT``."""
HANDLE_QUEUE_SIZE = 50
MAX_OUTSTANDING = 100
KE_NAMESPACE = "https://w3id.org/knowledge-engine/"
INFORM = KE_NAMESPACE + "InformPurpose"
# The KE ontology's purpose hierarchy: each purpose's parents.
_PURPOSE_PARENTS = {
    KE_NAMESPACE + name: {INFORM}
    for name in (
        "NewKnowledgePurpose",
        "ChangedKnowledgePurpose",
        "RemovedKnowledgePurpose",
        "RetrieveKnowledgePurpose",
    )
}


def _error(status: int, message: str) -> KnowledgeEngineResponseError:
    if status == 404:
        return SmartConnectorNotFoundError(message)
    return KnowledgeEngineResponseError(message, status_code=status)


class _Failed(Exception):
    """An exchange failed; its text is the exchange info's ``failedMessage``."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
