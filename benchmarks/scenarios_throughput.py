"""Scenarios 1 to 3: concurrency efficiency, sync handlers, overhead per request.

Each takes the sizes, the report to add to, and the `Http` server. Against an external KE
(``http.external``) only the HTTP parts run.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from answering import Http, http_bursts, http_runs, interleaved_rates
from common import (
    BOUNDS,
    IN_FLIGHT_ASKS,
    Report,
    Row,
    Sizes,
    answering_kb,
    fmt,
    spread,
    start,
)

from km_core import BindingSet, Middleware
from km_testing import DEFAULT_REQUESTING_KB_ID, TestClient


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
    handler: Callable[..., Any],
    requests: int,
    bound: int,
    ticker: LagTicker | None = None,
    permitted: list[str] | None = None,
    middleware: Callable[[], Sequence[Middleware]] | None = None,
) -> float:
    """Enqueue ``requests`` then EXIT; time the handling loop through a TestClient.

    A ``ticker`` watches the event loop while the handling loop runs (not while the KB is
    declared and registered). With ``permitted``, the interaction is for those KBs only; with
    ``middleware``, the KB gets what it makes.
    """
    client = TestClient()
    kb = answering_kb(
        client, handler, permitted=permitted, middleware=middleware() if middleware else ()
    )
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


async def http_by_bound(
    http: Http, sizes: Sizes, kind: str, *options: str, bounds: Sequence[int] = BOUNDS
) -> dict[str, Any]:
    """Scenario 1's bursts over HTTP at each of ``bounds``, for handlers of ``kind``.

    Each bound's spread of wall times also holds ``poll_conflicts``: the polls the server
    refused with 409 during its bursts.
    """
    results = {}
    for bound in bounds:
        bursts = await http_runs(
            http,
            http.kb(f"{kind}-{bound}"),
            sizes.requests,
            sizes.repeat,
            *options,
            *("--delay", str(sizes.delay), "--max-concurrent-handlers", str(bound)),
        )
        results[str(bound)] = spread([burst.seconds for burst in bursts])
        results[str(bound)]["poll_conflicts"] = sum(burst.cpu.conflicts for burst in bursts)
    return results


def conflicts_note(stats: dict[str, Any]) -> str:
    """``; N polls refused with 409`` when there were any."""
    count = stats.get("poll_conflicts", 0)
    return f"; {count} poll{'s' if count > 1 else ''} refused with 409" if count else ""


def efficiency_rows(
    report: Report, results: dict[str, Any], sizes: Sizes, kind: str, http: Http
) -> None:
    """Ideal, ratio and a row per transport and bound, for scenarios 1 and 2."""
    for transport, tolerance, label in (
        ("in_process", 0.10, "TestClient"),
        ("http", 0.20, http.label),
    ):
        if transport not in results:
            continue
        for bound in BOUNDS:
            stats = results[transport][str(bound)]
            ideal = math.ceil(sizes.requests / bound) * sizes.delay
            ratio = stats["median"] / ideal
            stats.update(ideal=ideal, ratio=ratio, requests_per_s=sizes.requests / stats["median"])
            report.rows.append(
                Row(
                    f"{kind}, {label}, N={bound}",
                    f"{fmt(stats, unit=' s')}; ideal {ideal:.3f} s; ratio {ratio:.3f}"
                    f"{conflicts_note(stats)}",
                    f"ratio <= {1 + tolerance:.2f}",
                    ratio <= 1 + tolerance,
                )
            )


async def scenario_concurrency(sizes: Sizes, report: Report, http: Http) -> None:
    """Scenario 1: async handlers awaiting ``delay``, at every bound, against the ideal."""
    delay = sizes.delay

    async def handler(binding_set: BindingSet) -> BindingSet:
        await asyncio.sleep(delay)
        return []

    results: dict[str, Any] = {}
    if not http.external:
        results["in_process"] = {}
        for bound in BOUNDS:
            times = [
                await burst_through_test_client(handler, sizes.requests, bound)
                for _ in range(sizes.repeat)
            ]
            results["in_process"][str(bound)] = spread(times)

    results["http"] = await http_by_bound(http, sizes, "async")
    # The same requests without the SDK: raw httpx polls and posts, one request at a time...
    raw = spread(
        await http_bursts(
            http,
            http.kb("raw-async"),
            sizes.requests,
            sizes.repeat,
            *("--kind", "raw", "--delay", str(delay)),
        )
    )
    raw_ideal = sizes.requests * delay
    raw.update(ideal=raw_ideal, ratio=raw["median"] / raw_ideal)
    results["http_raw_httpx_sequential"] = raw
    # ... and with each post overlapping the next poll, up to N handlers at a time.
    results["http_raw_httpx_overlapped"] = await http_by_bound(
        http, sizes, "raw-async", "--kind", "raw-overlap", bounds=BOUNDS[1:]
    )

    efficiency_rows(report, results, sizes, "1. async", http)
    report.rows.append(
        Row(
            f"1. async, {http.label}, no SDK: raw httpx, one at a time",
            f"{fmt(raw, unit=' s')}; ideal {raw_ideal:.3f} s; ratio {raw['ratio']:.3f}",
            "(baseline for N=1)",
            None,
        )
    )
    for bound, stats in results["http_raw_httpx_overlapped"].items():
        ideal = math.ceil(sizes.requests / int(bound)) * delay
        stats.update(ideal=ideal, ratio=stats["median"] / ideal)
        report.rows.append(
            Row(
                f"1. async, {http.label}, no SDK: raw httpx, posts overlapping polls, N={bound}",
                f"{fmt(stats, unit=' s')}; ideal {ideal:.3f} s; ratio {stats['ratio']:.3f}"
                f"{conflicts_note(stats)}",
                f"(baseline for N={bound})",
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
    """Scenario 2: sync handlers (``time.sleep``), and the event loop's worst lag meanwhile."""
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
    efficiency_rows(report, results, sizes, "2. sync", http)
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


_TRACER_PROVIDERS: list[Any] = []
"""The tracer providers `operations` made, for `observed_burst` to shut down."""


def operations() -> list[Middleware]:
    """Metrics and traces, as an operator turns them on: Prometheus, and OpenTelemetry spans
    batched to an exporter that drops them (the export happens off the event loop anyway)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from prometheus_client import CollectorRegistry

    from km_core.opentelemetry import TelemetryMiddleware
    from km_core.prometheus import PrometheusMiddleware

    class Dropping(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    # A queue that holds a whole burst's spans: a full one would drop spans, and their cost.
    provider.add_span_processor(BatchSpanProcessor(Dropping(), max_queue_size=65_536))
    _TRACER_PROVIDERS.append(provider)
    return [
        PrometheusMiddleware(CollectorRegistry()),
        TelemetryMiddleware(tracer_provider=provider),
    ]


async def observed_burst(handler: Callable[..., Any], requests: int, bound: int) -> float:
    """`burst_through_test_client` with metrics and traces on; then, outside the timed part,
    the spans left are exported and the exporter's thread stopped, so that it does not run on
    into the next run and slow that one down."""
    try:
        return await burst_through_test_client(handler, requests, bound, middleware=operations)
    finally:
        while _TRACER_PROVIDERS:
            _TRACER_PROVIDERS.pop().shutdown()


async def overhead_in_process(sizes: Sizes, report: Report) -> dict[str, Any]:
    """Scenario 3 through the TestClient, against a bare asyncio loop."""

    async def instant(binding_set: BindingSet) -> BindingSet:
        return []

    n = sizes.overhead_requests
    # Paired runs: each repeat times the SDK, the bare loop and the SDK with authorization back
    # to back (in an order that turns with each repeat, each run after a collection), so that a
    # machine whose speed drifts during the scenario moves the figures of one repeat alike; the
    # shares are the medians of the repeats' shares.
    sdk: list[float] = []
    base: list[float] = []
    guarded: list[float] = []
    observed: list[float] = []
    permitted = [DEFAULT_REQUESTING_KB_ID]
    # A repeat takes about a second, and the machine's speed swings from one to the next:
    # three times the usual repeats, for a steadier median.
    for repeat in range(3 * sizes.repeat):
        runs = [
            (sdk, lambda: burst_through_test_client(instant, n, 10)),
            (base, lambda: baseline_run(n)),
            (guarded, lambda: burst_through_test_client(instant, n, 10, permitted=permitted)),
            (observed, lambda: observed_burst(instant, n, 10)),
        ]
        turn = repeat % len(runs)
        for times, run in runs[turn:] + runs[:turn]:
            gc.collect()
            times.append(await run())
    sdk_rps = spread([n / t for t in sdk])
    base_rps = spread([n / t for t in base])
    guarded_rps = spread([n / t for t in guarded])
    shares = sorted(b / s for s, b in zip(sdk, base, strict=True))
    share = shares[len(shares) // 2]
    ratio = 1 / share
    costs = sorted(g / s - 1 for s, g in zip(sdk, guarded, strict=True))
    cost = costs[len(costs) // 2]
    observed_rps = spread([n / t for t in observed])
    extra_us = sorted((o - s) / n * 1e6 for s, o in zip(sdk, observed, strict=True))
    extra = extra_us[len(extra_us) // 2]
    report.rows.append(
        Row(
            "3. overhead, TestClient (async, instant)",
            f"{fmt(sdk_rps, digits=0)} req/s; bare asyncio loop {base_rps['median']:.0f} req/s "
            f"(SDK at {share:.0%} of it, median of {len(shares)} paired runs: "
            f"{', '.join(f'{x:.0%}' for x in shares)})",
            ">= 20,000 req/s",
            sdk_rps["median"] >= 20_000,
        )
    )
    report.rows.append(
        Row(
            "3. authorization, permitted path, TestClient (a permitted list)",
            f"{fmt(guarded_rps, digits=0)} req/s vs {sdk_rps['median']:.0f} req/s without: "
            f"{cost:+.1%} time per request (median of {len(costs)} paired runs: "
            f"{', '.join(f'{x:+.1%}' for x in costs)})",
            "< +5 %",
            cost < 0.05,
        )
    )
    report.rows.append(
        Row(
            "3. metrics and traces on, TestClient (Prometheus + OpenTelemetry middleware)",
            f"{fmt(observed_rps, digits=0)} req/s vs {sdk_rps['median']:.0f} req/s without: "
            f"{extra:+.1f} us per request (median of {len(extra_us)} paired runs: "
            f"{', '.join(f'{x:+.1f}' for x in extra_us)})",
            "quoted",
            True,
        )
    )
    return {
        "requests": n,
        "max_concurrent_handlers": 10,
        "sdk_requests_per_s": sdk_rps,
        "baseline_requests_per_s": base_rps,
        "baseline_over_sdk": ratio,
        "paired_shares": shares,
        "authorized_requests_per_s": guarded_rps,
        "authorization_costs": costs,
        "observed_requests_per_s": observed_rps,
        "observed_extra_us_per_request": extra_us,
    }


async def scenario_overhead(sizes: Sizes, report: Report, http: Http) -> None:
    """Scenario 3: an instant handler; over HTTP against the overlapping raw httpx loop.

    Over HTTP the SDK and the raw loop take turns, a burst each in a fresh process, so that
    both meet the same noise. Both report their CPU time, so the SDK's CPU per handled request
    is set beside the raw loop's: the figure that does not depend on the server's speed.
    """
    results = {} if http.external else await overhead_in_process(sizes, report)
    m = sizes.overhead_http_requests
    bound = ("--max-concurrent-handlers", "10")
    contenders = {
        "sdk": (http.kb("instant-sdk"), bound),
        "raw": (http.kb("instant-raw"), ("--kind", "raw-overlap", *bound)),
    }
    measured = await interleaved_rates(http, contenders, m, sizes.repeat)
    sdk, raw = measured["sdk"], measured["raw"]
    share = sdk["requests_per_s"]["median"] / raw["requests_per_s"]["median"]
    cpu_ratio = sdk["cpu_us_per_request"]["median"] / raw["cpu_us_per_request"]["median"]
    results["http"] = {
        "requests": m,
        "max_concurrent_handlers": 10,
        "sdk_requests_per_s": sdk["requests_per_s"],
        "raw_httpx_requests_per_s": raw["requests_per_s"],
        "sdk_share_of_raw": share,
        "sdk_cpu_us_per_request": sdk["cpu_us_per_request"],
        "raw_cpu_us_per_request": raw["cpu_us_per_request"],
        "sdk_cpu_over_raw": cpu_ratio,
        "sdk_poll_conflicts": sdk["poll_conflicts"],
        "raw_poll_conflicts": raw["poll_conflicts"],
    }
    for name, rates in (("sdk", sdk), ("raw", raw)):
        for key in (
            "asker_cpu_us_per_request",
            "machine_cpu_us_per_request",
            "server_cpu_us_per_request",
        ):
            results["http"][f"{name}_{key}"] = rates[key]
    report.scenarios["3_overhead"] = results
    conflicts = ""
    if sdk["poll_conflicts"] or raw["poll_conflicts"]:
        conflicts = (
            f"; polls refused with 409: SDK {sdk['poll_conflicts']}, raw {raw['poll_conflicts']}"
        )
    report.rows.append(
        Row(
            f"3. overhead, {http.label} (async, instant, N=10)",
            f"{fmt(sdk['requests_per_s'], digits=0)} req/s; raw httpx loop, post overlapping "
            f"the next poll, {fmt(raw['requests_per_s'], digits=0)} req/s; SDK at {share:.0%} "
            f"of raw{conflicts}",
            ">= 70 % of raw httpx",
            share >= 0.70,
        )
    )
    report.rows.append(
        Row(
            f"3. CPU of the answering process per handled request, {http.label}",
            f"SDK {fmt(sdk['cpu_us_per_request'], unit=' µs', digits=0)} vs raw httpx loop "
            f"{fmt(raw['cpu_us_per_request'], unit=' µs', digits=0)}: {cpu_ratio:.2f}x",
            "<= 1.2x raw httpx",
            cpu_ratio <= 1.2,
        )
    )
    if sdk["machine_cpu_us_per_request"] and raw["machine_cpu_us_per_request"]:
        report.rows.append(
            Row(
                f"3. CPU per handled request, every process of the machine, {http.label}",
                f"SDK run: {cpu_budget(sdk, http)}; raw httpx run: {cpu_budget(raw, http)}",
                "(context)",
                None,
            )
        )


def cpu_budget(rates: dict[str, Any], http: Http) -> str:
    """Where a request's CPU went (medians, µs): answerer, asking process, server, the rest.

    ``/proc/stat`` counts in ticks of 10 ms, so the rest is known to some 10 µs per request
    only (over 1,000 requests), and may come out just below zero.
    """
    total = rates["machine_cpu_us_per_request"]["median"]
    asker = "asking process" if http.external else "harness (asks, engine, server)"
    parts = {
        "answerer": rates["cpu_us_per_request"]["median"],
        asker: rates["asker_cpu_us_per_request"]["median"],
    }
    if rates["server_cpu_us_per_request"]:
        parts["KE"] = rates["server_cpu_us_per_request"]["median"]
    parts["the rest"] = total - sum(parts.values())
    return f"{total:.0f} µs = " + " + ".join(f"{k} {v:.0f}" for k, v in parts.items())
