"""The error policy: how a request that could not be served is answered.

A handler that raised or timed out, a result that is not a binding set, a request for an unknown
interaction, a request cut short by shutdown: each is answered by `failure`, per the KB's
`ErrorPolicy`.
"""

from __future__ import annotations

import enum

from km_core._models import HandleRequest, HandleResponse

__all__ = ["ErrorPolicy", "failure"]


class ErrorPolicy(enum.Enum):
    """How the handling loop answers a request it could not serve.

    A handler that raised or timed out, a result that is not a binding set, a request for an
    unknown interaction, a request cut short by shutdown: each is logged in full, and the
    requester gets one of these answers.
    """

    EMPTY_BINDING_SET = "empty_binding_set"
    """An empty binding set: to the requester, the same as "no data"."""
    ERROR_MESSAGE = "error_message"
    """The KE's ``errorMessage``: the requester's exchange info says FAILED, and why. The
    message names the interaction and the kind of failure, never a stack trace or the
    exception's own text (which may hold secrets)."""


def failure(policy: ErrorPolicy, request: HandleRequest, reason: str) -> HandleResponse:
    """The answer to a request that could not be served, per ``policy``."""
    if policy is ErrorPolicy.ERROR_MESSAGE:
        return HandleResponse(handle_request_id=request.handle_request_id, error_message=reason)
    return HandleResponse(handle_request_id=request.handle_request_id, binding_set=[])
