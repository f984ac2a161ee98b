"""The `TestClient` class, put together from its scripting, records and protocol parts."""

from __future__ import annotations

from typing import ClassVar

from ._exchanges import _Exchanges
from ._inspection import _Inspection
from ._registration import _Registration
from ._scripting import _Scripting

__all__ = ["TestClient"]


class TestClient(_Scripting, _Inspection, _Registration, _Exchanges):
    """A `ClientProtocol` in memory, for unit tests of one knowledge base.

    Feed the handling loop with `enqueue_handle_request` (and end it with `enqueue_exit`),
    script the answers to the KB's own asks and posts with `mock_result_binding_set`, and
    inspect what the KB did in `handle_responses` and `outgoing_calls`. The long poll blocks on
    an `asyncio.Queue` until something is enqueued, and, as on the real Knowledge Engine, only
    one poll may be open at a time: a second one raises `PollConflictError`.

    The helpers are synchronous and may be called before the knowledge base registers. Use
    one TestClient per test: its queue belongs to the event loop that first waits on it.

    Attributes:
        handle_responses: Every response the KB posted, in order.
        outgoing_calls: Every ask and post the KB made, in order.
        lease_renewals: How often the KB renewed its lease.
        domain_knowledge: The domain knowledge last uploaded, if any.
        available: Whether the simulated KE is up: with ``False``, `get_version` raises
            `KnowledgeEngineUnavailableError` and `ke_is_available` answers ``False``, so that
            `KnowledgeBase.connect` fails (or waits).
    """

    __test__: ClassVar[bool] = False  # not a test class, whatever pytest thinks of its name
