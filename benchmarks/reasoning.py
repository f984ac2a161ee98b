"""Scenario 8: the local engine's reasoner, at size and on patterns that used to stall it.

8a. A network of 100 KBs with 3 ANSWER interactions each (3 to 5 triples over a shared
    vocabulary); a two-triple ASK at level 2 that two KBs answer in part (a join) and one in
    full. Time per ask, in process, the answerers polling the engine directly; target: p50
    under 5 ms. The first ask (which plans) is reported apart.
8b. Pathological patterns, over loopback HTTP against a ``km-testing serve`` process: an ASK
    and an ANSWER of nine triples sharing one predicate (factorially many matches), and a
    two-triple ASK in a network where one ANSWER repeats a triple 2,000 times. Target: the ask
    answers or fails within 100 ms, and ``GET /version``, requested every 5 ms meanwhile,
    answers within 20 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from common import Report, Row, Sizes, fmt, percentile, spread

from km_core import (
    KnowledgeBaseInfo,
    KnowledgeInteractionRegistration,
    KnowledgeInteractionType,
    PollResult,
)
from km_httpx import HttpxClient
from km_testing import LocalKnowledgeEngine

EX = "http://example.org/"
ASK = KnowledgeInteractionType.ASK
ANSWER = KnowledgeInteractionType.ANSWER


def kb(kb_id: str, level: int = 2) -> KnowledgeBaseInfo:
    return KnowledgeBaseInfo(
        knowledge_base_id=kb_id,
        knowledge_base_name=kb_id,
        knowledge_base_description="bench",
        reasoner_level=level,
    )


def ki(kind: KnowledgeInteractionType, name: str, pattern: str) -> KnowledgeInteractionRegistration:
    return KnowledgeInteractionRegistration(
        knowledge_interaction_type=kind, knowledge_interaction_name=name, graph_pattern=pattern
    )


def network_pattern(kb_index: int, ki_index: int) -> str:
    """KB ``kb_index``'s KI ``ki_index``: 3 to 5 triples about one subject, over 600 predicates."""
    size = 3 + (kb_index + ki_index) % 3
    first = (kb_index * 3 + ki_index) * 2
    triples = [f"?s <{EX}type{(kb_index + ki_index) % 10}> ?t ."]
    triples += [f"?s <{EX}p{(first + k) % 600}> ?o{k} ." for k in range(size - 1)]
    return " ".join(triples)


async def answer_forever(engine: LocalKnowledgeEngine, kb_id: str) -> None:
    """Answer every request of one KB with one binding per variable of its pattern."""
    while True:
        result, request = await engine.poll(kb_id)
        if result is PollResult.EXIT:
            return
        if request is None:
            continue
        [info] = [
            i
            for i in engine.list_kis(kb_id)
            if i.knowledge_interaction_id == request.knowledge_interaction_id
        ]
        assert info.graph_pattern is not None
        names = sorted(set(re.findall(r"\?(\w+)", info.graph_pattern)))
        wanted = request.binding_set[0] if request.binding_set else {}
        answer = {n: wanted.get(n, f"<{EX}{kb_id[-6:]}/{n}>") for n in names}
        answer["s"] = wanted.get("s", f"<{EX}subject>")
        engine.answer(kb_id, request.knowledge_interaction_id, request.handle_request_id, [answer])


async def network_asks(sizes: Sizes) -> dict[str, Any]:
    engine = LocalKnowledgeEngine(kb_wait_timeout=30)
    answerers: list[asyncio.Task[None]] = []
    ids = [f"{EX}kb/bench-{i:03d}" for i in range(100)]
    for index, kb_id in enumerate(ids):
        await engine.register_kb(kb(kb_id))
        for j in range(3):
            engine.register_ki(kb_id, ki(ANSWER, f"k{j}", network_pattern(index, j)))
        answerers.append(asyncio.create_task(answer_forever(engine, kb_id)))
    asker = f"{EX}kb/bench-asker"
    await engine.register_kb(kb(asker))
    # p2 is given by KB 0's KIs 0 and 1, p7 by KB 1's KI 0: a join across KBs, and no KI
    # gives both.
    ask_id = engine.register_ki(asker, ki(ASK, "ask", f"?x <{EX}p2> ?a . ?x <{EX}p7> ?b ."))
    try:
        began = time.perf_counter()
        first = await engine.ask(asker, ask_id, [])
        planning = time.perf_counter() - began
        assert first.binding_set, "the network ask found nothing"
        samples = []
        for _ in range(sizes.reasoning_asks):
            began = time.perf_counter()
            await engine.ask(asker, ask_id, [])
            samples.append(time.perf_counter() - began)
        return {
            "kbs": len(ids),
            "contacted": len(first.exchange_info),
            "first_s": planning,
            "p50_s": percentile(samples, 0.5),
            "p95_s": percentile(samples, 0.95),
        }
    finally:
        for kb_id in [*ids, asker]:
            await engine.delete_kb(kb_id)
        await asyncio.gather(*answerers)


@contextlib.asynccontextmanager
async def served() -> AsyncIterator[str]:
    """A ``km-testing serve`` process on a free loopback port; its base URL."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "km_testing._cli",
        "serve",
        "--port",
        "0",
        "--log-level",
        "warning",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    try:
        url = None
        while url is None:
            line = await asyncio.wait_for(process.stdout.readline(), 30)
            if not line:
                raise RuntimeError("km-testing serve exited before printing its URL")
            found = re.search(rb"(http://\S+/rest)", line)
            url = found.group(1).decode() if found else None
        yield url
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)


async def version_while(client: HttpxClient, work: asyncio.Task[Any]) -> list[float]:
    """``GET /version`` latencies, one request every 5 ms, until ``work`` is done."""
    latencies = []
    while not work.done():
        began = time.perf_counter()
        await client.get_version()
        latencies.append(time.perf_counter() - began)
        await asyncio.wait({work}, timeout=0.005)
    return latencies


async def pathological(url: str, answered: str, asked: str, tag: str) -> dict[str, Any]:
    """One ask against one answering KB, timed, with ``/version`` probed meanwhile."""
    answerer, asker = f"{EX}kb/{tag}-answerer", f"{EX}kb/{tag}-asker"
    async with HttpxClient(url) as client, HttpxClient(url) as prober:
        await prober.get_version()  # its connection is open before the ask is timed
        await client.register_kb(kb(answerer))
        answer_id = await client.register_ki(answerer, ki(ANSWER, "answer", answered))
        await client.register_kb(kb(asker))
        ask_id = await client.register_ki(asker, ki(ASK, "ask", asked))

        async def serve_answers() -> None:
            while True:
                result, request = await client.poll_ki_call(answerer)
                if result is PollResult.EXIT:
                    return
                if request is not None:
                    from km_core import HandleResponse

                    await client.post_handle_response(
                        answerer,
                        answer_id,
                        HandleResponse(handle_request_id=request.handle_request_id, binding_set=[]),
                    )

        answering = asyncio.create_task(serve_answers())
        try:
            began = time.perf_counter()
            asking = asyncio.create_task(client.ask(asker, ask_id, []))
            versions = await version_while(prober, asking)
            result = await asking
            took = time.perf_counter() - began
        finally:
            await client.unregister_kb(asker)
            await client.unregister_kb(answerer)
            await asyncio.wait_for(answering, 30)
    failed = [i.failed_message for i in result.exchange_info if i.failed_message]
    return {
        "ask_s": took,
        "version_max_s": max(versions) if versions else 0.0,
        "version_samples": len(versions),
        "failed": bool(failed),
    }


async def scenario_reasoning(sizes: Sizes, report: Report, http: Any) -> None:
    """Scenario 8 (see the module docstring)."""
    if getattr(http, "external", False):
        return
    runs = [await network_asks(sizes) for _ in range(sizes.repeat)]
    p50 = spread([run["p50_s"] for run in runs])
    first = spread([run["first_s"] for run in runs])
    report.rows.append(
        Row(
            "8a. reasoner: level-2 ask among 100 KBs x 3 KIs (a join), in process",
            f"p50 {fmt(p50, 1000, ' ms')}; first ask (plans) {fmt(first, 1000, ' ms')}; "
            f"{runs[0]['contacted']} KIs contacted",
            "p50 < 5 ms",
            p50["median"] < 0.005,
        )
    )
    alike = " ".join(f"?s <{EX}p> ?o{i} ." for i in range(9))
    repeated = f"?a <{EX}p> ?b . " * sizes.repeated_triple
    cases = {
        "nine alike triples": (alike, alike),
        f"a triple repeated {sizes.repeated_triple:,} times": (
            repeated,
            f"?x <{EX}p> ?y . ?y <{EX}p> ?z .",
        ),
    }
    results: dict[str, Any] = {"8a": runs}
    async with served() as url:
        for label, (answered, asked) in cases.items():
            found = [
                await pathological(url, answered, asked, f"bench-{i}-{abs(hash(label)) % 999}")
                for i in range(sizes.repeat)
            ]
            results[label] = found
            took = spread([f["ask_s"] for f in found])
            version = spread([f["version_max_s"] for f in found])
            outcome = "fails (match budget)" if found[0]["failed"] else "answers"
            report.rows.append(
                Row(
                    f"8b. reasoner: {label}, over HTTP",
                    f"ask {outcome} in {fmt(took, 1000, ' ms')}; "
                    f"slowest /version meanwhile {fmt(version, 1000, ' ms')}",
                    "ask < 100 ms; /version < 20 ms",
                    took["median"] < 0.1 and version["median"] < 0.02,
                )
            )
    report.scenarios["8_reasoning"] = results
