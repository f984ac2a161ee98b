"""A knowledge base's registration with the KE: register, register again, unregister.

`Session` registers the KB and then each interaction (again, a few times, if the KE forgets the
KB in between), registers again after the KE forgot it (a restart, an expired lease), notices
when another instance took the KB id over, and unregisters. It owns the `LeaseRenewal`.
"""

from __future__ import annotations

import logging

from km_core._declarations import KnowledgeInteraction, Registry
from km_core._errors import (
    ConfigurationError,
    KnowledgeEngineError,
    KnowledgeEngineResponseError,
    SmartConnectorNotFoundError,
)
from km_core._lifecycle import Lifecycle, Registration
from km_core._middleware import MiddlewareStack
from km_core._models import LeaseInfo
from km_core._retry import Episode

from ._host import SessionHost
from ._lease import LeaseRenewal

__all__ = ["REGISTRATION_ATTEMPTS", "Session"]

logger = logging.getLogger("km_core")

REGISTRATION_ATTEMPTS = 5
"""How often a registration is tried when the KB vanishes while its interactions register."""


def _already_registered(error: KnowledgeEngineResponseError) -> bool:
    return error.status_code == 400 and "already in use" in error.message


class Session:
    """One knowledge base's registration with the KE."""

    __slots__ = ("_host", "_middleware", "_registry", "_state", "lease")

    def __init__(
        self,
        host: SessionHost,
        registry: Registry,
        state: Lifecycle,
        middleware: MiddlewareStack | None = None,
    ) -> None:
        self._host = host
        self._registry = registry
        self._state = state
        self._middleware = middleware if middleware is not None else MiddlewareStack()
        self.lease = LeaseRenewal(host, state)

    async def register(self, *, reregister: bool) -> None:
        """Register the KB and its interactions, then start renewing its lease (if it has one).

        Raises:
            RuntimeError: it is registered already.
        """
        if self._state.registered:
            raise RuntimeError(f"knowledge base {self._host.id} is already registered")
        await self._register_all(reregister=reregister, again=False)
        if self._host.lease_renewal_time is not None:
            self.lease.start(self._host.lease_renewal_time)

    async def _register_all(self, *, reregister: bool, again: bool) -> None:
        """Register the KB, then its interactions; again if the KB vanishes in between.

        While the handling loop runs, a registration makes the KB count as polling again: the
        loop polls on at once.
        """
        host, registry = self._host, self._registry
        episode = Episode(host.poll_backoff, kb_id=host.id, what="registering its interactions")
        while True:
            await host.client.register_kb(host.info(), reregister=reregister)
            self._state.registration = Registration.ACTIVE
            registry.forget_ids(keep_on_interactions=True)
            try:
                for ki in registry:
                    ki_id = await host.client.register_ki(host.id, ki.registration())
                    registry.registered(ki, ki_id)
            except SmartConnectorNotFoundError as exc:
                # The KE forgot the KB while its interactions were registered (it restarted):
                # register the KB again, a few times at most.
                if episode.failures >= REGISTRATION_ATTEMPTS - 1:
                    raise
                await episode.pause(exc)
                continue
            break
        logger.info(
            "registered knowledge base %s with %d knowledge interactions", host.id, len(registry)
        )
        self._state.polling = self._state.handling is not None
        if self._middleware.observers:
            self._middleware.notify("on_registered", host.id, again=again)

    async def register_again(self, error: KnowledgeEngineError, episode: Episode) -> bool:
        """The KE forgot this KB (restart, expired lease): register it and its KIs again.

        A 404 that comes right after a registration succeeded is the same episode: it pauses
        first, so that a KE that keeps forgetting costs a bounded number of requests. Returns
        ``False`` when another instance registered this KB id meanwhile: the newer one serves,
        and the handling loop ends (without deleting it).
        """
        kb_id = self._host.id
        if episode.first("forgotten"):
            logger.warning(
                "knowledge base %s: the Knowledge Engine no longer knows it (%s); registering "
                "again",
                kb_id,
                error,
            )
            episode.failed(error, log=False)
        else:
            await episode.pause(error)
        try:
            await self._register_all(reregister=False, again=True)
        except KnowledgeEngineResponseError as exc:
            if _already_registered(exc):
                logger.warning(
                    "knowledge base %s: another instance registered this knowledge base id; it "
                    "serves now, and this one stops",
                    kb_id,
                )
                self._state.registration = Registration.SUPERSEDED
                return False
            if not exc.transient and not isinstance(exc, SmartConnectorNotFoundError):
                raise
            await episode.pause(exc)
        except KnowledgeEngineError as exc:
            if not exc.transient:
                raise
            await episode.pause(exc)
        return True

    async def lease_lost(self) -> bool:
        """After an EXIT we did not ask for: did the KE drop this leased KB (a lease expired)?

        The KE answers an open poll with 410 when a KB is deleted for any reason, and a client
        must then stop; only a KB that holds a lease, and that the KE no longer knows, is taken
        to have lost it (a process frozen past its lease) and registers again.
        """
        state = self._state
        if self._host.lease_renewal_time is None or not state.registered or state.stop_requested:
            return False
        try:
            return await self._host.client.get_kb(self._host.id) is None
        except KnowledgeEngineError:
            return False

    async def unregister(self) -> None:
        """Delete the KB from the KE, unless the KE ended its registration already."""
        self.lease.stop()
        state, kb_id = self._state, self._host.id
        if not state.registered:
            return
        ended = state.registration is Registration.ENDED
        state.registration = Registration.NONE
        self._registry.forget_ids()
        if ended:
            logger.info(
                "knowledge base %s: the Knowledge Engine stopped it already; not unregistering",
                kb_id,
            )
            return
        await self._host.client.unregister_kb(kb_id)
        logger.info("unregistered knowledge base %s", kb_id)

    async def unregister_ki(self, ki: KnowledgeInteraction | str) -> None:
        """Remove an interaction: from the KE when registered, and from the registry."""
        found = self._registry.lookup(ki)
        if self._state.registered and found.id is not None:
            await self._host.client.unregister_ki(self._host.id, found.id)
        self._registry.remove(found)
        logger.info(
            "knowledge base %s: unregistered knowledge interaction %r", self._host.id, found.name
        )

    async def renew_lease(self) -> LeaseInfo:
        """Renew the lease now."""
        if self._host.lease_renewal_time is None:
            raise ConfigurationError(
                f"knowledge base {self._host.id} registered without a lease; give it a "
                "lease_renewal_time to have one to renew"
            )
        self.require_registered("renew_lease")
        return await self._host.client.renew_lease(self._host.id)

    async def upload_domain_knowledge(self, knowledge: str) -> None:
        """Replace the KB's domain knowledge at the KE."""
        self.require_registered("upload_domain_knowledge")
        await self._host.client.upload_domain_knowledge(self._host.id, knowledge)

    def require_registered(self, what: str) -> None:
        """Raise `RuntimeError` naming ``what`` unless the KB is registered."""
        if not self._state.registered:
            raise RuntimeError(
                f"knowledge base {self._host.id} is not registered; call 'await kb.register()' "
                f"before {what}()"
            )
