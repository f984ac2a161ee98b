"""Tests of `km_core._session._registration`: the `Session`, a KB's registration with the KE."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from km_core import (
    BindingSet,
    KnowledgeBaseInfo,
    KnowledgeEngineError,
    KnowledgeEngineResponseError,
    KnowledgeEngineServerError,
    KnowledgeEngineUnavailableError,
    KnowledgeInteractionRegistration,
    SmartConnectorNotFoundError,
    UnknownKnowledgeInteractionError,
)
from km_core._declarations import Registry
from km_core._lifecycle import Lifecycle, Registration
from km_core._retry import Episode
from km_core._session._registration import REGISTRATION_ATTEMPTS, Session
from km_testing import TestClient
from tests.core.internals.hosts import ANSWER, FAST, Host, answer, ask, registry_of
from tests.support import KB_ID


class RecordingClient(TestClient):
    """A TestClient that records the order of the registration calls made through it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def register_kb(self, kb: KnowledgeBaseInfo, *, reregister: bool = False) -> None:
        self.calls.append("register_kb")
        await super().register_kb(kb, reregister=reregister)

    async def register_ki(self, kb_id: str, ki: KnowledgeInteractionRegistration) -> str:
        self.calls.append(f"register_ki {ki.knowledge_interaction_name}")
        return await super().register_ki(kb_id, ki)

    async def unregister_kb(self, kb_id: str) -> None:
        self.calls.append("unregister_kb")
        await super().unregister_kb(kb_id)

    async def unregister_ki(self, kb_id: str, ki_id: str) -> None:
        self.calls.append("unregister_ki")
        await super().unregister_ki(kb_id, ki_id)


async def heights(binding_set: BindingSet) -> BindingSet:
    return ANSWER


def ki_id(name: str) -> str:
    return f"{KB_ID}/interaction/{name}"


def make(**host_options: Any) -> tuple[Session, RecordingClient, Registry, Lifecycle]:
    client = RecordingClient()
    registry = registry_of(answer("heights", heights), ask("neighbours"))
    state = Lifecycle()
    return Session(Host(client, **host_options), registry, state), client, registry, state


def episode() -> Episode:
    return Episode(FAST, kb_id=KB_ID, what="polling")


# ---------------------------------------------------------------- register


async def test_register_registers_the_kb_then_its_interactions_and_records_their_ids() -> None:
    session, client, registry, state = make()
    await session.register(reregister=True)
    assert client.calls == ["register_kb", "register_ki heights", "register_ki neighbours"]
    assert state.registration is Registration.ACTIVE
    heights_ki, neighbours_ki = registry.lookup("heights"), registry.lookup("neighbours")
    assert heights_ki.id == ki_id("heights")
    assert neighbours_ki.id == ki_id("neighbours")
    assert registry.handled(ki_id("heights")) is heights_ki  # served by the handling loop
    assert registry.handled(ki_id("neighbours")) is None  # an ASK has no handler
    assert sorted(client.registered_kis) == [ki_id("heights"), ki_id("neighbours")]
    assert not session.lease.running  # no lease_renewal_time: nothing to renew


async def test_register_twice_is_refused() -> None:
    session, client, _, _ = make()
    await session.register(reregister=True)
    with pytest.raises(RuntimeError, match=f"{KB_ID} is already registered"):
        await session.register(reregister=True)
    assert client.calls.count("register_kb") == 1


async def test_register_starts_renewing_a_lease_and_unregister_stops_it() -> None:
    session, _, _, _ = make(lease_renewal_time=30)
    await session.register(reregister=True)
    assert session.lease.running
    await session.unregister()
    assert not session.lease.running


async def test_a_kb_that_keeps_vanishing_while_its_interactions_register_fails_in_the_end() -> None:
    session, client, _, _ = make()
    gone = SmartConnectorNotFoundError("unknown KB", kb_id=KB_ID)
    client.fail_next("register_ki", gone, times=REGISTRATION_ATTEMPTS)
    with pytest.raises(SmartConnectorNotFoundError):
        await session.register(reregister=True)
    assert client.calls.count("register_kb") == REGISTRATION_ATTEMPTS


# ---------------------------------------------------------------- register again


async def test_register_again_after_a_404_registers_the_kb_and_its_interactions(
    caplog: pytest.LogCaptureFixture,
) -> None:
    session, client, registry, state = make()
    await session.register(reregister=True)
    await client.unregister_kb(KB_ID)  # the KE restarted: it forgot the KB
    client.calls.clear()
    forgotten = SmartConnectorNotFoundError("unknown KB", kb_id=KB_ID)
    with caplog.at_level(logging.WARNING, logger="km_core"):
        assert await session.register_again(forgotten, episode()) is True
    assert client.calls == ["register_kb", "register_ki heights", "register_ki neighbours"]
    assert state.registration is Registration.ACTIVE
    assert registry.handled(ki_id("heights")) is registry.lookup("heights")
    [warning] = [r.getMessage() for r in caplog.records]
    assert f"knowledge base {KB_ID}: the Knowledge Engine no longer knows it" in warning
    assert "registering again" in warning


async def test_register_again_in_the_same_episode_pauses_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    session, client, _, _ = make()
    await session.register(reregister=True)
    forgetting = episode()
    forgotten = SmartConnectorNotFoundError("unknown KB", kb_id=KB_ID)
    with caplog.at_level(logging.WARNING, logger="km_core"):
        for _ in range(3):
            await client.unregister_kb(KB_ID)
            assert await session.register_again(forgotten, forgetting) is True
    assert forgetting.failures == 3  # the first was counted without a pause, the others paused
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


async def test_a_400_already_in_use_means_another_instance_took_over(
    caplog: pytest.LogCaptureFixture,
) -> None:
    session, client, _, state = make()
    await session.register(reregister=True)
    # Another instance, with the same KB id, replaces this one's registration.
    newer = Session(Host(client), registry_of(answer("heights", heights)), Lifecycle())
    await newer.register(reregister=True)
    client.calls.clear()
    with caplog.at_level(logging.WARNING, logger="km_core"):
        again = await session.register_again(
            SmartConnectorNotFoundError("unknown KB", kb_id=KB_ID), episode()
        )
    assert again is False
    assert client.calls == ["register_kb"]  # refused with 400: "already in use"
    assert state.registration is Registration.SUPERSEDED
    assert not state.registered
    assert any("another instance registered" in r.getMessage() for r in caplog.records)
    await session.unregister()
    assert "unregister_kb" not in client.calls  # the newer instance's registration stays
    assert client.registered_kb is not None


@pytest.mark.parametrize(
    "error",
    [KnowledgeEngineUnavailableError("refused"), KnowledgeEngineServerError("busy")],
    ids=["unreachable", "5xx"],
)
async def test_register_again_that_fails_for_now_backs_off_and_lets_the_loop_go_on(
    error: KnowledgeEngineError,
) -> None:
    session, client, _, _ = make()
    client.fail_next("register_kb", error)
    forgetting = episode()
    assert await session.register_again(error, forgetting) is True  # poll again, then retry
    assert client.registered_kb is None
    assert forgetting.failures == 2


async def test_register_again_that_is_refused_for_good_raises() -> None:
    session, client, _, _ = make()
    refused = KnowledgeEngineResponseError("Bad Request: no such reasoner level", status_code=400)
    client.fail_next("register_kb", refused)
    with pytest.raises(KnowledgeEngineResponseError, match="no such reasoner level"):
        await session.register_again(SmartConnectorNotFoundError("gone"), episode())


# ---------------------------------------------------------------- a lease lost


async def test_lease_lost_only_for_a_leased_registered_kb_the_ke_no_longer_knows() -> None:
    session, client, _, state = make(lease_renewal_time=30)
    await session.register(reregister=True)
    assert await session.lease_lost() is False  # the KE still knows it
    await client.unregister_kb(KB_ID)
    assert await session.lease_lost() is True
    client.fail_next("get_kb", KnowledgeEngineUnavailableError("refused"))
    assert await session.lease_lost() is False  # cannot tell: not lost
    state.stop_requested = True
    assert await session.lease_lost() is False  # a stop was asked for: the EXIT is ours
    session.lease.stop()


async def test_lease_lost_is_false_without_a_lease() -> None:
    session, client, _, _ = make()
    await session.register(reregister=True)
    await client.unregister_kb(KB_ID)
    assert await session.lease_lost() is False


# ---------------------------------------------------------------- unregister


async def test_unregister_deletes_the_kb_and_forgets_the_ids() -> None:
    session, client, registry, state = make()
    await session.register(reregister=True)
    await session.unregister()
    assert client.calls[-1] == "unregister_kb"
    assert client.registered_kb is None
    assert state.registration is Registration.NONE
    assert [ki.id for ki in registry] == [None, None]
    assert registry.handled(ki_id("heights")) is None
    await session.unregister()  # harmless when not registered
    assert client.calls.count("unregister_kb") == 1


async def test_unregister_after_the_ke_ended_the_registration_sends_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    session, client, registry, state = make()
    await session.register(reregister=True)
    state.registration = Registration.ENDED  # the poll said EXIT
    with caplog.at_level(logging.INFO, logger="km_core"):
        await session.unregister()
    assert "unregister_kb" not in client.calls
    assert state.registration is Registration.NONE
    assert [ki.id for ki in registry] == [None, None]
    assert any("stopped it already; not unregistering" in r.getMessage() for r in caplog.records)


async def test_unregister_ki_removes_it_from_the_ke_and_the_registry() -> None:
    session, client, registry, _ = make()
    await session.register(reregister=True)
    heights_ki = registry.lookup("heights")
    await session.unregister_ki("heights")
    assert client.calls[-1] == "unregister_ki"
    assert sorted(client.registered_kis) == [ki_id("neighbours")]
    assert registry.handled(ki_id("heights")) is None
    assert heights_ki.id is None
    with pytest.raises(UnknownKnowledgeInteractionError, match="heights"):
        registry.lookup("heights")


async def test_unregister_ki_before_registration_only_drops_the_declaration() -> None:
    session, client, registry, _ = make()
    await session.unregister_ki(registry.lookup("neighbours"))
    assert client.calls == []
    assert [ki.name for ki in registry] == ["heights"]
    with pytest.raises(UnknownKnowledgeInteractionError, match="neighbours"):
        await session.unregister_ki("neighbours")
