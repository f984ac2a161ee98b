"""Graph patterns and binding models are checked when an interaction is declared."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from km_core import (
    IRI,
    BindingModel,
    BindingSet,
    ConfigurationError,
    GraphPatternError,
    KnowledgeBase,
)
from km_testing import TestClient
from tests.support import EX, OAK


class Tree(BindingModel):
    tree: IRI
    height: Decimal | None = None


class Planting(BindingModel):
    tree: IRI
    place: IRI


@pytest.mark.parametrize(
    ("pattern", "prefixes", "fragment"),
    [
        ("?tree ex:height ?height .", None, "'ex'"),
        ("?tree ex:height ?height FILTER(?height > 3)", EX, "FILTER"),
        ("?tree ex:height ?height . OPTIONAL { ?tree ex:name ?name }", EX, "OPTIONAL"),
        ("?tree ex:partOf/ex:partOf ?forest .", EX, "path"),
        ("?tree ex:height [] .", EX, "blank node"),
        ("   ", EX, "empty"),
    ],
)
def test_a_bad_pattern_fails_at_declaration(
    kb: KnowledgeBase, pattern: str, prefixes: dict[str, str] | None, fragment: str
) -> None:
    with pytest.raises(GraphPatternError) as caught:
        kb.ask_ki("trees", pattern, prefixes=prefixes)
    assert isinstance(caught.value, ConfigurationError)
    assert caught.value.ki_name == "trees"
    message = str(caught.value)
    assert "'trees'" in message
    assert fragment.lower() in message.lower()
    assert "trees" not in kb.knowledge_interactions


def test_a_syntax_error_names_its_line_and_column(kb: KnowledgeBase) -> None:
    pattern = "?tree ex:height ?height .\n?tree ex:name ?name ?oops ."
    with pytest.raises(GraphPatternError) as caught:

        @kb.answer_ki("tree-names", pattern, prefixes=EX)
        def names(binding_set: BindingSet) -> BindingSet:
            return []

    assert caught.value.line == 2
    assert caught.value.column == len("?tree ex:name ?name ") + 1  # where ?oops starts
    assert caught.value.pattern == pattern
    assert repr(pattern) in str(caught.value)
    assert "tree-names" not in kb.knowledge_interactions


def test_the_variables_are_on_the_handles(kb: KnowledgeBase) -> None:
    ask = kb.ask_ki("trees", "?tree ex:height ?height . ?tree a ex:Tree .", prefixes=EX)
    post = kb.post_ki(
        "plant", "?tree ex:plantedAt ?place .", "?tree ex:plantedOn ?day .", prefixes=EX
    )

    @kb.react_ki("planted", "?tree ex:plantedAt ?place .", prefixes=EX)
    def planted(binding_set: BindingSet) -> None:
        return None

    assert ask.variables == {"tree", "height"}
    assert post.argument_variables == {"tree", "place"}
    assert post.result_variables == {"tree", "day"}
    assert post.variables == {"tree", "place", "day"}
    react = kb.knowledge_interactions["planted"]
    assert react.variables == {"tree", "place"}  # type: ignore[attr-defined]
    assert react.result_variables == frozenset()  # type: ignore[attr-defined]


def test_an_ask_model_may_leave_variables_out_but_not_add_any(kb: KnowledgeBase) -> None:
    kb.ask_ki(
        "trees", "?tree ex:height ?height . ?tree ex:age ?age .", prefixes=EX, binding_model=Tree
    )
    with pytest.raises(GraphPatternError, match=r"\?height, which is not a variable"):
        kb.ask_ki("typo", "?tree ex:height ?hieght .", prefixes=EX, binding_model=Tree)


def test_an_answer_model_must_cover_every_variable(kb: KnowledgeBase) -> None:
    with pytest.raises(GraphPatternError, match=r"no field for \?age"):

        @kb.answer_ki("trees", "?tree ex:height ?height . ?tree ex:age ?age .", prefixes=EX)
        async def trees(binding_set: list[Tree]) -> list[Tree]:
            return binding_set

    @kb.answer_ki("heights", "?tree ex:height ?height .", prefixes=EX)
    async def heights(binding_set: list[Tree]) -> list[Tree]:
        return binding_set

    assert kb.knowledge_interactions["heights"].binding_model is Tree  # type: ignore[attr-defined]


def test_react_models_are_checked_against_their_own_patterns(kb: KnowledgeBase) -> None:
    with pytest.raises(GraphPatternError, match="argument pattern"):

        @kb.react_ki("wrong-argument", "?tree ex:height ?height .", prefixes=EX)
        def wrong(binding_set: list[Planting]) -> None:
            return None

    with pytest.raises(GraphPatternError, match=r"no field for \?when"):

        @kb.react_ki(
            "incomplete-result",
            "?tree ex:plantedAt ?place .",
            "?tree ex:height ?height . ?tree ex:measured ?when .",
            prefixes=EX,
            result_model=Tree,
        )
        def incomplete(binding_set: list[Planting]) -> list[Tree]:
            return []

    with pytest.raises(ConfigurationError, match="no such pattern"):

        @kb.react_ki("no-result", "?tree ex:plantedAt ?place .", prefixes=EX, result_model=Tree)
        def no_result(binding_set: list[Planting]) -> None:
            return None


def test_post_models_are_checked(kb: KnowledgeBase) -> None:
    kb.post_ki("plant", "?tree ex:plantedAt ?place .", prefixes=EX, argument_model=Planting)
    with pytest.raises(GraphPatternError, match=r"\?place"):
        kb.post_ki("measure", "?tree ex:height ?height .", prefixes=EX, argument_model=Planting)


def test_variables_with_underscores_need_no_alias(kb: KnowledgeBase) -> None:
    class Snake(BindingModel):
        tree_id: IRI

    ki = kb.ask_ki("snake", "?tree_id ex:height ?h .", prefixes=EX, binding_model=Snake)
    assert Snake.model_variables() <= ki.variables


async def test_a_bad_term_from_the_network_is_logged_and_answered(
    kb: KnowledgeBase, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    @kb.answer_ki("heights", "?tree ex:height ?height .", prefixes=EX)
    async def heights(binding_set: list[Tree]) -> list[Tree]:
        return [Tree(tree=t.tree, height=Decimal("3.5")) for t in binding_set]

    await kb.register()
    bad = client.enqueue_handle_request("heights", [{"tree": '"not an iri"'}])
    good = client.enqueue_handle_request("heights", [{"tree": OAK}])
    client.enqueue_exit()
    with caplog.at_level(logging.ERROR, logger="km_core"):
        await kb.start_handling_loop(max_concurrent_handlers=1)
    by_id = {r.handle_request_id: r.binding_set for r in client.handle_responses}
    assert by_id[bad] == []
    assert by_id[good] == [
        {"tree": OAK, "height": '"3.5"^^<http://www.w3.org/2001/XMLSchema#decimal>'}
    ]
    [record] = [r for r in caplog.records if r.exc_info]
    assert f"handle request {bad}" in record.getMessage()
    assert "'\"not an iri\"'" in str(record.exc_info[1]) if record.exc_info else False
