"""What a conversion carries along: the file's name for errors, and the notes for the user."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import NoReturn

from km_mapper._config._messages import dotted
from km_mapper._errors import MapperConfigError

__all__ = ["Conversion"]


@dataclasses.dataclass
class Conversion:
    """One legacy file being converted.

    Attributes:
        name: The file, for the messages of errors (None for text).
        notes: What could not be carried over, or changed meaning; one line each.
    """

    name: str | None
    notes: list[str] = dataclasses.field(default_factory=list)

    def note(self, text: str) -> None:
        """Tell the user something about the conversion (once, however often it is said)."""
        if text not in self.notes:
            self.notes.append(text)

    def fail(self, message: str, *key: str | int) -> NoReturn:
        """Stop the conversion: the legacy file has a mistake the legacy tool would also fail on.

        Raises:
            MapperConfigError: naming the file and the key.
        """
        raise MapperConfigError(message, path=self.name, key=dotted(key))

    def text(self, value: object, *key: str | int) -> str:
        """``value``, which must be given, as a string that is not empty."""
        if value is None:
            self.fail("is required", *key)
        if not isinstance(value, str) or not value.strip():
            self.fail(f"must be a non-empty string, not {_kind(value)}", *key)
        return value

    def mapping(self, value: object, *key: str | int) -> dict[str, object]:
        """``value``, which must be a JSON object."""
        if not isinstance(value, dict):
            self.fail(f"must be an object ({{...}}), not {_kind(value)}", *key)
        return value

    def strings(self, value: object, *key: str | int) -> list[str]:
        """``value``, which must be a list of strings."""
        if not isinstance(value, list):
            self.fail(f"must be a list of strings, not {_kind(value)}", *key)
        for index, item in enumerate(value):
            if not isinstance(item, str):
                self.fail(f"must be a string, not {_kind(item)}", *key, index)
        return list(value)


def _kind(value: object) -> str:
    """How a message names a value: briefly, and by its kind when it is long or nested."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return repr(value) if len(value) < 40 else "a longer string"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, Sequence):
        return "a list"
    return type(value).__name__
