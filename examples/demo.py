"""Two knowledge bases exchanging knowledge through a Knowledge Engine, served concurrently.

Run it with ``hatch run demo``. By default it starts a local Knowledge Engine in this process;
``--ke-url http://localhost:8280/rest`` runs the same demo against any KE (the real one, or
``km-testing serve``).

The "trees" KB answers "how tall is this tree?" (its handler takes ``--delay`` seconds, as a
database query would) and reacts to "a tree was planted". The "forester" KB asks and posts.
Then the forester asks ``--requests`` questions at once, and the trees KB serves them first one
at a time (``max_concurrent_handlers=1``) and then ``--concurrency`` at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from decimal import Decimal

from km_core import IRI, BindingModel, ClientProtocol, KnowledgeBase, RequestContext
from km_testing import LocalEngineClient, LocalKnowledgeEngine

EX = {"ex": "http://example.org/"}
HEIGHTS = {
    "http://example.org/oak": Decimal("21.5"),
    "http://example.org/beech": Decimal("30"),
    "http://example.org/elm": Decimal("17.25"),
}


class TreeHeight(BindingModel):
    """One binding of ``?tree ex:height ?height``."""

    tree: IRI
    height: Decimal | None = None


class Planting(BindingModel):
    """One binding of ``?tree ex:plantedIn ?park``."""

    tree: IRI
    park: IRI


class Tag(BindingModel):
    """One binding of ``?tree ex:label ?tag``."""

    tree: IRI
    tag: str


def trees_kb(client: ClientProtocol | None, delay: float) -> KnowledgeBase:
    """The answering KB: heights from a slow 'database', and a reaction to plantings."""
    kb = KnowledgeBase(
        id="http://example.org/kb/trees",
        name="trees",
        description="Knows how tall trees are",
        client=client,
    )

    @kb.answer_ki("tree-heights", "?tree ex:height ?height .", prefixes=EX)
    async def heights(binding_set: list[TreeHeight]) -> list[TreeHeight]:
        await asyncio.sleep(delay)  # stands in for a database query
        wanted = {b.tree for b in binding_set}
        return [
            TreeHeight(tree=IRI(tree), height=height)
            for tree, height in HEIGHTS.items()
            if not wanted or tree in wanted
        ]

    @kb.react_ki(
        "planted",
        "?tree ex:plantedIn ?park .",
        "?tree ex:label ?tag .",
        prefixes=EX,
        argument_model=Planting,
        result_model=Tag,
    )
    def planted(binding_set: list[Planting], context: RequestContext) -> list[Tag]:
        reporter = context.requesting_kb_id
        return [
            Tag(tree=p.tree, tag=f"planted in {p.park}, as {reporter} said") for p in binding_set
        ]

    return kb


def answering_kb() -> KnowledgeBase:
    """The demo's answering KB on its own, without a client, for ``km run``.

    ``km run examples/demo.py:answering_kb --ke-url http://localhost:8280/rest``
    """
    return trees_kb(None, delay=0.05)


def forester_kb(client: ClientProtocol) -> KnowledgeBase:
    """The asking KB."""
    kb = KnowledgeBase(
        id="http://example.org/kb/forester",
        name="forester",
        description="Wants to know about trees",
        client=client,
    )
    kb.ask_ki("heights", "?t ex:height ?h .", prefixes=EX)
    kb.post_ki("plant", "?t ex:plantedIn ?p .", "?t ex:label ?l .", prefixes=EX)
    return kb


async def stop(kb: KnowledgeBase, loop: asyncio.Task[None]) -> None:
    """Stop a KB's handling loop, then register the KB afresh for the next run.

    Stopping abandons the loop's open long poll, which a Knowledge Engine may hold (and with it
    the KB's only poll slot) until its 29 s heartbeat; registering again frees it at once.
    """
    kb.stop()  # polls no more, and answers what it accepted first
    await loop
    await kb.unregister()
    await kb.register()


async def burst(trees: KnowledgeBase, forester: KnowledgeBase, requests: int, bound: int) -> float:
    """Serve ``requests`` simultaneous asks with the trees KB's loop at ``bound``."""
    loop = asyncio.create_task(trees.start_handling_loop(max_concurrent_handlers=bound))
    started = time.perf_counter()
    answers = await asyncio.gather(
        *(forester.ask("heights", [{"t": "<http://example.org/oak>"}]) for _ in range(requests))
    )
    elapsed = time.perf_counter() - started
    await stop(trees, loop)
    assert all(len(a) == 1 for a in answers), "every ask should get the oak's height"
    return elapsed


async def main(argv: Sequence[str] | None = None) -> None:
    """Parse the arguments and run the demo."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ke-url", help="a Knowledge Engine's REST URL; default: a local one")
    parser.add_argument("--requests", type=int, default=40, help="asks in the burst")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds each answer takes")
    parser.add_argument("--concurrency", type=int, default=10, help="the second run's bound")
    args = parser.parse_args(argv)

    if args.ke_url:
        from km_httpx import HttpxClient

        clients: tuple[ClientProtocol, ClientProtocol] = (
            HttpxClient(args.ke_url),
            HttpxClient(args.ke_url),
        )
        print(f"Using the Knowledge Engine at {args.ke_url}")
    else:
        engine = LocalKnowledgeEngine()
        clients = (LocalEngineClient(engine), LocalEngineClient(engine))
        print("Using a local Knowledge Engine in this process")

    trees, forester = trees_kb(clients[0], args.delay), forester_kb(clients[1])
    for kb in (trees, forester):
        await kb.connect()
        await kb.register()
    try:
        serving = asyncio.create_task(trees.start_handling_loop())
        print("\nforester asks for every tree's height:")
        for answer in await forester.ask("heights"):
            print(f"  {answer['t']} is {answer['h']}")
        print("forester posts that an elm was planted in a park:")
        posted = await forester.post_with_info(
            "plant", [{"t": "<http://example.org/elm>", "p": "<http://example.org/park>"}]
        )
        for result in posted.result_binding_set:
            print(f"  trees reacted: {result['t']} gets {result['l']}")
        await stop(trees, serving)

        print(
            f"\nforester asks {args.requests} questions at once; each answer takes "
            f"{args.delay * 1000:.0f} ms:"
        )
        timings = {}
        for bound in (1, args.concurrency):
            timings[bound] = await burst(trees, forester, args.requests, bound)
            ideal = args.requests / bound * args.delay
            print(
                f"  max_concurrent_handlers={bound:<3} {timings[bound]:6.3f} s "
                f"(ideal {ideal:.3f} s)"
            )
        speedup = timings[1] / timings[args.concurrency]
        print(f"Serving {args.concurrency} at a time was {speedup:.1f}x faster.")
    finally:
        for kb in (forester, trees):
            await kb.unregister()
            await kb.close()


if __name__ == "__main__":
    asyncio.run(main())
