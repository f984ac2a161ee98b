"""The SDK's benchmark harness: concurrency, overhead, latency, fan-out, legacy SDK, memory.

    python benchmarks/harness.py [--quick] [--repeat N] [--out DIR] [--legacy-cache DIR]

Runs every scenario ``--repeat`` times (default 3), prints a markdown table of the medians,
spreads (min-max), targets and whether each was met, and writes ``results.json``,
``results.md`` and ``throughput.png`` into ``--out`` (default ``benchmarks/results/``).
``--quick`` shrinks every scenario to a tiny size, for the smoke test.

The HTTP scenarios serve one local engine over loopback HTTP from this process. The answering
knowledge base under test runs in a process of its own (``answerer.py``: the SDK, or the raw
httpx baseline; ``legacy.py``: knowledge-mapper 0.0.24), as it would against a real KE, and the
asks that load it enter the engine in this process, so that their cost is not the answerer's.

Scenarios:

0. The machine: an HTTP round trip back to back and after 50 ms idle (context for 1 and 2).
1. Concurrency efficiency: 200 requests to async handlers awaiting 50 ms, through the
   TestClient and over HTTP, at max_concurrent_handlers 1, 10 and 50, against the ideal; over
   HTTP also the raw httpx loop, one request at a time, as the baseline for N=1.
2. The same with sync handlers (``time.sleep``), and the event loop's worst lag meanwhile.
3. Overhead per request: an instant handler through the TestClient against a bare asyncio
   baseline (queue get, create_task, list append); over HTTP against a raw httpx loop making
   the same two round trips (poll, response) per request.
4. Wake-up latency: from an ask entering the engine to the handler starting, in process and
   over HTTP (the handler answers with its ``time.monotonic()``).
5. Outgoing fan-out: 100 gathered asks against sequential ones, to a handler awaiting 20 ms,
   in process and over HTTP (this process's asker on ``HttpxClient``).
6. The legacy SDK, knowledge-mapper 0.0.24 (installed from PyPI into its own virtualenv under
   ``--legacy-cache``), serving scenario 1 at N=10 and scenario 3 against the same server.
7. Memory: RSS growth over 100,000 handled requests through the TestClient.

Asks are gathered with at most 50 in flight: the engine, like the KE, cancels the oldest
queued handle request beyond 50 per knowledge base.
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
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from legacy import LEGACY_PACKAGE, LegacyUnavailable, ensure_legacy_python, legacy_answerer

from km_core import BindingSet, ExchangeStatus, KnowledgeBase
from km_testing import LocalEngineClient, LocalKnowledgeEngine, TestClient, serve_locally

EX = {"ex": "http://example.org/"}
PATTERN = "?tree ex:height ?height ."
BOUNDS = (1, 10, 50)
# The local engine, like the KE, keeps at most 50 handle requests queued per KB and cancels the
# oldest beyond that; so over HTTP the asker keeps at most this many asks in flight.
IN_FLIGHT_ASKS = 50
WARMUP_ASKS = 20  # before the timed bursts of each answering process
KB_BASE = "http://example.org/kb"
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"  # the legacy SDK's virtualenv
STAMP_TREE = "<http://example.org/tree>"
DOUBLE = "http://www.w3.org/2001/XMLSchema#double"


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
    overhead_http_requests: int = 1000
    round_trips: int = 100
    legacy_requests: int = 200  # scenario 1's, for the legacy SDK
    legacy_cache: Path = DEFAULT_CACHE
    repeat: int = 3


QUICK = Sizes(
    requests=10,
    delay=0.01,
    fanout_delay=0.005,
    overhead_requests=200,
    latency_samples=20,
    fanout=10,
    memory_requests=500,
    memory_warmup=100,
    overhead_http_requests=20,
    round_trips=5,
    legacy_requests=4,
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


@contextlib.asynccontextmanager
async def asker_in_process(handler: Callable[..., Any], bound: int) -> AsyncIterator[KnowledgeBase]:
    """An asker and an answerer (serving ``handler``) on a new local engine, in process."""
    engine = LocalKnowledgeEngine(kb_wait_timeout=3600)
    answerer = answering_kb(LocalEngineClient(engine), handler)
    asker = asking_kb(LocalEngineClient(engine))
    await start(answerer, asker)
    loop = asyncio.create_task(answerer.start_handling_loop(max_concurrent_handlers=bound))
    try:
        yield asker
    finally:
        await stop(loop)
        await finish(asker, answerer)


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

    async def __aenter__(self) -> LagTicker:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task  # its outcome: cancelled, or the error that ended it


async def idle_lag(seconds: float) -> float:
    """The worst lag of a ticker on an otherwise idle event loop: the machine's own noise."""
    ticker = LagTicker()
    async with ticker:
        await asyncio.sleep(seconds)
    return ticker.worst


async def burst_through_test_client(
    handler: Callable[..., Any], requests: int, bound: int, ticker: LagTicker | None = None
) -> float:
    """Enqueue ``requests`` then EXIT; time the handling loop through a TestClient.

    A ``ticker`` watches the event loop while the handling loop runs (not while the KB is
    declared and registered).
    """
    client = TestClient()
    kb = answering_kb(client, handler)
    await start(kb)
    for _ in range(requests):
        client.enqueue_handle_request("heights", [])
    client.enqueue_exit()
    async with ticker or contextlib.nullcontext():
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


# ---------------------------------------------------------------- HTTP: a server, KBs in processes

ANSWERER = Path(__file__).resolve().parent / "answerer.py"
PROCESS_TIMEOUT = 60  # seconds for an answering process to start, or to end once stopped


@dataclass
class Http:
    """The local engine served over loopback HTTP, and an asker that reaches it in process.

    The asks of the HTTP scenarios enter the engine directly (no HTTP for them), so that the
    CPU of this process goes to the engine and its server, and the answering knowledge base
    under test runs in its own process, as it would against a real KE.
    """

    engine: LocalKnowledgeEngine
    url: str
    asker: KnowledgeBase


async def _read_event(process: asyncio.subprocess.Process, event: str, what: str) -> dict[str, Any]:
    assert process.stdout is not None
    async with asyncio.timeout(PROCESS_TIMEOUT):
        while True:
            line = await process.stdout.readline()
            if not line:
                await process.wait()
                raise RuntimeError(f"{what} ended (status {process.returncode}) before {event!r}")
            data: dict[str, Any] = json.loads(line)
            if data.get("event") == event:
                return data


async def _reap(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    await process.wait()


@contextlib.asynccontextmanager
async def answerer_process(http: Http, kb_id: str, *options: str) -> AsyncIterator[dict[str, Any]]:
    """Run ``answerer.py`` against the server until the block ends; then stop it.

    Yields a dict that holds, after the block, the process's ``done`` report.
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ANSWERER),
        http.url,
        kb_id,
        *options,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None
    report: dict[str, Any] = {}
    try:
        await _read_event(process, "ready", f"the answerer {kb_id}")
        yield report
        process.stdin.write(b"stop\n")
        process.stdin.close()
        report.update(await _read_event(process, "done", f"the answerer {kb_id}"))
        async with asyncio.timeout(PROCESS_TIMEOUT):
            await process.wait()
    finally:
        await _reap(process)


async def timed_asks(asker: KnowledgeBase, count: int) -> float:
    """Wall time of ``count`` asks gathered with at most IN_FLIGHT_ASKS in flight."""
    started = time.perf_counter()
    await gather_asks(asker, count, IN_FLIGHT_ASKS)
    return time.perf_counter() - started


async def http_bursts(
    http: Http, kb_id: str, requests: int, repeat: int, *options: str
) -> list[float]:
    """Wall times of ``repeat`` bursts of ``requests`` asks at an ``answerer.py`` process."""
    async with answerer_process(http, kb_id, *options):
        await timed_asks(http.asker, WARMUP_ASKS)
        return [await timed_asks(http.asker, requests) for _ in range(repeat)]


# ---------------------------------------------------------------- scenarios


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
    report.rows.append(
        Row(
            "0. machine: GET /version over loopback HTTP (HttpxClient, server in process)",
            f"p50 {hot * 1000:.2f} ms back to back; {cold * 1000:.2f} ms after "
            f"{sizes.delay * 1000:g} ms idle",
            "(context)",
            None,
        )
    )


async def http_by_bound(http: Http, sizes: Sizes, kind: str, *options: str) -> dict[str, Any]:
    """Scenario 1's bursts over HTTP at every bound, for handlers of ``kind``."""
    results = {}
    for bound in BOUNDS:
        times = await http_bursts(
            http,
            f"{KB_BASE}/{kind}-{bound}",
            sizes.requests,
            sizes.repeat,
            *options,
            *("--delay", str(sizes.delay), "--max-concurrent-handlers", str(bound)),
        )
        results[str(bound)] = spread(times)
    return results


def efficiency_rows(report: Report, results: dict[str, Any], sizes: Sizes, kind: str) -> None:
    """Ideal, ratio and a row per transport and bound, for scenarios 1 and 2."""
    for transport, tolerance, label in (
        ("in_process", 0.10, "TestClient"),
        ("http", 0.20, "HTTP loopback"),
    ):
        for bound in BOUNDS:
            stats = results[transport][str(bound)]
            ideal = math.ceil(sizes.requests / bound) * sizes.delay
            ratio = stats["median"] / ideal
            stats.update(ideal=ideal, ratio=ratio, requests_per_s=sizes.requests / stats["median"])
            report.rows.append(
                Row(
                    f"{kind}, {label}, N={bound}",
                    f"{fmt(stats, unit=' s')}; ideal {ideal:.3f} s; ratio {ratio:.3f}",
                    f"ratio <= {1 + tolerance:.2f}",
                    ratio <= 1 + tolerance,
                )
            )


async def scenario_concurrency(sizes: Sizes, report: Report, http: Http) -> None:
    delay = sizes.delay

    async def handler(binding_set: BindingSet) -> BindingSet:
        await asyncio.sleep(delay)
        return []

    results: dict[str, Any] = {"in_process": {}, "http": {}}
    for bound in BOUNDS:
        times = [
            await burst_through_test_client(handler, sizes.requests, bound)
            for _ in range(sizes.repeat)
        ]
        results["in_process"][str(bound)] = spread(times)

    results["http"] = await http_by_bound(http, sizes, "async")
    # The same requests without the SDK: raw httpx polls and posts, one request at a time.
    raw = spread(
        await http_bursts(
            http,
            f"{KB_BASE}/raw-async",
            sizes.requests,
            sizes.repeat,
            *("--kind", "raw", "--delay", str(delay)),
        )
    )
    raw_ideal = sizes.requests * delay
    raw.update(ideal=raw_ideal, ratio=raw["median"] / raw_ideal)
    results["http_raw_httpx_sequential"] = raw

    efficiency_rows(report, results, sizes, "1. async")
    report.rows.append(
        Row(
            "1. async, HTTP loopback, no SDK: raw httpx, one at a time",
            f"{fmt(raw, unit=' s')}; ideal {raw_ideal:.3f} s; ratio {raw['ratio']:.3f}",
            "(baseline for N=1)",
            None,
        )
    )
    report.scenarios["1_concurrency"] = {
        "requests": sizes.requests,
        "delay_s": delay,
        "http_in_flight_asks": IN_FLIGHT_ASKS,
        **results,
    }


async def scenario_sync(sizes: Sizes, report: Report, http: Http) -> None:
    delay = sizes.delay

    def handler(binding_set: BindingSet) -> BindingSet:
        time.sleep(delay)
        return []

    results: dict[str, Any] = {"in_process": {}, "http": {}}
    for bound in BOUNDS:
        times, lags = [], []
        for _ in range(sizes.repeat):
            ticker = LagTicker()
            times.append(await burst_through_test_client(handler, sizes.requests, bound, ticker))
            lags.append(ticker.worst)
        stats = spread(times)
        stats["loop_lag"] = spread(lags)
        stats["idle_loop_lag"] = await idle_lag(stats["median"])
        results["in_process"][str(bound)] = stats
    results["http"] = await http_by_bound(http, sizes, "sync", "--sync")
    efficiency_rows(report, results, sizes, "2. sync")
    for bound in BOUNDS:
        lag = results["in_process"][str(bound)]["loop_lag"]
        idle = results["in_process"][str(bound)]["idle_loop_lag"]
        report.rows.append(
            Row(
                f"2. loop lag, sync TestClient N={bound}",
                f"worst {fmt(lag, 1000, ' ms', 2)}; idle loop, same time: {idle * 1000:.2f} ms",
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


async def http_rates(http: Http, kb_id: str, requests: int, repeat: int, *options: str) -> Any:
    """Requests/s of an answering process with an instant handler, over HTTP."""
    times = await http_bursts(http, kb_id, requests, repeat, *options)
    return spread([requests / t for t in times])


async def scenario_overhead(sizes: Sizes, report: Report, http: Http) -> None:
    async def instant(binding_set: BindingSet) -> BindingSet:
        return []

    n = sizes.overhead_requests
    sdk = [await burst_through_test_client(instant, n, 10) for _ in range(sizes.repeat)]
    base = [await baseline_run(n) for _ in range(sizes.repeat)]
    sdk_rps = spread([n / t for t in sdk])
    base_rps = spread([n / t for t in base])
    ratio = base_rps["median"] / sdk_rps["median"]

    m = sizes.overhead_http_requests
    http_sdk = await http_rates(
        http, f"{KB_BASE}/instant-sdk", m, sizes.repeat, "--max-concurrent-handlers", "10"
    )
    http_raw = await http_rates(http, f"{KB_BASE}/instant-raw", m, sizes.repeat, "--kind", "raw")
    share = http_sdk["median"] / http_raw["median"]
    report.scenarios["3_overhead"] = {
        "requests": n,
        "max_concurrent_handlers": 10,
        "sdk_requests_per_s": sdk_rps,
        "baseline_requests_per_s": base_rps,
        "baseline_over_sdk": ratio,
        "http": {
            "requests": m,
            "sdk_requests_per_s": http_sdk,
            "raw_httpx_requests_per_s": http_raw,
            "sdk_share_of_raw": share,
        },
    }
    report.rows.append(
        Row(
            "3. overhead, TestClient (async, instant)",
            f"{fmt(sdk_rps, digits=0)} req/s; bare asyncio loop {base_rps['median']:.0f} req/s "
            f"(SDK at {1 / ratio:.0%} of it)",
            ">= 20,000 req/s",
            sdk_rps["median"] >= 20_000,
        )
    )
    report.rows.append(
        Row(
            "3. overhead, HTTP loopback (async, instant, N=10)",
            f"{fmt(http_sdk, digits=0)} req/s; raw httpx poll+post loop "
            f"{fmt(http_raw, digits=0)} req/s; SDK at {share:.0%} of raw",
            ">= 70 % of raw httpx",
            share >= 0.70,
        )
    )


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


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
    async def handler(binding_set: BindingSet) -> BindingSet:
        return [{"tree": STAMP_TREE, "height": f'"{time.monotonic()!r}"^^<{DOUBLE}>'}]

    runs: dict[str, list[list[float]]] = {"in_process": [], "http": []}
    async with asker_in_process(handler, 10) as asker:
        await latency_samples(asker, WARMUP_ASKS)
        for _ in range(sizes.repeat):
            runs["in_process"].append(await latency_samples(asker, sizes.latency_samples))
    async with answerer_process(http, f"{KB_BASE}/stamp", "--stamp"):
        await latency_samples(http.asker, WARMUP_ASKS)
        for _ in range(sizes.repeat):
            runs["http"].append(await latency_samples(http.asker, sizes.latency_samples))

    results: dict[str, Any] = {"samples": sizes.latency_samples}
    for transport, limit, label in (
        ("in_process", 0.001, "local engine in process"),
        ("http", 0.005, "HTTP loopback"),
    ):
        p50 = spread([percentile(run, 0.50) for run in runs[transport]])
        p95 = spread([percentile(run, 0.95) for run in runs[transport]])
        results[transport] = {"p50_s": p50, "p95_s": p95}
        report.rows.append(
            Row(
                f"4. wake-up latency, {label}",
                f"p50 {fmt(p50, 1000, ' ms')}; p95 {fmt(p95, 1000, ' ms')}",
                f"p50 < {limit * 1000:.0f} ms",
                p50["median"] < limit,
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
    delay = sizes.fanout_delay
    n = sizes.fanout

    async def handler(binding_set: BindingSet) -> BindingSet:
        await asyncio.sleep(delay)
        return []

    async with asker_in_process(handler, n) as asker:
        in_process = await fanout_times(asker, n, sizes.repeat)

    from km_httpx import HttpxClient

    http_asker = asking_kb(HttpxClient(http.url))
    http_asker.id = f"{KB_BASE}/fanout-asker"
    await start(http_asker)
    try:
        async with answerer_process(
            http,
            f"{KB_BASE}/fanout",
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
        ("http", over_http, "HTTP loopback"),
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


async def scenario_legacy(sizes: Sizes, report: Report, http: Http) -> None:
    """knowledge-mapper 0.0.24, in its own virtualenv, against scenarios 1 (N=10) and 3."""
    try:
        python = await asyncio.to_thread(ensure_legacy_python, sizes.legacy_cache)
    except LegacyUnavailable as exc:
        report.scenarios["6_legacy_sdk"] = {"skipped": str(exc)}
        report.rows.append(Row("6. legacy SDK", f"not run: {exc}".splitlines()[0], "-", None))
        return
    delay, n, m = sizes.delay, sizes.legacy_requests, sizes.overhead_http_requests

    async with legacy_answerer(python, http.url, f"{KB_BASE}/legacy-slow", delay):
        await timed_asks(http.asker, WARMUP_ASKS // 4)
        legacy_slow = spread([await timed_asks(http.asker, n) for _ in range(sizes.repeat)])
    sdk_slow = spread(
        await http_bursts(
            http,
            f"{KB_BASE}/sdk-slow",
            n,
            sizes.repeat,
            *("--delay", str(delay), "--max-concurrent-handlers", "10"),
        )
    )
    async with legacy_answerer(python, http.url, f"{KB_BASE}/legacy-instant", 0):
        await timed_asks(http.asker, WARMUP_ASKS)
        legacy_rps = spread([m / await timed_asks(http.asker, m) for _ in range(sizes.repeat)])
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
    }
    report.rows.append(
        Row(
            f"6. vs {LEGACY_PACKAGE}: scenario 1 over HTTP, N=10, {n} requests",
            f"SDK {fmt(sdk_slow, unit=' s')} vs legacy {fmt(legacy_slow, unit=' s')}: "
            f"{speedup:.1f}x",
            ">= 9x",
            speedup >= 9,
        )
    )
    report.rows.append(
        Row(
            f"6. vs {LEGACY_PACKAGE}: scenario 3 over HTTP (instant)",
            f"SDK {sdk_rps['median']:.0f} req/s vs legacy {fmt(legacy_rps, digits=0)} req/s: "
            f"{rate_ratio:.2f}x",
            ">= 1x (no slower)",
            rate_ratio >= 1,
        )
    )


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


async def scenario_memory(sizes: Sizes, report: Report, http: Http) -> None:
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


SCENARIOS: list[Callable[[Sizes, Report, Http], Awaitable[None]]] = [
    scenario_round_trip,
    scenario_concurrency,
    scenario_sync,
    scenario_overhead,
    scenario_latency,
    scenario_fanout,
    scenario_legacy,  # after scenario_overhead, whose HTTP figure it compares with
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
    delay_ms = data["delay_s"] * 1000
    axes.plot(BOUNDS, ideal, "k--", label=f"ideal (N / {delay_ms:g} ms)")
    for transport, label in (("in_process", "TestClient (in process)"), ("http", "HTTP loopback")):
        rps = [data[transport][str(bound)]["requests_per_s"] for bound in BOUNDS]
        axes.plot(BOUNDS, rps, "o-", label=label)
    ceiling = report.scenarios.get("3_overhead", {}).get("http", {}).get("sdk_requests_per_s")
    if ceiling:
        axes.axhline(
            ceiling["median"], color="tab:orange", linestyle=":", label="HTTP, instant handler"
        )
    legacy = report.scenarios.get("6_legacy_sdk", {}).get("scenario_1")
    if legacy:
        axes.axhline(
            legacy["requests"] / legacy["legacy_s"]["median"],
            color="tab:red",
            linestyle="-.",
            label="knowledge-mapper 0.0.24, HTTP",
        )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xticks(BOUNDS, [str(b) for b in BOUNDS])
    axes.set_xlabel("max_concurrent_handlers")
    axes.set_ylabel("requests/s")
    axes.set_title(f"{data['requests']} requests, async handler awaiting {delay_ms:g} ms")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


async def run(sizes: Sizes) -> Report:
    sizes_json = {k: str(v) if isinstance(v, Path) else v for k, v in sizes.__dict__.items()}
    report = Report(machine=machine(), sizes=sizes_json)
    engine = LocalKnowledgeEngine(kb_wait_timeout=3600)
    async with serve_locally(engine) as url:
        asker = asking_kb(LocalEngineClient(engine))
        await start(asker)
        try:
            for scenario in SCENARIOS:
                await scenario(sizes, report, Http(engine, url, asker))
        finally:
            await finish(asker)
    return report


def main(argv: Sequence[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the smoke test")
    parser.add_argument("--repeat", type=int, help="runs per scenario (default 3; quick: 1)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where results go")
    parser.add_argument(
        "--legacy-cache",
        type=Path,
        default=DEFAULT_CACHE,
        help=f"where the virtualenv with {LEGACY_PACKAGE} is kept (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    sizes = Sizes(**QUICK.__dict__) if args.quick else Sizes()
    if args.repeat:
        sizes.repeat = args.repeat
    sizes.legacy_cache = args.legacy_cache
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
