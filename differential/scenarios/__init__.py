"""The scenarios, one module per concern; `ALL` lists them in the order they run.

- `lifecycle`: registering, listing and deleting KBs and KIs, domain knowledge, their errors;
- `ask_answer`: ASK/ANSWER matching, translation, recipients, values, reasoner levels, gaps;
- `ask_errors`: invalid asks and answers that go wrong (errors, misfits, timeouts);
- `post_react`: POST/REACT matching, results and errors;
- `reasoning_ask`, `reasoning_post`, `reasoning_gaps`, `reasoning_meta`: the reasoner at levels
  1, 2 and 5: joins, converters, domain knowledge, forward chaining, gaps, meta knowledge;
- `polling`: the long poll and ``POST /sc/handle``, queues, ids, heartbeats, deletes;
- `leases`: renewing and expiring leases.

A new scenario is an ``async def`` decorated with `differential.scenario.scenario` in one of
these modules (or a new module imported here).
"""

from __future__ import annotations

from differential.scenario import REGISTERED, Scenario
from differential.scenarios import (  # noqa: F401  (importing a module registers its scenarios)
    ask_answer,
    ask_errors,
    leases,
    lifecycle,
    polling,
    post_react,
    reasoning_ask,
    reasoning_gaps,
    reasoning_meta,
    reasoning_post,
)

_ORDER = (
    "lifecycle",
    "leases",
    "ask_answer",
    "ask_errors",
    "post_react",
    "reasoning_ask",
    "reasoning_post",
    "reasoning_gaps",
    "reasoning_meta",
    "polling",
)

ALL: tuple[Scenario, ...] = tuple(
    sorted(REGISTERED, key=lambda item: _ORDER.index(item.group) if item.group in _ORDER else 99)
)
"""Every scenario, grouped by concern in a fixed order, in declaration order within a group."""
