"""Scenarios of ASK/ANSWER errors.

Invalid ask requests (bodies, selectors, binding values, headers) and answers that go wrong:
an error message, bindings that do not fit the question, incomplete bindings, a late answer.
"""

from __future__ import annotations

import asyncio

from differential.recorder import Json, Recorder, Reply
from differential.scenario import scenario
from differential.scenarios.common import (
    ANSWER,
    answerer,
    ask,
    asker,
    failing,
    fixed,
)


@scenario()
async def ask_body_errors(rec: Recorder) -> None:
    """POST /sc/ask with malformed selectors, binding sets and binding values."""
    pattern = f"?t {rec.iri('height')} ?h ."
    kb, ki = await asker(rec, pattern)  # nobody answers: a valid ask returns at once
    ans = rec.kb_id("ans")
    cases: list[tuple[str, Json]] = [
        ("selector not object", {"recipientSelector": "x", "bindingSet": []}),
        ("selector no key", {"recipientSelector": {}, "bindingSet": []}),
        ("selector non-array", {"recipientSelector": {"knowledgeBases": ans}, "bindingSet": []}),
        ("selector non-string", {"recipientSelector": {"knowledgeBases": [1]}, "bindingSet": []}),
        (
            "selector bad uri",
            {"recipientSelector": {"knowledgeBases": ["not a uri"]}, "bindingSet": []},
        ),
        ("object without bindingSet", {"recipientSelector": {"knowledgeBases": []}}),
        ("object without selector", {"bindingSet": []}),
        ("bindingSet not array", {"recipientSelector": {"knowledgeBases": []}, "bindingSet": {}}),
        ("json string", "hello"),
        ("binding not object", [1]),
        ("null binding", [None]),
        ("null value", [{"t": None}]),
        ("key with ?", [{"?t": rec.iri("oak")}]),
        ("variable value", [{"t": "?x"}]),
        ("unparsable value", [{"t": "not an rdf term"}]),
        ("unterminated quote", [{"t": '"abc'}]),
        ("json number value", [{"h": 12}]),
    ]
    for label, body in cases:
        await rec.request(f"ask {label}", "POST", "/sc/ask", kb=kb, ki=ki, json=body)


@scenario()
async def prefixed_values(rec: Recorder) -> None:
    """Ask bindings with prefixed names (rdf:, xsd:, owl:, ex:, :) and a blank node."""
    kb, ki = await asker(rec, f"?t {rec.iri('v')} ?h .")
    nobody = {"knowledgeBases": [rec.kb_id("nobody")]}
    for value in [
        "rdf:type",
        '"12"^^xsd:integer',
        "owl:Thing",
        "rdfs:label",
        "ex:foo",
        ":foo",
        "_:b1",
    ]:
        body = {"recipientSelector": nobody, "bindingSet": [{"h": value}]}
        await rec.request(f"ask value {value}", "POST", "/sc/ask", kb=kb, ki=ki, json=body)


@scenario()
async def proactive_errors(rec: Recorder) -> None:
    """Ask or post with the wrong KI type, unknown KI or KB, missing headers, bad JSON."""
    pattern = f"?t {rec.iri('height')} ?h ."
    kb, ki = await asker(rec, pattern)
    own = await rec.register_ki(
        kb,
        None,
        knowledgeInteractionType=ANSWER,
        knowledgeInteractionName="own",
        graphPattern=pattern,
    )
    other = await rec.register_kb("other")
    await rec.request("ask with ANSWER ki", "POST", "/sc/ask", kb=kb, ki=own, json=[])
    await rec.request("post with ASK ki", "POST", "/sc/post", kb=kb, ki=ki, json=[])
    unknown_ki = kb + "/interaction/nothing"
    await rec.request("ask unknown ki", "POST", "/sc/ask", kb=kb, ki=unknown_ki, json=[])
    await rec.request("ask ki bad uri", "POST", "/sc/ask", kb=kb, ki="not a uri", json=[])
    await rec.request("ask unknown kb", "POST", "/sc/ask", kb=rec.kb_id("nobody"), ki=ki, json=[])
    await rec.request("ask other kb's ki", "POST", "/sc/ask", kb=other, ki=ki, json=[])
    await rec.request("ask no headers", "POST", "/sc/ask", json=[])
    await rec.request("ask no ki header", "POST", "/sc/ask", kb=kb, json=[])
    await rec.request(
        "ask malformed json",
        "POST",
        "/sc/ask",
        kb=kb,
        ki=ki,
        content="[{",
        headers={"Content-Type": "application/json"},
    )


@scenario()
async def answer_error_message(rec: Recorder) -> None:
    """One answerer sends an errorMessage, another answers: FAILED beside SUCCEEDED."""
    pattern = f"?t {rec.iri('height')} ?h ."
    kb, ki = await asker(rec, pattern)
    ans1, _ = await answerer(rec, "ans1", pattern)
    ans2, _ = await answerer(rec, "ans2", pattern)
    answer = fixed([{"t": rec.iri("oak"), "h": '"1"'}])
    await ask(
        rec,
        kb,
        ki,
        [],
        [
            rec.handle(ans1, "ans1", failing("Database connection lost.")),
            rec.handle(ans2, "ans2", answer),
        ],
    )


@scenario()
async def answer_error_and_bindings(rec: Recorder) -> None:
    """An answer with both an errorMessage and bindings."""
    pattern = f"?t {rec.iri('height')} ?h ."
    kb, ki = await asker(rec, pattern)
    ans, _ = await answerer(rec, "ans", pattern)
    bindings = [{"t": rec.iri("oak"), "h": '"1"'}]
    answer = lambda request: {"errorMessage": "both", "bindingSet": bindings}  # noqa: E731
    await ask(rec, kb, ki, [], [rec.handle(ans, "ans", answer)])


@scenario()
async def answer_not_fitting_incoming(rec: Recorder) -> None:
    """Asked about oak, the answerer answers about elm."""
    pattern = f"?t {rec.iri('height')} ?h ."
    kb, ki = await asker(rec, pattern)
    ans, _ = await answerer(rec, "ans", pattern)
    answer = fixed([{"t": rec.iri("elm"), "h": '"1"'}])
    await ask(rec, kb, ki, [{"t": rec.iri("oak")}], [rec.handle(ans, "ans", answer)])


@scenario()
async def answer_incomplete_and_extra(rec: Recorder) -> None:
    """One answer leaves ?h unbound, another binds an extra variable ?z."""
    pattern = f"?t {rec.iri('height')} ?h ."
    kb, ki = await asker(rec, pattern)
    ans1, _ = await answerer(rec, "ans1", pattern)
    ans2, _ = await answerer(rec, "ans2", pattern)
    oak = rec.iri("oak")
    await ask(
        rec,
        kb,
        ki,
        [],
        [
            rec.handle(ans1, "ans1", fixed([{"t": oak}])),
            rec.handle(ans2, "ans2", fixed([{"t": oak, "h": '"1"', "z": '"x"'}])),
        ],
    )


@scenario(slow=True)
async def slow_answer_times_out(rec: Recorder) -> None:
    """One answerer answers after 12 s: the ask fails it after the 10 s wait, keeps the other."""
    pattern = f"?t {rec.iri('height')} ?h ."
    kb, ki = await asker(rec, pattern)
    slow, _ = await answerer(rec, "slow", pattern)
    fast, _ = await answerer(rec, "fast", pattern)
    oak = rec.iri("oak")

    async def answer_late() -> None:
        reply = await rec.poll(slow)
        request = reply.body if isinstance(reply.body, dict) else {}
        rec.note("slow received", request)
        await asyncio.sleep(12)
        await rec.request(
            "slow POST /sc/handle after 12 s",
            "POST",
            "/sc/handle",
            kb=slow,
            ki=request.get("knowledgeInteractionId"),
            json={
                "handleRequestId": request.get("handleRequestId"),
                "bindingSet": [{"t": oak, "h": '"1"'}],
            },
        )

    took: list[float] = []

    async def timed_ask() -> Reply:
        start = rec.now()
        reply = await rec.request("POST /sc/ask", "POST", "/sc/ask", kb=kb, ki=ki, json=[])
        took.append(rec.elapsed_since(start))
        return reply

    answer = fixed([{"t": oak, "h": '"2"'}])
    await rec.concurrently(timed_ask, [answer_late(), rec.handle(fast, "fast", answer)], grace=15)
    rec.note("ask took 10 s or more", took[0] >= 10)
    rec.info("ask took (s)", round(took[0], 1))
