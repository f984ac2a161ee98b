"""Executing a plan: bindings down as filters, results up through joins, rules applied once.

First the *filter pass*: the asker's bindings (or, forward, what the POST gives) travel from
the start towards the producers, translated across each match, so that every knowledge base
receives what restricts it; a node feeding several others receives the union. Then the
*result pass*: every node runs as soon as its producers are done, all nodes concurrently; a
node joins its producers' results per combi match, keeps what fits its filter and covers every
triple of its antecedent, and applies its rule to that once: an ANSWER or REACT by asking its
knowledge base (through ``apply``, which the engine provides), a domain rule by projecting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from ._bindings import (
    Binding,
    Covered,
    answers_that_fit,
    full,
    join,
    keep_compatible,
    to_candidate,
    to_target,
    unique,
)
from ._planner import Node, Plan
from ._rule import Rule, RuleKind
from ._terms import Triple, is_variable

__all__ = ["MAX_ROUNDS", "Apply", "run_ask", "run_post"]

MAX_ROUNDS = 20
"""The most rounds a domain rule on a loop through itself is applied in one exchange."""

Apply = Callable[[Rule, list[Binding]], Awaitable[list[Binding]]]
"""Apply a rule that stands for a knowledge interaction: send bindings, get its answer."""


def _needed(rule: Rule) -> frozenset[int]:
    """The antecedent triples a full binding must cover: those with a variable."""
    return frozenset(
        i for i, triple in enumerate(rule.antecedent) if any(is_variable(t) for t in triple)
    )


def _project(bindings: Sequence[Binding], names: frozenset[str]) -> list[Binding]:
    return unique({k: v for k, v in b.items() if k in names} for b in bindings)


class _Run:
    def __init__(self, plan: Plan, apply: Apply) -> None:
        self.plan = plan
        self.apply = apply
        self.filter_in: dict[Node, list[Binding]] = {}
        self.filter_out: dict[Node, list[Binding]] = {}
        self.tasks: dict[Node, asyncio.Task[list[Binding]]] = {}
        self.looped: dict[Node, list[Binding]] = {}  # a rule's results so far, on its loop

    def filters(self, seeds: dict[Node, list[Binding]], *, passed_on: bool = True) -> None:
        """The filter pass, consumers before producers.

        ``seeds`` are the filters of the nodes the pass starts from; with ``passed_on`` false
        they restrict those nodes only (a POST's data is not sent on to the ANSWERs that
        complete a reaction's argument: the KE sends those an empty binding set).
        """
        for node in reversed(self.plan.nodes):
            if node in seeds:
                self.filter_out[node] = seeds[node]
                continue
            incoming: list[Binding] = []
            for consumer, matches in node.consumers.items():
                if node in consumer.back or consumer not in self.filter_out:
                    continue
                if consumer in seeds and not passed_on:
                    continue
                for match in matches:
                    incoming.extend(to_candidate(self.filter_out[consumer], match))
            self.filter_in[node] = unique(incoming)
            if node.rule.antecedent and node not in self.filter_out:
                names = node.rule.antecedent_variables
                self.filter_out[node] = _project(self.filter_in[node], names)
                if node in node.back:  # a rule that feeds itself also filters what it needs
                    self._own_filters(node, names)

    def _own_filters(self, node: Node, names: frozenset[str]) -> None:
        """Add what a rule on a loop through itself asks of itself, until nothing is new."""
        for _ in range(MAX_ROUNDS):
            own = [b for m in node.consumers[node] for b in to_candidate(self.filter_out[node], m)]
            grown = unique([*self.filter_in[node], *own])
            if len(grown) == len(self.filter_in[node]):
                return
            self.filter_in[node] = grown
            self.filter_out[node] = _project(grown, names)

    async def results(self, node: Node) -> list[Binding]:
        """The node's rule applied (once) to what its producers give."""
        task = self.tasks.get(node)
        if task is None:
            task = self.tasks[node] = asyncio.ensure_future(self._result(node))
        return await asyncio.shield(task)

    async def combined(self, node: Node) -> list[Binding]:
        """The full bindings of a node's antecedent from its producers' results."""
        parts = [p for p in node.producers if p not in node.back]
        produced = dict(zip(parts, await asyncio.gather(*map(self.results, parts)), strict=True))
        for producer in node.back:
            produced[producer] = self.looped.get(producer, [])
        found: list[Covered] = []
        for combi in node.combis:
            joined: list[Covered] = [({}, frozenset())]
            for producer, match in combi:
                joined = join(joined, to_target(produced[producer], match))
                if not joined:
                    break
            found.extend(joined)
        filters = self.filter_out.get(node, [])
        if node.rule.kind is not RuleKind.START:
            found = keep_compatible(found, filters)
        return full(found, _needed(node.rule))

    async def _result(self, node: Node) -> list[Binding]:
        rule = node.rule
        if not rule.antecedent:  # an ANSWER, a fact, a meta interaction
            if rule.kind in (RuleKind.ANSWER, RuleKind.META):
                sent = _in_order(self.filter_in.get(node, []), rule.consequent)
                return unique(await self.apply(rule, sent))
            if rule.consequent_variables:
                return []  # a fact with variables derives nothing (the KE refuses it)
            return [{}]  # a fact holds, whatever is asked of it
        if rule.kind is RuleKind.DOMAIN:
            return await self._derive(node)
        bindings = await self.combined(node)
        if rule.kind in (RuleKind.START, RuleKind.CAPTURE) or not bindings:
            return bindings
        return unique(await self.apply(rule, _in_order(bindings, rule.antecedent)))

    async def _derive(self, node: Node) -> list[Binding]:
        """A domain rule's consequent; on a loop through itself, repeated until nothing is new.

        A transitive rule (``x p y, y p z -> x p z``) feeds itself: each round joins what the
        previous rounds derived, up to `MAX_ROUNDS`.
        """
        rule = node.rule
        if not rule.consequent_variables <= rule.antecedent_variables:
            return []  # the KE refuses to derive a variable its antecedent does not bind
        derived: list[Binding] = []
        for _ in range(MAX_ROUNDS if node in node.back else 1):
            self.looped[node] = derived
            found = _project(await self.combined(node), rule.consequent_variables)
            if len(found) == len(derived):
                break
            derived = found
        return found

    async def finish(self) -> None:
        """Stop and collect every node started, so that no task is left without an owner."""
        for task in self.tasks.values():
            if not task.done():
                task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks.values(), return_exceptions=True)


async def run_ask(plan: Plan, bindings: list[Binding], apply: Apply) -> list[Binding]:
    """Execute a backward plan: the asker's answer, in the ASK pattern's variables."""
    run = _Run(plan, apply)
    run.filters({plan.start: bindings or [{}]})
    try:
        answer = await run.combined(plan.start)
        return _in_order(answers_that_fit(answer, bindings), plan.start.rule.antecedent)
    finally:
        await run.finish()


async def run_post(plan: Plan, bindings: list[Binding], apply: Apply) -> list[Binding]:
    """Execute a forward plan: the POST's result, in its result pattern's variables."""
    run = _Run(plan, apply)
    start = plan.start
    bindings = bindings or [{}]  # as on the KE: nothing posted is one empty binding
    seeds: dict[Node, list[Binding]] = {}
    for consumer, matches in start.consumers.items():
        # What the POST gives restricts what is asked to complete the consumer's antecedent.
        fed = [b for match in matches for b, _ in to_target(bindings, match)]
        seeds[consumer] = unique(fed)
    run.filters(seeds, passed_on=False)
    run.tasks[start] = asyncio.ensure_future(_given(bindings))
    try:
        for node in plan.nodes:
            if node is not start:
                run.tasks.setdefault(node, asyncio.ensure_future(run._result(node)))
        await asyncio.gather(*run.tasks.values())
        if plan.capture is None:
            return []
        return _in_order(run.tasks[plan.capture].result(), plan.capture.rule.antecedent)
    finally:
        await run.finish()


def _in_order(bindings: list[Binding], triples: Sequence[Triple]) -> list[Binding]:
    """Bindings with their variables in the order they first occur in the pattern."""
    order = {t[1:]: i for i, t in enumerate(dict.fromkeys(t for tr in triples for t in tr))}
    return [
        dict(sorted(b.items(), key=lambda item: order.get(item[0], len(order)))) for b in bindings
    ]


async def _given(bindings: list[Binding]) -> list[Binding]:
    return bindings
