"""The check of an absolute IRI, the one every IRI in km-core goes through."""

from __future__ import annotations

import re

_ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]*")
_HTTP_WITHOUT_HOST = re.compile(r"(?i)https?:(?!//[^/?#])")


def is_absolute_iri(text: str) -> bool:
    """Whether ``text`` is an absolute IRI: a scheme, a colon, no forbidden characters.

    An ``http`` or ``https`` IRI must also name a host (``https://`` alone is not an IRI).
    """
    return _ABSOLUTE_IRI.fullmatch(text) is not None and not _HTTP_WITHOUT_HOST.match(text)
