"""The TestClient: an in-memory ClientProtocol for unit tests of one knowledge base.

Where each part lives: `_client` puts the `TestClient` together from its parts; `_scripting`
has what a test sets up (queued requests, mocked answers, injected faults), `_inspection` what
a test reads back, and `_records` the records themselves; `_registration` and `_exchanges` are
the `ClientProtocol` calls (KB and KI registration; asks, posts, the long poll and handle
responses), and `_base` the state and the checks they share.
"""

from ._client import TestClient
from ._records import OutgoingCall, RecordedHandleResponse
from ._scripting import DEFAULT_REQUESTING_KB_ID

__all__ = ["DEFAULT_REQUESTING_KB_ID", "OutgoingCall", "RecordedHandleResponse", "TestClient"]
