"""Handlers that ask and post themselves: async with ``await``, sync through the bridges."""

import asyncio

from km_core import BindingSet, ClientProtocol, KnowledgeBase, RequestContext
from km_testing import TestClient

EX = "http://example.org/"
PREFIXES = {"ex": EX}


def build_kb(client: ClientProtocol) -> KnowledgeBase:
    """Declare one ASK, one POST, and the ANSWER and REACT handlers that use them."""
    kb = KnowledgeBase(
        id="http://example.org/kb/parks",
        name="parks",
        description="Knows which trees grow in which park",
        client=client,
    )

    # --8<-- [start:declarations]
    locations = kb.ask_ki("tree-locations", "?tree ex:growsIn ?park .", prefixes=PREFIXES)
    felling_reports = kb.post_ki(
        "report-felling",
        "?tree ex:felledIn ?park .",
        "?report ex:about ?tree .",
        prefixes=PREFIXES,
    )
    # --8<-- [end:declarations]

    # --8<-- [start:async-handler]
    @kb.answer_ki("park-trees", "?park ex:hasTree ?tree .", prefixes=PREFIXES)
    async def park_trees(binding_set: BindingSet, context: RequestContext) -> BindingSet:
        parks = [{"park": binding["park"]} for binding in binding_set if "park" in binding]
        answers = await context.knowledge_base.ask(locations, parks)
        return [{"park": answer["park"], "tree": answer["tree"]} for answer in answers]

    # --8<-- [end:async-handler]

    # --8<-- [start:sync-handler]
    @kb.react_ki("storm-damage", "?tree ex:damagedIn ?park .", prefixes=PREFIXES)
    def storm_damage(binding_set: BindingSet) -> None:
        # A sync handler runs in a worker thread, so it may block on the sync bridge.
        reports = kb.post_sync(felling_reports, binding_set, timeout=10)
        print(f"felling reports filed: {[report['report'] for report in reports]}")

    # --8<-- [end:sync-handler]

    return kb


async def main() -> None:
    """Serve one ask and one post whose handlers call out, with scripted answers."""
    client = TestClient()
    kb = build_kb(client)
    await kb.register()

    oak, park = f"<{EX}oak>", f"<{EX}vondelpark>"
    client.mock_result_binding_set("tree-locations", [{"tree": oak, "park": park}])
    client.mock_result_binding_set("report-felling", [{"report": f"<{EX}report/1>", "tree": oak}])

    client.enqueue_handle_request("park-trees", [{"park": park}])
    client.enqueue_handle_request("storm-damage", [{"tree": oak, "park": park}])
    client.enqueue_exit()
    await kb.start_handling_loop()

    for call in client.outgoing_calls:
        print(f"outgoing {call.kind} through {call.knowledge_interaction_name}: {call.binding_set}")
    for response in sorted(client.handle_responses, key=lambda r: r.handle_request_id):
        print(f"request {response.handle_request_id} answered with {response.binding_set}")

    # Outside the handling loop the sync bridge has no loop to hand the call to.
    try:
        kb.ask_sync("tree-locations")
    except RuntimeError as exc:
        print(f"ask_sync outside the loop: RuntimeError: {exc}")

    await kb.unregister()
    await kb.close()


if __name__ == "__main__":
    asyncio.run(main())
