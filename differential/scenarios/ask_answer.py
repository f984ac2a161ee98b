"""Scenarios of ASK/ANSWER matching.

Which answering KBs an ask reaches, the bindings each receives (translated to its own variable
names), and the result and exchange info the asker gets back: ask bindings, constants on either
side, several answerers, recipient selectors, value forms, reasoner levels and knowledge gaps.
"""

from __future__ import annotations

from differential.recorder import Recorder
from differential.scenario import scenario
from differential.scenarios.common import ANSWER, XSD, answerer, ask, asker, echo, fixed


async def _height_ask(rec: Recorder, body: object) -> None:
    pattern = f"?t {rec.iri('height')} ?h ."
    kb, ki = await asker(rec, pattern)
    ans, _ = await answerer(rec, "ans", pattern)
    bindings = [{"t": rec.iri("oak"), "h": '"21"'}]
    await ask(rec, kb, ki, body, [rec.handle(ans, "ans", fixed(bindings))])


@scenario()
async def ask_empty_list(rec: Recorder) -> None:
    """Ask with [] (no bindings): what the answerer receives, what the asker gets."""
    await _height_ask(rec, [])


@scenario()
async def ask_one_empty_binding(rec: Recorder) -> None:
    """Ask with [{}]."""
    await _height_ask(rec, [{}])


@scenario()
async def ask_object_form_empty_selector(rec: Recorder) -> None:
    """Ask with the object form: an empty knowledgeBases selector and no bindings."""
    await _height_ask(rec, {"recipientSelector": {"knowledgeBases": []}, "bindingSet": []})


@scenario()
async def ask_partial_bindings(rec: Recorder) -> None:
    """Ask bindings that bind only ?t; the answer adds ?h."""
    pattern = f"?t {rec.iri('height')} ?h ."
    kb, ki = await asker(rec, pattern)
    ans, _ = await answerer(rec, "ans", pattern)
    oak, beech = rec.iri("oak"), rec.iri("beech")
    answer = fixed([{"t": oak, "h": '"21"'}, {"t": beech, "h": "12"}])
    await ask(rec, kb, ki, [{"t": oak}, {"t": beech}], [rec.handle(ans, "ans", answer)])


@scenario()
async def renamed_vars_and_order(rec: Recorder) -> None:
    """The answerer's pattern has other variable names and another triple order."""
    kb, ki = await asker(rec, f"?x {rec.iri('p')} ?y . ?x a {rec.iri('T')} .")
    ans, _ = await answerer(rec, "ans", f"?b a {rec.iri('T')} . ?b {rec.iri('p')} ?c .")
    answer = fixed([{"b": rec.iri("s"), "c": '"v"'}])
    await ask(rec, kb, ki, [{"x": rec.iri("s")}], [rec.handle(ans, "ans", answer)])


@scenario()
async def constant_on_ask_side(rec: Recorder) -> None:
    """The ASK pattern has a constant where the ANSWER has a variable."""
    kb, ki = await asker(rec, f"?x {rec.iri('b')} {rec.iri('c')} .")
    ans, _ = await answerer(rec, "ans", f"?a {rec.iri('b')} ?c .")
    answer = fixed([{"a": rec.iri("s"), "c": rec.iri("c")}])
    await ask(rec, kb, ki, [], [rec.handle(ans, "ans", answer)])


@scenario()
async def constant_on_ask_side_wrong_answer(rec: Recorder) -> None:
    """As constant_on_ask_side, but the answer binds ?c to another value."""
    kb, ki = await asker(rec, f"?x {rec.iri('b')} {rec.iri('c')} .")
    ans, _ = await answerer(rec, "ans", f"?a {rec.iri('b')} ?c .")
    answer = fixed([{"a": rec.iri("s"), "c": rec.iri("other")}])
    await ask(rec, kb, ki, [], [rec.handle(ans, "ans", answer)])


@scenario()
async def constant_on_answer_side(rec: Recorder) -> None:
    """The ANSWER pattern has a constant where the ASK has a variable."""
    kb, ki = await asker(rec, f"?x {rec.iri('b')} ?y .")
    ans, _ = await answerer(rec, "ans", f"?a {rec.iri('b')} {rec.iri('c')} .")
    await ask(rec, kb, ki, [], [rec.handle(ans, "ans", fixed([{"a": rec.iri("s")}]))])


@scenario()
async def constant_on_answer_side_with_ask_binding(rec: Recorder) -> None:
    """Ask bindings for ?y that the answerer's constant fixes: translated away."""
    kb, ki = await asker(rec, f"?x {rec.iri('b')} ?y .")
    ans, _ = await answerer(rec, "ans", f"?a {rec.iri('b')} {rec.iri('c')} .")
    bindings = [{"y": rec.iri("c")}, {"y": rec.iri("d")}]
    await ask(rec, kb, ki, bindings, [rec.handle(ans, "ans", fixed([{"a": rec.iri("s")}]))])


@scenario()
async def empty_answer_with_constants(rec: Recorder) -> None:
    """An answerer with a constant answers []."""
    kb, ki = await asker(rec, f"?x {rec.iri('b')} ?y .")
    ans, _ = await answerer(rec, "ans", f"?a {rec.iri('b')} {rec.iri('c')} .")
    await ask(rec, kb, ki, [], [rec.handle(ans, "ans", fixed([]))])


@scenario()
async def several_answerers_union(rec: Recorder) -> None:
    """Two answerers: the result is the union of their answers."""
    pattern = f"?t {rec.iri('height')} ?h ."
    kb, ki = await asker(rec, pattern)
    ans1, _ = await answerer(rec, "ans1", pattern)
    ans2, _ = await answerer(rec, "ans2", f"?x {rec.iri('height')} ?y .")
    oak, beech = rec.iri("oak"), rec.iri("beech")
    first = fixed([{"t": oak, "h": '"21"'}])
    second = fixed([{"x": oak, "y": '"21"'}, {"x": beech, "y": '"9"'}])
    await ask(rec, kb, ki, [], [rec.handle(ans1, "ans1", first), rec.handle(ans2, "ans2", second)])


@scenario()
async def several_kis_of_one_kb(rec: Recorder) -> None:
    """One KB with two matching ANSWER interactions: both are asked."""
    pattern = f"?t {rec.iri('height')} ?h ."
    kb, ki = await asker(rec, pattern)
    ans, _ = await answerer(rec, "ans", pattern, "a1")
    await rec.register_ki(
        ans,
        None,
        knowledgeInteractionType=ANSWER,
        knowledgeInteractionName="a2",
        graphPattern=pattern,
    )

    def by_interaction(request: dict[str, object]) -> dict[str, object]:
        name = str(request.get("knowledgeInteractionId", ""))[-2:]
        return {"bindingSet": [{"t": rec.iri(name), "h": '"1"'}]}

    await ask(rec, kb, ki, [], [rec.handle(ans, "ans", by_interaction, count=2, record_ids=False)])


@scenario()
async def own_kis_not_matched(rec: Recorder) -> None:
    """The asking KB's own ANSWER interaction is never asked."""
    pattern = f"?t {rec.iri('height')} ?h ."
    kb, ki = await asker(rec, pattern)
    await rec.register_ki(
        kb,
        "own ANSWER",
        knowledgeInteractionType=ANSWER,
        knowledgeInteractionName="own",
        graphPattern=pattern,
    )
    await ask(rec, kb, ki, [])


@scenario()
async def recipient_selectors(rec: Recorder) -> None:
    """Recipient selectors: knowledgeBases, singleKnowledgeBase, an unknown KB, the asker."""
    pattern = f"?t {rec.iri('height')} ?h ."
    kb, ki = await asker(rec, pattern)
    ans1, _ = await answerer(rec, "ans1", pattern)
    ans2, _ = await answerer(rec, "ans2", pattern)
    oak = rec.iri("oak")
    await ask(
        rec,
        kb,
        ki,
        {"recipientSelector": {"knowledgeBases": [ans1]}, "bindingSet": []},
        [rec.handle(ans1, "ans1", fixed([{"t": oak, "h": '"1"'}]))],
        label="ask knowledgeBases=[ans1]",
    )
    await ask(
        rec,
        kb,
        ki,
        {"recipientSelector": {"singleKnowledgeBase": ans2}, "bindingSet": [{}]},
        [rec.handle(ans2, "ans2", fixed([{"t": oak, "h": '"2"'}]))],
        label="ask singleKnowledgeBase=ans2",
    )
    unknown = {"recipientSelector": {"knowledgeBases": [rec.kb_id("nobody")]}, "bindingSet": []}
    await ask(rec, kb, ki, unknown, label="ask unknown recipient")
    itself = {"recipientSelector": {"knowledgeBases": [kb]}, "bindingSet": []}
    await ask(rec, kb, ki, itself, label="ask self as recipient")


@scenario()
async def value_forms(rec: Recorder) -> None:
    """Literal and IRI forms in ask bindings (numbers, booleans, lang, typed, prefixed, blank)."""
    pattern = f"?t {rec.iri('v')} ?h ."
    kb, ki = await asker(rec, pattern)
    ans, _ = await answerer(rec, "ans", pattern)
    values = [
        "12",
        "21.5",
        "1e3",
        "true",
        '"abc"@en',
        '"abc"',
        f'"abc"^^<{XSD}string>',
        '"12"^^xsd:integer',
        "_:b1",
        "rdf:type",
        '"x y"',
        "-5",
        f'"07"^^<{XSD}integer>',
    ]
    bindings = [{"t": rec.iri(f"i{index}"), "h": value} for index, value in enumerate(values)]
    await ask(rec, kb, ki, bindings, [rec.handle(ans, "ans", echo)])


@scenario()
async def value_forms_without_prefixes(rec: Recorder) -> None:
    """Value forms without prefixed names or blank nodes, echoed back by the answerer."""
    pattern = f"?t {rec.iri('v')} ?h ."
    kb, ki = await asker(rec, pattern)
    ans, _ = await answerer(rec, "ans", pattern)
    values = [
        "12",
        "21.5",
        "1e3",
        "true",
        '"abc"@en',
        '"abc"',
        f'"abc"^^<{XSD}string>',
        '"x y"',
        "-5",
        f'"07"^^<{XSD}integer>',
        "<urn:x>",
    ]
    bindings = [{"t": rec.iri(f"i{index}"), "h": value} for index, value in enumerate(values)]
    await ask(rec, kb, ki, bindings, [rec.handle(ans, "ans", echo)])


@scenario()
async def blank_node_roundtrip(rec: Recorder) -> None:
    """A blank node in an ask binding, echoed back by the answerer."""
    pattern = f"?t {rec.iri('v')} ?h ."
    kb, ki = await asker(rec, pattern)
    ans, _ = await answerer(rec, "ans", pattern)
    await ask(rec, kb, ki, [{"t": rec.iri("x"), "h": "_:b1"}], [rec.handle(ans, "ans", echo)])


@scenario()
async def numeric_value_equality(rec: Recorder) -> None:
    """Ask ?h = 21; the answer has 21.0 (decimal) and 021 (integer): do they fit?"""
    pattern = f"?t {rec.iri('height')} ?h ."
    kb, ki = await asker(rec, pattern)
    ans, _ = await answerer(rec, "ans", pattern)
    answer = fixed(
        [
            {"t": rec.iri("oak"), "h": f'"21.0"^^<{XSD}decimal>'},
            {"t": rec.iri("elm"), "h": f'"021"^^<{XSD}integer>'},
        ]
    )
    await ask(rec, kb, ki, [{"h": "21"}], [rec.handle(ans, "ans", answer)])


@scenario()
async def answer_extra_triples(rec: Recorder) -> None:
    """The ANSWER pattern has a triple more than the ASK: not a match at level 1 or 2."""
    kb, ki = await asker(rec, f"?t {rec.iri('height')} ?h .")
    ans, _ = await answerer(rec, "ans", f"?x {rec.iri('height')} ?y . ?x {rec.iri('name')} ?n .")
    answer = fixed([{"x": rec.iri("oak"), "y": '"1"', "n": '"oak"'}])
    await ask(rec, kb, ki, [], [rec.handle(ans, "ans", answer)])


async def _covers_part(rec: Recorder, level: int | None) -> None:
    kb, ki = await asker(rec, f"?t {rec.iri('height')} ?h . ?t {rec.iri('name')} ?n .", level=level)
    ans, _ = await answerer(rec, "ans", f"?x {rec.iri('height')} ?y .")
    answer = fixed([{"x": rec.iri("oak"), "y": '"1"'}])
    await ask(rec, kb, ki, [], [rec.handle(ans, "ans", answer)])


@scenario()
async def answer_covers_part_level2(rec: Recorder) -> None:
    """One ANSWER covering one triple of a two-triple ASK, at the default level."""
    await _covers_part(rec, None)


@scenario()
async def answer_covers_part_level1(rec: Recorder) -> None:
    """One ANSWER covering one triple of a two-triple ASK, at reasoner level 1."""
    await _covers_part(rec, 1)


@scenario()
async def two_partial_answers_join_level2(rec: Recorder) -> None:
    """Two ANSWERs each covering one triple of the ASK (level 2 may join them)."""
    kb, ki = await asker(rec, f"?t {rec.iri('height')} ?h . ?t {rec.iri('name')} ?n .")
    ans1, _ = await answerer(rec, "ans1", f"?x {rec.iri('height')} ?y .")
    ans2, _ = await answerer(rec, "ans2", f"?x {rec.iri('name')} ?y .")
    first = fixed([{"x": rec.iri("oak"), "y": '"1"'}])
    second = fixed([{"x": rec.iri("oak"), "y": '"Oak"'}])
    await ask(rec, kb, ki, [], [rec.handle(ans1, "ans1", first), rec.handle(ans2, "ans2", second)])


@scenario()
async def include_meta_kis(rec: Recorder) -> None:
    """An ASK with includeMetaKIs for the KnowledgeBase type, asking one other KB."""
    kb, ki = await asker(
        rec,
        "?kb <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
        "<https://w3id.org/knowledge-engine/KnowledgeBase> .",
        includeMetaKIs=True,
    )
    other = await rec.register_kb("other")
    body = {"recipientSelector": {"knowledgeBases": [other]}, "bindingSet": []}
    await ask(rec, kb, ki, body, label="meta ask")


@scenario()
async def knowledge_gaps_nobody(rec: Recorder) -> None:
    """Knowledge gaps enabled, nobody matches: the whole pattern is one gap."""
    kb, ki = await asker(
        rec,
        f"?a {rec.iri('isFatherOf')} ?c . ?c {rec.iri('name')} ?n .",
        knowledgeGapsEnabled=True,
    )
    await ask(rec, kb, ki, [])


@scenario()
async def knowledge_gaps_partial(rec: Recorder) -> None:
    """Knowledge gaps enabled, an answerer covers one of the two triples."""
    kb, ki = await asker(
        rec,
        f"?a {rec.iri('isFatherOf')} ?c . ?c {rec.iri('name')} ?n .",
        knowledgeGapsEnabled=True,
    )
    ans, _ = await answerer(rec, "ans", f"?x {rec.iri('name')} ?y .")
    answer = fixed([{"x": rec.iri("c"), "y": '"n"'}])
    await ask(rec, kb, ki, [], [rec.handle(ans, "ans", answer)])


@scenario()
async def knowledge_gaps_full_match(rec: Recorder) -> None:
    """Knowledge gaps enabled and a full match that answers."""
    pattern = f"?t {rec.iri('height')} ?h ."
    kb, ki = await asker(rec, pattern, knowledgeGapsEnabled=True)
    ans, _ = await answerer(rec, "ans", pattern)
    answer = fixed([{"t": rec.iri("oak"), "h": '"1"'}])
    await ask(rec, kb, ki, [], [rec.handle(ans, "ans", answer)])


@scenario()
async def knowledge_gaps_full_match_empty_answer(rec: Recorder) -> None:
    """Knowledge gaps enabled and a full match that answers []."""
    pattern = f"?t {rec.iri('height')} ?h ."
    kb, ki = await asker(rec, pattern, knowledgeGapsEnabled=True)
    ans, _ = await answerer(rec, "ans", pattern)
    await ask(rec, kb, ki, [], [rec.handle(ans, "ans", fixed([]))])


@scenario()
async def gaps_not_enabled_nobody(rec: Recorder) -> None:
    """Knowledge gaps not enabled and nobody matches: no knowledgeGaps key."""
    kb, ki = await asker(rec, f"?a {rec.iri('isFatherOf')} ?c .")
    await ask(rec, kb, ki, [])
