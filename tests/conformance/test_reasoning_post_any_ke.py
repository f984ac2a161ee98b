"""Forward chaining in a POST: which REACTs fire, with which arguments and results, on any KE.

A REACT fires when the posted data covers its argument (from level 2 when the data has more
than it wants; at level 1 its argument must take all of the POST's), when an ANSWER completes
its argument (level 2 and higher), or when another REACT's result does (at every level). The
results of the REACTs are unioned and projected onto the POST's result pattern; level 1 drops
those of a REACT whose result pattern has more than the POST's.

Run against the served local engine always, and against the KE at ``KM_TEST_KE_URL`` when it
is set (see test_contract_any_ke.py). Each test has KB ids and IRIs of its own (`Network`),
registers the posting KB at the reasoner level under test, and deletes its KBs afterwards.
"""

from __future__ import annotations

import pytest

from km_core import ExchangeStatus, HandleRequest, KnowledgeInteractionType
from tests.conformance.rest import (
    Network,
    Served,
    integer,
    nothing,
    ordered,
    proactive,
    register_at_level,
)

pytestmark = pytest.mark.ke

POST = KnowledgeInteractionType.POST
REACT = KnowledgeInteractionType.REACT
LEVELS = [pytest.param(1, id="level1"), pytest.param(2, id="level2"), pytest.param(5, id="level5")]


async def poster(
    net: Network, level: int, argument: str, result: str | None = None
) -> tuple[str, str]:
    """KB ``poster`` at ``level`` with a POST ``post``; both ids."""
    kb_id = await register_at_level(net, "poster", level)
    return kb_id, await net.with_ki("poster", proactive(POST, "post", argument, result))


@pytest.mark.parametrize("level", LEVELS)
async def test_a_react_fires_on_the_part_of_the_posted_data_it_wants(
    net: Network, level: int
) -> None:
    """Restates reference §7.5 (docs reasoning.md): a REACT whose argument the POST covers.

    The POST says a room's temperature and unit; the REACT wants the temperature only. Level
    1 wants the REACT's argument to be the POST's; from level 2 it receives its part.
    """
    temperature, unit, room = net.iri("temp"), net.iri("unit"), net.iri("room")
    kb_id, post_id = await poster(net, level, f"?s {temperature} ?c . ?s {unit} ?u .")
    await net.with_ki("reactor", proactive(REACT, "react", f"?x {temperature} ?y ."))
    async with Served(net.client, {net.kb_id("reactor"): nothing}) as served:
        result = await served.run(
            net.client.post(kb_id, post_id, [{"s": room, "c": "20", "u": '"C"'}])
        )
    assert result.result_binding_set == []
    if level == 1:
        assert served.received[net.kb_id("reactor")] == []
        assert result.exchange_info == []
        return
    sent = [{"x": room, "y": integer(20)}]
    assert served.bindings(net.kb_id("reactor")) == [sent]
    [info] = result.exchange_info
    assert info.status is ExchangeStatus.SUCCEEDED
    assert info.argument_binding_set == sent
    assert info.result_binding_set == []


@pytest.mark.parametrize("level", LEVELS)
async def test_an_answer_completes_the_argument_of_a_react_from_level_2(
    net: Network, level: int
) -> None:
    """Restates reference §7.1 (docs reasoning.md): ANSWERs complete a REACT's argument.

    The POST has a room's temperature; the REACT also wants its unit, which another KB
    answers. That KB receives an empty binding set (``[]``, not ``[{}]``) and is not listed
    in the exchange info; the REACT receives the posted data joined with its answer.
    """
    temperature, unit, advice = net.iri("temp"), net.iri("unit"), net.iri("advice")
    room, hall = net.iri("room"), net.iri("hall")
    kb_id, post_id = await poster(net, level, f"?s {temperature} ?c .", f"?s {advice} ?a .")
    await net.with_ki(
        "reactor",
        proactive(REACT, "react", f"?x {temperature} ?y . ?x {unit} ?u .", f"?x {advice} ?z ."),
    )
    await net.answerer("units", f"?q {unit} ?w .")
    units = [{"q": room, "w": '"C"'}, {"q": hall, "w": '"F"'}]

    def advise(request: HandleRequest) -> list[dict[str, str]]:
        return [{"x": b["x"], "z": '"heat"'} for b in request.binding_set]

    respond = {net.kb_id("reactor"): advise, net.kb_id("units"): lambda request: units}
    async with Served(net.client, respond) as served:
        result = await served.run(net.client.post(kb_id, post_id, [{"s": room, "c": "20"}]))
    if level == 1:
        assert served.received == {kb_id: [] for kb_id in respond}
        assert result.result_binding_set == []
        assert result.exchange_info == []
        return
    assert served.bindings(net.kb_id("units")) == [[]]
    sent = [{"x": room, "y": integer(20), "u": '"C"'}]
    assert served.bindings(net.kb_id("reactor")) == [sent]
    assert result.result_binding_set == [{"s": room, "a": '"heat"'}]
    [info] = result.exchange_info
    assert info.knowledge_base_id == net.kb_id("reactor")
    assert info.status is ExchangeStatus.SUCCEEDED
    assert info.argument_binding_set == sent
    assert info.result_binding_set == [{"x": room, "z": '"heat"'}]


@pytest.mark.parametrize("level", LEVELS)
async def test_a_react_fires_on_the_result_of_another_react(net: Network, level: int) -> None:
    """Restates reference §7.5 (docs reasoning.md): a chain of REACTs, at every level.

    The first REACT turns the posted celsius into fahrenheit, the second fahrenheit into
    advice, which the POST wants back. Both are listed in the exchange info.
    """
    temperature, fahrenheit = net.iri("temp"), net.iri("tempF")
    advice, room = net.iri("advice"), net.iri("room")
    kb_id, post_id = await poster(net, level, f"?s {temperature} ?c .", f"?s {advice} ?a .")
    await net.with_ki(
        "first", proactive(REACT, "react", f"?x {temperature} ?y .", f"?x {fahrenheit} ?f .")
    )
    await net.with_ki(
        "second", proactive(REACT, "react", f"?k {fahrenheit} ?g .", f"?k {advice} ?v .")
    )
    respond = {
        net.kb_id("first"): lambda r: [{"x": b["x"], "f": "68"} for b in r.binding_set],
        net.kb_id("second"): lambda r: [{"k": b["k"], "v": '"open"'} for b in r.binding_set],
    }
    async with Served(net.client, respond) as served:
        result = await served.run(net.client.post(kb_id, post_id, [{"s": room, "c": "20"}]))
    assert served.bindings(net.kb_id("first")) == [[{"x": room, "y": integer(20)}]]
    assert served.bindings(net.kb_id("second")) == [[{"k": room, "g": integer(68)}]]
    assert result.result_binding_set == [{"s": room, "a": '"open"'}]
    infos = {info.knowledge_base_id: info for info in result.exchange_info}
    assert sorted(infos) == sorted(respond)
    assert all(info.status is ExchangeStatus.SUCCEEDED for info in infos.values())
    assert infos[net.kb_id("second")].result_binding_set == [{"k": room, "v": '"open"'}]


@pytest.mark.parametrize("level", LEVELS)
async def test_the_results_of_reacts_are_unioned_and_projected(net: Network, level: int) -> None:
    """Restates TestPostReact3: two REACTs, one with a result pattern of a triple more.

    Both receive the posted binding and succeed at every level. From level 2 the POST gets
    both results, on its own result variables (the extra triple's ``?e ?f`` projected away);
    level 1 keeps only the result of the REACT whose result pattern is the POST's.
    """
    pred1, pred2, pred3 = net.iri("pred1"), net.iri("pred2"), net.iri("pred3")
    a, b = net.iri("a"), net.iri("b")
    kb_id, post_id = await poster(net, level, f"?a {pred1} ?b .", f"?c {pred2} ?d .")
    await net.with_ki("kb2", proactive(REACT, "react", f"?a {pred1} ?b .", f"?c {pred2} ?d ."))
    await net.with_ki(
        "kb3",
        proactive(REACT, "react", f"?a {pred1} ?b .", f"?c {pred2} ?d . ?e {pred3} ?f ."),
    )
    first = [{"c": net.iri("c1"), "d": net.iri("d1")}]
    second = [{"c": net.iri("c2"), "d": net.iri("d2"), "e": net.iri("e2"), "f": net.iri("f2")}]
    respond = {net.kb_id("kb2"): lambda r: first, net.kb_id("kb3"): lambda r: second}
    async with Served(net.client, respond) as served:
        result = await served.run(net.client.post(kb_id, post_id, [{"a": a, "b": b}]))
    assert served.bindings(net.kb_id("kb2")) == [[{"a": a, "b": b}]]
    assert served.bindings(net.kb_id("kb3")) == [[{"a": a, "b": b}]]
    projected = [{"c": net.iri("c2"), "d": net.iri("d2")}] if level > 1 else []
    assert ordered(result.result_binding_set) == ordered(first + projected)
    infos = {info.knowledge_base_id: info for info in result.exchange_info}
    assert sorted(infos) == sorted(respond)
    assert infos[net.kb_id("kb3")].result_binding_set == second  # the reactor's own
    assert all(info.status is ExchangeStatus.SUCCEEDED for info in infos.values())
