"""Posting a response to the KE, retried while the KE is away, for a bounded time.

`Responder.respond` posts one response; a transient failure (the KE unreachable, a 5xx) is
tried again with backoff for ``response_retry_period`` seconds, then the response is dropped
with an ERROR line. The KB's response episode logs for all responses, so that a KE that is away
costs one WARNING line, not one per response.
"""

from __future__ import annotations

import asyncio
import logging
import time

from km_core._declarations import Registry
from km_core._errors import KnowledgeEngineError
from km_core._middleware import MiddlewareStack
from km_core._models import HandleRequest, HandleResponse
from km_core._retry import Episode

from ._host import HandlingHost

__all__ = ["Responder"]

logger = logging.getLogger("km_core")


class Responder:
    """Posts the responses of one knowledge base."""

    __slots__ = ("_episode", "_host", "_middleware", "_registry")

    def __init__(
        self, host: HandlingHost, registry: Registry, middleware: MiddlewareStack | None = None
    ) -> None:
        self._host = host
        self._registry = registry
        self._middleware = middleware if middleware is not None else MiddlewareStack()
        self._episode = Episode(host.poll_backoff, kb_id=host.id, what="posting responses")

    async def respond(self, request: HandleRequest, response: HandleResponse) -> bool:
        """Post a response; retry transient failures for ``response_retry_period`` seconds.

        Returns:
            Whether the response was posted.
        """
        host = self._host
        # Each response backs off on its own (its episode made at its first failure only).
        mine: Episode | None = None
        deadline = 0.0
        while True:
            try:
                await host.client.post_handle_response(
                    host.id, self._registry.answering_id(request.knowledge_interaction_id), response
                )
            except KnowledgeEngineError as exc:
                if mine is None:
                    mine = Episode(host.poll_backoff, kb_id=host.id, what="posting a response")
                    deadline = time.monotonic() + host.response_retry_period
                delay = mine.failed(exc, log=False)
                if exc.transient and time.monotonic() + delay <= deadline:
                    self._episode.failed(exc)
                    if self._middleware.observers:
                        self._middleware.notify("on_response_retry", host.id, request, exc)
                    await asyncio.sleep(delay)  # the KE is away: try again shortly
                    continue
                error: BaseException = exc
            except Exception as exc:
                error = exc
            else:
                if mine is not None:
                    logger.info(
                        "knowledge base %s: posted the response to handle request %d after %d "
                        "failed attempts",
                        host.id,
                        request.handle_request_id,
                        mine.failures,
                    )
                    self._episode.succeeded()
                return True
            logger.error(
                "knowledge base %s: could not post the response to handle request %d (%s) from "
                "%s; dropping it",
                host.id,
                request.handle_request_id,
                request.knowledge_interaction_id,
                request.requesting_knowledge_base_id,
                exc_info=error,
            )
            return False
