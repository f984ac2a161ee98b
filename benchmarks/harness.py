"""The SDK's benchmark harness: concurrency, overhead, latency, fan-out and memory.

    python benchmarks/harness.py [--quick] [--repeat N] [--out DIR]

Runs every scenario ``--repeat`` times (default 3), prints a markdown table of the medians,
spreads (min-max), targets and whether each was met, and writes ``results.json``,
``results.md`` and ``throughput.png`` into ``--out`` (default ``benchmarks/results/``).
``--quick`` shrinks every scenario to a tiny size, for the smoke test.

Scenarios:

1. Concurrency efficiency: async handlers awaiting 50 ms, through the TestClient and through
   the local engine served over loopback HTTP, at max_concurrent_handlers 1, 10 and 50.
2. Sync handlers (``time.sleep``) through the TestClient, and the event loop's worst lag.
3. Overhead per request: an instant handler through the TestClient against a bare asyncio
   baseline (queue get, create_task, list append).
4. Wake-up latency: from ``ask`` on the local engine (in process) to the handler starting.
5. Outgoing fan-out: concurrent asks against sequential ones, through the local engine.
6. Legacy SDK comparison: not implemented.
7. Memory: RSS growth over many handled requests through the TestClient.

Asks through the engine are gathered with at most 50 in flight: the engine, like the KE,
cancels the oldest queued handle request beyond 50 per knowledge base.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from km_core import BindingSet, ExchangeStatus, KnowledgeBase
from km_testing import LocalEngineClient, LocalKnowledgeEngine, TestClient, serve_locally

EX = {"ex": "http://example.org/"}
PATTERN = "?tree ex:height ?height ."
BOUNDS = (1, 10, 50)
# The local engine, like the KE, keeps at most 50 handle requests queued per KB and cancels the
# oldest beyond that; so over HTTP the asker keeps at most this many asks in flight.
IN_FLIGHT_ASKS = 50
DEFAULT_OUT = Path(__file__).resolve().parent / "results"


@dataclass
class Sizes:
    requests: int = 200  # scenarios 1 and 2
    delay: float = 0.05
    overhead_requests: int = 20_000
    latency_samples: int = 500
    fanout: int = 100
    fanout_delay: float = 0.02
    memory_requests: int = 100_000
    memory_warmup: int = 10_000
    repeat: int = 3


QUICK = Sizes(
    requests=10,
    overhead_requests=200,
    latency_samples=20,
    fanout=10,
    memory_requests=500,
    memory_warmup=100,
    repeat=1,
)


@dataclass
class Row:
    scenario: str
    figure: str
    target: str
    met: bool | None  # None: no target


@dataclass
class Report:
    machine: dict[str, Any]
    sizes: dict[str, Any]
    scenarios: dict[str, Any] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)


def spread(values: Sequence[float]) -> dict[str, Any]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def fmt(stats: dict[str, Any], scale: float = 1.0, unit: str = "", digits: int = 3) -> str:
    m, lo, hi = (stats[k] * scale for k in ("median", "min", "max"))
    return f"{m:.{digits}f}{unit} ({lo:.{digits}f}-{hi:.{digits}f})"


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
    }


# ---------------------------------------------------------------- helpers


def answering_kb(
    client: Any, handler: Callable[..., Any], kb_id: str = "http://example.org/kb/trees"
) -> KnowledgeBase:
    kb = KnowledgeBase(id=kb_id, name="trees", description="benchmark answerer", client=client)
    kb.answer_ki("heights", PATTERN, prefixes=EX)(handler)
    return kb


def asking_kb(client: Any) -> KnowledgeBase:
    kb = KnowledgeBase(
        id="http://example.org/kb/asker", name="asker", description="benchmark asker", client=client
    )
    kb.ask_ki("heights", "?t ex:height ?h .", prefixes=EX)
    return kb


async def start(*kbs: KnowledgeBase) -> None:
    for kb in kbs:
        await kb.connect()
        await kb.register()


async def finish(*kbs: KnowledgeBase) -> None:
    for kb in kbs:
        with contextlib.suppress(Exception):
            await kb.unregister()
        await kb.close()


async def stop(loop: asyncio.Task[None]) -> None:
    loop.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await loop


async def test_client_burst(handler: Callable[..., Any], requests: int, bound: int) -> float:
    """Enqueue ``requests`` then EXIT; time the handling loop through a TestClient."""
    client = TestClient()
    kb = answering_kb(client, handler)
    await start(kb)
    for _ in range(requests):
        client.enqueue_handle_request("heights", [])
    client.enqueue_exit()
    started = time.perf_counter()
    await kb.start_handling_loop(max_concurrent_handlers=bound)
    elapsed = time.perf_counter() - started
    assert len(client.handle_responses) == requests
    await kb.close()
    return elapsed


async def gather_asks(asker: KnowledgeBase, count: int, limit: int | None = None) -> None:
    """Fire ``count`` asks with asyncio.gather (at most ``limit`` in flight); all must succeed."""
    gate = asyncio.Semaphore(limit or count)

    async def one() -> None:
        async with gate:
            info = await asker.ask_with_info("heights")
        failed = [e for e in info.exchange_info if e.status != ExchangeStatus.SUCCEEDED]
        if failed or not info.exchange_info:
            raise RuntimeError(f"an ask failed: {failed or 'no exchange'}")

    await asyncio.gather(*(one() for _ in range(count)))


async def http_burst(
    url: str, handler: Callable[..., Any], asker: KnowledgeBase, requests: int, bound: int, tag: str
) -> float:
    """A fresh answering KB per burst; unregistering it ends its loop with an EXIT."""
    from km_httpx import HttpxClient

    answerer = answering_kb(HttpxClient(url), handler, f"http://example.org/kb/trees-{tag}")
    await start(answerer)
    loop = asyncio.create_task(answerer.start_handling_loop(max_concurrent_handlers=bound))
    try:
        started = time.perf_counter()
        await gather_asks(asker, requests, IN_FLIGHT_ASKS)
        elapsed = time.perf_counter() - started
    finally:
        await answerer.unregister()
        await asyncio.wait_for(loop, 30)
        await answerer.close()
    return elapsed


class LagTicker:
    """Measures the event loop's worst lag: how late a 1 ms sleep wakes up."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            self.worst = max(self.worst, time.perf_counter() - before - 0.001)

    def __enter__(self) -> LagTicker:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


# ---------------------------------------------------------------- HTTP serving (uvicorn)


# ---------------------------------------------------------------- scenarios


async def scenario_concurrency(sizes: Sizes, report: Report) -> None:
    delay = sizes.delay

    async def handler(binding_set: BindingSet) -> BindingSet:
        await asyncio.sleep(delay)
        return []

    results: dict[str, Any] = {"in_process": {}, "http": {}}
    for bound in BOUNDS:
        times = [
            await test_client_burst(handler, sizes.requests, bound) for _ in range(sizes.repeat)
        ]
        results["in_process"][str(bound)] = spread(times)

    from km_httpx import HttpxClient

    engine = LocalKnowledgeEngine(kb_wait_timeout=3600)
    async with serve_locally(engine) as url:
        asker = asking_kb(HttpxClient(url))
        await start(asker)
        try:
            for bound in BOUNDS:
                times = [
                    await http_burst(url, handler, asker, sizes.requests, bound, f"{bound}-{i}")
                    for i in range(sizes.repeat)
                ]
                results["http"][str(bound)] = spread(times)
        finally:
            await finish(asker)

    for transport, tolerance, label in (
        ("in_process", 0.10, "TestClient"),
        ("http", 0.20, "HTTP loopback"),
    ):
        for bound in BOUNDS:
            stats = results[transport][str(bound)]
            ideal = math.ceil(sizes.requests / bound) * delay
            ratio = stats["median"] / ideal
            stats.update(
                ideal=ideal,
                ratio=ratio,
                requests_per_s=sizes.requests / stats["median"],
            )
            report.rows.append(
                Row(
                    f"1. async, {label}, N={bound}",
                    f"{fmt(stats, unit=' s')}; ideal {ideal:.3f} s; ratio {ratio:.3f}",
                    f"ratio <= {1 + tolerance:.2f}",
                    ratio <= 1 + tolerance,
                )
            )
    report.scenarios["1_concurrency"] = {
        "requests": sizes.requests,
        "delay_s": delay,
        "http_in_flight_asks": IN_FLIGHT_ASKS,
        **results,
    }


async def scenario_sync(sizes: Sizes, report: Report) -> None:
    delay = sizes.delay

    def handler(binding_set: BindingSet) -> BindingSet:
        time.sleep(delay)
        return []

    results: dict[str, Any] = {}
    for bound in BOUNDS:
        times, lags = [], []
        for _ in range(sizes.repeat):
            with LagTicker() as ticker:
                times.append(await test_client_burst(handler, sizes.requests, bound))
            lags.append(ticker.worst)
        stats = spread(times)
        ideal = math.ceil(sizes.requests / bound) * delay
        stats.update(ideal=ideal, ratio=stats["median"] / ideal, loop_lag=spread(lags))
        results[str(bound)] = stats
        report.rows.append(
            Row(
                f"2. sync, TestClient, N={bound}",
                f"{fmt(stats, unit=' s')}; ideal {ideal:.3f} s; ratio {stats['ratio']:.3f}",
                "ratio <= 1.10",
                stats["ratio"] <= 1.10,
            )
        )
        lag = stats["loop_lag"]
        report.rows.append(
            Row(
                f"2. loop lag, sync N={bound}",
                f"worst {fmt(lag, 1000, ' ms', 2)}",
                "< 5 ms",
                lag["median"] < 0.005,
            )
        )
    report.scenarios["2_sync_handlers"] = {"requests": sizes.requests, "delay_s": delay, **results}


async def baseline_run(requests: int) -> float:
    """No SDK: a queue get, a create_task and a list append per request."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)
    done: list[int] = []
    tasks: set[asyncio.Task[None]] = set()

    async def handle(item: int) -> None:
        done.append(item)

    started = time.perf_counter()
    for _ in range(requests):
        item = await queue.get()
        task = asyncio.create_task(handle(item))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    while tasks:
        await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    assert len(done) == requests
    return elapsed


async def scenario_overhead(sizes: Sizes, report: Report) -> None:
    def handler(binding_set: BindingSet) -> BindingSet:
        return []

    async def instant(binding_set: BindingSet) -> BindingSet:
        return []

    n = sizes.overhead_requests
    sdk = [await test_client_burst(instant, n, 10) for _ in range(sizes.repeat)]
    base = [await baseline_run(n) for _ in range(sizes.repeat)]
    sdk_rps = spread([n / t for t in sdk])
    base_rps = spread([n / t for t in base])
    ratio = base_rps["median"] / sdk_rps["median"]
    report.scenarios["3_overhead"] = {
        "requests": n,
        "max_concurrent_handlers": 10,
        "sdk_requests_per_s": sdk_rps,
        "baseline_requests_per_s": base_rps,
        "baseline_over_sdk": ratio,
        "http": "not implemented",
    }
    report.rows.append(
        Row(
            "3. overhead, TestClient (async, instant)",
            f"{fmt(sdk_rps, digits=0)} req/s; baseline {base_rps['median']:.0f} req/s "
            f"({ratio:.1f}x faster)",
            ">= 20,000 req/s",
            sdk_rps["median"] >= 20_000,
        )
    )


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def scenario_latency(sizes: Sizes, report: Report) -> None:
    started_at: list[float] = []

    async def handler(binding_set: BindingSet) -> BindingSet:
        started_at.append(time.perf_counter())
        return []

    engine = LocalKnowledgeEngine(kb_wait_timeout=3600)
    answerer = answering_kb(LocalEngineClient(engine), handler)
    asker = asking_kb(LocalEngineClient(engine))
    await start(answerer, asker)
    p50s, p95s = [], []
    loop = asyncio.create_task(answerer.start_handling_loop(max_concurrent_handlers=10))
    try:
        await asker.ask("heights")  # warm-up
        for _ in range(sizes.repeat):
            samples = []
            for _ in range(sizes.latency_samples):
                started_at.clear()
                before = time.perf_counter()
                await asker.ask("heights")
                samples.append(started_at[0] - before)
            p50s.append(percentile(samples, 0.50))
            p95s.append(percentile(samples, 0.95))
    finally:
        await stop(loop)
        await finish(asker, answerer)
    p50, p95 = spread(p50s), spread(p95s)
    report.scenarios["4_wakeup_latency"] = {
        "samples": sizes.latency_samples,
        "p50_s": p50,
        "p95_s": p95,
        "http": "not implemented",
    }
    report.rows.append(
        Row(
            "4. wake-up latency, local engine",
            f"p50 {fmt(p50, 1000, ' ms')}; p95 {fmt(p95, 1000, ' ms')}",
            "p50 < 1 ms",
            p50["median"] < 0.001,
        )
    )


async def scenario_fanout(sizes: Sizes, report: Report) -> None:
    delay = sizes.fanout_delay

    async def handler(binding_set: BindingSet) -> BindingSet:
        await asyncio.sleep(delay)
        return []

    engine = LocalKnowledgeEngine(kb_wait_timeout=3600)
    answerer = answering_kb(LocalEngineClient(engine), handler)
    asker = asking_kb(LocalEngineClient(engine))
    await start(answerer, asker)
    n = sizes.fanout
    loop = asyncio.create_task(answerer.start_handling_loop(max_concurrent_handlers=n))
    concurrent, sequential = [], []
    try:
        for _ in range(sizes.repeat):
            started = time.perf_counter()
            await gather_asks(asker, n, IN_FLIGHT_ASKS)
            concurrent.append(time.perf_counter() - started)
            started = time.perf_counter()
            for _ in range(n):
                await asker.ask("heights")
            sequential.append(time.perf_counter() - started)
    finally:
        await stop(loop)
        await finish(asker, answerer)
    conc, seq = spread(concurrent), spread(sequential)
    speedup = seq["median"] / conc["median"]
    report.scenarios["5_fanout"] = {
        "asks": n,
        "delay_s": delay,
        "concurrent_s": conc,
        "sequential_s": seq,
        "speedup": speedup,
        "in_flight_asks": IN_FLIGHT_ASKS,
        "ideal_concurrent_s": math.ceil(n / IN_FLIGHT_ASKS) * delay,
        "http": "not implemented",
    }
    report.rows.append(
        Row(
            f"5. fan-out, {n} asks, local engine",
            f"gathered (<= {IN_FLIGHT_ASKS} in flight) {fmt(conc, unit=' s')} vs "
            f"sequential {fmt(seq, unit=' s')} ({speedup:.1f}x)",
            "(no target)",
            None,
        )
    )


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


async def scenario_memory(sizes: Sizes, report: Report) -> None:
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


SCENARIOS: list[Callable[[Sizes, Report], Awaitable[None]]] = [
    scenario_concurrency,
    scenario_sync,
    scenario_overhead,
    scenario_latency,
    scenario_fanout,
    scenario_memory,
]


# ---------------------------------------------------------------- output


def table(report: Report) -> str:
    m = report.machine
    lines = [
        f"Machine: {m['platform']}, {m['cpu_count']} CPUs, {m['implementation']} {m['python']}",
        "",
        "| Scenario | Figure: median (min-max) | Target | Result |",
        "| --- | --- | --- | --- |",
    ]
    for row in report.rows:
        verdict = "-" if row.met is None else ("met" if row.met else "**missed**")
        lines.append(f"| {row.scenario} | {row.figure} | {row.target} | {verdict} |")
    return "\n".join(lines) + "\n"


def chart(report: Report, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = report.scenarios["1_concurrency"]
    figure, axes = plt.subplots(figsize=(6.4, 4.2))
    ideal = [bound / data["delay_s"] for bound in BOUNDS]
    axes.plot(BOUNDS, ideal, "k--", label="ideal (N / 50 ms)")
    for transport, label in (("in_process", "TestClient (in process)"), ("http", "HTTP loopback")):
        rps = [data[transport][str(bound)]["requests_per_s"] for bound in BOUNDS]
        axes.plot(BOUNDS, rps, "o-", label=label)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xticks(BOUNDS, [str(b) for b in BOUNDS])
    axes.set_xlabel("max_concurrent_handlers")
    axes.set_ylabel("requests/s")
    axes.set_title(f"{data['requests']} requests, async handler awaiting 50 ms")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


async def run(sizes: Sizes) -> Report:
    report = Report(machine=machine(), sizes=dict(sizes.__dict__))
    for scenario in SCENARIOS:
        await scenario(sizes, report)
    report.scenarios["6_legacy_sdk"] = "not implemented"
    report.rows.append(Row("6. legacy SDK comparison", "not implemented", "-", None))
    return report


def main(argv: Sequence[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the smoke test")
    parser.add_argument("--repeat", type=int, help="runs per scenario (default 3; quick: 1)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where results go")
    args = parser.parse_args(argv)
    sizes = Sizes(**QUICK.__dict__) if args.quick else Sizes()
    if args.repeat:
        sizes.repeat = args.repeat
    started = time.perf_counter()
    report = asyncio.run(run(sizes))
    text = table(report)
    print(text)
    print(f"Total time: {time.perf_counter() - started:.1f} s")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.md").write_text(text)
    (args.out / "results.json").write_text(
        json.dumps(
            {
                "machine": report.machine,
                "sizes": report.sizes,
                "scenarios": report.scenarios,
                "table": [row.__dict__ for row in report.rows],
            },
            indent=2,
        )
    )
    chart(report, args.out / "throughput.png")
    return report


if __name__ == "__main__":
    main()
