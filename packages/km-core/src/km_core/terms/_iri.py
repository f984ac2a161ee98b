"""The one check of an absolute IRI: `iri_problem` says why the KE would refuse a text as one.

Every IRI check of km-core and of km-testing's local engine goes through it: the KB id, the
term types, the parsers of terms and of graph patterns, and the ids the engine is sent.
"""

from __future__ import annotations

import re

# What java.net.URI and Jena's IRI check refuse anywhere in an IRI: the control characters
# (C0, DEL, C1) and lone surrogates.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# A scheme and a colon, then anything but white space, the characters RFC 3987 leaves out and
# the control characters. Matched (not fullmatched), it ends where the first refused one is.
_ABSOLUTE_IRI = re.compile(
    r'[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>"{}|\\^`\x00-\x1f\x7f-\x9f\ud800-\udfff]*'
)
_HTTP_WITHOUT_HOST = re.compile(r"(?i)(https?):(?!//[^/?#])")


def iri_problem(text: str) -> str | None:
    r"""Why the Knowledge Engine would refuse ``text`` as an absolute IRI; ``None`` if it is one.

    An absolute IRI is a scheme (a letter, then letters, digits, ``+``, ``-`` or ``.``), a
    colon and the rest, with no white space and none of the characters `` <>"{}|\^` `` after
    the colon. No control character (C0, DEL or C1) and no lone surrogate may stand anywhere in
    it: ``java.net.URI`` and Jena, which the KE uses, refuse them. An ``http`` or ``https`` IRI
    must also name a host: ``https://`` and ``http:foo`` are refused. Other characters beyond
    ASCII are fine (``http://example.org/bäume``).

    Args:
        text: The IRI, without angle brackets.

    Returns:
        ``None`` when ``text`` is an absolute IRI; otherwise one sentence, without a final
            period, that names the problem and the character at fault, if any: for example
            ``"it holds the control character U+0007, which no IRI may hold"``.
    """
    iri = _ABSOLUTE_IRI.match(text)
    if iri is not None and iri.end() == len(text):
        http = _HTTP_WITHOUT_HOST.match(text)
        if http is None:
            return None
        scheme = http.group(1).lower()
        example = f"{scheme}://example.org/"
        return f"it is an {scheme} IRI without a host (like 'example.org' in {example!r})"
    control = _CONTROL.search(text)
    if control is not None:
        code = ord(control.group())
        kind = "lone surrogate" if 0xD800 <= code <= 0xDFFF else "control character"
        return f"it holds the {kind} U+{code:04X}, which no IRI may hold"
    if iri is None:
        if not text:
            return "it is empty"
        return "it is a relative IRI (an absolute one starts with a scheme and a colon: 'http:')"
    return f"it holds {_describe(text[iri.end()])}, which no IRI may hold"


def _describe(character: str) -> str:
    code = f"U+{ord(character):04X}"
    if character == " ":
        return f"a space ({code})"
    if character.isspace():
        return f"the white-space character {code}"
    return f"{character!r} ({code})"


def is_absolute_iri(text: str) -> bool:
    """Whether ``text`` is an absolute IRI: ``iri_problem(text) is None``."""
    return iri_problem(text) is None
