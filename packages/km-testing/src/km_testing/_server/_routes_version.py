"""The ``/version`` endpoint: the version of the Knowledge Engine."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from km_testing.engine import LocalKnowledgeEngine

from ._responses import _json


class _VersionRoutes:
    """The version endpoint, a thin layer over the engine."""

    def __init__(self, engine: LocalKnowledgeEngine) -> None:
        self.engine = engine

    async def version(self, request: Request) -> Response:
        """``GET /version``."""
        return _json(200, {"version": self.engine.version})
