"""HttpxClient: the Knowledge Engine's Smart Connector REST API over one httpx.AsyncClient.

This module holds the client itself: its construction, ``async with`` and `close`, and one
method per endpoint of `km_core.ClientProtocol`. How one request is sent is in `_sending`,
which error a status becomes in `_status_errors`, how answer bodies are read in `_bodies`, the
long poll's bookkeeping in `_long_poll`, and re-registration's constants in `_reregistration`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel

from km_core import (
    AskResult,
    BindingSet,
    ClientClosedError,
    HandleRequest,
    HandleResponse,
    KnowledgeBaseInfo,
    KnowledgeEngineError,
    KnowledgeInteractionInfo,
    KnowledgeInteractionRegistration,
    LeaseInfo,
    PollResult,
    PostResult,
    SmartConnectorNotFoundError,
    UnexpectedResponseError,  # noqa: F401  # named in get_version's Raises, linked by the docs
)

from ._bodies import KB_LIST, KI_LIST, ki_id_from, parse, version_from
from ._diagnosis import display_url, not_a_knowledge_engine
from ._long_poll import DEFAULT_POLL_TIMEOUT, HandleTraffic, poll_outcome
from ._reregistration import ALREADY_IN_USE, REREGISTER_ATTEMPTS
from ._sending import DEFAULT_TIMEOUT, Sender, split_credentials
from ._status_errors import status_error, unexpected

__all__ = ["HttpxClient"]

logger = logging.getLogger("km_httpx")

M = TypeVar("M", bound=BaseModel)


class HttpxClient:
    """A `km_core.ClientProtocol` for a real Knowledge Engine, over HTTP.

    Every call goes through one pooled `httpx.AsyncClient` of up to 100 connections, 20 of them
    kept alive when idle (keeping more idle costs more than reconnecting: on each request,
    httpcore checks every idle connection against every other). Give your own client (for TLS
    settings, auth, proxies, HTTP/2, or an ASGI or mock transport) and it is used as it is and
    left open on `close`; otherwise this client creates and owns one.

    Errors are the SDK's (`km_core.KnowledgeEngineError` and below), carrying the KE's own
    message, the status, the endpoint, and the KB and KI ids; no httpx exception escapes. When
    the KE cannot be reached, the message says why, with the URL (its password masked): nothing
    listening, a host name that does not resolve, a TLS failure, a timeout; and when something
    answers ``GET /version`` that is not a Knowledge Engine (a wrong URL), it says so.

    Args:
        base_url: The KE's REST base URL, e.g. ``"http://localhost:8280/rest"``. A user and
            password in it (``https://user:password@ke.example/rest``) are taken out and sent
            as HTTP Basic authentication, so that they appear in no URL that httpx or the SDK
            logs; ``base_url`` keeps the URL without them.
        http_client: An `httpx.AsyncClient` to use instead of creating one.
        timeout: Timeouts of every call but the long poll (ignored with ``http_client``).
        poll_timeout: Read timeout of the long poll, in seconds; keep it above 29.
        headers: Extra headers for every request (e.g. a proxy's auth token); ignored with
            ``http_client``, which carries its own.
        http2: Speak HTTP/2 (needs km-httpx's ``http2`` extra); ignored with
            ``http_client``.

    Example:
        ```python
        async with HttpxClient("http://localhost:8280/rest") as client:
            kb = KnowledgeBase(id=..., name=..., description=..., client=client)
        ```
    """

    def __init__(
        self,
        base_url: str,
        *,
        http_client: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        poll_timeout: float = DEFAULT_POLL_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        http2: bool = False,
    ) -> None:
        self.base_url, auth = split_credentials(base_url)
        self.poll_timeout = poll_timeout
        self._owns_client = http_client is None
        self._http = http_client or httpx.AsyncClient(
            timeout=timeout,
            headers=dict(headers or {}),
            http2=http2,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )
        self._sender = Sender(self._http, self.base_url, auth)
        self._handle_traffic = HandleTraffic()

    def __repr__(self) -> str:
        return f"<HttpxClient {display_url(self.base_url)!r}>"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------ ClientProtocol

    async def get_version(self) -> str:
        """The KE's version (``GET /version``).

        Raises:
            UnexpectedResponseError: something answered that is not a Knowledge Engine: a 404
                (often a base URL without ``/rest``), an answer that is not JSON, or JSON
                without a version. The message says so, with the URL.
        """
        endpoint = "GET /version"
        response = await self._sender.send("GET", "/version")
        if response.status_code == 404:
            raise unexpected(
                response,
                not_a_knowledge_engine(self.base_url, 404, "answered Not Found"),
                endpoint,
            )
        if response.status_code != 200:
            raise status_error(response, endpoint, None, None)
        return version_from(response, self.base_url, endpoint)

    async def ke_is_available(self) -> bool:
        """True only when ``GET /version`` answers 200 with a non-empty version."""
        try:
            return bool(await self.get_version())
        except (KnowledgeEngineError, ClientClosedError) as exc:
            logger.debug(
                "the Knowledge Engine at %s is not available: %s", display_url(self.base_url), exc
            )
            return False

    async def list_kbs(self) -> list[KnowledgeBaseInfo]:
        """Every registered knowledge base (``GET /sc``)."""
        response = await self._sender.call("GET", "/sc")
        result: list[KnowledgeBaseInfo] = parse(response, KB_LIST, "GET /sc")
        return result

    async def get_kb(self, kb_id: str) -> KnowledgeBaseInfo | None:
        """One knowledge base, or ``None`` when the KE answers 404 (``GET /sc``)."""
        response = await self._sender.send("GET", "/sc", kb_id=kb_id)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise status_error(response, "GET /sc", kb_id, None)
        kbs: list[KnowledgeBaseInfo] = parse(response, KB_LIST, "GET /sc", kb_id)
        return kbs[0] if kbs else None

    async def register_kb(self, kb: KnowledgeBaseInfo, *, reregister: bool = False) -> None:
        """Register a knowledge base (``POST /sc``).

        The KE has no upsert: a second registration of an id answers 400. With
        ``reregister=True`` that answer makes this delete the existing KB (``DELETE /sc``)
        and register again, so a KB restarting after a crash replaces its stale self; if
        another registration slips in between (an older instance taking the id back), it
        deletes and registers again, up to `REREGISTER_ATTEMPTS` times in all.
        """
        kb_id = kb.knowledge_base_id
        for attempt in range(REREGISTER_ATTEMPTS):
            response = await self._sender.send(
                "POST", "/sc", kb_id=kb_id, json_body=kb.to_wire(), kb_header=False
            )
            if response.status_code == 200:
                return
            error = status_error(response, "POST /sc", kb_id, None)
            in_use = response.status_code == 400 and ALREADY_IN_USE in error.message
            if not (reregister and in_use) or attempt == REREGISTER_ATTEMPTS - 1:
                raise error
            # Another registration of this id: a stale one, or an older instance that took it
            # back between our DELETE and our POST. This newer registration wins: again.
            logger.info("knowledge base %s is already registered; replacing it", kb_id)
            with contextlib.suppress(SmartConnectorNotFoundError):  # gone meanwhile: register
                await self.unregister_kb(kb_id)
        raise AssertionError("unreachable")  # pragma: no cover

    async def unregister_kb(self, kb_id: str) -> None:
        """Delete a knowledge base (``DELETE /sc``); its open poll then gets 410."""
        await self._sender.call("DELETE", "/sc", kb_id=kb_id)

    async def renew_lease(self, kb_id: str) -> LeaseInfo:
        """Renew the KB's lease (``PUT /sc/lease/renew``)."""
        response = await self._sender.call("PUT", "/sc/lease/renew", kb_id=kb_id)
        lease: LeaseInfo = parse(response, LeaseInfo, "PUT /sc/lease/renew", kb_id)
        return lease

    async def list_kis(self, kb_id: str) -> list[KnowledgeInteractionInfo]:
        """The KB's registered interactions (``GET /sc/ki``)."""
        response = await self._sender.call("GET", "/sc/ki", kb_id=kb_id)
        kis: list[KnowledgeInteractionInfo] = parse(response, KI_LIST, "GET /sc/ki", kb_id)
        return kis

    async def register_ki(self, kb_id: str, ki: KnowledgeInteractionRegistration) -> str:
        """Register an interaction and return the id the KE gave it (``POST /sc/ki``)."""
        response = await self._sender.call("POST", "/sc/ki", kb_id=kb_id, json_body=ki.to_wire())
        return ki_id_from(response, kb_id)

    async def unregister_ki(self, kb_id: str, ki_id: str) -> None:
        """Delete an interaction (``DELETE /sc/ki``)."""
        await self._sender.call("DELETE", "/sc/ki", kb_id=kb_id, ki_id=ki_id)

    @staticmethod
    def _proactive_body(binding_set: BindingSet, recipients: Sequence[str] | None) -> Any:
        if recipients is None:
            return binding_set
        return {
            "recipientSelector": {"knowledgeBases": list(recipients)},
            "bindingSet": binding_set,
        }

    async def _proactive(
        self,
        path: str,
        model: type[M],
        kb_id: str,
        ki_id: str,
        binding_set: BindingSet,
        recipients: Sequence[str] | None,
    ) -> M:
        response = await self._sender.call(
            "POST",
            path,
            kb_id=kb_id,
            ki_id=ki_id,
            json_body=self._proactive_body(binding_set, recipients),
        )
        result: M = parse(response, model, f"POST {path}", kb_id, ki_id)
        return result

    async def ask(
        self,
        kb_id: str,
        ki_id: str,
        binding_set: BindingSet,
        *,
        recipients: Sequence[str] | None = None,
    ) -> AskResult:
        """Ask (``POST /sc/ask``); ``recipients`` becomes the KE's recipient selector."""
        return await self._proactive("/sc/ask", AskResult, kb_id, ki_id, binding_set, recipients)

    async def post(
        self,
        kb_id: str,
        ki_id: str,
        binding_set: BindingSet,
        *,
        recipients: Sequence[str] | None = None,
    ) -> PostResult:
        """Post (``POST /sc/post``); ``recipients`` becomes the KE's recipient selector."""
        return await self._proactive("/sc/post", PostResult, kb_id, ki_id, binding_set, recipients)

    async def poll_ki_call(self, kb_id: str) -> tuple[PollResult, HandleRequest | None]:
        """The long poll (``GET /sc/handle``).

        200 is a handle request, 202 the KE's heartbeat after 29 s (poll again), 410 the KB
        stopping (poll no more). 404 raises `SmartConnectorNotFoundError` (the KB is gone: a
        KE restart or an expired lease), 409 `PollConflictError`, 5xx
        `KnowledgeEngineServerError`; closing the client during the poll raises
        `ClientClosedError`.
        """
        with self._handle_traffic.polling(kb_id):
            response = await self._sender.send(
                "GET", "/sc/handle", kb_id=kb_id, read_timeout=self.poll_timeout
            )
        return poll_outcome(response, kb_id)

    async def post_handle_response(self, kb_id: str, ki_id: str, response: HandleResponse) -> None:
        """Answer a handle request (``POST /sc/handle``)."""
        with self._handle_traffic.responding():
            await self._sender.call(
                "POST", "/sc/handle", kb_id=kb_id, ki_id=ki_id, json_body=response.to_wire()
            )

    async def upload_domain_knowledge(self, kb_id: str, knowledge: str) -> None:
        """Replace the KB's domain knowledge (``POST /sc/knowledge``, text/plain)."""
        await self._sender.call("POST", "/sc/knowledge", kb_id=kb_id, content=knowledge)

    async def close(self) -> None:
        """Close: open polls raise `ClientClosedError`, response posts under way finish first.

        An `httpx.AsyncClient` given to the constructor is left open; one this client created
        is closed. Closing twice is harmless.
        """
        if self._sender.closed:
            return
        self._sender.closed = True
        await self._handle_traffic.close()
        if self._owns_client:
            await self._http.aclose()
