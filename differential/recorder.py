"""Record what one Knowledge Engine returns while one scenario runs against it.

A `Recorder` is the scenario's only way to the engine: it sends raw REST requests (``httpx``,
no SDK in between, so that what is compared is what the engine said), keeps a labelled `Entry`
for each response the scenario wants compared, and lets the scenario add its own observations
(`Recorder.note`) and uncompared context such as timings (`Recorder.info`). Every knowledge
base registered through it is deleted when it closes.

Identifiers are unique per recorder: its `Recorder.tag` (random) is part of every KB id and
IRI the scenario makes, so that runs never meet on a shared engine, and the normaliser
(`differential.compare`) replaces it with ``TAG``.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx  # noqa: TID251  (raw REST on purpose: what is compared is what the engine said)

Json = Any
"""A JSON value as the engine sent it (dict, list, str, number, bool or None)."""

HandleResponse = Callable[[dict[str, Json]], dict[str, Json] | None]
"""What an answering or reacting KB sends for a handle request: it gets the request body of
``GET /sc/handle`` and returns the body of ``POST /sc/handle`` without ``handleRequestId``
(``{"bindingSet": [...]}`` or ``{"errorMessage": "..."}``), or None to send nothing."""

REQUEST_TIMEOUT = 120.0
"""Seconds one HTTP request may take; a long poll is held for about 29 s by the engine."""

T = TypeVar("T")

SETTLE = 0.2
"""Seconds the handlers of an exchange get to open their long polls before it starts."""

_ABSENT: Any = object()


@dataclass(frozen=True)
class Entry:
    """One labelled observation of a scenario run.

    Attributes:
        label: What was observed (``"POST /sc/ask"``, ``"ans received"``); the comparison
            pairs the entries of both engines by label.
        value: The observation, a JSON value (a response is ``{"status": ..., "body": ...}``).
        compared: False for context that is reported but never compared (timings).
    """

    label: str
    value: Json
    compared: bool = True


@dataclass(frozen=True)
class Reply:
    """One HTTP response of the engine.

    Attributes:
        status: The HTTP status code.
        body: The body parsed as JSON; its text when it is not JSON; None when it is empty.
        headers: The response headers, names in lower case.
    """

    status: int
    body: Json
    headers: Mapping[str, str] = field(default_factory=dict)

    def record(self) -> dict[str, Json]:
        """The value an entry keeps for this response: its status and body."""
        return {"status": self.status, "body": self.body}


def _parse(response: httpx.Response) -> Reply:
    body: Json = None
    if response.content:
        try:
            body = response.json()
        except ValueError:
            body = response.text
    headers = {name.lower(): value for name, value in response.headers.items()}
    return Reply(response.status_code, body, headers)


class Recorder:
    """The recording REST client of one scenario run against one engine.

    Use it as an async context manager; leaving the block deletes the KBs it registered.

    Args:
        base_url: The engine's REST base URL (``http://127.0.0.1:8280/rest``).
        tag: The unique part of this run's ids; random when not given.
    """

    def __init__(self, base_url: str, *, tag: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.tag = tag or uuid.uuid4().hex[:10]
        self.ex = f"http://example.org/{self.tag}/"
        """The IRI namespace of this run's terms (see `iri`)."""
        self.entries: list[Entry] = []
        self.kbs: set[str] = set()
        """The KB ids registered through this recorder, deleted by `close`."""
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=REQUEST_TIMEOUT)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------ names

    def kb_id(self, name: str) -> str:
        """The id of this run's KB ``name``: ``http://example.org/kb/<tag>/<name>``."""
        return f"http://example.org/kb/{self.tag}/{name}"

    def iri(self, local: str) -> str:
        """This run's IRI ``local`` in angle brackets, for patterns and binding values."""
        return f"<{self.ex}{local}>"

    # ------------------------------------------------------------------ recording

    def note(self, label: str, value: Json) -> None:
        """Record an observation of the scenario's own, compared like a response."""
        self.entries.append(Entry(label, value))

    def info(self, label: str, value: Json) -> None:
        """Record context shown in the report but not compared (a duration, say)."""
        self.entries.append(Entry(label, value, compared=False))

    def elapsed_since(self, start: float) -> float:
        """Seconds from ``start`` (a `now` value) until now."""
        return self.now() - start

    @staticmethod
    def now() -> float:
        """The event loop's clock, in seconds."""
        return asyncio.get_running_loop().time()

    async def request(
        self,
        label: str | None,
        method: str,
        path: str,
        *,
        kb: str | None = None,
        ki: str | None = None,
        json: Json = _ABSENT,
        content: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """Send one request; record its status and body under ``label`` unless that is None.

        Args:
            label: The entry's label, or None to send without recording.
            method: The HTTP method.
            path: The path below the base URL (``/sc/ask``).
            kb: The ``Knowledge-Base-Id`` header, if any.
            ki: The ``Knowledge-Interaction-Id`` header, if any.
            json: A JSON body (any JSON value, null included).
            content: A raw body, when ``json`` is not given.
            headers: Further request headers.

        Returns:
            The engine's response. A successful ``POST /sc`` registers the KB for deletion.
        """
        sent = dict(headers or {})
        if kb is not None:
            sent["Knowledge-Base-Id"] = kb
        if ki is not None:
            sent["Knowledge-Interaction-Id"] = ki
        if json is not _ABSENT:
            response = await self._http.request(method, path, json=json, headers=sent)
        else:
            response = await self._http.request(method, path, content=content, headers=sent)
        reply = _parse(response)
        registered = method == "POST" and path.rstrip("/") == "/sc" and reply.status == 200
        if registered and isinstance(json, dict) and isinstance(json.get("knowledgeBaseId"), str):
            self.kbs.add(json["knowledgeBaseId"])
        if label is not None:
            self.note(label, reply.record())
        return reply

    # ------------------------------------------------------------------ helpers

    async def register_kb(self, name: str, label: str | None = None, **extra: Json) -> str:
        """Register this run's KB ``name`` (``extra`` adds body fields); return its id."""
        kb = self.kb_id(name)
        body = {
            "knowledgeBaseId": kb,
            "knowledgeBaseName": name,
            "knowledgeBaseDescription": f"the {name} kb",
            **extra,
        }
        await self.request(label, "POST", "/sc", json=body)
        return kb

    async def register_ki(self, kb: str, label: str | None = None, **body: Json) -> str | None:
        """Register a knowledge interaction of ``kb``; return its id, None when refused."""
        reply = await self.request(label, "POST", "/sc/ki", kb=kb, json=body)
        if reply.status == 200 and isinstance(reply.body, dict):
            ki = reply.body.get("knowledgeInteractionId")
            return ki if isinstance(ki, str) else None
        return None

    async def poll(self, kb: str, label: str | None = None) -> Reply:
        """One long poll, ``GET /sc/handle``, for ``kb``."""
        return await self.request(label, "GET", "/sc/handle", kb=kb)

    async def handle(
        self,
        kb: str,
        name: str,
        respond: HandleResponse,
        *,
        count: int = 1,
        record_ids: bool = True,
    ) -> None:
        """Be the answering or reacting KB ``kb`` for ``count`` handle requests.

        Each request body it polls is recorded as ``"<name> received"``, and each response it
        posts as ``"<name> POST /sc/handle"``. A poll that ends without a request is recorded
        as ``"<name>: poll"``; when the task is cancelled while it still polls (the exchange
        ended without contacting it), ``"<name> received"`` records that nothing came.

        With ``record_ids`` False the received bodies are recorded without their
        ``handleRequestId``: for requests the engine may send in any order (to several
        interactions of one KB), whose ids then say nothing but that order.
        """
        for _ in range(count):
            try:
                reply = await self.poll(kb)
            except asyncio.CancelledError:
                self.note(f"{name} received", "<nothing: still polling when the exchange ended>")
                raise
            if reply.status != 200 or not isinstance(reply.body, dict):
                self.note(f"{name}: poll", reply.record())
                return
            request = reply.body
            kept = {k: v for k, v in request.items() if record_ids or k != "handleRequestId"}
            self.note(f"{name} received", kept)
            body = respond(request)
            if body is None:
                continue
            await self.request(
                f"{name} POST /sc/handle",
                "POST",
                "/sc/handle",
                kb=kb,
                ki=request.get("knowledgeInteractionId"),
                json={"handleRequestId": request.get("handleRequestId"), **body},
            )

    async def finish(self, tasks: Iterable[asyncio.Task[None]], *, grace: float) -> None:
        """Wait up to ``grace`` seconds for ``tasks``, then cancel the rest and await them."""
        pending = [task for task in tasks if not task.done()]
        if pending:
            _, pending_set = await asyncio.wait(pending, timeout=grace)
            for task in pending_set:
                task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                raise result

    async def concurrently(
        self,
        action: Callable[[], Awaitable[T]],
        handlers: Iterable[Coroutine[Any, Any, None]],
        *,
        grace: float,
    ) -> T:
        """Start ``handlers`` (answering KBs' loops), then run ``action`` (asks or posts).

        The handlers get a moment to open their polls first; after ``action`` returns they
        have ``grace`` seconds to finish before they are cancelled (see `handle`). A KB whose
        poll was cancelled may keep its poll slot on the engine (a new poll gets 409), so let
        one handler serve all the requests a KB gets in one scenario.
        """
        tasks = [asyncio.create_task(handler) for handler in handlers]
        try:
            await asyncio.sleep(SETTLE)
            result = await action()
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        await self.finish(tasks, grace=grace)
        return result

    async def close(self) -> None:
        """Delete every KB registered through this recorder, then close the connection."""
        try:
            for kb in sorted(self.kbs):
                with contextlib.suppress(httpx.HTTPError):
                    await self._http.delete("/sc", headers={"Knowledge-Base-Id": kb})
        finally:
            await self._http.aclose()
