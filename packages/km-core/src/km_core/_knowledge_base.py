"""The KnowledgeBase façade: its constructor, lifecycle methods, and the request context.

`KnowledgeBase` holds a knowledge base's parts and delegates to them, one line each:

- declaring interactions: `Declaring` (``_declarations``);
- asks and posts, async and sync: `SyncCalls` (``_outgoing``);
- hooks and tasks of its service life: `ServiceHooks` (``_serving``);
- registration, leases: `Session` (``_session``);
- the handling loop: `HandlingLoop`, `Dispatcher`, `Responder` (``_handling``);
- serving and stopping: ``_serving``; its state: `Lifecycle` (``_lifecycle``).

docs/architecture.md draws the layers and follows one handle request through them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ._arguments import check_kb_arguments
from ._authorization import AccessControl, AuditHook, Policy
from ._backoff import Backoff
from ._binding import BindingModel, to_binding_set
from ._declarations import (
    EVERYBODY,
    Declaring,
    Handled,
    KnowledgeInteraction,
    Permitted,
    Registry,
    check_permitted,
)
from ._errors import ConfigurationError
from ._handling import Dispatcher, HandlingLoop, InFlight, Responder, check_loop_arguments
from ._handling._policy import ErrorPolicy  # its defining module: the reference links to it
from ._inject import ContextValue, Dependant, run_in_default_thread
from ._lifecycle import Lifecycle
from ._middleware import Middleware, MiddlewareStack
from ._models import Binding, BindingSet, KnowledgeBaseInfo, LeaseInfo
from ._outgoing import AskResponse, PostResponse, SyncCalls
from ._protocol import ClientProtocol
from ._serving import Lifespan, Service, ServiceHooks, ServiceLife
from ._session import Session, wait_for_engine

__all__ = ["AskResponse", "ErrorPolicy", "KnowledgeBase", "PostResponse", "RequestContext"]


@dataclasses.dataclass(frozen=True, slots=True)
class RequestContext(ContextValue):
    """What a handler may want to know about the request it is serving.

    Declare a parameter of this type, in a handler or in a dependency factory, to receive it.

    Attributes:
        knowledge_base: The knowledge base that serves the request.
        knowledge_interaction: The ANSWER or REACT interaction that was called.
        requesting_kb_id: The id of the knowledge base that asked or posted, when known.
        handle_request_id: The KE's id of this handle request, when the request came from the
            KE (``None`` for `KnowledgeBase.call`).
    """

    knowledge_base: KnowledgeBase
    knowledge_interaction: KnowledgeInteraction
    requesting_kb_id: str | None = None
    handle_request_id: int | None = None


class KnowledgeBase(Declaring, SyncCalls, Service, ServiceHooks):
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
        permitted: The knowledge bases that may use an ANSWER or REACT interaction that does
            not say (its ``permitted``): ``"*"`` for everybody (the default), or their ids.
            A request from any other is denied before its handler runs, and answered per
            ``error_policy``; docs/authorization.md says what this protects, and what not.
        authorize: A policy, checked after ``permitted`` for every request: a function, sync
            (run in a worker thread) or async, whose first parameter receives the
            `AccessRequest` and whose others are injected as a handler's are (`Depends`,
            `RequestContext`). ``True`` allows the request; ``False``, an exception or no
            answer within ``authorize_timeout`` denies it.
        audit: Called with every `AccessDecision` (allowed or denied) before the request goes
            on, for example to write an access log table. An async hook is awaited; a sync one
            runs on the event loop, so it must be quick. A hook that raises is logged.
        authorize_timeout: Seconds the policy may take (and no more than the interaction's
            handler timeout); ``None``: no limit but that.
        middleware: `Middleware` around each handle request and each ask and post, the first
            outermost (metrics, traces, your own); see `add_middleware`.

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
        permitted: Permitted = EVERYBODY,
        authorize: Policy | None = None,
        audit: AuditHook | None = None,
        authorize_timeout: float | None = 10.0,
        middleware: Sequence[Middleware] = (),
    ) -> None:
        check_kb_arguments(
            id=id,
            name=name,
            description=description,
            lease_renewal_time=lease_renewal_time,
            reasoner_level=reasoner_level,
            handler_timeout=handler_timeout,
            authorize_timeout=authorize_timeout,
        )
        self._access = AccessControl(
            kb_id=id,
            permitted=check_permitted(permitted, what=f"knowledge base {id}"),
            authorize=authorize,
            audit=audit,
            timeout=authorize_timeout,
            scope=dict(sys._getframe(1).f_locals) if authorize is not None else None,
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
        self.dependency_overrides: dict[Callable[..., Any], Callable[..., Any]] = {}
        self._overridden: dict[Callable[..., Any], Dependant] = {}
        self._state = Lifecycle()
        self._middleware = MiddlewareStack(middleware)
        self._registry = Registry(id)
        self._session = Session(self, self._registry, self._state, self._middleware)
        self._in_flight = InFlight(id)
        self._responder = Responder(self, self._registry, self._middleware)
        self._life = ServiceLife(id, lifespan)
        self._direct = Dispatcher(
            self,
            self._registry,
            self._access,
            self._request_context,
            self._overridden,
            run_in_default_thread,
        )
        """Runs handlers for `call`, outside the handling loop."""

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

    # ------------------------------------------------------------------ session

    @property
    def registered(self) -> bool:
        """Whether the KB and its interactions are registered with the KE."""
        return self._state.registered

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
        await self._session.register(reregister=reregister)

    async def unregister(self) -> None:
        """Delete the KB (and so its interactions) from the KE. Harmless when not registered.

        After the KE stopped the KB (its poll was answered 410: deleted, lease expired, or the
        KE shut down), the KB is gone from the KE already, and nothing is sent.
        """
        await self._session.unregister()

    async def unregister_ki(self, ki: KnowledgeInteraction | str) -> None:
        """Remove an interaction: from the KE when registered, and from this KB's declarations.

        Requests for it that the KE already queued can no longer be served; the loop answers
        any that still arrive with an empty binding set.
        """
        await self._session.unregister_ki(ki)

    async def renew_lease(self) -> LeaseInfo:
        """Renew the KB's lease with the KE; it needs ``lease_renewal_time`` at registration.

        Returns:
            The KB's id and the new expiry time.
        """
        return await self._session.renew_lease()

    async def upload_domain_knowledge(self, knowledge: str) -> None:
        """Replace the KB's domain knowledge at the KE (Apache Jena rules; ``""`` clears it).

        The KE uses it in this KB's own asks and posts (reasoner level 2 or higher).
        """
        await self._session.upload_domain_knowledge(knowledge)

    async def close(self) -> None:
        """Close the client and release its resources."""
        self._session.lease.stop()
        await self.client.close()

    # ------------------------------------------------------------------ handling

    @property
    def event_loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the handling loop runs on, while it runs; ``None`` otherwise.

        `ask_sync` and `post_sync` hand their calls to this loop.
        """
        run = self._state.handling
        return run.loop if run is not None else None

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
        check_loop_arguments(loops, max_concurrent_handlers)
        if not self._state.registered:
            raise RuntimeError(
                f"knowledge base {self.id} is not registered; call 'await kb.register()' "
                "before starting its handling loop"
            )
        if self._state.handling is not None:
            raise RuntimeError(f"the handling loop of knowledge base {self.id} is already running")
        loop = HandlingLoop(
            self,
            registry=self._registry,
            access=self._access,
            session=self._session,
            state=self._state,
            in_flight=self._in_flight,
            responder=self._responder,
            context=self._request_context,
            overridden=self._overridden,
            max_concurrent_handlers=max_concurrent_handlers,
            middleware=self._middleware,
        )
        await loop.run(loops, grace_period)

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
        answer. The request is authorized as in the loop, as one from ``requesting_kb_id``.

        Returns:
            The binding set the loop would post to the KE.

        Raises:
            AccessDeniedError: ``requesting_kb_id`` may not use the interaction.
        """
        found = self._registry.lookup(ki)
        if not isinstance(found, Handled):
            raise ConfigurationError(
                f"knowledge interaction {found.name!r} is a {found.kind.name} interaction, "
                "which has no handler; call() runs ANSWER and REACT interactions"
            )
        bindings = to_binding_set(binding_set, what=f"the binding set for {found.name!r}")
        return await self._direct.call(found, bindings, requesting_kb_id)

    def _request_context(
        self, ki: Handled, requesting_kb_id: str | None, handle_request_id: int | None
    ) -> RequestContext:
        return RequestContext(self, ki, requesting_kb_id, handle_request_id)
