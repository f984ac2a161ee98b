"""When exchanges go wrong through raw REST, on any Knowledge Engine: errors, timeouts, leases,
polls and deletes.

Run against the served local engine always, and against the KE at ``KM_TEST_KE_URL`` when it
is set (see test_contract_any_ke.py). The real KE is the judge: both variants must pass.
Both engines wait 10 s for an answer by default, and the KE checks leases every 10 s, so some
of these tests take that long; none asserts how long.
"""

from __future__ import annotations

import asyncio

import pytest

from km_core import (
    ExchangeStatus,
    HandleRequest,
    KnowledgeInteractionType,
    PollConflictError,
    PollResult,
    SmartConnectorNotFoundError,
)
from tests.conformance.rest import (
    STEP,
    Network,
    integer,
    ki,
    next_request,
    proactive,
    respond,
)

pytestmark = pytest.mark.ke

TIMED_OUT = "Error 'TimeoutException' occurred while waiting for response to message: "
WAIT = STEP + 15  # seconds for an ask that waits for the engine's 10 s answer timeout


async def two_answerers_and_an_asker(net: Network, first: str, second: str) -> str:
    """Two KBs answering ``?t height ?x`` and an asker on ``?tree height ?h``; the ASK's id."""
    height = net.iri("height")
    await net.answerer(first, f"?t {height} ?x .")
    await net.answerer(second, f"?t {height} ?x .")
    return await net.asker("asker", f"?tree {height} ?h .")


async def held_poll(
    net: Network, kb_id: str
) -> asyncio.Task[tuple[PollResult, HandleRequest | None]]:
    """A poll the engine holds for ``kb_id``, shown by the 409 that a second one gets."""
    polls = [asyncio.create_task(net.client.poll_ki_call(kb_id)) for _ in range(2)]
    done, pending = await asyncio.wait(polls, timeout=STEP, return_when=asyncio.FIRST_COMPLETED)
    assert len(done) == 1, "neither poll was refused"
    [refused], [held] = done, pending
    with pytest.raises(PollConflictError, match="Only one connection per Knowledge-Base-Id"):
        refused.result()
    return held


async def test_an_error_message_fails_that_exchange_and_keeps_the_other_answers(
    net: Network,
) -> None:
    ask_id = await two_answerers_and_an_asker(net, "failing", "working")
    failing, working, oak = net.kb_id("failing"), net.kb_id("working"), net.iri("oak")
    asking = asyncio.create_task(net.client.ask(net.kb_id("asker"), ask_id, []))
    try:
        await respond(
            net.client,
            failing,
            await next_request(net.client, failing),
            error="Database connection lost.",
        )
        request = await next_request(net.client, working)
        await respond(net.client, working, request, [{"t": oak, "x": "1"}])
        result = await asyncio.wait_for(asking, STEP)
    finally:
        asking.cancel()
    assert result.binding_set == [{"tree": oak, "h": integer(1)}]
    infos = {info.knowledge_base_id: info for info in result.exchange_info}
    assert infos[failing].status is ExchangeStatus.FAILED
    assert infos[failing].failed_message == (
        "An error occurred while ANSWERing: Database connection lost."
    )
    assert infos[failing].binding_set == []
    assert infos[working].status is ExchangeStatus.SUCCEEDED
    assert infos[working].failed_message is None


async def test_an_error_message_of_a_react_fails_its_exchange(net: Network) -> None:
    temperature, room = net.iri("temperature"), net.iri("room")
    await net.with_ki(
        "heater", proactive(KnowledgeInteractionType.REACT, "react", f"?x {temperature} ?y .")
    )
    post_id = await net.with_ki(
        "poster", proactive(KnowledgeInteractionType.POST, "post", f"?s {temperature} ?c .")
    )
    posting = asyncio.create_task(
        net.client.post(net.kb_id("poster"), post_id, [{"s": room, "c": "21"}])
    )
    try:
        request = await next_request(net.client, net.kb_id("heater"))
        await respond(net.client, net.kb_id("heater"), request, error="Actuator stuck.")
        result = await asyncio.wait_for(posting, STEP)
    finally:
        posting.cancel()
    [info] = result.exchange_info
    assert info.status is ExchangeStatus.FAILED
    assert info.failed_message == "An error occurred while REACTing: Actuator stuck."
    assert info.argument_binding_set == [{"x": room, "y": integer(21)}]
    assert info.result_binding_set == []


async def test_an_answer_that_misses_the_wait_timeout_fails_and_the_others_are_kept(
    net: Network,
) -> None:
    ask_id = await two_answerers_and_an_asker(net, "silent", "working")
    silent, working, oak = net.kb_id("silent"), net.kb_id("working"), net.iri("oak")
    asking = asyncio.create_task(net.client.ask(net.kb_id("asker"), ask_id, []))
    try:
        late = await next_request(net.client, silent)
        request = await next_request(net.client, working)
        await respond(net.client, working, request, [{"t": oak, "x": "1"}])
        result = await asyncio.wait_for(asking, WAIT)
    finally:
        asking.cancel()
    assert result.binding_set == [{"tree": oak, "h": integer(1)}]
    infos = {info.knowledge_base_id: info for info in result.exchange_info}
    assert infos[working].status is ExchangeStatus.SUCCEEDED
    assert infos[silent].status is ExchangeStatus.FAILED
    assert infos[silent].binding_set == []
    assert infos[silent].failed_message is not None
    assert infos[silent].failed_message.startswith(TIMED_OUT)
    # The answer that comes too late is taken (200), and goes nowhere.
    await respond(net.client, silent, late, [{"t": net.iri("elm"), "x": "2"}])


@pytest.mark.timeout(150)
async def test_a_lease_that_is_not_renewed_ends_the_kbs_poll(net: Network) -> None:
    leased = await net.register("leased", lease=30)
    await net.client.register_ki(
        leased, ki(KnowledgeInteractionType.ANSWER, "answer", f"?t {net.iri('height')} ?x .")
    )
    kept = await net.register("kept", lease=60)
    info = await net.client.get_kb(leased)
    assert info is not None
    assert info.lease_renewal_time == 30
    renewed = await net.client.renew_lease(leased)
    assert renewed.knowledge_base_id == leased
    first = await net.client.renew_lease(kept)
    # The KE checks leases every 10 s: the poll ends some time after the 30 s lease, with
    # heartbeats (after 29 s) before that.
    async with asyncio.timeout(90):
        result = PollResult.REPOLL
        while result is PollResult.REPOLL:
            result, request = await net.client.poll_ki_call(leased)
            assert request is None
    assert result is PollResult.EXIT
    # The KB whose lease is longer, and was renewed, lives on and can be renewed again.
    assert await net.client.get_kb(kept) is not None
    second = await net.client.renew_lease(kept)
    assert second.expires > first.expires


async def test_a_second_poll_is_refused_with_409_and_the_first_still_delivers(
    net: Network,
) -> None:
    ask_id = await two_answerers_and_an_asker(net, "answerer", "other")
    answerer, oak = net.kb_id("answerer"), net.iri("oak")
    held = await held_poll(net, answerer)
    asking = asyncio.create_task(
        net.client.ask(net.kb_id("asker"), ask_id, [], recipients=[answerer])
    )
    try:
        result, request = await asyncio.wait_for(held, STEP)
        assert result is PollResult.HANDLE
        assert request is not None
        await respond(net.client, answerer, request, [{"t": oak, "x": "1"}])
        answer = await asyncio.wait_for(asking, STEP)
    finally:
        asking.cancel()
    assert answer.binding_set == [{"tree": oak, "h": integer(1)}]


async def test_a_poll_its_client_abandoned_keeps_the_kbs_slot(net: Network) -> None:
    """Until the abandoned poll's heartbeat, a new poll of the KB is refused with 409."""
    answerer = net.kb_id("answerer")
    await net.answerer("answerer", f"?t {net.iri('height')} ?x .")
    held = await held_poll(net, answerer)
    held.cancel()  # closes its connection
    await asyncio.gather(held, return_exceptions=True)
    with pytest.raises(PollConflictError):
        await asyncio.wait_for(net.client.poll_ki_call(answerer), STEP)


async def test_deleting_a_kb_ends_its_poll_with_410_and_asks_no_longer_reach_it(
    net: Network,
) -> None:
    ask_id = await two_answerers_and_an_asker(net, "answerer", "other")
    answerer = net.kb_id("answerer")
    held = await held_poll(net, answerer)
    await net.client.unregister_kb(answerer)
    assert await asyncio.wait_for(held, STEP) == (PollResult.EXIT, None)
    with pytest.raises(SmartConnectorNotFoundError):
        await net.client.poll_ki_call(answerer)
    result = await asyncio.wait_for(
        net.client.ask(net.kb_id("asker"), ask_id, [], recipients=[answerer]), STEP
    )
    assert result.binding_set == []
    assert result.exchange_info == []


@pytest.mark.parametrize("delivered", [True, False], ids=["request-delivered", "request-queued"])
async def test_a_kb_deleted_while_an_ask_waits_for_it_fails_that_exchange(
    net: Network, delivered: bool
) -> None:
    ask_id = await two_answerers_and_an_asker(net, "deleted", "working")
    deleted, working, oak = net.kb_id("deleted"), net.kb_id("working"), net.iri("oak")
    asking = asyncio.create_task(net.client.ask(net.kb_id("asker"), ask_id, []))
    try:
        unanswered = await next_request(net.client, deleted) if delivered else None
        request = await next_request(net.client, working)
        await respond(net.client, working, request, [{"t": oak, "x": "1"}])
        await net.client.unregister_kb(deleted)
        result = await asyncio.wait_for(asking, WAIT)
    finally:
        asking.cancel()
    assert result.binding_set == [{"tree": oak, "h": integer(1)}]
    infos = {info.knowledge_base_id: info for info in result.exchange_info}
    assert infos[working].status is ExchangeStatus.SUCCEEDED
    assert infos[deleted].status is ExchangeStatus.FAILED
    assert infos[deleted].failed_message == (
        f"KB with id {deleted} will no longer respond, because it stopped."
    )
    assert infos[deleted].binding_set == []
    if unanswered is not None:
        with pytest.raises(SmartConnectorNotFoundError):
            await respond(net.client, deleted, unanswered, [{"t": oak, "x": "1"}])
