"""connect(): waits as long as asked, says why the KE could not be reached, and how often."""

from __future__ import annotations

import logging
import re
import time

import pytest

from km_core import (
    Backoff,
    KnowledgeBase,
    KnowledgeEngineServerError,
    KnowledgeEngineUnavailableError,
)
from km_testing import TestClient

KB_ID = "http://example.org/kb/connecting"


def make_kb(client: TestClient, backoff: Backoff | None = None) -> KnowledgeBase:
    return KnowledgeBase(
        id=KB_ID,
        name="connecting",
        description="",
        client=client,
        poll_backoff=backoff or Backoff(initial=0.01, maximum=0.05),
    )


async def test_one_attempt_names_its_cause(client: TestClient) -> None:
    client.fail_next("get_version", KnowledgeEngineUnavailableError("nothing is listening"))
    with pytest.raises(KnowledgeEngineUnavailableError) as caught:
        await make_kb(client).connect()
    assert caught.value.message == (
        "cannot connect to the Knowledge Engine: nothing is listening (1 attempt)"
    )
    assert caught.value.kb_id == KB_ID
    assert caught.value.endpoint == "GET /version"
    assert isinstance(caught.value.__cause__, KnowledgeEngineUnavailableError)


async def test_a_wait_of_n_seconds_lasts_n_seconds(client: TestClient) -> None:
    client.available = False
    # A backoff whose second pause alone is longer than the wait: the last attempt still
    # comes when the wait is over, not one pause early.
    kb = make_kb(client, Backoff(initial=0.1, maximum=5, multiplier=10, jitter=0))
    started = time.monotonic()
    with pytest.raises(KnowledgeEngineUnavailableError) as caught:
        await kb.connect(wait=0.4)
    elapsed = time.monotonic() - started
    assert elapsed >= 0.4
    assert elapsed < 5  # a generous bound for a noisy machine
    found = re.search(r"\((\d+) attempts over ([\d.]+) s\)$", caught.value.message)
    assert found is not None, caught.value.message
    assert int(found.group(1)) == 3  # at 0, 0.1 and 0.4 s
    assert float(found.group(2)) >= 0.4


async def test_waiting_logs_each_distinct_cause_once_then_succeeds(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    refused = KnowledgeEngineUnavailableError("nothing is listening")
    starting = KnowledgeEngineServerError("the KE is starting", status_code=503)
    client.fail_next("get_version", refused, times=3)
    client.fail_next("get_version", starting, times=3)
    caplog.set_level(logging.INFO, logger="km_core")
    await make_kb(client).connect(wait=10)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "connecting to the Knowledge Engine failed (nothing is listening" in warnings[0]
    assert "connecting to the Knowledge Engine failed (the KE is starting" in warnings[1]
    assert all(KB_ID in warning for warning in warnings)
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any("answers (version 1.5.0) after 7 attempts over" in info for info in infos)
