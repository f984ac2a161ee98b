"""The LocalKnowledgeEngine behaves as the KE REST API reference says it does.

Most tests run several SDK knowledge bases in one process, each with a `LocalEngineClient` on
one engine; where the KE's wire-level rules are clearer without the SDK in between (long-poll
slots, queue limits, answer validation), they call the engine's methods directly. Every
expectation comes from ``shared/reference/ke-rest-api.md`` (section numbers in the docstrings).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from km_core import (
    AnswerKnowledgeInteraction,
    AskExchangeInfo,
    AskResult,
    BindingSet,
    ExchangeStatus,
    KnowledgeBase,
    KnowledgeBaseInfo,
    KnowledgeEngineResponseError,
    KnowledgeInteractionRegistration,
    KnowledgeInteractionType,
    PollConflictError,
    PollResult,
    ReactKnowledgeInteraction,
    RequestContext,
    SmartConnectorNotFoundError,
)
from km_testing import LocalEngineClient, LocalKnowledgeEngine
from tests.support import LoopClock, let_the_loop_run

EX = "http://example.org/"
PREFIXES = {"ex": EX}
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"

ASK = KnowledgeInteractionType.ASK
ANSWER = KnowledgeInteractionType.ANSWER
POST = KnowledgeInteractionType.POST
REACT = KnowledgeInteractionType.REACT

HEIGHTS = "?tree ex:height ?height ."
HEIGHTS_FULL = "?tree <http://example.org/height> ?height ."


def iri(local: str) -> str:
    return f"<{EX}{local}>"


def typed(lexical: str, datatype: str) -> str:
    return f'"{lexical}"^^<{XSD}{datatype}>'


OAK, BEECH, ELM = iri("oak"), iri("beech"), iri("elm")


def kb_id(name: str) -> str:
    return f"{EX}kb/{name}"


def kb_info(name: str, **kwargs: Any) -> KnowledgeBaseInfo:
    return KnowledgeBaseInfo(
        knowledge_base_id=kb_id(name),
        knowledge_base_name=name,
        knowledge_base_description=f"the {name} knowledge base",
        **kwargs,
    )


def ki(
    kind: KnowledgeInteractionType, name: str | None = None, **kwargs: Any
) -> KnowledgeInteractionRegistration:
    return KnowledgeInteractionRegistration(
        knowledge_interaction_type=kind, knowledge_interaction_name=name, **kwargs
    )


def by_ki(infos: list[AskExchangeInfo]) -> dict[str, AskExchangeInfo]:
    return {info.knowledge_interaction_id: info for info in infos}


def as_set(bindings: BindingSet) -> set[frozenset[tuple[str, str]]]:
    return {frozenset(b.items()) for b in bindings}


async def settled(future: asyncio.Future[Any]) -> Any:
    """The future's result, under a generous deadline."""
    async with asyncio.timeout(10):
        return await future


class Network:
    """SDK knowledge bases on one engine, each with its own LocalEngineClient and loop."""

    def __init__(self, engine: LocalKnowledgeEngine) -> None:
        self.engine = engine
        self.kbs: list[KnowledgeBase] = []
        self.loops: list[asyncio.Task[None]] = []
        self.gates: list[asyncio.Event] = []

    def kb(self, name: str, **kwargs: Any) -> KnowledgeBase:
        kb = KnowledgeBase(
            id=kb_id(name),
            name=name,
            description=f"the {name} knowledge base",
            client=LocalEngineClient(self.engine),
            **kwargs,
        )
        self.kbs.append(kb)
        return kb

    def gate(self) -> asyncio.Event:
        """An event handlers may wait on; it is set before the network closes."""
        event = asyncio.Event()
        self.gates.append(event)
        return event

    async def start(self, *kbs: KnowledgeBase) -> None:
        for kb in kbs:
            await kb.register()
            handled = (AnswerKnowledgeInteraction, ReactKnowledgeInteraction)
            if any(isinstance(k, handled) for k in kb.knowledge_interactions.values()):
                self.loops.append(asyncio.create_task(kb.start_handling_loop()))

    async def close(self) -> None:
        for gate in self.gates:
            gate.set()
        for kb in self.kbs:
            if kb.registered and kb.id in _ids(self.engine):
                await kb.unregister()
        async with asyncio.timeout(10):
            await asyncio.gather(*self.loops)
        for kb in self.kbs:
            await kb.close()


def _ids(engine: LocalKnowledgeEngine) -> set[str]:
    return {info.knowledge_base_id for info in engine.list_kbs()}


@pytest.fixture
def engine() -> LocalKnowledgeEngine:
    return LocalKnowledgeEngine(heartbeat=10, kb_wait_timeout=5)


@pytest.fixture
async def network(engine: LocalKnowledgeEngine) -> AsyncIterator[Network]:
    net = Network(engine)
    try:
        yield net
    finally:
        await net.close()


@pytest.fixture
async def cleanup(engine: LocalKnowledgeEngine) -> AsyncIterator[LocalKnowledgeEngine]:
    """The engine, with every KB deleted afterwards (which fails whatever still waits)."""
    try:
        yield engine
    finally:
        for kb in _ids(engine):
            await engine.delete_kb(kb)


ASKER, ANSWERER = kb_id("asker"), kb_id("answerer")


@pytest.fixture
async def pair(cleanup: LocalKnowledgeEngine) -> tuple[str, str]:
    """An asker KB with an ASK and an answerer KB with an ANSWER on the same heights pattern."""
    await cleanup.register_kb(kb_info("asker"))
    await cleanup.register_kb(kb_info("answerer"))
    ask_id = cleanup.register_ki(ASKER, ki(ASK, "trees", graph_pattern=HEIGHTS_FULL))
    answer_id = cleanup.register_ki(ANSWERER, ki(ANSWER, "heights", graph_pattern=HEIGHTS_FULL))
    return ask_id, answer_id


def ke_error() -> pytest.RaisesExc[KnowledgeEngineResponseError]:
    return pytest.raises(KnowledgeEngineResponseError)


def check(error: pytest.ExceptionInfo[KnowledgeEngineResponseError], status: int, msg: str) -> None:
    assert error.value.status_code == status
    assert error.value.message == msg


# ------------------------------------------------------------ registration (2.3, 2.6, 2.7, 6)


async def test_ki_ids_are_the_kb_id_and_the_name(network: Network) -> None:
    trees = network.kb("trees")
    forester = network.kb("forester")

    @trees.answer_ki("tree-heights", HEIGHTS, prefixes=PREFIXES)
    async def heights(binding_set: BindingSet) -> BindingSet:
        return []

    ask = forester.ask_ki("heights-2", HEIGHTS, prefixes=PREFIXES)
    await network.start(trees, forester)

    assert ask.id == f"{EX}kb/forester/interaction/heights-2"
    assert (
        trees.knowledge_interactions["tree-heights"].id == f"{EX}kb/trees/interaction/tree-heights"
    )
    listed = network.engine.list_kis(trees.id)
    assert [k.knowledge_interaction_id for k in listed] == [
        f"{EX}kb/trees/interaction/tree-heights"
    ]


async def test_an_unnamed_ki_gets_a_uuid_under_the_kb(cleanup: LocalKnowledgeEngine) -> None:
    await cleanup.register_kb(kb_info("a"))
    first = cleanup.register_ki(kb_id("a"), ki(ASK, graph_pattern=HEIGHTS_FULL))
    second = cleanup.register_ki(kb_id("a"), ki(ASK, graph_pattern=HEIGHTS_FULL))
    prefix = f"{kb_id('a')}/interaction/"
    assert first.startswith(prefix)
    assert second.startswith(prefix)
    assert first != second
    assert len(first) - len(prefix) == 36  # a random UUID


@pytest.mark.parametrize("name", ["has space", "under_score", "dot.ted", "sl/ash", "caf\u00e9"])
async def test_a_bad_ki_name_is_a_400(cleanup: LocalKnowledgeEngine, name: str) -> None:
    await cleanup.register_kb(kb_info("a"))
    with ke_error() as error:
        cleanup.register_ki(kb_id("a"), ki(ASK, name, graph_pattern=HEIGHTS_FULL))
    # KE 1.5.0's bean validation answers before its own check of the name.
    check(
        error,
        400,
        "ConstraintViolationException: scKiPost.arg1.knowledgeInteractionName must match "
        '"^[a-zA-Z0-9-]*$"\n ',
    )


async def test_a_duplicate_ki_name_is_a_400_with_the_kes_message(
    cleanup: LocalKnowledgeEngine,
) -> None:
    await cleanup.register_kb(kb_info("a"))
    first = cleanup.register_ki(kb_id("a"), ki(ASK, "Trees-2", graph_pattern=HEIGHTS_FULL))
    with ke_error() as error:
        cleanup.register_ki(kb_id("a"), ki(ANSWER, "Trees-2", graph_pattern=HEIGHTS_FULL))
    check(
        error,
        400,
        f"The Knowledge Interaction with URI '{first}' should not be already registered.",
    )
    # The same name on another KB is another id, and fine.
    await cleanup.register_kb(kb_info("b"))
    assert cleanup.register_ki(kb_id("b"), ki(ASK, "Trees-2", graph_pattern=HEIGHTS_FULL)) == (
        f"{kb_id('b')}/interaction/Trees-2"
    )


@pytest.mark.parametrize(
    "bad_id", ["https://", "strange characters and spaces | & ^", "/relative.nl"]
)
async def test_an_invalid_kb_iri_is_a_400(engine: LocalKnowledgeEngine, bad_id: str) -> None:
    info = KnowledgeBaseInfo(
        knowledge_base_id=bad_id, knowledge_base_name="x", knowledge_base_description="x"
    )
    with ke_error() as error:
        await engine.register_kb(info)
    assert error.value.status_code == 400
    assert error.value.message.startswith("Knowledge base ID must be a valid RDF IRI.")
    assert engine.list_kbs() == []


async def test_an_empty_kb_id_and_a_taken_one_are_400s(cleanup: LocalKnowledgeEngine) -> None:
    empty = KnowledgeBaseInfo(
        knowledge_base_id="", knowledge_base_name="x", knowledge_base_description="x"
    )
    with ke_error() as error:
        await cleanup.register_kb(empty)
    check(error, 400, "Knowledge Base ID must be a non-empty URI.")
    for accepted in ("https://asdlkasld.com", "mailto:hello", "https://hello"):
        await cleanup.register_kb(
            KnowledgeBaseInfo(
                knowledge_base_id=accepted, knowledge_base_name="x", knowledge_base_description=""
            )
        )
    with ke_error() as error:
        await cleanup.register_kb(
            KnowledgeBaseInfo(
                knowledge_base_id="mailto:hello",
                knowledge_base_name="y",
                knowledge_base_description="",
            )
        )
    check(error, 400, "That knowledge base ID is already in use.")


async def test_a_ki_for_an_unknown_kb_is_a_404(engine: LocalKnowledgeEngine) -> None:
    with ke_error() as error:
        engine.register_ki(kb_id("nobody"), ki(ASK, "q", graph_pattern=HEIGHTS_FULL))
    check(
        error,
        404,
        "Could not add knowledge interaction, because the given knowledge base ID "
        f"({kb_id('nobody')}) is unknown.",
    )


async def test_an_undefined_prefix_is_an_invalid_graph_pattern(
    cleanup: LocalKnowledgeEngine,
) -> None:
    await cleanup.register_kb(kb_info("a"))
    with ke_error() as error:
        cleanup.register_ki(kb_id("a"), ki(ASK, "q", graph_pattern=HEIGHTS))
    assert error.value.status_code == 400
    assert error.value.message.startswith("Invalid graph pattern: ")
    assert error.value.message.endswith(
        ". Note: Have you included your prefixes in the 'prefixes' property?"
    )
    # Prefixes of another KI do not carry over; a pattern with its own prefixes is fine.
    cleanup.register_ki(kb_id("a"), ki(ASK, "ok", graph_pattern=HEIGHTS, prefixes=PREFIXES))
    with ke_error():
        cleanup.register_ki(kb_id("a"), ki(ASK, "q", graph_pattern=HEIGHTS))


@pytest.mark.parametrize(
    "pattern",
    [
        "?a <http://example.org/p> ?b . FILTER(?b > 3)",
        "?a <http://example.org/p> ?b . OPTIONAL { ?a <http://example.org/q> ?c }",
        "{ ?a <http://example.org/p> ?b } UNION { ?a <http://example.org/q> ?b }",
        "?a <http://example.org/p> ?b . BIND(1 AS ?c)",
    ],
)
async def test_non_triple_content_is_an_invalid_graph_pattern(
    cleanup: LocalKnowledgeEngine, pattern: str
) -> None:
    await cleanup.register_kb(kb_info("a"))
    for registration in (
        ki(ASK, "ask", graph_pattern=pattern),
        ki(ANSWER, "answer", graph_pattern=pattern),
        ki(POST, "post", argument_graph_pattern=pattern),
        ki(REACT, "react", argument_graph_pattern=HEIGHTS_FULL, result_graph_pattern=pattern),
    ):
        with ke_error() as error:
            cleanup.register_ki(kb_id("a"), registration)
        assert error.value.status_code == 400
        assert error.value.message.startswith("Invalid graph pattern: ")
    assert cleanup.list_kis(kb_id("a")) == []


async def test_an_empty_pattern_is_invalid_and_a_missing_one_must_be_given(
    cleanup: LocalKnowledgeEngine,
) -> None:
    """2.7: an empty pattern is "Invalid graph pattern: ...", a missing one "must not be null".

    Over REST the KE's bean validation wants the graph pattern of an ASK or ANSWER and the
    argument pattern of a POST or REACT, before any check of its own.
    """
    await cleanup.register_kb(kb_info("a"))
    with ke_error() as error:
        cleanup.register_ki(kb_id("a"), ki(ANSWER, "a1"))
    check(
        error,
        400,
        "ConstraintViolationException: scKiPost.arg1.graphPattern must not be null\n ",
    )
    missing_argument = (
        "ConstraintViolationException: scKiPost.arg1.argumentGraphPattern must not be null\n "
    )
    with ke_error() as error:
        cleanup.register_ki(kb_id("a"), ki(REACT, "r1"))
    check(error, 400, missing_argument)
    with ke_error() as error:
        cleanup.register_ki(kb_id("a"), ki(POST, "p1", result_graph_pattern=HEIGHTS_FULL))
    check(error, 400, missing_argument)
    with ke_error() as error:
        cleanup.register_ki(kb_id("a"), ki(ASK, "a2", graph_pattern="   "))
    assert error.value.message.startswith("Invalid graph pattern: ")
    with ke_error() as error:
        cleanup.register_ki(kb_id("a"), ki(ASK, "a3", graph_pattern=""))
    assert error.value.message.startswith("Invalid graph pattern: "), error.value.message


async def test_list_kis_returns_the_canonical_patterns(network: Network) -> None:
    kb = network.kb("lister")
    kb.ask_ki("trees", "?t a ex:Tree .\n  ?t   ex:height ?h", prefixes=PREFIXES)

    @kb.react_ki(
        "convert",
        "?m ex:meters ?v .",
        "?m ex:yards ?w . ?m ex:count 12 . ?m ex:ok true .",
        prefixes=PREFIXES,
    )
    async def convert(binding_set: BindingSet) -> BindingSet:
        return []

    @kb.react_ki("notify", '?x ex:label "tall"@en .', prefixes=PREFIXES)
    async def notify(binding_set: BindingSet) -> None:
        return None

    await network.start(kb)
    listed = {k.knowledge_interaction_name: k for k in await kb.client.list_kis(kb.id)}
    assert set(listed) == {"trees", "convert", "notify"}

    trees = listed["trees"]
    assert trees.knowledge_interaction_type is ASK
    assert trees.knowledge_interaction_id == f"{kb.id}/interaction/trees"
    assert trees.graph_pattern == (
        f"?t {RDF_TYPE} <http://example.org/Tree> . ?t <http://example.org/height> ?h . "
    )
    assert trees.argument_graph_pattern is None
    assert trees.knowledge_gaps_enabled is False

    convert_info = listed["convert"]
    assert convert_info.knowledge_interaction_type is REACT
    assert convert_info.graph_pattern is None
    assert convert_info.argument_graph_pattern == "?m <http://example.org/meters> ?v . "
    assert convert_info.result_graph_pattern == (
        "?m <http://example.org/yards> ?w . ?m <http://example.org/count> 12 . "
        "?m <http://example.org/ok> true . "
    )
    assert convert_info.knowledge_gaps_enabled is False
    assert convert_info.communicative_act is not None
    inform = "https://w3id.org/knowledge-engine/InformPurpose"
    assert convert_info.communicative_act.required_purposes == [inform]
    assert convert_info.communicative_act.satisfied_purposes == [inform]

    notify_info = listed["notify"]
    assert notify_info.argument_graph_pattern == '?x <http://example.org/label> "tall"@en . '
    assert notify_info.result_graph_pattern is None


async def test_list_kis_of_an_unknown_kb_is_a_404(engine: LocalKnowledgeEngine) -> None:
    with pytest.raises(SmartConnectorNotFoundError) as error:
        engine.list_kis(kb_id("nobody"))
    check(error, 404, "Knowledge base not found, because its knowledge base ID is unknown.")


async def test_deleting_a_ki(cleanup: LocalKnowledgeEngine) -> None:
    await cleanup.register_kb(kb_info("a"))
    ki_id = cleanup.register_ki(kb_id("a"), ki(ASK, "q", graph_pattern=HEIGHTS_FULL))
    cleanup.delete_ki(kb_id("a"), ki_id)
    assert cleanup.list_kis(kb_id("a")) == []
    with ke_error() as error:
        cleanup.delete_ki(kb_id("a"), ki_id)
    check(
        error,
        404,
        "Knowledge base found, but the given knowledge interaction knowledge base ID is unknown.",
    )
    with ke_error() as error:
        cleanup.delete_ki(kb_id("a"), None)
    check(error, 400, "Missing valid Knowledge-Interaction-Id header.")


# ------------------------------------------------------------ ASK -> ANSWER (7.1, 7.3, 7.4)


async def test_own_kis_are_never_matched(network: Network) -> None:
    lonely = network.kb("lonely")
    calls: list[BindingSet] = []

    @lonely.answer_ki("heights", HEIGHTS, prefixes=PREFIXES)
    async def heights(binding_set: BindingSet) -> BindingSet:
        calls.append(binding_set)
        return [{"tree": OAK, "height": "21.5"}]

    ask = lonely.ask_ki("ask-heights", HEIGHTS, prefixes=PREFIXES)
    await network.start(lonely)

    response = await lonely.ask_with_info(ask)
    assert response.binding_set == []
    assert response.exchange_info == []
    # Not even when it names itself as the recipient.
    response = await lonely.ask_with_info(ask, recipients=[lonely.id])
    assert response.exchange_info == []
    assert calls == []

    other = network.kb("other")
    other_ask = other.ask_ki("ask-heights", HEIGHTS, prefixes=PREFIXES)
    await network.start(other)
    response = await other.ask_with_info(other_ask)
    assert response.binding_set == [{"tree": OAK, "height": typed("21.5", "decimal")}]
    assert [i.knowledge_base_id for i in response.exchange_info] == [lonely.id]
    assert len(calls) == 1


async def test_triple_order_and_variable_names_do_not_matter(network: Network) -> None:
    trees = network.kb("trees")
    forester = network.kb("forester")

    @trees.answer_ki("trees", "?x ex:species ?y . ?x ex:height ?z .", prefixes=PREFIXES)
    async def answer(binding_set: BindingSet) -> BindingSet:
        return [{"x": OAK, "y": iri("Quercus"), "z": "21.5"}]

    ask = forester.ask_ki("trees", "?t ex:height ?h . ?t ex:species ?s .", prefixes=PREFIXES)
    await network.start(trees, forester)

    response = await forester.ask_with_info(ask)
    assert response.binding_set == [{"t": OAK, "h": typed("21.5", "decimal"), "s": iri("Quercus")}]
    (info,) = response.exchange_info
    assert info.status is ExchangeStatus.SUCCEEDED
    assert info.initiator == "knowledgeBase"
    assert info.knowledge_base_id == trees.id
    assert info.knowledge_interaction_id == f"{trees.id}/interaction/trees"
    # The exchange info holds the answerer's bindings, in the answerer's variable names.
    assert info.binding_set == [{"x": OAK, "y": iri("Quercus"), "z": typed("21.5", "decimal")}]
    assert info.exchange_start is not None
    assert info.exchange_end is not None
    assert info.exchange_start <= info.exchange_end


async def test_a_constant_on_the_ask_side_binds_the_answers_variable(network: Network) -> None:
    park = network.kb("park")
    forester = network.kb("forester")
    received: list[BindingSet] = []

    @park.answer_ki("trees-in-parks", "?x ex:growsIn ?p .", prefixes=PREFIXES)
    async def answer(binding_set: BindingSet) -> BindingSet:
        received.append(binding_set)
        parks = {b["p"] for b in binding_set}
        trees = {iri("park1"): [OAK, BEECH], iri("park2"): [ELM]}
        return [{"x": t, "p": p} for p in parks for t in trees[p] if b_fits(binding_set, t)]

    def b_fits(binding_set: BindingSet, tree: str) -> bool:
        return all(b.get("x", tree) == tree for b in binding_set)

    ask = forester.ask_ki("in-park1", "?tree ex:growsIn ex:park1 .", prefixes=PREFIXES)
    await network.start(park, forester)

    answers = await forester.ask(ask)
    assert as_set(answers) == as_set([{"tree": OAK}, {"tree": BEECH}])
    assert received[-1] == [{"p": iri("park1")}]

    answers = await forester.ask(ask, [{"tree": BEECH}])
    assert answers == [{"tree": BEECH}]
    assert received[-1] == [{"x": BEECH, "p": iri("park1")}]


async def test_a_constant_on_the_answer_side_fills_the_askers_variable(network: Network) -> None:
    oaks = network.kb("oaks")
    forester = network.kb("forester")

    @oaks.answer_ki("oaks", "?a a ex:Oak .", prefixes=PREFIXES)
    async def answer(binding_set: BindingSet) -> BindingSet:
        return [{"a": iri("oak1")}, {"a": iri("oak2")}]

    ask = forester.ask_ki("typed", "?thing a ?class .", prefixes=PREFIXES)
    await network.start(oaks, forester)

    answers = await forester.ask(ask)
    assert as_set(answers) == as_set(
        [
            {"thing": iri("oak1"), "class": iri("Oak")},
            {"thing": iri("oak2"), "class": iri("Oak")},
        ]
    )


async def test_an_empty_answer_gives_no_bindings_even_with_constants(network: Network) -> None:
    """An ANSWER that returns nothing contributes nothing; its constants alone are no answer."""
    oaks = network.kb("oaks")
    forester = network.kb("forester")
    answered = asyncio.Event()

    @oaks.answer_ki("oaks", "?a a ex:Oak .", prefixes=PREFIXES)
    async def answer(binding_set: BindingSet) -> BindingSet:
        answered.set()
        return []

    ask = forester.ask_ki("typed", "?thing a ?class .", prefixes=PREFIXES)
    await network.start(oaks, forester)

    response = await forester.ask_with_info(ask)
    assert answered.is_set()
    assert response.exchange_info[0].status is ExchangeStatus.SUCCEEDED
    assert response.exchange_info[0].binding_set == []
    assert response.binding_set == []


async def test_an_answer_may_have_extra_triples(network: Network) -> None:
    trees = network.kb("trees")
    forester = network.kb("forester")

    @trees.answer_ki(
        "rich", "?x ex:height ?h . ?x ex:species ?s . ?x ex:age ?a .", prefixes=PREFIXES
    )
    async def answer(binding_set: BindingSet) -> BindingSet:
        return [{"x": OAK, "h": "21.5", "s": iri("Quercus"), "a": "120"}]

    ask = forester.ask_ki("heights", HEIGHTS, prefixes=PREFIXES)
    await network.start(trees, forester)

    response = await forester.ask_with_info(ask)
    assert response.binding_set == [{"tree": OAK, "height": typed("21.5", "decimal")}]
    assert response.exchange_info[0].binding_set == [
        {"x": OAK, "h": typed("21.5", "decimal"), "s": iri("Quercus"), "a": typed("120", "integer")}
    ]


async def test_an_answer_that_covers_only_part_of_the_ask_is_not_contacted(
    network: Network,
) -> None:
    partial = network.kb("partial")
    forester = network.kb("forester")
    called = []

    @partial.answer_ki("heights", HEIGHTS, prefixes=PREFIXES)
    async def answer(binding_set: BindingSet) -> BindingSet:
        called.append(binding_set)
        return []

    ask = forester.ask_ki(
        "both", "?tree ex:height ?height . ?tree ex:age ?age .", prefixes=PREFIXES
    )
    await network.start(partial, forester)
    response = await forester.ask_with_info(ask)
    assert response.binding_set == []
    assert response.exchange_info == []
    assert called == []


async def test_results_of_several_kbs_are_unioned_without_duplicates(network: Network) -> None:
    first = network.kb("first")
    second = network.kb("second")
    third = network.kb("third")
    forester = network.kb("forester")

    @first.answer_ki("heights", HEIGHTS, prefixes=PREFIXES)
    async def a1(binding_set: BindingSet) -> BindingSet:
        return [{"tree": OAK, "height": "21.5"}, {"tree": BEECH, "height": "30"}]

    @second.answer_ki("heights", "?t ex:height ?h .", prefixes=PREFIXES)
    async def a2(binding_set: BindingSet) -> BindingSet:
        # The same oak height, written in full: the same RDF term once normalised.
        return [{"t": OAK, "h": typed("21.5", "decimal")}, {"t": ELM, "h": "17.25"}]

    @third.answer_ki("heights", HEIGHTS, prefixes=PREFIXES)
    async def a3(binding_set: BindingSet) -> BindingSet:
        return [{"tree": BEECH, "height": "30"}]

    ask = forester.ask_ki("heights", HEIGHTS, prefixes=PREFIXES)
    await network.start(first, second, third, forester)

    response = await forester.ask_with_info(ask)
    expected = [
        {"tree": OAK, "height": typed("21.5", "decimal")},
        {"tree": BEECH, "height": typed("30", "integer")},
        {"tree": ELM, "height": typed("17.25", "decimal")},
    ]
    assert len(response.binding_set) == 3
    assert as_set(response.binding_set) == as_set(expected)
    assert {i.knowledge_base_id for i in response.exchange_info} == {
        first.id,
        second.id,
        third.id,
    }
    assert all(i.status is ExchangeStatus.SUCCEEDED for i in response.exchange_info)


async def test_several_matching_kis_of_one_kb_are_all_contacted(network: Network) -> None:
    trees = network.kb("trees")
    forester = network.kb("forester")

    @trees.answer_ki("one", HEIGHTS, prefixes=PREFIXES)
    async def one(binding_set: BindingSet) -> BindingSet:
        return [{"tree": OAK, "height": "1"}]

    @trees.answer_ki("two", "?x ex:height ?y .", prefixes=PREFIXES)
    async def two(binding_set: BindingSet) -> BindingSet:
        return [{"x": OAK, "y": "2"}]

    ask = forester.ask_ki("heights", HEIGHTS, prefixes=PREFIXES)
    await network.start(trees, forester)
    response = await forester.ask_with_info(ask)
    assert {i.knowledge_interaction_id for i in response.exchange_info} == {
        f"{trees.id}/interaction/one",
        f"{trees.id}/interaction/two",
    }
    assert {b["height"] for b in response.binding_set} == {
        typed("1", "integer"),
        typed("2", "integer"),
    }


async def test_results_are_filtered_against_the_askers_bindings(network: Network) -> None:
    oak_kb = network.kb("oak")
    forester = network.kb("forester")

    # The answerer only knows the oak: its constant fills the asker's ?tree.
    @oak_kb.answer_ki("oak-height", "ex:oak ex:height ?h .", prefixes=PREFIXES)
    async def answer(binding_set: BindingSet) -> BindingSet:
        return [{"h": "21.5"}]

    ask = forester.ask_ki("heights", HEIGHTS, prefixes=PREFIXES)
    await network.start(oak_kb, forester)

    assert await forester.ask(ask, [{"tree": OAK}]) == [
        {"tree": OAK, "height": typed("21.5", "decimal")}
    ]
    assert await forester.ask(ask, [{"tree": BEECH}]) == []
    assert await forester.ask(ask, [{"tree": BEECH}, {"tree": OAK}]) == [
        {"tree": OAK, "height": typed("21.5", "decimal")}
    ]
    assert await forester.ask(ask, [{"height": "21.5"}]) == [
        {"tree": OAK, "height": typed("21.5", "decimal")}
    ]
    assert await forester.ask(ask, [{"height": "3"}]) == []


async def test_an_answer_that_fits_no_incoming_binding_fails_the_exchange(
    network: Network,
) -> None:
    """4.2: every answered binding must fit an incoming one, or the exchange is FAILED."""
    trees = network.kb("trees")
    forester = network.kb("forester")

    @trees.answer_ki("heights", HEIGHTS, prefixes=PREFIXES)
    async def answer(binding_set: BindingSet) -> BindingSet:
        # Ignores the question and answers with every tree it knows.
        return [{"tree": OAK, "height": "21.5"}, {"tree": ELM, "height": "17.25"}]

    ask = forester.ask_ki("heights", HEIGHTS, prefixes=PREFIXES)
    await network.start(trees, forester)

    response = await forester.ask_with_info(ask, [{"tree": OAK}])
    (info,) = response.exchange_info
    assert info.status is ExchangeStatus.FAILED, info
    assert info.failed_message is not None
    assert "KB gave outgoing binding" in info.failed_message
    assert "doesn't have a matching incoming binding" in info.failed_message
    assert response.binding_set == []


async def test_recipients_limit_who_is_contacted(network: Network) -> None:
    answerers = [network.kb(f"answerer{i}") for i in range(3)]
    forester = network.kb("forester")
    contacted: list[str] = []

    def serve(kb: KnowledgeBase, index: int) -> None:
        @kb.answer_ki("heights", HEIGHTS, prefixes=PREFIXES)
        async def answer(binding_set: BindingSet) -> BindingSet:
            contacted.append(kb.id)
            return [{"tree": iri(f"tree{index}"), "height": str(index)}]

    for index, kb in enumerate(answerers):
        serve(kb, index)

    ask = forester.ask_ki("heights", HEIGHTS, prefixes=PREFIXES)
    await network.start(*answerers, forester)
    ids = [kb.id for kb in answerers]

    response = await forester.ask_with_info(ask, recipients=[ids[1]])
    assert contacted == [ids[1]]
    assert [i.knowledge_interaction_id for i in response.exchange_info] == [
        f"{ids[1]}/interaction/heights"
    ]
    assert response.binding_set == [{"tree": iri("tree1"), "height": typed("1", "integer")}]

    contacted.clear()
    response = await forester.ask_with_info(ask, recipients=[ids[0], ids[2]])
    assert sorted(contacted) == sorted([ids[0], ids[2]])
    assert {i.knowledge_interaction_id for i in response.exchange_info} == {
        f"{ids[0]}/interaction/heights",
        f"{ids[2]}/interaction/heights",
    }
    assert len(response.binding_set) == 2

    contacted.clear()
    response = await forester.ask_with_info(ask, recipients=[kb_id("nobody")])
    assert response.exchange_info == []
    assert response.binding_set == []
    assert contacted == []

    # 2.14: an empty recipient list means everybody.
    contacted.clear()
    result = await network.engine.ask(forester.id, ask.id, [], [])
    assert sorted(contacted) == sorted(ids)
    assert len(result.exchange_info) == 3


async def test_the_answerer_learns_who_asked(network: Network) -> None:
    trees = network.kb("trees")
    forester = network.kb("forester")
    askers: list[str | None] = []

    @trees.answer_ki("heights", HEIGHTS, prefixes=PREFIXES)
    async def answer(binding_set: BindingSet, context: RequestContext) -> BindingSet:
        askers.append(context.requesting_kb_id)
        return []

    ask = forester.ask_ki("heights", HEIGHTS, prefixes=PREFIXES)
    await network.start(trees, forester)
    await forester.ask(ask)
    assert askers == [forester.id]


async def test_knowledge_gaps_when_nobody_matches(network: Network) -> None:
    forester = network.kb("forester")
    ask = forester.ask_ki(
        "gaps",
        "?a ex:isFatherOf ?c . ?c ex:livesIn ?b .",
        prefixes=PREFIXES,
        knowledge_gaps_enabled=True,
    )
    plain = forester.ask_ki("plain", HEIGHTS, prefixes=PREFIXES)
    await network.start(forester)
    response = await forester.ask_with_info(ask)
    assert response.knowledge_gaps == [
        ["?a <http://example.org/isFatherOf> ?c", "?c <http://example.org/livesIn> ?b"]
    ]
    assert (await forester.ask_with_info(plain)).knowledge_gaps is None


# ---------------------------------------------------------------------- POST -> REACT (7.5, 5.2)


async def test_post_react_translates_arguments_and_results(network: Network) -> None:
    converter = network.kb("converter")
    sensor = network.kb("sensor")
    received: list[BindingSet] = []

    @converter.react_ki(
        "c-to-f",
        "?x a ex:Sensor . ?x ex:celsius ?v .",
        "?x ex:fahrenheit ?f .",
        prefixes=PREFIXES,
    )
    async def convert(binding_set: BindingSet) -> BindingSet:
        received.append(binding_set)
        return [
            {"x": b["x"], "f": str(float(b["v"].split('"')[1]) * 9 / 5 + 32)} for b in binding_set
        ]

    post = sensor.post_ki(
        "measured",
        "?s ex:celsius ?c . ?s a ex:Sensor .",
        "?s ex:fahrenheit ?fahrenheit .",
        prefixes=PREFIXES,
    )
    await network.start(converter, sensor)

    response = await sensor.post_with_info(post, [{"s": iri("s1"), "c": "20"}])
    assert received == [[{"x": iri("s1"), "v": typed("20", "integer")}]]
    assert response.result_binding_set == [{"s": iri("s1"), "fahrenheit": typed("68.0", "decimal")}]
    (info,) = response.exchange_info
    assert info.status is ExchangeStatus.SUCCEEDED
    assert info.knowledge_base_id == converter.id
    assert info.knowledge_interaction_id == f"{converter.id}/interaction/c-to-f"
    assert info.argument_binding_set == [{"x": iri("s1"), "v": typed("20", "integer")}]
    assert info.result_binding_set == [{"x": iri("s1"), "f": typed("68.0", "decimal")}]


async def test_a_react_receives_only_its_own_argument_variables(network: Network) -> None:
    reactor = network.kb("reactor")
    poster = network.kb("poster")
    received: list[BindingSet] = []

    @reactor.react_ki("temps", "?a ex:celsius ?b .", prefixes=PREFIXES)
    async def react(binding_set: BindingSet) -> None:
        received.append(binding_set)

    post = poster.post_ki("measured", "?s ex:celsius ?c . ?s ex:room ?r .", prefixes=PREFIXES)
    await network.start(reactor, poster)
    response = await poster.post_with_info(post, [{"s": iri("s1"), "c": "20", "r": iri("r1")}])
    assert received == [[{"a": iri("s1"), "b": typed("20", "integer")}]]
    assert response.result_binding_set == []
    assert response.exchange_info[0].argument_binding_set == received[0]


async def test_react_results_are_projected_onto_the_post_result_pattern(
    network: Network,
) -> None:
    """7.5/5.2: a REACT result pattern may be a superset; results keep the POST's result vars."""
    reactor = network.kb("reactor")
    poster = network.kb("poster")

    @reactor.react_ki(
        "convert",
        "?a ex:celsius ?b .",
        "?a ex:fahrenheit ?d . ?a ex:fromCelsius ?b .",
        prefixes=PREFIXES,
    )
    async def react(binding_set: BindingSet) -> BindingSet:
        return [{"a": b["a"], "b": b["b"], "d": "68"} for b in binding_set]

    post = poster.post_ki(
        "measured", "?s ex:celsius ?c .", "?s ex:fahrenheit ?f .", prefixes=PREFIXES
    )
    await network.start(reactor, poster)
    result = await poster.post(post, [{"s": iri("s1"), "c": "20"}])
    assert result == [{"s": iri("s1"), "f": typed("68", "integer")}]


async def test_a_react_without_result_pattern_contributes_nothing(network: Network) -> None:
    reactor = network.kb("reactor")
    poster = network.kb("poster")
    fired = asyncio.Event()

    @reactor.react_ki("log", "?s ex:celsius ?c .", prefixes=PREFIXES)
    async def react(binding_set: BindingSet) -> None:
        fired.set()

    post = poster.post_ki(
        "measured", "?s ex:celsius ?c .", "?s ex:fahrenheit ?f .", prefixes=PREFIXES
    )
    await network.start(reactor, poster)
    response = await poster.post_with_info(post, [{"s": iri("s1"), "c": "20"}])
    assert fired.is_set()
    assert response.result_binding_set == []
    (info,) = response.exchange_info
    assert info.status is ExchangeStatus.SUCCEEDED
    assert info.result_binding_set == []


async def test_a_post_without_result_pattern_drops_the_react_results(network: Network) -> None:
    reactor = network.kb("reactor")
    poster = network.kb("poster")

    @reactor.react_ki("convert", "?a ex:celsius ?b .", "?a ex:fahrenheit ?d .", prefixes=PREFIXES)
    async def react(binding_set: BindingSet) -> BindingSet:
        return [{"a": b["a"], "d": "68"} for b in binding_set]

    post = poster.post_ki("measured", "?s ex:celsius ?c .", prefixes=PREFIXES)
    await network.start(reactor, poster)
    response = await poster.post_with_info(post, [{"s": iri("s1"), "c": "20"}])
    assert response.result_binding_set == []
    (info,) = response.exchange_info
    assert info.status is ExchangeStatus.SUCCEEDED
    # The reaction happened; its results are in the exchange info, in the reactor's names.
    assert info.result_binding_set == [{"a": iri("s1"), "d": typed("68", "integer")}]


async def test_an_empty_reaction_gives_no_results_even_with_constants(network: Network) -> None:
    reactor = network.kb("reactor")
    poster = network.kb("poster")

    @reactor.react_ki("switch", "?a ex:turnOn ?b .", "?a ex:status ex:ok .", prefixes=PREFIXES)
    async def react(binding_set: BindingSet) -> BindingSet:
        return []  # nothing was switched on

    post = poster.post_ki("switch", "?s ex:turnOn ?c .", "?s ex:status ?st .", prefixes=PREFIXES)
    await network.start(reactor, poster)
    response = await poster.post_with_info(post, [{"s": iri("lamp"), "c": "true"}])
    assert response.exchange_info[0].result_binding_set == []
    assert response.result_binding_set == []


async def test_a_reaction_that_contradicts_its_arguments_fails_the_exchange(
    network: Network,
) -> None:
    """4.2: variables in both argument and result must agree with an incoming binding."""
    reactor = network.kb("reactor")
    poster = network.kb("poster")

    @reactor.react_ki("convert", "?a ex:celsius ?b .", "?a ex:fahrenheit ?d .", prefixes=PREFIXES)
    async def react(binding_set: BindingSet) -> BindingSet:
        return [{"a": iri("another-sensor"), "d": "68"}]

    post = poster.post_ki(
        "measured", "?s ex:celsius ?c .", "?s ex:fahrenheit ?f .", prefixes=PREFIXES
    )
    await network.start(reactor, poster)
    response = await poster.post_with_info(post, [{"s": iri("s1"), "c": "20"}])
    (info,) = response.exchange_info
    assert info.status is ExchangeStatus.FAILED, info
    assert info.failed_message is not None
    assert "doesn't have a matching incoming binding" in info.failed_message
    assert response.result_binding_set == []


async def test_post_matches_react_by_pattern_only(network: Network) -> None:
    reactor = network.kb("reactor")
    poster = network.kb("poster")
    fired: list[BindingSet] = []

    @reactor.react_ki("other", "?a ex:humidity ?b .", prefixes=PREFIXES)
    async def react(binding_set: BindingSet) -> None:
        fired.append(binding_set)

    post = poster.post_ki("measured", "?s ex:celsius ?c .", prefixes=PREFIXES)
    await network.start(reactor, poster)
    response = await poster.post_with_info(post, [{"s": iri("s1"), "c": "20"}])
    assert response.exchange_info == []
    assert fired == []


# ---------------------------------------------------------------------- the long poll (3, 2.11)


async def test_a_second_poll_of_one_kb_is_a_409(
    pair: tuple[str, str], engine: LocalKnowledgeEngine
) -> None:
    first = asyncio.create_task(engine.poll(ANSWERER))
    await let_the_loop_run()
    with pytest.raises(PollConflictError) as error:
        await engine.poll(ANSWERER)
    check(
        error, 409, "Only one connection per Knowledge-Base-Id is allowed and we already have one."
    )
    # Another KB's poll is not affected.
    other = asyncio.create_task(engine.poll(ASKER))
    await let_the_loop_run()
    assert not other.done()
    await engine.delete_kb(ASKER)
    await engine.delete_kb(ANSWERER)
    assert await first == (PollResult.EXIT, None)
    assert await other == (PollResult.EXIT, None)


async def test_requests_queue_in_order_while_nobody_polls(
    pair: tuple[str, str], engine: LocalKnowledgeEngine
) -> None:
    ask_id, answer_id = pair
    trees = [OAK, BEECH, ELM]
    asks = []
    for tree in trees:
        asks.append(asyncio.create_task(engine.ask(ASKER, ask_id, [{"tree": tree}])))
        await let_the_loop_run()
    delivered = []
    for _ in trees:
        result, request = await engine.poll(ANSWERER)
        assert result is PollResult.HANDLE
        assert request is not None
        assert request.knowledge_interaction_id == answer_id
        assert request.requesting_knowledge_base_id == ASKER
        delivered.append((request.handle_request_id, request.binding_set))
    assert delivered == [
        (1, [{"tree": OAK}]),
        (2, [{"tree": BEECH}]),
        (3, [{"tree": ELM}]),
    ]
    for request_id, bindings in delivered:
        engine.answer(ANSWERER, answer_id, request_id, [{**bindings[0], "height": "1"}])
    results = await asyncio.gather(*asks)
    assert [r.binding_set[0]["tree"] for r in results] == trees


async def test_the_51st_queued_request_drops_the_oldest(
    pair: tuple[str, str], engine: LocalKnowledgeEngine
) -> None:
    ask_id, answer_id = pair
    asks = [
        asyncio.create_task(engine.ask(ASKER, ask_id, [{"tree": iri(f"t{i}")}])) for i in range(51)
    ]
    first = await settled(asks[0])
    (info,) = first.exchange_info
    assert info.status is ExchangeStatus.FAILED
    assert info.failed_message == (
        "Handle request queue is full. This oldest request has been cancelled."
    )
    assert first.binding_set == []
    # The other 50 are still queued, oldest first.
    for expected in range(2, 52):
        result, request = await engine.poll(ANSWERER)
        assert request is not None
        assert request.handle_request_id == expected
        assert request.binding_set == [{"tree": iri(f"t{expected - 1}")}]
        engine.answer(
            ANSWERER, answer_id, expected, [{"tree": iri(f"t{expected - 1}"), "height": "1"}]
        )
    for task in asks[1:]:
        result = await settled(task)
        assert result.exchange_info[0].status is ExchangeStatus.SUCCEEDED


async def test_the_101st_outstanding_request_cancels_the_oldest(
    pair: tuple[str, str], cleanup: LocalKnowledgeEngine
) -> None:
    engine = cleanup
    ask_id, answer_id = pair
    asks = []
    for i in range(101):
        asks.append(asyncio.create_task(engine.ask(ASKER, ask_id, [{"tree": iri(f"t{i}")}])))
        _, request = await engine.poll(ANSWERER)
        assert request is not None
        assert request.handle_request_id == i + 1
    first = await settled(asks[0])
    assert first.exchange_info[0].status is ExchangeStatus.FAILED
    assert first.exchange_info[0].failed_message == (
        f"Knowledge base {ANSWERER} should have max 100 outstanding handle requests. "
        "Cancelling oldest handle request 1."
    )
    assert not any(task.done() for task in asks[1:])
    with ke_error() as error:
        engine.answer(ANSWERER, answer_id, 1, [{"tree": iri("t0"), "height": "1"}])
    check(error, 404, "Handle request id 1 not found. Are you sure it is still being processed?")
    engine.answer(ANSWERER, answer_id, 101, [{"tree": iri("t100"), "height": "1"}])
    last = await settled(asks[100])
    assert last.binding_set == [{"tree": iri("t100"), "height": typed("1", "integer")}]
    await engine.delete_kb(ANSWERER)
    for task in asks[1:100]:
        stopped = await settled(task)
        assert stopped.exchange_info[0].status is ExchangeStatus.FAILED


async def test_an_idle_poll_answers_repoll_after_the_heartbeat() -> None:
    engine = LocalKnowledgeEngine(heartbeat=0.05)
    await engine.register_kb(kb_info("idle"))
    started = time.monotonic()
    assert await engine.poll(kb_id("idle")) == (PollResult.REPOLL, None)
    elapsed = time.monotonic() - started
    assert 0.04 <= elapsed < 5
    # The slot is free again.
    assert await engine.poll(kb_id("idle")) == (PollResult.REPOLL, None)
    await engine.delete_kb(kb_id("idle"))


async def test_deleting_a_kb_while_it_polls_gives_exit_then_404(
    pair: tuple[str, str], engine: LocalKnowledgeEngine
) -> None:
    ask_id, _ = pair
    # One request delivered and unanswered, one queued behind it.
    delivered_ask = asyncio.create_task(engine.ask(ASKER, ask_id, [{"tree": OAK}]))
    _, request = await engine.poll(ANSWERER)
    assert request is not None
    poll = asyncio.create_task(engine.poll(ANSWERER))
    await let_the_loop_run()
    assert not poll.done()

    await engine.delete_kb(ANSWERER)
    assert await settled(poll) == (PollResult.EXIT, None)
    stopped = f"KB with id {ANSWERER} will no longer respond, because it stopped."
    result = await settled(delivered_ask)
    assert result.exchange_info[0].status is ExchangeStatus.FAILED
    assert result.exchange_info[0].failed_message == stopped

    with pytest.raises(SmartConnectorNotFoundError) as error:
        await engine.poll(ANSWERER)
    check(error, 404, "A Knowledge Base for the given Knowledge-Base-Id cannot be found.")
    with ke_error() as error:
        await engine.delete_kb(ANSWERER)
    check(error, 404, "Deletion of knowledge base failed, because it could not be found.")
    # The answerer is gone: nobody is asked any more.
    assert (await engine.ask(ASKER, ask_id, [])).exchange_info == []


async def test_queued_requests_fail_when_their_kb_is_deleted(
    pair: tuple[str, str], engine: LocalKnowledgeEngine
) -> None:
    ask_id, _ = pair
    queued = asyncio.create_task(engine.ask(ASKER, ask_id, []))
    await let_the_loop_run()
    await engine.delete_kb(ANSWERER)
    result = await settled(queued)
    assert result.exchange_info[0].failed_message == (
        f"KB with id {ANSWERER} will no longer respond, because it stopped."
    )


async def test_handle_request_ids_restart_at_one_after_reregistration(
    pair: tuple[str, str], engine: LocalKnowledgeEngine
) -> None:
    ask_id, _ = pair

    async def one_round() -> int:
        task = asyncio.create_task(engine.ask(ASKER, ask_id, []))
        _, request = await engine.poll(ANSWERER)
        assert request is not None
        engine.answer(ANSWERER, request.knowledge_interaction_id, request.handle_request_id, [])
        await settled(task)
        return request.handle_request_id

    assert [await one_round() for _ in range(3)] == [1, 2, 3]
    await engine.delete_kb(ANSWERER)
    await engine.register_kb(kb_info("answerer"))
    engine.register_ki(ANSWERER, ki(ANSWER, "heights", graph_pattern=HEIGHTS_FULL))
    assert [await one_round() for _ in range(2)] == [1, 2]


async def test_a_queued_request_for_a_deleted_ki_is_not_delivered() -> None:
    """2.8 (inferred): queued requests of a deleted KI cannot be delivered; askers time out."""
    fast = LocalKnowledgeEngine(heartbeat=0.05, kb_wait_timeout=0.2)
    await fast.register_kb(kb_info("asker"))
    await fast.register_kb(kb_info("answerer"))
    ask_id = fast.register_ki(ASKER, ki(ASK, "trees", graph_pattern=HEIGHTS_FULL))
    answer_id = fast.register_ki(ANSWERER, ki(ANSWER, "heights", graph_pattern=HEIGHTS_FULL))
    try:
        queued = asyncio.create_task(fast.ask(ASKER, ask_id, []))
        await let_the_loop_run()
        fast.delete_ki(ANSWERER, answer_id)
        assert await fast.poll(ANSWERER) == (PollResult.REPOLL, None)
        result = await settled(queued)
        assert result.exchange_info[0].status is ExchangeStatus.FAILED
    finally:
        await fast.delete_kb(ASKER)
        await fast.delete_kb(ANSWERER)


async def test_the_sdk_loop_serves_requests_through_the_engine(network: Network) -> None:
    """Many concurrent asks, one poll at a time, all answered."""
    trees = network.kb("trees")
    forester = network.kb("forester")

    @trees.answer_ki("heights", HEIGHTS, prefixes=PREFIXES)
    async def answer(binding_set: BindingSet) -> BindingSet:
        return [{**b, "height": "1"} for b in binding_set]

    ask = forester.ask_ki("heights", HEIGHTS, prefixes=PREFIXES)
    await network.start(trees, forester)
    results = await asyncio.gather(
        *(forester.ask(ask, [{"tree": iri(f"t{i}")}]) for i in range(30))
    )
    assert results == [[{"tree": iri(f"t{i}"), "height": typed("1", "integer")}] for i in range(30)]


# ---------------------------------------------------------------------- answers (4)


async def test_an_incomplete_answer_is_a_400_and_fails_the_exchange(
    pair: tuple[str, str], engine: LocalKnowledgeEngine
) -> None:
    ask_id, answer_id = pair
    task = asyncio.create_task(engine.ask(ASKER, ask_id, []))
    _, request = await engine.poll(ANSWERER)
    assert request is not None
    with ke_error() as error:
        engine.answer(ANSWERER, answer_id, request.handle_request_id, [{"tree": OAK}])
    message = (
        "Expected a complete binding, but was missing some variable(s) that ARE in the graph "
        f"pattern ('{HEIGHTS_FULL} '), but are missing from the binding, namely: [?height]. "
        "Note that the question mark should NOT be included in your binding keys."
    )
    check(error, 400, message)
    result = await settled(task)
    (info,) = result.exchange_info
    assert info.status is ExchangeStatus.FAILED
    assert info.failed_message is not None
    assert message in info.failed_message
    assert result.binding_set == []


async def test_an_answer_with_an_extra_key_is_a_400_and_fails_the_exchange(
    pair: tuple[str, str], engine: LocalKnowledgeEngine
) -> None:
    ask_id, answer_id = pair
    task = asyncio.create_task(engine.ask(ASKER, ask_id, []))
    _, request = await engine.poll(ANSWERER)
    assert request is not None
    with ke_error() as error:
        engine.answer(
            ANSWERER,
            answer_id,
            request.handle_request_id,
            [{"tree": OAK, "height": "3", "age": "12"}],
        )
    message = (
        "Given binding set uses key '?age', but this does not occur as a variable in graph "
        f"pattern '{HEIGHTS_FULL} '."
    )
    check(error, 400, message)
    result = await settled(task)
    assert result.exchange_info[0].status is ExchangeStatus.FAILED
    assert result.exchange_info[0].failed_message is not None
    assert message in result.exchange_info[0].failed_message


async def test_the_request_id_stays_registered_after_a_rejected_answer(
    pair: tuple[str, str], engine: LocalKnowledgeEngine
) -> None:
    """4.1 quirk (inferred): after the 400, the handle request id is still registered."""
    ask_id, answer_id = pair
    task = asyncio.create_task(engine.ask(ASKER, ask_id, []))
    _, request = await engine.poll(ANSWERER)
    assert request is not None
    with ke_error():
        engine.answer(ANSWERER, answer_id, request.handle_request_id, [{"tree": OAK}])
    await settled(task)
    # Not "Handle request id 1 not found": the id was not finished by the rejected answer.
    engine.answer(ANSWERER, answer_id, request.handle_request_id, [{"tree": OAK, "height": "3"}])


async def test_other_answer_errors(pair: tuple[str, str], engine: LocalKnowledgeEngine) -> None:
    ask_id, answer_id = pair
    task = asyncio.create_task(engine.ask(ASKER, ask_id, []))
    _, request = await engine.poll(ANSWERER)
    assert request is not None
    n = request.handle_request_id
    with ke_error() as error:
        engine.answer(ANSWERER, f"{ANSWERER}/interaction/nope", n, [])
    check(
        error,
        400,
        "Knowledge Interaction not found, because its ID must match an existing KI: "
        f"{ANSWERER}/interaction/nope",
    )
    with ke_error() as error:
        engine.answer(ANSWERER, answer_id, None, [])
    check(error, 400, "The handleRequestId property is mandatory, but not provided.")
    with ke_error() as error:
        engine.answer(kb_id("nobody"), answer_id, n, [])
    check(error, 404, "A Knowledge Base for the given Knowledge-Base-Id cannot be found.")
    with ke_error() as error:
        engine.answer(ANSWERER, answer_id, 99, [])
    check(error, 404, "Handle request id 99 not found. Are you sure it is still being processed?")
    with ke_error() as error:
        engine.answer(ANSWERER, answer_id, n, [{"tree": "?x", "height": "1"}])
    check(error, 400, "Binding values should be concrete nodes (either RDF literals or RDF URIs).")
    await engine.delete_kb(ANSWERER)
    await settled(task)


async def test_an_error_message_fails_the_answer_exchange_but_not_the_ask(
    pair: tuple[str, str], engine: LocalKnowledgeEngine
) -> None:
    ask_id, answer_id = pair
    await engine.register_kb(kb_info("second"))
    second_ki = engine.register_ki(kb_id("second"), ki(ANSWER, "h", graph_pattern=HEIGHTS_FULL))
    task = asyncio.create_task(engine.ask(ASKER, ask_id, []))
    _, request = await engine.poll(ANSWERER)
    assert request is not None
    # The error wins over a binding set given with it.
    engine.answer(
        ANSWERER,
        answer_id,
        request.handle_request_id,
        [{"tree": OAK, "height": "1"}],
        "Database connection lost.",
    )
    _, other = await engine.poll(kb_id("second"))
    assert other is not None
    engine.answer(
        kb_id("second"), second_ki, other.handle_request_id, [{"tree": ELM, "height": "2"}]
    )
    result: AskResult = await settled(task)
    infos = by_ki(result.exchange_info)
    assert infos[answer_id].status is ExchangeStatus.FAILED
    assert infos[answer_id].failed_message == (
        "An error occurred while ANSWERing: Database connection lost."
    )
    assert infos[answer_id].binding_set == []
    assert infos[second_ki].status is ExchangeStatus.SUCCEEDED
    assert result.binding_set == [{"tree": ELM, "height": typed("2", "integer")}]
    with ke_error():
        engine.answer(ANSWERER, answer_id, request.handle_request_id, [])


async def test_an_error_message_fails_the_react_exchange(cleanup: LocalKnowledgeEngine) -> None:
    engine = cleanup
    await engine.register_kb(kb_info("poster"))
    await engine.register_kb(kb_info("reactor"))
    post_id = engine.register_ki(
        kb_id("poster"), ki(POST, "p", argument_graph_pattern=HEIGHTS_FULL)
    )
    react_id = engine.register_ki(
        kb_id("reactor"), ki(REACT, "r", argument_graph_pattern=HEIGHTS_FULL)
    )
    task = asyncio.create_task(
        engine.post(kb_id("poster"), post_id, [{"tree": OAK, "height": "1"}])
    )
    _, request = await engine.poll(kb_id("reactor"))
    assert request is not None
    engine.answer(kb_id("reactor"), react_id, request.handle_request_id, None, "No spade.")
    result = await settled(task)
    (info,) = result.exchange_info
    assert info.status is ExchangeStatus.FAILED
    assert info.failed_message == "An error occurred while REACTing: No spade."
    assert info.argument_binding_set == [{"tree": OAK, "height": typed("1", "integer")}]
    assert result.result_binding_set == []


async def test_a_react_without_result_must_answer_an_empty_set(
    cleanup: LocalKnowledgeEngine,
) -> None:
    engine = cleanup
    await engine.register_kb(kb_info("poster"))
    await engine.register_kb(kb_info("reactor"))
    post_id = engine.register_ki(
        kb_id("poster"), ki(POST, "p", argument_graph_pattern=HEIGHTS_FULL)
    )
    react_id = engine.register_ki(
        kb_id("reactor"), ki(REACT, "r", argument_graph_pattern=HEIGHTS_FULL)
    )
    task = asyncio.create_task(
        engine.post(kb_id("poster"), post_id, [{"tree": OAK, "height": "1"}])
    )
    _, request = await engine.poll(kb_id("reactor"))
    assert request is not None
    with ke_error() as error:
        engine.answer(
            kb_id("reactor"), react_id, request.handle_request_id, [{"tree": OAK, "height": "1"}]
        )
    check(error, 400, "Bindings must be empty when the graph pattern is missing.")
    await settled(task)


async def test_a_slow_answer_times_out_and_fails_only_its_exchange(network: Network) -> None:
    engine = LocalKnowledgeEngine(heartbeat=10, kb_wait_timeout=0.2)
    network.engine = engine
    slow = network.kb("slow")
    quick = network.kb("quick")
    forester = network.kb("forester")
    never = network.gate()

    @slow.answer_ki("heights", HEIGHTS, prefixes=PREFIXES)
    async def slow_answer(binding_set: BindingSet) -> BindingSet:
        await never.wait()
        return []

    @quick.answer_ki("heights", HEIGHTS, prefixes=PREFIXES)
    async def quick_answer(binding_set: BindingSet) -> BindingSet:
        return [{"tree": OAK, "height": "21.5"}]

    ask = forester.ask_ki("heights", HEIGHTS, prefixes=PREFIXES)
    await network.start(slow, quick, forester)
    started = time.monotonic()
    response = await forester.ask_with_info(ask)
    elapsed = time.monotonic() - started
    assert 0.15 <= elapsed < 5
    infos = {i.knowledge_base_id: i for i in response.exchange_info}
    assert infos[quick.id].status is ExchangeStatus.SUCCEEDED
    assert infos[slow.id].status is ExchangeStatus.FAILED
    assert infos[slow.id].failed_message is not None
    assert infos[slow.id].failed_message.startswith(
        "Error 'TimeoutException' occurred while waiting for response to message: "
    )
    assert infos[slow.id].binding_set == []
    assert response.binding_set == [{"tree": OAK, "height": typed("21.5", "decimal")}]


async def test_binding_values_are_normalised(network: Network) -> None:
    trees = network.kb("trees")
    forester = network.kb("forester")
    received: list[BindingSet] = []

    @trees.answer_ki("facts", "?t ex:height ?h . ?t ex:name ?n . ?t ex:old ?o .", prefixes=PREFIXES)
    async def answer(binding_set: BindingSet) -> BindingSet:
        received.append(binding_set)
        return [
            {"t": OAK, "h": "21.5", "n": '"oak"^^xsd:string', "o": "true"},
            {"t": ELM, "h": "12", "n": f'"elm"^^<{XSD}string>', "o": '"false"^^xsd:boolean'},
            {"t": BEECH, "h": "1e3", "n": '"beech"@en', "o": "false"},
        ]

    ask = forester.ask_ki(
        "facts", "?t ex:height ?h . ?t ex:name ?n . ?t ex:old ?o .", prefixes=PREFIXES
    )
    await network.start(trees, forester)
    response = await forester.ask_with_info(ask)
    expected = [
        {"t": OAK, "h": typed("21.5", "decimal"), "n": '"oak"', "o": typed("true", "boolean")},
        {"t": ELM, "h": typed("12", "integer"), "n": '"elm"', "o": typed("false", "boolean")},
        {
            "t": BEECH,
            "h": typed("1e3", "double"),
            "n": '"beech"@en',
            "o": typed("false", "boolean"),
        },
    ]
    assert as_set(response.binding_set) == as_set(expected)
    assert as_set(response.exchange_info[0].binding_set) == as_set(expected)

    # What the asker sends is normalised before the answerer sees it.
    await forester.ask(ask, [{"h": "21.5", "n": '"oak"^^xsd:string'}])
    assert received[-1] == [{"h": typed("21.5", "decimal"), "n": '"oak"'}]


async def test_bad_binding_values_from_the_asker_are_400s(
    pair: tuple[str, str], engine: LocalKnowledgeEngine
) -> None:
    ask_id, _ = pair
    with ke_error() as error:
        await engine.ask(ASKER, ask_id, [{"tree": "?x"}])
    check(error, 400, "Binding values should be concrete nodes (either RDF literals or RDF URIs).")
    with ke_error() as error:
        await engine.ask(ASKER, ask_id, [{"?tree": OAK}])
    check(error, 400, "Variable names should not be null or start with a question mark.")
    with ke_error() as error:
        await engine.ask(ASKER, ask_id, [{"tree": None}])
    check(error, 400, "Variable values should not be null and follow SPARQL literal/iri syntax.")
    with ke_error() as error:
        await engine.ask(ASKER, ask_id, [None])
    check(error, 400, "Bindings must be non-null.")
    with ke_error() as error:
        await engine.ask(ASKER, ask_id, {"tree": OAK})
    check(error, 400, "The BindingSet should be a valid JSON array with Bindings.")


async def test_proactive_call_errors(pair: tuple[str, str], engine: LocalKnowledgeEngine) -> None:
    ask_id, _ = pair
    with ke_error() as error:
        await engine.ask(ASKER, None, [])
    check(
        error,
        400,
        "Both Knowledge-Base-Id and Knowledge-Interaction-Id headers should be non-null.",
    )
    with ke_error() as error:
        await engine.ask(kb_id("nobody"), ask_id, [])
    check(error, 404, "Smart connector not found, because its ID is unknown.")
    with ke_error() as error:
        await engine.ask(ASKER, f"{ASKER}/interaction/nope", [])
    check(error, 404, "Knowledge Interaction not found, because its ID is unknown.")
    with ke_error() as error:
        await engine.post(ASKER, ask_id, [])
    check(
        error,
        400,
        "Given Knowledge Interaction ID should have type PostKnowledgeInteraction and not "
        "AskKnowledgeInteraction.",
    )
    with ke_error() as error:
        await engine.ask(ASKER, "not a uri", [])
    check(error, 400, "Knowledge interaction not found, because its ID must be a valid URI.")


# ---------------------------------------------------------------------- leases and domain knowledge


async def test_a_kb_is_deleted_when_its_lease_expires() -> None:
    engine = LocalKnowledgeEngine(heartbeat=3600, kb_wait_timeout=0)
    leased = kb_id("leased")
    with LoopClock(asyncio.get_running_loop()) as clock:
        await engine.register_kb(kb_info("leased", lease_renewal_time=30))
        await engine.register_kb(kb_info("forever"))
        assert engine.get_kb(leased).lease_renewal_time == 30
        poll = asyncio.create_task(engine.poll(leased))
        await clock.advance(29)
        assert not poll.done()
        assert engine.get_kb(leased).knowledge_base_id == leased
        await clock.advance(11)  # past the lease, and the KE's 10 s check period
        assert await settled(poll) == (PollResult.EXIT, None)
        with pytest.raises(SmartConnectorNotFoundError):
            engine.get_kb(leased)
        with pytest.raises(SmartConnectorNotFoundError) as error:
            engine.renew_lease(leased)
        check(error, 404, "Knowledge base not found. (Has its lease already expired?)")
        # A KB without a lease lives on.
        await clock.advance(4000)
        assert engine.get_kb(kb_id("forever")).knowledge_base_id == kb_id("forever")
        await engine.delete_kb(kb_id("forever"))


async def test_an_expired_lease_ends_at_the_engines_next_check() -> None:
    engine = LocalKnowledgeEngine(heartbeat=3600, kb_wait_timeout=0, lease_check_period=10)
    with LoopClock(asyncio.get_running_loop()) as clock:
        await engine.register_kb(kb_info("first", lease_renewal_time=3600))  # checks start
        await clock.advance(5)
        await engine.register_kb(kb_info("leased", lease_renewal_time=30))
        poll = asyncio.create_task(engine.poll(kb_id("leased")))
        await clock.advance(31)  # the lease ran out a second ago; the next check is in 4 s
        assert not poll.done()
        assert engine.get_kb(kb_id("leased")).knowledge_base_id == kb_id("leased")
        await clock.advance(4.5)
        assert await settled(poll) == (PollResult.EXIT, None)
        with pytest.raises(SmartConnectorNotFoundError):
            engine.get_kb(kb_id("leased"))
        await engine.delete_kb(kb_id("first"))


async def test_a_renewed_lease_runs_from_the_renewal() -> None:
    engine = LocalKnowledgeEngine(heartbeat=3600, kb_wait_timeout=0)
    leased = kb_id("leased")
    with LoopClock(asyncio.get_running_loop()) as clock:
        await engine.register_kb(kb_info("leased", lease_renewal_time=30))
        await clock.advance(20)
        before = dt.datetime.now(dt.UTC)
        lease = engine.renew_lease(leased)
        assert lease.knowledge_base_id == leased
        assert (
            before + dt.timedelta(seconds=25) <= lease.expires <= before + dt.timedelta(seconds=35)
        )
        await clock.advance(20)  # 40 s after registering, 20 s after the renewal
        assert engine.get_kb(leased).knowledge_base_id == leased
        await clock.advance(21)  # 41 s after the renewal: well past its lease
        with pytest.raises(SmartConnectorNotFoundError):
            engine.get_kb(leased)


async def test_renew_lease_through_the_sdk(network: Network) -> None:
    leased = network.kb("leased", lease_renewal_time=60)
    plain = network.kb("plain")
    await network.start(leased, plain)
    before = dt.datetime.now(dt.UTC)
    lease = await leased.renew_lease()
    assert lease.knowledge_base_id == leased.id
    assert before + dt.timedelta(seconds=55) <= lease.expires <= before + dt.timedelta(seconds=65)

    with pytest.raises(SmartConnectorNotFoundError) as error:
        await plain.client.renew_lease(plain.id)
    assert error.value.message == (
        "Knowledge base found, but its lease could not be found. Knowledge bases without a "
        "lease do not have to be renewed."
    )
    with pytest.raises(SmartConnectorNotFoundError) as error:
        await plain.client.renew_lease(kb_id("nobody"))
    assert error.value.message == "Knowledge base not found. (Has its lease already expired?)"


@pytest.mark.parametrize("lease", [29, 3601])
async def test_a_lease_out_of_range_is_a_400(engine: LocalKnowledgeEngine, lease: int) -> None:
    with ke_error() as error:
        await engine.register_kb(kb_info("x", lease_renewal_time=lease))
    assert error.value.status_code == 400
    assert engine.list_kbs() == []


async def test_domain_knowledge_is_stored_and_replaced(network: Network) -> None:
    kb = network.kb("knower")
    await network.start(kb)
    assert network.engine.domain_knowledge(kb.id) == ""
    rules = (
        "@prefix ex: <http://example.org/> .\n"
        "-> (ex:Sensor <http://www.w3.org/2000/01/rdf-schema#subClassOf> ex:Device) .\n"
    )
    await kb.upload_domain_knowledge(rules)
    assert network.engine.domain_knowledge(kb.id) == rules
    other = "-> (<http://example.org/a> <http://example.org/b> <http://example.org/c>) .\n"
    await kb.upload_domain_knowledge(other)
    assert network.engine.domain_knowledge(kb.id) == other
    await kb.upload_domain_knowledge("")
    assert network.engine.domain_knowledge(kb.id) == ""
    with pytest.raises(SmartConnectorNotFoundError) as error:
        await kb.client.upload_domain_knowledge(kb_id("nobody"), other)
    assert error.value.message == "Knowledge base not found. (Has its lease already expired?)"


async def test_unparsable_domain_knowledge_is_a_400(cleanup: LocalKnowledgeEngine) -> None:
    """2.13: "The provided domain knowledge should parse correctly: <detail>"."""
    await cleanup.register_kb(kb_info("knower"))
    with ke_error() as error:
        cleanup.set_domain_knowledge(kb_id("knower"), "-> (ex:a ex:b ex:c) .")
    assert error.value.status_code == 400
    assert error.value.message.startswith("The provided domain knowledge should parse correctly: ")


# ---------------------------------------------------------------------- no polling


async def test_an_idle_engine_with_an_open_poll_uses_no_cpu(network: Network) -> None:
    trees = network.kb("trees")

    @trees.answer_ki("heights", HEIGHTS, prefixes=PREFIXES)
    async def answer(binding_set: BindingSet) -> BindingSet:
        return []

    await network.start(trees)
    await let_the_loop_run()
    # The SDK's loop holds the KB's poll slot: a second poll gets its 409.
    with pytest.raises(PollConflictError):
        await network.engine.poll(trees.id)

    started_cpu = time.process_time()
    started = time.monotonic()
    await asyncio.sleep(0.5)  # measuring idleness, not waiting for a state
    cpu = time.process_time() - started_cpu
    assert time.monotonic() - started >= 0.45
    assert cpu < 0.1, f"{cpu:.3f} s of CPU in 0.5 s of idling"
    assert trees.handlers_in_flight == 0


async def test_an_error_message_after_a_rejected_answer_is_accepted(
    pair: tuple[str, str], engine: LocalKnowledgeEngine
) -> None:
    ask_id, answer_id = pair
    task = asyncio.create_task(engine.ask(ASKER, ask_id, []))
    _, request = await engine.poll(ANSWERER)
    assert request is not None
    with ke_error():
        engine.answer(ANSWERER, answer_id, request.handle_request_id, [{"tree": OAK}])
    engine.answer(ANSWERER, answer_id, request.handle_request_id, None, "gave up")
    result = await settled(task)
    assert result.exchange_info[0].status is ExchangeStatus.FAILED
