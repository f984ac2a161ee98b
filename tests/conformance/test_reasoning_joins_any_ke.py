"""Joins of partial answers: several ANSWERs that each cover part of an ASK, on any KE.

At reasoner level 1 no KB that covers only part of the ASK is contacted; from level 2 the KE
asks each of them (in parallel, each with the asker's bindings only) and joins their answers.
Levels 3 and higher also let one ANSWER triple stand for several ASK triples, and levels 4 and
5 contact an ANSWER that covers part of the ASK even when nothing covers the rest.

Run against the served local engine always, and against the KE at ``KM_TEST_KE_URL`` when it
is set (see test_contract_any_ke.py). Each test has KB ids and IRIs of its own (`Network`),
registers the asking KB at the reasoner level under test, and deletes its KBs afterwards.
"""

from __future__ import annotations

import pytest

from km_core import ExchangeStatus
from tests.conformance.rest import (
    Network,
    Served,
    integer,
    ordered,
    register_at_level,
    rows_within,
)

pytestmark = pytest.mark.ke

JOINING = [pytest.param(1, id="level1"), pytest.param(2, id="level2"), pytest.param(5, id="level5")]


@pytest.mark.parametrize("level", JOINING)
async def test_three_partial_answers_are_joined_from_level_2(net: Network, level: int) -> None:
    """Restates TestAskAnswer5: three KBs each cover two of the four triples of the ASK."""
    kind, sensor = net.iri("type"), net.iri("Sensor")
    value, room, maker = net.iri("hasV"), net.iri("inRoom"), net.iri("hasManu")
    s1, s2, s3 = net.iri("sensor1"), net.iri("sensor2"), net.iri("sensor3")
    answers = {
        net.kb_id("kb1"): [{"p": s1, "q": net.iri("value1")}, {"p": s2, "q": net.iri("value2")}],
        net.kb_id("kb3"): [{"x": s1, "y": net.iri("room1")}],
        net.kb_id("kb4"): [{"f": s1, "g": net.iri("manu1")}, {"f": s3, "g": net.iri("manu3")}],
    }
    await net.answerer("kb1", f"?p {kind} {sensor} . ?p {value} ?q .")
    await net.answerer("kb3", f"?x {kind} {sensor} . ?x {room} ?y .")
    await net.answerer("kb4", f"?f {kind} {sensor} . ?f {maker} ?g .")
    asker = await register_at_level(net, "kb2", level)
    ask_id = await net.asker(
        "kb2", f"?a {kind} {sensor} . ?a {value} ?b . ?a {room} ?c . ?a {maker} ?d ."
    )
    respond = {kb_id: rows_within(rows) for kb_id, rows in answers.items()}
    async with Served(net.client, respond) as served:
        result = await served.run(net.client.ask(asker, ask_id, []))
    if level == 1:
        assert all(requests == [] for requests in served.received.values())
        assert result.binding_set == []
        assert result.exchange_info == []
        return
    assert {kb_id: served.bindings(kb_id) for kb_id in answers} == {
        kb_id: [[{}]] for kb_id in answers
    }
    assert result.binding_set == [
        {"a": s1, "b": net.iri("value1"), "c": net.iri("room1"), "d": net.iri("manu1")}
    ]
    infos = {info.knowledge_base_id: info for info in result.exchange_info}
    assert sorted(infos) == sorted(answers)
    for kb_id, info in infos.items():
        assert info.status is ExchangeStatus.SUCCEEDED
        assert info.knowledge_interaction_id == f"{kb_id}/interaction/answer"
        assert ordered(info.binding_set) == ordered(answers[kb_id])  # the answerer's names


@pytest.mark.parametrize("level", JOINING)
async def test_each_part_of_a_join_gets_the_askers_bindings_not_the_other_parts(
    net: Network, level: int
) -> None:
    """Restates TestAskAnswer5 with an ask binding: the parts are asked in parallel.

    The ask binds ``?a``; the KB for ``?a knows ?b`` receives it, the KB for ``?b name ?n``
    receives one empty binding, not the ``?b`` the first one found.
    """
    knows, name = net.iri("knows"), net.iri("name")
    alice, bob, carol = net.iri("alice"), net.iri("bob"), net.iri("carol")
    known = [{"x": alice, "y": bob}, {"x": bob, "y": carol}]
    names = [{"s": bob, "m": '"Bob"'}, {"s": net.iri("dave"), "m": '"Dave"'}]
    await net.answerer("knows", f"?x {knows} ?y .")
    await net.answerer("names", f"?s {name} ?m .")
    asker = await register_at_level(net, "asker", level)
    ask_id = await net.asker("asker", f"?a {knows} ?b . ?b {name} ?n .")
    respond = {net.kb_id("knows"): rows_within(known), net.kb_id("names"): rows_within(names)}
    async with Served(net.client, respond) as served:
        result = await served.run(net.client.ask(asker, ask_id, [{"a": alice}]))
    if level == 1:
        assert served.received == {kb_id: [] for kb_id in respond}
        assert result.binding_set == []
        return
    assert served.bindings(net.kb_id("knows")) == [[{"x": alice}]]
    assert served.bindings(net.kb_id("names")) == [[{}]]
    assert result.binding_set == [{"a": alice, "b": bob, "n": '"Bob"'}]
    infos = {info.knowledge_base_id: info for info in result.exchange_info}
    assert infos[net.kb_id("knows")].binding_set == [{"x": alice, "y": bob}]
    assert ordered(infos[net.kb_id("names")].binding_set) == ordered(names)
    assert all(info.status is ExchangeStatus.SUCCEEDED for info in infos.values())


@pytest.mark.parametrize("level", JOINING)
async def test_a_whole_answer_and_a_join_of_partial_answers_are_unioned(
    net: Network, level: int
) -> None:
    """Restates TestAskAnswer3 (union) together with TestAskAnswer5 (join).

    One KB covers the whole ASK, two others a triple each: level 1 asks only the first,
    higher levels ask all three and return the whole answer and the joined one.
    """
    height, name = net.iri("height"), net.iri("name")
    oak, elm = net.iri("oak"), net.iri("elm")
    answers = {
        net.kb_id("whole"): [{"t": oak, "x": integer(1), "y": '"Oak"'}],
        net.kb_id("heights"): [{"t": elm, "x": integer(2)}],
        net.kb_id("names"): [{"t": elm, "y": '"Elm"'}],
    }
    await net.answerer("whole", f"?t {height} ?x . ?t {name} ?y .")
    await net.answerer("heights", f"?t {height} ?x .")
    await net.answerer("names", f"?t {name} ?y .")
    asker = await register_at_level(net, "asker", level)
    ask_id = await net.asker("asker", f"?a {height} ?b . ?a {name} ?c .")
    respond = {kb_id: rows_within(rows) for kb_id, rows in answers.items()}
    async with Served(net.client, respond) as served:
        result = await served.run(net.client.ask(asker, ask_id, []))
    whole = {"a": oak, "b": integer(1), "c": '"Oak"'}
    if level == 1:
        assert served.bindings(net.kb_id("whole")) == [[{}]]
        assert served.received[net.kb_id("heights")] == []
        assert served.received[net.kb_id("names")] == []
        assert result.binding_set == [whole]
        assert [info.knowledge_base_id for info in result.exchange_info] == [net.kb_id("whole")]
        return
    assert {kb_id: served.bindings(kb_id) for kb_id in answers} == {
        kb_id: [[{}]] for kb_id in answers
    }
    assert ordered(result.binding_set) == ordered(
        [whole, {"a": elm, "b": integer(2), "c": '"Elm"'}]
    )
    assert sorted(info.knowledge_base_id for info in result.exchange_info) == sorted(answers)


@pytest.mark.parametrize(
    "level",
    [
        pytest.param(1, id="level1"),
        pytest.param(2, id="level2"),
        pytest.param(3, id="level3"),
        pytest.param(5, id="level5"),
    ],
)
async def test_one_answer_triple_stands_for_two_ask_triples_from_level_3(
    net: Network, level: int
) -> None:
    """Restates the one-to-one flag of the KE's match strategies (TestReasonerLevel's levels).

    Levels 1 and 2 match one-to-one: the single triple ``?x knows ?y`` cannot cover both
    triples of ``?a knows ?b . ?b knows ?c``, and nobody is asked. From level 3 the KB is
    asked once, with one empty binding, and its answer is joined with itself.
    """
    knows = net.iri("knows")
    alice, bob, carol = net.iri("alice"), net.iri("bob"), net.iri("carol")
    rows = [{"x": alice, "y": bob}, {"x": bob, "y": carol}]
    await net.answerer("knows", f"?x {knows} ?y .")
    asker = await register_at_level(net, "asker", level)
    ask_id = await net.asker("asker", f"?a {knows} ?b . ?b {knows} ?c .")
    async with Served(net.client, {net.kb_id("knows"): rows_within(rows)}) as served:
        result = await served.run(net.client.ask(asker, ask_id, []))
    if level <= 2:
        assert served.received[net.kb_id("knows")] == []
        assert result.binding_set == []
        assert result.exchange_info == []
        return
    assert served.bindings(net.kb_id("knows")) == [[{}]]
    assert result.binding_set == [{"a": alice, "b": bob, "c": carol}]
    [info] = result.exchange_info
    assert info.status is ExchangeStatus.SUCCEEDED
    assert ordered(info.binding_set) == ordered(rows)


@pytest.mark.parametrize(
    "level",
    [pytest.param(2, id="level2"), pytest.param(4, id="level4"), pytest.param(5, id="level5")],
)
async def test_an_answer_for_part_of_the_ask_alone_is_asked_from_level_4(
    net: Network, level: int
) -> None:
    """Restates the fully-covered flag of the KE's match strategies (TestReasonerLevel's levels).

    Up to level 3 the ASK must be covered whole, so a KB for one of its two triples is not
    asked when nobody has the other; at levels 4 and 5 it is, and the result stays empty.
    """
    height, name = net.iri("height"), net.iri("name")
    await net.answerer("heights", f"?x {height} ?y .")
    asker = await register_at_level(net, "asker", level)
    ask_id = await net.asker("asker", f"?t {height} ?h . ?t {name} ?n .")
    answer = rows_within([{"x": net.iri("oak"), "y": integer(1)}])
    async with Served(net.client, {net.kb_id("heights"): answer}) as served:
        result = await served.run(net.client.ask(asker, ask_id, []))
    assert result.binding_set == []
    if level == 2:
        assert served.received[net.kb_id("heights")] == []
        assert result.exchange_info == []
        return
    assert served.bindings(net.kb_id("heights")) == [[{}]]
    [info] = result.exchange_info
    assert info.status is ExchangeStatus.SUCCEEDED
    assert info.binding_set == [{"x": net.iri("oak"), "y": integer(1)}]
