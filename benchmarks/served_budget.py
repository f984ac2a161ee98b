"""Where scenario 1's time goes over HTTP, against the local engine served in its own process.

    python benchmarks/served_budget.py [--bounds 10,50] [--kinds sdk,raw-overlap] [--repeat 3]
        [--requests 200] [--delay 0.05] [--no-record] [--out FILE]

The layout of ``harness.py --ke-url`` at ``km-testing serve``: this script starts the server in a
process of its own (the app and the uvicorn settings of ``km-testing serve --log-level
warning``; unless ``--no-record``, with a recorder around the app that notes when each request
arrives and when its answer has been sent), asks from this process on ``HttpxClient``, and runs
``answerer.py`` for each kind and bound. It measures, in this order:

1. One exchange, ``GET /version`` back to back: with ``HttpxClient``, and the same bytes over
   bare asyncio streams; then with ``HttpxClient`` keeping 50 calls in flight, as the asker keeps
   its asks. The wall time and the CPU time of the client and of the server per call, and (from
   the server's record) the connections used.
2. The long poll's round trip with a request already queued, back to back (50 asks waiting),
   on ``HttpxClient``: what delivering one request costs when nothing else runs. One poll is open
   at a time, so 200 requests take at least 200 of these in a row.
3. Scenario 1's bursts (``--requests`` asks, a handler awaiting ``--delay``, at most 50 asks in
   flight) at each bound: the time against the ideal, ``ceil(requests / N) x delay``; the CPU
   time per request of the answering process, the asking process (this one), the server and the
   whole machine (``/proc/stat``); and from the server's record, the delivery cycle (from one
   poll's arrival to the next's), split into the time the server held the poll and the
   answerer's turnaround (from the poll's answer to its next poll), and the connections that the
   asker and the answerer opened.

Then it prints the lower bounds on the time that these figures imply at each bound: the
answering process's CPU per request (one event loop), the server's (one event loop), all three
processes' over the machine's CPUs, and the poll round trip, each times the requests.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import statistics
import time
from pathlib import Path
from typing import Any

from answering import Http, answerer_process
from common import WARMUP_ASKS, timed_asks
from cpu import CpuUse, machine_busy_s
from external import external_ke
from served_probes import (
    one_exchange,
    poll_round_trip,
    serve,
    server_cpu,
    server_events,
    server_process,
)

# ---------------------------------------------------------------- 3. scenario 1's bursts


def delivery_cycle(events: list[list[Any]], started: float) -> dict[str, Any]:
    """From the server's record of one burst: the polls' cycle and the connections opened.

    The poll open when the burst began (``started``, ``time.monotonic()``, which the server's
    process shares on Linux) counts from then on, not from its arrival.
    """
    polls = sorted(
        (
            [e[0], e[1], e[2], max(e[3], started), e[4]]
            for e in events
            if e[0] == "GET" and e[1].rstrip("/").endswith("/sc/handle")
        ),
        key=lambda e: e[3],
    )
    cycles = [b[3] - a[3] for a, b in itertools.pairwise(polls)]
    held = [a[4] - a[3] for a in polls[:-1]]
    turnaround = [b[3] - a[4] for a, b in itertools.pairwise(polls)]
    asks = [e for e in events if e[1].rstrip("/").endswith("/sc/ask")]
    handles = [e for e in events if e[1].rstrip("/").endswith("/sc/handle")]
    if not cycles:
        return {}
    return {
        "polls": len(polls),
        "cycle_p50_ms": statistics.median(cycles) * 1e3,
        "held_p50_ms": statistics.median(held) * 1e3,
        "turnaround_p50_ms": statistics.median(turnaround) * 1e3,
        "held_sum_s": sum(held),
        "turnaround_sum_s": sum(turnaround),
        "asker_connections": len({e[2] for e in asks}),
        "asks": len(asks),
        "answerer_connections": len({e[2] for e in handles}),
    }


async def bursts(
    http: Http, server_pid: int, kind: str, bound: int, args: argparse.Namespace
) -> list[dict[str, Any]]:
    """``--repeat`` bursts at one ``answerer.py`` process, after its warm-up."""
    options = ["--delay", str(args.delay), "--max-concurrent-handlers", str(bound)]
    if kind != "sdk":
        options += ["--kind", kind]
    ideal = math.ceil(args.requests / bound) * args.delay
    rows = []
    async with answerer_process(http, http.kb(f"budget-{kind}-{bound}"), *options) as answerer:
        await timed_asks(http.asker, WARMUP_ASKS)
        expected = WARMUP_ASKS
        before = await answerer.mark(expected)
        for _ in range(args.repeat):
            await server_events(http.url)  # clear
            asker, busy, server = time.process_time(), machine_busy_s(), server_cpu(server_pid)
            started = time.monotonic()
            seconds = await timed_asks(http.asker, args.requests)
            asker, server = time.process_time() - asker, server_cpu(server_pid) - server
            machine_busy = machine_busy_s()
            busy = None if busy is None or machine_busy is None else machine_busy - busy
            expected += args.requests
            after = await answerer.mark(expected)
            use = CpuUse.between(before, after)
            before = after
            n = args.requests
            row = {
                "kind": kind,
                "N": bound,
                "seconds": seconds,
                "ratio": seconds / ideal,
                "answerer_cpu_us": use.cpu_s / n * 1e6,
                "asker_cpu_us": asker / n * 1e6,
                "server_cpu_us": server / n * 1e6,
                "machine_cpu_us": None if busy is None else busy / n * 1e6,
                "machine_busy_cpus": None if busy is None else busy / seconds,
                **delivery_cycle(await server_events(http.url), started),
            }
            rows.append(row)
            rounded = {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}
            print(json.dumps(rounded), flush=True)
    return rows


# ---------------------------------------------------------------- report


def spread(values: list[float], digits: int = 2) -> str:
    """``median (min-max)``."""
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{mid:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    """Print the figures, and the lower bounds they imply."""
    cpus = os.cpu_count() or 1
    print(f"\n1. GET /version, {args.calls} calls (per call: wall, client CPU, server CPU; µs)")
    for name, samples in results["exchange"].items():
        opened = [s["connections"] for s in samples if "connections" in s]
        print(
            f"   {name:29s} wall {spread([s['wall_us'] for s in samples], 0)}; client "
            f"{spread([s['client_cpu_us'] for s in samples], 0)}; server "
            f"{spread([s['server_cpu_us'] for s in samples], 0)}"
            + (f"; connections used {spread(opened, 0)}" if opened else "")
        )
    polls = results["poll"]
    poll_ms = [p["p50_ms"] for p in polls]
    print("\n2. Long poll with a request queued, back to back (HttpxClient)")
    answerer_cpu = spread([p["answerer_cpu_us"] for p in polls], 0)
    print(
        f"   p50 {spread(poll_ms)} ms; answerer CPU {answerer_cpu} µs, server CPU "
        f"{spread([p['server_cpu_us'] for p in polls], 0)} µs per poll"
    )
    print("\n3. Scenario 1 bursts (median (min-max) over bursts)")
    for key, rows in results["bursts"].items():

        def col(name: str, digits: int = 0, rows: list[dict[str, Any]] = rows) -> str:
            values = [r[name] for r in rows if r.get(name) is not None]
            return spread(values, digits) if values else "-"

        print(
            f"   {key}: time/ideal {col('ratio', 2)}; CPU µs/request: answerer "
            f"{col('answerer_cpu_us')}, asker {col('asker_cpu_us')}, server "
            f"{col('server_cpu_us')}, machine {col('machine_cpu_us')}; machine busy "
            f"{col('machine_busy_cpus', 2)} of {cpus} CPUs"
        )
        if rows[0].get("polls"):
            print(
                f"      delivery cycle p50 {col('cycle_p50_ms', 2)} ms = poll held by the server "
                f"{col('held_p50_ms', 2)} + answerer's turnaround {col('turnaround_p50_ms', 2)};"
                f" per burst, polls held {col('held_sum_s', 3)} s, turnarounds "
                f"{col('turnaround_sum_s', 3)} s; connections opened: asker "
                f"{col('asker_connections')} for {col('asks')} asks, answerer "
                f"{col('answerer_connections')}"
            )
    print("\n4. Lower bounds on a burst's time implied by these figures, as time/ideal")
    n = args.requests
    for key, rows in results["bursts"].items():
        bound = rows[0]["N"]
        ideal = math.ceil(n / bound) * args.delay

        def med(name: str, rows: list[dict[str, Any]] = rows) -> float:
            return float(statistics.median(r[name] for r in rows))

        total = med("answerer_cpu_us") + med("asker_cpu_us") + med("server_cpu_us")
        print(
            f"   {key}: answerer's event loop {n * med('answerer_cpu_us') / 1e6 / ideal:.2f}; "
            f"server's event loop {n * med('server_cpu_us') / 1e6 / ideal:.2f}; three processes "
            f"on {cpus} CPUs {n * total / 1e6 / cpus / ideal:.2f}; one poll at a time "
            f"({statistics.median(poll_ms):.2f} ms each) "
            f"{(n * statistics.median(poll_ms) / 1e3 + args.delay) / ideal:.2f}"
        )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start the server, then measure 1, 2 and 3 against it."""
    results: dict[str, Any] = {"bursts": {}}
    async with server_process(not args.no_record) as (url, pid):
        results["exchange"] = await one_exchange(url, pid, args.calls)
        async with external_ke(url, "km-testing serve (budget)", pid) as (http, _):
            results["poll"] = await poll_round_trip(http, pid)
            for bound in args.bounds:
                for kind in args.kinds:
                    rows = await bursts(http, pid, kind, bound, args)
                    results["bursts"][f"{kind} N={bound}"] = rows
    return results


def main() -> None:
    """Parse the arguments; measure and report, or (``--serve``) be the server."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bounds", default="10,50", type=lambda s: [int(b) for b in s.split(",")])
    parser.add_argument("--kinds", default="sdk,raw-overlap", type=lambda s: s.split(","))
    parser.add_argument("--repeat", type=int, default=3, help="bursts per kind and bound")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--calls", type=int, default=1000, help="GET /version calls per run")
    parser.add_argument("--no-record", action="store_true", help="serve without the recorder")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(not args.no_record)
        return
    results = asyncio.run(run(args))
    report(results, args)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
