"""How much reading and writing typed bindings costs, against baselines in the same process.

    python benchmarks/binding_conversion.py [--bindings 10000] [--repeat 7]

Reads (``from_binding``) and writes (``to_binding``) bindings of a five-field model (an IRI, a
Decimal, a language-tagged string, a date and an int), and, as baselines measured in the same
run, validates the same bindings into a model of five plain ``str`` fields (pydantic alone, no
RDF) and decodes them from JSON (what the transport does anyway). Prints the median of
``--repeat`` runs and the ratios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time
from collections.abc import Callable
from decimal import Decimal

from km_core import IRI, BindingModel, LangString


class Tree(BindingModel):
    tree: IRI
    height: Decimal
    name: LangString | None = None
    planted: dt.date | None = None
    count: int = 0


class Plain(BindingModel):
    tree: str
    height: str
    name: str
    planted: str
    count: str


def median_seconds(work: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(bindings: int, repeat: int) -> dict[str, float]:
    """Measure every step; return the medians in seconds."""
    wire = [
        Tree(
            tree=IRI(f"http://example.org/tree/{i}"),
            height=Decimal(i) / 10,
            name=LangString(f"Boom {i}", "nl"),
            planted=dt.date(2000, 1, 1) + dt.timedelta(days=i % 3000),
            count=i,
        ).to_binding()
        for i in range(bindings)
    ]
    models = [Tree.from_binding(b) for b in wire]
    body = json.dumps(wire)
    return {
        "read (from_binding)": median_seconds(lambda: [Tree.from_binding(b) for b in wire], repeat),
        "write (to_binding)": median_seconds(lambda: [m.to_binding() for m in models], repeat),
        "baseline: pydantic, five str fields": median_seconds(
            lambda: [Plain.model_validate(b) for b in wire], repeat
        ),
        "baseline: json.loads of the bindings": median_seconds(lambda: json.loads(body), repeat),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bindings", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    results = run(args.bindings, args.repeat)
    base = results["baseline: pydantic, five str fields"]
    print(f"{args.bindings} bindings of 5 fields, median of {args.repeat} runs:")
    for name, seconds in results.items():
        per = seconds / args.bindings * 1e6
        print(
            f"  {name:<40} {seconds * 1000:8.1f} ms  {per:6.2f} us/binding  {seconds / base:5.1f}x"
        )


if __name__ == "__main__":
    main()
