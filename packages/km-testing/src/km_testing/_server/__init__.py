"""The Knowledge Engine's Smart Connector REST API over a `LocalKnowledgeEngine`, as an ASGI app.

`create_app` serves the engine under ``/rest`` the way the TNO Knowledge Engine 1.5 does: the
same paths (each with and without a trailing slash), headers, JSON fields, status codes and
message bodies, compact JSON with null fields left out, and the KE's CORS headers on every
response. The request parsing follows the KE's Jackson and bean-validation layers: malformed
JSON is a 400 ``"JsonParseException: ..."``, unknown fields are ignored, scalars are coerced
(``"true"`` to a boolean, a number to a string), and a missing required field is a 400
``"ConstraintViolationException: ..."``. A body is read up to `MAX_BODY_SIZE` bytes and its
JSON nested up to `MAX_JSON_DEPTH` levels (Jackson's limit); beyond either it is a 400 too.

The long poll (``GET /sc/handle``) is held by the engine. When the client goes away while its
poll is held, the engine's poll is cancelled, so the KB's only poll slot is free again at once
(the engine then keeps a request meant for that poll for the next one).

Where each part lives: `_app` builds the app and its routes; the endpoints are grouped by
resource in `_routes_version` (``/version``), `_routes_kbs` (``/sc``, ``/sc/lease/renew``,
``/sc/knowledge``), `_routes_kis` (``/sc/ki``), `_routes_ask_post` (``/sc/ask``, ``/sc/post``)
and `_routes_handle` (``/sc/handle``, the long poll and the answers to it); `_bodies` reads
request bodies (size and nesting limits, JSON), `_validation` reads JSON into models with the
KE's 400 messages, `_responses` writes the KE's answers, `_errors` turns exceptions into them,
`_cors` adds the KE's CORS headers, `_headers` names the id headers, and `_serve` runs the app
with uvicorn (`serve_locally`).
"""

from ._app import create_app
from ._serve import serve_locally

__all__ = ["create_app", "serve_locally"]
