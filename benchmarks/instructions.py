"""Scenario 3 in instructions: the SDK against the bare asyncio loop, counted by callgrind.

    python benchmarks/instructions.py [--small N] [--large N] [--middleware] [--permitted]

Wall-clock rates of scenario 3 swing by tens of percent from one run to the next on a shared
machine. Instruction counts do not: callgrind (valgrind) counts what the CPU executes, whatever
else runs beside it. Each workload (an instant handler through the TestClient; the bare loop of
`scenarios_throughput.baseline_run`) runs in its own process under callgrind at two sizes, and
the difference divided by the difference in requests is its count per request, start-up and
imports cancelled out. Prints both counts and their ratio, and writes them as JSON on the last
line. With ``--middleware`` it also counts the SDK with a middleware that only passes each
request on (the seam's own cost) and with metrics and traces on (Prometheus and OpenTelemetry).
With ``--permitted`` it also counts the SDK whose interaction has a permitted list that the
requester is on (authorization's permitted path). Needs valgrind; a run takes a few minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from km_core import BindingSet, CallNext, HandleCall, HandleResult, Middleware
from km_testing import DEFAULT_REQUESTING_KB_ID

HERE = Path(__file__).resolve().parent
WORKLOADS = ("sdk", "bare")
MIDDLEWARE_WORKLOADS = ("passthrough", "observed")
PERMITTED_WORKLOADS = ("permitted",)


async def instant(binding_set: BindingSet) -> BindingSet:
    """Scenario 3's handler: answers at once, with nothing."""
    return []


async def _workload(kind: str, requests: int) -> None:
    sys.path.insert(0, str(HERE))
    from scenarios_throughput import baseline_run, burst_through_test_client, operations

    if kind == "sdk":
        await burst_through_test_client(instant, requests, 10)
    elif kind == "passthrough":
        await burst_through_test_client(instant, requests, 10, middleware=lambda: [PassOn()])
    elif kind == "observed":
        await burst_through_test_client(instant, requests, 10, middleware=operations)
    elif kind == "permitted":
        await burst_through_test_client(instant, requests, 10, permitted=[DEFAULT_REQUESTING_KB_ID])
    else:
        await baseline_run(requests)


class PassOn(Middleware):
    """A middleware that only passes each request on: what the seam itself costs."""

    async def handle(self, call: HandleCall, call_next: CallNext) -> HandleResult:
        return await call_next(call)


def _count(kind: str, requests: int) -> int:
    """The instructions a process running ``kind`` for ``requests`` requests executes."""
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--workload",
            kind,
            str(requests),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"callgrind reported no count:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=3000)
    parser.add_argument(
        "--middleware", action="store_true", help="also count the SDK with middleware"
    )
    parser.add_argument(
        "--permitted", action="store_true", help="also count authorization's permitted path"
    )
    parser.add_argument("--workload", nargs=2, metavar=("KIND", "REQUESTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.workload:
        asyncio.run(_workload(args.workload[0], int(args.workload[1])))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("instructions.py needs valgrind (Debian: apt-get install valgrind)")
    per_request = {}
    optional = (MIDDLEWARE_WORKLOADS if args.middleware else ()) + (
        PERMITTED_WORKLOADS if args.permitted else ()
    )
    for kind in WORKLOADS + optional:
        small, large = _count(kind, args.small), _count(kind, args.large)
        per_request[kind] = (large - small) / (args.large - args.small)
        print(f"{kind}: {per_request[kind]:,.0f} instructions per request")
    share = per_request["bare"] / per_request["sdk"]
    print(f"the bare loop's count is {share:.0%} of the SDK's")
    for kind in optional:
        extra = per_request[kind] - per_request["sdk"]
        print(f"{kind}: {extra:+,.0f} instructions per request over the plain SDK")
    print(json.dumps({"instructions_per_request": per_request, "bare_over_sdk": share}))


if __name__ == "__main__":
    main()
