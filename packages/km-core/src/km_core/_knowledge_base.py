"""The KnowledgeBase: declarations, lifecycle, the handling loop and outgoing calls."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
import sys
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, overload

from ._backoff import Backoff
from ._binding_model import BindingModel
from ._dependencies import (
    Dependant,
    RequestContext,
    RunSync,
    executor_runner,
    run_in_default_thread,
)
from ._errors import (
    BindingValidationError,
    ConfigurationError,
    KnowledgeEngineError,
    KnowledgeEngineUnavailableError,
    UnknownKnowledgeInteractionError,
)
from ._interactions import (
    AnswerKnowledgeInteraction,
    AskKnowledgeInteraction,
    KnowledgeInteraction,
    PostKnowledgeInteraction,
    ReactKnowledgeInteraction,
    from_binding_set,
    to_binding_set,
)
from ._models import (
    AskExchangeInfo,
    Binding,
    BindingSet,
    HandleRequest,
    HandleResponse,
    KnowledgeBaseInfo,
    LeaseInfo,
    PollResult,
    PostExchangeInfo,
)
from ._protocol import ClientProtocol

__all__ = ["AskResponse", "KnowledgeBase", "PostResponse"]

logger = logging.getLogger("km_core")

F = TypeVar("F", bound=Callable[..., Any])
B = TypeVar("B")
A = TypeVar("A")
R = TypeVar("R")
M = TypeVar("M", bound=BindingModel)
N = TypeVar("N", bound=BindingModel)
K = TypeVar("K", bound=KnowledgeInteraction)

# An absolute IRI: a scheme, a colon, and no characters IRIs forbid.
_ABSOLUTE_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+$")

Handled = AnswerKnowledgeInteraction | ReactKnowledgeInteraction


def _declaring_scope() -> dict[str, Any] | None:
    """The local names where the decorator was applied (two frames up: decorator, caller)."""
    try:
        frame = sys._getframe(2)
    except ValueError:  # pragma: no cover - no such frame
        return None
    return dict(frame.f_locals)


@dataclass(frozen=True, slots=True)
class AskResponse(Generic[B]):
    """The result of `KnowledgeBase.ask_with_info`.

    Attributes:
        binding_set: The answers, as the ASK interaction's binding model when it has one.
        exchange_info: One entry per contacted ANSWER interaction: who, when, and whether it
            succeeded (with the KE's failure message when not).
        knowledge_gaps: The missing triple patterns, when the interaction was declared with
            ``knowledge_gaps_enabled``; ``None`` otherwise.
    """

    binding_set: list[B]
    exchange_info: list[AskExchangeInfo] = field(default_factory=list)
    knowledge_gaps: list[list[str]] | None = None


@dataclass(frozen=True, slots=True)
class PostResponse(Generic[R]):
    """The result of `KnowledgeBase.post_with_info`.

    Attributes:
        result_binding_set: The reactions' results, as the POST interaction's result model when
            it has one.
        exchange_info: One entry per contacted REACT interaction.
    """

    result_binding_set: list[R]
    exchange_info: list[PostExchangeInfo] = field(default_factory=list)


class KnowledgeBase:
    """A knowledge base: the interactions it offers and uses, and the loop that serves them.

    Declare interactions with the decorators (`answer_ki`, `react_ki`) and the declarations
    (`ask_ki`, `post_ki`), then `connect`, `register`, and run `start_handling_loop`. All I/O
    goes through ``client``, any implementation of `ClientProtocol`.

    Args:
        id: The knowledge base's id, an absolute IRI.
        name: A short human-readable name.
        description: What the knowledge base knows or does.
        client: The transport to the Knowledge Engine.
        lease_renewal_time: Seconds the KE keeps the KB without a lease renewal (30 to 3600);
            ``None`` registers without a lease.
        reasoner_level: The KE's reasoner level for this KB (1 to 5); ``None`` uses the KE's
            default.
        poll_backoff: How long the handling loop waits before polling again after a transient
            error (the KE unreachable, a 409 from a stale poll, a 5xx).

    Attributes:
        dependency_overrides: Maps a dependency factory to the factory to call instead, at every
            depth. Read on every call, so tests may change it after handlers were declared.
    """

    def __init__(
        self,
        *,
        id: str,
        name: str,
        description: str,
        client: ClientProtocol,
        lease_renewal_time: int | None = None,
        reasoner_level: int | None = None,
        poll_backoff: Backoff | None = None,
    ) -> None:
        if not isinstance(id, str) or not _ABSOLUTE_IRI.fullmatch(id):
            raise ConfigurationError(
                f"knowledge base id {id!r} is not an absolute IRI (for example "
                "'http://example.org/kb/trees'); the Knowledge Engine rejects anything else"
            )
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"knowledge base {id}: name must be a non-empty string")
        if not isinstance(description, str):
            raise ConfigurationError(f"knowledge base {id}: description must be a string")
        if lease_renewal_time is not None and not 30 <= lease_renewal_time <= 3600:
            raise ConfigurationError(
                f"knowledge base {id}: lease_renewal_time must be 30 to 3600 seconds, "
                f"got {lease_renewal_time!r}"
            )
        if reasoner_level is not None and not 1 <= reasoner_level <= 5:
            raise ConfigurationError(
                f"knowledge base {id}: reasoner_level must be 1 to 5, got {reasoner_level!r}"
            )
        self.id = id
        self.name = name
        self.description = description
        self.client = client
        self.lease_renewal_time = lease_renewal_time
        self.reasoner_level = reasoner_level
        self.poll_backoff = poll_backoff or Backoff()
        self.dependency_overrides: dict[Callable[..., Any], Callable[..., Any]] = {}
        self._overridden: dict[Callable[..., Any], Dependant] = {}
        self._interactions: dict[str, KnowledgeInteraction] = {}
        self._handled_by_id: dict[str, Handled] = {}
        self._registered = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._run_sync: RunSync = run_in_default_thread
        self._in_flight: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"<KnowledgeBase {self.id!r}>"

    # ------------------------------------------------------------------ declarations

    @property
    def knowledge_interactions(self) -> Mapping[str, KnowledgeInteraction]:
        """Every declared interaction, by name (read-only)."""
        return dict(self._interactions)

    def _declare(self, ki: KnowledgeInteraction) -> None:
        if self._registered:
            raise RuntimeError(
                f"knowledge base {self.id} is already registered; declare knowledge "
                f"interaction {ki.name!r} before calling register()"
            )
        if ki.name in self._interactions:
            raise ConfigurationError(
                f"knowledge base {self.id} already has a knowledge interaction named {ki.name!r}"
            )
        self._interactions[ki.name] = ki

    def answer_ki(
        self,
        name: str,
        graph_pattern: str,
        *,
        prefixes: Mapping[str, str] | None = None,
        binding_model: type[BindingModel] | None = None,
    ) -> Callable[[F], F]:
        """Declare an ANSWER interaction served by the decorated handler.

        The handler receives the incoming binding set as its first parameter (a list of dicts,
        or of ``binding_model``, which may also be given as the parameter's annotation
        ``list[Model]``) and returns the answering bindings. Other parameters are injected
        (`Depends`, `RequestContext`). It may be ``def`` or ``async def``; the decorator returns
        it unchanged.

        Args:
            name: Unique within this KB: letters, digits and hyphens.
            graph_pattern: The triples this KB can answer, with ``?variables``.
            prefixes: Prefix names used in the pattern, to namespace IRIs.
            binding_model: The `BindingModel` the handler receives and answers with; plain
                dict answers must fit it too.

        Raises:
            ConfigurationError: a bad name, pattern, prefixes or model, or a name in use.
            HandlerDeclarationError: the handler's signature cannot be served.
        """

        def decorator(function: F) -> F:
            self._declare(
                AnswerKnowledgeInteraction(
                    scope=_declaring_scope(),
                    name=name,
                    graph_pattern=graph_pattern,
                    handler=function,
                    prefixes=prefixes,
                    binding_model=binding_model,
                )
            )
            return function

        return decorator

    def react_ki(
        self,
        name: str,
        argument_graph_pattern: str,
        result_graph_pattern: str | None = None,
        *,
        prefixes: Mapping[str, str] | None = None,
        argument_model: type[BindingModel] | None = None,
        result_model: type[BindingModel] | None = None,
    ) -> Callable[[F], F]:
        """Declare a REACT interaction served by the decorated handler.

        Like `answer_ki`; the handler returns bindings of the result graph pattern, or an
        empty list (or ``None``) when the interaction has no result pattern.

        Args:
            name: Unique within this KB: letters, digits and hyphens.
            argument_graph_pattern: The triples posted to this KB.
            result_graph_pattern: The triples it answers with, or ``None`` for none.
            prefixes: Prefix names used in the patterns, to namespace IRIs.
            argument_model: The `BindingModel` the handler receives.
            result_model: The `BindingModel` it answers with; plain dict results must fit it.

        Raises:
            ConfigurationError: a bad name, pattern, prefixes or model, or a name in use.
            HandlerDeclarationError: the handler's signature cannot be served.
        """

        def decorator(function: F) -> F:
            self._declare(
                ReactKnowledgeInteraction(
                    scope=_declaring_scope(),
                    name=name,
                    argument_graph_pattern=argument_graph_pattern,
                    result_graph_pattern=result_graph_pattern,
                    handler=function,
                    prefixes=prefixes,
                    argument_model=argument_model,
                    result_model=result_model,
                )
            )
            return function

        return decorator

    @overload
    def ask_ki(
        self,
        name: str,
        graph_pattern: str,
        *,
        prefixes: Mapping[str, str] | None = ...,
        binding_model: None = ...,
        knowledge_gaps_enabled: bool = ...,
    ) -> AskKnowledgeInteraction[Binding]: ...

    @overload
    def ask_ki(
        self,
        name: str,
        graph_pattern: str,
        *,
        prefixes: Mapping[str, str] | None = ...,
        binding_model: type[M],
        knowledge_gaps_enabled: bool = ...,
    ) -> AskKnowledgeInteraction[M]: ...

    def ask_ki(
        self,
        name: str,
        graph_pattern: str,
        *,
        prefixes: Mapping[str, str] | None = None,
        binding_model: type[BindingModel] | None = None,
        knowledge_gaps_enabled: bool = False,
    ) -> AskKnowledgeInteraction[Any]:
        """Declare an ASK interaction and return its handle for `ask`.

        Args:
            name: Unique within this KB: letters, digits and hyphens.
            graph_pattern: The triples to ask for, with ``?variables``.
            prefixes: Prefix names used in the pattern, to namespace IRIs.
            binding_model: The `BindingModel` that `ask` takes and returns.
            knowledge_gaps_enabled: Ask the KE to report what is missing when nobody answers.

        Raises:
            ConfigurationError: a bad name, pattern, prefixes or model, or a name in use.
        """
        ki: AskKnowledgeInteraction[Any] = AskKnowledgeInteraction(
            name=name,
            graph_pattern=graph_pattern,
            prefixes=prefixes,
            binding_model=binding_model,
            knowledge_gaps_enabled=knowledge_gaps_enabled,
        )
        self._declare(ki)
        return ki

    @overload
    def post_ki(
        self,
        name: str,
        argument_graph_pattern: str,
        result_graph_pattern: str | None = ...,
        *,
        prefixes: Mapping[str, str] | None = ...,
        argument_model: None = ...,
        result_model: None = ...,
    ) -> PostKnowledgeInteraction[Binding, Binding]: ...

    @overload
    def post_ki(
        self,
        name: str,
        argument_graph_pattern: str,
        result_graph_pattern: str | None = ...,
        *,
        prefixes: Mapping[str, str] | None = ...,
        argument_model: type[M],
        result_model: None = ...,
    ) -> PostKnowledgeInteraction[M, Binding]: ...

    @overload
    def post_ki(
        self,
        name: str,
        argument_graph_pattern: str,
        result_graph_pattern: str | None = ...,
        *,
        prefixes: Mapping[str, str] | None = ...,
        argument_model: None = ...,
        result_model: type[N],
    ) -> PostKnowledgeInteraction[Binding, N]: ...

    @overload
    def post_ki(
        self,
        name: str,
        argument_graph_pattern: str,
        result_graph_pattern: str | None = ...,
        *,
        prefixes: Mapping[str, str] | None = ...,
        argument_model: type[M],
        result_model: type[N],
    ) -> PostKnowledgeInteraction[M, N]: ...

    def post_ki(
        self,
        name: str,
        argument_graph_pattern: str,
        result_graph_pattern: str | None = None,
        *,
        prefixes: Mapping[str, str] | None = None,
        argument_model: type[BindingModel] | None = None,
        result_model: type[BindingModel] | None = None,
    ) -> PostKnowledgeInteraction[Any, Any]:
        """Declare a POST interaction and return its handle for `post`.

        Args:
            name: Unique within this KB: letters, digits and hyphens.
            argument_graph_pattern: The triples posted.
            result_graph_pattern: The triples expected back, or ``None`` for none.
            prefixes: Prefix names used in the patterns, to namespace IRIs.
            argument_model: The `BindingModel` that `post` takes.
            result_model: The `BindingModel` that `post` returns.

        Raises:
            ConfigurationError: a bad name, pattern, prefixes or model, or a name in use.
        """
        ki: PostKnowledgeInteraction[Any, Any] = PostKnowledgeInteraction(
            name=name,
            argument_graph_pattern=argument_graph_pattern,
            result_graph_pattern=result_graph_pattern,
            prefixes=prefixes,
            argument_model=argument_model,
            result_model=result_model,
        )
        self._declare(ki)
        return ki

    def _lookup(self, ki: KnowledgeInteraction | str) -> KnowledgeInteraction:
        if isinstance(ki, KnowledgeInteraction):
            if self._interactions.get(ki.name) is not ki:
                raise UnknownKnowledgeInteractionError(
                    f"{ki!r} was not declared on knowledge base {self.id}"
                )
            return ki
        found = self._interactions.get(ki)
        if found is None:
            known = ", ".join(sorted(self._interactions)) or "none"
            raise UnknownKnowledgeInteractionError(
                f"knowledge base {self.id} has no knowledge interaction named {ki!r} "
                f"(declared: {known})"
            )
        return found

    # ------------------------------------------------------------------ lifecycle

    @property
    def registered(self) -> bool:
        """Whether the KB and its interactions are registered with the KE."""
        return self._registered

    def info(self) -> KnowledgeBaseInfo:
        """The registration of this KB as the KE sees it."""
        return KnowledgeBaseInfo(
            knowledge_base_id=self.id,
            knowledge_base_name=self.name,
            knowledge_base_description=self.description,
            lease_renewal_time=self.lease_renewal_time,
            reasoner_level=self.reasoner_level,
        )

    async def connect(self) -> None:
        """Check that the Knowledge Engine answers.

        Raises:
            KnowledgeEngineUnavailableError: the KE does not answer, or not with a version.
        """
        if not await self.client.ke_is_available():
            raise KnowledgeEngineUnavailableError(
                "the Knowledge Engine is not available", kb_id=self.id
            )

    async def register(self, *, reregister: bool = True) -> None:
        """Register the KB with the KE, then every declared interaction.

        Args:
            reregister: When the KE already has a KB with this id (left over from a crash or an
                earlier run), delete it first. The KE has no upsert; without this the KE
                refuses the registration.
        """
        if self._registered:
            raise RuntimeError(f"knowledge base {self.id} is already registered")
        await self.client.register_kb(self.info(), reregister=reregister)
        self._registered = True
        for ki in self._interactions.values():
            ki.id = await self.client.register_ki(self.id, ki.registration())
            if isinstance(ki, AnswerKnowledgeInteraction | ReactKnowledgeInteraction):
                self._handled_by_id[ki.id] = ki
        logger.info(
            "registered knowledge base %s with %d knowledge interactions",
            self.id,
            len(self._interactions),
        )

    async def unregister(self) -> None:
        """Delete the KB (and so its interactions) from the KE. Harmless when not registered."""
        if not self._registered:
            return
        self._registered = False
        self._handled_by_id.clear()
        for ki in self._interactions.values():
            ki.id = None
        await self.client.unregister_kb(self.id)
        logger.info("unregistered knowledge base %s", self.id)

    async def close(self) -> None:
        """Close the client and release its resources."""
        await self.client.close()

    async def unregister_ki(self, ki: KnowledgeInteraction | str) -> None:
        """Remove an interaction: from the KE when registered, and from this KB's declarations.

        Requests for it that the KE already queued can no longer be served; the loop answers
        any that still arrive with an empty binding set.
        """
        found = self._lookup(ki)
        if self._registered and found.id is not None:
            await self.client.unregister_ki(self.id, found.id)
            self._handled_by_id.pop(found.id, None)
        del self._interactions[found.name]
        found.id = None
        logger.info("knowledge base %s: unregistered knowledge interaction %r", self.id, found.name)

    async def renew_lease(self) -> LeaseInfo:
        """Renew the KB's lease with the KE; it needs ``lease_renewal_time`` at registration.

        Returns:
            The KB's id and the new expiry time.
        """
        if self.lease_renewal_time is None:
            raise ConfigurationError(
                f"knowledge base {self.id} registered without a lease; give it a "
                "lease_renewal_time to have one to renew"
            )
        self._require_registered("renew_lease")
        return await self.client.renew_lease(self.id)

    async def upload_domain_knowledge(self, knowledge: str) -> None:
        """Replace the KB's domain knowledge at the KE (Apache Jena rules; ``""`` clears it).

        The KE uses it in this KB's own asks and posts (reasoner level 2 or higher).
        """
        self._require_registered("upload_domain_knowledge")
        await self.client.upload_domain_knowledge(self.id, knowledge)

    def _require_registered(self, what: str) -> None:
        if not self._registered:
            raise RuntimeError(
                f"knowledge base {self.id} is not registered; call 'await kb.register()' "
                f"before {what}()"
            )

    # ------------------------------------------------------------------ handling loop

    @property
    def event_loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the handling loop runs on, while it runs; ``None`` otherwise.

        `ask_sync` and `post_sync` hand their calls to this loop.
        """
        return self._loop

    @property
    def handlers_in_flight(self) -> int:
        """How many handle requests the loop accepted and has not yet answered."""
        return len(self._in_flight)

    async def start_handling_loop(
        self, loops: int | None = None, max_concurrent_handlers: int = 10
    ) -> None:
        """Serve handle requests until the KE says EXIT (or ``loops`` polls were made).

        Exactly one long poll is open at a time, as the KE requires. A semaphore of
        ``max_concurrent_handlers`` permits gates each cycle: acquire a permit, poll, and on a
        handle request start a task that runs the handler, posts its response and releases
        the permit; then start the next cycle at once. So at most ``max_concurrent_handlers``
        handlers run at the same time, ``async`` or sync (sync ones in a thread pool of that
        size).

        A handler that raises, a request for an unknown interaction, a result that is not a
        binding set: each is logged and answered with an empty binding set, and the loop goes
        on. On EXIT, after ``loops`` polls, or when cancelled, no more polls are made and every
        accepted request is answered before this returns.

        Args:
            loops: Make at most this many polls (each handle request, heartbeat or EXIT counts
                as one), then drain and return. ``None``: until EXIT.
            max_concurrent_handlers: How many handlers may run at the same time.

        Raises:
            ConfigurationError: invalid arguments.
            RuntimeError: the KB is not registered, or its loop is already running.
        """
        if not isinstance(max_concurrent_handlers, int) or max_concurrent_handlers < 1:
            raise ConfigurationError(
                f"max_concurrent_handlers must be a positive int, got {max_concurrent_handlers!r}"
            )
        if loops is not None and (not isinstance(loops, int) or loops < 0):
            raise ConfigurationError(f"loops must be None or an int >= 0, got {loops!r}")
        if not self._registered:
            raise RuntimeError(
                f"knowledge base {self.id} is not registered; call 'await kb.register()' "
                "before starting its handling loop"
            )
        if self._loop is not None:
            raise RuntimeError(f"the handling loop of knowledge base {self.id} is already running")
        self._loop = asyncio.get_running_loop()
        executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_concurrent_handlers, thread_name_prefix="km-handler"
        )
        self._run_sync = executor_runner(executor)
        permits = asyncio.Semaphore(max_concurrent_handlers)
        logger.info(
            "knowledge base %s: handling loop started (max_concurrent_handlers=%d)",
            self.id,
            max_concurrent_handlers,
        )
        try:
            polls = 0
            failures = 0
            while loops is None or polls < loops:
                await permits.acquire()
                polls += 1
                try:
                    result, request = await self.client.poll_ki_call(self.id)
                except KnowledgeEngineError as exc:
                    permits.release()
                    if not exc.transient:
                        raise
                    failures += 1
                    await self._back_off(exc, failures)
                    continue
                except BaseException:
                    permits.release()
                    raise
                if failures:
                    logger.info(
                        "knowledge base %s: polling works again after %d failed attempts",
                        self.id,
                        failures,
                    )
                    failures = 0
                if result is PollResult.HANDLE and request is not None:
                    task = asyncio.create_task(
                        self._serve(request, permits),
                        name=f"km-handle-{request.handle_request_id}",
                    )
                    self._in_flight.add(task)
                    task.add_done_callback(self._handler_done)
                    continue
                permits.release()
                if result is PollResult.EXIT:
                    logger.info("knowledge base %s: the KE asked the loop to exit", self.id)
                    break
                if result is PollResult.HANDLE:
                    logger.error(
                        "knowledge base %s: the client reported a handle request without one",
                        self.id,
                    )
        finally:
            try:
                await self._drain()
            finally:
                executor.shutdown(wait=False)
                self._run_sync = run_in_default_thread
                self._loop = None
                logger.info("knowledge base %s: handling loop stopped", self.id)

    async def _back_off(self, error: KnowledgeEngineError, failures: int) -> None:
        """Wait before the next poll; log the first failure of an episode, not every one."""
        delay = self.poll_backoff.delay(failures)
        if failures == 1:
            logger.warning(
                "knowledge base %s: polling failed (%s); polling again in %.2f s, backing off "
                "while it keeps failing",
                self.id,
                error,
                delay,
            )
        else:
            logger.debug(
                "knowledge base %s: poll attempt %d failed (%s); next in %.2f s",
                self.id,
                failures,
                error,
                delay,
            )
        await asyncio.sleep(delay)  # a deliberate pause before retrying, not a wait for a state

    def _handler_done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if task.cancelled():
            return
        exc = task.exception()  # retrieved here, so no task's exception goes unnoticed
        if exc is not None:
            logger.error(
                "knowledge base %s: handler task %s ended with %r",
                self.id,
                task.get_name(),
                exc,
                exc_info=exc,
            )

    async def _drain(self) -> None:
        """Wait until every accepted request is answered; a second cancel cancels handlers."""
        try:
            while self._in_flight:
                await asyncio.wait(set(self._in_flight))
        except asyncio.CancelledError:
            for task in self._in_flight:
                task.cancel()
            while self._in_flight:
                await asyncio.wait(set(self._in_flight))
            raise

    async def _serve(self, request: HandleRequest, permits: asyncio.Semaphore) -> None:
        """Run one handle request to its response; never raises but for cancellation."""
        try:
            ki = self._handled_by_id.get(request.knowledge_interaction_id)
            binding_set: BindingSet = []
            if ki is None:
                logger.error(
                    "knowledge base %s: handle request %d from %s names unknown knowledge "
                    "interaction %s; answering with an empty binding set",
                    self.id,
                    request.handle_request_id,
                    request.requesting_knowledge_base_id,
                    request.knowledge_interaction_id,
                )
            else:
                try:
                    binding_set = await self._handle(ki, request)
                except asyncio.CancelledError:
                    logger.warning(
                        "knowledge base %s: handler of %r was cancelled on handle request %d "
                        "from %s; answering with an empty binding set",
                        self.id,
                        ki.name,
                        request.handle_request_id,
                        request.requesting_knowledge_base_id,
                    )
                    await self._respond(request, [])
                    raise
                except Exception:
                    logger.exception(
                        "knowledge base %s: handler of %r failed on handle request %d from %s; "
                        "answering with an empty binding set",
                        self.id,
                        ki.name,
                        request.handle_request_id,
                        request.requesting_knowledge_base_id,
                    )
            await self._respond(request, binding_set)
        finally:
            permits.release()

    async def _handle(self, ki: Handled, request: HandleRequest) -> BindingSet:
        context = RequestContext(
            knowledge_base=self,
            knowledge_interaction=ki,
            requesting_kb_id=request.requesting_knowledge_base_id,
            handle_request_id=request.handle_request_id,
        )
        return await self._invoke(ki, request.binding_set, context)

    async def _invoke(
        self, ki: Handled, binding_set: BindingSet, context: RequestContext
    ) -> BindingSet:
        result = await ki.handler(
            binding_set, context, self.dependency_overrides, self._overridden, self._run_sync
        )
        bindings = to_binding_set(
            result, what=f"the result of the handler of {ki.name!r}", model=ki.output_model
        )
        if bindings and not ki.has_result:
            raise BindingValidationError(
                f"the handler of {ki.name!r} returned {len(bindings)} bindings, but the "
                "interaction has no result graph pattern; return an empty list or None"
            )
        return bindings

    def _answering_ki_id(self, request: HandleRequest) -> str:
        # The KE finds the request by its id alone, but wants the header to name an existing
        # KI of this KB; for a request naming a KI we do not know, any of ours will do.
        if request.knowledge_interaction_id in self._handled_by_id:
            return request.knowledge_interaction_id
        registered = (ki.id for ki in self._interactions.values() if ki.id is not None)
        return next(registered, request.knowledge_interaction_id)

    async def _respond(self, request: HandleRequest, binding_set: BindingSet) -> None:
        try:
            await self.client.post_handle_response(
                self.id,
                self._answering_ki_id(request),
                HandleResponse(
                    handle_request_id=request.handle_request_id, binding_set=binding_set
                ),
            )
        except Exception:
            logger.exception(
                "knowledge base %s: could not post the response to handle request %d (%s) from %s",
                self.id,
                request.handle_request_id,
                request.knowledge_interaction_id,
                request.requesting_knowledge_base_id,
            )

    async def call(
        self,
        ki: str | KnowledgeInteraction,
        binding_set: Sequence[Binding | BindingModel] | None = None,
        *,
        requesting_kb_id: str | None = None,
    ) -> BindingSet:
        """Run an ANSWER or REACT handler here and now, without the KE or the loop.

        Dependencies are injected (overrides included) and converted as in the loop, so this is
        the quickest way to unit-test a handler. Errors are raised, not turned into an empty
        answer.

        Returns:
            The binding set the loop would post to the KE.
        """
        found = self._lookup(ki)
        if not isinstance(found, AnswerKnowledgeInteraction | ReactKnowledgeInteraction):
            raise ConfigurationError(
                f"knowledge interaction {found.name!r} is a {found.kind.name} interaction, "
                "which has no handler; call() runs ANSWER and REACT interactions"
            )
        bindings = to_binding_set(binding_set, what=f"the binding set for {found.name!r}")
        context = RequestContext(
            knowledge_base=self, knowledge_interaction=found, requesting_kb_id=requesting_kb_id
        )
        return await self._invoke(found, bindings, context)

    # ------------------------------------------------------------------ outgoing calls

    def _outgoing(self, ki: KnowledgeInteraction | str, kind: type[K], call: str) -> tuple[K, str]:
        found = self._lookup(ki)
        if not isinstance(found, kind):
            raise ConfigurationError(
                f"knowledge interaction {found.name!r} is a {found.kind.name} interaction; "
                f"{call}() needs a {kind.kind.name} one"
            )
        if found.id is None:
            raise RuntimeError(
                f"knowledge base {self.id} is not registered; call 'await kb.register()' "
                f"before using {found.name!r}"
            )
        return found, found.id

    @overload
    async def ask_with_info(
        self,
        ki: AskKnowledgeInteraction[B],
        binding_set: Sequence[B | Binding] | None = ...,
        *,
        recipients: Sequence[str] | None = ...,
    ) -> AskResponse[B]: ...

    @overload
    async def ask_with_info(
        self,
        ki: str,
        binding_set: Sequence[Binding | BindingModel] | None = ...,
        *,
        recipients: Sequence[str] | None = ...,
    ) -> AskResponse[Any]: ...

    async def ask_with_info(
        self,
        ki: AskKnowledgeInteraction[Any] | str,
        binding_set: Sequence[Any] | None = None,
        *,
        recipients: Sequence[str] | None = None,
    ) -> AskResponse[Any]:
        """Ask, and return the answers with the KE's exchange info and knowledge gaps.

        Args:
            ki: The ASK interaction, by handle or by name.
            binding_set: Known values that restrict the answers; ``None`` asks for everything.
            recipients: Ask only these knowledge bases (ids); ``None`` asks everyone.
        """
        found, ki_id = self._outgoing(ki, AskKnowledgeInteraction, "ask")
        bindings = to_binding_set(binding_set, what=f"the binding set asked through {found.name!r}")
        result = await self.client.ask(self.id, ki_id, bindings, recipients=recipients)
        return AskResponse(
            binding_set=from_binding_set(result.binding_set, found.binding_model),
            exchange_info=result.exchange_info,
            knowledge_gaps=result.knowledge_gaps,
        )

    @overload
    async def ask(
        self,
        ki: AskKnowledgeInteraction[B],
        binding_set: Sequence[B | Binding] | None = ...,
        *,
        recipients: Sequence[str] | None = ...,
    ) -> list[B]: ...

    @overload
    async def ask(
        self,
        ki: str,
        binding_set: Sequence[Binding | BindingModel] | None = ...,
        *,
        recipients: Sequence[str] | None = ...,
    ) -> list[Any]: ...

    async def ask(
        self,
        ki: AskKnowledgeInteraction[Any] | str,
        binding_set: Sequence[Any] | None = None,
        *,
        recipients: Sequence[str] | None = None,
    ) -> list[Any]:
        """Ask the network through an ASK interaction and return the answers.

        Args:
            ki: The ASK interaction, by handle or by name.
            binding_set: Known values that restrict the answers; ``None`` asks for everything.
            recipients: Ask only these knowledge bases (ids); ``None`` asks everyone.

        Returns:
            The answering bindings, as the interaction's binding model when it has one.
        """
        return (await self.ask_with_info(ki, binding_set, recipients=recipients)).binding_set

    @overload
    async def post_with_info(
        self,
        ki: PostKnowledgeInteraction[A, R],
        binding_set: Sequence[A | Binding],
        *,
        recipients: Sequence[str] | None = ...,
    ) -> PostResponse[R]: ...

    @overload
    async def post_with_info(
        self,
        ki: str,
        binding_set: Sequence[Binding | BindingModel],
        *,
        recipients: Sequence[str] | None = ...,
    ) -> PostResponse[Any]: ...

    async def post_with_info(
        self,
        ki: PostKnowledgeInteraction[Any, Any] | str,
        binding_set: Sequence[Any],
        *,
        recipients: Sequence[str] | None = None,
    ) -> PostResponse[Any]:
        """Post, and return the reactions' results with the KE's exchange info.

        Args:
            ki: The POST interaction, by handle or by name.
            binding_set: The bindings to post.
            recipients: Post only to these knowledge bases (ids); ``None`` posts to everyone.
        """
        found, ki_id = self._outgoing(ki, PostKnowledgeInteraction, "post")
        bindings = to_binding_set(
            binding_set, what=f"the binding set posted through {found.name!r}"
        )
        result = await self.client.post(self.id, ki_id, bindings, recipients=recipients)
        return PostResponse(
            result_binding_set=from_binding_set(result.result_binding_set, found.result_model),
            exchange_info=result.exchange_info,
        )

    @overload
    async def post(
        self,
        ki: PostKnowledgeInteraction[A, R],
        binding_set: Sequence[A | Binding],
        *,
        recipients: Sequence[str] | None = ...,
    ) -> list[R]: ...

    @overload
    async def post(
        self,
        ki: str,
        binding_set: Sequence[Binding | BindingModel],
        *,
        recipients: Sequence[str] | None = ...,
    ) -> list[Any]: ...

    async def post(
        self,
        ki: PostKnowledgeInteraction[Any, Any] | str,
        binding_set: Sequence[Any],
        *,
        recipients: Sequence[str] | None = None,
    ) -> list[Any]:
        """Post bindings through a POST interaction and return the reactions' results.

        Args:
            ki: The POST interaction, by handle or by name.
            binding_set: The bindings to post.
            recipients: Post only to these knowledge bases (ids); ``None`` posts to everyone.

        Returns:
            The results, as the interaction's result model when it has one (empty when it has
            no result pattern).
        """
        return (
            await self.post_with_info(ki, binding_set, recipients=recipients)
        ).result_binding_set

    # ------------------------------------------------------------------ sync bridge

    def _loop_for_bridge(self, name: str) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None or loop.is_closed() or not loop.is_running():
            raise RuntimeError(
                f"{name}() needs the handling loop of knowledge base {self.id} to be running: it "
                "hands the call to that loop. Call it from a sync handler, or use 'await' on the "
                "async method from async code."
            )
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is loop:
            raise RuntimeError(
                f"{name}() was called on the event loop's own thread, where it would block the "
                "loop it is waiting for (a deadlock). In async code, await the async method "
                "instead; sync handlers run in worker threads, where it works."
            )
        if current is not None:
            raise RuntimeError(
                f"{name}() was called from a thread that runs another event loop, which it "
                "would block; await the async method instead"
            )
        return loop

    def _bridge(
        self,
        loop: asyncio.AbstractEventLoop,
        coroutine: Coroutine[Any, Any, Any],
        timeout: float | None,
    ) -> Any:
        future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    @overload
    def ask_sync(
        self,
        ki: AskKnowledgeInteraction[B],
        binding_set: Sequence[B | Binding] | None = ...,
        *,
        recipients: Sequence[str] | None = ...,
        timeout: float | None = ...,
    ) -> list[B]: ...

    @overload
    def ask_sync(
        self,
        ki: str,
        binding_set: Sequence[Binding | BindingModel] | None = ...,
        *,
        recipients: Sequence[str] | None = ...,
        timeout: float | None = ...,
    ) -> list[Any]: ...

    def ask_sync(
        self,
        ki: AskKnowledgeInteraction[Any] | str,
        binding_set: Sequence[Any] | None = None,
        *,
        recipients: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> list[Any]:
        """`ask` for sync code in a worker thread (a sync handler), while the loop runs.

        Schedules the ask on the handling loop's event loop and blocks this thread until it
        completes, at most ``timeout`` seconds (``None``: no limit; on expiry the ask is
        cancelled and `TimeoutError` raised).

        Raises:
            RuntimeError: the handling loop is not running, or this is the event loop's own
                thread (where waiting would deadlock).
        """
        loop = self._loop_for_bridge("ask_sync")
        coroutine = self.ask(ki, binding_set, recipients=recipients)
        return self._bridge(loop, coroutine, timeout)  # type: ignore[no-any-return]

    @overload
    def post_sync(
        self,
        ki: PostKnowledgeInteraction[A, R],
        binding_set: Sequence[A | Binding],
        *,
        recipients: Sequence[str] | None = ...,
        timeout: float | None = ...,
    ) -> list[R]: ...

    @overload
    def post_sync(
        self,
        ki: str,
        binding_set: Sequence[Binding | BindingModel],
        *,
        recipients: Sequence[str] | None = ...,
        timeout: float | None = ...,
    ) -> list[Any]: ...

    def post_sync(
        self,
        ki: PostKnowledgeInteraction[Any, Any] | str,
        binding_set: Sequence[Any],
        *,
        recipients: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> list[Any]:
        """`post` for sync code in a worker thread (a sync handler), while the loop runs.

        Raises:
            RuntimeError: the handling loop is not running, or this is the event loop's own
                thread (where waiting would deadlock).
        """
        loop = self._loop_for_bridge("post_sync")
        coroutine = self.post(ki, binding_set, recipients=recipients)
        return self._bridge(loop, coroutine, timeout)  # type: ignore[no-any-return]
