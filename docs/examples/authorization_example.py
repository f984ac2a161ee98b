"""Who may use which interaction: permitted lists, a policy, an audit hook, and kb.call."""

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Annotated, Any

from km_core import (
    AccessDecision,
    AccessDeniedError,
    AccessRequest,
    BindingSet,
    ClientProtocol,
    Depends,
    ErrorPolicy,
    KnowledgeBase,
)
from km_testing import TestClient

EX = "http://example.org/"
PREFIXES = {"ex": EX}
OAK = f"<{EX}oak>"
HEIGHT = '"21"^^<http://www.w3.org/2001/XMLSchema#integer>'
FORESTER = "http://example.org/kb/forester"
MUNICIPALITY = "http://example.org/kb/municipality"
STRANGER = "http://example.org/kb/stranger"


# --8<-- [start:policy]
Grants = dict[str, frozenset[str]]
"""Interaction name -> the knowledge bases granted its use today."""

GRANTS_TABLE: Grants = {"tree-owners": frozenset({FORESTER})}
"""Stands in for a table in the KB's database, which its operators change while it runs."""


def load_grants() -> Grants:
    """A sync factory: it runs in a worker thread, so it may query a database."""
    return dict(GRANTS_TABLE)


def may_use(request: AccessRequest, grants: Annotated[Grants, Depends(load_grants)]) -> bool:
    """The policy: interactions the table names are narrowed to their grants."""
    granted = grants.get(request.knowledge_interaction.name)
    return granted is None or request.requesting_kb_id in granted


# --8<-- [end:policy]


# --8<-- [start:async-policy]
async def fetch_grants() -> Grants:
    """An async factory: it is awaited on the event loop, as a call to a service would be."""
    await asyncio.sleep(0.01)
    return dict(GRANTS_TABLE)


async def may_use_async(
    request: AccessRequest, grants: Annotated[Grants, Depends(fetch_grants)]
) -> bool:
    """The same policy, async: it runs on the event loop, so it must not block."""
    granted = grants.get(request.knowledge_interaction.name)
    return granted is None or request.requesting_kb_id in granted


# --8<-- [end:async-policy]


# --8<-- [start:audit]
class AccessTable:
    """The audit hook: one row per decision, allowed or denied, in an sqlite table."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        db.execute(
            "CREATE TABLE access_log (requester TEXT, interaction TEXT, "
            "handle_request_id INTEGER, allowed INTEGER, reason TEXT)"
        )

    def record(self, decision: AccessDecision) -> None:
        """A sync hook runs on the event loop: an insert into a local database is quick."""
        request = decision.request
        self.db.execute(
            "INSERT INTO access_log VALUES (?, ?, ?, ?, ?)",
            (
                request.requesting_kb_id,
                request.knowledge_interaction.name,
                request.handle_request_id,
                decision.allowed,
                decision.reason,
            ),
        )
        self.db.commit()


# --8<-- [end:audit]


# --8<-- [start:kb]
def build_kb(
    client: ClientProtocol,
    *,
    authorize: Callable[..., Any] = may_use,
    audit: Callable[[AccessDecision], None] | None = None,
) -> KnowledgeBase:
    """The trees KB: three interactions, each with its own rule."""
    kb = KnowledgeBase(
        id="http://example.org/kb/trees",
        name="trees",
        description="Knows how tall trees are, and whose they are",
        client=client,
        permitted=[FORESTER, MUNICIPALITY],  # for every interaction that does not say
        authorize=authorize,  # then the policy decides
        audit=audit,  # and hears every decision
        error_policy=ErrorPolicy.ERROR_MESSAGE,  # a denied requester is told so
    )

    @kb.answer_ki("tree-heights", "?tree ex:height ?height .", prefixes=PREFIXES, permitted="*")
    def tree_heights(binding_set: BindingSet) -> BindingSet:
        return [{"tree": OAK, "height": HEIGHT}]

    @kb.answer_ki("tree-owners", "?tree ex:ownedBy ?owner .", prefixes=PREFIXES)
    def tree_owners(binding_set: BindingSet) -> BindingSet:
        return [{"tree": OAK, "owner": f"<{EX}city>"}]

    @kb.react_ki("tree-felled", "?tree ex:felledOn ?date .", prefixes=PREFIXES, permitted=[])
    def tree_felled(binding_set: BindingSet) -> None:
        print("never printed: nobody may post to tree-felled")

    return kb


# --8<-- [end:kb]


# --8<-- [start:call]
async def check_the_rules() -> None:
    """Test the rules without the loop: kb.call decides as the loop does, and raises."""
    kb = build_kb(TestClient(), authorize=may_use_async)
    owners = [{"tree": OAK}]
    assert await kb.call("tree-owners", owners, requesting_kb_id=FORESTER) != []
    try:
        await kb.call("tree-owners", owners, requesting_kb_id=MUNICIPALITY)
    except AccessDeniedError as error:
        print(f"kb.call raised {type(error).__name__}: {error}")
    else:
        raise AssertionError("the municipality has no grant for tree-owners")


# --8<-- [end:call]


async def main() -> None:
    """Serve requests from three knowledge bases, then print the answers and the audit table."""
    db = sqlite3.connect(":memory:")
    client = TestClient()
    kb = build_kb(client, audit=AccessTable(db).record)
    await kb.register()
    client.enqueue_handle_request("tree-heights", [{"tree": OAK}], requesting_kb_id=STRANGER)
    client.enqueue_handle_request("tree-owners", [{"tree": OAK}], requesting_kb_id=FORESTER)
    client.enqueue_handle_request("tree-owners", [{"tree": OAK}], requesting_kb_id=MUNICIPALITY)
    client.enqueue_handle_request("tree-owners", [{"tree": OAK}], requesting_kb_id=STRANGER)
    client.enqueue_handle_request("tree-felled", [{"tree": OAK}], requesting_kb_id=MUNICIPALITY)
    client.enqueue_exit()
    await kb.start_handling_loop(max_concurrent_handlers=1)
    await kb.unregister()
    await kb.close()

    for response in client.handle_responses:
        answer = response.error_message or response.binding_set
        print(f"request {response.handle_request_id}: {answer}")
    for row in db.execute("SELECT * FROM access_log"):
        print(row)
    await check_the_rules()


if __name__ == "__main__":
    asyncio.run(main())
