"""Binding models: Python values in handlers, asks and posts, checked against their patterns."""

import asyncio
from datetime import date
from decimal import Decimal

from km_core import (
    IRI,
    BindingModel,
    GraphPatternError,
    KnowledgeBase,
    LangString,
)
from km_testing import TestClient

EX = {"ex": "http://example.org/"}
FACTS = "?tree ex:height ?height . ?tree ex:name ?name . ?tree ex:planted ?planted ."


# --8<-- [start:model]
class Tree(BindingModel):
    """A tree and what this KB knows of it; only the tree is needed to ask."""

    tree: IRI
    height: Decimal | None = None
    name: LangString | None = None
    planted: date | None = None


# --8<-- [end:model]


async def main() -> None:
    """Declare, serve one request, ask once, and show a declaration mistake."""
    client = TestClient()
    kb = KnowledgeBase(
        id="http://example.org/kb/trees", name="trees", description="Trees", client=client
    )

    # --8<-- [start:use]
    @kb.answer_ki("tree-facts", FACTS, prefixes=EX)
    async def facts(trees: list[Tree]) -> list[Tree]:
        return [
            Tree(
                tree=t.tree,
                height=Decimal("21.5"),
                name=LangString("Zomereik", "nl"),
                planted=date(1901, 4, 1),
            )
            for t in trees
        ]

    known = kb.ask_ki("known-trees", FACTS, prefixes=EX, binding_model=Tree)
    # --8<-- [end:use]

    # --8<-- [start:mistake]
    try:
        kb.ask_ki("typo", FACTS.replace("?height", "?hieght"), prefixes=EX, binding_model=Tree)
    except GraphPatternError as error:
        print("declaration refused:", error)
    # --8<-- [end:mistake]

    await kb.register()
    print("variables of known-trees:", sorted(known.variables))

    request = client.enqueue_handle_request("tree-facts", [{"tree": "<http://example.org/oak>"}])
    client.enqueue_exit()
    await kb.start_handling_loop()
    answer = await client.wait_for_handle_response(request)
    print("on the wire:", answer.binding_set)

    client.mock_result_binding_set(
        "known-trees", [{"tree": "<http://example.org/oak>", "height": "21.5"}]
    )
    [oak] = await kb.ask(known)
    print("asked:", repr(oak.tree), repr(oak.height))

    await kb.unregister()
    await kb.close()


if __name__ == "__main__":
    asyncio.run(main())
