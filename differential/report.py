"""Write the outcome of a differential run: a summary line, a Markdown report, a JSON report.

The Markdown report has a table of every scenario and its result, then, for each scenario
whose engines disagree (or that failed), the differing entries side by side: the entry's label,
the path into its value, and what each engine returned there, normalised. The JSON report has
the same and the whole normalised record of every run, for tools or a closer look.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from differential.compare import Outcome, SideRun, canonical, normalise
from differential.recorder import Json

CELL_LIMIT = 600
"""Characters of a value shown in a report cell; the JSON report has them whole."""


@dataclass(frozen=True)
class Engine:
    """One side of the run, as the report names it.

    Attributes:
        name: Its short name in the report (``a``, ``real``).
        url: Its REST base URL.
        version: What its ``GET /version`` returned.
    """

    name: str
    url: str
    version: Json = None


def counts(outcomes: Sequence[Outcome]) -> dict[str, int]:
    """How many scenarios were identical, different and failed."""
    found = {"identical": 0, "different": 0, "failed": 0}
    for item in outcomes:
        found[item.status] += 1
    return found


def summary_line(outcomes: Sequence[Outcome]) -> str:
    """``N scenarios, I identical, D different`` (and ``, F failed`` when any failed)."""
    found = counts(outcomes)
    line = (
        f"{len(outcomes)} scenarios, {found['identical']} identical, {found['different']} different"
    )
    return line + (f", {found['failed']} failed" if found["failed"] else "")


def cell(value: Json) -> str:
    """A value as a Markdown table cell: canonical JSON in a code span, pipes escaped."""
    text = canonical(value)
    if len(text) > CELL_LIMIT:
        text = text[:CELL_LIMIT] + " …"
    text = text.replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _status(item: Outcome) -> str:
    return {"identical": "identical", "different": "**different**", "failed": "**failed**"}[
        item.status
    ]


def _differences(item: Outcome, a: Engine, b: Engine) -> list[str]:
    lines = [f"### {item.name}", "", item.description, ""]
    for side, engine in ((item.a, a), (item.b, b)):
        if side.error is not None:
            lines += [f"Could not finish on {engine.name}: {cell(side.error)}", ""]
    if item.differences:
        lines += [f"| entry | path | {a.name} | {b.name} |", "|---|---|---|---|"]
        lines += [
            f"| {cell(found.label)} | {cell(found.path) if found.path else ''} | "
            f"{cell(found.a)} | {cell(found.b)} |"
            for found in item.differences
        ]
        lines.append("")
    info = _info(item.a, a) + _info(item.b, b)
    if info:
        lines += ["Not compared:", "", *info, ""]
    return lines


def _info(side: SideRun, engine: Engine) -> list[str]:
    return [f"- {engine.name}: {label}: {cell(value)}" for label, value in side.info()]


def markdown(
    outcomes: Sequence[Outcome], a: Engine, b: Engine, *, started: str, seconds: float
) -> str:
    """The Markdown report of a run.

    Args:
        outcomes: The scenarios' outcomes, in the order they ran.
        a: The first engine.
        b: The second engine.
        started: When the run started (for the header).
        seconds: How long it took.
    """
    lines = [
        "# Differential run",
        "",
        f"- **{a.name}**: `{a.url}`, `GET /version`: {cell(a.version)}",
        f"- **{b.name}**: `{b.url}`, `GET /version`: {cell(b.version)}",
        f"- started {started}, took {seconds:.0f} s",
        "",
        f"**{summary_line(outcomes)}**",
        "",
        "Normalised before comparing: each run's tag (`TAG`), timestamps (`<ts>`), UUIDs",
        "(`<uuid>`), the order of sets (binding sets, exchange info, gaps, list bodies) and of",
        "entries with the same label.",
        "",
        "| scenario | result | description |",
        "|---|---|---|",
    ]
    lines += [
        f"| {item.name}{' (slow)' if item.slow else ''} | {_status(item)} | {item.description} |"
        for item in outcomes
    ]
    lines.append("")
    disagreeing = [item for item in outcomes if item.status != "identical"]
    if disagreeing:
        lines += ["## Differences", ""]
        for item in disagreeing:
            lines += _differences(item, a, b)
    return "\n".join(lines).rstrip() + "\n"


def _side(side: SideRun) -> dict[str, Json]:
    return {
        "url": side.url,
        "tag": side.tag,
        "seconds": round(side.seconds, 2),
        "error": side.error,
        "entries": [
            {"label": e.label, "value": normalise(e.value, side.tag), "compared": e.compared}
            for e in side.entries
        ],
    }


def json_report(
    outcomes: Sequence[Outcome], a: Engine, b: Engine, *, started: str, seconds: float
) -> dict[str, Json]:
    """The JSON report of a run: the summary, and per scenario its differences and records."""
    return {
        "started": started,
        "seconds": round(seconds, 1),
        "engines": {
            side: {"name": engine.name, "url": engine.url, "version": engine.version}
            for side, engine in (("a", a), ("b", b))
        },
        "summary": {"scenarios": len(outcomes), **counts(outcomes)},
        "scenarios": [
            {
                "name": item.name,
                "description": item.description,
                "slow": item.slow,
                "status": item.status,
                "differences": [
                    {"label": d.label, "path": d.path, "a": d.a, "b": d.b} for d in item.differences
                ],
                "a": _side(item.a),
                "b": _side(item.b),
            }
            for item in outcomes
        ],
    }
