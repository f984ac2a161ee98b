"""Drive a knowledge base's real handling loop with the TestClient, without a Knowledge Engine."""

import asyncio
import logging
from typing import Annotated

from km_core import (
    BindingSet,
    ClientProtocol,
    Depends,
    KnowledgeBase,
    PollConflictError,
    PollResult,
    SmartConnectorNotFoundError,
)
from km_testing import TestClient

EX = "http://example.org/"
OAK = f"<{EX}oak>"
ELM = f"<{EX}elm>"


def get_heights() -> dict[str, str]:
    """The production data source; a test replaces it through ``dependency_overrides``."""
    return {OAK: '"21"^^<http://www.w3.org/2001/XMLSchema#integer>'}


def build_kb(client: ClientProtocol) -> KnowledgeBase:
    """The knowledge base under test."""
    kb = KnowledgeBase(
        id="http://example.org/kb/trees",
        name="trees",
        description="Knows how tall trees are",
        client=client,
    )

    @kb.answer_ki("tree-heights", "?tree ex:height ?height .", prefixes={"ex": EX})
    async def tree_heights(
        binding_set: BindingSet, heights: Annotated[dict[str, str], Depends(get_heights)]
    ) -> BindingSet:
        # An unknown tree raises KeyError: the loop logs it and answers with an empty set.
        return [{"tree": b["tree"], "height": heights[b["tree"]]} for b in binding_set]

    return kb


class LogRecords(logging.Handler):
    """Keeps the messages of the records it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record's message."""
        self.messages.append(record.getMessage())


# --8<-- [start:loop-in-task]
async def serve_while_the_test_waits(client: TestClient, kb: KnowledgeBase) -> None:
    """Run the loop in a task and wait for one answer at a time."""
    loop = asyncio.create_task(kb.start_handling_loop())

    request_id = client.enqueue_handle_request("tree-heights", [{"tree": OAK}])
    async with asyncio.timeout(5):  # a hung handler fails the test instead of hanging it
        response = await client.wait_for_handle_response(request_id)
    assert response.binding_set == [{"tree": OAK, "height": get_heights()[OAK]}]

    request_id = client.enqueue_handle_request("tree-heights", [{"tree": ELM}])
    async with asyncio.timeout(5):
        response = await client.wait_for_handle_response(request_id)
    assert response.binding_set == []  # the handler raised KeyError

    client.enqueue_exit()
    await loop  # returns once every accepted request is answered
    print(f"served {len(client.handle_responses)} requests while the test waited")


# --8<-- [end:loop-in-task]


# --8<-- [start:faults]
async def lose_a_response(client: TestClient, kb: KnowledgeBase) -> None:
    """Make one response post fail; the loop logs it and goes on with the next request."""
    answered_before = len(client.handle_responses)
    # A failure the loop cannot retry (the KE no longer knows the request): it is dropped.
    client.fail_next("post_handle_response", SmartConnectorNotFoundError("gone"))
    lost = client.enqueue_handle_request("tree-heights", [{"tree": OAK}])
    kept = client.enqueue_handle_request("tree-heights", [{"tree": OAK}])
    client.enqueue_repoll()  # the KE's heartbeat: counts as a poll, starts no handler

    await kb.start_handling_loop(loops=3)  # three polls, then drain and return

    answered = [r.handle_request_id for r in client.handle_responses[answered_before:]]
    assert answered == [kept], answered
    assert client.last_handle_response is not None
    assert client.last_handle_response.handle_request_id == kept
    print(f"request {lost} lost its response, request {kept} was answered")


# --8<-- [end:faults]


# --8<-- [start:poll-conflict]
async def second_poll(client: TestClient, kb: KnowledgeBase) -> None:
    """Like the KE, the TestClient refuses a second open poll for the KB with a 409."""
    first = asyncio.create_task(client.poll_ki_call(kb.id))
    await asyncio.sleep(0)  # one turn: the first poll is now waiting on the queue
    try:
        await client.poll_ki_call(kb.id)
    except PollConflictError as exc:
        print(f"the second poll got PollConflictError (status {exc.status_code})")
    client.enqueue_exit()  # answer the first poll
    assert await first == (PollResult.EXIT, None)


# --8<-- [end:poll-conflict]


# --8<-- [start:overrides]
async def call_with_an_override(kb: KnowledgeBase) -> None:
    """Replace a dependency and run the handler inline, without the loop."""
    kb.dependency_overrides[get_heights] = lambda: {ELM: '"12"'}
    try:
        answer = await kb.call("tree-heights", [{"tree": ELM}])
    finally:
        kb.dependency_overrides.clear()
    assert answer == [{"tree": ELM, "height": '"12"'}]
    print(f"kb.call with an override answered {answer}")


# --8<-- [end:overrides]


async def main() -> None:
    """Run each technique against one registered knowledge base."""
    records = LogRecords()
    logging.getLogger("km_core").addHandler(records)

    client = TestClient()
    kb = build_kb(client)
    await kb.register()

    await serve_while_the_test_waits(client, kb)
    await lose_a_response(client, kb)
    await second_poll(client, kb)
    await call_with_an_override(kb)

    failures = [m for m in records.messages if "failed" in m or "could not" in m]
    print(f"{len(failures)} failures were logged, for example: {failures[0]}")

    await kb.unregister()
    await kb.close()


if __name__ == "__main__":
    asyncio.run(main())
