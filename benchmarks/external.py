"""The HTTP scenarios against an external Knowledge Engine (``harness.py --ke-url URL``).

Instead of serving the local engine, the harness points every knowledge base at the KE whose
REST base URL is given: the asker in the harness's process (on ``HttpxClient``, so its asks go
over HTTP too) and the answering knowledge base under test in a process of its own. Scenarios 0
(the round trip), 1 (concurrency, with the sequential raw httpx loop), 3 (the instant handler
against the overlapping raw httpx loop, with the answering process's CPU per request), 4
(wake-up latency) and 6 (the legacy SDK) run; the in-process parts of each are left out.

The KE may be shared with other users, so a run registers its knowledge bases under an id and
a pattern namespace of its own (``http://example.org/kb/bench-<run>/`` and
``http://example.org/bench-<run>/``), fails if an ask reaches any other knowledge base, and
deletes whatever it registered when it ends, also after an error.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from answering import Http
from common import Report, Sizes, asking_kb, finish, start
from scenarios_other import scenario_latency, scenario_legacy, scenario_round_trip
from scenarios_throughput import scenario_concurrency, scenario_overhead

from km_core import KnowledgeEngineError
from km_httpx import HttpxClient

EXTERNAL_SCENARIOS: list[Callable[[Sizes, Report, Http], Awaitable[None]]] = [
    scenario_round_trip,
    scenario_concurrency,
    scenario_overhead,
    scenario_latency,
    scenario_legacy,  # after scenario_overhead, whose HTTP figure it compares with
]


class KeUnreachable(Exception):
    """The external Knowledge Engine did not answer ``GET /version``."""


def run_id() -> str:
    """An id for this run, unique on a shared KE: the time, the process id and a random part."""
    return f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{secrets.token_hex(3)}"


async def delete_leftovers(client: HttpxClient, kb_base: str) -> list[str]:
    """Delete every KB whose id starts with ``kb_base/`` (what this run registered)."""
    deleted = []
    for kb in await client.list_kbs():
        if kb.knowledge_base_id.startswith(f"{kb_base}/"):
            with contextlib.suppress(KnowledgeEngineError):
                await client.unregister_kb(kb.knowledge_base_id)
                deleted.append(kb.knowledge_base_id)
    return deleted


@contextlib.asynccontextmanager
async def external_ke(
    url: str, label: str | None = None, pid: int | None = None
) -> AsyncIterator[tuple[Http, dict[str, Any]]]:
    """The `Http` server for the KE at ``url``, with a registered asker; cleaned up after.

    Args:
        url: The KE's REST base URL, e.g. ``http://127.0.0.1:8280/rest``.
        label: How the table names the server; by default ``KE <version> at <host:port>``.
        pid: The KE's process id on this machine, to take its CPU time per request.

    Yields:
        The server, and what the report records about it (URL, version, run id).

    Raises:
        KeUnreachable: ``GET /version`` failed.
    """
    run = run_id()
    kb_base = f"http://example.org/kb/bench-{run}"
    prefix = f"http://example.org/bench-{run}/"
    async with HttpxClient(url) as admin:
        try:
            version = await admin.get_version()
        except KnowledgeEngineError as exc:
            raise KeUnreachable(f"no Knowledge Engine answers at {url}: {exc}") from exc
        server = {"url": url, "version": version, "run": run, "kb_base": kb_base, "pid": pid}
        asker = asking_kb(HttpxClient(url), f"{kb_base}/asker", {"ex": prefix})
        try:
            await start(asker)
            yield (
                Http(
                    url,
                    asker,
                    label=label or f"KE {version} at {urlsplit(url).netloc}",
                    kb_base=kb_base,
                    prefix=prefix,
                    external=True,
                    server_pid=pid,
                ),
                server,
            )
        finally:
            await finish(asker)
            server["left_over_kbs_deleted"] = await delete_leftovers(admin, kb_base)
