"""What a test scripts: queued requests, EXITs and REPOLLs, mocked answers, injected faults."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from km_core import (
    BindingModel,
    BindingSet,
    ConfigurationError,
    KnowledgeEngineUnavailableError,
    PollResult,
)

from ._base import _Handle, _TestClientBase

DEFAULT_REQUESTING_KB_ID = "http://example.org/kb/test-requester"
"""The knowledge base a queued request comes from, unless `TestClient.enqueue_handle_request`
is given a ``requesting_kb_id``."""


class _Scripting(_TestClientBase):
    """The helpers with which a test feeds the KB's handling loop and scripts the KE."""

    _OPERATIONS: ClassVar[frozenset[str]] = frozenset(
        {
            "get_version",
            "list_kbs",
            "get_kb",
            "register_kb",
            "unregister_kb",
            "renew_lease",
            "list_kis",
            "register_ki",
            "unregister_ki",
            "ask",
            "post",
            "poll_ki_call",
            "post_handle_response",
            "upload_domain_knowledge",
        }
    )

    def enqueue_handle_request(
        self,
        ki_name: str,
        binding_set: Sequence[Mapping[str, str] | BindingModel] | None = None,
        *,
        requesting_kb_id: str = DEFAULT_REQUESTING_KB_ID,
    ) -> int:
        """Queue a request for one of the KB's ANSWER or REACT interactions.

        Args:
            ki_name: The interaction's name (or, to test the unknown-interaction path, any
                name or full interaction id the KB does not know).
            binding_set: The incoming bindings (dicts of RDF terms, or binding models).
            requesting_kb_id: The id of the knowledge base that asks or posts.

        Returns:
            The handle request id, 1, 2, 3, ... as the KE numbers them.
        """
        handle_request_id = self._next_handle_request_id
        self._next_handle_request_id += 1
        handle = _Handle(ki_name, _bindings(binding_set), requesting_kb_id, handle_request_id)
        ki_id = self._registered_ki_id(ki_name)
        if ki_id is not None:  # made now, so that the poll only hands it over
            handle.request = handle.to_request(ki_id)
        self._queue.put_nowait(handle)
        return handle_request_id

    def enqueue_exit(self) -> None:
        """Queue an EXIT, as the KE sends when the KB is stopping.

        The queue is first in, first out: the poll that gets the EXIT comes after every
        request queued before it.
        """
        self._queue.put_nowait(PollResult.EXIT)

    def enqueue_repoll(self) -> None:
        """Queue a REPOLL, as the KE's 29 s heartbeat answers (first in, first out)."""
        self._queue.put_nowait(PollResult.REPOLL)

    def mock_result_binding_set(
        self, ki_name: str, binding_set: Sequence[Mapping[str, str] | BindingModel]
    ) -> None:
        """Set what the next and later asks (or posts) through ``ki_name`` get back."""
        self._mocks[ki_name] = _bindings(binding_set)

    def fail_next(
        self, operation: str, error: BaseException | None = None, *, times: int = 1
    ) -> None:
        """Make the next ``times`` calls of a `ClientProtocol` method raise ``error``.

        Args:
            operation: The method's name, for example ``"post_handle_response"`` or
                ``"poll_ki_call"``.
            error: What to raise; by default a `KnowledgeEngineUnavailableError`.
            times: How many calls fail.
        """
        if operation not in self._OPERATIONS:
            raise ConfigurationError(
                f"cannot inject a fault into {operation!r}; choose one of "
                f"{', '.join(sorted(self._OPERATIONS))}"
            )
        fault = error or KnowledgeEngineUnavailableError(f"fault injected into {operation}")
        self._faults.setdefault(operation, []).extend([fault] * times)


def _bindings(binding_set: Sequence[Mapping[str, str] | BindingModel] | None) -> BindingSet:
    result: BindingSet = []
    for binding in binding_set or []:
        if isinstance(binding, BindingModel):
            result.append(binding.to_binding())
        else:
            result.append(dict(binding))
    return result
