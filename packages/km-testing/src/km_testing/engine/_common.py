"""What every part of the local engine shares: its defaults, its errors and the id checks.

The defaults are the KE's (heartbeat, wait timeout, lease checks, queue sizes); `_error` builds
the km-core error whose status and message the HTTP server puts on the wire; `_Failed` carries
an exchange's ``failedMessage``; `_iri_problem` says why the KE would refuse an id.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

from km_core import KnowledgeEngineResponseError, SmartConnectorNotFoundError
from km_core.terms import is_absolute_iri

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


# What java.net.URI and Jena's IRI check refuse and km-core's is_absolute_iri lets through:
# control characters (C0, DEL, C1) and lone surrogates.
_NOT_IN_IRI = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _forbidden_character(text: str) -> str | None:
    """The first control character (or lone surrogate) in ``text``, which no IRI may hold."""
    found = _NOT_IN_IRI.search(text)
    return found.group() if found is not None else None


def _iri_problem(text: str) -> str | None:
    """Why the KE refuses ``text`` as an id (an absolute IRI); ``None`` when it accepts it."""
    character = _forbidden_character(text)
    if character is not None:
        return f"{text!r} holds the character U+{ord(character):04X}, which no IRI may hold."
    if not is_absolute_iri(text):
        return f"{text!r} is not absolute."
    return None


def _is_iri(text: str) -> bool:
    """Whether the KE accepts ``text`` as an id: an absolute IRI."""
    return _iri_problem(text) is None


def _error(status: int, message: str) -> KnowledgeEngineResponseError:
    if status == 404:
        return SmartConnectorNotFoundError(message)
    return KnowledgeEngineResponseError(message, status_code=status)


class _Failed(Exception):
    """An exchange failed; its text is the exchange info's ``failedMessage``."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
