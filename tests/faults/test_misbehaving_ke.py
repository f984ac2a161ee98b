"""A Knowledge Engine that misbehaves, over real HTTP: the KB backs off, warns little, recovers.

`ScriptedKE` is a plain ASGI app, served on 127.0.0.1, that implements just enough of the KE's
REST API and records every request with the time it arrived. The KB under test talks to it
through the real `HttpxClient`.

* For WINDOW seconds every poll is answered at once with a heartbeat (202), or with 404 (the
  KE forgot the KB; every registration succeeds, so a 404 follows each one), or with 500. With
  the DEFAULT ``poll_backoff``, after the first second (from its first poll) the KB sends at
  most MAX_PER_SECOND requests in any second (it used to send hundreds), logs at most two
  WARNING lines for the episode, and once the KE recovers, a queued handle request is
  answered within one backoff cap (``Backoff().maximum``) plus MARGIN.
* The poll is answered once each with something the SDK cannot read (200 with an empty body,
  an HTML page, JSON without a handleRequestId, a 418, a 429 with ``Retry-After: 1``), then
  with handle requests: each of those is answered exactly once, the KB never stops, the 429's
  ``Retry-After`` is honoured, and the WARNING lines quote what was received.

WINDOW is 10 s, as the issue's acceptance asks; the file then runs in about 50 s. Set
``KM_TEST_MISBEHAVING_WINDOW`` to other seconds (at least 2) for a shorter or longer run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import pytest

from km_core import Backoff, BindingSet, KnowledgeBase
from km_httpx import HttpxClient
from tests.faults.harness import EX, PATTERN, assert_answered_once, result_for, tree
from tests.testing.serving import serving

WINDOW = max(2.0, float(os.environ.get("KM_TEST_MISBEHAVING_WINDOW", "10")))
"""Seconds each misbehaviour lasts before the KE recovers."""
MAX_PER_SECOND = 5
"""Requests the KB may send in any second after its first, while the KE misbehaves."""
MARGIN = 15.0
"""Seconds, beyond one backoff cap, that the KB may take to serve again after a recovery."""
CAP = Backoff().maximum
HEARTBEAT_AFTER = 29.0
"""When a held poll is answered with a heartbeat, as the KE does."""

KB_ID = "http://example.org/kb/misbehaving"
KI_ID = f"{KB_ID}/interaction/heights"
ASKER_ID = "http://example.org/kb/asker"

# What a poll is answered with, when no one-shot reply is scripted.
HEARTBEAT = "202 at once"
FORGOTTEN = "404 after every registration"
BROKEN = "500"
SERVING = "recovered"
HAND_OUT = "hand out a handle request"
"""A script step: answer the poll with the next queued handle request (waiting for one)."""
STATUS = {HEARTBEAT: 202, FORGOTTEN: 404, BROKEN: 500}


@dataclasses.dataclass
class Seen:
    """A request the KE received: when it arrived, and the status it was answered with."""

    at: float
    method: str
    path: str
    status: int | None = None


@dataclasses.dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


@dataclasses.dataclass(frozen=True)
class Answer:
    """A ``POST /sc/handle`` the KE received."""

    at: float
    ki_id: str | None
    body: dict[str, Any]

    @property
    def handle_request_id(self) -> Any:
        return self.body.get("handleRequestId")


def error_reply(status: int, message: str) -> Reply:
    body = json.dumps({"messageType": "error", "message": message}).encode()
    return Reply(status, body)


NOT_FOUND = error_reply(404, "Knowledge base not found, because its knowledge base ID is unknown.")
SERVER_ERROR = error_reply(500, "java.lang.NullPointerException")
EMPTY = Reply(200)
HTML = Reply(
    200,
    b"<!DOCTYPE html><html><head><title>Proxy sign-in</title></head><body>Sign in</body></html>",
    "text/html",
)
NO_ID = Reply(
    200,
    json.dumps({"knowledgeInteractionId": KI_ID, "bindingSet": [{"tree": "<urn:no-id>"}]}).encode(),
)
TEAPOT = Reply(418, b"I'm a teapot", "text/plain")
RATE_LIMITED = Reply(429, b"Too Many Requests", "text/plain", (("Retry-After", "1"),))
UNREADABLE = [EMPTY, HTML, NO_ID, TEAPOT, RATE_LIMITED]
# What a log line says about each, in the same order.
QUOTED = [
    "the answer was empty",
    "<!DOCTYPE html><html>",
    "<urn:no-id>",
    "I'm a teapot",
    "Too Many",
]


class ScriptedKE:
    """Just enough of the KE's REST API (under /rest), with the polls answered per a script.

    A poll takes the next one-shot step of `script` if there is one (a `Reply`, or
    `HAND_OUT`), else answers per `mode`. Serving (`SERVING`, `HAND_OUT`), it answers with the
    next queued handle request, holding the poll open until there is one (or until a heartbeat
    is due, or the client goes away). Every request is recorded in `requests`, every response
    posted in `answers`; `wait_until` waits for a state of them.
    """

    def __init__(self, mode: str = SERVING) -> None:
        self.mode = mode
        self.script: deque[Reply | str] = deque()
        self.requests: list[Seen] = []
        self.answers: list[Answer] = []
        self.handed_out: list[int] = []
        self._queued: deque[tuple[int, BindingSet]] = deque()
        self._next_id = 1
        self._changed = asyncio.Condition()

    # ------------------------------------------------------------ the test's side

    async def enqueue(self, binding_set: BindingSet) -> int:
        """Queue a handle request for the KB's 'heights'; returns its id."""
        request_id = self._next_id
        self._next_id += 1
        self._queued.append((request_id, binding_set))
        await self._notify()
        return request_id

    async def recover(self, binding_set: BindingSet) -> int:
        """Behave from now on, with a handle request queued for the next poll; returns its id."""
        request_id = self._next_id
        self._next_id += 1
        self._queued.append((request_id, binding_set))
        self.mode = SERVING
        await self._notify()
        return request_id

    async def wait_until(self, check: Callable[[], bool], *, within: float, what: str) -> None:
        try:
            async with asyncio.timeout(within), self._changed:
                await self._changed.wait_for(check)
        except TimeoutError:
            raise AssertionError(
                f"{what}: not within {within} s; the KE saw\n{self.timeline()}"
            ) from None

    def seen(self, method: str, path: str, *, before: float = float("inf")) -> list[Seen]:
        return [s for s in self.requests if (s.method, s.path) == (method, path) and s.at < before]

    def answers_for(self, request_id: int) -> list[Answer]:
        return [a for a in self.answers if a.handle_request_id == request_id]

    def timeline(self, last: int = 40) -> str:
        start = self.requests[0].at if self.requests else 0.0
        lines = [
            f"  {s.at - start:8.3f} s  {s.method} {s.path} -> {s.status}" for s in self.requests
        ]
        skipped = [f"  ... {len(lines) - last} earlier requests"] if len(lines) > last else []
        return "\n".join(skipped + lines[-last:])

    # ------------------------------------------------------------ the ASGI app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"].removeprefix("/rest")
        seen = Seen(time.monotonic(), scope["method"], path)
        self.requests.append(seen)
        # A poll is answered per the script or mode as it was when the poll arrived.
        step = self._next_step() if (seen.method, path) == ("GET", "/sc/handle") else None
        await self._notify()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}

        async def reply(answer: Reply) -> None:
            seen.status = answer.status
            await send(
                {
                    "type": "http.response.start",
                    "status": answer.status,
                    "headers": [
                        (b"content-type", answer.content_type.encode()),
                        (b"content-length", str(len(answer.body)).encode()),
                        *((k.encode(), v.encode()) for k, v in answer.headers),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": answer.body})

        try:
            body = await _read_body(receive)
            await self._route(seen, headers, body, receive, reply, step)
        finally:
            await self._notify()

    async def _route(
        self,
        seen: Seen,
        headers: dict[str, str],
        body: bytes,
        receive: Any,
        reply: Callable[[Reply], Any],
        step: Reply | str | None,
    ) -> None:
        kb_id = headers.get("knowledge-base-id", "")
        match seen.method, seen.path:
            case "GET", "/version":
                await reply(Reply(200, b'{"version":"1.5.0"}'))
            case (("POST" | "DELETE"), "/sc"):
                await reply(Reply(200))
            case "POST", "/sc/ki":
                name = json.loads(body).get("knowledgeInteractionName") or "unnamed"
                ki_id = f"{kb_id}/interaction/{name}"
                await reply(Reply(200, json.dumps({"knowledgeInteractionId": ki_id}).encode()))
            case "GET", "/sc/handle":
                assert step is not None
                await reply(await self._poll(step, receive))
            case "POST", "/sc/handle":
                answer = Answer(seen.at, headers.get("knowledge-interaction-id"), json.loads(body))
                self.answers.append(answer)
                await reply(Reply(200))
            case _:
                await reply(error_reply(404, f"no such endpoint: {seen.method} {seen.path}"))

    def _next_step(self) -> Reply | str:
        return self.script.popleft() if self.script else self.mode

    async def _poll(self, step: Reply | str, receive: Any) -> Reply:
        if isinstance(step, Reply):
            return step
        if step == HEARTBEAT:
            return Reply(202)
        if step == FORGOTTEN:
            return NOT_FOUND
        if step == BROKEN:
            return SERVER_ERROR
        queued = await self._next_queued(receive)
        if queued is None:
            return Reply(202)  # a heartbeat (or the client is gone, and nobody reads this)
        request_id, binding_set = queued
        self.handed_out.append(request_id)
        request = {
            "knowledgeInteractionId": KI_ID,
            "handleRequestId": request_id,
            "bindingSet": binding_set,
            "requestingKnowledgeBaseId": ASKER_ID,
        }
        return Reply(200, json.dumps(request).encode())

    async def _next_queued(self, receive: Any) -> tuple[int, BindingSet] | None:
        """The next queued handle request, once there is one; None on a heartbeat or a hang-up."""
        queued = asyncio.create_task(self._wait_for_queued())
        gone = asyncio.create_task(_until_disconnected(receive))
        try:
            done, _ = await asyncio.wait(
                {queued, gone}, timeout=HEARTBEAT_AFTER, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            queued.cancel()
            gone.cancel()
            await asyncio.wait({queued, gone})
        if queued in done and gone not in done and self._queued:
            return self._queued.popleft()
        return None

    async def _wait_for_queued(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: bool(self._queued))

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()


async def _read_body(receive: Any) -> bytes:
    chunks: list[bytes] = []
    async with asyncio.timeout(10):
        for _ in range(10_000):
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
    return b"".join(chunks)


async def _until_disconnected(receive: Any) -> None:
    """Return when the client hangs up (the body was read: only a disconnect comes now)."""
    for _ in range(1_000):
        if (await receive())["type"] == "http.disconnect":
            return


# ---------------------------------------------------------------- the KB and what it logs


KNOWN = {
    ("GET", "/version"),
    ("POST", "/sc"),
    ("DELETE", "/sc"),
    ("POST", "/sc/ki"),
    ("GET", "/sc/handle"),
    ("POST", "/sc/handle"),
}
"""The endpoints `ScriptedKE` implements; the KB should call no other."""


def unknown_calls(ke: ScriptedKE) -> list[str]:
    return [f"{s.method} {s.path}" for s in ke.requests if (s.method, s.path) not in KNOWN]


def make_kb(base_url: str, **options: Any) -> KnowledgeBase:
    kb = KnowledgeBase(
        id=KB_ID, name="misbehaving", description="", client=HttpxClient(base_url), **options
    )

    @kb.answer_ki("heights", PATTERN, prefixes=EX)
    async def heights(binding_set: BindingSet) -> BindingSet:
        return result_for(binding_set)

    return kb


async def stop_serving(kb: KnowledgeBase, serving_task: asyncio.Task[None]) -> None:
    """Stop the KB and wait for `serve` to return; it raises what `serve` raised."""
    kb.stop()
    await asyncio.wait_for(serving_task, 20)


def core_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "km_core" or r.name.startswith("km_core.")]


def warnings_per_episode(records: list[logging.LogRecord]) -> list[list[str]]:
    """The WARNING (and worse) lines of each episode; a "works again" line ends an episode."""
    episodes: list[list[str]] = [[]]
    for record in records:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            episodes[-1].append(message)
        elif "works again after" in message:
            episodes.append([])
    return episodes


def per_second(times: list[float], start: float, end: float) -> list[int]:
    """Requests in each whole second from ``start + 1`` to ``end`` (the last may be partial)."""
    buckets = []
    for second in range(1, int(end - start) + 2):
        low, high = start + second, min(start + second + 1, end)
        if low >= end:
            break
        buckets.append(sum(low <= t < high for t in times))
    return buckets


# ---------------------------------------------------------------- a KE that misbehaves a while


@pytest.mark.timeout(WINDOW + CAP + MARGIN + 30)
@pytest.mark.parametrize("mode", [HEARTBEAT, FORGOTTEN, BROKEN])
async def test_a_misbehaving_ke_costs_few_requests_and_warnings_and_the_kb_recovers(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="km_core")
    ke = ScriptedKE(mode)
    async with serving(ke) as base_url:
        kb = make_kb(base_url)  # the default poll_backoff
        assert kb.poll_backoff == Backoff()
        serving_task = asyncio.create_task(kb.serve(handle_signals=False, connect_wait=5))
        try:
            await ke.wait_until(
                lambda: bool(ke.seen("GET", "/sc/handle")), within=10, what="a first poll"
            )
            # The point of the test: what the KB sends while the KE misbehaves for a while.
            await asyncio.sleep(WINDOW)
            assert not serving_task.done(), f"the KB stopped serving:\n{ke.timeline()}"
            recovered_at = time.monotonic()
            request_id = await ke.recover([{"tree": tree(1)}])
            await ke.wait_until(
                lambda: bool(ke.answers_for(request_id)),
                within=CAP + MARGIN,
                what="the KB answering a handle request after the KE recovered",
            )
            assert not serving_task.done()
        finally:
            await stop_serving(kb, serving_task)

    polls = ke.seen("GET", "/sc/handle", before=recovered_at)
    start = polls[0].at  # the misbehaviour begins with the first poll
    during = [s for s in ke.requests if start <= s.at < recovered_at]
    buckets = per_second([s.at for s in during], start, recovered_at)
    counted = sum(buckets)
    rate = counted / (recovered_at - start - 1)
    records = core_records(caplog)
    episodes = warnings_per_episode(records)
    answers = ke.answers_for(request_id)
    served_after = answers[0].at - recovered_at
    works_again = [r.getMessage() for r in records if "polling works again" in r.getMessage()]
    summary = (
        f"{mode}: {len(during)} requests ({len(polls)} polls) in the {recovered_at - start:.1f} s "
        f"from the first poll to the recovery; "
        f"after the first second {counted} ({rate:.2f}/s), per second {buckets}; "
        f"WARNING lines per episode {[len(e) for e in episodes]}; "
        f"served again {served_after:.1f} s after the recovery"
    )
    print(summary)
    shown = [episode[:3] for episode in episodes]  # the first few lines of each episode
    details = f"{summary}\nwarnings: {shown}\nthe KE saw:\n{ke.timeline()}"

    assert not unknown_calls(ke), details
    assert len(polls) >= 3, f"the KB gave up polling\n{details}"
    assert max(buckets) <= MAX_PER_SECOND, f"the KB spun\n{details}"
    assert rate <= MAX_PER_SECOND, details
    assert 1 <= len(episodes[0]) <= 2, f"the episode's WARNING lines\n{details}"
    assert all(len(episode) <= 2 for episode in episodes), details
    assert len(episodes) == 2, f"one episode, ended by the recovery\n{details}"
    assert not episodes[1], details
    assert len(works_again) == 1, details
    assert all(p.status == STATUS[mode] for p in polls), details

    assert len(answers) == 1, details
    assert answers[0].ki_id == KI_ID
    assert answers[0].body["bindingSet"] == [{"tree": tree(1), "height": '"21"'}]
    assert served_after <= CAP + MARGIN, details
    assert ke.handed_out == [request_id]
    # A clean stop unregisters once; nothing was deleted while the KE misbehaved.
    assert [s.at >= recovered_at for s in ke.seen("DELETE", "/sc")] == [True], details
    if mode == FORGOTTEN:
        registrations = ke.seen("POST", "/sc", before=recovered_at)
        assert len(registrations) >= 2, f"the KB did not register again\n{details}"
        assert any("registering again" in m for m in episodes[0]), details
    else:
        assert len(ke.seen("POST", "/sc")) == 1, details


# ---------------------------------------------------------------- answers the SDK cannot read


async def serve_script(
    script: list[Reply | str], requests: int
) -> tuple[ScriptedKE, list[int], list[Answer]]:
    """Run a KB with a small backoff against a KE whose polls follow ``script``.

    ``requests`` handle requests are queued first; it returns once each has an answer (or
    fails), with the KE, the requests' ids and the answers the KB posted.
    """
    ke = ScriptedKE(SERVING)
    ke.script.extend(script)
    ids = [await ke.enqueue([{"tree": tree(n)}]) for n in range(requests)]
    async with serving(ke) as base_url:
        kb = make_kb(base_url, poll_backoff=Backoff(initial=0.01, maximum=0.1))
        serving_task = asyncio.create_task(kb.serve(handle_signals=False, connect_wait=5))
        try:
            await ke.wait_until(
                lambda: all(ke.answers_for(i) for i in ids) or serving_task.done(),
                within=30,
                what="an answer to every handle request",
            )
            assert not serving_task.done(), f"the KB stopped serving:\n{ke.timeline()}"
            assert not ke.script
        finally:
            await stop_serving(kb, serving_task)
    return ke, ids, list(ke.answers)


def check_answered_once(ke: ScriptedKE, ids: list[int], answers: list[Answer]) -> None:
    assert not unknown_calls(ke), ke.timeline()
    assert ke.handed_out == ids, ke.timeline()
    assert_answered_once(ids, [a.handle_request_id for a in answers])
    for n, request_id in enumerate(ids):
        (answer,) = ke.answers_for(request_id)
        assert answer.ki_id == KI_ID
        assert answer.body["bindingSet"] == [{"tree": tree(n), "height": '"21"'}]


def pause_after_429(ke: ScriptedKE) -> float:
    polls = ke.seen("GET", "/sc/handle")
    (limited,) = [n for n, poll in enumerate(polls) if poll.status == 429]
    return polls[limited + 1].at - polls[limited].at


async def test_unreadable_answers_in_a_row_are_retried_and_what_follows_is_answered_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="km_core")
    ke, ids, answers = await serve_script(list(UNREADABLE), requests=5)

    check_answered_once(ke, ids, answers)
    statuses = [p.status for p in ke.seen("GET", "/sc/handle")]
    assert statuses[:10] == [200, 200, 200, 418, 429, 200, 200, 200, 200, 200], ke.timeline()
    pause = pause_after_429(ke)
    records = core_records(caplog)
    episodes = warnings_per_episode(records)
    print(
        f"unreadable in a row: WARNING lines per episode {[len(e) for e in episodes]}; "
        f"next poll {pause:.2f} s after the 429"
    )
    assert pause >= 0.9, f"Retry-After: 1 not honoured: {pause:.3f} s\n{ke.timeline()}"

    # One episode of five failures: its first two causes at WARNING, quoting what came.
    assert len(episodes) == 2, episodes
    assert not episodes[1], episodes
    first, second = episodes[0]
    for warning, quoted in [(first, QUOTED[0]), (second, QUOTED[1])]:
        assert "polling failed" in warning, warning
        assert quoted in warning, warning
    assert any("works again after 5 failed attempts" in r.getMessage() for r in records)
    # Each unreadable answer is logged once (the later ones at DEBUG), quoted.
    messages = [r.getMessage() for r in records]
    for quoted in QUOTED:
        assert sum(quoted in m for m in messages) == 1, (quoted, messages)
    assert len(ke.seen("DELETE", "/sc")) == 1


async def test_each_unreadable_answer_between_requests_is_its_own_episode_quoted_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="km_core")
    script: list[Reply | str] = []
    for unreadable in UNREADABLE:
        script += [unreadable, HAND_OUT]
    ke, ids, answers = await serve_script(script, requests=len(UNREADABLE) + 2)

    check_answered_once(ke, ids, answers)
    statuses = [p.status for p in ke.seen("GET", "/sc/handle")]
    assert statuses[:12] == [200, 200, 200, 200, 200, 200, 418, 200, 429, 200, 200, 200]
    pause = pause_after_429(ke)
    assert pause >= 0.9, f"Retry-After: 1 not honoured: {pause:.3f} s\n{ke.timeline()}"
    records = core_records(caplog)
    episodes = warnings_per_episode(records)
    print(
        f"unreadable between requests: WARNING lines per episode {[len(e) for e in episodes]}; "
        f"next poll {pause:.2f} s after the 429"
    )
    assert len(episodes) == len(UNREADABLE) + 1, episodes
    assert not episodes[-1], episodes
    for episode, quoted in zip(episodes, QUOTED, strict=False):
        (warning,) = episode
        assert "polling failed" in warning, warning
        assert quoted in warning, warning
    works_again = [r.getMessage() for r in records if "works again after" in r.getMessage()]
    assert len(works_again) == len(UNREADABLE)
    assert all("polling works again after 1 failed attempts" in m for m in works_again)
