"""The SDK's benchmark harness: concurrency, overhead, latency, fan-out, legacy SDK, memory.

    python benchmarks/harness.py [--quick] [--repeat N] [--out DIR] [--legacy-cache DIR]
        [--only N[,N...]] [--mariadb-url URL] [--ke-url URL [--ke-label TEXT] [--ke-pid PID]]

Runs every scenario ``--repeat`` times (default 3), prints a markdown table of the medians,
spreads (min-max), targets and whether each was met, and writes ``results.json``,
``results.md`` and ``throughput.png`` into ``--out`` (default ``benchmarks/results/``).
``--quick`` shrinks every scenario to a tiny size, for the smoke test.

The HTTP scenarios serve one local engine over loopback HTTP from this process. The answering
knowledge base under test runs in a process of its own (``answerer.py``: the SDK, or a raw
httpx baseline from ``raw_loop.py``; ``legacy.py``: knowledge-mapper 0.0.24), as it would
against a real KE, and the asks that load it enter the engine in this process, so that their
cost is not the answerer's. With ``--ke-url`` they run against that Knowledge Engine instead
(``external.py``): scenarios 0, 1, 3, 4 and 6, HTTP parts only, the asks over HTTP too.

Scenarios:

0. The machine: an HTTP round trip back to back and after 50 ms idle (context for 1 and 2).
1. Concurrency efficiency: 200 requests to async handlers awaiting 50 ms, through the
   TestClient and over HTTP, at max_concurrent_handlers 1, 10 and 50, against the ideal; over
   HTTP also the raw httpx loop, one request at a time, as the baseline for N=1.
2. The same with sync handlers (``time.sleep``), and the event loop's worst lag meanwhile.
3. Overhead per request: an instant handler through the TestClient against a bare asyncio
   baseline (queue get, create_task, list append); over HTTP against a raw httpx loop making
   the same two round trips (poll, response) per request, the response's post overlapping the
   next poll as in the SDK; and the CPU time the answering process spends per handled request,
   SDK against that raw loop (``cpu.py``).
4. Wake-up latency: from an ask entering the engine to the handler starting, in process and
   over HTTP (the handler answers with its ``time.monotonic()``).
5. Outgoing fan-out: 100 gathered asks against sequential ones, to a handler awaiting 20 ms,
   in process and over HTTP (this process's asker on ``HttpxClient``).
6. The legacy SDK, knowledge-mapper 0.0.24 (installed from PyPI into its own virtualenv under
   ``--legacy-cache``), serving scenario 1 at N=10 and scenario 3 against the same server.
7. Memory: RSS growth over 100,000 handled requests through the TestClient.
8. The reasoner (``reasoning.py``): a level-2 ask with a join among 100 KBs in process, and
   patterns that used to stall matching (nine alike triples; a triple repeated 2,000 times)
   over HTTP, with ``GET /version`` probed meanwhile.
9. km-mapper (``mapper.py``): ``km run mapper.yaml`` at N=10 against knowledge-mapper 0.0.24,
   answering asks of one tree each from a 100,000-row table on MariaDB (``--mariadb-url``,
   default ``$KM_TEST_MARIADB_URL``; without one it is not run); and the SQL statements that
   one ANSWER with 100 incoming bindings costs, counted on the wire.

Asks are gathered with at most 50 in flight: the engine, like the KE, cancels the oldest
queued handle request beyond 50 per knowledge base.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from answering import Http
from common import (
    BOUNDS,
    DEFAULT_CACHE,
    DEFAULT_OUT,
    QUICK,
    Report,
    Sizes,
    asking_kb,
    finish,
    machine,
    start,
)
from external import EXTERNAL_SCENARIOS, KeUnreachable, external_ke
from legacy import LEGACY_PACKAGE
from mapper import MARIADB_SETTING, scenario_mapper, shown_url
from reasoning import scenario_reasoning
from scenarios_other import (
    scenario_fanout,
    scenario_latency,
    scenario_legacy,
    scenario_memory,
    scenario_round_trip,
)
from scenarios_throughput import scenario_concurrency, scenario_overhead, scenario_sync

from km_testing import LocalEngineClient, LocalKnowledgeEngine, serve_locally

SCENARIOS: list[Callable[[Sizes, Report, Http], Awaitable[None]]] = [
    scenario_round_trip,
    scenario_concurrency,
    scenario_sync,
    scenario_overhead,
    scenario_latency,
    scenario_fanout,
    scenario_legacy,  # after scenario_overhead, whose HTTP figure it compares with
    scenario_memory,
    scenario_reasoning,
    scenario_mapper,
]


# ---------------------------------------------------------------- output


def table(report: Report) -> str:
    """The results as markdown: the machine, the server, one row per figure."""
    m = report.machine
    server = report.server
    lines = [
        f"Machine: {m['platform']}, {m['cpu_count']} CPUs, {m['implementation']} {m['python']}",
        "",
        f"Server: {server['label']}" + (f" (run {server['run']})" if "run" in server else ""),
        "",
        "| Scenario | Figure: median (min-max) | Target | Result |",
        "| --- | --- | --- | --- |",
    ]
    for row in report.rows:
        verdict = "-" if row.met is None else ("met" if row.met else "**missed**")
        lines.append(f"| {row.scenario} | {row.figure} | {row.target} | {verdict} |")
    return "\n".join(lines) + "\n"


def chart(report: Report, path: Path) -> None:
    """Requests/s against max_concurrent_handlers (scenario 1), with the HTTP ceilings."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = report.scenarios["1_concurrency"]
    figure, axes = plt.subplots(figsize=(6.4, 4.2))
    ideal = [bound / data["delay_s"] for bound in BOUNDS]
    delay_ms = data["delay_s"] * 1000
    axes.plot(BOUNDS, ideal, "k--", label=f"ideal (N / {delay_ms:g} ms)")
    for transport, label in (
        ("in_process", "TestClient (in process)"),
        ("http", report.server["label"]),
    ):
        if transport in data:
            rps = [data[transport][str(bound)]["requests_per_s"] for bound in BOUNDS]
            axes.plot(BOUNDS, rps, "o-", label=label)
    raw = data.get("http_raw_httpx_overlapped", {})
    if raw:
        bounds = [int(bound) for bound in raw]
        rps = [data["requests"] / stats["median"] for stats in raw.values()]
        axes.plot(bounds, rps, "x", color="tab:green", markersize=9, label="raw httpx loop")
    http = report.scenarios.get("3_overhead", {}).get("http", {})
    for key, color, label in (
        ("sdk_requests_per_s", "tab:orange", "SDK, instant handler"),
        ("raw_httpx_requests_per_s", "tab:green", "raw httpx loop, instant handler"),
    ):
        if key in http:
            axes.axhline(http[key]["median"], color=color, linestyle=":", label=label)
    legacy = report.scenarios.get("6_legacy_sdk", {}).get("scenario_1")
    if legacy:
        axes.axhline(
            legacy["requests"] / legacy["legacy_s"]["median"],
            color="tab:red",
            linestyle="-.",
            label="knowledge-mapper 0.0.24",
        )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xticks(BOUNDS, [str(b) for b in BOUNDS])
    axes.set_xlabel("max_concurrent_handlers")
    axes.set_ylabel("requests/s")
    axes.set_title(f"{data['requests']} requests, async handler awaiting {delay_ms:g} ms")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


# ---------------------------------------------------------------- running


async def run_local(sizes: Sizes, report: Report, only: set[int] | None = None) -> None:
    """Every scenario (or those numbered in ``only``), the HTTP ones against the local engine
    served from this process."""
    engine = LocalKnowledgeEngine(kb_wait_timeout=3600)
    async with serve_locally(engine) as url:
        report.server = {"label": "HTTP loopback", "url": url, "engine": "LocalKnowledgeEngine"}
        asker = asking_kb(LocalEngineClient(engine))
        await start(asker)
        try:
            for number, scenario in enumerate(SCENARIOS):
                if only is None or number in only:
                    await scenario(sizes, report, Http(url, asker))
        finally:
            await finish(asker)


async def run_external(
    sizes: Sizes, report: Report, url: str, label: str | None, pid: int | None
) -> None:
    """The HTTP scenarios against the Knowledge Engine at ``url`` (process ``pid``, if known)."""
    async with external_ke(url, label, pid) as (http, server):
        report.server = server
        server["label"] = http.label
        for scenario in EXTERNAL_SCENARIOS:
            await scenario(sizes, report, http)


def write(report: Report, out: Path) -> str:
    """Write ``results.md``, ``results.json`` and ``throughput.png``; return the table."""
    text = table(report)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(text)
    (out / "results.json").write_text(
        json.dumps(
            {
                "machine": report.machine,
                "server": report.server,
                "sizes": report.sizes,
                "scenarios": report.scenarios,
                "table": [row.__dict__ for row in report.rows],
            },
            indent=2,
        )
    )
    if "1_concurrency" in report.scenarios:  # the chart is scenario 1's
        chart(report, out / "throughput.png")
    return text


def main(argv: Sequence[str] | None = None) -> Report:
    """Parse the arguments, run the scenarios, print and write the results."""
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
    parser.add_argument(
        "--mariadb-url",
        metavar="URL",
        default=os.environ.get(MARIADB_SETTING) or None,
        help="scenario 9's MariaDB server, a SQLAlchemy URL whose user may create databases "
        f"named km_*, e.g. mysql+aiomysql://km:km@127.0.0.1:3306/km (default: ${MARIADB_SETTING}; "
        "without one, scenario 9 is not run)",
    )
    parser.add_argument(
        "--ke-url",
        metavar="URL",
        help="run the HTTP scenarios against this Knowledge Engine's REST API instead of the "
        "local engine, e.g. http://127.0.0.1:8280/rest",
    )
    parser.add_argument(
        "--ke-label",
        metavar="TEXT",
        help="how the table names the --ke-url server (default: 'KE <version> at <host:port>')",
    )
    parser.add_argument(
        "--ke-pid",
        type=int,
        metavar="PID",
        help="the --ke-url server's process id on this machine, to report its CPU per request",
    )
    parser.add_argument(
        "--only",
        metavar="N[,N...]",
        help="run only these scenarios of the local run, by number (e.g. 8 for the reasoner)",
    )
    args = parser.parse_args(argv)
    only = {int(n) for n in args.only.split(",")} if args.only else None
    if (args.ke_label or args.ke_pid) and not args.ke_url:
        parser.error("--ke-label and --ke-pid need --ke-url")
    sizes = Sizes(**QUICK.__dict__) if args.quick else Sizes()
    if args.repeat:
        sizes.repeat = args.repeat
    sizes.legacy_cache = args.legacy_cache
    sizes.mariadb_url = args.mariadb_url
    sizes_json = {k: str(v) if isinstance(v, Path) else v for k, v in sizes.__dict__.items()}
    sizes_json["mariadb_url"] = shown_url(sizes.mariadb_url)  # never its password
    report = Report(machine=machine(), sizes=sizes_json)
    started = time.perf_counter()
    try:
        if args.ke_url:
            url = args.ke_url.rstrip("/")
            asyncio.run(run_external(sizes, report, url, args.ke_label, args.ke_pid))
        else:
            asyncio.run(run_local(sizes, report, only))
    except KeUnreachable as exc:
        sys.exit(f"harness: {exc}")
    text = write(report, args.out)
    print(text)
    print(f"Total time: {time.perf_counter() - started:.1f} s")
    return report


if __name__ == "__main__":
    main()
