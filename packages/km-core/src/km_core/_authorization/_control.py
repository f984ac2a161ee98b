"""`AccessControl`: a knowledge base's authorization rules, applied to one request.

The interaction's ``permitted`` list (or the KB's default) is checked first; a requester not on
it is denied without more ado. Then the KB's policy, if it has one, decides: it is called like
a handler (its first parameter gets the `AccessRequest`, the others are injected; a sync policy
runs in a worker thread) and must return ``True`` to allow. A policy that raises, times out or
returns anything but a bool denies, with a log line that says so. Each decision goes to the
audit hook, if there is one.

On a KB with neither policy nor audit hook, a request that everybody or the permitted list
lets through costs one method call (`AccessControl.admits`), and no decision is made.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, TypeAlias

from km_core._deadline import DeadlineExceeded, Deadlines
from km_core._declarations import EVERYBODY, Handled
from km_core._inject import Injected, Injection, describe
from km_core._models import BindingSet

from ._access import AccessDecision, AccessRequest

__all__ = ["AccessControl", "AuditHook", "Policy"]

logger = logging.getLogger("km_core")

Policy: TypeAlias = Callable[..., bool | Awaitable[bool]]
"""An authorization policy: ``(request: AccessRequest, <injected parameters>) -> bool``, sync
or async; ``True`` allows the request."""

AuditHook: TypeAlias = Callable[[AccessDecision], Awaitable[None] | None]
"""Receives every access decision: ``(decision: AccessDecision) -> None``, sync or async."""

NOT_PERMITTED = "not in the permitted list"
DENIED_BY_POLICY = "denied by the policy"


class AccessControl:
    """A knowledge base's authorization rules: default ``permitted``, policy, audit hook."""

    __slots__ = ("_audit", "_deadlines", "_kb_id", "_permitted", "_policy", "_timeout")

    def __init__(
        self,
        *,
        kb_id: str,
        permitted: frozenset[str] | Literal["*"],
        authorize: Policy | None,
        audit: AuditHook | None,
        timeout: float | None,
        scope: Mapping[str, Any] | None = None,
    ) -> None:
        """Read the policy's signature now, so that a bad one fails when the KB is made.

        Raises:
            HandlerDeclarationError: the policy's signature cannot be served.
        """
        self._kb_id = kb_id
        self._permitted = permitted
        self._policy = (
            None
            if authorize is None
            else Injected(
                authorize,
                what=f"authorization policy {describe(authorize)!r} of knowledge base {kb_id}",
                kind="policy",
                first="the access request",
                example="def policy(request: AccessRequest) -> bool: ...",
                scope=scope,
            )
        )
        self._audit = audit
        self._timeout = timeout
        self._deadlines = Deadlines(kb_id)

    @property
    def permitted(self) -> frozenset[str] | Literal["*"]:
        """Who may use an interaction that does not say: ``"*"`` or knowledge base ids."""
        return self._permitted

    def admits(self, ki: Handled, requesting_kb_id: str | None) -> bool:
        """Whether a request for ``ki`` from ``requesting_kb_id`` goes through undecided.

        It does when the KB has neither policy nor audit hook and the requester is permitted
        (everybody is, or it is on the list); otherwise `decide` decides.
        """
        if self._policy is not None or self._audit is not None:
            return False
        permitted = ki.permitted if ki.permitted is not None else self._permitted
        return permitted == EVERYBODY or requesting_kb_id in permitted

    async def decide(
        self,
        ki: Handled,
        binding_set: BindingSet,
        requesting_kb_id: str | None,
        handle_request_id: int | None,
        injection: Callable[[], Injection],
        time_limit: float | None,
    ) -> AccessDecision | None:
        """The denial of a request, or ``None`` when it may reach the handler.

        Args:
            ki: The interaction called.
            binding_set: The incoming bindings.
            requesting_kb_id: Who asks or posts.
            handle_request_id: The KE's id of the request, if it came from the KE.
            injection: Makes what the policy injects from (called only for a policy that
                injects something).
            time_limit: The interaction's handler timeout, if any: the policy gets no more.
        """
        permitted = ki.permitted if ki.permitted is not None else self._permitted
        listed = permitted == EVERYBODY or requesting_kb_id in permitted
        if listed and self._policy is None and self._audit is None:
            return None  # what `admits` lets through: no objects made
        request = AccessRequest(self._kb_id, ki, requesting_kb_id, handle_request_id, binding_set)
        if not listed:
            decision = AccessDecision(request, False, NOT_PERMITTED)
        elif self._policy is None:
            decision = AccessDecision(request, True, "permitted")
        else:
            decision = await self._ask_policy(self._policy, request, injection, time_limit)
        if self._audit is not None:
            await self._tell_audit(self._audit, decision)
        return None if decision.allowed else decision

    async def _ask_policy(
        self,
        policy: Injected,
        request: AccessRequest,
        injection: Callable[[], Injection],
        time_limit: float | None,
    ) -> AccessDecision:
        limits = [t for t in (self._timeout, time_limit) if t is not None]
        where = _where(request)
        try:
            work = policy.call(request, injection())
            if limits:
                allowed = await self._deadlines.run(work, min(limits), "an authorization policy")
            else:
                allowed = await work
        except DeadlineExceeded as exc:
            logger.error(
                "knowledge base %s: the authorization policy did not answer %s within %s s; "
                "denying it",
                self._kb_id,
                where,
                exc.args[0],
            )
            return AccessDecision(
                request, False, f"the policy did not answer within {exc.args[0]} s"
            )
        except Exception as exc:
            logger.exception(
                "knowledge base %s: the authorization policy raised on %s; denying it",
                self._kb_id,
                where,
            )
            return AccessDecision(request, False, f"the policy raised {type(exc).__name__}")
        if allowed is True:
            return AccessDecision(request, True, "allowed by the policy")
        if allowed is not False:
            logger.error(
                "knowledge base %s: the authorization policy returned a %s on %s, not a bool; "
                "denying it. Return True to allow a request, False to deny it",
                self._kb_id,
                type(allowed).__name__,
                where,
            )
            return AccessDecision(
                request, False, f"the policy returned {type(allowed).__name__}, not a bool"
            )
        return AccessDecision(request, False, DENIED_BY_POLICY)

    async def _tell_audit(self, audit: AuditHook, decision: AccessDecision) -> None:
        """Pass a decision to the audit hook; a hook that fails is logged, and changes nothing."""
        try:
            result = audit(decision)
            if inspect.isawaitable(result):
                await result
        except Exception:
            logger.exception(
                "knowledge base %s: the audit hook raised on %s (%s)",
                self._kb_id,
                _where(decision.request),
                "allowed" if decision.allowed else "denied",
            )


def _where(request: AccessRequest) -> str:
    """The request in words, for a log line: interaction, requester, handle request id."""
    where = (
        f"{request.knowledge_interaction.name!r} from "
        f"{request.requesting_kb_id or 'an unnamed knowledge base'}"
    )
    if request.handle_request_id is not None:
        where += f", handle request {request.handle_request_id}"
    return where
