"""Knowledge gaps: what an ASK with ``knowledgeGapsEnabled`` reports missing, on any KE.

Such an ASK is planned at match strategy SUPREME (level 5) whatever the asking KB's level, so
an ANSWER that covers part of it is asked even at level 1. ``knowledgeGaps`` is ``[]`` when
the plan covers the whole ASK; otherwise each gap is one alternative set of missing triples
(``s p o``, full IRIs, no dot), written with the variables of whatever needs them: the ASK's,
a REACT's argument, or a rule's antecedent.

Run against the served local engine always, and against the KE at ``KM_TEST_KE_URL`` when it
is set (see test_contract_any_ke.py). Each test has KB ids and IRIs of its own (`Network`),
registers the asking KB at the reasoner level under test, and deletes its KBs afterwards.
"""

from __future__ import annotations

import pytest

from km_core import AskResult, ExchangeStatus, KnowledgeInteractionType
from tests.conformance.rest import (
    Network,
    Served,
    integer,
    ki,
    nothing,
    ordered,
    proactive,
    register_at_level,
    rows_within,
)

pytestmark = pytest.mark.ke

ASK = KnowledgeInteractionType.ASK
ANSWER = KnowledgeInteractionType.ANSWER
POST = KnowledgeInteractionType.POST
REACT = KnowledgeInteractionType.REACT
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"


async def gap_asker(net: Network, name: str, level: int, pattern: str) -> tuple[str, str]:
    """KB ``name`` at ``level`` with an ASK ``ask`` on ``pattern`` with gaps enabled."""
    kb_id = await register_at_level(net, name, level)
    registration = ki(ASK, "ask", pattern)
    registration.knowledge_gaps_enabled = True
    return kb_id, await net.client.register_ki(kb_id, registration)


def gaps(result: AskResult) -> list[list[str]] | None:
    """The result's knowledge gaps in a fixed order (each a set, and a set of them)."""
    if result.knowledge_gaps is None:
        return None
    return sorted(sorted(gap) for gap in result.knowledge_gaps)


def gap(*triples: str) -> list[str]:
    """A gap written as the KE does: each triple ``s p o`` without a dot."""
    return sorted(triple.strip().removesuffix(".").strip() for triple in triples)


@pytest.mark.parametrize(
    ("level", "two"),
    [
        pytest.param(1, False, id="level1"),
        pytest.param(2, False, id="level2"),
        pytest.param(5, False, id="level5"),
        pytest.param(2, True, id="level2-two-triples"),
    ],
)
async def test_when_nobody_answers_the_whole_ask_is_one_gap(
    net: Network, level: int, two: bool
) -> None:
    """Restates TestAskWithGapsEnabled (REST): a KB alone asks ``?a isRelatedTo ?b``."""
    related, father = net.iri("isRelatedTo"), net.iri("isFatherOf")
    triples = [f"?a {related} ?b"] + ([f"?a {father} ?c"] if two else [])
    asker, ask_id = await gap_asker(net, "asker", level, " . ".join(triples) + " .")
    result = await Served(net.client, {}).run(net.client.ask(asker, ask_id, []))
    assert result.binding_set == []
    assert result.exchange_info == []
    assert gaps(result) == [gap(*triples)]


@pytest.mark.parametrize("level", [pytest.param(1, id="level1"), pytest.param(2, id="level2")])
async def test_an_answer_for_part_of_the_ask_is_asked_and_the_rest_is_the_gap(
    net: Network, level: int
) -> None:
    """Restates TestAskAnswerWithGapsEnabled (REST) and TestAskAnswerWithGapsEnabled2.

    Gaps force level 5: even a level-1 asker asks the KB for ``isRelatedTo``.
    """
    related, father = net.iri("isRelatedTo"), net.iri("isFatherOf")
    barry, jack = net.iri("Barry"), net.iri("Jack")
    await net.answerer("provider", f"?x {related} ?y .")
    asker, ask_id = await gap_asker(net, "asker", level, f"?a {related} ?b . ?a {father} ?c .")
    answer = rows_within([{"x": barry, "y": jack}])
    async with Served(net.client, {net.kb_id("provider"): answer}) as served:
        result = await served.run(net.client.ask(asker, ask_id, []))
    assert served.bindings(net.kb_id("provider")) == [[{}]]
    assert result.binding_set == []
    [info] = result.exchange_info
    assert info.status is ExchangeStatus.SUCCEEDED
    assert info.binding_set == [{"x": barry, "y": jack}]
    assert gaps(result) == [gap(f"?a {father} ?c")]


@pytest.mark.parametrize(
    "answered", [pytest.param(True, id="answers"), pytest.param(False, id="answers-nothing")]
)
async def test_a_whole_match_leaves_no_gap_even_when_it_answers_nothing(
    net: Network, answered: bool
) -> None:
    """Restates TestAskAnswerWithGapsEnabledNoGaps (REST): ``"knowledgeGaps": []``."""
    height, oak = net.iri("height"), net.iri("oak")
    await net.answerer("answerer", f"?x {height} ?y .")
    asker, ask_id = await gap_asker(net, "asker", 2, f"?t {height} ?h .")
    rows = [{"x": oak, "y": integer(1)}] if answered else []
    async with Served(net.client, {net.kb_id("answerer"): rows_within(rows)}) as served:
        result = await served.run(net.client.ask(asker, ask_id, []))
    assert served.bindings(net.kb_id("answerer")) == [[{}]]
    assert result.binding_set == ([{"t": oak, "h": integer(1)}] if answered else [])
    assert result.knowledge_gaps == []


@pytest.mark.parametrize("level", [pytest.param(1, id="level1"), pytest.param(2, id="level2")])
async def test_a_react_that_could_fill_a_gap_adds_its_own_argument_to_it(
    net: Network, level: int
) -> None:
    """Restates TestAskAnswerReactWithGapsEnabled (REST).

    A REACT gives ``isRelatedTo`` from ``liveInTheSameHouse``, which nobody answers: the gap
    is that argument and ``isFatherOf``; neither the REACT nor the unrelated ANSWER is asked.
    """
    related, father = net.iri("isRelatedTo"), net.iri("isFatherOf")
    house = net.iri("liveInTheSameHouse")
    await net.answerer("provider", f"?a {net.iri('isRelatedTo1')} ?b .")
    await net.with_ki(
        "reactor", proactive(REACT, "react", f"?a {house} ?b .", f"?a {related} ?b .")
    )
    asker, ask_id = await gap_asker(net, "asker", level, f"?a {related} ?b . ?a {father} ?c .")
    respond = {net.kb_id("provider"): rows_within([]), net.kb_id("reactor"): nothing}
    async with Served(net.client, respond) as served:
        result = await served.run(net.client.ask(asker, ask_id, []))
    assert served.received == {kb_id: [] for kb_id in respond}
    assert result.binding_set == []
    assert result.exchange_info == []
    assert gaps(result) == [gap(f"?a {father} ?c", f"?a {house} ?b")]


@pytest.mark.parametrize(
    ("variable", "asked", "expected"),
    [
        pytest.param("id", "whole", "rule", id="testKnowledgeGap"),
        pytest.param("iq", "whole", "rule", id="testKnowledgeGapNoMatchingVars"),
        pytest.param("id", "imperial-image", "rule", id="testKnowledgeGapWithoutPrefixes"),
        pytest.param("iq", "egg-image", "none", id="testNoKnowledgeGap"),
    ],
)
async def test_a_rule_that_could_fill_a_gap_adds_its_missing_antecedent(
    net: Network, variable: str, asked: str, expected: str
) -> None:
    """Restates TestKnowledgeGapDetection (both KBs at level 4, as there).

    The searcher's rule makes an imperial Fabergé egg of an egg commissioned by Alexander
    III, made in Russia by the House of Fabergé; the observer answers eggs and their images.
    The gap is the rule's three missing triples, in the rule's variable ``?id`` whatever the
    ASK calls it; the ASK's own ``madeBy ?company`` and ``madeIn ?country`` are not in it.
    """
    egg, imperial, image = net.iri("FabergeEgg"), net.iri("ImperialFaberge"), net.iri("hasImage")
    by, made_in, commissioned = net.iri("madeBy"), net.iri("madeIn"), net.iri("commissionedBy")
    await register_at_level(net, "observer", 4)
    await net.answerer("observer", f"?id {RDF_TYPE} {egg} . ?id {image} ?image .")
    searcher = await register_at_level(net, "searcher", 4)
    await net.client.upload_domain_knowledge(
        searcher,
        f"[imperial: (?id {RDF_TYPE} {egg}) (?id {commissioned} 'Alexander III') "
        f"(?id {made_in} 'Russia') (?id {by} 'House of Faberge') -> (?id {RDF_TYPE} {imperial})]",
    )
    v = f"?{variable}"
    pattern = {
        "whole": f"{v} {RDF_TYPE} {imperial} . {v} {by} ?company . {v} {made_in} ?country . "
        f"{v} {image} ?image .",
        "imperial-image": f"{v} {RDF_TYPE} {imperial} . {v} {image} ?image .",
        "egg-image": f"{v} {RDF_TYPE} {egg} . {v} {image} ?image .",
    }[asked]
    registration = ki(ASK, "ask", pattern)
    registration.knowledge_gaps_enabled = True
    ask_id = await net.client.register_ki(searcher, registration)
    hen, third = net.iri("Hen"), net.iri("ThirdImperial")
    rows = [{"id": hen, "image": '"hen"'}, {"id": third, "image": '"third"'}]
    async with Served(net.client, {net.kb_id("observer"): rows_within(rows)}) as served:
        result = await served.run(net.client.ask(searcher, ask_id, []))
    assert served.bindings(net.kb_id("observer")) == [[{}]]
    [info] = result.exchange_info
    assert info.status is ExchangeStatus.SUCCEEDED
    assert ordered(info.binding_set) == ordered(rows)
    if expected == "none":
        assert ordered(result.binding_set) == ordered(
            [{variable: hen, "image": '"hen"'}, {variable: third, "image": '"third"'}]
        )
        assert result.knowledge_gaps == []
        return
    assert result.binding_set == []
    assert gaps(result) == [
        gap(
            f'?id {commissioned} "Alexander III"',
            f'?id {made_in} "Russia"',
            f'?id {by} "House of Faberge"',
        )
    ]


@pytest.mark.parametrize("level", [pytest.param(1, id="level1"), pytest.param(2, id="level2")])
async def test_a_gap_is_filled_by_a_new_kb_and_a_post_then_goes_through_it(
    net: Network, level: int
) -> None:
    """Restates TestDynamicSemanticComposition (all KBs at the level under test).

    The searcher asks high-value targets (with gaps) and reacts to them; by its rules a
    target is one when its country is Prussia or its language Prussian. The observer
    answers and posts targets. First ask: two alternative gaps. A KB whose REACT gives a
    target's country fills one: the second ask converts through it. The observer's post of
    target1 reaches the country REACT and, at level 2 only, through it and the rule the
    searcher's REACT.
    """
    target, hvt, name = net.iri("Target"), net.iri("HighValueTarget"), net.iri("hasName")
    country, language = net.iri("hasCountry"), net.iri("hasLanguage")
    rules = (
        f"[country: (?id {RDF_TYPE} {target}) (?id {country} 'Prussia') "
        f"-> (?id {RDF_TYPE} {hvt})]\n"
        f"[language: (?id {RDF_TYPE} {target}) (?id {language} 'Prussian') "
        f"-> (?id {RDF_TYPE} {hvt})]\n"
    )
    targets = f"?id {RDF_TYPE} {target} . ?id {name} ?name ."
    searcher, ask_id = await gap_asker(
        net, "searcher", level, f"?id {RDF_TYPE} {hvt} . ?id {name} ?name ."
    )
    await net.client.upload_domain_knowledge(searcher, rules)
    await net.with_ki(
        "searcher", proactive(REACT, "react", f"?id {RDF_TYPE} {hvt} . ?id {name} ?name .")
    )
    observer = await register_at_level(net, "observer", level)
    await net.client.upload_domain_knowledge(observer, rules)
    await net.client.register_ki(observer, ki(ANSWER, "answer", targets))
    post_id = await net.with_ki("observer", proactive(POST, "post", targets))
    t0, t1 = net.iri("target0"), net.iri("target1")
    rows = [{"id": t0, "name": '"Eek"'}, {"id": t1, "name": '"Bla"'}]
    countries = {t0: '"Holland"', t1: '"Prussia"'}
    respond = {net.kb_id("observer"): rows_within(rows), net.kb_id("searcher"): nothing}
    async with Served(net.client, respond) as served:
        first = await served.run(net.client.ask(searcher, ask_id, []))
        assert served.bindings(net.kb_id("observer")) == [[{}]]
        assert first.binding_set == []
        assert gaps(first) == [gap(f'?id {country} "Prussia"'), gap(f'?id {language} "Prussian"')]

        countries_kb = await register_at_level(net, "countries", level)
        await net.client.upload_domain_knowledge(countries_kb, rules)
        await net.with_ki(
            "countries", proactive(REACT, "react", targets, f"?id {country} ?country .")
        )
        served.add(
            countries_kb,
            lambda request: [
                {"id": b["id"], "country": countries[b["id"]]} for b in request.binding_set
            ],
        )
        served.clear()
        second = await served.run(net.client.ask(searcher, ask_id, []))
        assert served.bindings(net.kb_id("observer")) == [[{}]]
        assert served.bindings(net.kb_id("countries")) == [ordered(rows)]
        assert second.binding_set == [{"id": t1, "name": '"Bla"'}]
        assert second.knowledge_gaps == []
        assert [info.knowledge_base_id for info in second.exchange_info] == [observer]

        served.clear()
        posted = await served.run(net.client.post(observer, post_id, [rows[1]]))
    assert posted.result_binding_set == []
    assert served.bindings(net.kb_id("countries")) == [[rows[1]]]
    reached = {info.knowledge_base_id for info in posted.exchange_info}
    if level == 1:
        assert served.received[net.kb_id("searcher")] == []
        assert reached == {net.kb_id("countries")}
        return
    assert served.bindings(net.kb_id("searcher")) == [[rows[1]]]
    assert reached == {net.kb_id("countries"), searcher}
    assert all(info.status is ExchangeStatus.SUCCEEDED for info in posted.exchange_info)
