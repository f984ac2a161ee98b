"""Tests of a knowledge base with pytest, pytest-asyncio and the TestClient.

pytest runs the tests with the fixtures below. Run as a script, the file runs the two tests
that need only a knowledge base and its client.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Annotated

import pytest
import pytest_asyncio

from km_core import BindingSet, ClientProtocol, Depends, KnowledgeBase
from km_testing import TestClient

EX = "http://example.org/"
OAK = f"<{EX}oak>"
ELM = f"<{EX}elm>"
OAK_HEIGHT = '"21"^^<http://www.w3.org/2001/XMLSchema#integer>'


def get_heights() -> dict[str, str]:
    """The production data source."""
    return {OAK: OAK_HEIGHT}


def build_kb(client: ClientProtocol) -> KnowledgeBase:
    """The knowledge base under test; in a project it lives in the application's package."""
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
        return [{"tree": b["tree"], "height": heights[b["tree"]]} for b in binding_set]

    return kb


# --8<-- [start:fixtures]
@pytest.fixture
def client() -> TestClient:
    """A new TestClient for every test, so no queue or record outlives its test."""
    return TestClient()


@pytest_asyncio.fixture
async def kb(client: TestClient) -> AsyncIterator[KnowledgeBase]:
    """The registered knowledge base; unregistered and closed after the test."""
    kb = build_kb(client)
    await kb.register()
    yield kb
    kb.dependency_overrides.clear()
    await kb.unregister()
    await kb.close()


# --8<-- [end:fixtures]


# --8<-- [start:through-the-loop]
@pytest.mark.asyncio
async def test_answers_through_the_loop(kb: KnowledgeBase, client: TestClient) -> None:
    """The handling loop serves an enqueued request and posts the answer."""
    request_id = client.enqueue_handle_request("tree-heights", [{"tree": OAK}])
    client.enqueue_exit()

    async with asyncio.timeout(5):
        await kb.start_handling_loop()

    response = client.last_handle_response
    assert response is not None
    assert response.handle_request_id == request_id
    assert response.binding_set == [{"tree": OAK, "height": OAK_HEIGHT}]


# --8<-- [end:through-the-loop]


# --8<-- [start:logged-failure]
@pytest.mark.asyncio
async def test_a_failing_handler_is_answered_empty_and_logged(
    kb: KnowledgeBase, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A handler that raises is logged with the request's context and answered empty."""
    request_id = client.enqueue_handle_request("tree-heights", [{"tree": ELM}])
    client.enqueue_exit()

    with caplog.at_level(logging.ERROR, logger="km_core"):
        await kb.start_handling_loop()

    assert client.handle_responses[0].binding_set == []
    assert f"failed on handle request {request_id}" in caplog.text


# --8<-- [end:logged-failure]


# --8<-- [start:inline]
@pytest.mark.asyncio
async def test_handler_inline_with_an_override(kb: KnowledgeBase, client: TestClient) -> None:
    """``kb.call`` runs the handler directly, with the overridden dependency."""
    kb.dependency_overrides[get_heights] = lambda: {ELM: '"12"'}

    assert await kb.call("tree-heights", [{"tree": ELM}]) == [{"tree": ELM, "height": '"12"'}]
    assert client.handle_responses == []  # nothing went through the loop or the client


# --8<-- [end:inline]


async def main() -> None:
    """Run the tests that need only ``kb`` and ``client``, with what the fixtures provide."""
    for test in (test_answers_through_the_loop, test_handler_inline_with_an_override):
        client = TestClient()
        kb = build_kb(client)
        await kb.register()
        try:
            await test(kb, client)
        finally:
            await kb.unregister()
            await kb.close()
        print(f"{test.__name__} passed")


if __name__ == "__main__":
    asyncio.run(main())
