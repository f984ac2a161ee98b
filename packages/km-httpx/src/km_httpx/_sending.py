"""Sending one request to the Knowledge Engine, with every httpx error turned into the SDK's.

`Sender` puts the KB and KI ids in their headers, a longer read timeout on the long poll and
the base URL's user and password (taken out of it by `split_credentials`) in Basic
authentication. A request that gets no answer raises `KnowledgeEngineUnavailableError` saying
why, with the URL; `Sender.call` also turns a status other than the call's success into the
SDK's error (`status_error`).
"""

from __future__ import annotations

from typing import Any

import httpx

from km_core import ClientClosedError, KnowledgeEngineError, KnowledgeEngineUnavailableError

from ._diagnosis import describe_failure
from ._status_errors import status_error

__all__ = ["DEFAULT_TIMEOUT", "Sender", "split_credentials"]

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
"""Timeouts of every call but the long poll. An ask or post waits for the KE's reasoning and
for the answering KBs (up to the KE's 10 s wait timeout each), hence the generous read time."""

KB_HEADER = "Knowledge-Base-Id"
KI_HEADER = "Knowledge-Interaction-Id"


class Sender:
    """Sends an `HttpxClient`'s requests over its `httpx.AsyncClient`.

    Args:
        http: The httpx client to send with.
        base_url: The KE's REST base URL, without user and password.
        auth: The user and password of the configured base URL, if it had them.
    """

    def __init__(
        self, http: httpx.AsyncClient, base_url: str, auth: httpx.BasicAuth | None
    ) -> None:
        self._http = http
        self.base_url = base_url
        self._auth = auth
        self.closed = False
        """Set by `HttpxClient.close`: from then on every request raises `ClientClosedError`."""

    async def send(
        self,
        method: str,
        path: str,
        *,
        kb_id: str | None = None,
        ki_id: str | None = None,
        json_body: Any = None,
        content: str | None = None,
        read_timeout: float | None = None,
        kb_header: bool = True,
    ) -> httpx.Response:
        """Send one request; wrap every httpx error into the SDK's tree.

        ``kb_id`` goes into the ``Knowledge-Base-Id`` header (unless ``kb_header`` is false, as
        for ``POST /sc``, whose body names the KB) and into every error raised.
        """
        endpoint = f"{method} {path}"
        if self.closed:
            raise ClientClosedError(f"{endpoint}: the HttpxClient is closed")
        headers: dict[str, str] = {}
        if kb_id is not None and kb_header:
            headers[KB_HEADER] = kb_id
        if ki_id is not None:
            headers[KI_HEADER] = ki_id
        timeout: Any = httpx.USE_CLIENT_DEFAULT
        if read_timeout is not None:
            default = self._http.timeout
            timeout = httpx.Timeout(
                connect=default.connect, read=read_timeout, write=default.write, pool=default.pool
            )
        if content is not None:
            headers["Content-Type"] = "text/plain; charset=UTF-8"
        try:
            request = self._http.build_request(
                method,
                self.base_url + path,
                headers=headers,
                json=json_body,
                content=content.encode() if content is not None else None,
                timeout=timeout,
            )
            if self._auth is not None:
                return await self._http.send(request, auth=self._auth)
            return await self._http.send(request)
        except httpx.TransportError as exc:  # timeouts too
            raise KnowledgeEngineUnavailableError(
                self._describe(exc, method, path),
                endpoint=endpoint,
                kb_id=kb_id,
                ki_id=ki_id,
            ) from exc
        except httpx.HTTPError as exc:
            raise KnowledgeEngineError(
                self._describe(exc, method, path),
                endpoint=endpoint,
                kb_id=kb_id,
                ki_id=ki_id,
            ) from exc
        except RuntimeError as exc:
            # httpx raises RuntimeError when its client was closed under us.
            if self._http.is_closed:
                raise ClientClosedError(f"{endpoint}: the httpx client is closed") from exc
            raise

    def _describe(self, exc: httpx.HTTPError, method: str, path: str) -> str:
        """Why a request got no answer, with its URL (password masked)."""
        try:
            request = exc.request
        except RuntimeError:  # an error raised before the request was made
            request = httpx.Request(method, self.base_url + path)
        return describe_failure(exc, request)

    async def call(
        self,
        method: str,
        path: str,
        *,
        ok: tuple[int, ...] = (200,),
        kb_id: str | None = None,
        ki_id: str | None = None,
        json_body: Any = None,
        content: str | None = None,
        kb_header: bool = True,
    ) -> httpx.Response:
        """Send one request (as `send`); a status not in ``ok`` raises the SDK's error for it."""
        response = await self.send(
            method,
            path,
            kb_id=kb_id,
            ki_id=ki_id,
            json_body=json_body,
            content=content,
            kb_header=kb_header,
        )
        if response.status_code not in ok:
            raise status_error(response, f"{method} {path}", kb_id, ki_id)
        return response


def split_credentials(base_url: str) -> tuple[str, httpx.BasicAuth | None]:
    """The base URL without its user and password, and those as Basic authentication."""
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError):
        return base_url.rstrip("/"), None  # every request fails later, with its own message
    if not url.userinfo:
        return base_url.rstrip("/"), None
    auth = httpx.BasicAuth(url.username, url.password)
    return str(url.copy_with(userinfo=b"")).rstrip("/"), auth
