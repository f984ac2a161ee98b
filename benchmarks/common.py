"""What the benchmark's scenarios share: sizes, the report, formatting, and the asking side."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from km_core import ExchangeStatus, KnowledgeBase, Middleware
from km_testing import LocalEngineClient, LocalKnowledgeEngine

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
    """How large each scenario is; ``QUICK`` is the smoke test's."""

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
    reasoning_asks: int = 200  # scenario 8a
    repeated_triple: int = 2000  # scenario 8b: how often one ANSWER repeats a triple
    mapper_rows: int = 100_000  # scenario 9: the rows of the MariaDB table
    mapper_asks: int = 200  # scenario 9: the asks of one tree each, per burst
    mapper_bindings: int = 100  # scenario 9: the incoming bindings of the one large ANSWER
    legacy_cache: Path = DEFAULT_CACHE
    mariadb_url: str | None = None  # scenario 9's server; without one it is not run
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
    reasoning_asks=10,
    repeated_triple=50,
    mapper_rows=1000,
    mapper_asks=10,
    repeat=1,
)


@dataclass
class Row:
    """One line of the results table."""

    scenario: str
    figure: str
    target: str
    met: bool | None  # None: no target


@dataclass
class Report:
    """Everything a run measured: the machine, the sizes, each scenario's figures, the table."""

    machine: dict[str, Any]
    sizes: dict[str, Any]
    server: dict[str, Any] = field(default_factory=dict)
    scenarios: dict[str, Any] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)


def spread(values: Sequence[float]) -> dict[str, Any]:
    """The median, min and max of the runs of one figure."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def fmt(stats: dict[str, Any], scale: float = 1.0, unit: str = "", digits: int = 3) -> str:
    """``median (min-max)``, scaled, with a unit."""
    m, lo, hi = (stats[k] * scale for k in ("median", "min", "max"))
    return f"{m:.{digits}f}{unit} ({lo:.{digits}f}-{hi:.{digits}f})"


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0 to 1) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def machine() -> dict[str, Any]:
    """The platform, CPU count and Python this run measured on."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
    }


# ---------------------------------------------------------------- knowledge bases


def answering_kb(
    client: Any,
    handler: Callable[..., Any],
    kb_id: str = f"{KB_BASE}/trees",
    prefixes: dict[str, str] = EX,
    permitted: list[str] | None = None,
    middleware: Sequence[Middleware] = (),
) -> KnowledgeBase:
    """A KB with one ANSWER interaction, ``heights``, served by ``handler`` (for ``permitted``)."""
    kb = KnowledgeBase(
        id=kb_id,
        name="trees",
        description="benchmark answerer",
        client=client,
        middleware=middleware,
    )
    kb.answer_ki("heights", PATTERN, prefixes=prefixes, permitted=permitted)(handler)
    return kb


def asking_kb(
    client: Any, kb_id: str = f"{KB_BASE}/asker", prefixes: dict[str, str] = EX
) -> KnowledgeBase:
    """A KB with one ASK interaction, ``heights``, that matches `answering_kb`'s."""
    kb = KnowledgeBase(id=kb_id, name="asker", description="benchmark asker", client=client)
    kb.ask_ki("heights", "?t ex:height ?h .", prefixes=prefixes)
    return kb


async def start(*kbs: KnowledgeBase) -> None:
    """Connect and register each KB."""
    for kb in kbs:
        await kb.connect()
        await kb.register()


async def finish(*kbs: KnowledgeBase) -> None:
    """Unregister (whatever goes wrong) and close each KB."""
    for kb in kbs:
        with contextlib.suppress(Exception):
            await kb.unregister()
        await kb.close()


async def stop(loop: asyncio.Task[None]) -> None:
    """Cancel a handling loop's task and wait for it."""
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


async def gather_asks(asker: KnowledgeBase, count: int, limit: int | None = None) -> None:
    """Fire ``count`` asks with asyncio.gather (at most ``limit`` in flight).

    Each must succeed, with exactly one exchange: the KB under test. Another knowledge base
    that answers the same pattern (on a shared Knowledge Engine) would skew the figures, so it
    fails the run.
    """
    gate = asyncio.Semaphore(limit or count)

    async def one() -> None:
        async with gate:
            info = await asker.ask_with_info("heights")
        failed = [e for e in info.exchange_info if e.status != ExchangeStatus.SUCCEEDED]
        if failed or not info.exchange_info:
            raise RuntimeError(f"an ask failed: {failed or 'no exchange'}")
        if len(info.exchange_info) != 1:
            others = [e.knowledge_base_id for e in info.exchange_info]
            raise RuntimeError(f"an ask reached {len(others)} knowledge bases, not one: {others}")

    await asyncio.gather(*(one() for _ in range(count)))


async def timed_asks(asker: KnowledgeBase, count: int) -> float:
    """Wall time of ``count`` asks gathered with at most IN_FLIGHT_ASKS in flight."""
    started = time.perf_counter()
    await gather_asks(asker, count, IN_FLIGHT_ASKS)
    return time.perf_counter() - started
