"""A knowledge base's registry of its interactions: by name as declared, by id once registered.

The registry refuses a second interaction of the same name, finds an interaction by handle or
by name (with an error that lists the declared ones), and maps the ids the KE gave to the
interactions with a handler, for the handling loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

from km_core._errors import ConfigurationError, UnknownKnowledgeInteractionError

from ._interactions import Handled, KnowledgeInteraction

__all__ = ["Registry"]

K = TypeVar("K", bound=KnowledgeInteraction)


class Registry:
    """The interactions of one knowledge base."""

    __slots__ = ("_by_id", "_by_name", "_kb_id")

    def __init__(self, kb_id: str) -> None:
        self._kb_id = kb_id
        self._by_name: dict[str, KnowledgeInteraction] = {}
        self._by_id: dict[str, Handled] = {}

    def __iter__(self) -> Iterator[KnowledgeInteraction]:
        return iter(list(self._by_name.values()))

    def __len__(self) -> int:
        return len(self._by_name)

    def by_name(self) -> dict[str, KnowledgeInteraction]:
        """A copy of the declared interactions, by name."""
        return dict(self._by_name)

    def add(self, ki: KnowledgeInteraction) -> None:
        """Add a declared interaction.

        Raises:
            ConfigurationError: the KB has an interaction of that name already.
        """
        if ki.name in self._by_name:
            raise ConfigurationError(
                f"knowledge base {self._kb_id} already has a knowledge interaction named "
                f"{ki.name!r}"
            )
        self._by_name[ki.name] = ki

    def remove(self, ki: KnowledgeInteraction) -> None:
        """Forget an interaction, and its id."""
        if ki.id is not None:
            self._by_id.pop(ki.id, None)
        del self._by_name[ki.name]
        ki.id = None

    def lookup(self, ki: KnowledgeInteraction | str) -> KnowledgeInteraction:
        """The declared interaction ``ki`` is, or is named.

        Raises:
            UnknownKnowledgeInteractionError: it was not declared on this KB.
        """
        if isinstance(ki, KnowledgeInteraction):
            if self._by_name.get(ki.name) is not ki:
                raise UnknownKnowledgeInteractionError(
                    f"{ki!r} was not declared on knowledge base {self._kb_id}"
                )
            return ki
        found = self._by_name.get(ki)
        if found is None:
            known = ", ".join(sorted(self._by_name)) or "none"
            raise UnknownKnowledgeInteractionError(
                f"knowledge base {self._kb_id} has no knowledge interaction named {ki!r} "
                f"(declared: {known})"
            )
        return found

    def registered_as(
        self, ki: KnowledgeInteraction | str, kind: type[K], call: str
    ) -> tuple[K, str]:
        """The registered interaction of ``kind`` that an outgoing ``call`` uses, and its id.

        Raises:
            UnknownKnowledgeInteractionError: it was not declared on this KB.
            ConfigurationError: it is of another kind.
            RuntimeError: the KB is not registered.
        """
        found = self.lookup(ki)
        if not isinstance(found, kind):
            raise ConfigurationError(
                f"knowledge interaction {found.name!r} is a {found.kind.name} interaction; "
                f"{call}() needs a {kind.kind.name} one"
            )
        if found.id is None:
            raise RuntimeError(
                f"knowledge base {self._kb_id} is not registered; call 'await kb.register()' "
                f"before using {found.name!r}"
            )
        return found, found.id

    def registered(self, ki: KnowledgeInteraction, ki_id: str) -> None:
        """The KE registered ``ki`` under ``ki_id``."""
        ki.id = ki_id
        if isinstance(ki, Handled):
            self._by_id[ki_id] = ki

    def forget_ids(self, *, keep_on_interactions: bool = False) -> None:
        """The KE no longer has the interactions: drop their ids."""
        self._by_id.clear()
        if not keep_on_interactions:
            for ki in self._by_name.values():
                ki.id = None

    def handled(self, ki_id: str) -> Handled | None:
        """The interaction with a handler that the KE knows as ``ki_id``, if any."""
        return self._by_id.get(ki_id)

    def answering_id(self, ki_id: str) -> str:
        """The interaction id to name when answering a request for ``ki_id``.

        The KE finds the request by its id alone, but wants the header to name an existing
        interaction of this KB; for a request naming one we do not know, any of ours will do.
        """
        if ki_id in self._by_id:
            return ki_id
        registered = (ki.id for ki in self._by_name.values() if ki.id is not None)
        return next(registered, ki_id)
