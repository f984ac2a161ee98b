"""Properties of the local engine's reasoner: an ask's outcome is independent of how it is said.

Through km-testing's public API (`LocalKnowledgeEngine` with a `LocalEngineClient` per run),
hypothesis generates small tree-shaped graph patterns (every triple a predicate of its own,
its subject a variable met before, its object a new variable) and the answering KBs' data:

- a join at reasoner level 2: 2 or 3 answering KBs each know some of the ASK's triples;
- a single answering KB at reasoner level 1 that knows the ASK's pattern, written its own way.

The ask is run once as generated and once with the triples of every pattern (the asker's and
each answerer's) in another order and every KB's variables renamed (each KB its own
renaming). Both runs must give the natural join of the answers (filtered by the ask's
binding), and every answering KB must receive the same bindings, up to its renaming.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from km_core import (
    HandleResponse,
    KnowledgeBaseInfo,
    KnowledgeInteractionRegistration,
    KnowledgeInteractionType,
    PollResult,
)
from km_testing import LocalEngineClient, LocalKnowledgeEngine

PROPERTIES = settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
EX = "http://example.org/properties/"
VALUES = tuple(f"<{EX}thing{index}>" for index in range(3))
NAMES = ("x", "y", "z", "tree", "h", "w", "q", "n", "k", "m")  # for renamed variables
STEP = 10  # seconds any one run may take

Binding = dict[str, str]
Triple = tuple[str, str, str]  # variables as names without "?", predicates as IRIs


def write(triples: Sequence[Triple], renaming: Mapping[str, str]) -> str:
    """A graph pattern of ``triples`` with every variable renamed."""
    return " ".join(f"?{renaming[s]} {p} ?{renaming[o]} ." for s, p, o in triples)


def renamed(binding: Mapping[str, str], renaming: Mapping[str, str]) -> Binding:
    return {renaming[var]: value for var, value in binding.items()}


def as_set(bindings: Sequence[Mapping[str, str]]) -> frozenset[frozenset[tuple[str, str]]]:
    return frozenset(frozenset(b.items()) for b in bindings)


def fits(row: Mapping[str, str], binding: Mapping[str, str]) -> bool:
    return all(row[var] == value for var, value in binding.items() if var in row)


def join(parts: Sequence[Sequence[Binding]]) -> list[Binding]:
    """The natural join of the parts' rows (on the variables they share)."""
    joined: list[Binding] = [{}]
    for rows in parts:
        joined = [{**left, **row} for left in joined for row in rows if fits(row, left)]
    return joined


@dataclass(frozen=True)
class Answerer:
    """An answering KB: the ASK's triples it knows, and its rows (in the ASK's names)."""

    triples: tuple[Triple, ...]
    rows: tuple[tuple[tuple[str, str], ...], ...]

    @property
    def variables(self) -> list[str]:
        return sorted({v for s, _, o in self.triples for v in (s, o)})

    def data(self) -> list[Binding]:
        return [dict(row) for row in self.rows]


@dataclass(frozen=True)
class Case:
    """An ASK, its answering KBs and the ask's binding set, in canonical names."""

    triples: tuple[Triple, ...]
    answerers: tuple[Answerer, ...]
    asked: tuple[tuple[tuple[str, str], ...], ...]

    @property
    def variables(self) -> list[str]:
        return sorted({v for s, _, o in self.triples for v in (s, o)})

    def expected(self) -> frozenset[frozenset[tuple[str, str]]]:
        joined = join([answerer.data() for answerer in self.answerers])
        asked = [dict(b) for b in self.asked] or [{}]
        return as_set([row for row in joined if any(fits(row, b) for b in asked)])


@dataclass(frozen=True)
class Saying:
    """How the case is said: each pattern's triple order and each KB's variable names."""

    asker_order: tuple[int, ...]
    asker_names: Mapping[str, str]
    orders: tuple[tuple[int, ...], ...]
    names: tuple[Mapping[str, str], ...]


def tree(count: int) -> st.SearchStrategy[tuple[Triple, ...]]:
    """``count`` triples ``?vJ <pJ> ?v(J+1)``-like: each subject a variable met before."""
    return st.tuples(*(st.integers(0, index) for index in range(count))).map(
        lambda subjects: tuple(
            (f"v{subject}", f"<{EX}p{index}>", f"v{index + 1}")
            for index, subject in enumerate(subjects)
        )
    )


def rows_for(
    variables: Sequence[str],
) -> st.SearchStrategy[tuple[tuple[tuple[str, str], ...], ...]]:
    row = st.tuples(*(st.sampled_from(VALUES) for _ in variables)).map(
        lambda values: tuple(zip(variables, values, strict=True))
    )
    return st.lists(row, max_size=4, unique=True).map(tuple)


@st.composite
def cases(draw: st.DrawFn, *, parts: tuple[int, int], size: tuple[int, int]) -> Case:
    """An ASK of ``size`` triples split over ``parts`` answering KBs (each one triple or more)."""
    count = draw(st.integers(*size))
    triples = draw(tree(count))
    kbs = draw(st.integers(parts[0], min(parts[1], count)))
    owner = draw(
        st.lists(st.integers(0, kbs - 1), min_size=count, max_size=count).filter(
            lambda owners: set(owners) == set(range(kbs))
        )
    )
    answerers = []
    for kb_index in range(kbs):
        known = tuple(t for t, o in zip(triples, owner, strict=True) if o == kb_index)
        variables = sorted({v for s, _, o in known for v in (s, o)})
        answerers.append(Answerer(known, draw(rows_for(variables))))
    asked: tuple[tuple[tuple[str, str], ...], ...] = ()
    if draw(st.booleans()):
        asked = ((("v0", draw(st.sampled_from(VALUES))),),)
    return Case(triples, tuple(answerers), asked)


@st.composite
def sayings(draw: st.DrawFn, case: Case) -> Saying:
    def names(variables: Sequence[str]) -> Mapping[str, str]:
        fresh = draw(st.permutations(NAMES))
        return dict(zip(variables, fresh, strict=False))

    def order(triples: Sequence[Triple]) -> tuple[int, ...]:
        return tuple(draw(st.permutations(range(len(triples)))))

    return Saying(
        asker_order=order(case.triples),
        asker_names=names(case.variables),
        orders=tuple(order(a.triples) for a in case.answerers),
        names=tuple(names(a.variables) for a in case.answerers),
    )


def canonical(case: Case) -> Saying:
    """The case said as generated."""
    same = {v: v for v in case.variables}
    return Saying(
        asker_order=tuple(range(len(case.triples))),
        asker_names=same,
        orders=tuple(tuple(range(len(a.triples))) for a in case.answerers),
        names=tuple({v: v for v in a.variables} for a in case.answerers),
    )


def registration(kind: KnowledgeInteractionType, pattern: str) -> KnowledgeInteractionRegistration:
    return KnowledgeInteractionRegistration(
        knowledge_interaction_type=kind, knowledge_interaction_name="ki", graph_pattern=pattern
    )


def info(name: str, level: int | None = None) -> KnowledgeBaseInfo:
    return KnowledgeBaseInfo(
        knowledge_base_id=f"{EX}kb/{name}",
        knowledge_base_name=name,
        knowledge_base_description="",
        reasoner_level=level,
    )


@dataclass
class Outcome:
    """What a run gave, in canonical names: the ask's result and what each KB received."""

    result: frozenset[frozenset[tuple[str, str]]]
    received: tuple[tuple[frozenset[frozenset[tuple[str, str]]], ...], ...]


async def run(case: Case, saying: Saying, level: int) -> Outcome:
    """Ask on a fresh engine, the answering KBs answering their rows that fit what they get."""
    engine = LocalKnowledgeEngine(kb_wait_timeout=STEP)
    client = LocalEngineClient(engine)
    back = [{new: old for old, new in names.items()} for names in saying.names]
    received: list[list[frozenset[frozenset[tuple[str, str]]]]] = [[] for _ in case.answerers]
    for index, answerer in enumerate(case.answerers):
        kb = info(f"answerer{index}")
        await client.register_kb(kb)
        triples = [answerer.triples[i] for i in saying.orders[index]]
        pattern = write(triples, saying.names[index])
        await client.register_ki(
            kb.knowledge_base_id, registration(KnowledgeInteractionType.ANSWER, pattern)
        )
    asker = info("asker", level)
    await client.register_kb(asker)
    pattern = write([case.triples[i] for i in saying.asker_order], saying.asker_names)
    ask_id = await client.register_ki(
        asker.knowledge_base_id, registration(KnowledgeInteractionType.ASK, pattern)
    )

    async def serve(index: int) -> None:
        kb_id = info(f"answerer{index}").knowledge_base_id
        rows = [renamed(row, saying.names[index]) for row in case.answerers[index].data()]
        for _ in range(10):
            result, request = await client.poll_ki_call(kb_id)
            if result is PollResult.EXIT:
                return
            if request is None:
                continue
            incoming = request.binding_set
            received[index].append(as_set([renamed(b, back[index]) for b in incoming]))
            kept = [row for row in rows if any(fits(row, b) for b in incoming or [{}])]
            response = HandleResponse(handle_request_id=request.handle_request_id, binding_set=kept)
            await client.post_handle_response(kb_id, request.knowledge_interaction_id, response)

    serving = [asyncio.create_task(serve(index)) for index in range(len(case.answerers))]
    try:
        asked = [renamed(dict(b), saying.asker_names) for b in case.asked]
        result = await asyncio.wait_for(client.ask(asker.knowledge_base_id, ask_id, asked), STEP)
    finally:
        for task in serving:
            task.cancel()
        await asyncio.gather(*serving, return_exceptions=True)
        await client.close()
    asker_back = {new: old for old, new in saying.asker_names.items()}
    return Outcome(
        result=as_set([renamed(b, asker_back) for b in result.binding_set]),
        received=tuple(tuple(sorted(r, key=sorted)) for r in received),
    )


def check(case: Case, saying: Saying, level: int) -> None:
    as_generated = asyncio.run(run(case, canonical(case), level))
    said_otherwise = asyncio.run(run(case, saying, level))
    assert as_generated.result == case.expected()
    assert said_otherwise.result == as_generated.result
    assert said_otherwise.received == as_generated.received


@PROPERTIES
@given(data=st.data())
def test_a_join_of_two_or_three_answers_at_level_2_is_independent_of_order_and_names(
    data: st.DataObject,
) -> None:
    case = data.draw(cases(parts=(2, 3), size=(2, 4)), label="case")
    check(case, data.draw(sayings(case), label="saying"), level=2)


@PROPERTIES
@given(data=st.data())
def test_a_single_answer_at_level_1_is_independent_of_order_and_names(
    data: st.DataObject,
) -> None:
    case = data.draw(cases(parts=(1, 1), size=(1, 3)), label="case")
    check(case, data.draw(sayings(case), label="saying"), level=1)
