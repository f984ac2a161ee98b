"""Reading a request's body: the size limit, JSON decoding and Jackson's nesting limit."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request

from ._responses import _bad

MAX_BODY_SIZE = 4 * 1024 * 1024
"""The largest request body the server reads, in bytes (4 MiB).

A binding set of thousands of bindings is far smaller. The real KE sets no limit of its own
(Jetty limits only form bodies); a larger body is a 400 with the KE's error body, answered from
its ``Content-Length`` before any of it is read when that header gives the size away.
"""

MAX_JSON_DEPTH = 1000
"""How deeply arrays and objects may nest in a JSON body: the default of Jackson's
``StreamReadConstraints``, with which the KE reads its bodies (deeper is a 400)."""

TOO_LARGE = (
    f"The request body is larger than the {MAX_BODY_SIZE} bytes this local Knowledge Engine reads."
)
TOO_DEEP = (
    f"StreamConstraintsException: Document nesting depth ({MAX_JSON_DEPTH + 1}) exceeds the "
    f"maximum allowed ({MAX_JSON_DEPTH}, from `StreamReadConstraints.getMaxNestingDepth()`)"
)
"""Jackson's message for JSON nested deeper than `MAX_JSON_DEPTH`."""
NESTED_TOO_DEEPLY_FOR_PYTHON = (
    "StreamConstraintsException: Document nesting depth exceeds the maximum this local "
    f"Knowledge Engine reads (Python's recursion limit, just under {MAX_JSON_DEPTH})"
)
"""The message for JSON within Jackson's nesting limit that Python's decoder cannot read."""


def _reject_constant(name: str) -> Any:
    """Refuse ``NaN`` and ``Infinity``, which Python's json reads and Jackson does not."""
    raise ValueError(
        f"Non-standard token '{name}': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow"
    )


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
# A JSON string (even an unterminated one, whose brackets are no nesting either), or a bracket.
_NESTING_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]')


async def _body(request: Request) -> bytes:
    """The request body, read up to `MAX_BODY_SIZE` bytes.

    Raises:
        KnowledgeEngineResponseError: 400 when the body is larger; refused from its
            ``Content-Length`` without reading it when that header says so.
        ClientDisconnect: the client went away before it sent the whole body.
    """
    declared = request.headers.get("content-length", "").strip()
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY_SIZE:
        raise _bad(TOO_LARGE)
    body = bytearray()
    async for chunk in request.stream():  # ends with the body (or the client: ClientDisconnect)
        body += chunk
        if len(body) > MAX_BODY_SIZE:
            raise _bad(TOO_LARGE)
    return bytes(body)


def _nested_too_deeply(text: str) -> bool:
    """Whether the first JSON value in ``text`` nests deeper than `MAX_JSON_DEPTH`.

    Brackets inside strings do not count, nor does anything after the first value, which
    Jackson does not read. (A scan of every bracket: only for text Python could not decode.)
    """
    if text[:1] not in ("[", "{") or text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return False  # a scalar, or too few brackets to nest that deep
    depth = 0
    for token in _NESTING_TOKEN.finditer(text):
        char = text[token.start()]
        if char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return True
        elif char in "]}":
            depth -= 1
            if depth <= 0:
                return False
    return False


async def _json_body(request: Request) -> Any:
    """The request's JSON value; ``None`` for an empty body (as Jackson reads it) or ``null``.

    Like Jackson, text after the first complete value is ignored.

    Raises:
        KnowledgeEngineResponseError: 400 ``JsonParseException: ...`` for malformed JSON,
            ``StreamConstraintsException: ...`` for JSON nested too deeply, and a 400 for a
            body over `MAX_BODY_SIZE`.
        ClientDisconnect: the client went away before it sent the whole body.
    """
    raw = await _body(request)
    try:
        text = raw.decode("utf-8").lstrip()
    except UnicodeDecodeError as exc:
        raise _bad(f"JsonParseException: Invalid UTF-8 start byte: {exc.reason}") from None
    if not text:
        return None
    try:
        value, _ = _DECODER.raw_decode(text)
    except ValueError as exc:
        raise _bad(f"JsonParseException: {exc}") from None
    except RecursionError:
        # Python's decoder recurses once per level: under the default recursion limit (1000)
        # it gives up on everything deeper than Jackson's limit, and on a little within it.
        if _nested_too_deeply(text):
            raise _bad(TOO_DEEP) from None
        raise _bad(NESTED_TOO_DEEPLY_FOR_PYTHON) from None
    return value
