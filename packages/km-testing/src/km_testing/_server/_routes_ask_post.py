"""The ``/sc/ask`` and ``/sc/post`` endpoints, and the reading of their bodies.

A body is a binding set, bare or with a recipient selector.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from km_core.terms import iri_problem
from km_testing.engine import LocalKnowledgeEngine
from km_testing.engine._values import check_binding_set

from ._bodies import _json_body
from ._headers import KB_HEADER, KI_HEADER
from ._responses import _bad, _json, _wire

NOT_JSON_CONTAINER = "The JSON should be either an JSON Object or an JSON Array."
NEEDS_BOTH_KEYS = "The JSON Object should contain both a recipientSelector and bindingSet key."
BAD_BINDING_SET = "The BindingSet should be a valid JSON array with Bindings."
BAD_SELECTOR = (
    "The RecipientSelector should be a valid JSON object with a singleKnowledgeBase key that "
    "leads to a string value of a KnowledgeBaseId."
)


def _is_uri(text: str) -> bool:
    """Roughly what ``java.net.URI`` accepts: no spaces, control or forbidden characters.

    A relative reference is fine too, so km-core's IRI check is asked about the characters
    alone: those of ``text`` after a scheme of its own.
    """
    return bool(text) and iri_problem("x:" + text) is None


def _recipients(selector: Any) -> list[str] | None:
    """The recipient selector's KB ids; ``None`` means everybody."""
    if not isinstance(selector, dict):
        raise _bad(BAD_SELECTOR)
    if "knowledgeBases" in selector:
        ids = selector["knowledgeBases"]
        if not isinstance(ids, list) or not all(
            isinstance(kb_id, str) and _is_uri(kb_id) for kb_id in ids
        ):
            raise _bad(BAD_SELECTOR)
        return list(ids) or None
    if "singleKnowledgeBase" in selector:
        kb_id = selector["singleKnowledgeBase"]
        if not isinstance(kb_id, str) or not _is_uri(kb_id):
            raise _bad(BAD_SELECTOR)
        return [kb_id]
    raise _bad(BAD_SELECTOR)


def _proactive_body(body: Any) -> tuple[list[Any], list[str] | None]:
    """The binding set and recipients of an ``/sc/ask`` or ``/sc/post`` body."""
    if isinstance(body, list):
        binding_set: Any = body
        recipients = None
    elif isinstance(body, dict):
        if "recipientSelector" not in body or "bindingSet" not in body:
            raise _bad(NEEDS_BOTH_KEYS)
        recipients = _recipients(body["recipientSelector"])
        binding_set = body["bindingSet"]
        if not isinstance(binding_set, list):
            raise _bad(BAD_BINDING_SET)
    else:
        raise _bad(NOT_JSON_CONTAINER)
    # The KE reads the bindings with the body, before it looks at the headers.
    check_binding_set(binding_set)
    return binding_set, recipients


class _AskPostRoutes:
    """The ask and post endpoints, each a thin layer over one engine method."""

    def __init__(self, engine: LocalKnowledgeEngine) -> None:
        self.engine = engine

    async def ask(self, request: Request) -> Response:
        """``POST /sc/ask``: a bare binding set, or one with a recipient selector."""
        binding_set, recipients = _proactive_body(await _json_body(request))
        result = await self.engine.ask(
            request.headers.get(KB_HEADER), request.headers.get(KI_HEADER), binding_set, recipients
        )
        return _json(200, _wire(result))

    async def post(self, request: Request) -> Response:
        """``POST /sc/post``: a bare binding set, or one with a recipient selector."""
        binding_set, recipients = _proactive_body(await _json_body(request))
        result = await self.engine.post(
            request.headers.get(KB_HEADER), request.headers.get(KI_HEADER), binding_set, recipients
        )
        return _json(200, _wire(result))
