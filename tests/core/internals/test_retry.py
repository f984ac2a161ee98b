"""Tests of `km_core._retry`: the retry `Episode`.

tests/core/test_retries.py covers the WARNING per cause (two at most), the INFO line at the
first success and the ``Retry-After`` floor and cap; these cover the rest of the unit.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from km_core import Backoff, KnowledgeEngineServerError, UnexpectedResponseError
from km_core._retry import MAX_WARNINGS, Episode
from tests.support import KB_ID, LoopClock, let_the_loop_run

STEADY = Backoff(initial=1, maximum=8, multiplier=2, jitter=0)
"""1, 2, 4, 8, 8, ... seconds, without jitter."""


def warnings_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_first_is_true_once_per_kind_until_the_episode_ends() -> None:
    episode = Episode(STEADY, kb_id=KB_ID, what="polling")
    assert episode.first("forgotten") is True
    assert episode.first("forgotten") is False
    assert episode.first("refused") is True  # another kind has a first of its own
    assert episode.first("refused") is False
    episode.succeeded()
    assert episode.first("forgotten") is True  # a new episode starts afresh


def test_each_failure_lengthens_the_pause_and_a_success_resets_it() -> None:
    episode = Episode(STEADY, kb_id=KB_ID, what="polling")
    assert episode.delay() == 1  # before any failure: the first pause
    assert [episode.failed(OSError("refused"), log=False) for _ in range(5)] == [1, 2, 4, 8, 8]
    assert episode.failures == 5
    assert episode.succeeded() == 5
    assert episode.failures == 0
    assert episode.failed(OSError("refused"), log=False) == 1


def test_failed_without_log_counts_but_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    episode = Episode(STEADY, kb_id=KB_ID, what="registering")
    with caplog.at_level(logging.DEBUG, logger="km_core"):
        episode.failed(OSError("refused"), log=False)
        episode.failed(OSError("refused"), log=False)
    assert episode.failures == 2
    assert caplog.records == []


def test_a_cause_the_caller_told_is_not_warned_about_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    episode = Episode(STEADY, kb_id=KB_ID, what="registering")
    with caplog.at_level(logging.DEBUG, logger="km_core"):
        episode.failed(OSError("the KE forgot it"), log=False)  # the caller logged it
        episode.failed(OSError("the KE forgot it"))
    assert warnings_in(caplog) == []
    [debug] = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert "registering failed again (attempt 2: the KE forgot it)" in debug


def test_a_cause_the_caller_told_counts_toward_the_warnings_of_the_episode(
    caplog: pytest.LogCaptureFixture,
) -> None:
    episode = Episode(STEADY, kb_id=KB_ID, what="registering")
    with caplog.at_level(logging.DEBUG, logger="km_core"):
        episode.failed(OSError("forgotten"), log=False)  # the caller's own WARNING
        for cause in ["refused", "reset", "timed out"]:
            episode.failed(OSError(cause))
    assert len(warnings_in(caplog)) == MAX_WARNINGS - 1
    assert "registering failed (refused)" in warnings_in(caplog)[0]


def test_the_warnings_are_bounded_per_episode_and_a_new_episode_may_warn_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    episode = Episode(STEADY, kb_id=KB_ID, what="polling")
    with caplog.at_level(logging.DEBUG, logger="km_core"):
        for cause in ["a", "b", "c", "d", "a", "b"]:
            episode.failed(OSError(cause))
        assert len(warnings_in(caplog)) == MAX_WARNINGS
        episode.succeeded()
        episode.failed(OSError("c"))
    warnings = warnings_in(caplog)
    assert len(warnings) == MAX_WARNINGS + 1
    assert "polling failed (c)" in warnings[-1]
    assert KB_ID in warnings[-1]


def test_the_warning_says_when_the_next_attempt_comes(caplog: pytest.LogCaptureFixture) -> None:
    episode = Episode(STEADY, kb_id=KB_ID, what="renewing the lease")
    with caplog.at_level(logging.WARNING, logger="km_core"):
        episode.failed(KnowledgeEngineServerError("busy", status_code=503))
    [warning] = warnings_in(caplog)
    assert f"knowledge base {KB_ID}: renewing the lease failed (busy (status 503))" in warning
    assert "trying again in 1.00 s" in warning


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (
            UnexpectedResponseError("not JSON", body="<html>" + "x" * 500),
            "the answer began '<html>",
        ),
        (UnexpectedResponseError("not JSON", body=""), "the answer was empty"),
        (TimeoutError(), "(TimeoutError)"),  # no text: its type names it
    ],
    ids=["body", "empty body", "no text"],
)
def test_the_cause_says_what_came_back(
    caplog: pytest.LogCaptureFixture, error: BaseException, cause: str
) -> None:
    episode = Episode(STEADY, kb_id=KB_ID, what="polling")
    with caplog.at_level(logging.WARNING, logger="km_core"):
        episode.failed(error)
    [warning] = warnings_in(caplog)
    assert cause in warning
    assert "x" * 201 not in warning  # a long body is quoted in part only


def test_succeeded_without_failures_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    episode = Episode(STEADY, kb_id=KB_ID, what="polling")
    with caplog.at_level(logging.DEBUG, logger="km_core"):
        assert episode.succeeded() == 0
    assert caplog.records == []


async def test_pause_waits_the_backoff() -> None:
    episode = Episode(Backoff(initial=2, maximum=2, jitter=0), kb_id=KB_ID, what="polling")
    with LoopClock(asyncio.get_running_loop()) as clock:
        pausing = asyncio.create_task(episode.pause(OSError("refused"), log=False))
        await let_the_loop_run()
        await clock.advance(1.9)
        await let_the_loop_run()
        assert not pausing.done()
        await clock.advance(0.2)
        await asyncio.wait_for(pausing, 5)
    assert episode.failures == 1


async def test_pause_at_most_shortens_the_wait_but_never_lengthens_it() -> None:
    long = Episode(Backoff(initial=10, maximum=10, jitter=0), kb_id=KB_ID, what="connecting")
    short = Episode(Backoff(initial=1, maximum=1, jitter=0), kb_id=KB_ID, what="connecting")
    with LoopClock(asyncio.get_running_loop()) as clock:
        capped = asyncio.create_task(long.pause(OSError("refused"), log=False, at_most=0.5))
        roomy = asyncio.create_task(short.pause(OSError("refused"), log=False, at_most=100))
        await let_the_loop_run()
        await clock.advance(0.6)
        await asyncio.wait_for(capped, 5)  # a deadline's remaining time caps the pause
        await let_the_loop_run()
        assert not roomy.done()  # a far deadline does not stretch a short pause
        await clock.advance(0.5)
        await asyncio.wait_for(roomy, 5)
    assert long.failures == short.failures == 1


async def test_pause_at_most_a_deadline_already_past_does_not_wait() -> None:
    episode = Episode(Backoff(initial=10, maximum=10, jitter=0), kb_id=KB_ID, what="connecting")
    with LoopClock(asyncio.get_running_loop()):
        pausing = asyncio.create_task(episode.pause(OSError("refused"), log=False, at_most=-3))
        await let_the_loop_run()
        assert pausing.done()  # no clock moved: the pause took no time at all
    assert episode.failures == 1
