"""Dispatch: one handle request to its handler, and the handler's result to a response.

`Dispatcher.answer` finds the interaction a request names, has the KB's `AccessControl` decide
whether the requester may use it, runs its handler with the interaction's timeout, converts the
result to a checked binding set, and turns every failure (unknown interaction, denial, error,
timeout) into the answer the error policy gives, with a log line that names the KB, the
interaction, the request and the requester. `Dispatcher.call` is what `KnowledgeBase.call`
runs: the same access decision (a denial raised), then `Dispatcher.invoke`: injection, handler,
conversion.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from km_core._access_log import ANSWERED
from km_core._authorization import AccessControl
from km_core._binding import to_binding_set
from km_core._deadline import DeadlineExceeded, Deadlines
from km_core._declarations import Handled, Registry
from km_core._errors import AccessDeniedError, BindingValidationError
from km_core._inject import Dependant, Injection, RunSync
from km_core._middleware import Outcome
from km_core._models import BindingSet, HandleRequest, HandleResponse

from ._host import HandlingHost
from ._policy import failure

__all__ = ["ContextFactory", "Dispatcher"]

logger = logging.getLogger("km_core")

_ANSWERED, _EMPTY = Outcome.ANSWERED, Outcome.EMPTY  # looked up once, not per request

ContextFactory = Callable[[Handled, str | None, int | None], object]
"""Makes the request context a handler may ask for: (interaction, requesting KB id, handle
request id)."""


class Dispatcher:
    """Runs handle requests through their handlers."""

    __slots__ = (
        "_access",
        "_context",
        "_deadlines",
        "_host",
        "_overridden",
        "_plain",
        "_registry",
        "_run_sync",
    )

    def __init__(
        self,
        host: HandlingHost,
        registry: Registry,
        access: AccessControl,
        context: ContextFactory,
        overridden: dict[Callable[..., Any], Dependant],
        run_sync: RunSync,
    ) -> None:
        self._host = host
        self._registry = registry
        self._access = access
        self._context = context
        self._overridden = overridden
        self._run_sync = run_sync  # the handling loop's thread pool while it runs
        self._plain = Injection(None, {}, overridden, run_sync)
        """What a handler without parameters to inject gets: only the thread runner."""
        self._deadlines = Deadlines(host.id)

    def failure(self, request: HandleRequest, reason: str) -> HandleResponse:
        """The answer to a request that could not be served, per the error policy."""
        return failure(self._host.error_policy, request, reason)

    async def answer(self, request: HandleRequest) -> tuple[HandleResponse, Outcome, str]:
        """The response to a request, its outcome, and that outcome in the access log's words.

        The response holds the handler's bindings, or a failure per the error policy.

        Raises:
            asyncio.CancelledError: the handler was cancelled; its first argument is the reason
                to answer with.
        """
        kb_id = self._host.id
        ki = self._registry.handled(request.knowledge_interaction_id)
        if ki is None:
            logger.error(
                "knowledge base %s: handle request %d from %s names unknown knowledge "
                "interaction %s",
                kb_id,
                request.handle_request_id,
                request.requesting_knowledge_base_id,
                request.knowledge_interaction_id,
            )
            return (
                self.failure(
                    request,
                    f"knowledge base {kb_id} has no knowledge interaction "
                    f"{request.knowledge_interaction_id}",
                ),
                Outcome.UNKNOWN_INTERACTION,
                "no such interaction",
            )
        requesting_kb_id = request.requesting_knowledge_base_id
        timeout = ki.timeout if ki.timeout is not None else self._host.handler_timeout
        try:
            if not self._access.admits(ki, requesting_kb_id):
                denial = await self._access.decide(
                    ki,
                    request.binding_set,
                    requesting_kb_id,
                    request.handle_request_id,
                    lambda: self._injection(ki, requesting_kb_id, request.handle_request_id),
                    timeout,
                )
                if denial is not None:  # the access log tells; the requester learns no more
                    return (
                        self.failure(request, denial.denial),
                        Outcome.DENIED,
                        f"denied ({denial.reason})",
                    )
            work = self.invoke(ki, request.binding_set, requesting_kb_id, request.handle_request_id)
            if timeout is None:
                binding_set = await work
            else:
                binding_set = await self._deadlines.run(work, timeout, f"handler of {ki.name!r}")
        except DeadlineExceeded:
            logger.error(
                "knowledge base %s: handler of %r did not answer handle request %d from %s "
                "within %s s",
                kb_id,
                ki.name,
                request.handle_request_id,
                requesting_kb_id,
                timeout,
            )
            return (
                self.failure(
                    request, f"the handler of {ki.name!r} did not answer within {timeout} s"
                ),
                Outcome.TIMED_OUT,
                f"handler timed out after {timeout} s",
            )
        except asyncio.CancelledError:
            logger.warning(
                "knowledge base %s: handler of %r was cancelled on handle request %d from %s",
                kb_id,
                ki.name,
                request.handle_request_id,
                request.requesting_knowledge_base_id,
            )
            raise asyncio.CancelledError(
                f"knowledge base {kb_id} stopped before {ki.name!r} answered"
            ) from None
        except Exception as exc:
            logger.exception(
                "knowledge base %s: handler of %r failed on handle request %d from %s",
                kb_id,
                ki.name,
                request.handle_request_id,
                request.requesting_knowledge_base_id,
            )
            return (
                self.failure(request, f"the handler of {ki.name!r} failed ({type(exc).__name__})"),
                Outcome.FAILED,
                f"handler failed ({type(exc).__name__})",
            )
        response = HandleResponse(
            handle_request_id=request.handle_request_id, binding_set=binding_set
        )
        return response, _ANSWERED if binding_set else _EMPTY, ANSWERED

    async def call(
        self, ki: Handled, binding_set: BindingSet, requesting_kb_id: str | None
    ) -> BindingSet:
        """What `KnowledgeBase.call` runs: the access decision, then `invoke`.

        Raises:
            AccessDeniedError: the requester may not use the interaction.
            BindingValidationError: the result is not a binding set of the interaction.
            Exception: whatever the handler or a dependency raised.
        """
        if not self._access.admits(ki, requesting_kb_id):
            denial = await self._access.decide(
                ki,
                binding_set,
                requesting_kb_id,
                None,
                lambda: self._injection(ki, requesting_kb_id, None),
                None,
            )
            if denial is not None:
                raise AccessDeniedError(denial.denial)
        return await self.invoke(ki, binding_set, requesting_kb_id, None)

    def _injection(
        self, ki: Handled, requesting_kb_id: str | None, handle_request_id: int | None
    ) -> Injection:
        """What a call with parameters to inject injects from: context, overrides, threads."""
        return Injection(
            self._context(ki, requesting_kb_id, handle_request_id),
            self._host.dependency_overrides,
            self._overridden,
            self._run_sync,
        )

    async def invoke(
        self,
        ki: Handled,
        binding_set: BindingSet,
        requesting_kb_id: str | None,
        handle_request_id: int | None,
    ) -> BindingSet:
        """Inject, call the handler, and convert its result to a checked binding set.

        The request context is made only for a handler that has parameters to inject.

        Raises:
            BindingValidationError: the result is not a binding set of the interaction.
            Exception: whatever the handler or a dependency raised.
        """
        handler = ki.handler
        if handler.direct is not None:
            result = await handler.direct(binding_set)
        elif handler.parameters:
            result = await handler(
                binding_set, self._injection(ki, requesting_kb_id, handle_request_id)
            )
        else:
            result = await handler(binding_set, self._plain)
        bindings = to_binding_set(
            result, what=f"the result of the handler of {ki.name!r}", model=ki.output_model
        )
        if bindings and not ki.has_result:
            raise BindingValidationError(
                f"the handler of {ki.name!r} returned {len(bindings)} bindings, but the "
                "interaction has no result graph pattern; return an empty list or None"
            )
        return bindings
