"""Outgoing calls of a knowledge base: ask and post, and their sync bridge.

- ``_calls``: `AsyncCalls`, ``ask``/``ask_with_info``/``post``/``post_with_info``;
- ``_bridge``: `SyncCalls`, ``ask_sync``/``post_sync`` from worker threads;
- ``_responses``: `AskResponse` and `PostResponse`.
"""

from ._bridge import SyncCalls
from ._calls import AsyncCalls
from ._responses import AskResponse, PostResponse

__all__ = ["AskResponse", "AsyncCalls", "PostResponse", "SyncCalls"]
