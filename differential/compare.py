"""Normalise two engines' records of one scenario and find where they differ.

What two correct engines may legitimately return differently is normalised away first:

- the run's tag (the random part of every KB id and IRI, `Recorder.tag`) becomes ``TAG``;
- timestamps (ISO 8601) become ``<ts>`` and UUIDs (unnamed KI ids, message ids) ``<uuid>``;
- lists that are sets are sorted: the values of `SET_KEYS` (binding sets, exchange info,
  knowledge gaps, purposes) and list bodies of responses (``GET /sc``, ``GET /sc/ki``);
- entries with the same label are compared as a multiset (concurrent handlers may record them
  in any order), and only `Entry.compared` entries count.

Everything else, status codes and message texts included, must be equal. A difference is given
as a path into the entry's value, so that the report can show the smallest differing part.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from differential.recorder import Entry, Json

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?")
"""An ISO 8601 date and time, as in exchange info's ``initiated`` and ``exchangeEnd``."""

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
"""A UUID in its canonical text form."""

SET_KEYS = frozenset(
    {
        "bindingSet",
        "resultBindingSet",
        "argumentBindingSet",
        "exchangeInfo",
        "knowledgeGaps",
        "requiredPurposes",
        "satisfiedPurposes",
        "body",
    }
)
"""Keys whose list values are sets: sorted before comparing, lists nested in them as well.

``body`` is the body of a recorded response: a JSON array the engine returns is a set
(``GET /sc``, ``GET /sc/ki``).
"""

ABSENT = "<absent>"
"""Stands for a value one side has and the other has not."""


def canonical(value: Json) -> str:
    """The value as canonical JSON text (sorted keys), for sorting and display."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def normalise(value: Json, tag: str, key: str | None = None) -> Json:
    """The value with the run's ``tag``, timestamps and UUIDs replaced and sets sorted.

    Args:
        value: A JSON value from one engine.
        tag: The run's tag, replaced by ``TAG``.
        key: The dict key the value was found under: lists under a key of `SET_KEYS` are
            sorted, and so are the lists nested in them.
    """
    if isinstance(value, str):
        text = value.replace(tag, "TAG") if tag else value
        return UUID.sub("<uuid>", TIMESTAMP.sub("<ts>", text))
    if isinstance(value, dict):
        return {name: normalise(item, tag, name) for name, item in sorted(value.items())}
    if isinstance(value, list):
        items = [normalise(item, tag, key) for item in value]
        return sorted(items, key=canonical) if key in SET_KEYS else items
    return value


Record = dict[str, list[Json]]
"""A normalised record: each label with its values, sorted (a multiset)."""


def normalised_record(entries: Iterable[Entry], tag: str) -> Record:
    """The compared entries of one run, normalised and grouped by label."""
    record: Record = {}
    for entry in entries:
        if entry.compared:
            record.setdefault(entry.label, []).append(normalise(entry.value, tag))
    return {label: sorted(values, key=canonical) for label, values in record.items()}


@dataclass(frozen=True)
class Difference:
    """One place where the two records differ.

    Attributes:
        label: The label of the entries that differ (``#2`` appended for the second of
            several entries with one label).
        path: Where in the entry's value (``.body.exchangeInfo[0].status``); empty for the
            whole value.
        a: The first engine's value there, or `ABSENT`.
        b: The second engine's value there, or `ABSENT`.
    """

    label: str
    path: str
    a: Json
    b: Json


def diff_values(a: Json, b: Json, path: str = "") -> list[tuple[str, Json, Json]]:
    """The smallest differing parts of two values, as (path, a's part, b's part).

    Dicts are compared key by key and lists of equal length item by item; anything else that
    differs is reported whole.
    """
    if canonical(a) == canonical(b):  # unlike ==, tells 1 from 1.0 and from true
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        found: list[tuple[str, Json, Json]] = []
        for name in sorted(a.keys() | b.keys()):
            sub = f"{path}.{name}"
            if name not in a:
                found.append((sub, ABSENT, b[name]))
            elif name not in b:
                found.append((sub, a[name], ABSENT))
            else:
                found += diff_values(a[name], b[name], sub)
        return found
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        found = []
        for index, (item_a, item_b) in enumerate(zip(a, b, strict=True)):
            found += diff_values(item_a, item_b, f"{path}[{index}]")
        return found
    return [(path, a, b)]


def _labels(a: Record, b: Record) -> list[str]:
    """The labels of both records: a's in its order, then those only b has."""
    return list(a) + [label for label in b if label not in a]


def compare(a: Record, b: Record) -> list[Difference]:
    """Every difference between two normalised records (none: the engines agree)."""
    differences: list[Difference] = []
    for label in _labels(a, b):
        values_a: Sequence[Json] = a.get(label, [])
        values_b: Sequence[Json] = b.get(label, [])
        for index in range(max(len(values_a), len(values_b))):
            name = label if index == 0 else f"{label} #{index + 1}"
            value_a = values_a[index] if index < len(values_a) else ABSENT
            value_b = values_b[index] if index < len(values_b) else ABSENT
            if ABSENT in (value_a, value_b):
                if value_a != value_b:
                    differences.append(Difference(name, "", value_a, value_b))
                continue
            differences += [Difference(name, *found) for found in diff_values(value_a, value_b)]
    return differences


@dataclass(frozen=True)
class SideRun:
    """One scenario's run against one engine.

    Attributes:
        url: The engine's REST base URL.
        tag: The run's tag (what ``TAG`` stands for in its record).
        entries: What the run recorded, in order.
        error: Why the scenario could not finish (an exception, a timeout), or None.
        seconds: How long it took.
    """

    url: str
    tag: str
    entries: tuple[Entry, ...]
    error: str | None
    seconds: float

    @property
    def record(self) -> Record:
        """The normalised record of its compared entries."""
        return normalised_record(self.entries, self.tag)

    def info(self) -> list[tuple[str, Json]]:
        """Its uncompared entries (timings), normalised."""
        return [(e.label, normalise(e.value, self.tag)) for e in self.entries if not e.compared]


@dataclass(frozen=True)
class Outcome:
    """One scenario run against both engines, and how their records compare.

    Attributes:
        name: The scenario's qualified name (``group/name``).
        description: What it does.
        slow: Whether it is a slow scenario.
        a: The run against the first engine.
        b: The run against the second engine.
        differences: Where their records differ.
    """

    name: str
    description: str
    slow: bool
    a: SideRun
    b: SideRun
    differences: tuple[Difference, ...]

    @property
    def status(self) -> str:
        """``failed`` if a side could not finish, else ``identical`` or ``different``."""
        if self.a.error is not None or self.b.error is not None:
            return "failed"
        return "different" if self.differences else "identical"


def outcome(name: str, description: str, slow: bool, a: SideRun, b: SideRun) -> Outcome:
    """Compare the two runs of one scenario."""
    return Outcome(name, description, slow, a, b, tuple(compare(a.record, b.record)))
