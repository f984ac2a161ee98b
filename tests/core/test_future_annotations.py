from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Annotated

import pytest

from km_core import (
    IRI,
    XSD,
    BindingModel,
    BindingSet,
    Depends,
    HandlerDeclarationError,
    KnowledgeBase,
    RequestContext,
)
from km_testing import TestClient

# Handlers and factories declared under `from __future__ import annotations`: every annotation
# in this module is a string until the SDK resolves it when the handler is declared, from the
# module's globals and the local names of the code that declares the handler.

KB_ID = "http://example.org/kb/test"
REQUESTER_ID = "http://example.org/kb/requester"
KI = "tree-heights"
PATTERN = "?tree <http://example.org/height> ?height ."
OAK = "<http://example.org/oak>"
BEECH = "<http://example.org/beech>"
HEIGHT_21 = '"21"^^<http://www.w3.org/2001/XMLSchema#integer>'
HEIGHT_30 = '"30"^^<http://www.w3.org/2001/XMLSchema#integer>'


class Tree(BindingModel):
    """One binding of `PATTERN`: RDF terms in text."""

    tree: IRI
    height: int | None = None


class HeightTable:
    """Stands in for a database of tree heights."""

    def __init__(self, heights: dict[str, int]) -> None:
        self.heights = heights
        self.closed = False

    def height_of(self, tree: str) -> int:
        assert not self.closed, "the table was used after its teardown"
        return self.heights[tree]


TABLES: list[HeightTable] = []


def open_table() -> Iterator[HeightTable]:
    table = HeightTable({IRI(OAK): 21, IRI(BEECH): 30})
    TABLES.append(table)
    yield table
    table.closed = True


async def get_requester(context: RequestContext) -> str | None:
    return context.requesting_kb_id


@pytest.fixture
def client() -> TestClient:
    return TestClient()


@pytest.fixture
def tables() -> list[HeightTable]:
    """The tables `open_table` opened during the test."""
    TABLES.clear()
    return TABLES


@pytest.fixture
def kb(client: TestClient) -> KnowledgeBase:
    return KnowledgeBase(id=KB_ID, name="test", description="a KB under test", client=client)


def declare_heights(kb: KnowledgeBase, received: list[Tree]) -> None:
    """Declare `KI` with a handler that takes models, a dependency and the request's context."""

    @kb.answer_ki(KI, PATTERN)
    async def heights(
        trees: list[Tree],
        table: Annotated[HeightTable, Depends(open_table)],
        context: RequestContext,
        requester: str | None = Depends(get_requester),
    ) -> list[Tree]:
        assert requester == context.requesting_kb_id == REQUESTER_ID
        assert context.knowledge_interaction.name == KI
        received.extend(trees)
        return [Tree(tree=t.tree, height=table.height_of(t.tree)) for t in trees]


async def test_models_dependencies_and_context_in_call(
    kb: KnowledgeBase, tables: list[HeightTable]
):
    received: list[Tree] = []
    declare_heights(kb, received)

    result = await kb.call(KI, [{"tree": OAK}, {"tree": BEECH}], requesting_kb_id=REQUESTER_ID)

    assert kb.knowledge_interactions[KI].binding_model is Tree  # type: ignore[attr-defined]
    assert [type(tree) for tree in received] == [Tree, Tree]
    assert received == [Tree(tree=OAK), Tree(tree=BEECH)]
    assert received[0].tree == "http://example.org/oak"
    assert received[0].tree.term == "<http://example.org/oak>"
    assert result == [{"tree": OAK, "height": HEIGHT_21}, {"tree": BEECH, "height": HEIGHT_30}]
    [table] = tables
    assert table.closed


async def test_models_dependencies_and_context_in_the_handling_loop(
    kb: KnowledgeBase, client: TestClient, tables: list[HeightTable]
):
    received: list[Tree] = []
    declare_heights(kb, received)
    await kb.register()
    handle_request_id = client.enqueue_handle_request(
        KI, [Tree(tree=BEECH)], requesting_kb_id=REQUESTER_ID
    )
    client.enqueue_exit()

    await kb.start_handling_loop()

    assert received == [Tree(tree=BEECH)]
    assert isinstance(received[0], Tree)
    [response] = client.handle_responses
    assert response.handle_request_id == handle_request_id
    assert response.binding_set == [{"tree": BEECH, "height": HEIGHT_30}]
    [table] = tables
    assert table.closed


async def test_a_sync_handler_with_a_sync_generator_factory(
    kb: KnowledgeBase, tables: list[HeightTable]
):
    loop_thread = threading.get_ident()
    threads: list[int] = []

    @kb.answer_ki(KI, PATTERN)
    def heights(
        binding_set: BindingSet, table: Annotated[HeightTable, Depends(open_table)]
    ) -> BindingSet:
        threads.append(threading.get_ident())
        return [
            {"tree": b["tree"], "height": f'"{table.height_of(IRI(b["tree"]))}"^^<{XSD}integer>'}
            for b in binding_set
        ]

    assert await kb.call(KI, [{"tree": OAK}]) == [{"tree": OAK, "height": HEIGHT_21}]
    assert len(threads) == 1
    assert threads[0] != loop_thread
    [table] = tables
    assert table.closed


async def test_a_model_defined_in_a_function_resolves(kb: KnowledgeBase):
    class LocalTree(BindingModel):
        tree: IRI
        height: int | None = None

    received: list[object] = []

    @kb.answer_ki(KI, PATTERN)
    def handler_of_local_trees(trees: list[LocalTree]) -> list[LocalTree]:
        received.extend(trees)
        return []

    await kb.call(KI, [{"tree": OAK}])
    assert received == [LocalTree(tree=OAK)]


async def test_a_dependency_defined_in_a_function_resolves(kb: KnowledgeBase):
    class LocalTable:
        name = "local"

    def get_local_table() -> LocalTable:
        return LocalTable()

    @kb.answer_ki(KI, PATTERN)
    def handler_with_local_table(
        binding_set: BindingSet, table: Annotated[LocalTable, Depends(get_local_table)]
    ) -> BindingSet:
        return [{"tree": OAK, "height": f'"{table.name}"'}]

    assert await kb.call(KI, []) == [{"tree": OAK, "height": '"local"'}]


def test_a_name_defined_nowhere_fails_at_declaration(kb: KnowledgeBase):
    def handler_with_a_typo(
        binding_set: BindingSet,
        table: Annotated[Tabel, Depends(HeightTable)],  # type: ignore[name-defined]  # noqa: F821
    ) -> BindingSet:
        return []

    with pytest.raises(HandlerDeclarationError) as excinfo:
        kb.answer_ki(KI, PATTERN)(handler_with_a_typo)

    message = str(excinfo.value)
    assert "handler_with_a_typo" in message
    assert "Tabel" in message
    assert KI not in kb.knowledge_interactions
