"""An answering knowledge base in its own process, for the harness's HTTP scenarios.

    python benchmarks/answerer.py URL KB_ID [--kind sdk|raw|raw-overlap] [--prefix IRI]
        [--delay S] [--sync] [--max-concurrent-handlers N] [--stamp]

``sdk`` serves one ANSWER interaction with the SDK (km-core on km-httpx's ``HttpxClient``);
``raw`` and ``raw-overlap`` are the baselines without the SDK (``raw_loop.py``): plain ``httpx``
calls that register the same interaction and serve it one request after the other, or with
each response's post overlapping the next poll. The interaction's pattern is
``?tree ex:height ?height .`` with ``ex:`` bound to ``--prefix``, so that runs on a shared
Knowledge Engine do not answer each other. Each handler waits ``--delay`` seconds
(``asyncio.sleep``, or ``time.sleep`` with ``--sync``) and answers with no bindings, or with
``--stamp`` with one binding whose ``?height`` is the ``time.monotonic()`` at which the handler
started, so that the asker (on the same machine) can tell the wake-up latency.

The process prints one JSON line ``{"event": "ready"}`` once its interaction is registered and
it polls. Each ``cpu N`` line on its stdin is answered, once N requests are handled, with its
CPU time and counters (``cpu.py``). Any other line (or the end of stdin) stops it: the SDK's KB
stops its handling loop (which drains) and unregisters; the baselines unregister, which ends
their open poll with 410. It then prints ``{"event": "done", "cpu_s": S, "handled": N, ...}``
and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from dataclasses import asdict

from cpu import Counters, CpuMark, emit, serve_commands
from raw_loop import PATTERN, RawOptions, answer, serve_raw


async def serve_sdk(args: argparse.Namespace, counters: Counters) -> None:
    """The SDK's answering KB; its handling loop ends when the KB is unregistered."""
    from km_core import (
        BindingSet,
        HandleRequest,
        HandleResponse,
        KnowledgeBase,
        PollConflictError,
        PollResult,
    )
    from km_httpx import HttpxClient

    class CountingClient(HttpxClient):
        """``HttpxClient`` that counts posted responses and polls refused with 409.

        It counts where the raw loops do: a request once its response's post has returned.
        """

        async def poll_ki_call(self, kb_id: str) -> tuple[PollResult, HandleRequest | None]:
            try:
                return await super().poll_ki_call(kb_id)
            except PollConflictError:
                counters.conflicts += 1
                raise

        async def post_handle_response(
            self, kb_id: str, ki_id: str, response: HandleResponse
        ) -> None:
            await super().post_handle_response(kb_id, ki_id, response)
            counters.handled += 1

    delay: float = args.delay
    stamp: bool = args.stamp
    kb = KnowledgeBase(
        id=args.kb_id,
        name="answerer",
        description="benchmark answerer",
        client=CountingClient(args.url),
    )
    prefixes = {"ex": args.prefix}
    if args.sync:

        @kb.answer_ki("heights", PATTERN, prefixes=prefixes)
        def sync_heights(binding_set: BindingSet) -> BindingSet:
            started = time.monotonic() if stamp else None
            if delay:
                time.sleep(delay)
            return answer(started)

    else:

        @kb.answer_ki("heights", PATTERN, prefixes=prefixes)
        async def heights(binding_set: BindingSet) -> BindingSet:
            started = time.monotonic() if stamp else None
            if delay:
                await asyncio.sleep(delay)
            return answer(started)

    async with kb:  # connects and registers; unregisters and closes at the end
        loop = asyncio.create_task(
            kb.start_handling_loop(max_concurrent_handlers=args.max_concurrent_handlers)
        )
        emit("ready")
        await serve_commands(counters)
        kb.stop()
        await loop


async def serve_baseline(args: argparse.Namespace, counters: Counters) -> None:
    """One of the raw httpx loops of ``raw_loop.py``."""
    options = RawOptions(
        url=args.url,
        kb_id=args.kb_id,
        prefix=args.prefix,
        delay=args.delay,
        stamp=args.stamp,
        overlap=args.kind == "raw-overlap",
        bound=args.max_concurrent_handlers,
    )
    await serve_raw(options, counters)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the arguments, serve until told to stop, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("kb_id")
    parser.add_argument("--kind", choices=("sdk", "raw", "raw-overlap"), default="sdk")
    parser.add_argument("--prefix", default="http://example.org/", help="the IRI of ex:")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--sync", action="store_true")
    parser.add_argument("--max-concurrent-handlers", type=int, default=10)
    parser.add_argument("--stamp", action="store_true")
    args = parser.parse_args(argv)
    if args.sync and args.kind != "sdk":
        parser.error("--sync needs --kind sdk")
    counters = Counters()
    serve = serve_sdk if args.kind == "sdk" else serve_baseline
    asyncio.run(serve(args, counters))
    emit("done", **asdict(CpuMark.now(counters)))


if __name__ == "__main__":
    main()
