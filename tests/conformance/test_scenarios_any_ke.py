"""Multi-KB exchanges through raw REST, on any Knowledge Engine: who receives what, who gets what.

Run against the served local engine always, and against the KE at ``KM_TEST_KE_URL`` when it
is set (see test_contract_any_ke.py). The real KE is the judge: both variants must pass.

Each test has KB ids and IRIs of its own (`Network`), and deletes its KBs afterwards.
"""

from __future__ import annotations

import asyncio

import pytest

from km_core import ExchangeStatus, HandleRequest, KnowledgeInteractionType
from tests.conformance.rest import (
    STEP,
    Network,
    integer,
    next_request,
    ordered,
    proactive,
    respond,
    serve_until_answered,
)

pytestmark = pytest.mark.ke

POST = KnowledgeInteractionType.POST
REACT = KnowledgeInteractionType.REACT


async def test_variables_are_renamed_both_ways_whatever_the_triple_order(net: Network) -> None:
    height, name, oak = net.iri("height"), net.iri("name"), net.iri("oak")
    await net.answerer("answerer", f"?x {name} ?y . ?x {height} ?z .")
    ask_id = await net.asker("asker", f"?tree {height} ?h . ?tree {name} ?n .")
    asking = asyncio.create_task(net.client.ask(net.kb_id("asker"), ask_id, [{"n": '"Oak"'}]))
    answered = [{"x": oak, "y": '"Oak"', "z": integer(21)}]
    result, received = await serve_until_answered(
        net.client, asking, [net.kb_id("answerer")], lambda kb_id, request: answered
    )
    assert received[net.kb_id("answerer")].binding_set == [{"y": '"Oak"'}]
    assert received[net.kb_id("answerer")].requesting_knowledge_base_id == net.kb_id("asker")
    assert result.binding_set == [{"tree": oak, "h": integer(21), "n": '"Oak"'}]
    [info] = result.exchange_info
    assert info.status is ExchangeStatus.SUCCEEDED
    assert info.binding_set == answered  # in the answerer's names


async def test_a_constant_in_the_ask_reaches_the_answerer_as_a_binding(net: Network) -> None:
    height, oak = net.iri("height"), net.iri("oak")
    await net.answerer("answerer", f"?t {height} ?x .")
    ask_id = await net.asker("asker", f"{oak} {height} ?h .")
    asking = asyncio.create_task(net.client.ask(net.kb_id("asker"), ask_id, []))
    result, received = await serve_until_answered(
        net.client, asking, [net.kb_id("answerer")], lambda *_: [{"t": oak, "x": "21"}]
    )
    assert received[net.kb_id("answerer")].binding_set == [{"t": oak}]
    assert result.binding_set == [{"h": integer(21)}]
    assert result.exchange_info[0].binding_set == [{"t": oak, "x": integer(21)}]


async def test_an_answer_beyond_the_constant_of_the_ask_fails_the_exchange(net: Network) -> None:
    height, oak, elm = net.iri("height"), net.iri("oak"), net.iri("elm")
    await net.answerer("answerer", f"?t {height} ?x .")
    ask_id = await net.asker("asker", f"{oak} {height} ?h .")
    asking = asyncio.create_task(net.client.ask(net.kb_id("asker"), ask_id, []))
    result, _ = await serve_until_answered(
        net.client,
        asking,
        [net.kb_id("answerer")],
        lambda *_: [{"t": oak, "x": "21"}, {"t": elm, "x": "3"}],
    )
    assert result.binding_set == []
    [info] = result.exchange_info
    assert info.status is ExchangeStatus.FAILED
    assert info.binding_set == []
    assert info.failed_message == (
        "java.lang.IllegalArgumentException: KB gave outgoing binding "
        f'{{?t={elm[1:-1]}, ?x="3"^^xsd:integer}}, but this doesn\'t have a matching incoming '
        "binding!"
    )


@pytest.mark.parametrize(
    ("asked", "received", "expected"),
    [
        pytest.param([], [{}], [{"x": "oak", "y": "c"}], id="nothing-bound"),
        pytest.param([{"x": "oak", "y": "c"}], [{"a": "oak"}], [{"x": "oak", "y": "c"}], id="fits"),
        pytest.param(
            [{"x": "oak", "y": "c"}, {"x": "elm", "y": "d"}],
            [{"a": "oak"}],
            [{"x": "oak", "y": "c"}],
            id="one-of-two-fits",
        ),
        pytest.param([{"y": "d"}], [], [], id="none-fits"),
    ],
)
async def test_a_constant_in_the_answer_fills_and_restricts_the_askers_variable(
    net: Network,
    asked: list[dict[str, str]],
    received: list[dict[str, str]],
    expected: list[dict[str, str]],
) -> None:
    """The answer ``?a b c`` to the ask ``?x b ?y``; the parameters name IRIs of the test."""

    def iris(binding_set: list[dict[str, str]]) -> list[dict[str, str]]:
        return [{var: net.iri(name) for var, name in b.items()} for b in binding_set]

    b, c = net.iri("b"), net.iri("c")
    await net.answerer("answerer", f"?a {b} {c} .")
    ask_id = await net.asker("asker", f"?x {b} ?y .")
    asking = asyncio.create_task(net.client.ask(net.kb_id("asker"), ask_id, iris(asked)))
    result, requests = await serve_until_answered(
        net.client, asking, [net.kb_id("answerer")], lambda *_: [{"a": net.iri("oak")}]
    )
    assert requests[net.kb_id("answerer")].binding_set == iris(received)
    assert result.binding_set == iris(expected)
    [info] = result.exchange_info
    assert info.status is ExchangeStatus.SUCCEEDED
    assert info.binding_set == [{"a": net.iri("oak")}]


@pytest.mark.parametrize(
    "asked",
    [
        pytest.param(["oak", "elm"], id="partial-bindings"),
        pytest.param(["oak", None], id="an-empty-binding-among-them"),
    ],
)
async def test_the_answerer_receives_each_partial_binding_and_answers_within_them(
    net: Network, asked: list[str | None]
) -> None:
    height, oak, elm = net.iri("height"), net.iri("oak"), net.iri("elm")
    await net.answerer("answerer", f"?t {height} ?x .")
    ask_id = await net.asker("asker", f"?tree {height} ?h .")
    binding_set = [{"tree": net.iri(tree)} if tree else {} for tree in asked]
    asking = asyncio.create_task(net.client.ask(net.kb_id("asker"), ask_id, binding_set))
    answered = [{"t": oak, "x": integer(21)}, {"t": elm, "x": integer(3)}]
    result, requests = await serve_until_answered(
        net.client, asking, [net.kb_id("answerer")], lambda *_: answered
    )
    expected = [{"t": net.iri(tree)} if tree else {} for tree in asked]
    assert ordered(requests[net.kb_id("answerer")].binding_set) == ordered(expected)
    [info] = result.exchange_info
    assert info.status is ExchangeStatus.SUCCEEDED, info.failed_message
    assert ordered(result.binding_set) == ordered(
        [{"tree": oak, "h": integer(21)}, {"tree": elm, "h": integer(3)}]
    )


async def test_several_answering_kbs_give_the_union_and_an_exchange_each(net: Network) -> None:
    height, oak, elm = net.iri("height"), net.iri("oak"), net.iri("elm")
    answers = {
        net.kb_id("first"): [{"a": oak, "b": integer(21)}],
        net.kb_id("second"): [{"a": oak, "b": integer(21)}, {"a": elm, "b": integer(3)}],
        net.kb_id("third"): [],
    }
    for name in ("first", "second", "third"):
        await net.answerer(name, f"?a {height} ?b .")
    ask_id = await net.asker("asker", f"?tree {height} ?h .")
    asking = asyncio.create_task(net.client.ask(net.kb_id("asker"), ask_id, []))
    result, received = await serve_until_answered(
        net.client, asking, list(answers), lambda kb_id, request: answers[kb_id]
    )
    assert sorted(received) == sorted(answers)
    assert all(request.binding_set == [{}] for request in received.values())
    assert ordered(result.binding_set) == ordered(
        [{"tree": oak, "h": integer(21)}, {"tree": elm, "h": integer(3)}]
    )
    infos = {info.knowledge_base_id: info for info in result.exchange_info}
    assert sorted(infos) == sorted(answers)
    for kb_id, info in infos.items():
        assert info.status is ExchangeStatus.SUCCEEDED
        assert info.knowledge_interaction_id == f"{kb_id}/interaction/answer"
        assert ordered(info.binding_set) == ordered(answers[kb_id])


@pytest.mark.parametrize(
    ("recipients", "asked"),
    [
        pytest.param(["second"], ["second"], id="one"),
        pytest.param(["first", "third"], ["first", "third"], id="a-list"),
        pytest.param(None, ["first", "second", "third"], id="all"),
        pytest.param([], ["first", "second", "third"], id="empty-list-is-all"),
        pytest.param(["nobody"], [], id="an-unknown-kb"),
        pytest.param(["asker"], [], id="the-asker-itself"),
    ],
)
async def test_the_recipient_selector_picks_who_is_asked(
    net: Network, recipients: list[str] | None, asked: list[str]
) -> None:
    height = net.iri("height")
    answerers = ["first", "second", "third"]
    for name in answerers:
        await net.answerer(name, f"?a {height} ?b .")
    ask_id = await net.asker("asker", f"?tree {height} ?h .")
    selected = None if recipients is None else [net.kb_id(name) for name in recipients]
    asking = asyncio.create_task(
        net.client.ask(net.kb_id("asker"), ask_id, [], recipients=selected)
    )

    def answer(kb_id: str, request: HandleRequest) -> list[dict[str, str]]:
        return [{"a": net.iri(kb_id.rsplit("/", 1)[1]), "b": integer(1)}]

    result, received = await serve_until_answered(
        net.client, asking, [net.kb_id(name) for name in answerers], answer
    )
    assert sorted(received) == sorted(net.kb_id(name) for name in asked)
    assert sorted(info.knowledge_base_id for info in result.exchange_info) == sorted(received)
    assert ordered(result.binding_set) == ordered(
        [{"tree": net.iri(name), "h": integer(1)} for name in asked]
    )


async def test_a_post_reaches_each_react_renamed_and_gets_their_results(net: Network) -> None:
    temperature, advice = net.iri("temperature"), net.iri("advice")
    room, hall = net.iri("room"), net.iri("hall")
    await net.with_ki(
        "heater", proactive(REACT, "react", f"?x {temperature} ?y .", f"?x {advice} ?z .")
    )
    await net.with_ki(
        "window", proactive(REACT, "react", f"?q {temperature} ?w .", f"?q {advice} ?e .")
    )
    post_id = await net.with_ki(
        "poster", proactive(POST, "post", f"?s {temperature} ?c .", f"?s {advice} ?a .")
    )
    posting = asyncio.create_task(
        net.client.post(
            net.kb_id("poster"), post_id, [{"s": room, "c": "21"}, {"s": hall, "c": "30"}]
        )
    )
    try:
        heater = await next_request(net.client, net.kb_id("heater"))
        window = await next_request(net.client, net.kb_id("window"))
        assert ordered(heater.binding_set) == ordered(
            [{"x": room, "y": integer(21)}, {"x": hall, "y": integer(30)}]
        )
        assert ordered(window.binding_set) == ordered(
            [{"q": room, "w": integer(21)}, {"q": hall, "w": integer(30)}]
        )
        heated = [{"x": room, "z": '"heat"'}]
        opened = [{"q": hall, "e": '"open"'}, {"q": room, "e": '"heat"'}]
        await respond(net.client, net.kb_id("heater"), heater, heated)
        await respond(net.client, net.kb_id("window"), window, opened)
        result = await asyncio.wait_for(posting, STEP)
    finally:
        posting.cancel()
    assert ordered(result.result_binding_set) == ordered(
        [{"s": room, "a": '"heat"'}, {"s": hall, "a": '"open"'}]
    )
    infos = {info.knowledge_base_id: info for info in result.exchange_info}
    assert infos.keys() == {net.kb_id("heater"), net.kb_id("window")}
    assert all(info.status is ExchangeStatus.SUCCEEDED for info in infos.values())
    assert ordered(infos[net.kb_id("heater")].argument_binding_set) == ordered(heater.binding_set)
    assert infos[net.kb_id("heater")].result_binding_set == heated
    assert ordered(infos[net.kb_id("window")].result_binding_set) == ordered(opened)


async def test_a_react_result_beyond_its_argument_fails_the_exchange(net: Network) -> None:
    temperature, advice = net.iri("temperature"), net.iri("advice")
    room, cellar = net.iri("room"), net.iri("cellar")
    await net.with_ki(
        "heater", proactive(REACT, "react", f"?x {temperature} ?y .", f"?x {advice} ?z .")
    )
    post_id = await net.with_ki(
        "poster", proactive(POST, "post", f"?s {temperature} ?c .", f"?s {advice} ?a .")
    )
    posting = asyncio.create_task(
        net.client.post(net.kb_id("poster"), post_id, [{"s": room, "c": "21"}])
    )
    try:
        heater = await next_request(net.client, net.kb_id("heater"))
        await respond(net.client, net.kb_id("heater"), heater, [{"x": cellar, "z": '"heat"'}])
        result = await asyncio.wait_for(posting, STEP)
    finally:
        posting.cancel()
    assert result.result_binding_set == []
    [info] = result.exchange_info
    assert info.status is ExchangeStatus.FAILED
    assert info.argument_binding_set == [{"x": room, "y": integer(21)}]
    assert info.failed_message == (
        "java.lang.IllegalArgumentException: KB gave outgoing binding "
        f'{{?x={cellar[1:-1]}, ?z="heat"}}, but this doesn\'t have a matching incoming binding!'
    )
