"""An answering knowledge base in its own process, for the harness's HTTP scenarios.

    python benchmarks/answerer.py URL KB_ID --kind sdk|raw [--delay S] [--sync]
        [--max-concurrent-handlers N] [--stamp]

``sdk`` serves one ANSWER interaction with the SDK (km-core on km-httpx's ``HttpxClient``);
``raw`` is the baseline without the SDK: plain ``httpx`` calls that register the same
interaction and then, one after the other, poll ``GET /sc/handle`` and post the response. Each
handler waits ``--delay`` seconds (``asyncio.sleep``, or ``time.sleep`` with ``--sync``) and
answers with no bindings, or with ``--stamp`` with one binding whose ``?height`` is the
``time.monotonic()`` at which the handler started, so that the asker (on the same machine) can
tell the wake-up latency.

The process prints one JSON line ``{"event": "ready"}`` once its interaction is registered and
it polls. A line on its stdin (or the end of it) stops it: the SDK's KB stops its handling loop
(which drains) and unregisters; the baseline unregisters, which ends its open poll with 410.
It then prints ``{"event": "done", "handled": N}`` and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

EX = "http://example.org/"
PATTERN = "?tree ex:height ?height ."
TREE = f"<{EX}tree>"
DOUBLE = "http://www.w3.org/2001/XMLSchema#double"


def emit(event: str, **data: Any) -> None:
    """One JSON line on stdout, for the harness."""
    print(json.dumps({"event": event, **data}), flush=True)


async def stop_requested() -> None:
    """Return once the harness writes a line to stdin or closes it."""
    await asyncio.to_thread(sys.stdin.readline)


def answer(stamp: float | None) -> list[dict[str, str]]:
    """No bindings, or one carrying the handler's start time."""
    if stamp is None:
        return []
    return [{"tree": TREE, "height": f'"{stamp!r}"^^<{DOUBLE}>'}]


async def serve_sdk(args: argparse.Namespace) -> int:
    """The SDK's answering KB; its handling loop ends when the KB is unregistered."""
    from km_core import BindingSet, KnowledgeBase
    from km_httpx import HttpxClient

    delay: float = args.delay
    stamp: bool = args.stamp
    handled = 0
    kb = KnowledgeBase(
        id=args.kb_id,
        name="answerer",
        description="benchmark answerer",
        client=HttpxClient(args.url),
    )
    if args.sync:

        @kb.answer_ki("heights", PATTERN, prefixes={"ex": EX})
        def sync_heights(binding_set: BindingSet) -> BindingSet:
            nonlocal handled
            started = time.monotonic() if stamp else None
            if delay:
                time.sleep(delay)
            handled += 1
            return answer(started)

    else:

        @kb.answer_ki("heights", PATTERN, prefixes={"ex": EX})
        async def heights(binding_set: BindingSet) -> BindingSet:
            nonlocal handled
            started = time.monotonic() if stamp else None
            if delay:
                await asyncio.sleep(delay)
            handled += 1
            return answer(started)

    async with kb:  # connects and registers; unregisters and closes at the end
        loop = asyncio.create_task(
            kb.start_handling_loop(max_concurrent_handlers=args.max_concurrent_handlers)
        )
        emit("ready")
        await stop_requested()
        kb.stop()
        await loop
    return handled


async def serve_raw(args: argparse.Namespace) -> int:
    """The baseline: httpx calls only, one poll and one response post per request."""
    import httpx

    url: str = args.url
    kb_header = {"Knowledge-Base-Id": args.kb_id}
    handled = 0
    async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=120)) as http:
        registered = await http.post(
            f"{url}/sc",
            json={
                "knowledgeBaseId": args.kb_id,
                "knowledgeBaseName": "raw answerer",
                "knowledgeBaseDescription": "benchmark baseline",
            },
        )
        registered.raise_for_status()
        ki = await http.post(
            f"{url}/sc/ki",
            headers=kb_header,
            json={
                "knowledgeInteractionType": "AnswerKnowledgeInteraction",
                "knowledgeInteractionName": "heights",
                "graphPattern": PATTERN,
                "prefixes": {"ex": EX},
            },
        )
        ki.raise_for_status()
        emit("ready")

        async def unregister_when_asked() -> None:
            await stop_requested()
            await http.delete(f"{url}/sc", headers=kb_header)

        stopper = asyncio.create_task(unregister_when_asked())
        while True:
            poll = await http.get(f"{url}/sc/handle", headers=kb_header)
            if poll.status_code == 202:
                continue
            if poll.status_code in (404, 410):
                await stopper
                return handled
            poll.raise_for_status()
            request = poll.json()
            started = time.monotonic() if args.stamp else None
            if args.delay:
                await asyncio.sleep(args.delay)
            response = await http.post(
                f"{url}/sc/handle",
                headers={
                    **kb_header,
                    "Knowledge-Interaction-Id": request["knowledgeInteractionId"],
                },
                json={"handleRequestId": request["handleRequestId"], "bindingSet": answer(started)},
            )
            response.raise_for_status()
            handled += 1


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the arguments, serve until the KB is unregistered, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("kb_id")
    parser.add_argument("--kind", choices=("sdk", "raw"), default="sdk")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--sync", action="store_true")
    parser.add_argument("--max-concurrent-handlers", type=int, default=10)
    parser.add_argument("--stamp", action="store_true")
    args = parser.parse_args(argv)
    serve = serve_sdk if args.kind == "sdk" else serve_raw
    handled = asyncio.run(serve(args))
    emit("done", handled=handled)


if __name__ == "__main__":
    main()
