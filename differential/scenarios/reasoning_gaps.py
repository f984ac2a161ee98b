"""Knowledge gaps: what an empty answer lacks, through ANSWERs, REACTs and rules.

Restates TestAskWithGapsEnabled, TestAskAnswerReactWithGapsEnabled, TestKnowledgeGapDetection
and TestDynamicSemanticComposition.
"""

from __future__ import annotations

import asyncio

from differential.recorder import SETTLE, Recorder
from differential.scenario import scenario
from differential.scenarios.common import ANSWER, ASK, POST, fixed
from differential.scenarios.reasoning_common import (
    LEVELS,
    RDF_TYPE,
    SHORT_GRACE,
    Case,
    at_level,
    ki,
    knowledge,
    mapped,
    react,
    within,
)

# ------------------------------------------------------------------ knowledge gaps


async def _gap_asker(c: Case, name: str, level: int, pattern: str) -> tuple[str, str | None]:
    asking = await c.kb(name, level)
    ask_id = await ki(c.rec, asking, ASK, "ask", graphPattern=pattern, knowledgeGapsEnabled=True)
    return asking, ask_id


@scenario()
async def gaps_nobody_at_levels(rec: Recorder) -> None:
    """TestAskWithGapsEnabled at levels 1, 2, 5: nobody answers, the ASK is the gap."""
    for level in LEVELS:
        c = at_level(rec, level)
        asking, ask_id = await _gap_asker(c, "asker", level, f"?a {c.iri('isRelatedTo')} ?b .")
        await c.exchange("ask", "/sc/ask", asking, ask_id, [])


@scenario()
async def gaps_partial_answer_at_level_1(rec: Recorder) -> None:
    """TestAskAnswerWithGapsEnabled at level 1: gaps force level 5, the partial KB is asked."""
    c = at_level(rec, 1)
    related, father = c.iri("isRelatedTo"), c.iri("isFatherOf")
    provider = await c.kb("provider")
    await ki(rec, provider, ANSWER, "answer", graphPattern=f"?x {related} ?y .")
    asking, ask_id = await _gap_asker(c, "asker", 1, f"?a {related} ?b . ?a {father} ?c .")
    answer = within([{"x": c.iri("Barry"), "y": c.iri("Jack")}])
    await c.exchange("ask", "/sc/ask", asking, ask_id, [], [c.handle(provider, "provider", answer)])


async def _gap_react(c: Case, level: int) -> None:
    related, father = c.iri("isRelatedTo"), c.iri("isFatherOf")
    house = c.iri("liveInTheSameHouse")
    provider = await c.kb("provider")
    await ki(c.rec, provider, ANSWER, "answer", graphPattern=f"?a {c.iri('isRelatedTo1')} ?b .")
    reactor = await c.kb("reactor")
    await react(c.rec, reactor, f"?a {house} ?b .", f"?a {related} ?b .")
    pattern = f"?a {related} ?b . ?a {father} ?c ."
    asking, ask_id = await _gap_asker(c, "asker", level, pattern)
    handlers = [c.handle(provider, "provider", within([])), c.handle(reactor, "reactor", fixed([]))]
    await c.exchange("ask", "/sc/ask", asking, ask_id, [], handlers)


@scenario()
async def gaps_through_a_react(rec: Recorder) -> None:
    """TestAskAnswerReactWithGapsEnabled at levels 1 and 2: the REACT's argument is a gap."""
    for level in (1, 2):
        await _gap_react(at_level(rec, level), level)


async def _gap_rule(c: Case, variable: str, asked: str) -> None:
    egg, imperial, image = c.iri("FabergeEgg"), c.iri("ImperialFaberge"), c.iri("hasImage")
    by, made_in, commissioned = c.iri("madeBy"), c.iri("madeIn"), c.iri("commissionedBy")
    rule = (
        f"[imperial: (?id {RDF_TYPE} {egg}) (?id {commissioned} 'Alexander III') "
        f"(?id {made_in} 'Russia') (?id {by} 'House of Faberge') -> (?id {RDF_TYPE} {imperial})]"
    )
    v = f"?{variable}"
    pattern = {
        "whole": f"{v} {RDF_TYPE} {imperial} . {v} {by} ?company . {v} {made_in} ?country . "
        f"{v} {image} ?image .",
        "imperial-image": f"{v} {RDF_TYPE} {imperial} . {v} {image} ?image .",
        "egg-image": f"{v} {RDF_TYPE} {egg} . {v} {image} ?image .",
    }[asked]
    observer = await c.kb("observer", 4)
    eggs = f"?id {RDF_TYPE} {egg} . ?id {image} ?image ."
    await ki(c.rec, observer, ANSWER, "answer", graphPattern=eggs)
    searcher = await c.kb("searcher", 4)
    await knowledge(c.rec, c.label("knowledge"), searcher, rule)
    ask_id = await ki(c.rec, searcher, ASK, "ask", graphPattern=pattern, knowledgeGapsEnabled=True)
    rows = [{"id": c.iri("Hen"), "image": '"hen"'}, {"id": c.iri("Third"), "image": '"third"'}]
    handlers = [c.handle(observer, "observer", within(rows))]
    await c.exchange("ask", "/sc/ask", searcher, ask_id, [], handlers)


@scenario()
async def gaps_through_a_rule(rec: Recorder) -> None:
    """TestKnowledgeGapDetection (level 4): a rule's missing antecedent is the gap."""
    await _gap_rule(Case(rec, "testKnowledgeGap"), "id", "whole")
    await _gap_rule(Case(rec, "testKnowledgeGapNoMatchingVars"), "iq", "whole")
    await _gap_rule(Case(rec, "testKnowledgeGapWithoutPrefixes"), "id", "imperial-image")
    await _gap_rule(Case(rec, "testNoKnowledgeGap"), "iq", "egg-image")


async def _fill_the_gap(c: Case, level: int) -> None:
    target, hvt, name = c.iri("Target"), c.iri("HighValueTarget"), c.iri("hasName")
    country, language = c.iri("hasCountry"), c.iri("hasLanguage")
    rules = (
        f"[country: (?id {RDF_TYPE} {target}) (?id {country} 'Prussia') "
        f"-> (?id {RDF_TYPE} {hvt})]\n"
        f"[language: (?id {RDF_TYPE} {target}) (?id {language} 'Prussian') "
        f"-> (?id {RDF_TYPE} {hvt})]\n"
    )
    targets = f"?id {RDF_TYPE} {target} . ?id {name} ?name ."
    wanted = f"?id {RDF_TYPE} {hvt} . ?id {name} ?name ."
    t0, t1 = c.iri("target0"), c.iri("target1")
    rows = [{"id": t0, "name": '"Eek"'}, {"id": t1, "name": '"Bla"'}]
    searcher, ask_id = await _gap_asker(c, "searcher", level, wanted)
    await knowledge(c.rec, c.label("searcher knowledge"), searcher, rules)
    await react(c.rec, searcher, wanted)
    observer = await c.kb("observer", level)
    await knowledge(c.rec, c.label("observer knowledge"), observer, rules)
    await ki(c.rec, observer, ANSWER, "answer", graphPattern=targets)
    post_id = await ki(c.rec, observer, POST, "post", argumentGraphPattern=targets)
    rec = c.rec

    async def story() -> None:
        await rec.request(c.label("first ask"), "POST", "/sc/ask", kb=searcher, ki=ask_id, json=[])
        countries = await c.kb("countries", level)
        await knowledge(rec, c.label("countries knowledge"), countries, rules)
        await react(rec, countries, targets, f"?id {country} ?country .")
        convert = mapped("id", {t0: '"Holland"', t1: '"Prussia"'}, "country")
        serving = asyncio.create_task(c.handle(countries, "countries", convert, count=2))
        await asyncio.sleep(SETTLE)
        try:
            await rec.request(
                c.label("second ask"), "POST", "/sc/ask", kb=searcher, ki=ask_id, json=[]
            )
            await rec.request(
                c.label("post"), "POST", "/sc/post", kb=observer, ki=post_id, json=[rows[1]]
            )
        finally:
            await rec.finish([serving], grace=SHORT_GRACE)

    handlers = [
        c.handle(observer, "observer", within(rows), count=2),
        c.handle(searcher, "searcher", fixed([])),
    ]
    await rec.concurrently(story, handlers, grace=SHORT_GRACE)


@scenario()
async def gaps_filled_then_posted_through(rec: Recorder) -> None:
    """TestDynamicSemanticComposition at levels 1 and 2: a gap, a KB that fills it, a post."""
    for level in (1, 2):
        await _fill_the_gap(at_level(rec, level), level)
