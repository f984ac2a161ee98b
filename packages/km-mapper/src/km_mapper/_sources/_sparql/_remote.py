"""A SPARQL endpoint over HTTP: the SPARQL 1.1 protocol on one `httpx.AsyncClient`.

Queries are POSTed to the endpoint as ``application/sparql-query`` with ``Accept:
application/sparql-results+json``; updates to the update endpoint as
``application/sparql-update``. One request per call, never retried: the KB's error policy
answers a failure. The client's pool holds as many connections as the KB runs handlers, and
``timeout`` bounds each phase of a request (connecting, sending, waiting, reading).

Credentials are read from the environment when the endpoint opens: HTTP basic auth from
``username_env`` and ``password_env``, extra headers from ``headers_env``. They never appear in
a message: what a message quotes from elsewhere (an answer's body, a transport error) is
scrubbed of them, and the URLs it names are shown without their query string.
"""

from __future__ import annotations

import base64
import logging
import os
import re
from collections.abc import Mapping

import httpx

from km_mapper._errors import MapperConfigError, SourceError

__all__ = ["RemoteEndpoint"]

logger = logging.getLogger(__name__)

QUERY_TYPE = "application/sparql-query"
UPDATE_TYPE = "application/sparql-update"
RESULTS_TYPE = "application/sparql-results+json"
_EXCERPT = 300
_SPACES = re.compile(r"\s+")
_HEADER_VALUE = re.compile(r"[\x20-\x7e\t]*")


def shown_url(url: str) -> str:
    """A URL for messages: without its query string or fragment, which may hold a key."""
    return re.split(r"[?#]", url, maxsplit=1)[0]


class RemoteEndpoint:
    """A SPARQL 1.1 endpoint (and its update endpoint) over HTTP.

    Args:
        source: The source's name, for messages.
        endpoint: The query endpoint's URL.
        update_endpoint: The update endpoint's URL; default: ``endpoint``.
        timeout: Seconds for each phase of a request.
        username_env: The environment variable that holds the basic-auth user name.
        password_env: The one that holds its password.
        headers_env: Header name to the environment variable that holds its value.

    Raises:
        MapperConfigError: a URL that is not ``http(s)://`` or holds credentials, or only one
            of ``username_env`` and ``password_env``.
    """

    def __init__(
        self,
        source: str,
        *,
        endpoint: str,
        update_endpoint: str | None = None,
        timeout: float = 30.0,
        username_env: str | None = None,
        password_env: str | None = None,
        headers_env: Mapping[str, str] | None = None,
    ) -> None:
        self._source = source
        self._endpoint = self._checked_url("endpoint", endpoint)
        self._update_endpoint = self._checked_url("update_endpoint", update_endpoint or endpoint)
        self._timeout = timeout
        if (username_env is None) != (password_env is None):
            raise MapperConfigError(
                f"SPARQL source {source!r}: give both 'username_env' and 'password_env' (for "
                "HTTP basic auth), or neither"
            )
        self._username_env = username_env
        self._password_env = password_env
        self._headers_env = dict(headers_env or {})
        self._client: httpx.AsyncClient | None = None
        self._secrets: tuple[str, ...] = ()

    def _checked_url(self, key: str, url: str) -> str:
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL:
            parsed = None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
            raise MapperConfigError(
                f"SPARQL source {self._source!r}: {key} {shown_url(url)!r} is not an http:// or "
                "https:// URL"
            )
        if parsed.userinfo:
            raise MapperConfigError(
                f"SPARQL source {self._source!r}: {key} holds credentials ('user:password@'); "
                "remove them and name the environment variables that hold them in 'username_env' "
                "and 'password_env'"
            )
        return url

    @property
    def where(self) -> str:
        """The endpoint's URL, without its query string."""
        return shown_url(self._endpoint)

    # ---------------------------------------------------------------- lifecycle

    async def open(self, *, pool_size: int) -> None:
        """Read the credentials, make the client and check the endpoint with ``ASK {}``.

        Raises:
            MapperConfigError: an environment variable named for a credential is not set, or
                holds what no header can carry.
            SourceError: the endpoint cannot be reached, or answers the check with an error or
                with something other than SPARQL JSON results.
        """
        await self.close()
        auth, headers = self._credentials()
        limits = httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size)
        self._client = httpx.AsyncClient(
            auth=auth, headers=headers, timeout=httpx.Timeout(self._timeout), limits=limits
        )
        try:
            response = await self._post(self._endpoint, "ASK {}", QUERY_TYPE, "the check ASK {}")
            document = self._results(response, "the check ASK {}")
            if not isinstance(document, dict) or not isinstance(document.get("boolean"), bool):
                raise SourceError(
                    f"SPARQL source {self._source!r}: {self.where} answered the check ASK {{}} "
                    "with JSON that is not an ASK result: is it a SPARQL query endpoint?"
                )
        except BaseException:
            await self.close()
            raise
        logger.debug("SPARQL source %r: the endpoint %s answers", self._source, self.where)

    async def close(self) -> None:
        """Close the client and its connections."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def _credentials(self) -> tuple[httpx.BasicAuth | None, dict[str, str]]:
        secrets: list[str] = []
        auth = None
        if self._username_env is not None and self._password_env is not None:
            username = self._env("username_env", self._username_env)
            password = self._env("password_env", self._password_env)
            auth = httpx.BasicAuth(username, password)
            token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
            secrets += [password, token]
        headers: dict[str, str] = {}
        for header, variable in self._headers_env.items():
            value = self._env(f"headers_env[{header!r}]", variable)
            if not _HEADER_VALUE.fullmatch(value):
                raise MapperConfigError(
                    f"SPARQL source {self._source!r}: the environment variable {variable!r} "
                    f"(header {header!r}) holds a line break or a character beyond ASCII, "
                    "which no HTTP header may carry"
                )
            headers[header] = value
            # The value, and its credentials without the scheme ("Bearer <token>").
            secrets += [value, value.split(None, 1)[-1]]
        self._secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))
        return auth, headers

    def _env(self, key: str, variable: str) -> str:
        value = os.environ.get(variable)
        if value is None:
            raise MapperConfigError(
                f"SPARQL source {self._source!r}: {key} names the environment variable "
                f"{variable!r}, which is not set; set it before starting"
            )
        return value

    # ---------------------------------------------------------------- requests

    async def select(self, query: str) -> object:
        """POST a query; its SPARQL JSON results, parsed."""
        response = await self._post(self._endpoint, query, QUERY_TYPE, "a query")
        return self._results(response, "a query")

    async def update(self, update: str) -> None:
        """POST an update."""
        await self._post(self._update_endpoint, update, UPDATE_TYPE, "an update")

    async def _post(self, url: str, text: str, content_type: str, what: str) -> httpx.Response:
        client = self._client
        if client is None:
            raise SourceError(f"SPARQL source {self._source!r} is not open (or closed already)")
        headers = {"Content-Type": content_type}
        if content_type == QUERY_TYPE:
            headers["Accept"] = RESULTS_TYPE
        try:
            response = await client.post(url, content=text.encode("utf-8"), headers=headers)
        except httpx.TimeoutException as exc:
            raise SourceError(
                f"SPARQL source {self._source!r}: {shown_url(url)} did not answer {what} within "
                f"{self._timeout:g} s ({type(exc).__name__}); raise the source's 'timeout' if it "
                "needs longer"
            ) from exc
        except httpx.HTTPError as exc:
            raise SourceError(
                f"SPARQL source {self._source!r}: could not send {what} to {shown_url(url)}: "
                f"{type(exc).__name__}: {self._scrub(str(exc)) or 'no details'}"
            ) from exc
        if not response.is_success:
            raise SourceError(
                f"SPARQL source {self._source!r}: {shown_url(url)} answered {what} with HTTP "
                f"{response.status_code} {response.reason_phrase}{self._hint(response)}: "
                f"{self._excerpt(response)}"
            )
        return response

    def _results(self, response: httpx.Response, what: str) -> object:
        try:
            return response.json()
        except ValueError:
            content_type = response.headers.get("Content-Type", "none")
            raise SourceError(
                f"SPARQL source {self._source!r}: {self.where} answered {what} with something "
                f"other than SPARQL JSON results (Content-Type {content_type!r}): "
                f"{self._excerpt(response)}"
            ) from None

    def _hint(self, response: httpx.Response) -> str:
        if response.status_code not in (401, 403):
            return ""
        names = [f"{n!r}" for n in (self._username_env, self._password_env) if n is not None]
        names += [f"{variable!r}" for variable in self._headers_env.values()]
        if not names:
            return " (the source sends no credentials: give 'username_env' and 'password_env')"
        return f" (check the credentials in the environment variables {', '.join(names)})"

    def _excerpt(self, response: httpx.Response) -> str:
        try:
            text = response.text
        except (UnicodeDecodeError, LookupError):
            text = response.content.decode("utf-8", "replace")
        # Scrubbed before and after white space is folded, so a secret is found either way.
        text = self._scrub(_SPACES.sub(" ", self._scrub(text)).strip())
        if not text:
            return "(no body)"
        if len(text) > _EXCERPT:
            text = text[:_EXCERPT] + " ..."
        return repr(text)

    def _scrub(self, text: str) -> str:
        """``text`` with every secret of this endpoint replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text
