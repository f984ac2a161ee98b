"""Authorization: who may use an ANSWER or REACT interaction, through the public API.

Deny unless permitted: the interaction's ``permitted`` list (or the KB's) first, then the KB's
policy. A denied request never reaches its handler; it is answered per the error policy, logged
on the access log, and passed to the audit hook.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Annotated, Any

import pytest

from km_core import (
    ACCESS_LOGGER_NAME,
    AccessDecision,
    AccessDeniedError,
    AccessRequest,
    BindingSet,
    ConfigurationError,
    Depends,
    ErrorPolicy,
    HandlerDeclarationError,
    KnowledgeBase,
    RequestContext,
)
from km_testing import TestClient
from tests.support import EX, KB_ID, OAK

PATTERN = "?tree ex:height ?height ."
ALICE = "http://example.org/kb/alice"
BOB = "http://example.org/kb/bob"
EVE = "http://example.org/kb/eve"
ANSWER = [{"tree": OAK, "height": '"21"'}]
NOT_PERMITTED = "knowledge base {who} is not permitted to use knowledge interaction 'heights'"


class Served:
    """A KB with one ANSWER interaction, 'heights', that counts its handler's calls."""

    def __init__(self, client: TestClient, *, ki_permitted: Any = None, **options: Any) -> None:
        self.client = client
        self.calls: list[str | None] = []
        self.kb = KnowledgeBase(id=KB_ID, name="guarded", description="", client=client, **options)

        @self.kb.answer_ki("heights", PATTERN, prefixes=EX, permitted=ki_permitted)
        async def heights(binding_set: BindingSet, context: RequestContext) -> BindingSet:
            self.calls.append(context.requesting_kb_id)
            return ANSWER

    async def serve(self, *requesters: str) -> dict[str, Any]:
        """Serve one request from each requester; each one's recorded response, by requester."""
        await self.kb.register()
        ids = {
            self.client.enqueue_handle_request("heights", [], requesting_kb_id=who): who
            for who in requesters
        }
        self.client.enqueue_exit()
        await asyncio.wait_for(self.kb.start_handling_loop(), timeout=10)
        return {ids[r.handle_request_id]: r for r in self.client.handle_responses}


def access_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == ACCESS_LOGGER_NAME]


# ---------------------------------------------------------------- permitted lists


async def test_a_listed_requester_is_served_and_others_are_denied_without_the_handler(
    client: TestClient,
) -> None:
    served = Served(client, ki_permitted=[ALICE, BOB])
    responses = await served.serve(ALICE, EVE, BOB)
    assert sorted(served.calls, key=str) == [ALICE, BOB]  # never for EVE
    assert responses[ALICE].binding_set == ANSWER
    assert responses[BOB].binding_set == ANSWER
    assert responses[EVE].binding_set == []  # the default error policy: "no data"
    assert responses[EVE].error_message is None


async def test_everybody_by_default(client: TestClient) -> None:
    served = Served(client)
    responses = await served.serve(ALICE, EVE)
    assert sorted(served.calls, key=str) == [ALICE, EVE]
    assert all(r.binding_set == ANSWER for r in responses.values())


async def test_the_kbs_default_applies_to_interactions_that_do_not_say(
    client: TestClient,
) -> None:
    served = Served(client, permitted={BOB})
    responses = await served.serve(ALICE, BOB)
    assert served.calls == [BOB]
    assert responses[ALICE].binding_set == []


async def test_star_on_the_interaction_overrides_a_restrictive_kb_default(
    client: TestClient,
) -> None:
    served = Served(client, permitted=[], ki_permitted="*")
    responses = await served.serve(ALICE, EVE)
    assert sorted(served.calls, key=str) == [ALICE, EVE]
    assert responses[EVE].binding_set == ANSWER


async def test_an_empty_list_permits_nobody(client: TestClient) -> None:
    served = Served(client, ki_permitted=[])
    responses = await served.serve(ALICE)
    assert served.calls == []
    assert responses[ALICE].binding_set == []


async def test_a_denial_with_the_error_message_policy_says_who_and_what_and_no_more(
    client: TestClient,
) -> None:
    served = Served(client, ki_permitted=[ALICE], error_policy=ErrorPolicy.ERROR_MESSAGE)
    responses = await served.serve(ALICE, EVE)
    assert responses[ALICE].binding_set == ANSWER
    assert responses[EVE].binding_set is None
    assert responses[EVE].error_message == NOT_PERMITTED.format(who=EVE)


async def test_a_denied_request_starts_no_handler_thread(client: TestClient) -> None:
    calls: list[str] = []
    kb = KnowledgeBase(id=KB_ID, name="guarded", description="", client=client)

    @kb.answer_ki("heights", PATTERN, prefixes=EX, permitted=[ALICE])
    def heights(binding_set: BindingSet) -> BindingSet:  # sync: it would need a thread
        calls.append(threading.current_thread().name)
        return ANSWER

    before = set(threading.enumerate())
    await kb.register()
    for _ in range(5):
        client.enqueue_handle_request("heights", [], requesting_kb_id=EVE)
    client.enqueue_exit()
    await asyncio.wait_for(kb.start_handling_loop(), timeout=10)
    started = [t.name for t in set(threading.enumerate()) - before]
    assert calls == []
    assert not [name for name in started if name.startswith("km-handler")], started
    assert [r.binding_set for r in client.handle_responses] == [[]] * 5


async def test_the_access_log_tells_who_was_denied_what_at_info(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER_NAME)
    served = Served(client, ki_permitted=[ALICE])
    await served.serve(EVE)
    (line,) = access_lines(caplog)
    assert EVE in line
    assert "'heights'" in line
    assert "denied (not in the permitted list)" in line
    (record,) = [r for r in caplog.records if r.name == ACCESS_LOGGER_NAME]
    assert record.levelno == logging.INFO
    assert record.requesting_kb_id == EVE  # type: ignore[attr-defined]


# ---------------------------------------------------------------- policies


async def test_a_policy_decides_after_the_list(client: TestClient) -> None:
    asked: list[str | None] = []

    async def not_bob(request: AccessRequest) -> bool:
        asked.append(request.requesting_kb_id)
        return request.requesting_kb_id != BOB

    served = Served(client, ki_permitted=[ALICE, BOB], authorize=not_bob)
    responses = await served.serve(ALICE, BOB, EVE)
    assert served.calls == [ALICE]
    assert sorted(asked, key=str) == [ALICE, BOB]  # EVE was denied by the list already
    assert responses[BOB].binding_set == []
    assert responses[EVE].binding_set == []


async def test_a_policy_sees_the_request(client: TestClient) -> None:
    seen: list[AccessRequest] = []

    def remember(request: AccessRequest) -> bool:  # sync: run in a worker thread
        seen.append(request)
        return True

    served = Served(client, authorize=remember)
    await served.kb.register()
    request_id = client.enqueue_handle_request("heights", [{"tree": OAK}], requesting_kb_id=ALICE)
    client.enqueue_exit()
    await asyncio.wait_for(served.kb.start_handling_loop(), timeout=10)
    (request,) = seen
    assert request.knowledge_base_id == KB_ID
    assert request.knowledge_interaction is served.kb.knowledge_interactions["heights"]
    assert request.requesting_kb_id == ALICE
    assert request.handle_request_id == request_id
    assert request.binding_set == [{"tree": OAK}]
    assert served.calls == [ALICE]


def allowed_kbs() -> set[str]:
    return {ALICE}


async def test_a_policy_may_depend_on_factories_and_the_request_context(
    client: TestClient,
) -> None:
    contexts: list[RequestContext] = []

    async def from_table(
        request: AccessRequest,
        allowed: Annotated[set[str], Depends(allowed_kbs)],
        context: RequestContext,
    ) -> bool:
        contexts.append(context)
        return request.requesting_kb_id in allowed

    served = Served(client, authorize=from_table)
    responses = await served.serve(ALICE, BOB)
    assert served.calls == [ALICE]
    assert responses[BOB].binding_set == []
    assert {c.requesting_kb_id for c in contexts} == {ALICE, BOB}
    assert all(c.knowledge_base is served.kb for c in contexts)


async def test_dependency_overrides_reach_the_policy(client: TestClient) -> None:
    async def from_table(
        request: AccessRequest, allowed: Annotated[set[str], Depends(allowed_kbs)]
    ) -> bool:
        return request.requesting_kb_id in allowed

    served = Served(client, authorize=from_table)
    served.kb.dependency_overrides[allowed_kbs] = lambda: {BOB}
    await served.serve(ALICE, BOB)
    assert served.calls == [BOB]


async def test_a_raising_policy_denies_and_says_so(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    async def broken(request: AccessRequest) -> bool:
        raise RuntimeError("the policy table is gone")

    served = Served(client, authorize=broken, error_policy=ErrorPolicy.ERROR_MESSAGE)
    responses = await served.serve(ALICE)
    assert served.calls == []
    assert responses[ALICE].error_message == NOT_PERMITTED.format(who=ALICE)
    assert "policy table" not in responses[ALICE].error_message  # no detail to the requester
    errors = [r for r in caplog.records if r.name == "km_core" and r.levelno >= logging.ERROR]
    assert any(
        "authorization policy raised" in r.getMessage() and ALICE in r.getMessage() for r in errors
    )
    assert any("denied (the policy raised RuntimeError)" in line for line in access_lines(caplog))


async def test_a_policy_that_does_not_answer_in_time_denies(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    never = asyncio.Event()

    async def stuck(request: AccessRequest) -> bool:
        await never.wait()
        return True

    served = Served(client, authorize=stuck, authorize_timeout=0.05)
    responses = await served.serve(ALICE)
    assert served.calls == []
    assert responses[ALICE].binding_set == []
    assert any("did not answer" in r.getMessage() for r in caplog.records if r.name == "km_core")
    assert any(
        "denied (the policy did not answer within 0.05 s)" in x for x in access_lines(caplog)
    )


async def test_the_interactions_handler_timeout_bounds_the_policy_too(client: TestClient) -> None:
    never = asyncio.Event()

    async def stuck(request: AccessRequest) -> bool:
        await never.wait()
        return True

    served = Served(client, authorize=stuck, authorize_timeout=None, handler_timeout=0.05)
    responses = await served.serve(ALICE)
    assert served.calls == []
    assert responses[ALICE].binding_set == []


async def test_a_policy_that_returns_no_bool_denies(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    def truthy(request: AccessRequest) -> Any:
        return "yes"

    served = Served(client, authorize=truthy)
    responses = await served.serve(ALICE)
    assert served.calls == []
    assert responses[ALICE].binding_set == []
    assert any("not a bool" in r.getMessage() for r in caplog.records if r.name == "km_core")


# ---------------------------------------------------------------- the audit hook


async def test_the_audit_hook_gets_every_decision(client: TestClient) -> None:
    decisions: list[AccessDecision] = []

    async def no_bob(request: AccessRequest) -> bool:
        return request.requesting_kb_id != BOB

    served = Served(client, ki_permitted=[ALICE, BOB], authorize=no_bob, audit=decisions.append)
    await served.serve(ALICE, BOB, EVE)
    got = {(d.request.requesting_kb_id, d.allowed, d.reason) for d in decisions}
    assert got == {
        (ALICE, True, "allowed by the policy"),
        (BOB, False, "denied by the policy"),
        (EVE, False, "not in the permitted list"),
    }
    assert all(d.request.knowledge_interaction.name == "heights" for d in decisions)


async def test_an_async_audit_hook_is_awaited_before_the_request_goes_on(
    client: TestClient,
) -> None:
    order: list[str] = []

    async def audit(decision: AccessDecision) -> None:
        await asyncio.sleep(0)
        order.append(f"audit {decision.request.requesting_kb_id}")

    served = Served(client, audit=audit)
    await served.serve(ALICE)
    assert order == [f"audit {ALICE}"]
    assert served.calls == [ALICE]


async def test_a_raising_audit_hook_is_logged_and_changes_nothing(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    def audit(decision: AccessDecision) -> None:
        raise OSError("disk full")

    served = Served(client, ki_permitted=[ALICE], audit=audit)
    responses = await served.serve(ALICE, EVE)
    assert served.calls == [ALICE]
    assert responses[ALICE].binding_set == ANSWER
    assert responses[EVE].binding_set == []
    assert any("audit hook raised" in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------- kb.call


async def test_call_authorizes_as_the_loop_does(client: TestClient) -> None:
    decisions: list[AccessDecision] = []
    served = Served(client, ki_permitted=[ALICE], audit=decisions.append)
    assert await served.kb.call("heights", [], requesting_kb_id=ALICE) == ANSWER
    with pytest.raises(AccessDeniedError) as caught:
        await served.kb.call("heights", [], requesting_kb_id=EVE)
    assert str(caught.value) == NOT_PERMITTED.format(who=EVE)
    assert isinstance(caught.value, PermissionError)
    with pytest.raises(AccessDeniedError):
        await served.kb.call("heights", [])  # nobody named: not on the list
    assert served.calls == [ALICE]
    assert [(d.request.requesting_kb_id, d.allowed) for d in decisions] == [
        (ALICE, True),
        (EVE, False),
        (None, False),
    ]
    assert all(d.request.handle_request_id is None for d in decisions)


async def test_call_asks_the_policy(client: TestClient) -> None:
    async def only_alice(request: AccessRequest) -> bool:
        return request.requesting_kb_id == ALICE

    served = Served(client, authorize=only_alice)
    assert await served.kb.call("heights", requesting_kb_id=ALICE) == ANSWER
    with pytest.raises(AccessDeniedError):
        await served.kb.call("heights", requesting_kb_id=BOB)


# ---------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("permitted", "message"),
    [
        (ALICE, "for one knowledge base write permitted=['http://example.org/kb/alice']"),
        (["*"], "write permitted='*'"),
        (["not an iri"], "'not an iri', which is not a knowledge base id"),
        ([42], "42, which is not a knowledge base id"),
        (42, "got int"),
        (b"http://example.org/kb/alice", "(str), got bytes"),
    ],
)
def test_a_bad_permitted_argument_is_refused_when_declared(
    client: TestClient, permitted: Any, message: str
) -> None:
    kb = KnowledgeBase(id=KB_ID, name="guarded", description="", client=client)

    async def heights(binding_set: BindingSet) -> BindingSet:
        return []

    with pytest.raises(ConfigurationError, match="knowledge interaction 'heights'") as caught:
        kb.answer_ki("heights", PATTERN, prefixes=EX, permitted=permitted)(heights)
    assert message in str(caught.value)
    assert "heights" not in kb.knowledge_interactions
    with pytest.raises(ConfigurationError, match=f"knowledge base {KB_ID}") as caught:
        KnowledgeBase(id=KB_ID, name="g", description="", client=client, permitted=permitted)
    assert message in str(caught.value)


def test_react_takes_permitted_too(client: TestClient) -> None:
    kb = KnowledgeBase(id=KB_ID, name="guarded", description="", client=client)

    @kb.react_ki("plant", "?tree ex:planted ?when .", prefixes=EX, permitted=(ALICE,))
    async def plant(binding_set: BindingSet) -> None:
        return None

    assert kb.knowledge_interactions["plant"].permitted == frozenset({ALICE})


def test_a_policy_that_cannot_be_called_is_refused_when_the_kb_is_made(
    client: TestClient,
) -> None:
    def no_parameters() -> bool:
        return True

    with pytest.raises(HandlerDeclarationError, match="authorization policy"):
        KnowledgeBase(id=KB_ID, name="g", description="", client=client, authorize=no_parameters)


@pytest.mark.parametrize("timeout", [0, -1.0, "10"])
def test_a_bad_authorize_timeout_is_refused(client: TestClient, timeout: Any) -> None:
    with pytest.raises(ConfigurationError, match="authorize_timeout must be positive"):
        KnowledgeBase(id=KB_ID, name="g", description="", client=client, authorize_timeout=timeout)
