"""The checks a KnowledgeBase's arguments pass, before anything reaches the KE.

Each bad argument raises `ConfigurationError` naming the knowledge base, the argument, what it
got and what it takes.
"""

from __future__ import annotations

import urllib.parse

from ._errors import ConfigurationError
from ._rdf import is_absolute_iri

__all__ = ["check_kb_arguments", "check_kb_id"]


def check_kb_id(id: object) -> None:
    """Refuse a KB id the KE would refuse, or that cannot be sent in a header, before any call."""
    if not isinstance(id, str) or not is_absolute_iri(id):
        raise ConfigurationError(
            f"knowledge base id {id!r} is not an absolute IRI (for example "
            "'http://example.org/kb/trees'); the Knowledge Engine rejects anything else"
        )
    if not (id.isascii() and id.isprintable()):
        uri = urllib.parse.quote(id, safe=":/?#[]@!$&'()*+,;=%~")
        raise ConfigurationError(
            f"knowledge base id {id!r} cannot be sent in the Knowledge-Base-Id header, which "
            f"takes printable ASCII only; use its URI form, with the other characters "
            f"percent-encoded: {uri!r}"
        )


def check_kb_arguments(
    *,
    id: object,
    name: object,
    description: object,
    lease_renewal_time: int | None,
    reasoner_level: int | None,
    handler_timeout: float | None,
) -> None:
    """Check the arguments of `KnowledgeBase`; see its docstring for what each takes."""
    if handler_timeout is not None and handler_timeout <= 0:
        raise ConfigurationError(f"handler_timeout must be positive, got {handler_timeout!r}")
    check_kb_id(id)
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"knowledge base {id}: name must be a non-empty string")
    if not isinstance(description, str):
        raise ConfigurationError(f"knowledge base {id}: description must be a string")
    if lease_renewal_time is not None and not 30 <= lease_renewal_time <= 3600:
        raise ConfigurationError(
            f"knowledge base {id}: lease_renewal_time must be 30 to 3600 seconds, "
            f"got {lease_renewal_time!r}"
        )
    if reasoner_level is not None and not 1 <= reasoner_level <= 5:
        raise ConfigurationError(
            f"knowledge base {id}: reasoner_level must be 1 to 5, got {reasoner_level!r}"
        )
