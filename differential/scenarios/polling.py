"""Scenarios of the long poll and of handle requests.

``GET /sc/handle`` (a second poll, a poll ended by a delete, queue order, handle request ids,
heartbeats) and ``POST /sc/handle`` (unknown ids, missing headers, invalid bindings, answering
twice), and what happens to requests whose KB or KI goes away.
"""

from __future__ import annotations

import asyncio

from differential.recorder import Json, Recorder
from differential.scenario import scenario
from differential.scenarios.common import ANSWER, ASK, answerer, ask, asker, fixed


@scenario()
async def second_poll_409(rec: Recorder) -> None:
    """A second poll while one is open; deleting the KB ends the first; a poll after that."""
    kb, _ = await answerer(rec, "ans", f"?t {rec.iri('h')} ?h .")
    first = asyncio.create_task(rec.poll(kb))
    await asyncio.sleep(0.5)
    await rec.request("second GET /sc/handle", "GET", "/sc/handle", kb=kb)
    await rec.request("DELETE /sc", "DELETE", "/sc", kb=kb)
    rec.note("first poll after delete", (await first).record())
    await rec.request("poll after delete", "GET", "/sc/handle", kb=kb)


@scenario()
async def handle_errors(rec: Recorder) -> None:
    """POST /sc/handle: unknown id, KI or KB, missing fields and headers, bad values, twice."""
    pattern = f"?t {rec.iri('height')} ?h ."
    kb, ki = await asker(rec, pattern)
    ans, ans_ki = await answerer(rec, "ans", pattern)
    oak = rec.iri("oak")

    async def answer_badly() -> None:
        reply = await rec.poll(ans)
        request = reply.body if isinstance(reply.body, dict) else {}
        rec.note("ans received", request)
        hid = request.get("handleRequestId")
        ok = [{"t": oak, "h": '"1"'}]
        cases: list[tuple[str, str | None, str | None, Json]] = [
            ("handle unknown id", ans, ans_ki, {"handleRequestId": 999, "bindingSet": []}),
            (
                "handle unknown ki",
                ans,
                f"{ans}/interaction/nothing",
                {"handleRequestId": hid, "bindingSet": []},
            ),
            ("handle missing id", ans, ans_ki, {"bindingSet": []}),
            ("handle handleResponseId", ans, ans_ki, {"handleResponseId": hid, "bindingSet": []}),
            ("handle no ki header", ans, None, {"handleRequestId": hid, "bindingSet": []}),
            (
                "handle variable value",
                ans,
                ans_ki,
                {"handleRequestId": hid, "bindingSet": [{"t": "?x", "h": '"1"'}]},
            ),
            (
                "handle key with ?",
                ans,
                ans_ki,
                {"handleRequestId": hid, "bindingSet": [{"?t": oak, "h": '"1"'}]},
            ),
            (
                "handle unparsable",
                ans,
                ans_ki,
                {"handleRequestId": hid, "bindingSet": [{"t": "bare words", "h": '"1"'}]},
            ),
            ("handle ok", ans, ans_ki, {"handleRequestId": hid, "bindingSet": ok}),
            ("handle twice", ans, ans_ki, {"handleRequestId": hid, "bindingSet": ok}),
            (
                "handle unknown kb",
                rec.kb_id("nobody"),
                ans_ki,
                {"handleRequestId": hid, "bindingSet": []},
            ),
        ]
        for label, kb_header, ki_header, body in cases:
            await rec.request(label, "POST", "/sc/handle", kb=kb_header, ki=ki_header, json=body)

    await ask(rec, kb, ki, [], [answer_badly()])


@scenario()
async def delete_kb_fails_queued_and_inflight(rec: Recorder) -> None:
    """Delete one answering KB while it handles the request, another before it polled."""
    pattern = f"?t {rec.iri('h')} ?h ."
    kb, ki = await asker(rec, pattern)
    inflight, _ = await answerer(rec, "inflight", pattern)
    queued, _ = await answerer(rec, "queued", pattern)

    async def take_then_delete() -> None:
        reply = await rec.poll(inflight)
        rec.note("inflight received", reply.record())
        await asyncio.sleep(0.5)
        await rec.request("DELETE inflight kb", "DELETE", "/sc", kb=inflight)

    async def delete_queued() -> None:
        await asyncio.sleep(1.0)
        await rec.request("DELETE queued kb", "DELETE", "/sc", kb=queued)

    start = rec.now()
    await ask(rec, kb, ki, [], [take_then_delete(), delete_queued()])
    rec.note("ask returned before the wait timeout", rec.elapsed_since(start) < 9)


@scenario()
async def queued_in_order(rec: Recorder) -> None:
    """Three asks queued before the answerer polls are delivered first in, first out."""
    pattern = f"?t {rec.iri('h')} ?h ."
    kb, ki = await asker(rec, pattern)
    ans, _ = await answerer(rec, "ans", pattern)
    asks = []
    for index in range(3):
        body = [{"t": rec.iri(f"t{index}")}]
        label = f"ask {index}"
        asks.append(
            asyncio.create_task(rec.request(label, "POST", "/sc/ask", kb=kb, ki=ki, json=body))
        )
        await asyncio.sleep(0.7)
    delivered = []
    for _ in range(3):
        request = (await rec.poll(ans)).body
        delivered.append([request["handleRequestId"], request["bindingSet"]])
        await rec.request(
            None,
            "POST",
            "/sc/handle",
            kb=ans,
            ki=request["knowledgeInteractionId"],
            json={"handleRequestId": request["handleRequestId"], "bindingSet": []},
        )
    rec.note("deliveries in poll order [id, bindings]", delivered)
    await asyncio.gather(*asks)


@scenario()
async def ids_restart_after_reregistration(rec: Recorder) -> None:
    """Handle request ids of an answering KB registered, deleted and registered again."""
    pattern = f"?t {rec.iri('h')} ?h ."
    kb, ki = await asker(rec, pattern)
    for round_ in range(2):
        ans, _ = await answerer(rec, "ans", pattern)
        handler = rec.handle(ans, f"ans round {round_}", fixed([]))
        await ask(rec, kb, ki, [{"t": rec.iri("x")}], [handler], label=f"ask round {round_}")
        await rec.request(f"DELETE round {round_}", "DELETE", "/sc", kb=ans)


@scenario(slow=True)
async def queued_request_for_deleted_ki(rec: Recorder) -> None:
    """A request queued for a KI that is deleted before the KB polls: delivered or not?"""
    pattern = f"?t {rec.iri('h')} ?h ."
    kb, ki = await asker(rec, pattern)
    ans, ans_ki = await answerer(rec, "ans", pattern)
    body = [{"t": rec.iri("x")}]
    start = rec.now()
    asking = asyncio.create_task(rec.request("ask", "POST", "/sc/ask", kb=kb, ki=ki, json=body))
    await asyncio.sleep(1.0)
    await rec.request("DELETE /sc/ki", "DELETE", "/sc/ki", kb=ans, ki=ans_ki)
    await rec.register_ki(  # another KI, so that the KB may poll
        ans,
        None,
        knowledgeInteractionType=ANSWER,
        knowledgeInteractionName="b",
        graphPattern=f"?q {rec.iri('other')} ?w .",
    )
    polling = asyncio.create_task(rec.poll(ans))
    done, _ = await asyncio.wait([polling], timeout=3)
    if polling in done:
        rec.note("poll after KI delete", polling.result().record())
    else:
        rec.note("poll after KI delete", "nothing delivered within 3 s")
        polling.cancel()
    await asyncio.gather(polling, return_exceptions=True)
    await asking
    rec.note("ask took more than 4 s", rec.elapsed_since(start) > 4)
    rec.info("ask took (s)", round(rec.elapsed_since(start), 1))


@scenario(slow=True)
async def heartbeat_bodies(rec: Recorder) -> None:
    """Idle polls (~29 s) of a KB with an ANSWER, one with only an ASK, one without KIs."""
    pattern = f"?t {rec.iri('h')} ?h ."
    ans, _ = await answerer(rec, "ans", pattern)
    ask_only = await rec.register_kb("askonly")
    await rec.register_ki(ask_only, None, knowledgeInteractionType=ASK, graphPattern=pattern)
    empty = await rec.register_kb("empty")
    start = rec.now()
    await asyncio.gather(
        rec.request("GET /sc/handle (answer KB)", "GET", "/sc/handle", kb=ans),
        rec.request("GET /sc/handle (ask-only KB)", "GET", "/sc/handle", kb=ask_only),
        rec.request("GET /sc/handle (no KIs)", "GET", "/sc/handle", kb=empty),
    )
    rec.info("the idle polls took (s)", round(rec.elapsed_since(start), 1))


@scenario()
async def abandoned_poll(rec: Recorder) -> None:
    """A poll whose client went away: is the KB's slot still taken by it?"""
    kb, _ = await answerer(rec, "ans", f"?t {rec.iri('h')} ?h .")
    first = asyncio.create_task(rec.poll(kb))
    await asyncio.sleep(0.5)
    first.cancel()  # closes its connection
    await asyncio.gather(first, return_exceptions=True)
    again = asyncio.create_task(rec.poll(kb))
    done, _ = await asyncio.wait([again], timeout=3)
    if again in done:
        rec.note("poll after the abandoned one", again.result().record())
    else:
        rec.note("poll after the abandoned one", "held (no answer within 3 s)")
    await rec.request("DELETE /sc", "DELETE", "/sc", kb=kb)
    await asyncio.gather(again, return_exceptions=True)
