"""Scenarios 0 and 4 to 7: the machine, wake-up latency, fan-out, the legacy SDK, memory.

Each takes the sizes, the report to add to, and the `Http` server. Against an external KE
(``http.external``) only the HTTP parts run.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from pathlib import Path
from typing import Any

from answering import Http, answerer_process, http_bursts
from common import (
    DOUBLE,
    IN_FLIGHT_ASKS,
    STAMP_TREE,
    WARMUP_ASKS,
    Report,
    Row,
    Sizes,
    answering_kb,
    asker_in_process,
    asking_kb,
    finish,
    fmt,
    gather_asks,
    percentile,
    spread,
    start,
    timed_asks,
)
from legacy import LEGACY_PACKAGE, LegacyUnavailable, ensure_legacy_python, legacy_answerer

from km_core import BindingSet, KnowledgeBase
from km_testing import TestClient


async def scenario_round_trip(sizes: Sizes, report: Report, http: Http) -> None:
    """Scenario 0, the machine: one HTTP round trip, back to back and after 50 ms idle."""
    from km_httpx import HttpxClient

    samples: dict[str, list[float]] = {"back_to_back": [], "after_idle": []}
    async with HttpxClient(http.url) as client:
        await client.get_version()
        for _ in range(sizes.round_trips):
            for kind in samples:
                if kind == "after_idle":
                    await asyncio.sleep(sizes.delay)  # idle, as between two 50 ms handlers
                started = time.perf_counter()
                await client.get_version()
                samples[kind].append(time.perf_counter() - started)
    hot, cold = (percentile(samples[kind], 0.5) for kind in ("back_to_back", "after_idle"))
    report.scenarios["0_round_trip"] = {
        "requests": sizes.round_trips,
        "back_to_back_p50_s": hot,
        "after_idle_p50_s": cold,
        "idle_s": sizes.delay,
    }
    where = http.label if http.external else "over loopback HTTP (HttpxClient, server in process)"
    report.rows.append(
        Row(
            f"0. machine: GET /version, {where}",
            f"p50 {hot * 1000:.2f} ms back to back; {cold * 1000:.2f} ms after "
            f"{sizes.delay * 1000:g} ms idle",
            "(context)",
            None,
        )
    )


async def latency_samples(asker: KnowledgeBase, count: int) -> list[float]:
    """Sequential asks; each answer's ``?h`` is the handler's ``time.monotonic()`` at start."""
    samples = []
    for _ in range(count):
        before = time.monotonic()
        answer = await asker.ask("heights")
        if len(answer) != 1:
            raise RuntimeError(f"expected one stamped binding, got {answer!r}")
        started = float(answer[0]["h"].split('"')[1])
        samples.append(started - before)
    return samples


async def scenario_latency(sizes: Sizes, report: Report, http: Http) -> None:
    """Scenario 4: from an ask entering the engine to the handler starting.

    Over HTTP the raw httpx loop, stamping the same way, is the baseline: the latency that the
    server and the machine allow without the SDK.
    """

    async def handler(binding_set: BindingSet) -> BindingSet:
        return [{"tree": STAMP_TREE, "height": f'"{time.monotonic()!r}"^^<{DOUBLE}>'}]

    runs: dict[str, list[list[float]]] = {"http": []}
    if not http.external:
        runs["in_process"] = []
        async with asker_in_process(handler, 10) as asker:
            await latency_samples(asker, WARMUP_ASKS)
            for _ in range(sizes.repeat):
                runs["in_process"].append(await latency_samples(asker, sizes.latency_samples))
    # Over HTTP, the SDK's answerer and, as the baseline, the raw httpx loop take turns.
    runs["http_raw_httpx"] = []
    conflicts = {"http": 0, "http_raw_httpx": 0}
    for i in range(sizes.repeat):
        for transport, options in (("http", ()), ("http_raw_httpx", ("--kind", "raw-overlap"))):
            kb_id = http.kb(f"stamp-{transport}-{i + 1}")
            async with answerer_process(http, kb_id, "--stamp", *options) as answerer:
                await latency_samples(http.asker, WARMUP_ASKS)
                runs[transport].append(await latency_samples(http.asker, sizes.latency_samples))
            conflicts[transport] += answerer.done.get("conflicts", 0)

    results: dict[str, Any] = {"samples": sizes.latency_samples}
    for transport, limit, label in (
        ("in_process", 0.001, "local engine in process"),
        ("http", 0.005, http.label),
        ("http_raw_httpx", None, f"{http.label}, no SDK: raw httpx loop"),
    ):
        if transport not in runs:
            continue
        p50 = spread([percentile(run, 0.50) for run in runs[transport]])
        p95 = spread([percentile(run, 0.95) for run in runs[transport]])
        results[transport] = {"p50_s": p50, "p95_s": p95}
        note = ""
        if transport in conflicts:
            results[transport]["poll_conflicts"] = conflicts[transport]
            note = f"; polls refused with 409: {conflicts[transport]}"
        report.rows.append(
            Row(
                f"4. wake-up latency, {label}",
                f"p50 {fmt(p50, 1000, ' ms')}; p95 {fmt(p95, 1000, ' ms')}{note}",
                "(baseline)" if limit is None else f"p50 < {limit * 1000:.0f} ms",
                None if limit is None else p50["median"] < limit,
            )
        )
    report.scenarios["4_wakeup_latency"] = results


async def fanout_times(asker: KnowledgeBase, n: int, repeat: int) -> tuple[Any, Any]:
    """Gathered and sequential wall times of ``n`` asks."""
    await gather_asks(asker, WARMUP_ASKS, IN_FLIGHT_ASKS)
    concurrent, sequential = [], []
    for _ in range(repeat):
        concurrent.append(await timed_asks(asker, n))
        started = time.perf_counter()
        for _ in range(n):
            await asker.ask("heights")
        sequential.append(time.perf_counter() - started)
    return spread(concurrent), spread(sequential)


async def scenario_fanout(sizes: Sizes, report: Report, http: Http) -> None:
    """Scenario 5: ``fanout`` asks gathered against the same asks one after another."""
    delay = sizes.fanout_delay
    n = sizes.fanout

    async def handler(binding_set: BindingSet) -> BindingSet:
        await asyncio.sleep(delay)
        return []

    async with asker_in_process(handler, n) as asker:
        in_process = await fanout_times(asker, n, sizes.repeat)

    from km_httpx import HttpxClient

    http_asker = asking_kb(HttpxClient(http.url), http.kb("fanout-asker"), http.prefixes)
    await start(http_asker)
    try:
        async with answerer_process(
            http,
            http.kb("fanout"),
            "--delay",
            str(delay),
            "--max-concurrent-handlers",
            str(n),
        ):
            over_http = await fanout_times(http_asker, n, sizes.repeat)
    finally:
        await finish(http_asker)

    results: dict[str, Any] = {
        "asks": n,
        "delay_s": delay,
        "in_flight_asks": IN_FLIGHT_ASKS,
        "ideal_concurrent_s": math.ceil(n / IN_FLIGHT_ASKS) * delay,
    }
    for transport, (conc, seq), label in (
        ("in_process", in_process, "local engine in process"),
        ("http", over_http, http.label),
    ):
        speedup = seq["median"] / conc["median"]
        results[transport] = {"concurrent_s": conc, "sequential_s": seq, "speedup": speedup}
        report.rows.append(
            Row(
                f"5. fan-out, {n} asks, {label}",
                f"gathered (<= {IN_FLIGHT_ASKS} in flight) {fmt(conc, unit=' s')} vs "
                f"sequential {fmt(seq, unit=' s')} ({speedup:.1f}x)",
                "(no target)",
                None,
            )
        )
    report.scenarios["5_fanout"] = results


async def legacy_bursts(
    python: Path,
    http: Http,
    name: str,
    delay: float,
    requests: int,
    repeat: int,
    problems: list[str],
) -> list[float]:
    """Wall times of ``repeat`` bursts of ``requests`` asks at a legacy KB, after a warm-up.

    A legacy KB that does not end cleanly once its bursts are done does not void them: it is
    killed, and ``problems`` records why. (Against KE 1.5.0 its open poll is now and then not
    ended when the KB unregisters, and its handle loop waits for the KE's 29 s heartbeat.)
    """
    times: list[float] = []
    try:
        async with legacy_answerer(python, http.url, http.kb(name), delay, prefixes=http.prefixes):
            await timed_asks(http.asker, WARMUP_ASKS // 4 if delay else WARMUP_ASKS)
            for _ in range(repeat):
                times.append(await timed_asks(http.asker, requests))
    except RuntimeError as exc:
        if len(times) < repeat:
            raise
        problems.append(f"{name}: {str(exc).splitlines()[0]}")
    return times


async def scenario_legacy(sizes: Sizes, report: Report, http: Http) -> None:
    """knowledge-mapper 0.0.24, in its own virtualenv, against scenarios 1 (N=10) and 3."""
    try:
        python = await asyncio.to_thread(ensure_legacy_python, sizes.legacy_cache)
    except LegacyUnavailable as exc:
        report.scenarios["6_legacy_sdk"] = {"skipped": str(exc)}
        report.rows.append(Row("6. legacy SDK", f"not run: {exc}".splitlines()[0], "-", None))
        return
    delay, n, m = sizes.delay, sizes.legacy_requests, sizes.overhead_http_requests

    problems: list[str] = []
    legacy_slow = spread(
        await legacy_bursts(python, http, "legacy-slow", delay, n, sizes.repeat, problems)
    )
    sdk_slow = spread(
        await http_bursts(
            http,
            http.kb("sdk-slow"),
            n,
            sizes.repeat,
            *("--delay", str(delay), "--max-concurrent-handlers", "10"),
        )
    )
    instant = await legacy_bursts(python, http, "legacy-instant", 0, m, sizes.repeat, problems)
    legacy_rps = spread([m / seconds for seconds in instant])
    sdk_rps = report.scenarios["3_overhead"]["http"]["sdk_requests_per_s"]
    speedup = legacy_slow["median"] / sdk_slow["median"]
    rate_ratio = sdk_rps["median"] / legacy_rps["median"]
    report.scenarios["6_legacy_sdk"] = {
        "package": LEGACY_PACKAGE,
        "scenario_1": {
            "requests": n,
            "delay_s": delay,
            "max_concurrent_handlers": 10,
            "legacy_s": legacy_slow,
            "sdk_s": sdk_slow,
            "speedup": speedup,
        },
        "scenario_3": {
            "requests": m,
            "legacy_requests_per_s": legacy_rps,
            "sdk_requests_per_s": sdk_rps,
            "ratio": rate_ratio,
        },
        "stop_problems": problems,
    }
    report.rows.append(
        Row(
            f"6. vs {LEGACY_PACKAGE}: scenario 1, {http.label}, N=10, {n} requests",
            f"SDK {fmt(sdk_slow, unit=' s')} vs legacy {fmt(legacy_slow, unit=' s')}: "
            f"{speedup:.1f}x",
            ">= 9x",
            speedup >= 9,
        )
    )
    report.rows.append(
        Row(
            f"6. vs {LEGACY_PACKAGE}: scenario 3, {http.label} (instant)",
            f"SDK {sdk_rps['median']:.0f} req/s vs legacy {fmt(legacy_rps, digits=0)} req/s: "
            f"{rate_ratio:.2f}x",
            ">= 1x (no slower)",
            rate_ratio >= 1,
        )
    )


def rss_bytes() -> int:
    """This process's resident set size."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


async def scenario_memory(sizes: Sizes, report: Report, http: Http) -> None:
    """Scenario 7: RSS growth over ``memory_requests`` handled through the TestClient."""

    async def handler(binding_set: BindingSet) -> BindingSet:
        return []

    client = TestClient()
    kb = answering_kb(client, handler)
    await start(kb)
    batch = max(1, min(10_000, sizes.memory_requests))

    async def handle(count: int) -> None:
        while count > 0:
            now = min(batch, count)
            for _ in range(now):
                client.enqueue_handle_request("heights", [])
            client.enqueue_exit()
            await kb.start_handling_loop(max_concurrent_handlers=10)
            # The TestClient records every response for tests to inspect; drop the record so
            # only the SDK's own memory is measured.
            client.handle_responses.clear()
            count -= now

    import gc

    await handle(sizes.memory_warmup)
    gc.collect()
    before = rss_bytes()
    await handle(sizes.memory_requests)
    gc.collect()
    after = rss_bytes()
    await kb.close()
    growth = (after - before) / 2**20
    report.scenarios["7_memory"] = {
        "requests": sizes.memory_requests,
        "warmup": sizes.memory_warmup,
        "rss_before_bytes": before,
        "rss_after_bytes": after,
        "growth_mib": growth,
    }
    report.rows.append(
        Row(
            f"7. memory, {sizes.memory_requests} requests, TestClient",
            f"RSS {before / 2**20:.1f} -> {after / 2**20:.1f} MiB (+{growth:.2f} MiB)",
            "< 5 MB growth",
            growth < 5,
        )
    )
