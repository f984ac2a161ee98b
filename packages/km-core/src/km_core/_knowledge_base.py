"""The KnowledgeBase: declarations, lifecycle, the handling loop and outgoing calls.

Its service life (lifespan, hooks, owned tasks) is in ``_lifespan``, reaching the KE at start in
``_connect``, signal capture in ``_signals`` and the access log in ``_access_log``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
import logging
import sys
import time
import urllib.parse
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, Self, TypeVar, overload

from ._access_log import ANSWERED, access_logger, log_access
from ._backoff import Backoff
from ._binding_model import BindingModel
from ._connect import wait_for_engine
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
    KnowledgeBaseStoppedError,
    KnowledgeEngineError,
    KnowledgeEngineResponseError,
    PollConflictError,
    SmartConnectorNotFoundError,
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
from ._lifespan import Hook, Lifespan, ServiceLife
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
from ._retry import Episode
from ._signals import install_signal_handlers
from .terms import is_absolute_iri

__all__ = ["AskResponse", "ErrorPolicy", "KnowledgeBase", "PostResponse"]

logger = logging.getLogger("km_core")

F = TypeVar("F", bound=Callable[..., Any])
H = TypeVar("H", bound=Hook)
B = TypeVar("B")
A = TypeVar("A")
R = TypeVar("R")
M = TypeVar("M", bound=BindingModel)
N = TypeVar("N", bound=BindingModel)
K = TypeVar("K", bound=KnowledgeInteraction)

STOPPED_BY_ENGINE = (
    "the Knowledge Engine stopped this knowledge base while it served: it was deleted, its "
    "lease expired, or the Knowledge Engine shut down"
)
SUPERSEDED = (
    "another instance registered this knowledge base id while this one was away; the newer "
    "instance serves, and this one stopped without deleting its registration"
)
REGISTRATION_ATTEMPTS = 5
"""How often a registration is tried when the KB vanishes while its interactions register."""
QUICK_REPOLL = 1.0
"""A heartbeat (REPOLL) sooner than this many seconds after the poll began is not a real one:
the KE's come after 29 s. Twice in a row, it counts as a failure, and the loop backs off."""


class _QuickHeartbeat(Exception):
    """The poll came back with nothing to handle, long before a heartbeat is due."""

    def __init__(self) -> None:
        super().__init__(
            f"the poll was answered with a heartbeat within {QUICK_REPOLL:g} s, long before the "
            "Knowledge Engine's 29 s; is a proxy answering in its place?"
        )


def _already_registered(error: KnowledgeEngineResponseError) -> bool:
    return error.status_code == 400 and "already in use" in error.message


def _check_kb_id(id: object) -> None:
    """Refuse a KB id the KE would refuse, or that cannot be sent in a header, before any call."""
    if not isinstance(id, str) or not is_absolute_iri(id):
        raise ConfigurationError(
            f"knowledge base id {id!r} is not an absolute IRI (for example "
            "'http://example.org/kb/trees'); the Knowledge Engine rejects anything else"
        )
    if not (id.isascii() and id.isprintable()):
        uri = urllib.parse.quote(id, safe=":/?#[]@!$&'()*+,;=%~")
        raise ConfigurationError(
            f"knowledge base id {id!r} cannot be sent in the Knowledge-Base-Id header, which "
            f"takes printable ASCII only; use its URI form, with the other characters "
            f"percent-encoded: {uri!r}"
        )


Handled = AnswerKnowledgeInteraction | ReactKnowledgeInteraction


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


class _HandlerTimeout(Exception):
    """A handler did not answer within its timeout."""


def _with_timeout(ki: Handled, timeout: float | None) -> Handled:
    if timeout is not None and timeout <= 0:
        raise ConfigurationError(
            f"knowledge interaction {ki.name!r}: timeout must be positive, got {timeout!r}"
        )
    ki.timeout = timeout
    return ki


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
        client: The transport to the Knowledge Engine. It may be left out and set later (as
            ``kb.client = ...``), for a runner such as ``km run`` to supply one.
        lease_renewal_time: Seconds the KE keeps the KB without a lease renewal (30 to 3600);
            ``None`` registers without a lease.
        reasoner_level: The KE's reasoner level for this KB (1 to 5); ``None`` uses the KE's
            default.
        poll_backoff: How long the handling loop waits before polling again after a transient
            error (the KE unreachable, a 409 from a stale poll, a 5xx), and between attempts to
            post a response or to register again.
        error_policy: How a request the loop could not serve is answered.
        handler_timeout: Seconds a handler may take before its request is answered as failed
            (per interaction: the decorators' ``timeout``); ``None``: no limit.
        response_retry_period: Seconds during which a response that could not be posted
            (the KE unreachable, a 5xx) is tried again; after that it is dropped with an error
            log. The KE's asker waits 10 s by default.
        lifespan: What the KB runs inside while it serves, as in Starlette: a function that
            takes the KB and returns an async context manager (for example one made with
            `contextlib.asynccontextmanager`). It is entered once the KB is connected and
            registered, before the handling loop starts, and left after the loop has drained,
            before the KB unregisters. See also `on_startup`, `on_shutdown`, `every` and
            `create_task`.

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
        client: ClientProtocol | None = None,
        lease_renewal_time: int | None = None,
        reasoner_level: int | None = None,
        poll_backoff: Backoff | None = None,
        error_policy: ErrorPolicy = ErrorPolicy.EMPTY_BINDING_SET,
        handler_timeout: float | None = None,
        response_retry_period: float = 10.0,
        lifespan: Lifespan | None = None,
    ) -> None:
        if handler_timeout is not None and handler_timeout <= 0:
            raise ConfigurationError(f"handler_timeout must be positive, got {handler_timeout!r}")
        _check_kb_id(id)
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
        self._client = client
        self.lease_renewal_time = lease_renewal_time
        self.reasoner_level = reasoner_level
        self.poll_backoff = poll_backoff or Backoff()
        self.error_policy = ErrorPolicy(error_policy)
        self.handler_timeout = handler_timeout
        self.response_retry_period = response_retry_period
        self._loop_task: asyncio.Task[Any] | None = None
        self._serving: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = None
        self._stop_requested = False
        self._loop_done: asyncio.Event | None = None
        self._abandoned: set[asyncio.Task[Any]] = set()
        self._lease_task: asyncio.Task[None] | None = None
        self.dependency_overrides: dict[Callable[..., Any], Callable[..., Any]] = {}
        self._overridden: dict[Callable[..., Any], Dependant] = {}
        self._interactions: dict[str, KnowledgeInteraction] = {}
        self._handled_by_id: dict[str, Handled] = {}
        self._registered = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._run_sync: RunSync = run_in_default_thread
        self._in_flight: set[asyncio.Task[None]] = set()
        self._life = ServiceLife(id, lifespan)
        self._responses = Episode(self.poll_backoff, kb_id=id, what="posting responses")
        self._stopped_by_engine: str | None = None

    def __repr__(self) -> str:
        return f"<KnowledgeBase {self.id!r}>"

    @property
    def client(self) -> ClientProtocol:
        """The transport to the Knowledge Engine.

        Raises:
            RuntimeError: the KB was created without one and none was set since.
        """
        if self._client is None:
            raise RuntimeError(
                f"knowledge base {self.id} has no client: pass client= when creating it, set "
                "kb.client, or run it with 'km run', which makes one from its settings"
            )
        return self._client

    @client.setter
    def client(self, client: ClientProtocol) -> None:
        self._client = client

    @property
    def has_client(self) -> bool:
        """Whether a client was given or set."""
        return self._client is not None

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
        timeout: float | None = None,
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
            timeout: Seconds the handler may take (overrides the KB's ``handler_timeout``).

        Raises:
            ConfigurationError: a bad name, pattern, prefixes or model, or a name in use.
            HandlerDeclarationError: the handler's signature cannot be served.
        """

        def decorator(function: F) -> F:
            ki = AnswerKnowledgeInteraction(
                scope=_declaring_scope(),
                name=name,
                graph_pattern=graph_pattern,
                handler=function,
                prefixes=prefixes,
                binding_model=binding_model,
            )
            self._declare(_with_timeout(ki, timeout))
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
        timeout: float | None = None,
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
            timeout: Seconds the handler may take (overrides the KB's ``handler_timeout``).

        Raises:
            ConfigurationError: a bad name, pattern, prefixes or model, or a name in use.
            HandlerDeclarationError: the handler's signature cannot be served.
        """

        def decorator(function: F) -> F:
            ki = ReactKnowledgeInteraction(
                scope=_declaring_scope(),
                name=name,
                argument_graph_pattern=argument_graph_pattern,
                result_graph_pattern=result_graph_pattern,
                handler=function,
                prefixes=prefixes,
                argument_model=argument_model,
                result_model=result_model,
            )
            self._declare(_with_timeout(ki, timeout))
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

    # ------------------------------------------------------------------ service life

    def on_startup(self, hook: H) -> H:
        """Decorate a function to run when the KB starts serving, after its lifespan is entered.

        The hook takes no arguments and may be ``def`` (run in a worker thread) or
        ``async def``. Hooks run in the order they were declared, once the KB is connected and
        registered (so they may `ask` and `post`) and before the handling loop polls. One that
        raises stops the start: `serve` raises `StartupError`, and ``km run`` exits with one
        line on stderr and a non-zero status.
        """
        self._life.add_startup(hook)
        return hook

    def on_shutdown(self, hook: H) -> H:
        """Decorate a function to run when the KB stops serving, before its lifespan is left.

        Shutdown hooks run in the order they were declared, after the handling loop has drained
        and the KB's tasks have been cancelled, and before the KB unregisters. One that raises
        is logged; the others still run.
        """
        self._life.add_shutdown(hook)
        return hook

    def every(self, seconds: float) -> Callable[[F], F]:
        """Decorate a function to run every ``seconds`` while the KB serves.

        The function takes no arguments and may be ``def`` (run in a worker thread, where
        `ask_sync` works) or ``async def``. Its first run starts when the KB has started, the
        next ones every ``seconds`` after the start of the one before (a run that takes longer
        skips the runs it overlaps). A run that raises is logged with the KB's id, and the next
        run comes as planned. It is cancelled when the KB stops.

        Example:
            ```python
            @kb.every(5.0)
            async def ask_heights() -> None:
                print(await kb.ask(heights))
            ```
        """

        def decorator(function: F) -> F:
            self._life.add_periodic(seconds, function)
            return function

        return decorator

    def create_task(
        self, coroutine: Coroutine[Any, Any, Any], *, name: str | None = None
    ) -> asyncio.Task[Any]:
        """Start a task that the KB owns: cancelled and awaited when the KB stops serving.

        Call it while the KB serves: from its lifespan, a startup hook, a handler or another of
        its tasks. An exception that ends the task is logged with the KB's id and the task's
        name; the KB keeps serving.

        Args:
            coroutine: What the task runs.
            name: The task's name, for the log.

        Raises:
            RuntimeError: the KB is not serving.
        """
        return self._life.create_task(coroutine, name=name)

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

    async def connect(self, *, wait: float | None = 0) -> None:
        """Check that the Knowledge Engine answers, waiting for it if asked to.

        Args:
            wait: Seconds to keep trying (backing off per ``poll_backoff``) while the KE does
                not answer, for a KE that starts later than the KB; ``0`` tries once, ``None``
                tries until it answers. The last attempt is made when the wait is over.

        Raises:
            KnowledgeEngineUnavailableError: the KE did not answer with a version in time. The
                message says why (from the transport: nothing listening, not a Knowledge
                Engine, TLS, a timeout) and how many attempts were made over how long.
        """
        await wait_for_engine(self.client, kb_id=self.id, wait=wait, backoff=self.poll_backoff)

    async def register(self, *, reregister: bool = True) -> None:
        """Register the KB with the KE, then every declared interaction.

        Args:
            reregister: When the KE already has a KB with this id (left over from a crash or an
                earlier run), delete it first. The KE has no upsert; without this the KE
                refuses the registration.
        """
        if self._registered:
            raise RuntimeError(f"knowledge base {self.id} is already registered")
        await self._register_all(reregister=reregister)
        if self.lease_renewal_time is not None and self._lease_task is None:
            self._lease_task = asyncio.create_task(
                self._renew_leases(self.lease_renewal_time), name=f"km-lease-{self.name}"
            )
            self._lease_task.add_done_callback(self._lease_done)

    async def _register_all(self, *, reregister: bool) -> None:
        """Register the KB, then its interactions; again if the KB vanishes in between."""
        episode = Episode(self.poll_backoff, kb_id=self.id, what="registering its interactions")
        while True:
            await self.client.register_kb(self.info(), reregister=reregister)
            self._registered = True
            self._stopped_by_engine = None
            self._handled_by_id.clear()
            try:
                for ki in self._interactions.values():
                    ki.id = await self.client.register_ki(self.id, ki.registration())
                    if isinstance(ki, AnswerKnowledgeInteraction | ReactKnowledgeInteraction):
                        self._handled_by_id[ki.id] = ki
            except SmartConnectorNotFoundError as exc:
                # The KE forgot the KB while its interactions were registered (it restarted):
                # register the KB again, a few times at most.
                if episode.failures >= REGISTRATION_ATTEMPTS - 1:
                    raise
                await episode.pause(exc)
                continue
            break
        logger.info(
            "registered knowledge base %s with %d knowledge interactions",
            self.id,
            len(self._interactions),
        )

    async def _renew_leases(self, lease: int) -> None:
        """Renew the lease at half its time, for as long as the KB is registered.

        A renewal that fails is tried again with backoff (each pause at most a tenth of the
        lease), not at the next half-lease; if the KE dropped the KB meanwhile, the handling
        loop's next poll registers it again.
        """
        episode = Episode(self.poll_backoff, kb_id=self.id, what="renewing the lease")
        while self._registered:
            await asyncio.sleep(lease / 2)  # a schedule, not a wait for a state
            while self._registered:
                try:
                    await self.client.renew_lease(self.id)
                except KnowledgeEngineError as exc:
                    await episode.pause(exc, at_most=lease / 10)
                    continue
                episode.succeeded()
                break

    def _lease_done(self, task: asyncio.Task[None]) -> None:
        if self._lease_task is task:
            self._lease_task = None
        if not task.cancelled() and task.exception() is not None:
            logger.error(
                "knowledge base %s: lease renewal stopped: %r",
                self.id,
                task.exception(),
                exc_info=task.exception(),
            )

    def _stop_lease_renewal(self) -> None:
        if self._lease_task is not None:
            self._lease_task.cancel()
            self._lease_task = None

    async def unregister(self) -> None:
        """Delete the KB (and so its interactions) from the KE. Harmless when not registered.

        After the KE stopped the KB (its poll was answered 410: deleted, lease expired, or the
        KE shut down), the KB is gone from the KE already, and nothing is sent.
        """
        self._stop_lease_renewal()
        if not self._registered:
            return
        self._registered = False
        self._handled_by_id.clear()
        for ki in self._interactions.values():
            ki.id = None
        if self._stopped_by_engine:
            logger.info(
                "knowledge base %s: the Knowledge Engine stopped it already; not unregistering",
                self.id,
            )
            return
        await self.client.unregister_kb(self.id)
        logger.info("unregistered knowledge base %s", self.id)

    async def close(self) -> None:
        """Close the client and release its resources."""
        self._stop_lease_renewal()
        await self.client.close()

    async def __aenter__(self) -> Self:
        """Connect, register (unless registered already) and start the KB's lifespan.

        Raises:
            StartupError: the lifespan or a startup hook raised; the KB was unregistered and
                closed again.
        """
        await self.connect()
        if not self._registered:
            await self.register()
        if not self._life.running:
            try:
                await self._life.start(self)
            except BaseException:
                await self._shut_down()
                raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop a running handling loop (it drains), end the lifespan, unregister and close."""
        await self._shut_down()

    async def _shut_down(self) -> None:
        done = self._loop_done
        if self._loop_task not in (None, asyncio.current_task()) and done is not None:
            self.stop()
            await done.wait()
        try:
            await self._life.stop()
            await self.unregister()
        except KnowledgeEngineError as exc:
            logger.warning(
                "knowledge base %s: could not unregister (%s); the Knowledge Engine forgets it "
                "when it restarts or its lease expires",
                self.id,
                exc,
            )
        except Exception:
            logger.exception("knowledge base %s: could not unregister", self.id)
        finally:
            await self.close()

    def stop(self) -> None:
        """Ask the running handling loop to stop: no more polls, then it drains and returns.

        Safe to call from any thread, and more than once. The loop waits for in-flight
        handlers up to its ``grace_period``, then cancels the rest (each still answered).
        """
        loop, task = self._loop, self._loop_task
        if (loop is None or task is None) and self._serving is not None:
            loop, task = self._serving  # serve() is still connecting or registering
        if loop is None or task is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._request_stop(task)
        else:
            loop.call_soon_threadsafe(self._request_stop, task)

    def _request_stop(self, task: asyncio.Task[Any]) -> None:
        if not self._stop_requested and not task.done():
            self._stop_requested = True
            task.cancel()

    def _force_stop(self) -> None:
        """Cancel every in-flight handler now; each request is still answered."""
        for handler in list(self._in_flight):
            handler.cancel()

    async def serve(
        self,
        *,
        max_concurrent_handlers: int = 10,
        grace_period: float | None = 30.0,
        connect_wait: float | None = None,
        handle_signals: bool = True,
    ) -> None:
        """Run the KB as a service until SIGINT or SIGTERM (or `stop`).

        Connects (waiting up to ``connect_wait`` seconds for the KE), registers, starts the
        KB's lifespan (``lifespan=``, `on_startup`, `every`), and runs the handling loop. The
        first SIGINT or SIGTERM stops polling and lets in-flight handlers finish within
        ``grace_period`` seconds (``None``: as long as they take), then cancels the rest,
        answers what it cancelled, ends the lifespan (cancelling the KB's tasks, then
        `on_shutdown`), unregisters and closes. A second SIGINT cancels the handlers at once.
        The signal handlers that were there before are restored.

        Args:
            max_concurrent_handlers: As for `start_handling_loop`.
            grace_period: Seconds in-flight handlers get to finish when stopping.
            connect_wait: Seconds to wait for a KE that is not up yet; ``None``: forever.
            handle_signals: Install the SIGINT/SIGTERM handlers; pass ``False`` in an
                application that handles signals itself (and calls `stop`).

        Raises:
            KnowledgeEngineUnavailableError: the KE did not answer within ``connect_wait``.
            StartupError: the lifespan or a startup hook raised.
            KnowledgeBaseStoppedError: the KE stopped the KB while it served (it was deleted,
                its lease expired, or the KE shut down); it is not unregistered.
        """
        restore = (
            install_signal_handlers(self.id, self.stop, self._force_stop)
            if handle_signals
            else None
        )
        me = asyncio.current_task()
        assert me is not None
        self._stop_requested = False
        self._serving = (asyncio.get_running_loop(), me)
        try:
            await self.connect(wait=connect_wait)
            if not self._registered:
                await self.register()
            await self._life.start(self)
            await self.start_handling_loop(
                max_concurrent_handlers=max_concurrent_handlers, grace_period=grace_period
            )
            if self._stopped_by_engine is not None and not self._stop_requested:
                raise KnowledgeBaseStoppedError(
                    self._stopped_by_engine, endpoint="GET /sc/handle", kb_id=self.id
                )
        except asyncio.CancelledError:
            if not self._stop_requested or me.cancelling() > 1:
                raise
            me.uncancel()  # stopped while connecting or registering: a clean stop
            logger.info("knowledge base %s: stopped before it started serving", self.id)
        finally:
            self._serving = None
            if restore is not None:
                restore()
            await self._shut_down()

    def run(self, **options: Any) -> None:
        """Run `serve` in a new event loop until the KB stops; for scripts and ``km run``."""
        asyncio.run(self.serve(**options))

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
        self,
        loops: int | None = None,
        max_concurrent_handlers: int = 10,
        *,
        grace_period: float | None = None,
    ) -> None:
        """Serve handle requests until the KE says EXIT (or ``loops`` polls were made).

        Exactly one long poll is open at a time, as the KE requires. A semaphore of
        ``max_concurrent_handlers`` permits gates each cycle: acquire a permit, poll, and on a
        handle request start a task that runs the handler, releases the permit and posts the
        response; then start the next cycle at once. So at most ``max_concurrent_handlers``
        handlers run at the same time, ``async`` or sync (sync ones in a thread pool of that
        size).

        A handler that raises or times out, a request for an unknown interaction, a result that
        is not a binding set: each is logged and answered per the KB's ``error_policy``, and
        the loop goes on. Transient poll errors are retried with backoff; a 404 (the KE
        restarted, or the lease expired) registers the KB and its interactions again. On EXIT,
        after ``loops`` polls, on `stop`, or when cancelled, no more polls are made and every
        accepted request is answered before this returns.

        Args:
            loops: Make at most this many polls (each handle request, heartbeat or EXIT counts
                as one), then drain and return. ``None``: until EXIT.
            max_concurrent_handlers: How many handlers may run at the same time.
            grace_period: On `stop`, seconds in-flight handlers get to finish before they are
                cancelled (and answered); ``None``: as long as they take.

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
        self._loop_task = asyncio.current_task()
        self._stop_requested = False
        self._loop_done = asyncio.Event()
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
            episode = Episode(self.poll_backoff, kb_id=self.id, what="polling")
            quick_repolls = 0
            conflict_retried = False
            while loops is None or polls < loops:
                await permits.acquire()
                polls += 1
                started = time.monotonic()
                try:
                    result, request = await self.client.poll_ki_call(self.id)
                except SmartConnectorNotFoundError as exc:
                    permits.release()
                    if not await self._register_again(exc, episode):
                        break
                    continue
                except PollConflictError as exc:
                    permits.release()
                    if not conflict_retried and not episode.failures:
                        # KE 1.5.0 now and then refuses a poll that follows an answered one
                        # at once, as if that one were still open: try again once, at once.
                        conflict_retried = True
                        logger.debug("knowledge base %s: %s; polling again", self.id, exc)
                        continue
                    await episode.pause(exc)
                    continue
                except KnowledgeEngineError as exc:
                    # Whatever the KE (or a proxy) answered, trying again later may work: back
                    # off. Only EXIT, a stop, or a closed client (ClientClosedError) end the loop.
                    permits.release()
                    await episode.pause(exc)
                    continue
                except BaseException:
                    permits.release()
                    raise
                if result is PollResult.REPOLL and time.monotonic() - started < QUICK_REPOLL:
                    # A heartbeat comes after 29 s; one at once, again and again, is a proxy or
                    # a KE in trouble, and polling on at once would spin.
                    quick_repolls += 1
                    if quick_repolls > 1:
                        permits.release()
                        await episode.pause(_QuickHeartbeat())
                        continue
                else:
                    quick_repolls = 0
                    conflict_retried = False
                    if episode.failures:
                        episode.succeeded()
                if result is PollResult.HANDLE and request is not None:
                    task = asyncio.create_task(
                        self._serve(request, permits),
                        name=f"km-handle-{request.handle_request_id}",
                    )
                    self._in_flight.add(task)
                    task.add_done_callback(self._handler_done)
                    # A client may answer polls without suspending (requests already queued):
                    # yield once per request, so that a burst neither starves other tasks nor
                    # starts all its handlers (and their threads) in one turn of the event loop.
                    await asyncio.sleep(0)
                    continue
                permits.release()
                if result is PollResult.EXIT:
                    if await self._lease_lost():
                        lost = KnowledgeEngineError("the KE dropped the KB: its lease expired")
                        if not await self._register_again(lost, episode):
                            break
                        continue
                    logger.info("knowledge base %s: the KE asked the loop to exit", self.id)
                    if not self._stop_requested:
                        self._stopped_by_engine = STOPPED_BY_ENGINE
                    break
                if result is PollResult.HANDLE:
                    logger.error(
                        "knowledge base %s: the client reported a handle request without one",
                        self.id,
                    )
        except asyncio.CancelledError:
            own = self._loop_task
            if not self._stop_requested or own is None or own.cancelling() > 1:
                raise
            own.uncancel()  # the cancellation was ours: stop() asked for a graceful stop
            logger.info(
                "knowledge base %s: stopping; %d requests in flight", self.id, len(self._in_flight)
            )
        finally:
            try:
                await self._drain(grace_period if self._stop_requested else None)
            finally:
                executor.shutdown(wait=False)
                self._run_sync = run_in_default_thread
                self._loop = None
                self._loop_task = None
                if self._loop_done is not None:
                    self._loop_done.set()
                logger.info("knowledge base %s: handling loop stopped", self.id)

    async def _lease_lost(self) -> bool:
        """After an EXIT we did not ask for: did the KE drop this leased KB (a lease expired)?

        The KE answers an open poll with 410 when a KB is deleted for any reason, and a client
        must then stop; only a KB that holds a lease, and that the KE no longer knows, is taken
        to have lost it (a process frozen past its lease) and registers again.
        """
        if self.lease_renewal_time is None or not self._registered or self._stop_requested:
            return False
        try:
            return await self.client.get_kb(self.id) is None
        except KnowledgeEngineError:
            return False

    async def _register_again(self, error: KnowledgeEngineError, episode: Episode) -> bool:
        """The KE forgot this KB (restart, expired lease): register it and its KIs again.

        A 404 that comes right after a registration succeeded is the same episode: it pauses
        first, so that a KE that keeps forgetting costs a bounded number of requests. Returns
        ``False`` when another instance registered this KB id meanwhile: the newer one serves,
        and this loop ends (without deleting it).
        """
        if episode.first("forgotten"):
            logger.warning(
                "knowledge base %s: the Knowledge Engine no longer knows it (%s); registering "
                "again",
                self.id,
                error,
            )
            episode.failed(error, log=False)
        else:
            await episode.pause(error)
        try:
            await self._register_all(reregister=False)
        except KnowledgeEngineResponseError as exc:
            if _already_registered(exc):
                logger.warning(
                    "knowledge base %s: another instance registered this knowledge base id; it "
                    "serves now, and this one stops",
                    self.id,
                )
                self._registered = False  # the registration is the other instance's
                self._stopped_by_engine = SUPERSEDED
                return False
            if not exc.transient and not isinstance(exc, SmartConnectorNotFoundError):
                raise
            await episode.pause(exc)
        except KnowledgeEngineError as exc:
            if not exc.transient:
                raise
            await episode.pause(exc)
        return True

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

    async def _drain(self, grace_period: float | None = None) -> None:
        """Wait until every accepted request is answered; a second cancel cancels handlers.

        With a ``grace_period``, handlers still running after it are cancelled (and answered).
        """
        try:
            if grace_period is not None and self._in_flight:
                _, late = await asyncio.wait(set(self._in_flight), timeout=grace_period)
                if late:
                    logger.warning(
                        "knowledge base %s: %d handlers still running after the %.1f s grace "
                        "period; cancelling them",
                        self.id,
                        len(late),
                        grace_period,
                    )
                    self._force_stop()
            while self._in_flight:
                await asyncio.wait(set(self._in_flight))
        except asyncio.CancelledError:
            for task in self._in_flight:
                task.cancel()
            while self._in_flight:
                await asyncio.wait(set(self._in_flight))
            raise

    async def _serve(self, request: HandleRequest, permits: asyncio.Semaphore) -> None:
        """Run one handle request to its response; never raises but for cancellation.

        The permit is held while the handler runs and released before the response is posted,
        so the next poll overlaps that round trip. Once the response is posted (or dropped),
        the request is logged on the access log.
        """
        logged = access_logger.isEnabledFor(logging.INFO)  # off: no clock, no words
        started = time.perf_counter() if logged else 0.0
        cancelled = False
        try:
            response, outcome = await self._answer(request)
        except asyncio.CancelledError as exc:
            cancelled = True
            reason = exc.args[0] if exc.args and isinstance(exc.args[0], str) else None
            response = self._failure(
                request, reason or f"knowledge base {self.id} stopped before answering"
            )
            outcome = "cancelled"
        finally:
            permits.release()
        delivered = False
        try:
            delivered = await self._respond(request, response)
        finally:
            if logged:
                ki = self._handled_by_id.get(request.knowledge_interaction_id)
                log_access(
                    kb_id=self.id,
                    ki_name=ki.name if ki is not None else None,
                    request=request,
                    response=response,
                    outcome=outcome,
                    delivered=delivered,
                    started=started,
                )
            if cancelled:
                raise asyncio.CancelledError

    async def _answer(self, request: HandleRequest) -> tuple[HandleResponse, str]:
        """The response to a request, and its outcome for the access log.

        The response holds the handler's bindings, or a failure per the error policy.

        Raises:
            asyncio.CancelledError: the handler was cancelled; its first argument is the reason
                to answer with.
        """
        ki = self._handled_by_id.get(request.knowledge_interaction_id)
        if ki is None:
            logger.error(
                "knowledge base %s: handle request %d from %s names unknown knowledge "
                "interaction %s",
                self.id,
                request.handle_request_id,
                request.requesting_knowledge_base_id,
                request.knowledge_interaction_id,
            )
            return self._failure(
                request,
                f"knowledge base {self.id} has no knowledge interaction "
                f"{request.knowledge_interaction_id}",
            ), "no such interaction"
        try:
            binding_set = await self._run_handler(ki, request)
        except _HandlerTimeout as timeout:
            logger.error(
                "knowledge base %s: handler of %r did not answer handle request %d from %s "
                "within %s s",
                self.id,
                ki.name,
                request.handle_request_id,
                request.requesting_knowledge_base_id,
                timeout,
            )
            return self._failure(
                request, f"the handler of {ki.name!r} did not answer within {timeout} s"
            ), f"handler timed out after {timeout} s"
        except asyncio.CancelledError:
            logger.warning(
                "knowledge base %s: handler of %r was cancelled on handle request %d from %s",
                self.id,
                ki.name,
                request.handle_request_id,
                request.requesting_knowledge_base_id,
            )
            raise asyncio.CancelledError(
                f"knowledge base {self.id} stopped before {ki.name!r} answered"
            ) from None
        except Exception as exc:
            logger.exception(
                "knowledge base %s: handler of %r failed on handle request %d from %s",
                self.id,
                ki.name,
                request.handle_request_id,
                request.requesting_knowledge_base_id,
            )
            return self._failure(
                request, f"the handler of {ki.name!r} failed ({type(exc).__name__})"
            ), f"handler failed ({type(exc).__name__})"
        return (
            HandleResponse(handle_request_id=request.handle_request_id, binding_set=binding_set),
            ANSWERED,
        )

    async def _run_handler(self, ki: Handled, request: HandleRequest) -> BindingSet:
        timeout = ki.timeout if ki.timeout is not None else self.handler_timeout
        if timeout is None:
            return await self._handle(ki, request)
        work = asyncio.create_task(self._handle(ki, request))
        try:
            done, _ = await asyncio.wait({work}, timeout=timeout)
        except asyncio.CancelledError:
            work.cancel()
            self._keep(work)
            raise
        if work in done:
            return work.result()
        # Too late: answer now. An async handler is cancelled; a sync one's thread cannot be,
        # and finishes unobserved (the thread pool still bounds how many run).
        work.cancel()
        self._keep(work)
        raise _HandlerTimeout(timeout)

    def _keep(self, task: asyncio.Task[Any]) -> None:
        """Hold a reference to a task left behind, and retrieve its outcome when it ends."""
        self._abandoned.add(task)

        def done(finished: asyncio.Task[Any]) -> None:
            self._abandoned.discard(finished)
            if not finished.cancelled() and finished.exception() is not None:
                logger.debug(
                    "knowledge base %s: a timed-out handler ended with %r",
                    self.id,
                    finished.exception(),
                )

        task.add_done_callback(done)

    def _failure(self, request: HandleRequest, reason: str) -> HandleResponse:
        """The answer to a request that could not be served, per the error policy."""
        if self.error_policy is ErrorPolicy.ERROR_MESSAGE:
            return HandleResponse(handle_request_id=request.handle_request_id, error_message=reason)
        return HandleResponse(handle_request_id=request.handle_request_id, binding_set=[])

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

    async def _respond(self, request: HandleRequest, response: HandleResponse) -> bool:
        """Post a response; retry transient failures for ``response_retry_period`` seconds.

        Returns:
            Whether the response was posted.
        """
        # Each response backs off on its own (its episode made at its first failure only); the
        # KB's response episode logs for all of them, so that a KE that is away costs one
        # WARNING line, not one per response.
        mine: Episode | None = None
        deadline = 0.0
        while True:
            try:
                await self.client.post_handle_response(
                    self.id, self._answering_ki_id(request), response
                )
            except KnowledgeEngineError as exc:
                if mine is None:
                    mine = Episode(self.poll_backoff, kb_id=self.id, what="posting a response")
                    deadline = time.monotonic() + self.response_retry_period
                delay = mine.failed(exc, log=False)
                if exc.transient and time.monotonic() + delay <= deadline:
                    self._responses.failed(exc)
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
                        self.id,
                        request.handle_request_id,
                        mine.failures,
                    )
                    self._responses.succeeded()
                return True
            logger.error(
                "knowledge base %s: could not post the response to handle request %d (%s) from "
                "%s; dropping it",
                self.id,
                request.handle_request_id,
                request.knowledge_interaction_id,
                request.requesting_knowledge_base_id,
                exc_info=error,
            )
            return False

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
