"""Scenarios of POST/REACT.

Which reacting KBs a post reaches, the argument bindings each receives, the result bindings and
exchange info the poster gets back: translation, result projection, missing result patterns,
posts without (complete) bindings, errors, and a REACT used as a converter inside an ask.
"""

from __future__ import annotations

from differential.recorder import Json, Recorder
from differential.scenario import scenario
from differential.scenarios.common import (
    GRACE,
    answerer,
    ask,
    asker,
    failing,
    fixed,
    post,
    poster,
    reactor,
)


@scenario()
async def post_react_translation(rec: Recorder) -> None:
    """POST with a result pattern; the REACT has other variable names in both patterns."""
    kb, ki = await poster(rec, f"?s {rec.iri('temp')} ?c .", f"?s {rec.iri('tempF')} ?f .")
    react, _ = await reactor(rec, "r", f"?x {rec.iri('temp')} ?y .", f"?x {rec.iri('tempF')} ?z .")

    def convert(request: dict[str, Json]) -> dict[str, Json]:
        return {"bindingSet": [{"x": row["x"], "z": "68"} for row in request["bindingSet"]]}

    bindings = [{"s": rec.iri("room"), "c": "20"}]
    await post(rec, kb, ki, bindings, [rec.handle(react, "r", convert)])


@scenario()
async def react_gets_only_its_args(rec: Recorder) -> None:
    """A two-triple POST and REACT: the REACT receives its own variable names."""
    kb, ki = await poster(rec, f"?s {rec.iri('temp')} ?c . ?s {rec.iri('unit')} ?u .")
    react, _ = await reactor(rec, "r", f"?x {rec.iri('temp')} ?y . ?x {rec.iri('unit')} ?w .")
    bindings = [{"s": rec.iri("room"), "c": "20", "u": '"C"'}]
    await post(rec, kb, ki, bindings, [rec.handle(react, "r", fixed([]))])


async def _react_subset(rec: Recorder, level: int | None) -> None:
    kb, ki = await poster(rec, f"?s {rec.iri('temp')} ?c . ?s {rec.iri('unit')} ?u .", level=level)
    react, _ = await reactor(rec, "r", f"?x {rec.iri('temp')} ?y .")
    bindings = [{"s": rec.iri("room"), "c": "20", "u": '"C"'}]
    await post(rec, kb, ki, bindings, [rec.handle(react, "r", fixed([]))])


@scenario()
async def react_subset_of_post_level2(rec: Recorder) -> None:
    """The REACT's argument pattern is one triple of the POST's two, default level."""
    await _react_subset(rec, None)


@scenario()
async def react_subset_of_post_level1(rec: Recorder) -> None:
    """The REACT's argument pattern is one triple of the POST's two, reasoner level 1."""
    await _react_subset(rec, 1)


@scenario()
async def react_result_projection(rec: Recorder) -> None:
    """The REACT's result pattern has a triple more than the POST's: projected away."""
    kb, ki = await poster(rec, f"?s {rec.iri('temp')} ?c .", f"?s {rec.iri('ok')} ?o .")
    react, _ = await reactor(
        rec,
        "r",
        f"?x {rec.iri('temp')} ?y .",
        f"?x {rec.iri('ok')} ?o2 . ?x {rec.iri('extra')} ?e .",
    )
    answer = fixed([{"x": rec.iri("room"), "o2": "true", "e": '"e"'}])
    await post(rec, kb, ki, [{"s": rec.iri("room"), "c": "20"}], [rec.handle(react, "r", answer)])


@scenario()
async def react_without_result(rec: Recorder) -> None:
    """The POST has a result pattern, the REACT none."""
    kb, ki = await poster(rec, f"?s {rec.iri('temp')} ?c .", f"?s {rec.iri('ok')} ?o .")
    react, _ = await reactor(rec, "r", f"?x {rec.iri('temp')} ?y .")
    bindings = [{"s": rec.iri("room"), "c": "20"}]
    await post(rec, kb, ki, bindings, [rec.handle(react, "r", fixed([]))])


@scenario()
async def react_without_result_nonempty_answer(rec: Recorder) -> None:
    """A REACT without result pattern sends bindings anyway."""
    kb, ki = await poster(rec, f"?s {rec.iri('temp')} ?c .")
    react, _ = await reactor(rec, "r", f"?x {rec.iri('temp')} ?y .")
    answer = fixed([{"x": rec.iri("room")}])
    await post(rec, kb, ki, [{"s": rec.iri("room"), "c": "20"}], [rec.handle(react, "r", answer)])


@scenario()
async def post_without_result(rec: Recorder) -> None:
    """The POST has no result pattern, the REACT has one and answers with it."""
    kb, ki = await poster(rec, f"?s {rec.iri('temp')} ?c .")
    react, _ = await reactor(rec, "r", f"?x {rec.iri('temp')} ?y .", f"?x {rec.iri('ok')} ?o .")
    answer = fixed([{"x": rec.iri("room"), "o": "true"}])
    await post(rec, kb, ki, [{"s": rec.iri("room"), "c": "20"}], [rec.handle(react, "r", answer)])


@scenario()
async def react_error_message(rec: Recorder) -> None:
    """The REACT answers with an errorMessage."""
    kb, ki = await poster(rec, f"?s {rec.iri('temp')} ?c .")
    react, _ = await reactor(rec, "r", f"?x {rec.iri('temp')} ?y .")
    answer = failing("Actuator broken.")
    await post(rec, kb, ki, [{"s": rec.iri("room"), "c": "20"}], [rec.handle(react, "r", answer)])


@scenario()
async def react_contradicts_args(rec: Recorder) -> None:
    """The REACT's result binds ?x to another subject than its argument."""
    kb, ki = await poster(rec, f"?s {rec.iri('temp')} ?c .", f"?s {rec.iri('ok')} ?o .")
    react, _ = await reactor(rec, "r", f"?x {rec.iri('temp')} ?y .", f"?x {rec.iri('ok')} ?o .")
    answer = fixed([{"x": rec.iri("other"), "o": "true"}])
    await post(rec, kb, ki, [{"s": rec.iri("room"), "c": "20"}], [rec.handle(react, "r", answer)])


async def _posts(
    rec: Recorder, kb: str, ki: str | None, react: str, cases: list[tuple[str, Json]]
) -> None:
    """Post each case in turn while one handler serves the REACT KB for all of them."""

    async def post_all() -> None:
        for label, body in cases:
            await rec.request(label, "POST", "/sc/post", kb=kb, ki=ki, json=body)

    handler = rec.handle(react, "r", fixed([]), count=len(cases))
    await rec.concurrently(post_all, [handler], grace=GRACE)


async def _post_incomplete(rec: Recorder, level: int | None) -> None:
    kb, ki = await poster(rec, f"?s {rec.iri('temp')} ?c .", level=level)
    react, _ = await reactor(rec, "r", f"?x {rec.iri('temp')} ?y .")
    cases: list[tuple[str, Json]] = [
        ("post []", []),
        ("post [{}]", [{}]),
        ("post partial binding", [{"s": rec.iri("room")}]),
    ]
    await _posts(rec, kb, ki, react, cases)


@scenario()
async def post_incomplete_bindings_level2(rec: Recorder) -> None:
    """Post [], [{}] and a binding without ?c, default level: is the REACT contacted?"""
    await _post_incomplete(rec, None)


@scenario()
async def post_incomplete_bindings_level1(rec: Recorder) -> None:
    """Post [], [{}] and a binding without ?c, reasoner level 1."""
    await _post_incomplete(rec, 1)


@scenario()
async def post_constant_pattern_no_bindings(rec: Recorder) -> None:
    """A POST whose argument pattern is all constants, posted with [{}] and []."""
    kb, ki = await poster(rec, f"{rec.iri('room')} {rec.iri('alarm')} true .")
    react, _ = await reactor(rec, "r", f"?x {rec.iri('alarm')} ?v .")
    await _posts(rec, kb, ki, react, [("post [{}]", [{}]), ("post []", [])])


@scenario()
async def react_converter_in_ask_level2(rec: Recorder) -> None:
    """ASK celsius; a REACT converts the fahrenheit an ANSWER gives (reasoner level 2)."""
    kb, ki = await asker(rec, f"?s {rec.iri('celsius')} ?c .")
    react, _ = await reactor(
        rec, "conv", f"?x {rec.iri('fahrenheit')} ?f .", f"?x {rec.iri('celsius')} ?c ."
    )
    ans, _ = await answerer(rec, "ans", f"?s {rec.iri('fahrenheit')} ?f .")

    def convert(request: dict[str, Json]) -> dict[str, Json]:
        return {"bindingSet": [{"x": row["x"], "c": "20"} for row in request["bindingSet"]]}

    answer = fixed([{"s": rec.iri("room"), "f": "68"}])
    await ask(rec, kb, ki, [], [rec.handle(ans, "ans", answer), rec.handle(react, "conv", convert)])
