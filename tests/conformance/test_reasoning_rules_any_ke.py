"""Domain knowledge (``POST /sc/knowledge``, Apache Jena rules) in asks and posts, on any KE.

The rules of the asking or posting KB let its ASK reach ANSWERs that do not say what it asks
(a transitive relation, a subclass) and let its POST reach REACTs that want something else
(a dimmable lamp for an on/off one). At reasoner level 1 each pattern to satisfy (the ASK, a
REACT's argument, a rule's antecedent) must be covered by one rule or interaction alone,
though such steps may chain: a rule for part of the ASK (an ANSWER for the rest), or one whose
antecedent takes a fact and an ANSWER, is not used there; a rule that covers all of it is.

Run against the served local engine always, and against the KE at ``KM_TEST_KE_URL`` when it
is set (see test_contract_any_ke.py). Each test has KB ids and IRIs of its own (`Network`),
registers the asking or posting KB at the reasoner level under test, and deletes its KBs
afterwards.
"""

from __future__ import annotations

import pytest

from km_core import ExchangeStatus, KnowledgeInteractionType
from tests.conformance.rest import (
    Network,
    Served,
    integer,
    nothing,
    ordered,
    proactive,
    register_at_level,
    rows_within,
)

pytestmark = pytest.mark.ke

POST = KnowledgeInteractionType.POST
REACT = KnowledgeInteractionType.REACT
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
BOOLEAN = "<http://www.w3.org/2001/XMLSchema#boolean>"
LEVELS = [pytest.param(1, id="level1"), pytest.param(2, id="level2"), pytest.param(5, id="level5")]


def subclass_rules(net: Network) -> str:
    """TestDomainKnowledge's rules: a subClassOf fact and the rule that types by it."""
    namespace = net.iri("")[1:-1]
    return (
        f"@prefix ex: <{namespace}> .\n"
        "-> ( ex:Sensor rdfs:subClassOf ex:Device ) .\n"
        "(?x rdfs:subClassOf ?y), (?a rdf:type ?x) -> (?a rdf:type ?y) .\n"
    )


@pytest.mark.parametrize("level", LEVELS)
async def test_a_transitive_rule_finds_the_sensors_of_a_building(net: Network, level: int) -> None:
    """Restates GeneralizeIfNecessaryTest: isPartOf is transitive (a rule of the asker).

    Both sensors are in a room, on a floor, of the building: the KE asks the floor plan once,
    with two bindings (the building, for the direct isPartOf, and an empty one for the
    chain), and joins its answer with the sensors'.
    """
    part, sensor, latest = net.iri("isPartOf"), net.iri("Sensor"), net.iri("hasLatestValue")
    building, floor = net.iri("building1"), net.iri("floor1")
    room1, room2 = net.iri("room1"), net.iri("room2")
    asker = await register_at_level(net, "app", level)
    await net.client.upload_domain_knowledge(
        asker, f"[transitive: (?x {part} ?y) (?y {part} ?z) -> (?x {part} ?z)]"
    )
    ask_id = await net.asker(
        "app", f"?s {RDF_TYPE} {sensor} . ?s {part} {building} . ?s {latest} ?value ."
    )
    for name, room in (("sensor1", room1), ("sensor2", room2)):
        it = net.iri(name)
        await net.answerer(
            name, f"{it} {RDF_TYPE} {sensor} . {it} {part} {room} . {it} {latest} ?value ."
        )
    plan = [{"x": floor, "y": building}, {"x": room1, "y": floor}, {"x": room2, "y": floor}]
    await net.answerer("floorplan", f"?x {part} ?y .")
    respond = {
        net.kb_id("sensor1"): rows_within([{"value": "10"}]),
        net.kb_id("sensor2"): rows_within([{"value": "20"}]),
        net.kb_id("floorplan"): rows_within(plan),
    }
    async with Served(net.client, respond) as served:
        result = await served.run(net.client.ask(asker, ask_id, [{}]))
    if level == 1:
        assert all(requests == [] for requests in served.received.values())
        assert result.binding_set == []
        assert result.exchange_info == []
        return
    assert served.bindings(net.kb_id("sensor1")) == [[{}]]
    assert served.bindings(net.kb_id("sensor2")) == [[{}]]
    assert served.bindings(net.kb_id("floorplan")) == [ordered([{"y": building}, {}])]
    assert ordered(result.binding_set) == ordered(
        [
            {"s": net.iri("sensor1"), "value": integer(10)},
            {"s": net.iri("sensor2"), "value": integer(20)},
        ]
    )
    assert sorted(info.knowledge_base_id for info in result.exchange_info) == sorted(respond)
    assert all(info.status is ExchangeStatus.SUCCEEDED for info in result.exchange_info)


@pytest.mark.parametrize("level", LEVELS)
async def test_a_subclass_rule_lets_an_ask_for_devices_reach_the_sensors(
    net: Network, level: int
) -> None:
    """Restates TestDomainKnowledge's rules used in an ASK (sensors are devices).

    Level 1 asks only the KB that answers devices: the sensors need the fact and the rule.
    """
    device, sensor, name = net.iri("Device"), net.iri("Sensor"), net.iri("name")
    asker = await register_at_level(net, "asker", level)
    await net.client.upload_domain_knowledge(asker, subclass_rules(net))
    ask_id = await net.asker("asker", f"?d {RDF_TYPE} {device} . ?d {name} ?n .")
    await net.answerer("sensors", f"?s {RDF_TYPE} {sensor} . ?s {name} ?m .")
    await net.answerer("devices", f"?s {RDF_TYPE} {device} . ?s {name} ?m .")
    s1, d1 = net.iri("s1"), net.iri("d1")
    respond = {
        net.kb_id("sensors"): rows_within([{"s": s1, "m": '"one"'}]),
        net.kb_id("devices"): rows_within([{"s": d1, "m": '"dev"'}]),
    }
    async with Served(net.client, respond) as served:
        # The rule's (?a rdf:type ?x) reaches every KB that answers some type: only these.
        result = await served.run(net.client.ask(asker, ask_id, [], recipients=list(respond)))
    assert served.bindings(net.kb_id("devices")) == [[{}]]
    if level == 1:
        assert served.received[net.kb_id("sensors")] == []
        assert result.binding_set == [{"d": d1, "n": '"dev"'}]
        return
    assert served.bindings(net.kb_id("sensors")) == [[{}]]
    assert ordered(result.binding_set) == ordered(
        [{"d": d1, "n": '"dev"'}, {"d": s1, "n": '"one"'}]
    )
    assert sorted(info.knowledge_base_id for info in result.exchange_info) == sorted(respond)


@pytest.mark.parametrize(
    ("level", "whole"),
    [
        pytest.param(1, False, id="level1-rule-for-one-triple"),
        pytest.param(1, True, id="level1-rule-for-the-whole-ask"),
        pytest.param(2, False, id="level2-rule-for-one-triple"),
    ],
)
async def test_at_level_1_a_rule_is_used_only_when_it_covers_the_whole_ask(
    net: Network, level: int, whole: bool
) -> None:
    """Restates the single-rule flag of level 1 (TestReasonerLevel's levels) with a subclass.

    ``?t a Tree . ?t height ?h`` and a KB that answers oaks. The rule ``Oak -> Tree`` covers
    one triple of the ASK, and the KB the other: that takes two rules, so level 1 asks nobody.
    A rule ``Oak, height -> Tree, height`` covers the whole ASK, and level 1 uses it.
    """
    oak, tree, height = net.iri("Oak"), net.iri("Tree"), net.iri("height")
    asker = await register_at_level(net, "asker", level)
    if whole:
        rule = f"(?x {RDF_TYPE} {oak}) (?x {height} ?h) -> (?x {RDF_TYPE} {tree}) (?x {height} ?h)"
    else:
        rule = f"(?x {RDF_TYPE} {oak}) -> (?x {RDF_TYPE} {tree})"
    await net.client.upload_domain_knowledge(asker, f"[subclass: {rule}]")
    ask_id = await net.asker("asker", f"?t {RDF_TYPE} {tree} . ?t {height} ?h .")
    await net.answerer("oaks", f"?x {RDF_TYPE} {oak} . ?x {height} ?y .")
    answer = rows_within([{"x": net.iri("oak1"), "y": "21"}])
    async with Served(net.client, {net.kb_id("oaks"): answer}) as served:
        result = await served.run(net.client.ask(asker, ask_id, []))
    if level == 1 and not whole:
        assert served.received[net.kb_id("oaks")] == []
        assert result.binding_set == []
        assert result.exchange_info == []
        return
    assert served.bindings(net.kb_id("oaks")) == [[{}]]
    assert result.binding_set == [{"t": net.iri("oak1"), "h": integer(21)}]
    [info] = result.exchange_info
    assert info.status is ExchangeStatus.SUCCEEDED


@pytest.mark.parametrize("level", LEVELS)
async def test_rules_let_a_post_reach_a_react_not_designed_for_it(net: Network, level: int) -> None:
    """Restates NotDesignedToWorkTogetherTest: an on/off lamp app drives a dimmable lamp.

    The app's rules turn ``isOn true`` into ``hasBrightness "100"``; at every level both
    lamps' REACTs get both posted lamps, the dimmable one as brightness.
    """
    on_off, dimmable = net.iri("OnOffLamp"), net.iri("DimmableLamp")
    is_on, brightness = net.iri("isOn"), net.iri("hasBrightness")
    lamp1, lamp2 = net.iri("lamp1"), net.iri("lamp2")
    rules = "\n".join(
        f"[{state}: (?s {RDF_TYPE} {on_off}) (?s {is_on} '{state}'^^xsd:boolean) -> "
        f"(?s {RDF_TYPE} {dimmable}) (?s {brightness} '{percent}')]"
        for state, percent in (("true", "100"), ("false", "0"))
    )
    lamp = f"?l {RDF_TYPE} {on_off} . ?l {is_on} ?o ."
    app = await register_at_level(net, "app", level)
    await net.client.upload_domain_knowledge(app, rules)
    post_id = await net.with_ki("app", proactive(POST, "post", lamp))
    await net.with_ki("lamp1", proactive(REACT, "react", lamp))
    await net.with_ki(
        "lamp2", proactive(REACT, "react", f"?l {RDF_TYPE} {dimmable} . ?l {brightness} ?b .")
    )
    respond = {net.kb_id("lamp1"): nothing, net.kb_id("lamp2"): nothing}
    on = f'"true"^^{BOOLEAN}'
    async with Served(net.client, respond) as served:
        result = await served.run(
            net.client.post(app, post_id, [{"l": lamp1, "o": "true"}, {"l": lamp2, "o": "true"}])
        )
    assert served.bindings(net.kb_id("lamp1")) == [
        ordered([{"l": lamp1, "o": on}, {"l": lamp2, "o": on}])
    ]
    assert served.bindings(net.kb_id("lamp2")) == [
        ordered([{"l": lamp1, "b": '"100"'}, {"l": lamp2, "b": '"100"'}])
    ]
    assert result.result_binding_set == []
    infos = {info.knowledge_base_id: info for info in result.exchange_info}
    assert sorted(infos) == sorted(respond)
    assert all(info.status is ExchangeStatus.SUCCEEDED for info in infos.values())
    assert ordered(infos[net.kb_id("lamp2")].argument_binding_set) == ordered(
        [{"l": lamp1, "b": '"100"'}, {"l": lamp2, "b": '"100"'}]
    )


@pytest.mark.parametrize("level", LEVELS)
async def test_a_subclass_rule_lets_a_post_of_sensors_reach_a_react_on_devices(
    net: Network, level: int
) -> None:
    """Restates TestDomainKnowledge's rules used in a POST (sensors are devices).

    Level 1 does not use them: it takes the fact and the rule, two rules for one match.
    """
    device, sensor, name = net.iri("Device"), net.iri("Sensor"), net.iri("name")
    poster = await register_at_level(net, "poster", level)
    await net.client.upload_domain_knowledge(poster, subclass_rules(net))
    post_id = await net.with_ki(
        "poster", proactive(POST, "post", f"?s {RDF_TYPE} {sensor} . ?s {name} ?n .")
    )
    await net.with_ki(
        "devices", proactive(REACT, "react", f"?d {RDF_TYPE} {device} . ?d {name} ?m .")
    )
    s1 = net.iri("s1")
    async with Served(net.client, {net.kb_id("devices"): nothing}) as served:
        result = await served.run(
            net.client.post(
                poster, post_id, [{"s": s1, "n": '"one"'}], recipients=[net.kb_id("devices")]
            )
        )
    assert result.result_binding_set == []
    if level == 1:
        assert served.received[net.kb_id("devices")] == []
        assert result.exchange_info == []
        return
    assert served.bindings(net.kb_id("devices")) == [[{"d": s1, "m": '"one"'}]]
    [info] = result.exchange_info
    assert info.knowledge_base_id == net.kb_id("devices")
    assert info.status is ExchangeStatus.SUCCEEDED
    assert info.argument_binding_set == [{"d": s1, "m": '"one"'}]
