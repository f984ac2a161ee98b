"""km-testing: test utilities for the Knowledge Mapper SDK.

`TestClient` is an in-memory `km_core.ClientProtocol` that lets a test drive a knowledge base's
handling loop and outgoing calls without a Knowledge Engine.
"""

from .__about__ import __version__
from ._test_client import OutgoingCall, RecordedHandleResponse, TestClient

__all__ = ["OutgoingCall", "RecordedHandleResponse", "TestClient", "__version__"]
