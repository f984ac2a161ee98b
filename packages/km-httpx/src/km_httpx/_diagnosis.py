"""Why a request to the Knowledge Engine failed, in words a user can act on.

httpx reports a failed connection as one exception type whatever the cause; the cause is in its
chain (``ConnectionRefusedError``, ``ssl.SSLError``, ``socket.gaierror``). `describe_failure`
turns it into a sentence that names the URL (its password masked by `display_url`) and says
what to check: nothing listening, a name that does not resolve, TLS, a timeout, or something that
does not speak HTTP as the KE does.
"""

from __future__ import annotations

import socket
import ssl

import httpx

__all__ = ["describe_failure", "display_url", "not_a_knowledge_engine"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def display_url(url: str | httpx.URL) -> str:
    """The URL with its password, if any, replaced by ``***``: fit for logs and messages.

    Args:
        url: A URL as configured.

    Returns:
        The URL to show.
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "<an invalid URL>"
    if parsed.password:
        return str(parsed.copy_with(username=parsed.username, password="***"))
    return str(url)


def _address(url: httpx.URL) -> str:
    port = url.port or _DEFAULT_PORTS.get(url.scheme)
    return f"{url.host}:{port}" if port else url.host


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and its causes and contexts, innermost last, without loops."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _timeout_seconds(request: httpx.Request, key: str) -> str:
    seconds = request.extensions.get("timeout", {}).get(key)
    return f" within {seconds:g} s" if isinstance(seconds, int | float) else ""


def describe_failure(exc: httpx.HTTPError, request: httpx.Request) -> str:
    """A sentence saying why ``request`` got no answer.

    Args:
        exc: What httpx raised.
        request: The request that failed.
    """
    url = request.url
    where = display_url(url.copy_with(query=None))
    address = _address(url)
    if isinstance(exc, httpx.ConnectTimeout):
        return (
            f"no connection to {address} for {where}{_timeout_seconds(request, 'connect')} "
            "(connect timeout): is the host up, and is a firewall dropping the connection?"
        )
    if isinstance(exc, httpx.ReadTimeout):
        return f"{where} did not answer{_timeout_seconds(request, 'read')} (read timeout)"
    if isinstance(exc, httpx.TimeoutException):
        return f"{where} timed out ({type(exc).__name__})"
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            reason = cause.verify_message or cause.reason or str(cause)
            return (
                f"the TLS certificate of {address} could not be verified for {where} ({reason}); "
                "give HttpxClient an httpx.AsyncClient with verify= set to your CA bundle"
            )
        if isinstance(cause, ssl.SSLError):
            reason = cause.reason or str(cause)
            return (
                f"the TLS handshake for {where} failed ({reason}): does {address} speak https, "
                "and does the URL's scheme match?"
            )
        if isinstance(cause, ConnectionRefusedError):
            return f"nothing is listening at {address}, where {where} points (connection refused)"
        if isinstance(cause, socket.gaierror):
            return (
                f"the host name {url.host!r} of {where} does not resolve "
                f"({cause.strerror or cause})"
            )
    if isinstance(exc, httpx.RemoteProtocolError) and "without sending a response" in str(exc):
        # A Knowledge Engine that stopped (or was killed) while a request was under way, as
        # well as an https server spoken to in plain http, closes the connection unanswered.
        hint = " If it never answered, is it an https server?" if url.scheme == "http" else ""
        return (
            f"{address} closed the connection before {where} answered ({exc}): did the "
            f"Knowledge Engine stop?{hint}"
        )
    if isinstance(exc, httpx.RemoteProtocolError):
        hint = " (is it an https server?)" if url.scheme == "http" else ""
        return f"{address} did not answer {where} as an HTTP server does{hint}: {exc}"
    if isinstance(exc, httpx.ReadError | httpx.WriteError) and not str(exc):
        return (
            f"the connection to {address} broke before {where} answered "
            f"({type(exc).__name__}): did the Knowledge Engine stop?"
        )
    if isinstance(exc, httpx.TransportError):
        return f"could not reach {where}: {type(exc).__name__}: {exc}"
    return f"the request to {where} failed: {type(exc).__name__}: {exc}"


def not_a_knowledge_engine(base_url: str, status: int, what: str) -> str:
    """The message for a server that answers ``GET /version`` but is not a Knowledge Engine.

    Args:
        base_url: The configured REST base URL.
        status: The status it answered with.
        what: What was wrong with the answer.
    """
    shown = display_url(base_url)
    hint = (
        "; check the URL: the Knowledge Engine's REST API base usually ends in /rest, for "
        "example http://localhost:8280/rest"
        if not shown.rstrip("/").endswith("/rest")
        else "; check the URL"
    )
    return (
        f"something answers at {shown}, but not as a Knowledge Engine's REST API does: "
        f"GET {shown}/version {what} (status {status}){hint}"
    )
