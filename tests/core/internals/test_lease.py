"""Tests of `km_core._session._lease`: `LeaseRenewal`, the task that renews a KB's lease.

Time is the event loop's, moved on by `LoopClock`: no test waits for a lease period.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from km_core import Backoff, KnowledgeEngineServerError
from km_core._lifecycle import Lifecycle, Registration
from km_core._session._lease import LeaseRenewal
from km_testing import TestClient
from tests.core.internals.hosts import Host
from tests.support import KB_ID, LoopClock, let_the_loop_run

LEASE = 30
ONE_SECOND = Backoff(initial=1, maximum=1, jitter=0)


@pytest.fixture
async def clock() -> AsyncIterator[LoopClock]:
    with LoopClock(asyncio.get_running_loop()) as clock:
        yield clock


async def registered(
    client: TestClient, backoff: Backoff = ONE_SECOND
) -> tuple[LeaseRenewal, Lifecycle]:
    """A renewal for a KB registered with a lease of `LEASE` seconds."""
    host = Host(client, lease_renewal_time=LEASE, poll_backoff=backoff)
    await client.register_kb(host.info())
    state = Lifecycle()
    state.registration = Registration.ACTIVE
    return LeaseRenewal(host, state), state


async def advance(clock: LoopClock, seconds: float) -> None:
    await clock.advance(seconds)
    await let_the_loop_run()


async def test_the_lease_is_renewed_at_half_its_time(client: TestClient, clock: LoopClock) -> None:
    renewal, _ = await registered(client)
    renewal.start(LEASE)
    await let_the_loop_run()
    await advance(clock, LEASE / 2 - 0.5)
    assert client.lease_renewals == 0
    await advance(clock, 0.5)
    assert client.lease_renewals == 1
    await advance(clock, LEASE / 2)
    assert client.lease_renewals == 2
    renewal.stop()


async def test_starting_twice_starts_one_renewal(client: TestClient, clock: LoopClock) -> None:
    renewal, _ = await registered(client)
    renewal.start(LEASE)
    renewal.start(LEASE)  # renewing already: nothing more
    await let_the_loop_run()
    await advance(clock, LEASE / 2)
    assert client.lease_renewals == 1  # two tasks would have renewed twice
    assert renewal.running
    renewal.stop()


async def test_stop_ends_the_renewal_and_it_may_start_again(
    client: TestClient, clock: LoopClock
) -> None:
    renewal, _ = await registered(client)
    renewal.start(LEASE)
    await let_the_loop_run()
    renewal.stop()
    assert not renewal.running
    renewal.stop()  # harmless a second time
    await advance(clock, LEASE)
    assert client.lease_renewals == 0
    renewal.start(LEASE)
    await let_the_loop_run()
    await advance(clock, LEASE / 2)
    assert client.lease_renewals == 1
    renewal.stop()


async def test_the_renewal_ends_once_the_kb_is_no_longer_registered(
    client: TestClient, clock: LoopClock, caplog: pytest.LogCaptureFixture
) -> None:
    renewal, state = await registered(client)
    renewal.start(LEASE)
    await let_the_loop_run()
    state.registration = Registration.NONE
    with caplog.at_level(logging.ERROR, logger="km_core"):
        await advance(clock, LEASE / 2)
    assert client.lease_renewals == 0
    assert not renewal.running  # the task ended by itself
    assert caplog.records == []  # an end, not a failure


async def test_a_failing_renewal_is_tried_again_after_a_backoff_of_at_most_a_tenth_of_the_lease(
    client: TestClient, clock: LoopClock, caplog: pytest.LogCaptureFixture
) -> None:
    # The backoff asks for 10 s; a pause is cut to a tenth of the lease, 3 s.
    renewal, _ = await registered(client, Backoff(initial=10, maximum=10, jitter=0))
    client.fail_next("renew_lease", KnowledgeEngineServerError("busy"))
    renewal.start(LEASE)
    await let_the_loop_run()
    with caplog.at_level(logging.WARNING, logger="km_core"):
        await advance(clock, LEASE / 2)  # the renewal fails
    assert client.lease_renewals == 0
    await advance(clock, LEASE / 10 - 0.1)
    assert client.lease_renewals == 0
    await advance(clock, 0.2)
    assert client.lease_renewals == 1  # tried again after 3 s, not at the next half-lease
    assert renewal.running
    [warning] = [r.getMessage() for r in caplog.records]
    assert f"knowledge base {KB_ID}: renewing the lease failed (busy" in warning
    renewal.stop()


async def test_an_error_that_ends_the_renewal_is_logged(
    client: TestClient, clock: LoopClock, caplog: pytest.LogCaptureFixture
) -> None:
    renewal, _ = await registered(client)
    renewal.start(LEASE)
    await let_the_loop_run()
    await client.close()  # the next renewal raises ClientClosedError: not retried
    with caplog.at_level(logging.ERROR, logger="km_core"):
        await advance(clock, LEASE / 2)
    assert not renewal.running
    [record] = caplog.records
    assert f"knowledge base {KB_ID}: lease renewal stopped: ClientClosedError(" in (
        record.getMessage()
    )
    assert record.exc_info is not None
