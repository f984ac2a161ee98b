"""Handlers with a binding model, the request context and injected dependencies."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Annotated

from km_core import IRI, BindingModel, ClientProtocol, Depends, KnowledgeBase, RequestContext
from km_testing import TestClient

EX = "http://example.org/"
PREFIXES = {"ex": EX}


# --8<-- [start:model]
class Tree(BindingModel):
    """One binding of ``?tree ex:height ?height``; the height may be left unbound."""

    tree: IRI
    height: int | None = None


# --8<-- [end:model]


# --8<-- [start:factories]
@dataclass(frozen=True)
class Settings:
    """What the factories need to know."""

    default_height: int


def get_settings() -> Settings:
    """A sync factory: it runs in a worker thread, never on the event loop."""
    print("settings loaded")
    return Settings(default_height=10)


class Catalogue:
    """Stands in for a database connection."""

    def __init__(self, heights: dict[str, int]) -> None:
        self.heights = heights

    async def height_of(self, tree: str) -> int | None:
        """Look a tree up, as a query would."""
        await asyncio.sleep(0.01)
        return self.heights.get(tree)


async def open_catalogue(
    settings: Annotated[Settings, Depends(get_settings)],
) -> AsyncIterator[Catalogue]:
    """An async generator factory: the code after ``yield`` is its teardown."""
    print("catalogue opened")
    try:
        yield Catalogue({f"{EX}oak": 21, f"{EX}beech": settings.default_height + 20})
    finally:
        print("catalogue closed")


# --8<-- [end:factories]


# --8<-- [start:journal]
def open_journal(context: RequestContext) -> Iterator[list[str]]:
    """A sync generator factory that keeps the entries only when the handler succeeds.

    When the handler raises, its exception is raised at the ``yield``, so the line after it
    does not run.
    """
    entries: list[str] = []
    yield entries
    print(f"journal of request {context.handle_request_id}: {entries}")


# --8<-- [end:journal]


def build_kb(client: ClientProtocol) -> KnowledgeBase:
    """Declare the knowledge base, one ANSWER and one REACT interaction."""
    kb = KnowledgeBase(
        id="http://example.org/kb/trees",
        name="trees",
        description="Knows how tall trees are",
        client=client,
    )

    # --8<-- [start:answer]
    @kb.answer_ki("tree-heights", "?tree ex:height ?height .", prefixes=PREFIXES)
    async def tree_heights(
        trees: list[Tree],
        catalogue: Annotated[Catalogue, Depends(open_catalogue)],
        settings: Annotated[Settings, Depends(get_settings)],
        context: RequestContext,
    ) -> list[Tree]:
        print(f"{context.knowledge_interaction.name} asked by {context.requesting_kb_id}")
        answers = []
        for tree in trees:
            height = await catalogue.height_of(tree.tree) or settings.default_height
            answers.append(Tree(tree=tree.tree, height=height))
        return answers

    # --8<-- [end:answer]

    # --8<-- [start:react]
    @kb.react_ki("tree-planted", "?tree ex:plantedIn ?park .", prefixes=PREFIXES)
    def tree_planted(
        binding_set: list[dict[str, str]],
        journal: list[str] = Depends(open_journal),  # noqa: B008
    ) -> None:
        for binding in binding_set:
            journal.append(f"{binding['tree']} planted in {binding['park']}")

    # --8<-- [end:react]

    return kb


async def main() -> None:
    """Serve one ask and one post, then print what was answered."""
    client = TestClient()
    kb = build_kb(client)
    await kb.register()

    client.enqueue_handle_request(
        "tree-heights", [Tree(tree=f"<{EX}oak>"), Tree(tree=f"<{EX}elm>")]
    )
    client.enqueue_handle_request(
        "tree-planted", [{"tree": f"<{EX}elm>", "park": f"<{EX}vondelpark>"}]
    )
    client.enqueue_exit()
    # One handler at a time, so the printed lines come in a predictable order.
    await kb.start_handling_loop(max_concurrent_handlers=1)

    for response in client.handle_responses:
        print(f"request {response.handle_request_id} answered with {response.binding_set}")

    await kb.unregister()
    await kb.close()


if __name__ == "__main__":
    asyncio.run(main())
