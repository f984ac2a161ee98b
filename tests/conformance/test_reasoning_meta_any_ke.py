"""Meta knowledge interactions: asking and reacting to what KBs say about themselves, on any KE.

Every KB has meta ASK, ANSWER, POST and REACT interactions on one pattern that describes the KB
and its interactions (reference ke-rest-api.md §7.6). An ASK with ``includeMetaKIs`` reaches
the meta ANSWERs of the other KBs (never its own KB's); without it, or with it false, it
reaches none. A KB's meta POSTs tell the other KBs' REACTs on that pattern whenever it
registers, adds or removes an interaction, or is deleted.

Run against the served local engine always, and against the KE at ``KM_TEST_KE_URL`` when it
is set (see test_contract_any_ke.py). A real KE is shared, so every meta ASK names its
recipients, and the meta REACT counts only what the test's own KB posted.
"""

from __future__ import annotations

import pytest

from km_core import ExchangeStatus, HandleRequest, KnowledgeInteractionType
from tests.conformance.rest import (
    Network,
    Served,
    ki,
    nothing,
    proactive,
    register_at_level,
)

pytestmark = pytest.mark.ke

ASK = KnowledgeInteractionType.ASK
POST = KnowledgeInteractionType.POST
REACT = KnowledgeInteractionType.REACT
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
KE = "https://w3id.org/knowledge-engine/"
KNOWLEDGE_BASE = f"<{KE}KnowledgeBase>"
META = (
    f"?kb {RDF_TYPE} {KNOWLEDGE_BASE} . ?kb <{KE}hasName> ?name . "
    f"?kb <{KE}hasDescription> ?description . ?kb <{KE}hasKnowledgeInteraction> ?ki . "
    f"?ki {RDF_TYPE} ?kiType . ?ki <{KE}isMeta> ?isMeta . ?ki <{KE}hasCommunicativeAct> ?act . "
    f"?act {RDF_TYPE} <{KE}CommunicativeAct> . ?act <{KE}hasRequirement> ?req . "
    f"?act <{KE}hasSatisfaction> ?sat . ?req {RDF_TYPE} ?reqType . ?sat {RDF_TYPE} ?satType . "
    f"?ki <{KE}hasGraphPattern> ?gp . ?gp {RDF_TYPE} ?patternType . ?gp <{KE}hasPattern> ?pattern ."
)
META_KIS = (
    "ask",
    "answer",
    "post/new",
    "post/changed",
    "post/removed",
    "react/new",
    "react/changed",
    "react/removed",
)


def meta_kis(kb_id: str) -> set[str]:
    """The ids of the KB's eight meta interactions, as IRIs in bindings."""
    return {f"<{kb_id}/meta/knowledgeinteractions/{name}>" for name in META_KIS}


async def meta_asker(
    net: Network, level: int, name: str, pattern: str, include: bool | None
) -> str:
    """An ASK ``name`` of KB ``asker`` (at ``level``) with ``includeMetaKIs`` as given."""
    if net.kb_id("asker") not in net.kb_ids:
        await register_at_level(net, "asker", level)
    registration = ki(ASK, name, pattern)
    registration.include_meta_kis = include
    return await net.client.register_ki(net.kb_id("asker"), registration)


@pytest.mark.parametrize(
    "level",
    [pytest.param(1, id="level1"), pytest.param(2, id="level2"), pytest.param(5, id="level5")],
)
async def test_only_an_ask_with_include_meta_kis_finds_the_other_kbs(
    net: Network, level: int
) -> None:
    """Restates TestAskAnswerIncludeMetaKIs (REST), asking two other KBs of the test."""
    others = [await net.register("other"), await net.register("other2")]
    pattern = f"?kb {RDF_TYPE} {KNOWLEDGE_BASE} ."
    included = await meta_asker(net, level, "included", pattern, True)
    asker = net.kb_id("asker")
    result = await net.client.ask(asker, included, [], recipients=others)
    assert sorted(b["kb"] for b in result.binding_set) == sorted(f"<{kb}>" for kb in others)
    infos = {info.knowledge_base_id: info for info in result.exchange_info}
    assert sorted(infos) == sorted(others)
    for kb_id, info in infos.items():
        assert info.knowledge_interaction_id == f"{kb_id}/meta/knowledgeinteractions/answer"
        assert info.status is ExchangeStatus.SUCCEEDED
        assert {b["ki"] for b in info.binding_set} == meta_kis(kb_id)  # all 15 variables
        assert all(len(b) == 14 and b["kb"] == f"<{kb_id}>" for b in info.binding_set)
    anyone = await net.client.ask(asker, included, [])  # a shared KE has more KBs
    found = {b["kb"] for b in anyone.binding_set}
    assert {f"<{kb}>" for kb in others} <= found
    assert f"<{asker}>" not in found
    itself = await net.client.ask(asker, included, [], recipients=[asker])
    assert (itself.binding_set, itself.exchange_info) == ([], [])
    for name, include in (("default", None), ("excluded", False)):
        ask_id = await meta_asker(net, level, name, pattern, include)
        result = await net.client.ask(asker, ask_id, [], recipients=others)
        assert (result.binding_set, result.exchange_info) == ([], [])


@pytest.mark.parametrize(
    "level",
    [pytest.param(1, id="level1"), pytest.param(2, id="level2"), pytest.param(5, id="level5")],
)
async def test_asking_metadata_partially_finds_the_kb_by_its_name(net: Network, level: int) -> None:
    """Restates TestAskPartialMetadata: ``?x a kb:KnowledgeBase . ?x kb:hasName "kb1"``.

    Both KBs are asked. At level 1 the name reaches them as a binding, so only kb1 answers
    its description; from level 2 both answer their whole description (eight bindings, one
    per meta interaction) and the KE keeps kb1.
    """
    kb1_name = f"kb1-{net.tag}"
    kb1 = await register_at_level(net, "kb1", None, kb_name=kb1_name)
    kb3 = await register_at_level(net, "kb3", None, kb_name=f"kb3-{net.tag}")
    pattern = f'?x {RDF_TYPE} {KNOWLEDGE_BASE} . ?x <{KE}hasName> "{kb1_name}" .'
    ask_id = await meta_asker(net, level, "partial", pattern, True)
    result = await net.client.ask(net.kb_id("asker"), ask_id, [], recipients=[kb1, kb3])
    assert result.binding_set == [{"x": f"<{kb1}>"}]
    infos = {info.knowledge_base_id: info for info in result.exchange_info}
    assert sorted(infos) == sorted([kb1, kb3])
    assert all(info.status is ExchangeStatus.SUCCEEDED for info in infos.values())
    assert {b["ki"] for b in infos[kb1].binding_set} == meta_kis(kb1)
    if level == 1:
        assert infos[kb3].binding_set == []
    else:
        assert {b["ki"] for b in infos[kb3].binding_set} == meta_kis(kb3)


async def test_the_whole_metadata_describes_every_interaction_of_the_kb(net: Network) -> None:
    """Restates TestRequestMetadata: kb1 has a POST; its description has four POSTs."""
    measurement, temperature = "<https://saref.etsi.org/core/Measurement>", net.iri("hasTemp")
    posted = f"?obs {RDF_TYPE} {measurement} . ?obs {temperature} ?temp ."
    await net.with_ki("kb1", proactive(POST, "measurements", posted))
    kb1 = net.kb_id("kb1")
    ask_id = await meta_asker(net, 2, "metadata", META, True)
    result = await net.client.ask(net.kb_id("asker"), ask_id, [], recipients=[kb1])
    assert {b["ki"] for b in result.binding_set} == meta_kis(kb1) | {
        f"<{kb1}/interaction/measurements>"
    }
    posts = {
        b["ki"] for b in result.binding_set if b["kiType"] == f"<{KE}PostKnowledgeInteraction>"
    }
    assert len(posts) == 3 + 1
    [own] = [b for b in result.binding_set if b["ki"] == f"<{kb1}/interaction/measurements>"]
    ki_id = f"{kb1}/interaction/measurements"
    assert own == {
        "kb": f"<{kb1}>",
        "name": '"conformance"',
        "description": '""',
        "ki": f"<{ki_id}>",
        "kiType": f"<{KE}PostKnowledgeInteraction>",
        "isMeta": '"false"^^<http://www.w3.org/2001/XMLSchema#boolean>',
        "act": f"<{ki_id}/act>",
        "req": f"<{ki_id}/act/req>",
        "sat": f"<{ki_id}/act/sat>",
        "reqType": f"<{KE}InformPurpose>",
        "satType": f"<{KE}InformPurpose>",
        "gp": f"<{ki_id}/argumentgp>",
        "patternType": f"<{KE}ArgumentGraphPattern>",
        "pattern": f'"{posted} "',
    }
    [info] = result.exchange_info
    assert info.knowledge_interaction_id == f"{kb1}/meta/knowledgeinteractions/answer"
    assert len(info.binding_set) == 9


async def test_a_react_on_the_metadata_hears_of_every_change_of_another_kb(net: Network) -> None:
    """Restates TestReactMetadata: a REACT on the meta pattern, and a KB that comes and goes.

    The REACT gets one request from the newcomer for each change: its registration (its
    eight meta interactions), a POST added (nine), the POST removed (eight) and its deletion
    (eight, the description it had). Only the newcomer's requests are counted: on a shared KE
    every KB's changes reach the REACT.
    """
    watcher = net.kb_id("watcher")
    await net.with_ki("watcher", proactive(REACT, "react", META))
    newcomer = net.kb_id("newcomer")
    seen: set[int] = set()

    async def next_change(served: Served) -> set[str]:
        def new(request: HandleRequest) -> bool:
            return (
                request.requesting_knowledge_base_id == newcomer
                and request.handle_request_id not in seen
            )

        request = await served.wait_for(watcher, new)
        seen.add(request.handle_request_id)
        assert request.knowledge_interaction_id == f"{watcher}/interaction/react"
        assert all(b["kb"] == f"<{newcomer}>" for b in request.binding_set)
        return {b["ki"] for b in request.binding_set}

    async with Served(net.client, {watcher: nothing}, limit=200) as served:
        await net.register("newcomer")
        assert await next_change(served) == meta_kis(newcomer)
        measurement = "<https://saref.etsi.org/core/Measurement>"
        post_id = await net.client.register_ki(
            newcomer, proactive(POST, "measurements", f"?obs {RDF_TYPE} {measurement} .")
        )
        assert await next_change(served) == meta_kis(newcomer) | {f"<{post_id}>"}
        await net.client.unregister_ki(newcomer, post_id)
        assert await next_change(served) == meta_kis(newcomer)
        await net.client.unregister_kb(newcomer)
        net.kb_ids.remove(newcomer)
        assert await next_change(served) == meta_kis(newcomer)
