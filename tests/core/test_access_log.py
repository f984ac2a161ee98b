"""The access log: one INFO line per handled request on ``km_core.access``, with its facts."""

from __future__ import annotations

import asyncio
import logging

import pytest

from km_core import ACCESS_LOGGER_NAME, BindingSet, ErrorPolicy, KnowledgeBase
from km_testing import TestClient
from tests.support import EX, OAK

PATTERN = "?tree ex:height ?height ."
ASKER = "http://example.org/kb/asker"


def make_kb(client: TestClient, **options: object) -> KnowledgeBase:
    kb = KnowledgeBase(
        id="http://example.org/kb/logged",
        name="logged",
        description="",
        client=client,
        **options,  # type: ignore[arg-type]
    )

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        if binding_set and binding_set[0].get("tree") == "<http://example.org/broken>":
            raise KeyError("no such tree")
        if binding_set and binding_set[0].get("tree") == "<http://example.org/slow>":
            await asyncio.Event().wait()
        return [{"tree": OAK, "height": '"21"'}, {"tree": OAK, "height": '"22"'}]

    return kb


def access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == ACCESS_LOGGER_NAME]


async def serve(kb: KnowledgeBase, client: TestClient, *bindings: BindingSet) -> list[int]:
    await kb.register()
    ids = [
        client.enqueue_handle_request("heights", binding_set, requesting_kb_id=ASKER)
        for binding_set in bindings
    ]
    client.enqueue_exit()
    await kb.start_handling_loop()
    return ids


async def test_each_handled_request_is_one_info_line_with_its_facts(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER_NAME)
    kb = make_kb(client)
    (request,) = await serve(kb, client, [])
    (record,) = access_records(caplog)
    assert record.levelno == logging.INFO
    message = record.getMessage()
    assert message.startswith(
        f"http://example.org/kb/logged: 'heights' from {ASKER}, handle request {request}: "
        "answered 2 bindings in "
    )
    assert message.endswith(" ms")
    assert record.kb_id == "http://example.org/kb/logged"  # type: ignore[attr-defined]
    assert record.ki_name == "heights"  # type: ignore[attr-defined]
    assert record.requesting_kb_id == ASKER  # type: ignore[attr-defined]
    assert record.handle_request_id == request  # type: ignore[attr-defined]
    assert record.outcome == "answered 2 bindings"  # type: ignore[attr-defined]
    assert record.duration_ms >= 0  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("policy", "answered"),
    [
        (ErrorPolicy.EMPTY_BINDING_SET, "answered with an empty binding set"),
        (ErrorPolicy.ERROR_MESSAGE, "answered with an error message"),
    ],
)
async def test_failures_say_what_failed_and_how_it_was_answered(
    client: TestClient,
    caplog: pytest.LogCaptureFixture,
    policy: ErrorPolicy,
    answered: str,
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER_NAME)
    kb = make_kb(client, error_policy=policy, handler_timeout=0.05)
    await serve(
        kb,
        client,
        [{"tree": "<http://example.org/broken>"}],
        [{"tree": "<http://example.org/slow>"}],
    )
    outcomes = sorted(r.outcome for r in access_records(caplog))  # type: ignore[attr-defined]
    assert outcomes == [
        f"handler failed (KeyError); {answered}",
        f"handler timed out after 0.05 s; {answered}",
    ]


async def test_a_response_that_could_not_be_posted_says_so(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER_NAME)
    kb = make_kb(client, response_retry_period=0)
    client.fail_next("post_handle_response")
    await serve(kb, client, [])
    (record,) = access_records(caplog)
    assert record.outcome == (  # type: ignore[attr-defined]
        "answered 2 bindings; the response could not be posted"
    )


async def test_an_unknown_interaction_is_logged_as_such(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER_NAME)
    kb = make_kb(client)
    await kb.register()
    request = client.enqueue_handle_request("no-such-ki", [], requesting_kb_id=ASKER)
    client.enqueue_exit()
    await kb.start_handling_loop()
    (record,) = access_records(caplog)
    assert "an unknown interaction" in record.getMessage()
    assert record.handle_request_id == request  # type: ignore[attr-defined]
    assert record.outcome == (  # type: ignore[attr-defined]
        "no such interaction; answered with an empty binding set"
    )


async def test_a_disabled_access_log_logs_nothing(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    access = logging.getLogger(ACCESS_LOGGER_NAME)
    access.disabled = True
    try:
        await serve(make_kb(client), client, [], [])
    finally:
        access.disabled = False
    assert access_records(caplog) == []
    assert len(client.handle_responses) == 2
