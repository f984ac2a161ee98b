"""Outgoing calls: `ask` and `post` through the KB's ASK and POST interactions.

`AsyncCalls` is a mixin of `KnowledgeBase`. Each call checks and converts the bindings it is
given (binding models or dicts), sends them through the KB's exchange middleware (when it has
any) and the client, and returns the results as the interaction's model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypeVar, overload

from km_core._binding import BindingModel, from_binding_set, to_binding_set
from km_core._declarations import AskKnowledgeInteraction, PostKnowledgeInteraction, Registry
from km_core._middleware import ExchangeCall, MiddlewareStack
from km_core._models import AskResult, Binding, BindingSet, PostResult
from km_core._protocol import ClientProtocol

from ._responses import AskResponse, PostResponse

__all__ = ["AsyncCalls"]

B = TypeVar("B")
A = TypeVar("A")
R = TypeVar("R")
X = TypeVar("X", AskResult, PostResult)


class AsyncCalls:
    """Asks and posts (a mixin of `KnowledgeBase`)."""

    id: str
    _registry: Registry
    _middleware: MiddlewareStack

    client: ClientProtocol

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
        found, ki_id = self._registry.registered_as(ki, AskKnowledgeInteraction, "ask")
        bindings = to_binding_set(binding_set, what=f"the binding set asked through {found.name!r}")
        if self._middleware.exchanges:
            result = await self._exchange(AskResult, "ask", found.name, ki_id, bindings, recipients)
        else:
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
        found, ki_id = self._registry.registered_as(ki, PostKnowledgeInteraction, "post")
        bindings = to_binding_set(
            binding_set, what=f"the binding set posted through {found.name!r}"
        )
        if self._middleware.exchanges:
            result = await self._exchange(
                PostResult, "post", found.name, ki_id, bindings, recipients
            )
        else:
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

    async def _exchange(
        self,
        expected: type[X],
        kind: Literal["ask", "post"],
        ki_name: str,
        ki_id: str,
        bindings: BindingSet,
        recipients: Sequence[str] | None,
    ) -> X:
        """An ask or post through the KB's exchange middleware, then the client.

        Raises:
            TypeError: a middleware returned something other than the client's result.
        """
        call = ExchangeCall(self.id, kind, ki_name, ki_id, bindings, recipients)
        result = await self._middleware.wrap_exchange(self._send)(call)
        if not isinstance(result, expected):
            raise TypeError(
                f"a middleware's exchange returned {type(result).__name__} for the {kind} "
                f"through {ki_name!r}; return what call_next returned (a {expected.__name__})"
            )
        return result

    async def _send(self, call: ExchangeCall) -> AskResult | PostResult:
        """The innermost step of the exchange middleware: the client's ask or post."""
        if call.kind == "ask":
            return await self.client.ask(
                call.kb_id, call.ki_id, call.binding_set, recipients=call.recipients
            )
        return await self.client.post(
            call.kb_id, call.ki_id, call.binding_set, recipients=call.recipients
        )
