"""Rolling restarts of a ``km run`` service: the newer instance of a KB id wins.

One ``km-testing serve`` subprocess; each instance of the answering KB is a ``km run``
subprocess of the same app, told apart by the INSTANCE environment variable, which its answers
carry. A new instance registers with "reregister" (it deletes the old registration), so the old
instance's open poll gets 410 (or its next poll 404, and its registration "already in use") and
it stops without deleting anything; then it is sent SIGTERM anyway, as a supervisor would.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest

from km_core import Backoff, ExchangeStatus, KnowledgeBase, KnowledgeBaseStoppedError
from km_httpx import ExitStatus, HttpxClient
from km_testing import create_app, serve_locally
from tests.testing.serving import (
    ObservedEngine,
    ProcessOutput,
    km_testing_serve,
    read_line_matching,
    start_logging_process,
)

APP_ID = "http://example.org/kb/rolling"
ASKER_ID = "http://example.org/kb/rolling-asker"
SERVICE = "<http://example.org/service>"
PATTERN = "?service <http://example.org/servedBy> ?instance ."
RESTARTS = 20

APP = f'''\
import os

from km_core import KnowledgeBase

INSTANCE = os.environ["INSTANCE"]

kb = KnowledgeBase(id="{APP_ID}", name="rolling", description="Says which instance answers")


@kb.answer_ki("instance", "{PATTERN}")
def instance(binding_set: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{{"service": "{SERVICE}", "instance": f'"{{INSTANCE}}"'}}]
'''

# What the old instance's log says when it stops, by the way it learnt of the new one.
GONE_410 = "the KE asked the loop to exit"
SUPERSEDED = "another instance registered this knowledge base id"


async def start_instance(app: Path, base_url: str, number: int) -> ProcessOutput:
    """Start instance ``number`` with ``km run``; it serves once its loop has started."""
    process = await start_logging_process(
        "-m",
        "km_httpx._cli",
        "run",
        f"{app}:kb",
        "--ke-url",
        base_url,
        "--connect-wait",
        "5",
        "--grace-period",
        "5",
        env={"INSTANCE": str(number)},
    )
    return ProcessOutput(process)


@pytest.mark.timeout(150)
async def test_twenty_rolling_restarts_leave_the_newest_instance_registered_and_answering(
    tmp_path: Path,
) -> None:
    app = tmp_path / "rolling_app.py"
    app.write_text(APP)
    instances: list[ProcessOutput] = []
    old_statuses: list[int] = []
    old_paths: list[str] = []
    async with km_testing_serve(tmp_path) as (base_url, _):
        asker = KnowledgeBase(
            id=ASKER_ID, name="asker", description="Asks who serves", client=HttpxClient(base_url)
        )
        ask = asker.ask_ki("instance", PATTERN)
        try:
            async with asker:
                current = await start_instance(app, base_url, 0)
                instances.append(current)
                await read_line_matching(current.lines, "handling loop started")
                for number in range(1, RESTARTS + 1):
                    old, current = current, await start_instance(app, base_url, number)
                    instances.append(current)
                    await read_line_matching(current.lines, "handling loop started")
                    await asyncio.sleep(1)  # the scenario: SIGTERM a second after it serves
                    status = await old.stop()
                    old_log = old.text
                    old_statuses.append(status)
                    old_paths.append(
                        "410" if GONE_410 in old_log else "404" if SUPERSEDED in old_log else "?"
                    )
                    assert status in (ExitStatus.OK, ExitStatus.STOPPED_BY_ENGINE), old_log
                    if status == ExitStatus.STOPPED_BY_ENGINE:
                        assert old_paths[-1] != "?", old_log
                    # The old instance never deleted the KB: it would have deleted the new one.
                    assert f"unregistered knowledge base {APP_ID}" not in old_log, old_log

                    listed = [kb.knowledge_base_id for kb in await asker.client.list_kbs()]
                    assert listed.count(APP_ID) == 1, (number, listed)
                    result = await asker.ask_with_info(ask)
                    assert result.binding_set == [
                        {"service": SERVICE, "instance": f'"{number}"'}
                    ], (number, current.text)
                    [info] = result.exchange_info
                    assert info.knowledge_base_id == APP_ID
                    assert info.status is ExchangeStatus.SUCCEEDED
                    assert current.process.returncode is None

                last_status = await current.stop(sig=signal.SIGTERM)
                assert last_status == ExitStatus.OK, current.text
                assert f"unregistered knowledge base {APP_ID}" in current.text
                listed = [kb.knowledge_base_id for kb in await asker.client.list_kbs()]
                assert APP_ID not in listed
        finally:
            for instance in instances:
                await instance.stop(sig=signal.SIGKILL, grace=5)
    print(f"old instances' exit statuses: {old_statuses}; how they learnt: {old_paths}")


# ---------------------------------------------------------------- a leased KB's race


class HoldSecondRegistration:
    """An ASGI gate that holds the newer instance's POST /sc after its DELETE until the older
    instance (woken by its poll's 410) has registered the id again: the window a real network
    leaves open by chance."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.deleted = False
        self.held = False
        self.old_registered = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"].rstrip("/")
        post_after_delete = method == "POST" and path == "/rest/sc" and self.deleted
        if post_after_delete and not self.held:
            self.held = True
            await asyncio.wait_for(self.old_registered.wait(), 10)
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, send)
        if method == "DELETE" and path == "/rest/sc":
            self.deleted = True
        elif post_after_delete:
            self.old_registered.set()


async def test_a_leased_old_instance_that_takes_the_id_back_loses_it_again() -> None:
    engine = ObservedEngine()
    gate = HoldSecondRegistration(create_app(engine))

    def instance(name: str, **options: Any) -> KnowledgeBase:
        kb = KnowledgeBase(
            id=APP_ID, name=name, description=name, poll_backoff=Backoff(0.05, 0.2), **options
        )

        @kb.answer_ki("heights", "?tree <http://example.org/height> ?height .")
        def heights(binding_set: list[dict[str, str]]) -> list[dict[str, str]]:
            return []

        return kb

    async with serve_locally(gate, host="127.0.0.1") as url:
        old = instance("old", lease_renewal_time=30, client=HttpxClient(url))
        await old.register()
        serving_old = asyncio.create_task(old.serve(handle_signals=False))
        await engine.wait_for_polls(opened=1)
        new = instance("new", client=HttpxClient(url))
        await new.register()  # deletes the old one; the old one takes the id back; again
        assert gate.old_registered.is_set()  # the race happened
        with pytest.raises(KnowledgeBaseStoppedError):
            await asyncio.wait_for(serving_old, 20)  # the old one stops, deleting nothing
        assert [(kb.knowledge_base_id, kb.knowledge_base_name) for kb in engine.list_kbs()] == [
            (APP_ID, "new")
        ]
        await new.unregister()
        await new.close()
