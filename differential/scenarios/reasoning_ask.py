"""Reasoning in an ASK: joins of partial answers, REACTs as converters, domain rules.

Restates TestAskAnswer5 and TestAskAnswer3 (joins), the KE's examples/reasoner (a REACT
converting inside an ASK), GeneralizeIfNecessaryTest and TestDomainKnowledge (rules), at
reasoner levels 1, 2 and 5 where they differ.
"""

from __future__ import annotations

from differential.recorder import Json, Recorder
from differential.scenario import scenario
from differential.scenarios.common import ANSWER, ASK
from differential.scenarios.reasoning_common import (
    LEVELS,
    RDF_TYPE,
    Case,
    at_level,
    in_list,
    ki,
    knowledge,
    react,
    subclass_rules,
    within,
)

# ------------------------------------------------------------------ joins


async def _three_parts(c: Case, level: int) -> None:
    kind, sensor = c.iri("type"), c.iri("Sensor")
    value, room, maker = c.iri("hasV"), c.iri("inRoom"), c.iri("hasManu")
    s1, s2, s3 = c.iri("sensor1"), c.iri("sensor2"), c.iri("sensor3")
    parts = {
        "kb1": (
            f"?p {kind} {sensor} . ?p {value} ?q .",
            [{"p": s1, "q": c.iri("v1")}, {"p": s2, "q": c.iri("v2")}],
        ),
        "kb3": (f"?x {kind} {sensor} . ?x {room} ?y .", [{"x": s1, "y": c.iri("room1")}]),
        "kb4": (
            f"?f {kind} {sensor} . ?f {maker} ?g .",
            [{"f": s1, "g": c.iri("m1")}, {"f": s3, "g": c.iri("m3")}],
        ),
    }
    handlers = []
    for name, (pattern, rows) in parts.items():
        answering = await c.kb(name)
        await ki(c.rec, answering, ANSWER, "answer", graphPattern=pattern)
        handlers.append(c.handle(answering, name, within(rows)))
    asking = await c.kb("kb2", level)
    pattern = f"?a {kind} {sensor} . ?a {value} ?b . ?a {room} ?c . ?a {maker} ?d ."
    ask_id = await ki(c.rec, asking, ASK, "ask", graphPattern=pattern)
    await c.exchange("ask", "/sc/ask", asking, ask_id, [], handlers)


@scenario()
async def join_three_partial_answers(rec: Recorder) -> None:
    """TestAskAnswer5 at levels 1, 2, 5: three KBs each cover two of four ASK triples."""
    for level in LEVELS:
        await _three_parts(at_level(rec, level), level)


async def _parts_in_parallel(c: Case, level: int) -> None:
    knows, name = c.iri("knows"), c.iri("name")
    alice, bob, carol = c.iri("alice"), c.iri("bob"), c.iri("carol")
    known = await c.kb("knows")
    await ki(c.rec, known, ANSWER, "answer", graphPattern=f"?x {knows} ?y .")
    names = await c.kb("names")
    await ki(c.rec, names, ANSWER, "answer", graphPattern=f"?s {name} ?m .")
    asking = await c.kb("asker", level)
    ask_id = await ki(c.rec, asking, ASK, "ask", graphPattern=f"?a {knows} ?b . ?b {name} ?n .")
    handlers = [
        c.handle(known, "knows", within([{"x": alice, "y": bob}, {"x": bob, "y": carol}])),
        c.handle(names, "names", within([{"s": bob, "m": '"Bob"'}])),
    ]
    await c.exchange("ask", "/sc/ask", asking, ask_id, [{"a": alice}], handlers)


@scenario()
async def join_parts_get_only_the_askers_bindings(rec: Recorder) -> None:
    """TestAskAnswer5 with an ask binding, levels 1, 2, 5: the parts are asked in parallel."""
    for level in LEVELS:
        await _parts_in_parallel(at_level(rec, level), level)


async def _whole_and_parts(c: Case, level: int) -> None:
    height, name = c.iri("height"), c.iri("name")
    oak, elm = c.iri("oak"), c.iri("elm")
    parts = {
        "whole": (f"?t {height} ?x . ?t {name} ?y .", [{"t": oak, "x": "1", "y": '"Oak"'}]),
        "heights": (f"?t {height} ?x .", [{"t": elm, "x": "2"}]),
        "names": (f"?t {name} ?y .", [{"t": elm, "y": '"Elm"'}]),
    }
    handlers = []
    for part, (pattern, rows) in parts.items():
        answering = await c.kb(part)
        await ki(c.rec, answering, ANSWER, "answer", graphPattern=pattern)
        handlers.append(c.handle(answering, part, within(rows)))
    asking = await c.kb("asker", level)
    ask_id = await ki(c.rec, asking, ASK, "ask", graphPattern=f"?a {height} ?b . ?a {name} ?c .")
    await c.exchange("ask", "/sc/ask", asking, ask_id, [], handlers)


@scenario()
async def join_and_whole_answer_unioned(rec: Recorder) -> None:
    """TestAskAnswer3 with TestAskAnswer5, levels 1, 2, 5: a whole answer and a joined one."""
    for level in LEVELS:
        await _whole_and_parts(at_level(rec, level), level)


async def _one_for_two(c: Case, level: int) -> None:
    knows = c.iri("knows")
    alice, bob, carol = c.iri("alice"), c.iri("bob"), c.iri("carol")
    answering = await c.kb("knows")
    await ki(c.rec, answering, ANSWER, "answer", graphPattern=f"?x {knows} ?y .")
    asking = await c.kb("asker", level)
    ask_id = await ki(c.rec, asking, ASK, "ask", graphPattern=f"?a {knows} ?b . ?b {knows} ?c .")
    rows = [{"x": alice, "y": bob}, {"x": bob, "y": carol}]
    handlers = [c.handle(answering, "knows", within(rows))]
    await c.exchange("ask", "/sc/ask", asking, ask_id, [], handlers)


@scenario()
async def one_answer_triple_for_two_ask_triples(rec: Recorder) -> None:
    """Levels 1, 2, 3, 5: ``?x knows ?y`` for ``?a knows ?b . ?b knows ?c`` (one-to-one)."""
    for level in (1, 2, 3, 5):
        await _one_for_two(at_level(rec, level), level)


async def _part_alone(c: Case, level: int) -> None:
    height, name = c.iri("height"), c.iri("name")
    answering = await c.kb("heights")
    await ki(c.rec, answering, ANSWER, "answer", graphPattern=f"?x {height} ?y .")
    asking = await c.kb("asker", level)
    ask_id = await ki(c.rec, asking, ASK, "ask", graphPattern=f"?t {height} ?h . ?t {name} ?n .")
    handlers = [c.handle(answering, "heights", within([{"x": c.iri("oak"), "y": "1"}]))]
    await c.exchange("ask", "/sc/ask", asking, ask_id, [], handlers)


@scenario()
async def answer_for_part_of_the_ask_alone(rec: Recorder) -> None:
    """Levels 2, 4, 5: an ANSWER for one of two ASK triples, nobody for the other."""
    for level in (2, 4, 5):
        await _part_alone(at_level(rec, level), level)


# ------------------------------------------------------------------ converters

CELSIUS = {
    '"68"^^<http://www.w3.org/2001/XMLSchema#integer>': "20.0",
    '"212"^^<http://www.w3.org/2001/XMLSchema#integer>': "100.0",
}


def convert(request: dict[str, Json]) -> dict[str, Json]:
    """The converting REACT: each ``?m``'s ``?fahrenheit`` (68 or 212) as ``?celsius``."""
    received = request.get("bindingSet") or []
    return {
        "bindingSet": [
            {"m": b["m"], "celsius": CELSIUS.get(b.get("fahrenheit", ""), "0.0")}
            for b in received
            if "m" in b
        ]
    }


async def _units(c: Case, level: int, body: Json, *, answering: bool = True) -> None:
    measurement = f"{RDF_TYPE} {c.iri('Measurement')}"
    fahrenheit, celsius = c.iri("hasValueInFahrenheit"), c.iri("hasValueInCelsius")
    argument = f"?m {measurement} . ?m {fahrenheit} ?fahrenheit ."
    handlers = []
    if answering:
        kb2 = await c.kb("kb2")
        await ki(c.rec, kb2, ANSWER, "answer", graphPattern=argument)
        rows = [{"m": c.iri("m1"), "fahrenheit": "68"}, {"m": c.iri("m2"), "fahrenheit": "212"}]
        handlers.append(c.handle(kb2, "kb2", within(rows)))
    kb3 = await c.kb("kb3")
    await react(c.rec, kb3, argument, f"?m {celsius} ?celsius .")
    handlers.append(c.handle(kb3, "kb3", convert))
    kb1 = await c.kb("kb1", level)
    pattern = f"?m {measurement} . ?m {celsius} ?celsius ."
    ask_id = await ki(c.rec, kb1, ASK, "ask", graphPattern=pattern)
    await c.exchange("ask", "/sc/ask", kb1, ask_id, body, handlers)


@scenario()
async def converter_react_in_ask(rec: Recorder) -> None:
    """examples/reasoner at levels 1, 2, 5: ASK celsius <- REACT <- ANSWER fahrenheit."""
    for level in LEVELS:
        await _units(at_level(rec, level), level, [])


@scenario()
async def converter_react_with_ask_binding(rec: Recorder) -> None:
    """examples/reasoner at level 2, asking for one measurement only."""
    c = at_level(rec, 2)
    await _units(c, 2, [{"m": c.iri("m1")}])


@scenario()
async def converter_react_without_input(rec: Recorder) -> None:
    """examples/reasoner at level 2 without the fahrenheit ANSWER: nobody converts."""
    await _units(at_level(rec, 2), 2, [], answering=False)


# ------------------------------------------------------------------ domain knowledge


async def _transitive(c: Case, level: int) -> None:
    part, sensor, latest = c.iri("isPartOf"), c.iri("Sensor"), c.iri("hasLatestValue")
    building, floor = c.iri("building1"), c.iri("floor1")
    room1, room2 = c.iri("room1"), c.iri("room2")
    app = await c.kb("app", level)
    rule = f"[transitive: (?x {part} ?y) (?y {part} ?z) -> (?x {part} ?z)]"
    await knowledge(c.rec, c.label("knowledge"), app, rule)
    pattern = f"?s {RDF_TYPE} {sensor} . ?s {part} {building} . ?s {latest} ?value ."
    ask_id = await ki(c.rec, app, ASK, "ask", graphPattern=pattern)
    handlers = []
    for name, room, value in (("sensor1", room1, "10"), ("sensor2", room2, "20")):
        it = c.iri(name)
        answering = await c.kb(name)
        described = f"{it} {RDF_TYPE} {sensor} . {it} {part} {room} . {it} {latest} ?value ."
        await ki(c.rec, answering, ANSWER, "answer", graphPattern=described)
        handlers.append(c.handle(answering, name, within([{"value": value}])))
    floorplan = await c.kb("floorplan")
    await ki(c.rec, floorplan, ANSWER, "answer", graphPattern=f"?x {part} ?y .")
    plan = [{"x": floor, "y": building}, {"x": room1, "y": floor}, {"x": room2, "y": floor}]
    handlers.append(c.handle(floorplan, "floorplan", within(plan)))
    await c.exchange("ask", "/sc/ask", app, ask_id, [{}], handlers)


@scenario()
async def transitive_rule_in_ask(rec: Recorder) -> None:
    """GeneralizeIfNecessaryTest at levels 1, 2, 5: isPartOf is transitive for the asker."""
    for level in LEVELS:
        await _transitive(at_level(rec, level), level)


async def _subclass_ask(c: Case, level: int) -> None:
    device, sensor, name = c.iri("Device"), c.iri("Sensor"), c.iri("name")
    asking = await c.kb("asker", level)
    await knowledge(c.rec, c.label("knowledge"), asking, subclass_rules(c))
    pattern = f"?d {RDF_TYPE} {device} . ?d {name} ?n ."
    ask_id = await ki(c.rec, asking, ASK, "ask", graphPattern=pattern)
    sensors = await c.kb("sensors")
    pattern = f"?s {RDF_TYPE} {sensor} . ?s {name} ?m ."
    await ki(c.rec, sensors, ANSWER, "answer", graphPattern=pattern)
    devices = await c.kb("devices")
    pattern = f"?s {RDF_TYPE} {device} . ?s {name} ?m ."
    await ki(c.rec, devices, ANSWER, "answer", graphPattern=pattern)
    handlers = [
        c.handle(sensors, "sensors", within([{"s": c.iri("s1"), "m": '"one"'}])),
        c.handle(devices, "devices", within([{"s": c.iri("d1"), "m": '"dev"'}])),
    ]
    # The rule's (?a rdf:type ?x) would reach every KB that answers some type: only these.
    body = in_list([sensors, devices], [])
    await c.exchange("ask", "/sc/ask", asking, ask_id, body, handlers)


@scenario()
async def subclass_rules_in_ask(rec: Recorder) -> None:
    """TestDomainKnowledge's rules in an ASK for devices, levels 1, 2, 5: sensors are devices."""
    for level in LEVELS:
        await _subclass_ask(at_level(rec, level), level)


async def _single_rule(c: Case, level: int, whole: bool) -> None:
    oak, tree, height = c.iri("Oak"), c.iri("Tree"), c.iri("height")
    if whole:
        rule = f"(?x {RDF_TYPE} {oak}) (?x {height} ?h) -> (?x {RDF_TYPE} {tree}) (?x {height} ?h)"
    else:
        rule = f"(?x {RDF_TYPE} {oak}) -> (?x {RDF_TYPE} {tree})"
    asking = await c.kb("asker", level)
    await knowledge(c.rec, c.label("knowledge"), asking, f"[subclass: {rule}]")
    pattern = f"?t {RDF_TYPE} {tree} . ?t {height} ?h ."
    ask_id = await ki(c.rec, asking, ASK, "ask", graphPattern=pattern)
    oaks = await c.kb("oaks")
    pattern = f"?x {RDF_TYPE} {oak} . ?x {height} ?y ."
    await ki(c.rec, oaks, ANSWER, "answer", graphPattern=pattern)
    handlers = [c.handle(oaks, "oaks", within([{"x": c.iri("oak1"), "y": "21"}]))]
    await c.exchange("ask", "/sc/ask", asking, ask_id, [], handlers)


@scenario()
async def single_rule_at_level_1(rec: Recorder) -> None:
    """Levels 1 and 2: a rule Oak -> Tree for one ASK triple, and one for the whole ASK."""
    await _single_rule(Case(rec, "one-triple-level1"), 1, whole=False)
    await _single_rule(Case(rec, "whole-ask-level1"), 1, whole=True)
    await _single_rule(Case(rec, "one-triple-level2"), 2, whole=False)
