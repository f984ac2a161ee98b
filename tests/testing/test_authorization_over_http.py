"""Authorization per knowledge interaction, end to end: three SDK knowledge bases on the local
Knowledge Engine served over HTTP on 127.0.0.1.

``trees`` answers (and reacts); ``alice`` and ``mallory`` ask (and post), each KB with an
HttpxClient of its own. What is checked is what each asker really receives through the engine,
whether the answering KB's handler ran, what its audit hook was told and what its access log
(``km_core.access``) and library log (``km_core``) said.

A denial is posted before its access line is logged, so the asker can have its answer before
the line is written; the tests read the access log only after the KBs have stopped (the
handling loop drains, and logs, before it returns).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Annotated, Any

import pytest

from km_core import (
    ACCESS_LOGGER_NAME,
    AccessDecision,
    AccessRequest,
    BindingSet,
    Depends,
    ErrorPolicy,
    ExchangeStatus,
    KnowledgeBase,
    KnowledgeInteractionType,
    RequestContext,
)
from km_httpx import HttpxClient
from km_testing import LocalKnowledgeEngine, create_app
from tests.support import BEECH, EX, OAK
from tests.testing.serving import serving

TREES = "http://example.org/kb/trees"
ALICE = "http://example.org/kb/alice"
MALLORY = "http://example.org/kb/mallory"

HEIGHT = "?tree ex:height ?height ."
WIDTH = "?tree ex:width ?width ."
TEMPERATURE = "?room ex:temperature ?celsius ."
ADVICE = "?room ex:advice ?advice ."

DECIMAL = "<http://www.w3.org/2001/XMLSchema#decimal>"
TALL = f'"21.5"^^{DECIMAL}'
WIDE = f'"1.25"^^{DECIMAL}'
HALL = "<http://example.org/hall>"
OPEN_A_WINDOW = '"open a window"'

WAIT = 10
"""Seconds any one step may take: an ask or post, a KB starting or stopping."""

ANSWERING_FAILED = "An error occurred while ANSWERing: "
REACTING_FAILED = "An error occurred while REACTing: "


def not_permitted(requester: str, ki_name: str) -> str:
    """What a denied requester is told under ``ErrorPolicy.ERROR_MESSAGE``."""
    return f"knowledge base {requester} is not permitted to use knowledge interaction {ki_name!r}"


class Network:
    """The KBs of one test on the served engine at ``url``, each with its own HttpxClient."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.made: list[KnowledgeBase] = []

    def make(self, kb_id: str, **options: Any) -> KnowledgeBase:
        name = kb_id.rsplit("/", 1)[-1]
        kb = KnowledgeBase(
            id=kb_id,
            name=name,
            description=f"the {name} KB",
            client=HttpxClient(self.url),
            **options,
        )
        return self.add(kb)

    def add(self, kb: KnowledgeBase) -> KnowledgeBase:
        """Take ``kb`` (made by the test itself, with an HttpxClient to `url`) into the network."""
        self.made.append(kb)
        return kb

    def asker(self, kb_id: str) -> KnowledgeBase:
        """A KB that asks heights and widths and posts temperatures, in ``trees``' patterns."""
        kb = self.make(kb_id)
        kb.ask_ki("heights", HEIGHT, prefixes=EX)
        kb.ask_ki("widths", WIDTH, prefixes=EX)
        kb.post_ki("temperatures", TEMPERATURE, ADVICE, prefixes=EX)
        return kb

    def askers(self) -> tuple[KnowledgeBase, KnowledgeBase]:
        """``alice`` and ``mallory``."""
        return self.asker(ALICE), self.asker(MALLORY)

    @contextlib.asynccontextmanager
    async def running(self, *kbs: KnowledgeBase) -> AsyncIterator[None]:
        """Connect and register these KBs, and run the handling loops of those that answer or
        react; on leaving, stop them (each loop drains), unregister and close them."""
        loops: list[asyncio.Task[None]] = []
        stack = contextlib.AsyncExitStack()
        try:
            for kb in kbs:
                await asyncio.wait_for(stack.enter_async_context(kb), WAIT)
                kinds = {ki.kind for ki in kb.knowledge_interactions.values()}
                if kinds & {KnowledgeInteractionType.ANSWER, KnowledgeInteractionType.REACT}:
                    loops.append(asyncio.create_task(kb.start_handling_loop()))
            yield
        finally:
            try:
                await asyncio.wait_for(stack.aclose(), WAIT)
            finally:
                if loops:
                    await asyncio.wait_for(asyncio.gather(*loops), WAIT)

    async def close(self) -> None:
        """Close every KB's client (harmless for those `running` closed already)."""
        for kb in self.made:
            await kb.close()


@pytest.fixture
async def network() -> AsyncIterator[Network]:
    async with serving(create_app(LocalKnowledgeEngine())) as url:
        network = Network(url)
        try:
            yield network
        finally:
            await network.close()


@pytest.fixture
def access_log(caplog: pytest.LogCaptureFixture) -> Callable[[], list[logging.LogRecord]]:
    """The access lines logged so far (the access logger is set to INFO for the test)."""
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER_NAME)
    return lambda: [r for r in caplog.records if r.name == ACCESS_LOGGER_NAME]


class Heights:
    """An ANSWER handler for heights that records who it answered."""

    def __init__(self) -> None:
        self.served: list[str | None] = []

    async def __call__(self, binding_set: BindingSet, context: RequestContext) -> BindingSet:
        self.served.append(context.requesting_kb_id)
        return [{"tree": b["tree"], "height": TALL} for b in binding_set]


async def ask(kb: KnowledgeBase, ki: str = "heights", tree: str = OAK) -> Any:
    """``kb`` asks ``ki`` about ``tree``; its answer with the exchange info."""
    return await asyncio.wait_for(kb.ask_with_info(ki, [{"tree": tree}]), WAIT)


def one_line_about(records: list[logging.LogRecord], requester: str) -> str:
    """The one access line about a request from ``requester``."""
    [line] = [r.getMessage() for r in records if r.requesting_kb_id == requester]  # type: ignore[attr-defined]
    return line


def summary(decisions: list[AccessDecision]) -> list[tuple[str | None, str, bool, str]]:
    """Each decision as (requester, interaction, allowed, reason)."""
    return [
        (d.request.requesting_kb_id, d.request.knowledge_interaction.name, d.allowed, d.reason)
        for d in decisions
    ]


# ---------------------------------------------------------------------- the permitted lists


async def test_only_the_asker_on_the_permitted_list_reaches_the_handler(
    network: Network, access_log: Callable[[], list[logging.LogRecord]]
) -> None:
    trees = network.make(TREES)
    heights = Heights()
    trees.answer_ki("heights", HEIGHT, prefixes=EX, permitted=[ALICE])(heights)
    alice, mallory = network.askers()

    async with network.running(trees, alice, mallory):
        answered = await ask(alice)
        denied = await ask(mallory)
        assert heights.served == [ALICE]  # before mallory's answer was posted, or never

    assert answered.binding_set == [{"tree": OAK, "height": TALL}]
    [info] = answered.exchange_info
    assert info.knowledge_base_id == TREES
    assert info.status is ExchangeStatus.SUCCEEDED
    assert denied.binding_set == []
    [info] = denied.exchange_info
    assert info.knowledge_base_id == TREES
    assert info.status is ExchangeStatus.SUCCEEDED  # EMPTY_BINDING_SET: "no data", no failure
    assert info.binding_set == []
    assert heights.served == [ALICE]

    lines = access_log()
    assert "answered 1 binding" in one_line_about(lines, ALICE)
    line = one_line_about(lines, MALLORY)
    assert line.startswith(f"{TREES}: 'heights' from {MALLORY}, handle request ")
    assert "denied (not in the permitted list); answered with an empty binding set" in line


async def test_a_react_interaction_reacts_only_to_a_permitted_poster(network: Network) -> None:
    trees = network.make(TREES)
    reacted: list[str | None] = []

    @trees.react_ki("advice", TEMPERATURE, ADVICE, prefixes=EX, permitted=[ALICE])
    async def advice(binding_set: BindingSet, context: RequestContext) -> BindingSet:
        reacted.append(context.requesting_kb_id)
        return [{"room": b["room"], "advice": OPEN_A_WINDOW} for b in binding_set]

    alice, mallory = network.askers()
    argument = [{"room": HALL, "celsius": WIDE}]
    async with network.running(trees, alice, mallory):
        allowed = await asyncio.wait_for(alice.post("temperatures", argument), WAIT)
        denied = await asyncio.wait_for(mallory.post_with_info("temperatures", argument), WAIT)

    assert allowed == [{"room": HALL, "advice": OPEN_A_WINDOW}]
    assert denied.result_binding_set == []
    [info] = denied.exchange_info
    assert info.knowledge_base_id == TREES
    assert info.status is ExchangeStatus.SUCCEEDED
    assert info.result_binding_set == []
    assert reacted == [ALICE]


async def test_everybody_on_the_interaction_overrides_a_restrictive_kb_default(
    network: Network, access_log: Callable[[], list[logging.LogRecord]]
) -> None:
    trees = network.make(TREES, permitted=[ALICE])
    heights = Heights()
    trees.answer_ki("heights", HEIGHT, prefixes=EX, permitted="*")(heights)
    alice, mallory = network.askers()

    async with network.running(trees, alice, mallory):
        for_alice = await ask(alice)
        for_mallory = await ask(mallory, tree=BEECH)

    assert for_alice.binding_set == [{"tree": OAK, "height": TALL}]
    assert for_mallory.binding_set == [{"tree": BEECH, "height": TALL}]
    assert heights.served == [ALICE, MALLORY]
    assert all("answered 1 binding" in r.getMessage() for r in access_log())
    assert len(access_log()) == 2


async def test_the_kb_default_applies_to_an_interaction_that_does_not_say(
    network: Network, access_log: Callable[[], list[logging.LogRecord]]
) -> None:
    trees = network.make(TREES, permitted=[ALICE])
    heights = Heights()
    trees.answer_ki("heights", HEIGHT, prefixes=EX, permitted="*")(heights)
    widths: list[str | None] = []

    @trees.answer_ki("widths", WIDTH, prefixes=EX)  # says nothing: the KB's [ALICE]
    async def width(binding_set: BindingSet, context: RequestContext) -> BindingSet:
        widths.append(context.requesting_kb_id)
        return [{"tree": b["tree"], "width": WIDE} for b in binding_set]

    alice, mallory = network.askers()
    async with network.running(trees, alice, mallory):
        alice_widths = await ask(alice, "widths")
        mallory_widths = await ask(mallory, "widths")
        mallory_heights = await ask(mallory, "heights")

    assert alice_widths.binding_set == [{"tree": OAK, "width": WIDE}]
    assert mallory_widths.binding_set == []
    assert mallory_heights.binding_set == [{"tree": OAK, "height": TALL}]
    assert widths == [ALICE]
    assert heights.served == [MALLORY]
    denials = [r.getMessage() for r in access_log() if "denied" in r.getMessage()]
    assert len(denials) == 1
    assert f"'widths' from {MALLORY}" in denials[0]
    assert "denied (not in the permitted list)" in denials[0]


async def test_an_empty_permitted_list_lets_nobody_in(network: Network) -> None:
    trees = network.make(TREES)  # everybody by default
    heights = Heights()
    trees.answer_ki("heights", HEIGHT, prefixes=EX, permitted=[])(heights)
    alice, mallory = network.askers()

    async with network.running(trees, alice, mallory):
        for_alice = await ask(alice)
        for_mallory = await ask(mallory)

    assert for_alice.binding_set == for_mallory.binding_set == []
    assert heights.served == []


# ---------------------------------------------------------------------- the policy


async def test_an_async_policy_denies_a_requester_the_list_allows(
    network: Network, access_log: Callable[[], list[logging.LogRecord]]
) -> None:
    asked: list[AccessRequest] = []

    async def only_alice(request: AccessRequest) -> bool:
        asked.append(request)
        await asyncio.sleep(0)  # a real await: the policy is awaited on the loop
        return request.requesting_kb_id == ALICE

    decisions: list[AccessDecision] = []
    trees = network.make(TREES, authorize=only_alice, audit=decisions.append)
    heights = Heights()
    trees.answer_ki("heights", HEIGHT, prefixes=EX, permitted=[ALICE, MALLORY])(heights)
    alice, mallory = network.askers()

    async with network.running(trees, alice, mallory):
        for_alice = await ask(alice)
        for_mallory = await ask(mallory)

    assert for_alice.binding_set == [{"tree": OAK, "height": TALL}]
    assert for_mallory.binding_set == []
    assert heights.served == [ALICE]
    assert [r.requesting_kb_id for r in asked] == [ALICE, MALLORY]
    assert summary(decisions) == [
        (ALICE, "heights", True, "allowed by the policy"),
        (MALLORY, "heights", False, "denied by the policy"),
    ]
    assert "denied (denied by the policy)" in one_line_about(access_log(), MALLORY)


async def test_the_list_is_checked_before_the_policy(network: Network) -> None:
    asked: list[str | None] = []

    async def everybody(request: AccessRequest) -> bool:
        asked.append(request.requesting_kb_id)
        return True

    decisions: list[AccessDecision] = []
    trees = network.make(TREES, authorize=everybody, audit=decisions.append)
    heights = Heights()
    trees.answer_ki("heights", HEIGHT, prefixes=EX, permitted=[ALICE])(heights)
    alice, mallory = network.askers()

    async with network.running(trees, alice, mallory):
        for_mallory = await ask(mallory)
        for_alice = await ask(alice)

    assert for_mallory.binding_set == []
    assert for_alice.binding_set == [{"tree": OAK, "height": TALL}]
    assert asked == [ALICE]  # mallory was turned away by the list; the policy never saw it
    assert summary(decisions) == [
        (MALLORY, "heights", False, "not in the permitted list"),
        (ALICE, "heights", True, "allowed by the policy"),
    ]


async def test_a_policy_gets_its_dependencies_and_the_request_context_injected(
    network: Network,
) -> None:
    opened: list[str] = []
    closed: list[str] = []

    def directory() -> Iterator[frozenset[str]]:
        """A dependency with cleanup: the allowed KB ids, as a directory lookup gives them."""
        opened.append("directory")
        try:
            yield frozenset({ALICE})
        finally:
            closed.append("directory")

    async def in_the_directory(
        request: AccessRequest,
        context: RequestContext,
        allowed: Annotated[frozenset[str], Depends(directory)],
    ) -> bool:
        assert context.requesting_kb_id == request.requesting_kb_id
        assert context.knowledge_interaction is request.knowledge_interaction
        assert context.handle_request_id == request.handle_request_id
        return request.requesting_kb_id in allowed

    decisions: list[AccessDecision] = []
    # Made here, not in Network.make: the policy's annotations name `directory`, a local of this
    # test, and a KB resolves them in the scope that creates it.
    trees = network.add(
        KnowledgeBase(
            id=TREES,
            name="trees",
            description="the trees KB",
            client=HttpxClient(network.url),
            authorize=in_the_directory,
            audit=decisions.append,
        )
    )
    heights = Heights()
    trees.answer_ki("heights", HEIGHT, prefixes=EX)(heights)  # everybody, as far as the list goes
    alice, mallory = network.askers()

    async with network.running(trees, alice, mallory):
        for_alice = await ask(alice)
        for_mallory = await ask(mallory)
        # A dependency override is read on every request: now the directory says mallory.
        trees.dependency_overrides[directory] = lambda: frozenset({MALLORY})
        mallory_again = await ask(mallory, tree=BEECH)
        alice_again = await ask(alice, tree=BEECH)

    assert for_alice.binding_set == [{"tree": OAK, "height": TALL}]
    assert for_mallory.binding_set == []
    assert mallory_again.binding_set == [{"tree": BEECH, "height": TALL}]
    assert alice_again.binding_set == []
    assert heights.served == [ALICE, MALLORY]
    assert summary(decisions) == [
        (ALICE, "heights", True, "allowed by the policy"),
        (MALLORY, "heights", False, "denied by the policy"),
        (MALLORY, "heights", True, "allowed by the policy"),
        (ALICE, "heights", False, "denied by the policy"),
    ]
    assert opened == closed == ["directory", "directory"]  # the generator ran, and cleaned up


async def test_a_sync_policy_runs_in_a_worker_thread(network: Network) -> None:
    threads: list[threading.Thread] = []

    def only_alice(request: AccessRequest) -> bool:
        threads.append(threading.current_thread())
        return request.requesting_kb_id == ALICE

    trees = network.make(TREES, authorize=only_alice)
    heights = Heights()
    trees.answer_ki("heights", HEIGHT, prefixes=EX)(heights)
    alice, mallory = network.askers()

    async with network.running(trees, alice, mallory):
        for_alice = await ask(alice)
        for_mallory = await ask(mallory)

    assert for_alice.binding_set == [{"tree": OAK, "height": TALL}]
    assert for_mallory.binding_set == []
    assert heights.served == [ALICE]
    assert len(threads) == 2
    assert threading.main_thread() not in threads


async def test_a_raising_policy_denies_and_is_logged(
    network: Network,
    caplog: pytest.LogCaptureFixture,
    access_log: Callable[[], list[logging.LogRecord]],
) -> None:
    def unreachable_directory(request: AccessRequest) -> bool:
        raise ConnectionError("the directory at ldap://10.0.0.1 is down")

    decisions: list[AccessDecision] = []
    trees = network.make(
        TREES,
        authorize=unreachable_directory,
        audit=decisions.append,
        error_policy=ErrorPolicy.ERROR_MESSAGE,
    )
    heights = Heights()
    trees.answer_ki("heights", HEIGHT, prefixes=EX, permitted=[ALICE])(heights)
    alice, _ = network.askers()

    async with network.running(trees, alice):
        answer = await ask(alice)

    assert answer.binding_set == []
    [info] = answer.exchange_info
    assert info.status is ExchangeStatus.FAILED
    # The requester learns that it was refused, not why: no exception text.
    assert info.failed_message == ANSWERING_FAILED + not_permitted(ALICE, "heights")
    assert heights.served == []
    assert summary(decisions) == [(ALICE, "heights", False, "the policy raised ConnectionError")]
    [error] = [r for r in caplog.records if r.name == "km_core" and r.levelno >= logging.ERROR]
    assert error.levelno == logging.ERROR
    assert error.getMessage().startswith(
        f"knowledge base {TREES}: the authorization policy raised on 'heights' from {ALICE}, "
        "handle request "
    )
    assert error.getMessage().endswith("; denying it")
    assert error.exc_info is not None
    assert isinstance(error.exc_info[1], ConnectionError)
    line = one_line_about(access_log(), ALICE)
    assert "denied (the policy raised ConnectionError); answered with an error message" in line


async def says_yes(request: AccessRequest) -> Any:
    return "yes"  # truthy, but not True


async def says_nothing(request: AccessRequest) -> Any:
    return None


async def never_answers(request: AccessRequest) -> bool:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        pytest.param(says_yes, "the policy returned str, not a bool", id="truthy-str"),
        pytest.param(says_nothing, "the policy returned NoneType, not a bool", id="none"),
        pytest.param(never_answers, "the policy did not answer within 0.2 s", id="no-answer"),
    ],
)
async def test_a_policy_that_does_not_answer_true_denies(
    network: Network,
    caplog: pytest.LogCaptureFixture,
    policy: Callable[[AccessRequest], Awaitable[Any]],
    reason: str,
) -> None:
    decisions: list[AccessDecision] = []
    trees = network.make(TREES, authorize=policy, audit=decisions.append, authorize_timeout=0.2)
    heights = Heights()
    trees.answer_ki("heights", HEIGHT, prefixes=EX)(heights)
    alice, _ = network.askers()

    async with network.running(trees, alice):
        answer = await ask(alice)

    assert answer.binding_set == []
    assert heights.served == []
    assert summary(decisions) == [(ALICE, "heights", False, reason)]
    errors = [r for r in caplog.records if r.name == "km_core" and r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "the authorization policy" in errors[0].getMessage()
    assert f"'heights' from {ALICE}" in errors[0].getMessage()


# ---------------------------------------------------------------------- error policies


@pytest.mark.parametrize("error_policy", list(ErrorPolicy), ids=lambda p: p.name)
async def test_a_denied_asker_is_answered_per_the_error_policy(
    network: Network,
    access_log: Callable[[], list[logging.LogRecord]],
    error_policy: ErrorPolicy,
) -> None:
    trees = network.make(TREES, error_policy=error_policy)
    heights = Heights()
    trees.answer_ki("heights", HEIGHT, prefixes=EX, permitted=[ALICE])(heights)
    alice, mallory = network.askers()

    async with network.running(trees, alice, mallory):
        for_alice = await ask(alice)
        for_mallory = await ask(mallory)

    # The permitted asker is served the same under either policy.
    assert for_alice.binding_set == [{"tree": OAK, "height": TALL}]
    [info] = for_alice.exchange_info
    assert (info.status, info.failed_message) == (ExchangeStatus.SUCCEEDED, None)

    assert for_mallory.binding_set == []
    [info] = for_mallory.exchange_info
    assert info.knowledge_base_id == TREES
    assert info.knowledge_interaction_id == f"{TREES}/interaction/heights"
    assert info.binding_set == []
    line = one_line_about(access_log(), MALLORY)
    if error_policy is ErrorPolicy.ERROR_MESSAGE:
        assert info.status is ExchangeStatus.FAILED
        assert info.failed_message == ANSWERING_FAILED + not_permitted(MALLORY, "heights")
        assert line.endswith(" ms")
        assert "denied (not in the permitted list); answered with an error message" in line
    else:
        assert info.status is ExchangeStatus.SUCCEEDED
        assert info.failed_message is None
        assert "denied (not in the permitted list); answered with an empty binding set" in line
    assert heights.served == [ALICE]


async def test_a_denied_poster_sees_the_failed_reaction_with_error_messages(
    network: Network,
) -> None:
    trees = network.make(TREES, error_policy=ErrorPolicy.ERROR_MESSAGE, permitted=[ALICE])
    reacted: list[str | None] = []

    @trees.react_ki("advice", TEMPERATURE, ADVICE, prefixes=EX)
    async def advice(binding_set: BindingSet, context: RequestContext) -> BindingSet:
        reacted.append(context.requesting_kb_id)
        return [{"room": b["room"], "advice": OPEN_A_WINDOW} for b in binding_set]

    alice, mallory = network.askers()
    argument = [{"room": HALL, "celsius": WIDE}]
    async with network.running(trees, alice, mallory):
        allowed = await asyncio.wait_for(alice.post_with_info("temperatures", argument), WAIT)
        denied = await asyncio.wait_for(mallory.post_with_info("temperatures", argument), WAIT)

    assert allowed.result_binding_set == [{"room": HALL, "advice": OPEN_A_WINDOW}]
    [info] = allowed.exchange_info
    assert info.status is ExchangeStatus.SUCCEEDED
    assert denied.result_binding_set == []
    [info] = denied.exchange_info
    assert info.knowledge_base_id == TREES
    assert info.status is ExchangeStatus.FAILED
    assert info.failed_message == REACTING_FAILED + not_permitted(MALLORY, "advice")
    assert reacted == [ALICE]


# ---------------------------------------------------------------------- the audit hook


async def test_the_audit_hook_receives_every_decision_with_its_request(network: Network) -> None:
    decisions: list[AccessDecision] = []

    async def audit(decision: AccessDecision) -> None:  # an async hook is awaited
        await asyncio.sleep(0)
        decisions.append(decision)

    trees = network.make(TREES, audit=audit)
    heights = Heights()
    trees.answer_ki("heights", HEIGHT, prefixes=EX, permitted=[ALICE])(heights)
    heights_ki = trees.knowledge_interactions["heights"]
    alice, mallory = network.askers()

    async with network.running(trees, alice, mallory):
        await ask(alice)
        await ask(mallory, tree=BEECH)
        await ask(alice, tree=BEECH)

    assert summary(decisions) == [
        (ALICE, "heights", True, "permitted"),
        (MALLORY, "heights", False, "not in the permitted list"),
        (ALICE, "heights", True, "permitted"),
    ]
    assert heights.served == [ALICE, ALICE]
    requests = [d.request for d in decisions]
    assert {r.knowledge_base_id for r in requests} == {TREES}
    assert all(r.knowledge_interaction.kind is KnowledgeInteractionType.ANSWER for r in requests)
    assert all(r.knowledge_interaction.id == heights_ki.id for r in requests)
    assert [r.binding_set for r in requests] == [
        [{"tree": OAK}],
        [{"tree": BEECH}],
        [{"tree": BEECH}],
    ]
    ids = [r.handle_request_id for r in requests]
    assert all(isinstance(i, int) for i in ids)
    assert len(set(ids)) == 3
    assert decisions[1].denial == not_permitted(MALLORY, "heights")
