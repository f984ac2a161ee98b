"""The ``/sc/handle`` endpoints: the long poll, and the KB's answers to the requests it handles.

The poll is held while its client is connected, and abandoned when the client goes away.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive

from km_core import (
    HandleRequest,
    KnowledgeEngineResponseError,
    KnowledgeInteractionType,
    PollResult,
)
from km_testing.engine import LocalKnowledgeEngine

from ._bodies import _json_body
from ._headers import KB_HEADER, KI_HEADER
from ._responses import _bad, _empty, _json, _message, _wire
from ._validation import _json_kind, _scalar_text

logger = logging.getLogger("km_testing.server")

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


class _HandleRoutes:
    """The handle endpoints, each a thin layer over one engine method."""

    def __init__(self, engine: LocalKnowledgeEngine) -> None:
        self.engine = engine

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
