"""Every retry path backs off, and a KB never deletes a registration that is not its own."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest

from km_core import (
    Backoff,
    BindingSet,
    ConfigurationError,
    HandleRequest,
    KnowledgeBase,
    KnowledgeBaseInfo,
    KnowledgeBaseStoppedError,
    KnowledgeEngineServerError,
    PollConflictError,
    PollResult,
    RateLimitedError,
    SmartConnectorNotFoundError,
)
from km_core._retry import Episode
from km_testing import TestClient
from tests.support import EX, OAK, LoopClock, let_the_loop_run

PATTERN = "?tree ex:height ?height ."
ANSWER = [{"tree": OAK, "height": '"21"'}]
KB_ID = "http://example.org/kb/retrying"
FAST = Backoff(initial=0.001, maximum=0.01)


def make_kb(client: TestClient, **options: object) -> KnowledgeBase:
    options.setdefault("poll_backoff", FAST)
    kb = KnowledgeBase(
        id=KB_ID,
        name="retrying",
        description="",
        client=client,
        **options,  # type: ignore[arg-type]
    )

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        return ANSWER

    return kb


# ---------------------------------------------------------------- the episode (private, on purpose)


async def test_an_episode_warns_once_per_cause_at_most_twice(
    caplog: pytest.LogCaptureFixture,
) -> None:
    episode = Episode(FAST, kb_id=KB_ID, what="polling")
    caplog.set_level(logging.DEBUG, logger="km_core")
    for error in ["refused", "refused", "reset", "reset", "timed out", "refused"]:
        await episode.pause(ConnectionError(error))
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 2
    assert "polling failed (refused)" in warnings[0]
    assert "polling failed (reset)" in warnings[1]
    assert episode.succeeded() == 6
    assert episode.failures == 0
    assert any(
        "polling works again after 6 failed attempts" in r.getMessage() for r in caplog.records
    )


def test_an_episode_pauses_at_least_what_retry_after_asks() -> None:
    episode = Episode(Backoff(initial=0.1, maximum=1, jitter=0), kb_id=KB_ID, what="polling")
    limited = RateLimitedError("Too Many Requests", status_code=429)
    limited.retry_after = 3.0
    assert episode.failed(limited, log=False) == 3.0
    assert episode.failed(KnowledgeEngineServerError("boom"), log=False) == 0.2
    limited.retry_after = 10_000  # a hostile Retry-After is capped
    assert episode.failed(limited, log=False) == 10.0


# ---------------------------------------------------------------- the loop


async def test_instant_heartbeats_are_backed_off(client: TestClient) -> None:
    kb = make_kb(client, poll_backoff=Backoff(initial=0.05, maximum=0.05, jitter=0))
    await kb.register()
    for _ in range(6):
        client.enqueue_repoll()
    request = client.enqueue_handle_request("heights", [])
    client.enqueue_exit()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await kb.start_handling_loop()
    # Six heartbeats at once: the first is let through, the other five each pause 50 ms.
    assert loop.time() - started >= 5 * 0.05
    assert client.last_handle_response is not None
    assert client.last_handle_response.handle_request_id == request


@pytest.mark.parametrize(("conflicts", "pauses"), [(1, 0), (2, 1), (4, 3)])
async def test_a_409_after_an_answered_poll_is_polled_again_at_once_then_backed_off(
    client: TestClient, conflicts: int, pauses: int
) -> None:
    # KE 1.5.0 now and then refuses the poll that follows an answered one with 409: the first
    # is tried again at once, and every further one in a row backs off.
    kb = make_kb(client, poll_backoff=Backoff(initial=0.2, maximum=0.2, jitter=0))
    await kb.register()
    client.fail_next("poll_ki_call", PollConflictError("Only one connection"), times=conflicts)
    request = client.enqueue_handle_request("heights", [])
    client.enqueue_exit()
    with LoopClock(asyncio.get_running_loop()) as clock:
        serving = asyncio.create_task(kb.start_handling_loop())
        for _ in range(50):  # 5 s of loop time at most
            await let_the_loop_run()
            if serving.done():
                break
            await clock.advance(0.1)
        await serving
    # Each pause is 0.2 s of loop time, which passes only as the clock is moved on.
    assert pauses * 0.2 - 0.01 <= clock.offset <= pauses * 0.2 + 0.11
    assert client.last_handle_response is not None
    assert client.last_handle_response.handle_request_id == request


class ForgetfulClient(TestClient):
    """A KE that forgets the KB right after each registration, ``times`` times: 404 each poll."""

    def __init__(self, times: int) -> None:
        super().__init__()
        self.forget = times
        self.registrations = 0

    async def register_kb(self, kb: KnowledgeBaseInfo, *, reregister: bool = False) -> None:
        self.registrations += 1
        await super().register_kb(kb, reregister=reregister)

    async def poll_ki_call(self, kb_id: str) -> tuple[PollResult, HandleRequest | None]:
        if self.forget:
            self.forget -= 1
            await self.unregister_kb(kb_id)
            raise SmartConnectorNotFoundError("unknown KB", kb_id=kb_id)
        return await super().poll_ki_call(kb_id)


async def test_a_ke_that_forgets_the_kb_right_after_each_registration_is_backed_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = ForgetfulClient(times=5)
    kb = make_kb(client, poll_backoff=Backoff(initial=0.02, maximum=0.02, jitter=0))
    await kb.register()
    client.enqueue_exit()
    loop = asyncio.get_running_loop()
    started = loop.time()
    with caplog.at_level(logging.DEBUG, logger="km_core"):
        await kb.start_handling_loop()
    assert client.registrations == 1 + 5
    assert loop.time() - started >= 4 * 0.02  # every 404 after the first paused first
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "registering again" in warnings[0].getMessage()


async def test_a_kb_whose_id_another_instance_registered_stops_without_deleting_it(
    client: TestClient,
) -> None:
    kb = make_kb(client)
    await kb.register()
    # Another instance (same id) replaced it: the KE knows the KB, but not this one's poll.
    newer = make_kb(client)
    await newer.register()  # deletes and registers: the registration is the newer one's
    client.fail_next("poll_ki_call", SmartConnectorNotFoundError("unknown KB", kb_id=KB_ID))
    with pytest.raises(KnowledgeBaseStoppedError, match="another instance registered"):
        await kb.serve(handle_signals=False)
    assert client.registered_kb is not None  # the newer instance's registration is left alone
    assert not kb.registered


async def test_a_kb_that_vanishes_while_its_interactions_register_is_registered_again(
    client: TestClient,
) -> None:
    kb = make_kb(client)
    kb.ask_ki("neighbours", PATTERN, prefixes=EX)
    client.fail_next("register_ki", SmartConnectorNotFoundError("unknown KB", kb_id=KB_ID))
    await kb.register()
    assert sorted(client.registered_kis) == [
        f"{KB_ID}/interaction/heights",
        f"{KB_ID}/interaction/neighbours",
    ]


async def test_a_lease_renewal_that_fails_is_tried_again_soon(client: TestClient) -> None:
    kb = make_kb(
        client, lease_renewal_time=30, poll_backoff=Backoff(initial=1, maximum=1, jitter=0)
    )
    client.fail_next("renew_lease", KnowledgeEngineServerError("busy"), times=2)
    with LoopClock(asyncio.get_running_loop()) as clock:
        await kb.register()
        await let_the_loop_run()  # the renewal task starts its schedule
        await clock.advance(15)  # half the lease: the first renewal fails
        await let_the_loop_run()
        for _ in range(2):  # each retry comes a backoff later, not at the next half-lease
            await clock.advance(1)
            await let_the_loop_run()
        assert client.lease_renewals == 1
        await clock.advance(14)  # and the schedule goes on from there
        await let_the_loop_run()
        assert client.lease_renewals == 1
        await clock.advance(1)
        await let_the_loop_run()
        assert client.lease_renewals == 2
        await kb.unregister()


def test_a_kb_id_that_cannot_go_in_a_header_is_refused_with_what_to_use() -> None:
    with pytest.raises(ConfigurationError, match=re.escape("'http://example.org/kb/caf%C3%A9'")):
        KnowledgeBase(id="http://example.org/kb/café", name="c", description="")
    with pytest.raises(ConfigurationError, match="printable ASCII"):
        KnowledgeBase(id="http://example.org/kb/\x01", name="c", description="")
    for not_an_iri in ("https://", "http:foo", "kb"):
        with pytest.raises(ConfigurationError, match="not an absolute IRI"):
            KnowledgeBase(id=not_an_iri, name="c", description="")
