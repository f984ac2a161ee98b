"""The exceptions of the Knowledge Mapper SDK.

Every error the SDK raises derives from `KnowledgeMapperError`, so one `except` clause catches
them all. Misuse errors also derive from the matching builtin, so code that catches `ValueError`,
`TypeError` or `LookupError` keeps working.

```
KnowledgeMapperError
├── ConfigurationError (ValueError)            bad settings, ids, names or arguments
│   ├── HandlerDeclarationError (TypeError)     a handler or dependency that cannot be called
│   └── GraphPatternError                       a graph pattern that does not parse, or a
│                                               binding model that does not fit it
├── UnknownKnowledgeInteractionError (LookupError)
├── BindingValidationError (ValueError)        a binding set that is not one
├── ClientClosedError (RuntimeError)           the client was closed (before or during a call)
├── AccessDeniedError (PermissionError)        `KnowledgeBase.call` for a requester that the
│                                               interaction does not permit
├── StartupError                               the KB's lifespan or a startup hook failed
└── KnowledgeEngineError                       the Knowledge Engine could not do what was asked
    ├── KnowledgeEngineUnavailableError         no answer at all: refused, reset, timed out
    ├── KnowledgeBaseStoppedError               the KE stopped the KB: deleted it, its lease
    │                                           expired, or the KE shut down
    ├── UnexpectedResponseError                 an answer the SDK cannot read (bad JSON, shape,
    │                                           a status the KE does not use there)
    └── KnowledgeEngineResponseError            the KE answered with an error status
        ├── SmartConnectorNotFoundError         404: the KB (or what it names) is unknown
        ├── PollConflictError                   409: another long poll holds the KB's slot
        ├── RateLimitedError                    429: too many requests (a proxy's limit)
        └── KnowledgeEngineServerError          5xx: the KE failed; worth trying again later
```

`KnowledgeEngineError.transient` says whether trying again later may succeed: true for an
unavailable KE, an answer that cannot be read, a 409, a 429 and a 5xx; ``retry_after`` is the
pause the answer asked for (``Retry-After``), when it did.

Transports (km-httpx, the TestClient) wrap their own exceptions into this tree, so a handling
loop written against `ClientProtocol` never sees a transport's exception types.
"""

from __future__ import annotations

__all__ = [
    "AccessDeniedError",
    "BindingValidationError",
    "ClientClosedError",
    "ConfigurationError",
    "GraphPatternError",
    "HandlerDeclarationError",
    "KnowledgeBaseStoppedError",
    "KnowledgeEngineError",
    "KnowledgeEngineResponseError",
    "KnowledgeEngineServerError",
    "KnowledgeEngineUnavailableError",
    "KnowledgeMapperError",
    "PollConflictError",
    "RateLimitedError",
    "SmartConnectorNotFoundError",
    "StartupError",
    "UnexpectedResponseError",
    "UnknownKnowledgeInteractionError",
]


class KnowledgeMapperError(Exception):
    """The root of every error raised by the Knowledge Mapper SDK."""


class ConfigurationError(KnowledgeMapperError, ValueError):
    """A setting, id, name or argument is not valid."""


class HandlerDeclarationError(ConfigurationError, TypeError):
    """A handler or dependency factory cannot be used as declared.

    Raised when the handler is decorated, never when a request arrives. The message names the
    handler and, where one is at fault, the parameter (and the path of dependency factories
    that leads to it).
    """


class GraphPatternError(ConfigurationError):
    """A graph pattern that cannot be used, found when its interaction is declared.

    Attributes:
        pattern: The pattern as given.
        ki_name: The interaction it belongs to, when known.
        line: The 1-based line of the pattern where the problem is, when known.
        column: The 1-based column on that line, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        pattern: str,
        ki_name: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.pattern = pattern
        self.ki_name = ki_name
        self.line = line
        self.column = column
        where = f"knowledge interaction {ki_name!r}: " if ki_name else ""
        at = f" at line {line}, column {column}" if line is not None and column is not None else ""
        super().__init__(f"{where}{message}{at}, in graph pattern {pattern!r}")


class UnknownKnowledgeInteractionError(KnowledgeMapperError, LookupError):
    """No knowledge interaction of this knowledge base has that name or id."""


class BindingValidationError(KnowledgeMapperError, ValueError):
    """A binding set (from a handler, a caller or the network) is not a valid binding set."""


class ClientClosedError(KnowledgeMapperError, RuntimeError):
    """The client was closed, before the call or while it was under way."""


class AccessDeniedError(KnowledgeMapperError, PermissionError):
    """The requesting knowledge base may not use the interaction it called.

    Raised by `KnowledgeBase.call`; the handling loop answers such a request per the KB's error
    policy instead. The message names the requester and the interaction, and nothing of why.
    """


class StartupError(KnowledgeMapperError):
    """A knowledge base could not start serving: its lifespan or a startup hook raised.

    What had started is stopped again before this is raised; the original exception is its
    ``__cause__``.

    Attributes:
        kb_id: The knowledge base that could not start.
    """

    def __init__(self, message: str, *, kb_id: str) -> None:
        self.kb_id = kb_id
        super().__init__(message)


class KnowledgeEngineError(KnowledgeMapperError):
    """The Knowledge Engine could not do what was asked.

    Attributes:
        transient: Whether the same call may succeed later (the KE restarting, a stale poll
            timing out); the handling loop backs off and polls again on transient errors.
        message: What went wrong, in the KE's own words when it gave any.
        endpoint: The operation, for example ``"GET /sc/handle"``.
        kb_id: The knowledge base the request was made for, if any.
        ki_id: The knowledge interaction the request was made for, if any.
        retry_after: Seconds the answer asked the client to wait before trying again
            (``Retry-After``), if it did.
    """

    transient: bool = False
    retry_after: float | None = None

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        kb_id: str | None = None,
        ki_id: str | None = None,
    ) -> None:
        self.message = message
        self.endpoint = endpoint
        self.kb_id = kb_id
        self.ki_id = ki_id
        super().__init__(self._describe())

    def _details(self) -> list[str]:
        details = []
        if self.endpoint:
            details.append(self.endpoint)
        if self.kb_id:
            details.append(f"knowledge base {self.kb_id}")
        if self.ki_id:
            details.append(f"knowledge interaction {self.ki_id}")
        return details

    def _describe(self) -> str:
        details = self._details()
        return f"{self.message} ({'; '.join(details)})" if details else self.message


class KnowledgeEngineUnavailableError(KnowledgeEngineError):
    """The Knowledge Engine could not be reached, or did not answer in time."""

    transient = True


class KnowledgeBaseStoppedError(KnowledgeEngineError):
    """The Knowledge Engine stopped this knowledge base while it served.

    The KE ends a KB's long poll with 410 when the KB is deleted (by anyone, through
    ``DELETE /sc``), when its lease expires, or when the KE itself shuts down. The KB is then
    gone from the KE, so `KnowledgeBase.serve` does not unregister it and raises this; a
    supervisor that restarts the process registers it again once the KE is back.
    """


class UnexpectedResponseError(KnowledgeEngineError):
    """The KE answered with something the SDK cannot read: malformed JSON, a wrong shape.

    Also a status the KE does not use for the call (a proxy's 401 or 418, say). Transient: a
    proxy or a KE in trouble may answer sensibly again, so the handling loop backs off and
    tries again.

    Attributes:
        status_code: The HTTP status of the answer, when there was one.
        body: The start of the answer's body, for the log.
    """

    transient = True

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        body: str = "",
        endpoint: str | None = None,
        kb_id: str | None = None,
        ki_id: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.body = body
        super().__init__(message, endpoint=endpoint, kb_id=kb_id, ki_id=ki_id)

    def _details(self) -> list[str]:
        status = [f"status {self.status_code}"] if self.status_code is not None else []
        return [*status, *super()._details()]


class KnowledgeEngineResponseError(KnowledgeEngineError):
    """The Knowledge Engine answered with an error status.

    Attributes:
        status_code: The HTTP status the KE answered with (each subclass has its default).
    """

    default_status_code: int = 400

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        endpoint: str | None = None,
        kb_id: str | None = None,
        ki_id: str | None = None,
    ) -> None:
        self.status_code = self.default_status_code if status_code is None else status_code
        super().__init__(message, endpoint=endpoint, kb_id=kb_id, ki_id=ki_id)

    def _details(self) -> list[str]:
        return [f"status {self.status_code}", *super()._details()]


class SmartConnectorNotFoundError(KnowledgeEngineResponseError):
    """404: the KE does not know the knowledge base (or the interaction) the request named.

    After a KE restart or an expired lease, every request of a KB fails this way until the KB
    registers again.
    """

    default_status_code = 404


class PollConflictError(KnowledgeEngineResponseError):
    """409: another long poll for this knowledge base is still open.

    The KE allows one open ``GET /sc/handle`` per knowledge base. A stale poll (one whose client
    gave up before the KE's 29 s heartbeat) holds the slot until the KE times it out.
    """

    default_status_code = 409
    transient = True


class RateLimitedError(KnowledgeEngineResponseError):
    """429: too many requests, usually from a proxy in front of the KE; see ``retry_after``."""

    default_status_code = 429
    transient = True


class KnowledgeEngineServerError(KnowledgeEngineResponseError):
    """5xx: the Knowledge Engine (or a proxy in front of it) failed to handle the request."""

    default_status_code = 500
    transient = True
