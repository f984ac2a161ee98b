"""Building a knowledge base from a config: interactions, sources opened and closed, rules.

The sources here are Python ones (code in this module), so that what the builder does is seen
on its own; the SQL and SPARQL sources have tests of their own.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from km_core import AccessDeniedError, BindingSet, HandlerDeclarationError, KnowledgeBase
from km_mapper import MapperConfig, MapperConfigError
from km_mapper._build import build_knowledge_base
from km_mapper._target import run_settings
from km_testing import TestClient

KB_ID = "http://example.org/kb/mapped"
ALICE = "http://example.org/kb/alice"
OAK = "<http://example.org/oak>"
EVENTS: list[str] = []


class Trees:
    """A Python source: answers heights, records planted trees, and says when it opens."""

    def __init__(self, height: str) -> None:
        self.height = height
        self.planted: list[dict[str, str]] = []

    async def open(self) -> None:
        EVENTS.append("open")

    def close(self) -> None:  # sync: run in a worker thread
        EVENTS.append("close")

    async def answer(self, interaction: str, binding_set: BindingSet) -> BindingSet:
        return [{"tree": OAK, "height": self.height}]

    def react(self, interaction: str, binding_set: BindingSet) -> BindingSet:
        self.planted.extend(binding_set)
        return []


def echo(interaction: str, binding_set: BindingSet) -> BindingSet:
    """A Python source as one function: answers with what it was asked."""
    return [dict(b) for b in binding_set]


async def only_alice(request: Any) -> bool:
    return bool(request.requesting_kb_id == ALICE)


def config(**changes: Any) -> MapperConfig:
    data: dict[str, Any] = {
        "knowledge_base": {"id": KB_ID, "name": "mapped", "description": "trees"},
        "prefixes": {"ex": "http://example.org/"},
        "sources": {
            "trees": {
                "type": "python",
                "object": f"{__name__}:Trees",
                "kwargs": {"height": '"21"'},
            }
        },
        "knowledge_interactions": [
            {"name": "heights", "type": "answer", "graph_pattern": "?tree ex:height ?height ."},
            {"name": "plant", "type": "react", "argument_graph_pattern": "?tree ex:planted ?d ."},
            {"name": "neighbours", "type": "ask", "graph_pattern": "?a ex:near ?b ."},
        ],
    }
    data.update(changes)
    return MapperConfig.model_validate(data)


async def serve(kb: KnowledgeBase, client: TestClient, *requests: tuple[str, BindingSet]) -> None:
    async with kb:
        for name, bindings in requests:
            client.enqueue_handle_request(name, bindings, requesting_kb_id=ALICE)
        client.enqueue_exit()
        await asyncio.wait_for(kb.start_handling_loop(), timeout=10)


async def test_a_config_becomes_a_kb_whose_source_serves_its_interactions() -> None:
    EVENTS.clear()
    client = TestClient()
    kb = build_knowledge_base(config(), client=client)
    assert set(kb.knowledge_interactions) == {"heights", "plant", "neighbours"}
    await serve(kb, client, ("heights", []), ("plant", [{"tree": OAK, "d": '"today"'}]))
    answers = {r.knowledge_interaction_id.rsplit("/", 1)[-1]: r for r in client.handle_responses}
    assert answers["heights"].binding_set == [{"tree": OAK, "height": '"21"'}]
    assert answers["plant"].binding_set == []
    assert EVENTS == ["open", "close"]  # opened before serving, closed after


async def test_one_function_may_serve_every_interaction() -> None:
    client = TestClient()
    sources = {"echo": {"type": "python", "object": f"{__name__}:echo"}}
    kb = build_knowledge_base(config(sources=sources), client=client)
    await serve(kb, client, ("heights", [{"tree": OAK}]))
    assert client.handle_responses[0].binding_set == [{"tree": OAK}]


async def test_the_kbs_rules_come_from_the_config() -> None:
    kb_settings = {
        "id": KB_ID,
        "name": "mapped",
        "permitted": [ALICE],
        "policy": f"{__name__}:only_alice",
        "error_policy": "error_message",
    }
    kb = build_knowledge_base(config(knowledge_base=kb_settings), client=TestClient())
    assert await kb.call("heights", [], requesting_kb_id=ALICE) == [{"tree": OAK, "height": '"21"'}]
    with pytest.raises(AccessDeniedError):
        await kb.call("heights", [], requesting_kb_id="http://example.org/kb/eve")


def test_a_missing_object_is_named() -> None:
    sources = {"trees": {"type": "python", "object": f"{__name__}:Nothing"}}
    with pytest.raises(MapperConfigError, match=r"source 'trees': module .* has no 'Nothing'"):
        build_knowledge_base(config(sources=sources))


def test_an_object_without_the_method_an_interaction_needs_is_refused() -> None:
    sources = {"trees": {"type": "python", "object": f"{__name__}:OnlyAnswers"}}
    with pytest.raises(MapperConfigError, match="'plant' is an REACT, but the object has no"):
        build_knowledge_base(config(sources=sources))


class OnlyAnswers:
    def answer(self, interaction: str, binding_set: BindingSet) -> BindingSet:
        return []


def test_terms_must_name_a_variable_of_the_pattern() -> None:
    kis = [
        {
            "name": "heights",
            "type": "answer",
            "graph_pattern": "?tree ex:height ?height .",
            "terms": {"hieght": {"datatype": "xsd:integer"}},
        }
    ]
    with pytest.raises(MapperConfigError, match="'hieght', which is not a variable"):
        build_knowledge_base(config(knowledge_interactions=kis))


def test_a_bad_pattern_names_the_interaction() -> None:
    kis = [{"name": "heights", "type": "answer", "graph_pattern": "?tree nope:height ?h ."}]
    with pytest.raises(MapperConfigError, match="knowledge interaction 'heights'"):
        build_knowledge_base(config(knowledge_interactions=kis))


def test_a_policy_that_cannot_be_called_fails_at_build() -> None:
    kb_settings = {"id": KB_ID, "name": "mapped", "policy": f"{__name__}:OAK"}
    with pytest.raises(HandlerDeclarationError):
        build_knowledge_base(config(knowledge_base=kb_settings))


def test_several_sources_need_a_default_or_a_choice_per_interaction() -> None:
    sources = {
        "a": {"type": "python", "object": f"{__name__}:echo"},
        "b": {"type": "python", "object": f"{__name__}:echo"},
    }
    with pytest.raises(ValueError, match="'heights' names no source, and the file has 2"):
        config(sources=sources)
    assert (
        config(sources=sources, source="b").source_of(
            config(sources=sources, source="b").knowledge_interactions[0]  # type: ignore[arg-type]
        )
        == "b"
    )


def test_the_run_settings_take_headers_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = {
        "ke_url": "http://127.0.0.1:8280/rest",
        "max_concurrent_handlers": 4,
        "headers_env": {"Authorization": "KM_TEST_MAPPER_TOKEN"},
    }
    with pytest.raises(MapperConfigError, match="KM_TEST_MAPPER_TOKEN, which is not set"):
        run_settings(config(knowledge_engine=engine))
    monkeypatch.setenv("KM_TEST_MAPPER_TOKEN", "Bearer s3cret")
    assert run_settings(config(knowledge_engine=engine)) == {
        "ke_url": "http://127.0.0.1:8280/rest",
        "max_concurrent_handlers": 4,
        "headers": {"Authorization": "Bearer s3cret"},
    }
