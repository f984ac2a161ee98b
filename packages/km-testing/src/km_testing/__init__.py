"""km-testing: test utilities for the Knowledge Mapper SDK.

`TestClient` is an in-memory `km_core.ClientProtocol` that lets a test drive a knowledge base's
handling loop and outgoing calls without a Knowledge Engine. `LocalKnowledgeEngine` behaves like
a real Knowledge Engine for everything a knowledge base can observe; reach it in process with
`LocalEngineClient`, or over HTTP with ``km-testing serve`` or the ASGI app of `create_app`
(both need km-testing's ``server`` extra).
"""

from typing import TYPE_CHECKING, Any

from .__about__ import __version__
from ._local_client import LocalEngineClient
from ._test_client import (
    DEFAULT_REQUESTING_KB_ID,
    OutgoingCall,
    RecordedHandleResponse,
    TestClient,
)
from .engine import (
    DEFAULT_HEARTBEAT,
    DEFAULT_KB_WAIT_TIMEOUT,
    DEFAULT_LEASE_CHECK_PERIOD,
    LocalKnowledgeEngine,
)

if TYPE_CHECKING:
    from ._server import create_app, serve_locally

__all__ = [
    "DEFAULT_HEARTBEAT",
    "DEFAULT_KB_WAIT_TIMEOUT",
    "DEFAULT_LEASE_CHECK_PERIOD",
    "DEFAULT_REQUESTING_KB_ID",
    "LocalEngineClient",
    "LocalKnowledgeEngine",
    "OutgoingCall",
    "RecordedHandleResponse",
    "TestClient",
    "__version__",
    "create_app",
    "serve_locally",
]


def __getattr__(name: str) -> Any:
    # The server needs the server extra (starlette, uvicorn); import it only when asked for.
    if name in ("create_app", "serve_locally"):
        from . import _server

        return getattr(_server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
