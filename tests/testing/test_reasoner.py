"""The local engine's reasoner, tested on purpose through its own (private) modules.

The engine-level behaviour (who is contacted, what the asker gets) is pinned against the real
KE by the conformance tests (tests/conformance/test_reasoning_*); these tests pin the parts:
match flags per level, combi matches, joins, gaps, and the matching budget.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from km_testing.engine.reasoner import (
    Binding,
    MatchBudgetExceeded,
    Rule,
    RuleKind,
    flags_for,
    knowledge_gaps,
    parse_rules,
    plan_ask,
    plan_post,
    run_ask,
    run_post,
)
from km_testing.engine.reasoner._matcher import combi_matches
from km_testing.engine.reasoner._rule import domain_rules

P, Q, R = "<http://ex/p>", "<http://ex/q>", "<http://ex/r>"
TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"


def answer(name: str, *triples: tuple[str, str, str]) -> Rule:
    return Rule(name, (), tuple(triples), RuleKind.ANSWER)


def ask(*triples: tuple[str, str, str]) -> Rule:
    return Rule("ask", tuple(triples), (), RuleKind.START)


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine)


class Answers:
    """An ``apply`` callback: fixed answers per rule name, and what each rule was sent."""

    def __init__(self, **answers: list[Binding]) -> None:
        self.answers = answers
        self.sent: dict[str, list[Binding]] = {}

    async def __call__(self, rule: Rule, bindings: list[Binding]) -> list[Binding]:
        self.sent[rule.name] = bindings
        return self.answers.get(rule.name, [])


@pytest.mark.parametrize(
    ("level", "flags"),
    [
        (1, (True, True, True, True)),
        (2, (True, False, True, True)),
        (3, (True, False, False, True)),
        (4, (False, False, False, True)),
        (5, (False, False, False, False)),
    ],
)
def test_levels_set_the_kes_match_flags(level: int, flags: tuple[bool, ...]) -> None:
    found = flags_for(level, backward=True)
    assert (found.fully_covered, found.single_rule, found.one_to_one, found.only_biggest) == flags
    # Forward (a POST), levels 2 and 3 do not ask for full coverage of the posted pattern.
    assert flags_for(level, backward=False).fully_covered is (level == 1)


def test_partial_answers_are_joined_at_level_2_and_ignored_at_level_1() -> None:
    """Two KBs each give one triple of a two-triple ASK (the KE's TestAskAnswer5, reduced)."""
    start = ask(("?a", P, "?b"), ("?b", Q, "?c"))
    one, two = answer("one", ("?x", P, "?y")), answer("two", ("?y", Q, "?z"))
    assert plan_ask(start, [one, two], flags_for(1, backward=True)).start.combis == []
    plan = plan_ask(start, [one, two], flags_for(2, backward=True))
    [combi] = plan.start.combis
    assert {node.rule.name for node, _ in combi} == {"one", "two"}
    answers = Answers(
        one=[{"x": "<a1>", "y": "<b1>"}, {"x": "<a2>", "y": "<b2>"}],
        two=[{"y": "<b1>", "z": "<c1>"}],
    )
    assert run(run_ask(plan, [], answers)) == [{"a": "<a1>", "b": "<b1>", "c": "<c1>"}]
    assert answers.sent == {"one": [{}], "two": [{}]}


def test_the_askers_bindings_reach_each_answerer_in_its_own_names() -> None:
    start = ask(("?a", P, "?b"), ("?b", Q, "?c"))
    one, two = answer("one", ("?x", P, "?y")), answer("two", ("?y", Q, "?z"))
    plan = plan_ask(start, [one, two], flags_for(2, backward=True))
    answers = Answers(one=[{"x": "<a1>", "y": "<b1>"}], two=[{"y": "<b1>", "z": "<c1>"}])
    run(run_ask(plan, [{"a": "<a1>", "c": "<c1>"}], answers))
    assert answers.sent == {"one": [{"x": "<a1>"}], "two": [{"z": "<c1>"}]}


def test_a_react_converts_inside_an_ask() -> None:
    """ASK celsius <- REACT fahrenheit->celsius <- ANSWER fahrenheit (the KE's reasoner example)."""
    celsius, fahrenheit = "<http://ex/celsius>", "<http://ex/fahrenheit>"
    start = ask(("?m", celsius, "?c"))
    convert = Rule("convert", (("?x", fahrenheit, "?f"),), (("?x", celsius, "?t"),), RuleKind.REACT)
    source = answer("source", ("?s", fahrenheit, "?v"))
    plan = plan_ask(start, [convert, source], flags_for(2, backward=True))
    assert [n.rule.name for n in plan.nodes] == ["source", "convert", "ask"]

    async def apply(rule: Rule, bindings: list[Binding]) -> list[Binding]:
        if rule is source:
            return [{"s": "<m1>", "v": '"68.2"'}]
        assert bindings == [{"x": "<m1>", "f": '"68.2"'}]
        return [{"x": "<m1>", "t": '"20.11"'}]

    assert run(run_ask(plan, [], apply)) == [{"m": "<m1>", "c": '"20.11"'}]


def test_domain_rules_generalise() -> None:
    """A subclass rule makes a sensor a device (the KE's reasoning docs)."""
    [fact, rule] = domain_rules(
        parse_rules(
            "@prefix s: <http://s/> .\n-> ( s:Sensor rdfs:subClassOf s:Device ) .\n"
            "(?x rdfs:subClassOf ?y), (?a rdf:type ?x) -> (?a rdf:type ?y) ."
        ),
        "kb",
    )
    sensors = answer("sensors", ("?s", TYPE, "<http://s/Sensor>"))
    start = ask(("?d", TYPE, "<http://s/Device>"))
    plan = plan_ask(start, [fact, rule, sensors], flags_for(2, backward=True))
    answers = Answers(sensors=[{"s": "<http://ex/sensor1>"}])
    assert run(run_ask(plan, [], answers)) == [{"d": "<http://ex/sensor1>"}]


def test_a_post_sets_off_reacts_and_captures_their_results() -> None:
    post = Rule("post", (), (("?m", P, "?v"),), RuleKind.START)
    capture = Rule("post", (("?m", Q, "?w"),), (), RuleKind.CAPTURE)
    react = Rule("react", (("?x", P, "?y"),), (("?x", Q, "?z"),), RuleKind.REACT)
    plan = plan_post(post, [react], flags_for(2, backward=False), capture=capture)
    answers = Answers(react=[{"x": "<m1>", "z": '"2"'}])
    assert run(run_post(plan, [{"m": "<m1>", "v": '"1"'}], answers)) == [{"m": "<m1>", "w": '"2"'}]
    assert answers.sent == {"react": [{"x": "<m1>", "y": '"1"'}]}


def test_a_react_is_completed_by_an_answer_at_level_2() -> None:
    post = Rule("post", (), (("?m", P, "?v"),), RuleKind.START)
    react = Rule("react", (("?x", P, "?y"), ("?x", R, "?n")), (), RuleKind.REACT)
    names = answer("names", ("?s", R, "?name"))
    plan = plan_post(post, [react, names], flags_for(2, backward=False))
    answers = Answers(names=[{"s": "<m1>", "name": '"one"'}, {"s": "<m2>", "name": '"two"'}])
    assert run(run_post(plan, [{"m": "<m1>", "v": '"1"'}], answers)) == []
    assert answers.sent["names"] == []  # as on the KE: the posted data is not passed on
    assert answers.sent["react"] == [{"x": "<m1>", "y": '"1"', "n": '"one"'}]


def test_gaps_name_the_triples_nothing_gives() -> None:
    start = ask(("?a", P, "?b"), ("?b", Q, "?c"))
    plan = plan_ask(start, [answer("one", ("?x", P, "?y"))], flags_for(5, backward=True))
    assert knowledge_gaps(plan) == [[("?b", Q, "?c")]]
    nobody = plan_ask(start, [], flags_for(5, backward=True))
    assert knowledge_gaps(nobody) == [[("?a", P, "?b"), ("?b", Q, "?c")]]


def test_gaps_through_a_react_are_the_reacts_own() -> None:
    start = ask(("?a", P, "?b"))
    react = Rule("react", (("?x", R, "?y"),), (("?x", P, "?y"),), RuleKind.REACT)
    plan = plan_ask(start, [react], flags_for(5, backward=True))
    assert knowledge_gaps(plan) == [[("?x", R, "?y")]]


def test_repeated_triples_count_once() -> None:
    many = tuple(("?x", P, "?y") for _ in range(2000))
    start = ask(("?a", P, "?b"), ("?a", Q, "?c"))
    repeated = Rule("repeated", (), tuple(dict.fromkeys(many)), RuleKind.ANSWER)
    began = time.perf_counter()
    plan_ask(start, [repeated, answer("q", ("?s", Q, "?o"))], flags_for(2, backward=True))
    assert time.perf_counter() - began < 1


def test_alike_triples_give_up_within_the_budget() -> None:
    """Nine triples of one predicate: 9! matches; the search stops at its budget."""
    triples = tuple(("?s", P, f"?o{i}") for i in range(9))
    with pytest.raises(MatchBudgetExceeded):
        combi_matches(
            triples, [answer("alike", *triples)], "consequent", flags_for(2, backward=True)
        )
    plan = plan_ask(ask(*triples), [answer("alike", *triples)], flags_for(2, backward=True))
    assert [rule.name for rule in plan.exhausted] == ["alike"]
    assert plan.start.combis == []


def test_distinct_triples_match_in_one_way_each() -> None:
    triples = tuple((f"?s{i}", f"<http://ex/p{i}>", f"?o{i}") for i in range(30))
    [combi] = combi_matches(
        triples, [answer("wide", *reversed(triples))], "consequent", flags_for(2, backward=True)
    )
    [(_, match)] = combi
    assert len(match.pairs) == 30
