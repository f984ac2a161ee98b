"""A knowledge base serving a burst of requests, one at a time and then ten at a time.

Run it with ``hatch run demo`` (or ``python examples/concurrency_demo.py``). The KB answers
"which trees are how tall?" with a handler that takes ``--delay`` seconds, as a database query
would. Its handling loop serves ``--requests`` requests from the in-memory TestClient, first with
``max_concurrent_handlers=1`` and then with ``--concurrency``, and prints how long each took.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence

from km_core import BindingSet, KnowledgeBase
from km_testing import TestClient

TREES = {
    "<http://example.org/oak>": '"21"^^<http://www.w3.org/2001/XMLSchema#integer>',
    "<http://example.org/beech>": '"30"^^<http://www.w3.org/2001/XMLSchema#integer>',
}


def build_kb(client: TestClient, delay: float) -> KnowledgeBase:
    """A KB with one ANSWER interaction whose handler takes ``delay`` seconds."""
    kb = KnowledgeBase(
        id="http://example.org/kb/trees",
        name="trees",
        description="Knows how tall trees are",
        client=client,
    )

    @kb.answer_ki(
        name="tree-heights",
        graph_pattern="?tree ex:height ?height .",
        prefixes={"ex": "http://example.org/"},
    )
    async def heights(binding_set: BindingSet) -> BindingSet:
        await asyncio.sleep(delay)  # stands in for a slow database query
        wanted = {b["tree"] for b in binding_set if "tree" in b}
        return [
            {"tree": tree, "height": height}
            for tree, height in TREES.items()
            if not wanted or tree in wanted
        ]

    return kb


async def serve_burst(requests: int, delay: float, max_concurrent_handlers: int) -> float:
    """Serve ``requests`` requests and return how many seconds the loop took."""
    client = TestClient()
    kb = build_kb(client, delay)
    await kb.connect()
    await kb.register()
    for index in range(requests):
        client.enqueue_handle_request(
            "tree-heights",
            [{"tree": "<http://example.org/oak>"}] if index % 2 else [],
            requesting_kb_id=f"http://example.org/kb/asker-{index}",
        )
    client.enqueue_exit()
    started = time.perf_counter()
    await kb.start_handling_loop(max_concurrent_handlers=max_concurrent_handlers)
    elapsed = time.perf_counter() - started
    answered = len(client.handle_responses)
    assert answered == requests, f"{answered} of {requests} requests were answered"
    await kb.unregister()
    await kb.close()
    return elapsed


async def main(argv: Sequence[str] | None = None) -> None:
    """Parse the arguments and run the burst at both concurrency levels."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40, help="requests in the burst")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds each handler takes")
    parser.add_argument("--concurrency", type=int, default=10, help="the second run's bound")
    args = parser.parse_args(argv)

    print(
        f"Serving {args.requests} requests whose handler takes {args.delay * 1000:.0f} ms "
        "each, through the TestClient:"
    )
    timings = {}
    for bound in (1, args.concurrency):
        timings[bound] = await serve_burst(args.requests, args.delay, bound)
        ideal = args.requests / bound * args.delay
        print(f"  max_concurrent_handlers={bound:<3} {timings[bound]:6.3f} s (ideal {ideal:.3f} s)")
    speedup = timings[1] / timings[args.concurrency]
    print(f"Serving {args.concurrency} at a time was {speedup:.1f}x faster.")


if __name__ == "__main__":
    asyncio.run(main())
