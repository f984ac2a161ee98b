"""km-testing: test utilities for the Knowledge Mapper SDK.

`TestClient` is an in-memory `km_core.ClientProtocol` that lets a test drive a knowledge base's
handling loop and outgoing calls without a Knowledge Engine. `LocalKnowledgeEngine` behaves like
a real Knowledge Engine for everything a knowledge base can observe; reach it in process with
`LocalEngineClient`, or over HTTP with ``km-testing serve``.
"""

from .__about__ import __version__
from ._engine import DEFAULT_HEARTBEAT, DEFAULT_KB_WAIT_TIMEOUT, LocalKnowledgeEngine
from ._local_client import LocalEngineClient
from ._test_client import OutgoingCall, RecordedHandleResponse, TestClient

__all__ = [
    "DEFAULT_HEARTBEAT",
    "DEFAULT_KB_WAIT_TIMEOUT",
    "LocalEngineClient",
    "LocalKnowledgeEngine",
    "OutgoingCall",
    "RecordedHandleResponse",
    "TestClient",
    "__version__",
]
