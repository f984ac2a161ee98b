"""The knowledge base endpoints: ``/sc``, ``/sc/lease/renew`` and ``/sc/knowledge``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from km_core import KnowledgeBaseInfo
from km_testing.engine import LocalKnowledgeEngine

from ._bodies import _body, _json_body
from ._headers import KB_HEADER
from ._responses import _empty, _json, _message, _wire
from ._validation import _model


class _KnowledgeBaseRoutes:
    """The knowledge base endpoints, each a thin layer over one engine method."""

    def __init__(self, engine: LocalKnowledgeEngine) -> None:
        self.engine = engine

    async def list_kbs(self, request: Request) -> Response:
        """``GET /sc``: all KBs, or the one the header names."""
        kb_id = request.headers.get(KB_HEADER)
        kbs = self.engine.list_kbs() if kb_id is None else [self.engine.get_kb(kb_id)]
        return _json(200, [_wire(kb) for kb in kbs])

    async def register_kb(self, request: Request) -> Response:
        """``POST /sc``."""
        info = _model(KnowledgeBaseInfo, await _json_body(request), "scPost.arg0")
        await self.engine.register_kb(info)
        return _empty()

    async def delete_kb(self, request: Request) -> Response:
        """``DELETE /sc``."""
        await self.engine.delete_kb(request.headers.get(KB_HEADER))
        return _empty()

    async def renew_lease(self, request: Request) -> Response:
        """``PUT /sc/lease/renew``."""
        lease = self.engine.renew_lease(request.headers.get(KB_HEADER))
        return _json(200, _wire(lease))

    async def domain_knowledge(self, request: Request) -> Response:
        """``POST /sc/knowledge``: text/plain, or no content type at all."""
        content_type = request.headers.get("content-type")
        if content_type is not None and not content_type.lower().startswith("text/plain"):
            return _message(415, "HTTP 415 Unsupported Media Type")
        knowledge = (await _body(request)).decode("utf-8", errors="replace")
        self.engine.set_domain_knowledge(request.headers.get(KB_HEADER), knowledge)
        return _empty()
