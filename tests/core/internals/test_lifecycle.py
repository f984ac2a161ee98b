"""Tests of `km_core._lifecycle`: the one lifecycle state of a knowledge base (`Lifecycle`)."""

from __future__ import annotations

import asyncio

import pytest

from km_core._lifecycle import STOPPED_BY_ENGINE, SUPERSEDED, Lifecycle, Registration, Run
from tests.support import let_the_loop_run


def handling(state: Lifecycle) -> Run | None:
    """``state.handling``, read afresh (as mypy would not after a narrowing assert)."""
    return state.handling


def serving(state: Lifecycle) -> Run | None:
    """``state.serving``, read afresh."""
    return state.serving


@pytest.mark.parametrize(
    ("registration", "registered"),
    [
        (Registration.NONE, False),
        (Registration.ACTIVE, True),
        (Registration.ENDED, True),
        (Registration.SUPERSEDED, False),
    ],
)
def test_registered_counts_an_active_or_ended_registration_only(
    registration: Registration, registered: bool
) -> None:
    state = Lifecycle()
    state.registration = registration
    assert state.registered is registered


@pytest.mark.parametrize(
    ("registration", "reason"),
    [
        (Registration.NONE, None),
        (Registration.ACTIVE, None),
        (Registration.ENDED, STOPPED_BY_ENGINE),
        (Registration.SUPERSEDED, SUPERSEDED),
    ],
)
def test_ended_because_says_why_the_ke_ended_the_registration(
    registration: Registration, reason: str | None
) -> None:
    state = Lifecycle()
    state.registration = registration
    assert state.ended_because == reason


def test_the_reasons_say_what_happened() -> None:
    assert "stopped this knowledge base while it served" in STOPPED_BY_ENGINE
    assert "lease expired" in STOPPED_BY_ENGINE
    assert "another instance registered this knowledge base id" in SUPERSEDED


def test_a_new_lifecycle_is_idle_and_unregistered() -> None:
    state = Lifecycle()
    assert state.registration is Registration.NONE
    assert state.serving is None
    assert state.handling is None
    assert state.stop_requested is False
    assert state.stop_target() is None
    assert repr(state) == "<Lifecycle none, idle>"


async def test_start_handling_records_the_current_task_and_loop_then_end_handling_clears_it() -> (
    None
):
    state = Lifecycle()
    state.stop_requested = True  # left over from an earlier run
    run = state.start_handling()
    assert state.handling is run
    assert run.task is asyncio.current_task()
    assert run.loop is asyncio.get_running_loop()
    assert state.stop_requested is False  # a new run starts without a stop asked for
    assert not run.done.is_set()
    assert repr(state) == "<Lifecycle none, handling>"
    state.end_handling()
    assert handling(state) is None
    assert run.done.is_set()  # whoever waits for the run to be over wakes up
    state.end_handling()  # harmless a second time
    assert handling(state) is None


async def test_the_handling_loop_cannot_start_twice() -> None:
    state = Lifecycle()
    first = state.start_handling()
    with pytest.raises(RuntimeError, match="already running"):
        state.start_handling()
    assert state.handling is first


async def test_start_serving_records_the_current_task_and_end_serving_clears_it() -> None:
    state = Lifecycle()
    state.stop_requested = True
    state.start_serving()
    assert state.serving is not None
    assert state.serving.task is asyncio.current_task()
    assert state.serving.loop is asyncio.get_running_loop()
    assert state.stop_requested is False
    assert repr(state) == "<Lifecycle none, serving>"
    state.end_serving()
    assert serving(state) is None


async def test_stop_target_prefers_the_handling_loop_over_serve() -> None:
    state = Lifecycle()
    state.start_serving()
    serving = state.serving
    assert state.stop_target() is serving  # serve is still starting: stop cancels serve
    handling = state.start_handling()
    assert state.stop_target() is handling  # the loop runs: stop cancels the loop, not serve
    state.end_handling()
    assert state.stop_target() is serving


async def test_request_stop_cancels_the_task_once() -> None:
    state = Lifecycle()
    task = asyncio.create_task(asyncio.Event().wait())
    await let_the_loop_run()
    state.request_stop(task)
    state.request_stop(task)  # a second stop asks for nothing more
    assert state.stop_requested is True
    assert task.cancelling() == 1
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_request_stop_leaves_a_finished_task_alone() -> None:
    state = Lifecycle()
    task = asyncio.create_task(asyncio.sleep(0))
    await task
    state.request_stop(task)
    assert state.stop_requested is False
    assert not task.cancelled()
