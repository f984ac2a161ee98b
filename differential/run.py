"""Run scenarios against two engines and report; the command line ``python -m differential``.

Scenarios run one at a time on each engine: many KBs registering at once made some asks on a
real Knowledge Engine miss answerers that had registered. The two engines run each scenario at
the same time, each with ids of its own, so both may even be one engine.

Exit status: 0 when every scenario was identical, 1 when any differed or failed, 2 when an
engine could not be reached or the arguments are wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from differential.compare import Outcome, SideRun, outcome
from differential.recorder import Json, Recorder
from differential.report import Engine, json_report, markdown, summary_line
from differential.scenario import Scenario, select
from differential.scenarios import ALL


async def run_side(item: Scenario, url: str) -> SideRun:
    """Run one scenario against the engine at ``url``; its KBs are deleted afterwards."""
    start = time.monotonic()
    error: str | None = None
    async with Recorder(url) as rec:
        try:
            async with asyncio.timeout(item.timeout):
                await item.run(rec)
        except TimeoutError:
            error = f"timed out after {item.timeout:g} s"
        except Exception as exc:  # a scenario's failure is reported, not raised
            error = f"{type(exc).__name__}: {exc}"
    return SideRun(url, rec.tag, tuple(rec.entries), error, time.monotonic() - start)


async def run_scenarios(
    scenarios: Sequence[Scenario],
    a_url: str,
    b_url: str,
    *,
    progress: Callable[[int, Outcome], None] | None = None,
) -> list[Outcome]:
    """Run each scenario against both engines (side by side) and compare their records.

    Args:
        scenarios: The scenarios, run one after the other.
        a_url: The first engine's REST base URL.
        b_url: The second engine's REST base URL.
        progress: Called with the index and outcome of each scenario when it is done.
    """
    outcomes = []
    for index, item in enumerate(scenarios):
        a, b = await asyncio.gather(run_side(item, a_url), run_side(item, b_url))
        result = outcome(item.qualified_name, item.description, item.slow, a, b)
        outcomes.append(result)
        if progress is not None:
            progress(index, result)
    return outcomes


async def engine_version(url: str) -> Json:
    """What ``GET /version`` of the engine returns; raises when it cannot be reached."""
    async with Recorder(url) as rec:
        reply = await rec.request(None, "GET", "/version")
    if reply.status != 200:
        raise ConnectionError(f"GET {url}/version answered {reply.status}: {reply.body!r}")
    return reply.body


def parser() -> argparse.ArgumentParser:
    """The command line's argument parser."""
    cli = argparse.ArgumentParser(
        prog="python -m differential",
        description="Play the same REST scenarios against two Knowledge Engines and report "
        "where their normalised responses differ.",
    )
    cli.add_argument("--a", metavar="URL", help="the first engine's REST base URL")
    cli.add_argument("--b", metavar="URL", help="the second engine's REST base URL")
    cli.add_argument("--a-name", default="a", help="the first engine's name in the report")
    cli.add_argument("--b-name", default="b", help="the second engine's name in the report")
    cli.add_argument(
        "--scenario",
        metavar="PATTERN",
        action="append",
        default=[],
        help="run only the scenarios this selects (repeatable): a shell pattern on the name or "
        "group/name (ask_answer/*), or else a substring of group/name",
    )
    cli.add_argument(
        "--quick", action="store_true", help="skip slow scenarios (engine timeouts, leases)"
    )
    cli.add_argument("--list", action="store_true", help="list the scenarios and exit")
    cli.add_argument("--report", metavar="FILE.md", type=Path, help="write the Markdown report")
    cli.add_argument("--json", metavar="FILE", type=Path, help="write the JSON report")
    return cli


def _list(scenarios: Sequence[Scenario]) -> None:
    width = max((len(item.qualified_name) for item in scenarios), default=0)
    for item in scenarios:
        slow = "slow" if item.slow else "    "
        print(f"{item.qualified_name:<{width}}  {slow}  {item.description}")
    print(f"{len(scenarios)} scenarios, {sum(item.slow for item in scenarios)} slow")


def _progress(total: int) -> Callable[[int, Outcome], None]:
    def report(index: int, result: Outcome) -> None:
        seconds = max(result.a.seconds, result.b.seconds)
        print(
            f"[{index + 1:>3}/{total}] {result.name}: {result.status} ({seconds:.1f} s)",
            file=sys.stderr,
            flush=True,
        )

    return report


async def _main(args: argparse.Namespace, scenarios: Sequence[Scenario]) -> int:
    a = Engine(args.a_name, args.a.rstrip("/"))
    b = Engine(args.b_name, args.b.rstrip("/"))
    versions = await asyncio.gather(
        engine_version(a.url), engine_version(b.url), return_exceptions=True
    )
    for engine, version in zip((a, b), versions, strict=True):
        if isinstance(version, BaseException):
            print(f"cannot reach {engine.name} at {engine.url}: {version}", file=sys.stderr)
            return 2
    a = Engine(a.name, a.url, versions[0])
    b = Engine(b.name, b.url, versions[1])
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    start = time.monotonic()
    outcomes = await run_scenarios(scenarios, a.url, b.url, progress=_progress(len(scenarios)))
    seconds = time.monotonic() - start
    if args.report is not None:
        args.report.write_text(markdown(outcomes, a, b, started=started, seconds=seconds))
    if args.json is not None:
        report = json_report(outcomes, a, b, started=started, seconds=seconds)
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    for item in outcomes:
        if item.status != "identical":
            print(f"{item.status}: {item.name}")
    print(summary_line(outcomes))
    return 0 if all(item.status == "identical" for item in outcomes) else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    cli = parser()
    args = cli.parse_args(argv)
    scenarios = select(ALL, args.scenario, quick=args.quick)
    if args.list:
        _list(scenarios)
        return 0
    if not args.a or not args.b:
        cli.error("--a and --b are required (unless --list)")
    if not scenarios:
        cli.error("no scenario matches")
    return asyncio.run(_main(args, scenarios))
