"""Soak: serve many requests through the TestClient with random faults; none may be lost.

Run with ``hatch run soak`` (the default run skips it). ``KM_SOAK_REQUESTS`` sets how many
requests it serves (default 100,000); ``KM_SOAK_SEED`` the random seed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import resource
import time

import pytest

from km_core import (
    BindingSet,
    ErrorPolicy,
    HandleRequest,
    HandleResponse,
    KnowledgeBase,
    KnowledgeEngineServerError,
    KnowledgeEngineUnavailableError,
    PollConflictError,
    PollResult,
)
from km_testing import TestClient
from tests.faults.harness import EX, FAIL, FAST, PATTERN, tree

pytestmark = pytest.mark.soak

REQUESTS = int(os.environ.get("KM_SOAK_REQUESTS", "100000"))
SEED = int(os.environ.get("KM_SOAK_SEED", "20240601"))
BATCH = 1000
BOUND = 16
MAX_RSS_GROWTH = 50 * 1024 * 1024


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class SoakClient(TestClient):
    """Counts what the loop accepted and answered, keeping only the unanswered ids."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted = 0
        self.answered = 0
        self.errors_answered = 0
        self.duplicates = 0
        self.outstanding: set[int] = set()
        self.target = 0
        self.reached = asyncio.Event()

    async def poll_ki_call(self, kb_id: str) -> tuple[PollResult, HandleRequest | None]:
        result, request = await super().poll_ki_call(kb_id)
        if request is not None:
            self.accepted += 1
            self.outstanding.add(request.handle_request_id)
        return result, request

    async def post_handle_response(self, kb_id: str, ki_id: str, response: HandleResponse) -> None:
        await super().post_handle_response(kb_id, ki_id, response)
        self.handle_responses.clear()  # keep nothing per request
        if response.handle_request_id in self.outstanding:
            self.outstanding.remove(response.handle_request_id)
        else:
            self.duplicates += 1
        self.answered += 1
        if response.error_message is not None:
            self.errors_answered += 1
        if self.answered >= self.target:
            self.reached.set()


TRANSIENT = [
    KnowledgeEngineUnavailableError("connection reset by peer"),
    KnowledgeEngineServerError("Bad Gateway", status_code=502),
    KnowledgeEngineServerError("Internal Server Error", status_code=500),
]


async def test_soak_serves_every_request_under_random_faults() -> None:
    rng = random.Random(SEED)
    client = SoakClient()
    kb = KnowledgeBase(
        id="http://example.org/kb/soak",
        name="soak",
        description="",
        client=client,
        poll_backoff=FAST,
        error_policy=ErrorPolicy.ERROR_MESSAGE,
        response_retry_period=30,
    )
    running = 0
    max_running = 0

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        nonlocal running, max_running
        running += 1
        max_running = max(max_running, running)
        try:
            if rng.random() < 0.5:
                await asyncio.sleep(0)
            if binding_set[0]["tree"] == FAIL:
                raise RuntimeError("injected handler error")
            return [{"tree": binding_set[0]["tree"], "height": '"21"'}]
        finally:
            running -= 1

    quiet = logging.getLogger("km_core")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # the captured log would hold a record per fault
    sent = handler_errors = post_faults = poll_faults = 0
    rss_before = rss_after = 0
    started = time.monotonic()
    try:
        await kb.register()
        loop_task = asyncio.create_task(kb.start_handling_loop(max_concurrent_handlers=BOUND))
        while sent < REQUESTS:
            size = min(BATCH, REQUESTS - sent)
            for n in range(size):
                failing = rng.random() < 0.05
                handler_errors += failing
                client.enqueue_handle_request(
                    "heights", [{"tree": FAIL if failing else tree((sent + n) % 1000)}]
                )
            if rng.random() < 0.5:
                times = rng.randint(1, 5)
                post_faults += times
                client.fail_next("post_handle_response", rng.choice(TRANSIENT), times=times)
            if rng.random() < 0.5:
                times = rng.randint(1, 5)
                poll_faults += times
                error = rng.choice([*TRANSIENT, PollConflictError("one poll per KB")])
                client.fail_next("poll_ki_call", error, times=times)
            sent += size
            client.target = sent
            client.reached.clear()
            if client.answered < sent:
                await asyncio.wait_for(client.reached.wait(), 60)
            if rss_before == 0 and sent >= min(REQUESTS, 5 * BATCH):
                rss_before = rss_bytes()  # after warming up: pools, caches, code paths
        rss_after = rss_bytes()
        kb.stop()
        await asyncio.wait_for(loop_task, 30)
    finally:
        quiet.setLevel(level)
    elapsed = time.monotonic() - started
    lost = sent - client.answered + client.duplicates
    growth = rss_after - rss_before
    print(
        f"\nsoak: {sent} requests in {elapsed:.1f} s ({sent / elapsed:.0f}/s); "
        f"accepted {client.accepted}, answered {client.answered} "
        f"({client.errors_answered} as errors), lost {lost}, duplicates {client.duplicates}; "
        f"injected {handler_errors} handler errors, {post_faults} post faults, "
        f"{poll_faults} poll faults; max concurrent {max_running}/{BOUND}; "
        f"RSS {rss_before / 2**20:.1f} -> {rss_after / 2**20:.1f} MiB "
        f"({growth / 2**20:+.1f} MiB), max RSS "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB"
    )
    assert lost == 0
    assert client.duplicates == 0
    assert not client.outstanding
    assert client.accepted == sent
    assert client.errors_answered == handler_errors
    assert kb.handlers_in_flight == 0
    assert max_running <= BOUND
    assert growth < MAX_RSS_GROWTH
