"""Who may use an ANSWER or REACT interaction: the ``permitted`` argument and its check.

`check_permitted` checks a ``permitted`` argument (of a KB or an interaction) when it is given,
so that a typo fails at startup, not as a stream of denied requests.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final, Literal, TypeAlias

from km_core._errors import ConfigurationError
from km_core.terms import iri_problem

__all__ = ["EVERYBODY", "Permitted", "check_permitted"]

EVERYBODY: Final = "*"
"""The ``permitted`` value that lets every knowledge base use an interaction."""

Permitted: TypeAlias = Collection[str] | Literal["*"]
"""Who may use an interaction: ``"*"`` for everybody, or the ids of the knowledge bases that
may (an empty collection: nobody)."""


def check_permitted(value: object, *, what: str) -> frozenset[str] | Literal["*"]:
    """``"*"``, or the permitted knowledge base ids as a frozenset.

    Args:
        value: The ``permitted`` argument.
        what: Whose argument it is, for the message (``"knowledge interaction 'heights'"``).

    Raises:
        ConfigurationError: ``value`` is neither ``"*"`` nor a collection of absolute IRIs.
    """
    if value == EVERYBODY:
        return EVERYBODY
    if isinstance(value, bytes):
        raise ConfigurationError(
            f"{what}: permitted must be '*' (everybody) or a collection of knowledge base ids "
            f"(str), got bytes: {value!r:.100}"
        )
    if isinstance(value, str):
        raise ConfigurationError(
            f"{what}: permitted must be '*' (everybody) or a collection of knowledge base ids, "
            f"got the string {value!r}; for one knowledge base write permitted=[{value!r}]"
        )
    if not isinstance(value, Collection):
        raise ConfigurationError(
            f"{what}: permitted must be '*' (everybody) or a collection of knowledge base ids, "
            f"got {type(value).__name__}: {value!r:.100}"
        )
    ids: set[str] = set()
    for kb_id in value:
        if kb_id == EVERYBODY:
            raise ConfigurationError(
                f"{what}: permitted lists '*' among knowledge base ids; write permitted='*' to "
                "let every knowledge base use it"
            )
        problem = iri_problem(kb_id) if isinstance(kb_id, str) else "it is not a str"
        if problem is not None:
            raise ConfigurationError(
                f"{what}: permitted holds {kb_id!r:.100}, which is not a knowledge base id (an "
                f"absolute IRI): {problem}"
            )
        ids.add(kb_id)
    return frozenset(ids)
