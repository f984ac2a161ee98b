"""Middleware: count outcomes per interaction, time slow requests, and log every ask.

Run it with ``python docs/examples/middleware_example.py``; it needs no Knowledge Engine: a
TestClient plays the KE's part.
"""

from __future__ import annotations

import asyncio
import collections
import time

from km_core import (
    AskResult,
    BindingSet,
    CallNext,
    ExchangeCall,
    ExchangeNext,
    HandleCall,
    HandleResult,
    KnowledgeBase,
    Middleware,
    PollResult,
    PostResult,
)
from km_testing import TestClient

EX = {"ex": "http://example.org/"}


# --8<-- [start:handle]
class Outcomes(Middleware):
    """Counts what became of each request, by interaction, and reports slow ones."""

    def __init__(self, slow: float = 0.5) -> None:
        self.slow = slow
        self.counts: collections.Counter[tuple[str | None, str]] = collections.Counter()

    async def handle(self, call: HandleCall, call_next: CallNext) -> HandleResult:
        """Serve the request on, then count its outcome."""
        started = time.perf_counter()
        result = await call_next(call)  # the access decision, the handler, the response
        self.counts[call.ki_name, result.outcome.value] += 1
        if time.perf_counter() - started > self.slow:
            print(f"slow: request {call.handle_request_id} from {call.requesting_kb_id}")
        return result


# --8<-- [end:handle]


# --8<-- [start:exchange]
class AskLog(Middleware):
    """Prints each ask and post, with the number of bindings that came back."""

    async def exchange(self, call: ExchangeCall, call_next: ExchangeNext) -> AskResult | PostResult:
        """Send the ask or post on, then print what came back."""
        result = await call_next(call)
        got = result.binding_set if isinstance(result, AskResult) else result.result_binding_set
        print(f"{call.kind} {call.ki_name!r}: {len(call.binding_set)} sent, {len(got)} back")
        return result


# --8<-- [end:exchange]


# --8<-- [start:events]
class Heartbeats(Middleware):
    """Counts the KE's heartbeats: a quiet network shows them every 29 s."""

    def __init__(self) -> None:
        self.heartbeats = 0

    def on_poll(self, kb_id: str, result: PollResult) -> None:
        """Count a heartbeat."""
        if result is PollResult.REPOLL:
            self.heartbeats += 1


# --8<-- [end:events]


async def main() -> None:
    """Serve four polls' worth of requests through the middleware, then ask once."""
    client = TestClient()
    outcomes, heartbeats = Outcomes(), Heartbeats()
    # --8<-- [start:install]
    kb = KnowledgeBase(
        id="http://example.org/kb/trees",
        name="trees",
        description="Tree heights",
        client=client,
        middleware=[outcomes, AskLog()],  # the first is the outermost
    )
    kb.add_middleware(heartbeats)  # inside those given before
    # --8<-- [end:install]

    @kb.answer_ki(
        "heights",
        "?tree ex:height ?height .",
        prefixes=EX,
        permitted=["http://example.org/kb/forester"],
    )
    async def heights(binding_set: BindingSet) -> BindingSet:
        return [{"tree": "<http://example.org/oak>", "height": '"21"'}]

    kb.ask_ki("neighbours", "?tree ex:near ?other .", prefixes=EX)
    await kb.register()

    forester, stranger = "http://example.org/kb/forester", "http://example.org/kb/stranger"
    client.enqueue_handle_request("heights", [], requesting_kb_id=forester)
    client.enqueue_repoll()
    client.enqueue_handle_request("heights", [], requesting_kb_id=forester)
    client.enqueue_handle_request("heights", [], requesting_kb_id=stranger)
    client.enqueue_exit()
    await kb.start_handling_loop()

    client.mock_result_binding_set(
        "neighbours", [{"tree": "<http://example.org/oak>", "other": "<http://example.org/elm>"}]
    )
    await kb.ask("neighbours", [{"tree": "<http://example.org/oak>"}])
    print(f"outcomes: {dict(sorted(outcomes.counts.items()))}")
    print(f"heartbeats: {heartbeats.heartbeats}")


if __name__ == "__main__":
    asyncio.run(main())
