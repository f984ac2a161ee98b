"""Tests of `km_core._handling._permits`: the handling loop's permits and their one waiter."""

from __future__ import annotations

import asyncio

import pytest

from km_core._handling._permits import Permits
from tests.support import let_the_loop_run


async def _waiting_take() -> tuple[Permits, asyncio.Task[None]]:
    """One permit, taken; and a second take, waiting for it."""
    permits = Permits(1)
    assert permits.take_nowait()
    taking = asyncio.create_task(permits.take())
    await let_the_loop_run()
    assert not taking.done()
    return permits, taking


def test_free_permits_are_taken_without_waiting() -> None:
    permits = Permits(2)
    assert permits.take_nowait()
    assert permits.take_nowait()
    assert not permits.take_nowait()
    assert permits.free == 0
    permits.release()
    assert permits.free == 1
    assert repr(permits) == "<Permits 1 of 2 free>"


async def test_a_take_waits_until_a_release_wakes_it() -> None:
    permits, taking = await _waiting_take()
    permits.release()
    await asyncio.wait_for(taking, 5)
    assert permits.free == 0


async def test_a_cancelled_take_takes_nothing_and_leaves_no_waiter() -> None:
    permits, taking = await _waiting_take()
    taking.cancel()
    with pytest.raises(asyncio.CancelledError):
        await taking
    permits.release()
    assert permits.free == 1
    await asyncio.wait_for(permits.take(), 5)  # a new take does not find a stale waiter
    assert permits.free == 0


async def test_a_release_that_frees_a_permit_a_cancelled_waiter_missed_is_kept() -> None:
    permits, taking = await _waiting_take()
    permits.release()  # wakes the waiter ...
    taking.cancel()  # ... which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await taking
    assert permits.free == 1  # the permit was not lost


async def test_only_one_task_may_wait() -> None:
    permits, first = await _waiting_take()
    with pytest.raises(RuntimeError, match="second task waits"):
        await permits.take()
    permits.release()
    await asyncio.wait_for(first, 5)
