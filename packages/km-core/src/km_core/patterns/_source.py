r"""The pattern as given and as parsed: its errors, and positions mapped from one to the other.

`Report` makes the `GraphPatternError` of one pattern, with its line and column; `Source` is the
text the parser reads, with the ``\u`` escapes replaced, and maps its offsets back.
"""

from __future__ import annotations

import bisect
import re

from km_core._errors import GraphPatternError

# A \u or \U code point escape, or an escaped backslash (which is skipped, so that the text
# ``\\u0041`` keeps its backslash and is not read as an escape).
_CODE_POINT_ESCAPE = re.compile(r"\\(?:\\|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8}))")


class Report:
    """Makes the errors of one pattern, with its KI name and, when known, a position."""

    def __init__(self, pattern: str, ki_name: str | None) -> None:
        self.pattern = pattern
        self.ki_name = ki_name

    def error(self, message: str, offset: int | None = None) -> GraphPatternError:
        """An error about the pattern, at ``offset`` (a 0-based index into it) if given."""
        line = column = None
        if offset is not None:
            offset = max(0, min(offset, len(self.pattern)))
            line = self.pattern.count("\n", 0, offset) + 1
            column = offset - (self.pattern.rfind("\n", 0, offset) + 1) + 1
        return GraphPatternError(
            message, pattern=self.pattern, ki_name=self.ki_name, line=line, column=column
        )


class Source:
    r"""The pattern with its \u and \U escapes replaced, as SPARQL reads it before parsing.

    Remembers where each replacement was, so that a position in the text the parser saw can
    be turned back into a position in the pattern as given.
    """

    def __init__(self, pattern: str, report: Report) -> None:
        self.pattern = pattern
        # Each pair: an offset in the parsed text and the offset in the pattern it comes from.
        self._parsed_offsets = [0]
        self._pattern_offsets = [0]
        if "\\" not in pattern:
            self.text = pattern
            return
        pieces: list[str] = []
        copied = 0
        length = 0
        for match in _CODE_POINT_ESCAPE.finditer(pattern):
            digits = match.group(1) or match.group(2)
            if digits is None:
                continue
            code = int(digits, 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise report.error(
                    f"syntax error: {match.group(0)!r} is not a valid Unicode character",
                    match.start(),
                )
            pieces.append(pattern[copied : match.start()])
            length += match.start() - copied
            pieces.append(chr(code))
            self._parsed_offsets += [length, length + 1]
            self._pattern_offsets += [match.start(), match.end()]
            length += 1
            copied = match.end()
        pieces.append(pattern[copied:])
        self.text = "".join(pieces)

    def to_pattern(self, offset: int) -> int:
        """The offset in the pattern as given of ``offset`` in the parsed text."""
        anchor = bisect.bisect_right(self._parsed_offsets, offset) - 1
        return self._pattern_offsets[anchor] + offset - self._parsed_offsets[anchor]
