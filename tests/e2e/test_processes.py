"""Knowledge bases in separate processes exchange knowledge through one ``km-testing serve``.

The answering KBs run a small script (written to tmp_path) on km-core and km-httpx; this test
process is the asker. Everything binds to 127.0.0.1, and every subprocess is stopped (killed if
need be) when its test ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from km_core import ExchangeStatus, KnowledgeBase
from km_httpx import HttpxClient
from tests.testing.serving import (
    km_testing_serve,
    read_line_matching,
    signal_process,
    start_process,
    stop_process,
)

KB_WAIT_TIMEOUT = 1.5
TREES = "http://example.org/kb/trees"
MORE_TREES = "http://example.org/kb/more-trees"
FORESTER = "http://example.org/kb/forester"
OAK = "<http://example.org/oak>"
BEECH = "<http://example.org/beech>"
ELM = "<http://example.org/elm>"
PARK = "<http://example.org/park>"
XSD = "http://www.w3.org/2001/XMLSchema#"

ANSWERING_KB = '''\
"""An answering knowledge base in a process of its own: python answering_kb.py URL KB_ID ROLE.

It serves until its KB is deleted (the loop's poll gets 410) or it receives SIGTERM (then it
unregisters). ROLE "full" answers heights, reacts to plantings, has a failing handler, a slow one
and a REACT that releases the slow one; ROLE "small" only answers heights.
"""

import asyncio
import signal
import sys

from km_core import KnowledgeBase, RequestContext
from km_httpx import HttpxClient

HEIGHTS = {
    "full": {"<http://example.org/oak>": "21.5", "<http://example.org/beech>": "30"},
    "small": {"<http://example.org/elm>": "17"},
}


async def main(base_url: str, kb_id: str, role: str) -> None:
    client = HttpxClient(base_url)
    kb = KnowledgeBase(id=kb_id, name=role, description=f"answers as {role}", client=client)
    heights = HEIGHTS[role]
    released = asyncio.Event()

    @kb.answer_ki("heights", "?tree <http://example.org/height> ?height .")
    def answer_heights(binding_set: list[dict[str, str]]) -> list[dict[str, str]]:
        wanted = {b["tree"] for b in binding_set if "tree" in b}
        return [
            {"tree": tree, "height": height}
            for tree, height in heights.items()
            if not wanted or tree in wanted
        ]

    if role == "full":

        @kb.react_ki(
            "planted",
            "?tree <http://example.org/plantedIn> ?park .",
            "?tree <http://example.org/label> ?tag .",
        )
        def planted(
            binding_set: list[dict[str, str]], context: RequestContext
        ) -> list[dict[str, str]]:
            return [
                {
                    "tree": b["tree"],
                    "tag": f'"planted in {b["park"][1:-1]} as {context.requesting_kb_id} said"',
                }
                for b in binding_set
            ]

        @kb.answer_ki("diseases", "?tree <http://example.org/disease> ?disease .")
        def diseases(binding_set: list[dict[str, str]]) -> list[dict[str, str]]:
            raise RuntimeError("the disease database is down")

        @kb.answer_ki("ages", "?tree <http://example.org/age> ?age .")
        async def ages(binding_set: list[dict[str, str]]) -> list[dict[str, str]]:
            print("slow handler started", flush=True)
            await released.wait()
            print("slow handler released", flush=True)
            return [{"tree": "<http://example.org/oak>", "age": "120"}]

        @kb.react_ki("release", "?x <http://example.org/releases> ?y .")
        async def release(binding_set: list[dict[str, str]]) -> None:
            released.set()

    await kb.connect()
    await kb.register()
    serving = asyncio.create_task(kb.start_handling_loop())

    def stop() -> None:
        released.set()
        serving.cancel()

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop)
    print("ready", flush=True)
    try:
        await serving
        print("handling loop ended: the KB was deleted", flush=True)
    except asyncio.CancelledError:
        await kb.unregister()
        print("unregistered on SIGTERM", flush=True)
    finally:
        await client.close()


asyncio.run(main(*sys.argv[1:]))
'''


@pytest.fixture
async def base_url(tmp_path: Path) -> AsyncIterator[str]:
    """A ``km-testing serve`` subprocess with a short wait timeout."""
    async with km_testing_serve(
        tmp_path, "--kb-wait-timeout", str(KB_WAIT_TIMEOUT), "--heartbeat", "10"
    ) as (url, _):
        yield url


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "answering_kb.py"
    path.write_text(ANSWERING_KB)
    return path


@contextlib.asynccontextmanager
async def answering_kb(
    script: Path, base_url: str, kb_id: str, role: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run the answering KB script until the block ends; it is registered when this yields."""
    stderr = script.with_name(f"{role}.stderr")
    process = await start_process(str(script), base_url, kb_id, role, stderr_path=stderr)
    try:
        assert process.stdout is not None
        try:
            await read_line_matching(process.stdout, r"^ready$")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nstderr of {role}:\n{stderr.read_text()}") from None
        yield process
    finally:
        await stop_process(process)


@pytest.fixture
async def forester(base_url: str) -> AsyncIterator[KnowledgeBase]:
    """The asking KB, in this process."""
    kb = KnowledgeBase(
        id=FORESTER,
        name="forester",
        description="Asks and posts about trees",
        client=HttpxClient(base_url),
    )
    kb.ask_ki("heights", "?t <http://example.org/height> ?h .")
    kb.ask_ki("diseases", "?t <http://example.org/disease> ?d .")
    kb.ask_ki("ages", "?t <http://example.org/age> ?a .")
    kb.post_ki(
        "plant", "?t <http://example.org/plantedIn> ?p .", "?t <http://example.org/label> ?l ."
    )
    kb.post_ki("release", "?x <http://example.org/releases> ?y .")
    await kb.connect()
    await kb.register()
    try:
        yield kb
    finally:
        with contextlib.suppress(Exception):
            await kb.unregister()
        await kb.close()


def decimal(value: str) -> str:
    return f'"{value}"^^<{XSD}decimal>'


def integer(value: str) -> str:
    return f'"{value}"^^<{XSD}integer>'


async def test_asks_and_posts_go_round_trip_between_processes(
    script: Path, base_url: str, forester: KnowledgeBase
) -> None:
    async with (
        answering_kb(script, base_url, TREES, "full") as trees,
        answering_kb(script, base_url, MORE_TREES, "small") as more_trees,
    ):
        everything = await forester.ask_with_info("heights")
        assert sorted(everything.binding_set, key=lambda b: b["t"]) == [
            {"t": BEECH, "h": integer("30")},
            {"t": ELM, "h": integer("17")},
            {"t": OAK, "h": decimal("21.5")},
        ]
        assert {info.knowledge_base_id for info in everything.exchange_info} == {
            TREES,
            MORE_TREES,
        }
        assert {info.status for info in everything.exchange_info} == {ExchangeStatus.SUCCEEDED}

        assert await forester.ask("heights", [{"t": OAK}]) == [{"t": OAK, "h": decimal("21.5")}]
        only_more = await forester.ask("heights", recipients=[MORE_TREES])
        assert only_more == [{"t": ELM, "h": integer("17")}]

        planted = await forester.post_with_info("plant", [{"t": ELM, "p": PARK}])
        assert planted.result_binding_set == [
            {"t": ELM, "l": f'"planted in {PARK[1:-1]} as {FORESTER} said"'}
        ]
        [reaction] = planted.exchange_info
        assert reaction.knowledge_base_id == TREES
        assert reaction.status is ExchangeStatus.SUCCEEDED
        assert reaction.argument_binding_set == [{"tree": ELM, "park": PARK}]

        # A KB that stops on SIGTERM unregisters: the others no longer see it.
        signal_process(more_trees, signal.SIGTERM)
        assert more_trees.stdout is not None
        await read_line_matching(more_trees.stdout, r"^unregistered on SIGTERM$")
        assert await asyncio.wait_for(more_trees.wait(), 10) == 0
        assert await forester.client.get_kb(MORE_TREES) is None
        remaining = await forester.ask_with_info("heights")
        assert {info.knowledge_base_id for info in remaining.exchange_info} == {TREES}
        assert trees.returncode is None


async def test_a_failing_handler_gives_an_empty_answer(
    script: Path, base_url: str, forester: KnowledgeBase
) -> None:
    async with answering_kb(script, base_url, TREES, "full"):
        result = await forester.ask_with_info("diseases", [{"t": OAK}])
        assert result.binding_set == []
        [info] = result.exchange_info
        assert info.status is ExchangeStatus.SUCCEEDED
        assert info.binding_set == []
        # The answering KB serves on.
        assert await forester.ask("heights", [{"t": BEECH}]) == [{"t": BEECH, "h": integer("30")}]


async def test_a_slow_handler_makes_its_exchange_fail_but_the_ask_answers_200(
    script: Path, base_url: str, forester: KnowledgeBase
) -> None:
    async with answering_kb(script, base_url, TREES, "full") as trees:
        loop = asyncio.get_running_loop()
        started = loop.time()
        result = await forester.ask_with_info("ages")  # an HTTP error would raise here
        waited = loop.time() - started
        assert result.binding_set == []
        [info] = result.exchange_info
        assert info.status is ExchangeStatus.FAILED
        assert info.failed_message is not None
        assert info.failed_message.startswith(
            "Error 'TimeoutException' occurred while waiting for response to message: "
        )
        assert KB_WAIT_TIMEOUT <= waited < KB_WAIT_TIMEOUT + 10
        assert trees.stdout is not None
        await read_line_matching(trees.stdout, r"^slow handler started$")
        # Release the slow handler; its late answer is taken and ignored.
        await forester.post("release", [{"x": OAK, "y": OAK}])
        await read_line_matching(trees.stdout, r"^slow handler released$")
        assert await forester.ask("heights", [{"t": OAK}]) == [{"t": OAK, "h": decimal("21.5")}]


async def test_deleting_a_polling_kb_ends_its_handling_loop(
    script: Path, base_url: str, forester: KnowledgeBase
) -> None:
    async with answering_kb(script, base_url, TREES, "full") as trees:
        # A round trip first: the KB's loop then has its next poll open at the server.
        assert await forester.ask("heights", [{"t": OAK}]) == [{"t": OAK, "h": decimal("21.5")}]
        await forester.client.unregister_kb(TREES)
        assert trees.stdout is not None
        await read_line_matching(trees.stdout, r"^handling loop ended: the KB was deleted$")
        assert await asyncio.wait_for(trees.wait(), 10) == 0
        assert await forester.client.get_kb(TREES) is None
