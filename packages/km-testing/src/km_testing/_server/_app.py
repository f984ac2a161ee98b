"""The app: the REST API's routes under ``/rest``, with the error answers and CORS headers.

Every path answers with and without a trailing slash; `create_app` builds the app.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from km_testing.engine import LocalKnowledgeEngine

from ._cors import _CorsHeaders, _options
from ._errors import Handler, _endpoint
from ._routes_ask_post import _AskPostRoutes
from ._routes_handle import _HandleRoutes
from ._routes_kbs import _KnowledgeBaseRoutes
from ._routes_kis import _InteractionRoutes
from ._routes_version import _VersionRoutes

__all__ = ["create_app"]


def create_app(engine: LocalKnowledgeEngine | None = None) -> Starlette:
    """An ASGI app that serves a Knowledge Engine's REST API under ``/rest``.

    Every path answers with and without a trailing slash (``/rest/sc`` and ``/rest/sc/``).
    Serve it with any ASGI server (``km-testing serve`` uses uvicorn), or talk to it without a
    socket through ``httpx.ASGITransport``.

    Args:
        engine: The engine to serve; by default a new one with the KE's defaults (29 s
            heartbeat, 10 s wait timeout).

    Returns:
        The app; its ``state.engine`` is the engine it serves.

    Example:
        ```python
        engine = LocalKnowledgeEngine(heartbeat=1)
        app = create_app(engine)
        transport = httpx.ASGITransport(app)
        client = HttpxClient(
            "http://ke/rest", http_client=httpx.AsyncClient(transport=transport)
        )
        ```
    """
    engine = engine if engine is not None else LocalKnowledgeEngine()
    version = _VersionRoutes(engine)
    kbs = _KnowledgeBaseRoutes(engine)
    kis = _InteractionRoutes(engine)
    proactive = _AskPostRoutes(engine)
    handle = _HandleRoutes(engine)
    endpoints: dict[str, dict[str, Handler]] = {
        "/version": {"GET": version.version},
        "/sc": {"GET": kbs.list_kbs, "POST": kbs.register_kb, "DELETE": kbs.delete_kb},
        "/sc/lease/renew": {"PUT": kbs.renew_lease},
        "/sc/ki": {"GET": kis.list_kis, "POST": kis.register_ki, "DELETE": kis.delete_ki},
        "/sc/ask": {"POST": proactive.ask},
        "/sc/post": {"POST": proactive.post},
        "/sc/handle": {"GET": handle.poll, "POST": handle.answer},
        "/sc/knowledge": {"POST": kbs.domain_knowledge},
    }
    routes: list[Route] = []
    for path, handlers in endpoints.items():
        for variant in (f"/rest{path}", f"/rest{path}/"):
            for method, handler in handlers.items():
                routes.append(Route(variant, _endpoint(handler), methods=[method]))
            routes.append(Route(variant, _options(list(handlers)), methods=["OPTIONS"]))
    app = Starlette(routes=routes, middleware=[Middleware(_CorsHeaders)])
    app.state.engine = engine
    return app
