"""The Knowledge Engine's Smart Connector REST API over a `LocalKnowledgeEngine`, as an ASGI app.

`create_app` serves the engine under ``/rest`` the way the TNO Knowledge Engine 1.5 does: the
same paths (each with and without a trailing slash), headers, JSON fields, status codes and
message bodies, compact JSON with null fields left out, and the KE's CORS headers on every
response. The request parsing follows the KE's Jackson and bean-validation layers: malformed
JSON is a 400 ``"JsonParseException: ..."``, unknown fields are ignored, scalars are coerced
(``"true"`` to a boolean, a number to a string), and a missing required field is a 400
``"ConstraintViolationException: ..."``. A body is read up to `MAX_BODY_SIZE` bytes and its
JSON nested up to `MAX_JSON_DEPTH` levels (Jackson's limit); beyond either it is a 400 too.

The long poll (``GET /sc/handle``) is held by the engine. When the client goes away while its
poll is held, the engine's poll is cancelled, so the KB's only poll slot is free again at once
(the engine then keeps a request meant for that poll for the next one).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import enum
import json
import logging
import re
import types
import typing
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from km_core import (
    HandleRequest,
    KnowledgeBaseInfo,
    KnowledgeEngineResponseError,
    KnowledgeInteractionRegistration,
    KnowledgeInteractionType,
    PollResult,
)
from km_core.terms import iri_problem

from .engine import LocalKnowledgeEngine
from .engine._values import check_binding_set

__all__ = ["create_app"]

logger = logging.getLogger("km_testing.server")

KB_HEADER = "Knowledge-Base-Id"
KI_HEADER = "Knowledge-Interaction-Id"

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, HEAD",
    "Access-Control-Allow-Headers": "Accept, Content-Type, Knowledge-Base-Id, "
    "Knowledge-Interaction-Id",
}
"""What the KE's ``CORSFilter`` puts on every response."""

HEARTBEAT_INFO = (
    "This is a heartbeat message that the server is still alive, please renew your long polling "
    "request to be notified of future KI activations. Knowledge Base '{kb_id}' does not have any "
    "Answer or React Knowledge Interaction registered. Only those two types of Knowledge "
    "Interactions require the usage of this long polling method."
)
"""The 202 body of a heartbeat for a KB without ANSWER or REACT interactions."""

STOPPING = (
    "This long polling request is cancelled by the server because it or the Knowledge Base is "
    "stopping. Do not reinitiate this request."
)
"""The 410 body's message when the KB is deleted while its poll is held."""

NOT_JSON_CONTAINER = "The JSON should be either an JSON Object or an JSON Array."
NEEDS_BOTH_KEYS = "The JSON Object should contain both a recipientSelector and bindingSet key."
BAD_BINDING_SET = "The BindingSet should be a valid JSON array with Bindings."
BAD_SELECTOR = (
    "The RecipientSelector should be a valid JSON object with a singleKnowledgeBase key that "
    "leads to a string value of a KnowledgeBaseId."
)

MAX_BODY_SIZE = 4 * 1024 * 1024
"""The largest request body the server reads, in bytes (4 MiB).

A binding set of thousands of bindings is far smaller. The real KE sets no limit of its own
(Jetty limits only form bodies); a larger body is a 400 with the KE's error body, answered from
its ``Content-Length`` before any of it is read when that header gives the size away.
"""

MAX_JSON_DEPTH = 1000
"""How deeply arrays and objects may nest in a JSON body: the default of Jackson's
``StreamReadConstraints``, with which the KE reads its bodies (deeper is a 400)."""

TOO_LARGE = (
    f"The request body is larger than the {MAX_BODY_SIZE} bytes this local Knowledge Engine reads."
)
TOO_DEEP = (
    f"StreamConstraintsException: Document nesting depth ({MAX_JSON_DEPTH + 1}) exceeds the "
    f"maximum allowed ({MAX_JSON_DEPTH}, from `StreamReadConstraints.getMaxNestingDepth()`)"
)
"""Jackson's message for JSON nested deeper than `MAX_JSON_DEPTH`."""
NESTED_TOO_DEEPLY_FOR_PYTHON = (
    "StreamConstraintsException: Document nesting depth exceeds the maximum this local "
    f"Knowledge Engine reads (Python's recursion limit, just under {MAX_JSON_DEPTH})"
)
"""The message for JSON within Jackson's nesting limit that Python's decoder cannot read."""
EARLY_EOF = "EofException: Early EOF"
"""Jetty's word for a body that ended before its ``Content-Length``; the client that went away
never reads it."""

KI_TYPE_FIELD = "knowledgeInteractionType"
KI_BASE_CLASS = "eu.knowledge.engine.rest.model.KnowledgeInteractionBase"
_KI_TYPES = sorted(kind.value for kind in KnowledgeInteractionType)
_KNOWN_TYPE_IDS = sorted([*_KI_TYPES, "KnowledgeInteractionBase"])

_VIOLATION_ORDER = {
    name: index
    for index, name in enumerate(
        ("knowledgeBaseName", "knowledgeBaseId", "knowledgeBaseDescription")
    )
}
M = TypeVar("M", bound=BaseModel)
Handler = Callable[[Request], Awaitable[Response]]


# ---------------------------------------------------------------------- responses


def _default(value: Any) -> Any:
    """JSON for what `json` cannot write: dates as the KE writes them, enums by value."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        # The KE's RFC3339DateFormat: milliseconds and a +00:00 offset.
        return value.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


JSON_UTF8 = "application/json;charset=utf-8"
"""The media type of the KE's own answers."""
_MAPPED_EXCEPTION = re.compile(r"[A-Z][A-Za-z]*Exception: ")


def _json(status: int, body: Any, media_type: str = JSON_UTF8) -> Response:
    """A compact JSON response, as Jackson writes it."""
    content = json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=_default)
    return Response(content.encode(), status_code=status, media_type=media_type)


def _wire(model: BaseModel) -> dict[str, Any]:
    """A model's wire form: camelCase keys, null fields left out (dates stay dates)."""
    return model.model_dump(by_alias=True, exclude_none=True)


def _message(status: int, message: str, message_type: str = "error") -> Response:
    """The KE's ``ResponseMessage`` body.

    The KE's exception mappers (bean validation, Jackson) answer as plain
    ``application/json``; its resources add ``;charset=utf-8``.
    """
    media_type = "application/json" if _MAPPED_EXCEPTION.match(message) else JSON_UTF8
    return _json(status, {"messageType": message_type, "message": message}, media_type)


def _empty(status: int = 200) -> Response:
    """A response without a body."""
    return Response(status_code=status)


def _bad(message: str) -> KnowledgeEngineResponseError:
    """A 400 with the given message."""
    return KnowledgeEngineResponseError(message, status_code=400)


# ---------------------------------------------------------------------- request bodies


def _reject_constant(name: str) -> Any:
    """Refuse ``NaN`` and ``Infinity``, which Python's json reads and Jackson does not."""
    raise ValueError(
        f"Non-standard token '{name}': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow"
    )


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
# A JSON string (even an unterminated one, whose brackets are no nesting either), or a bracket.
_NESTING_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]')


async def _body(request: Request) -> bytes:
    """The request body, read up to `MAX_BODY_SIZE` bytes.

    Raises:
        KnowledgeEngineResponseError: 400 when the body is larger; refused from its
            ``Content-Length`` without reading it when that header says so.
        ClientDisconnect: the client went away before it sent the whole body.
    """
    declared = request.headers.get("content-length", "").strip()
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY_SIZE:
        raise _bad(TOO_LARGE)
    body = bytearray()
    async for chunk in request.stream():  # ends with the body (or the client: ClientDisconnect)
        body += chunk
        if len(body) > MAX_BODY_SIZE:
            raise _bad(TOO_LARGE)
    return bytes(body)


def _nested_too_deeply(text: str) -> bool:
    """Whether the first JSON value in ``text`` nests deeper than `MAX_JSON_DEPTH`.

    Brackets inside strings do not count, nor does anything after the first value, which
    Jackson does not read. (A scan of every bracket: only for text Python could not decode.)
    """
    if text[:1] not in ("[", "{") or text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return False  # a scalar, or too few brackets to nest that deep
    depth = 0
    for token in _NESTING_TOKEN.finditer(text):
        char = text[token.start()]
        if char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return True
        elif char in "]}":
            depth -= 1
            if depth <= 0:
                return False
    return False


async def _json_body(request: Request) -> Any:
    """The request's JSON value; ``None`` for an empty body (as Jackson reads it) or ``null``.

    Like Jackson, text after the first complete value is ignored.

    Raises:
        KnowledgeEngineResponseError: 400 ``JsonParseException: ...`` for malformed JSON,
            ``StreamConstraintsException: ...`` for JSON nested too deeply, and a 400 for a
            body over `MAX_BODY_SIZE`.
        ClientDisconnect: the client went away before it sent the whole body.
    """
    raw = await _body(request)
    try:
        text = raw.decode("utf-8").lstrip()
    except UnicodeDecodeError as exc:
        raise _bad(f"JsonParseException: Invalid UTF-8 start byte: {exc.reason}") from None
    if not text:
        return None
    try:
        value, _ = _DECODER.raw_decode(text)
    except ValueError as exc:
        raise _bad(f"JsonParseException: {exc}") from None
    except RecursionError:
        # Python's decoder recurses once per level: under the default recursion limit (1000)
        # it gives up on everything deeper than Jackson's limit, and on a little within it.
        if _nested_too_deeply(text):
            raise _bad(TOO_DEEP) from None
        raise _bad(NESTED_TOO_DEEPLY_FOR_PYTHON) from None
    return value


def _json_kind(value: Any) -> str:
    """How Jackson names a JSON value's token in its messages."""
    if isinstance(value, list):
        return "Array"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int | float):
        return "Number"
    return "String"


def _scalar_text(value: Any) -> Any:
    """Jackson's coercion of a JSON scalar into a string field; other values as they are."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return value


def _is_string_field(annotation: Any) -> bool:
    """Whether a model field holds a string (``str`` or ``str | None``)."""
    if annotation is str:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return set(typing.get_args(annotation)) == {str, type(None)}
    return False


def _model(model: type[M], body: Any, what: str) -> M:
    """Validate a JSON object into a model, with the KE's 400 messages.

    Deserialisation problems (a value of the wrong kind) are reported the way Jackson does,
    before bean validation reports the missing required fields.
    """
    if body is None:
        raise _bad(f"ConstraintViolationException: {what} must not be null\n ")
    if not isinstance(body, dict):
        raise _bad(
            f"MismatchedInputException: Cannot deserialize value of type `{model.__name__}` "
            f"from {_json_kind(body)} value"
        )
    coerced = dict(body)
    for name, field in model.model_fields.items():
        key = field.alias or name
        if key in coerced and _is_string_field(field.annotation):
            coerced[key] = _scalar_text(coerced[key])
    try:
        return model.model_validate(coerced)
    except ValidationError as exc:
        errors = exc.errors()
        # A required field that is absent or null is bean validation's @NotNull; anything else
        # is a value Jackson could not read.
        wrong = [e for e in errors if e["type"] != "missing" and e.get("input") is not None]
        if wrong:
            error = wrong[0]
            where = ".".join(str(part) for part in error["loc"])
            raise _bad(
                f"InvalidFormatException: Cannot deserialize value of type `{model.__name__}`"
                f" (property '{where}'): {error['msg']}"
            ) from None
        # In the order the KE's validator reports them.
        missing = sorted(
            (".".join(str(part) for part in error["loc"]) for error in errors),
            key=lambda name: _VIOLATION_ORDER.get(name, len(_VIOLATION_ORDER)),
        )
        raise _bad(
            "ConstraintViolationException: "
            + "".join(f"{what}.{name} must not be null\n " for name in missing)
        ) from None


def _is_uri(text: str) -> bool:
    """Roughly what ``java.net.URI`` accepts: no spaces, control or forbidden characters.

    A relative reference is fine too, so km-core's IRI check is asked about the characters
    alone: those of ``text`` after a scheme of its own.
    """
    return bool(text) and iri_problem("x:" + text) is None


def _recipients(selector: Any) -> list[str] | None:
    """The recipient selector's KB ids; ``None`` means everybody."""
    if not isinstance(selector, dict):
        raise _bad(BAD_SELECTOR)
    if "knowledgeBases" in selector:
        ids = selector["knowledgeBases"]
        if not isinstance(ids, list) or not all(
            isinstance(kb_id, str) and _is_uri(kb_id) for kb_id in ids
        ):
            raise _bad(BAD_SELECTOR)
        return list(ids) or None
    if "singleKnowledgeBase" in selector:
        kb_id = selector["singleKnowledgeBase"]
        if not isinstance(kb_id, str) or not _is_uri(kb_id):
            raise _bad(BAD_SELECTOR)
        return [kb_id]
    raise _bad(BAD_SELECTOR)


def _proactive_body(body: Any) -> tuple[list[Any], list[str] | None]:
    """The binding set and recipients of an ``/sc/ask`` or ``/sc/post`` body."""
    if isinstance(body, list):
        binding_set: Any = body
        recipients = None
    elif isinstance(body, dict):
        if "recipientSelector" not in body or "bindingSet" not in body:
            raise _bad(NEEDS_BOTH_KEYS)
        recipients = _recipients(body["recipientSelector"])
        binding_set = body["bindingSet"]
        if not isinstance(binding_set, list):
            raise _bad(BAD_BINDING_SET)
    else:
        raise _bad(NOT_JSON_CONTAINER)
    # The KE reads the bindings with the body, before it looks at the headers.
    check_binding_set(binding_set)
    return binding_set, recipients


def _handle_request_id(value: Any) -> int | None:
    """``handleRequestId`` as Jackson reads a Java ``int``."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise _bad(
        "InvalidFormatException: Cannot deserialize value of type `int` from "
        f"{_json_kind(value)} {json.dumps(value)}: not a valid `int` value"
    )


async def _until_disconnected(receive: Receive) -> None:
    """Return when the client has gone away (``http.disconnect``); the body is discarded."""
    try:
        while (await receive())["type"] != "http.disconnect":
            pass
    except Exception:  # a server that cannot tell us: then we never know, and wait on
        logger.debug("cannot watch the connection for a disconnect", exc_info=True)
        await asyncio.get_running_loop().create_future()


# ---------------------------------------------------------------------- the endpoints


class _Api:
    """The REST endpoints, each a thin layer over one engine method."""

    def __init__(self, engine: LocalKnowledgeEngine) -> None:
        self.engine = engine

    async def version(self, request: Request) -> Response:
        """``GET /version``."""
        return _json(200, {"version": self.engine.version})

    async def list_kbs(self, request: Request) -> Response:
        """``GET /sc``: all KBs, or the one the header names."""
        kb_id = request.headers.get(KB_HEADER)
        kbs = self.engine.list_kbs() if kb_id is None else [self.engine.get_kb(kb_id)]
        return _json(200, [_wire(kb) for kb in kbs])

    async def register_kb(self, request: Request) -> Response:
        """``POST /sc``."""
        info = _model(KnowledgeBaseInfo, await _json_body(request), "scPost.arg0")
        await self.engine.register_kb(info)
        return _empty()

    async def delete_kb(self, request: Request) -> Response:
        """``DELETE /sc``."""
        await self.engine.delete_kb(request.headers.get(KB_HEADER))
        return _empty()

    async def renew_lease(self, request: Request) -> Response:
        """``PUT /sc/lease/renew``."""
        lease = self.engine.renew_lease(request.headers.get(KB_HEADER))
        return _json(200, _wire(lease))

    async def list_kis(self, request: Request) -> Response:
        """``GET /sc/ki``."""
        kis = self.engine.list_kis(request.headers.get(KB_HEADER))
        return _json(200, [_wire(ki) for ki in kis])

    async def register_ki(self, request: Request) -> Response:
        """``POST /sc/ki``: the type is resolved first, as Jackson's polymorphic reading does."""
        body = await _json_body(request)
        if isinstance(body, dict):
            kind = body.get(KI_TYPE_FIELD)
            if kind is None:
                raise _bad(
                    "InvalidTypeIdException: Could not resolve subtype of [simple type, class "
                    f"{KI_BASE_CLASS}]: missing type id property '{KI_TYPE_FIELD}'"
                )
            if kind not in _KI_TYPES:
                raise _bad(
                    f"InvalidTypeIdException: Could not resolve type id '{_scalar_text(kind)}' "
                    f"as a subtype of `{KI_BASE_CLASS}`: known type ids = "
                    f"[{', '.join(_KNOWN_TYPE_IDS)}]"
                )
        registration = _model(KnowledgeInteractionRegistration, body, "scKiPost.arg1")
        ki_id = self.engine.register_ki(request.headers.get(KB_HEADER), registration)
        return _json(200, {"knowledgeInteractionId": ki_id})

    async def delete_ki(self, request: Request) -> Response:
        """``DELETE /sc/ki``."""
        self.engine.delete_ki(request.headers.get(KB_HEADER), request.headers.get(KI_HEADER))
        return _empty()

    async def ask(self, request: Request) -> Response:
        """``POST /sc/ask``: a bare binding set, or one with a recipient selector."""
        binding_set, recipients = _proactive_body(await _json_body(request))
        result = await self.engine.ask(
            request.headers.get(KB_HEADER), request.headers.get(KI_HEADER), binding_set, recipients
        )
        return _json(200, _wire(result))

    async def post(self, request: Request) -> Response:
        """``POST /sc/post``: a bare binding set, or one with a recipient selector."""
        binding_set, recipients = _proactive_body(await _json_body(request))
        result = await self.engine.post(
            request.headers.get(KB_HEADER), request.headers.get(KI_HEADER), binding_set, recipients
        )
        return _json(200, _wire(result))

    async def poll(self, request: Request) -> Response:
        """``GET /sc/handle``: the long poll; 200, 202 (heartbeat) or 410 (the KB stops)."""
        kb_id = request.headers.get(KB_HEADER)
        if kb_id is None:
            raise _bad("ConstraintViolationException: scHandleGet.arg0 must not be null\n ")
        outcome = await self._poll_while_connected(kb_id, request.receive)
        if outcome is None:
            return _empty(202)  # nobody is listening any more
        result, handle_request = outcome
        if result is PollResult.HANDLE and handle_request is not None:
            return _json(200, _wire(handle_request))
        if result is PollResult.EXIT:
            return _message(410, STOPPING, "message")
        if self._serves_requests(kb_id):
            return _empty(202)
        return _message(202, HEARTBEAT_INFO.format(kb_id=kb_id), "info")

    async def _poll_while_connected(
        self, kb_id: str, receive: Receive
    ) -> tuple[PollResult, HandleRequest | None] | None:
        """The engine's poll, abandoned when the client disconnects (then ``None``).

        An abandoned poll keeps the KB's slot until its heartbeat, as on the KE (see
        `LocalKnowledgeEngine.abandon_poll`).
        """
        poll = asyncio.create_task(self.engine.poll(kb_id), name=f"km-testing-poll {kb_id}")
        gone = asyncio.create_task(_until_disconnected(receive), name=f"km-testing-watch {kb_id}")
        try:
            await asyncio.wait({poll, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            if not poll.done():
                self.engine.abandon_poll(kb_id)
                poll.cancel()
            # Wait for both to finish (the engine frees the KB's poll slot as the poll ends);
            # asyncio.wait raises nothing of theirs, only our own cancellation.
            await asyncio.wait({poll, gone})
        if poll.cancelled():
            logger.debug("the client of the poll of %s went away", kb_id)
            return None
        return poll.result()

    def _serves_requests(self, kb_id: str) -> bool:
        """Whether the KB has an ANSWER or REACT interaction (its heartbeat is then empty)."""
        try:
            kis = self.engine.list_kis(kb_id)
        except KnowledgeEngineResponseError:
            return True
        return any(
            ki.knowledge_interaction_type
            in (KnowledgeInteractionType.ANSWER, KnowledgeInteractionType.REACT)
            for ki in kis
        )

    async def answer(self, request: Request) -> Response:
        """``POST /sc/handle``: bindings or an error message for a handle request."""
        body = await _json_body(request)
        if body is None:
            raise _bad("ConstraintViolationException: scHandlePost.arg2 must not be null\n ")
        if not isinstance(body, dict):
            raise _bad(
                "MismatchedInputException: Cannot deserialize value of type `HandleResponse` "
                f"from {_json_kind(body)} value"
            )
        handle_request_id = _handle_request_id(body.get("handleRequestId"))
        error_message = _scalar_text(body.get("errorMessage"))
        if error_message is not None and not isinstance(error_message, str):
            raise _bad(
                "MismatchedInputException: Cannot deserialize value of type `java.lang.String` "
                f"from {_json_kind(error_message)} value (property 'errorMessage')"
            )
        missing = [
            f"scHandlePost.{name} must not be null\n "
            for header, name in ((KI_HEADER, "arg1"), (KB_HEADER, "arg0"))
            if request.headers.get(header) is None
        ]
        if missing:
            raise _bad("ConstraintViolationException: " + "".join(missing))
        self.engine.answer(
            request.headers.get(KB_HEADER),
            request.headers.get(KI_HEADER),
            handle_request_id,
            body.get("bindingSet"),
            error_message,
        )
        return _empty()

    async def domain_knowledge(self, request: Request) -> Response:
        """``POST /sc/knowledge``: text/plain, or no content type at all."""
        content_type = request.headers.get("content-type")
        if content_type is not None and not content_type.lower().startswith("text/plain"):
            return _message(415, "HTTP 415 Unsupported Media Type")
        knowledge = (await _body(request)).decode("utf-8", errors="replace")
        self.engine.set_domain_knowledge(request.headers.get(KB_HEADER), knowledge)
        return _empty()


def _about(request: Request) -> str:
    """The request and the ids it names, for a log line."""
    ids = "".join(
        f", {header} {request.headers[header]}"
        for header in (KB_HEADER, KI_HEADER)
        if header in request.headers
    )
    return f"{request.method} {request.url.path}{ids}"


def _endpoint(handler: Handler) -> Handler:
    """Turn the engine's errors into the KE's error bodies; anything else into a 500.

    A client that goes away before it has sent its whole body is no error of the server's: it
    is logged at DEBUG, and the 400 it is answered goes nowhere.
    """

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except KnowledgeEngineResponseError as exc:
            return _message(exc.status_code, exc.message)
        except ClientDisconnect:
            logger.debug("%s: the client went away before it sent the whole body", _about(request))
            return _message(400, EARLY_EOF)
        except Exception as exc:
            logger.exception("%s failed", _about(request))
            return _message(500, f"{type(exc).__name__}: {exc}")

    return endpoint


def _options(methods: Sequence[str]) -> Handler:
    """Answer ``OPTIONS`` (a browser's CORS preflight) with the path's methods."""
    allow = ", ".join([*methods, "HEAD", "OPTIONS"] if "GET" in methods else [*methods, "OPTIONS"])

    async def options(request: Request) -> Response:
        return Response(status_code=200, headers={"Allow": allow})

    return options


class _CorsHeaders:
    """ASGI middleware: the KE's CORS headers on every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in CORS_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_cors)


def create_app(engine: LocalKnowledgeEngine | None = None) -> Starlette:
    """An ASGI app that serves a Knowledge Engine's REST API under ``/rest``.

    Every path answers with and without a trailing slash (``/rest/sc`` and ``/rest/sc/``).
    Serve it with any ASGI server (``km-testing serve`` uses uvicorn), or talk to it without a
    socket through ``httpx.ASGITransport``.

    Args:
        engine: The engine to serve; by default a new one with the KE's defaults (29 s
            heartbeat, 10 s wait timeout).

    Returns:
        The app; its ``state.engine`` is the engine it serves.

    Example:
        ```python
        engine = LocalKnowledgeEngine(heartbeat=1)
        app = create_app(engine)
        transport = httpx.ASGITransport(app)
        client = HttpxClient(
            "http://ke/rest", http_client=httpx.AsyncClient(transport=transport)
        )
        ```
    """
    engine = engine if engine is not None else LocalKnowledgeEngine()
    api = _Api(engine)
    endpoints: dict[str, dict[str, Handler]] = {
        "/version": {"GET": api.version},
        "/sc": {"GET": api.list_kbs, "POST": api.register_kb, "DELETE": api.delete_kb},
        "/sc/lease/renew": {"PUT": api.renew_lease},
        "/sc/ki": {"GET": api.list_kis, "POST": api.register_ki, "DELETE": api.delete_ki},
        "/sc/ask": {"POST": api.ask},
        "/sc/post": {"POST": api.post},
        "/sc/handle": {"GET": api.poll, "POST": api.answer},
        "/sc/knowledge": {"POST": api.domain_knowledge},
    }
    routes: list[Route] = []
    for path, handlers in endpoints.items():
        for variant in (f"/rest{path}", f"/rest{path}/"):
            for method, handler in handlers.items():
                routes.append(Route(variant, _endpoint(handler), methods=[method]))
            routes.append(Route(variant, _options(list(handlers)), methods=["OPTIONS"]))
    app = Starlette(routes=routes, middleware=[Middleware(_CorsHeaders)])
    app.state.engine = engine
    return app


@contextlib.asynccontextmanager
async def serve_locally(
    target: LocalKnowledgeEngine | ASGIApp | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
) -> AsyncIterator[str]:
    """Serve an engine over real HTTP (uvicorn) inside the running event loop.

    For end-to-end tests and benchmarks that want sockets without a subprocess:

    ```python
    async with serve_locally(LocalKnowledgeEngine()) as base_url:
        client = HttpxClient(base_url)
    ```

    Args:
        target: The engine to serve (a new one when ``None``), or an ASGI app such as
            `create_app`'s, possibly wrapped.
        host: The address to bind; this machine only by default.
        port: The port; ``0`` picks a free one.

    Yields:
        The REST base URL, ``http://HOST:PORT/rest``.

    Raises:
        RuntimeError: the server did not start within 10 s.
    """
    import uvicorn

    class _Server(uvicorn.Server):
        """A uvicorn server that sets an event once it listens."""

        def __init__(self, config: uvicorn.Config) -> None:
            super().__init__(config)
            self.listening = asyncio.Event()

        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            self.listening.set()

    app = (
        create_app(target) if target is None or isinstance(target, LocalKnowledgeEngine) else target
    )
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        log_level="warning",
        access_log=False,
        ws="none",
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    server = _Server(config)
    serve = asyncio.create_task(server.serve(), name="km-testing-uvicorn")
    listening = asyncio.create_task(server.listening.wait())
    try:
        await asyncio.wait({serve, listening}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if not listening.done():
            raise RuntimeError("the local engine's HTTP server did not start")
        bound = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://{host}:{bound}/rest"
    finally:
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening
        server.should_exit = True
        await asyncio.wait_for(serve, 10)  # ends the server task and retrieves its outcome
