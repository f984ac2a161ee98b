r"""Escaping the lexical form of a quoted RDF literal, and undoing it.

`escape` writes the text between a literal's quotes; `unescape` reads it back, ``\uXXXX`` and
``\UXXXXXXXX`` escapes (and the surrogate pairs some writers escape in halves) included.
"""

from __future__ import annotations

import re

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}
_NEEDS_ESCAPE = re.compile(r'["\\\n\r\t\b\f]')
_UNESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.)|$)", re.DOTALL)
_SURROGATES = re.compile("[\ud800-\udfff]")
_SIMPLE_UNESCAPES = {
    "t": "\t",
    "b": "\b",
    "n": "\n",
    "r": "\r",
    "f": "\f",
    '"': '"',
    "'": "'",
    "\\": "\\",
}


def escape(text: str) -> str:
    """Escape a string for a quoted RDF literal (quotes, backslashes, line breaks, tabs)."""
    if _NEEDS_ESCAPE.search(text) is None:
        return text
    return _NEEDS_ESCAPE.sub(lambda m: _ESCAPES[m.group()], text)


def _unescape_one(match: re.Match[str]) -> str:
    short, long, char = match.groups()
    if short or long:
        return chr(int(short or long, 16))
    if char is None:
        raise ValueError("a lone backslash ends the text: an unfinished escape")
    if char in _SIMPLE_UNESCAPES:
        return _SIMPLE_UNESCAPES[char]
    raise ValueError(f"unknown escape \\{char}")


def unescape(text: str) -> str:
    r"""Undo `escape`, and the ``\uXXXX`` and ``\UXXXXXXXX`` escapes."""
    if "\\" not in text:
        return text
    result = _UNESCAPE.sub(_unescape_one, text)
    if _SURROGATES.search(result):
        # \uD83D\uDE00 style pairs: join them into the one character they stand for.
        try:
            result = result.encode("utf-16", "surrogatepass").decode("utf-16")
        except UnicodeDecodeError:
            raise ValueError(f"{text!r} holds an unpaired surrogate escape") from None
    return result
