"""A first knowledge base: one ANSWER interaction, served by the handling loop.

The in-memory TestClient stands in for the Knowledge Engine, so this runs anywhere.
"""

import asyncio

from km_core import BindingSet, ClientProtocol, KnowledgeBase
from km_testing import TestClient

EX = "http://example.org/"
XSD_INTEGER = "<http://www.w3.org/2001/XMLSchema#integer>"

HEIGHTS = {
    f"<{EX}oak>": f'"21"^^{XSD_INTEGER}',
    f"<{EX}beech>": f'"30"^^{XSD_INTEGER}',
}


def build_kb(client: ClientProtocol) -> KnowledgeBase:
    """Declare the knowledge base and the interaction it answers."""
    kb = KnowledgeBase(
        id="http://example.org/kb/trees",
        name="trees",
        description="Knows how tall trees are",
        client=client,
    )

    @kb.answer_ki("tree-heights", "?tree ex:height ?height .", prefixes={"ex": EX})
    async def tree_heights(binding_set: BindingSet) -> BindingSet:
        # An empty incoming binding set asks for every tree; otherwise for the trees named.
        wanted = {binding["tree"] for binding in binding_set if "tree" in binding}
        return [
            {"tree": tree, "height": height}
            for tree, height in HEIGHTS.items()
            if not wanted or tree in wanted
        ]

    return kb


async def main() -> None:
    """Register, serve two requests, and print the answers."""
    client = TestClient()
    kb = build_kb(client)
    await kb.connect()
    await kb.register()

    # Two requests as the Knowledge Engine would deliver them, then the signal to stop.
    client.enqueue_handle_request("tree-heights", [])
    client.enqueue_handle_request("tree-heights", [{"tree": f"<{EX}oak>"}])
    client.enqueue_exit()

    await kb.start_handling_loop(max_concurrent_handlers=10)

    for response in sorted(client.handle_responses, key=lambda r: r.handle_request_id):
        print(f"request {response.handle_request_id}: {response.binding_set}")

    await kb.unregister()
    await kb.close()


if __name__ == "__main__":
    asyncio.run(main())
