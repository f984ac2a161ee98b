"""The checks a KnowledgeBase's arguments pass, before anything reaches the KE.

Each bad argument raises `ConfigurationError` naming the knowledge base, the argument, what it
got and what it takes.
"""

from __future__ import annotations

import urllib.parse

from ._errors import ConfigurationError
from .terms import iri_problem

__all__ = ["check_kb_arguments", "check_kb_id"]


def check_kb_id(id: object) -> None:
    """Refuse a KB id the KE would refuse, or that cannot be sent in a header, before any call.

    An IRI with characters a header cannot carry (non-ASCII, control characters) is refused
    with its URI form, percent-encoded, to use instead.
    """
    if isinstance(id, str) and not (id.isascii() and id.isprintable()):
        uri = urllib.parse.quote(id, safe=":/?#[]@!$&'()*+,;=%~")
        if iri_problem(uri) is None:
            raise ConfigurationError(
                f"knowledge base id {id!r} cannot be sent in the Knowledge-Base-Id header, "
                f"which takes printable ASCII only; use its URI form, with the other "
                f"characters percent-encoded: {uri!r}"
            )
    problem = iri_problem(id) if isinstance(id, str) else "it is not a string"
    if problem is not None:
        raise ConfigurationError(
            f"knowledge base id {id!r} is not an absolute IRI ({problem}); use one such as "
            "'http://example.org/kb/trees': the Knowledge Engine rejects anything else"
        )


def check_kb_arguments(
    *,
    id: object,
    name: object,
    description: object,
    lease_renewal_time: int | None,
    reasoner_level: int | None,
    handler_timeout: float | None,
    authorize_timeout: float | None,
) -> None:
    """Check the arguments of `KnowledgeBase`; see its docstring for what each takes."""
    for what, timeout in (
        ("handler_timeout", handler_timeout),
        ("authorize_timeout", authorize_timeout),
    ):
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
        ):
            raise ConfigurationError(f"{what} must be positive (seconds) or None, got {timeout!r}")
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
