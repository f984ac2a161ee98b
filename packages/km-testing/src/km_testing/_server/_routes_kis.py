"""The knowledge interaction endpoints (``/sc/ki``): listing, registering and deleting."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from km_core import KnowledgeInteractionRegistration, KnowledgeInteractionType
from km_testing.engine import LocalKnowledgeEngine

from ._bodies import _json_body
from ._headers import KB_HEADER, KI_HEADER
from ._responses import _bad, _empty, _json, _wire
from ._validation import _model, _scalar_text

KI_TYPE_FIELD = "knowledgeInteractionType"
KI_BASE_CLASS = "eu.knowledge.engine.rest.model.KnowledgeInteractionBase"
_KI_TYPES = sorted(kind.value for kind in KnowledgeInteractionType)
_KNOWN_TYPE_IDS = sorted([*_KI_TYPES, "KnowledgeInteractionBase"])


class _InteractionRoutes:
    """The knowledge interaction endpoints, each a thin layer over one engine method."""

    def __init__(self, engine: LocalKnowledgeEngine) -> None:
        self.engine = engine

    async def list_kis(self, request: Request) -> Response:
        """``GET /sc/ki``."""
        kis = self.engine.list_kis(request.headers.get(KB_HEADER))
        return _json(200, [_wire(ki) for ki in kis])

    async def register_ki(self, request: Request) -> Response:
        """``POST /sc/ki``: the type is resolved first, as Jackson's polymorphic reading does."""
        body = await _json_body(request)
        if isinstance(body, dict):
            kind = body.get(KI_TYPE_FIELD)
            if kind is None:
                raise _bad(
                    "InvalidTypeIdException: Could not resolve subtype of [simple type, class "
                    f"{KI_BASE_CLASS}]: missing type id property '{KI_TYPE_FIELD}'"
                )
            if kind not in _KI_TYPES:
                raise _bad(
                    f"InvalidTypeIdException: Could not resolve type id '{_scalar_text(kind)}' "
                    f"as a subtype of `{KI_BASE_CLASS}`: known type ids = "
                    f"[{', '.join(_KNOWN_TYPE_IDS)}]"
                )
        registration = _model(KnowledgeInteractionRegistration, body, "scKiPost.arg1")
        ki_id = self.engine.register_ki(request.headers.get(KB_HEADER), registration)
        return _json(200, {"knowledgeInteractionId": ki_id})

    async def delete_ki(self, request: Request) -> Response:
        """``DELETE /sc/ki``."""
        self.engine.delete_ki(request.headers.get(KB_HEADER), request.headers.get(KI_HEADER))
        return _empty()
