"""Reasoning in a POST: domain rules, REACTs fed in part, completed by ANSWERs, chained.

Restates NotDesignedToWorkTogetherTest and TestDomainKnowledge's rules in a post, and
TestPostReact3, at reasoner levels 1, 2 and 5 where they differ.
"""

from __future__ import annotations

from differential.recorder import Json, Recorder
from differential.scenario import scenario
from differential.scenarios.common import ANSWER, POST, fixed
from differential.scenarios.reasoning_common import (
    LEVELS,
    RDF_TYPE,
    Case,
    at_level,
    in_list,
    ki,
    knowledge,
    mapped,
    react,
    subclass_rules,
)


async def _lamps(c: Case, level: int) -> None:
    on_off, dimmable = c.iri("OnOffLamp"), c.iri("DimmableLamp")
    is_on, brightness = c.iri("isOn"), c.iri("hasBrightness")
    rules = "\n".join(
        f"[{state}: (?s {RDF_TYPE} {on_off}) (?s {is_on} '{state}'^^xsd:boolean) -> "
        f"(?s {RDF_TYPE} {dimmable}) (?s {brightness} '{percent}')]"
        for state, percent in (("true", "100"), ("false", "0"))
    )
    lamp = f"?l {RDF_TYPE} {on_off} . ?l {is_on} ?o ."
    app = await c.kb("app", level)
    await knowledge(c.rec, c.label("knowledge"), app, rules)
    post_id = await ki(c.rec, app, POST, "post", argumentGraphPattern=lamp)
    lamp1 = await c.kb("lamp1")
    await react(c.rec, lamp1, lamp)
    lamp2 = await c.kb("lamp2")
    await react(c.rec, lamp2, f"?l {RDF_TYPE} {dimmable} . ?l {brightness} ?b .")
    handlers = [c.handle(lamp1, "lamp1", fixed([])), c.handle(lamp2, "lamp2", fixed([]))]
    body = [{"l": c.iri("lamp1"), "o": "true"}, {"l": c.iri("lamp2"), "o": "true"}]
    await c.exchange("post", "/sc/post", app, post_id, body, handlers)


@scenario()
async def rules_in_post_for_a_dimmable_lamp(rec: Recorder) -> None:
    """NotDesignedToWorkTogetherTest at levels 1, 2, 5: on/off lamps to a dimmable lamp."""
    for level in LEVELS:
        await _lamps(at_level(rec, level), level)


async def _subclass_post(c: Case, level: int) -> None:
    device, sensor, name = c.iri("Device"), c.iri("Sensor"), c.iri("name")
    posting = await c.kb("poster", level)
    await knowledge(c.rec, c.label("knowledge"), posting, subclass_rules(c))
    pattern = f"?s {RDF_TYPE} {sensor} . ?s {name} ?n ."
    post_id = await ki(c.rec, posting, POST, "post", argumentGraphPattern=pattern)
    devices = await c.kb("devices")
    await react(c.rec, devices, f"?d {RDF_TYPE} {device} . ?d {name} ?m .")
    handlers = [c.handle(devices, "devices", fixed([]))]
    body = in_list([devices], [{"s": c.iri("s1"), "n": '"one"'}])
    await c.exchange("post", "/sc/post", posting, post_id, body, handlers)


@scenario()
async def subclass_rules_in_post(rec: Recorder) -> None:
    """TestDomainKnowledge's rules in a POST of sensors, levels 1, 2, 5: a REACT on devices."""
    for level in LEVELS:
        await _subclass_post(at_level(rec, level), level)


# ------------------------------------------------------------------ forward chaining in a post


async def _poster(
    c: Case, level: int, argument: str, result: str | None = None
) -> tuple[str, str | None]:
    posting = await c.kb("poster", level)
    body: dict[str, Json] = {"argumentGraphPattern": argument}
    if result is not None:
        body["resultGraphPattern"] = result
    return posting, await ki(c.rec, posting, POST, "post", **body)


async def _react_on_part(c: Case, level: int) -> None:
    temperature, unit = c.iri("temp"), c.iri("unit")
    posting, post_id = await _poster(c, level, f"?s {temperature} ?c . ?s {unit} ?u .")
    reactor = await c.kb("reactor")
    await react(c.rec, reactor, f"?x {temperature} ?y .")
    body = [{"s": c.iri("room"), "c": "20", "u": '"C"'}]
    handlers = [c.handle(reactor, "reactor", fixed([]))]
    await c.exchange("post", "/sc/post", posting, post_id, body, handlers)


@scenario()
async def react_on_part_of_the_post(rec: Recorder) -> None:
    """Levels 1, 2, 5: a REACT that wants the temperature of a POST of temperature and unit."""
    for level in LEVELS:
        await _react_on_part(at_level(rec, level), level)


async def _completed(c: Case, level: int) -> None:
    temperature, unit, advice = c.iri("temp"), c.iri("unit"), c.iri("advice")
    room, hall = c.iri("room"), c.iri("hall")
    posting, post_id = await _poster(c, level, f"?s {temperature} ?c .", f"?s {advice} ?a .")
    reactor = await c.kb("reactor")
    await react(c.rec, reactor, f"?x {temperature} ?y . ?x {unit} ?u .", f"?x {advice} ?z .")
    units = await c.kb("units")
    await ki(c.rec, units, ANSWER, "answer", graphPattern=f"?q {unit} ?w .")
    handlers = [
        c.handle(reactor, "reactor", mapped("x", {}, "z", '"heat"')),
        c.handle(units, "units", fixed([{"q": room, "w": '"C"'}, {"q": hall, "w": '"F"'}])),
    ]
    body = [{"s": room, "c": "20"}]
    await c.exchange("post", "/sc/post", posting, post_id, body, handlers)


@scenario()
async def answer_completes_a_react(rec: Recorder) -> None:
    """Levels 1, 2, 5: an ANSWER gives the unit a REACT wants besides the posted temperature."""
    for level in LEVELS:
        await _completed(at_level(rec, level), level)


async def _chain(c: Case, level: int) -> None:
    temperature, fahrenheit, advice = c.iri("temp"), c.iri("tempF"), c.iri("advice")
    posting, post_id = await _poster(c, level, f"?s {temperature} ?c .", f"?s {advice} ?a .")
    first = await c.kb("first")
    await react(c.rec, first, f"?x {temperature} ?y .", f"?x {fahrenheit} ?f .")
    second = await c.kb("second")
    await react(c.rec, second, f"?k {fahrenheit} ?g .", f"?k {advice} ?v .")
    handlers = [
        c.handle(first, "first", mapped("x", {}, "f", "68")),
        c.handle(second, "second", mapped("k", {}, "v", '"open"')),
    ]
    body = [{"s": c.iri("room"), "c": "20"}]
    await c.exchange("post", "/sc/post", posting, post_id, body, handlers)


@scenario()
async def react_chain(rec: Recorder) -> None:
    """Levels 1, 2, 5: celsius -> REACT -> fahrenheit -> REACT -> the advice the POST wants."""
    for level in LEVELS:
        await _chain(at_level(rec, level), level)


async def _union(c: Case, level: int) -> None:
    pred1, pred2, pred3 = c.iri("pred1"), c.iri("pred2"), c.iri("pred3")
    posting, post_id = await _poster(c, level, f"?a {pred1} ?b .", f"?c {pred2} ?d .")
    kb2 = await c.kb("kb2")
    await react(c.rec, kb2, f"?a {pred1} ?b .", f"?c {pred2} ?d .")
    kb3 = await c.kb("kb3")
    await react(c.rec, kb3, f"?a {pred1} ?b .", f"?c {pred2} ?d . ?e {pred3} ?f .")
    second = {"c": c.iri("c2"), "d": c.iri("d2"), "e": c.iri("e2"), "f": c.iri("f2")}
    handlers = [
        c.handle(kb2, "kb2", fixed([{"c": c.iri("c1"), "d": c.iri("d1")}])),
        c.handle(kb3, "kb3", fixed([second])),
    ]
    body = [{"a": c.iri("a"), "b": c.iri("b")}]
    await c.exchange("post", "/sc/post", posting, post_id, body, handlers)


@scenario()
async def reacts_unioned_and_projected(rec: Recorder) -> None:
    """TestPostReact3 at levels 1, 2, 5: two REACTs, one with a result triple more."""
    for level in LEVELS:
        await _union(at_level(rec, level), level)
