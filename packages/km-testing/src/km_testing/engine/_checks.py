"""The KE's checks of what knowledge bases send: registrations, patterns, answers, acts.

Each function raises (or returns) exactly what the KE 1.5 answers for the same input, so the
engine's 400s and ``failedMessage`` texts are the KE's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from km_core import (
    BindingSet,
    CommunicativeAct,
    GraphPatternError,
    KnowledgeInteractionRegistration,
    KnowledgeInteractionType,
)
from km_core.patterns import GraphPattern, parse_graph_pattern

from ._common import _PURPOSE_PARENTS, _error
from ._state import _Interaction
from ._values import check_binding_set
from .reasoner import fits


def _is_ki_name(name: str) -> bool:
    return all(c.isascii() and (c.isalnum() or c == "-") for c in name)


def _ki_violations(registration: KnowledgeInteractionRegistration) -> str:
    """What the KE's bean validation of a KI registration reports, before anything else.

    Over REST an ASK or ANSWER needs its graph pattern, a POST or REACT its argument pattern
    (a result pattern alone is not enough), and a name only letters, digits and hyphens.
    """
    found = ""
    if registration.knowledge_interaction_type in (
        KnowledgeInteractionType.ASK,
        KnowledgeInteractionType.ANSWER,
    ):
        if registration.graph_pattern is None:
            found += "scKiPost.arg1.graphPattern must not be null\n "
    elif registration.argument_graph_pattern is None:
        found += "scKiPost.arg1.argumentGraphPattern must not be null\n "
    name = registration.knowledge_interaction_name
    if name is not None and not _is_ki_name(name):
        found += 'scKiPost.arg1.knowledgeInteractionName must match "^[a-zA-Z0-9-]*$"\n '
    return found


def _posts_a_fact(variables: frozenset[str], incoming: BindingSet) -> bool:
    """Whether some posted binding binds every variable (a pattern without any: always)."""
    return not variables or any(variables <= binding.keys() for binding in incoming)


def _parse(text: str, prefixes: Mapping[str, str]) -> GraphPattern:

    if not text.strip():
        raise _error(400, f"Invalid graph pattern: {text}")
    try:
        return parse_graph_pattern(text, prefixes)
    except GraphPatternError as exc:
        note = (
            ". Note: Have you included your prefixes in the 'prefixes' property?"
            if "prefix" in str(exc)
            else ""
        )
        raise _error(400, f"Invalid graph pattern: {exc}{note}") from exc


def _acts_fit(a: CommunicativeAct, b: CommunicativeAct) -> bool:
    """Both sides' required purposes are met by the other side's satisfied ones."""
    return _purposes_met(a.required_purposes, b.satisfied_purposes) and _purposes_met(
        b.required_purposes, a.satisfied_purposes
    )


def _purposes_met(required: Iterable[str], satisfied: Iterable[str]) -> bool:
    offered = set(satisfied)
    for purpose in list(offered):
        offered |= _PURPOSE_PARENTS.get(purpose, set())
    return all(purpose in offered for purpose in required)


def _validate_answer(binding_set: Any, pattern: GraphPattern | None) -> BindingSet:
    """The KE's checks of an answer against the ANSWER pattern or REACT result pattern."""
    bindings = check_binding_set(binding_set if binding_set is not None else [])
    if pattern is None:
        if bindings:
            raise _error(400, "Bindings must be empty when the graph pattern is missing.")
        return bindings
    canonical = pattern.canonical()
    for binding in bindings:
        missing = sorted(pattern.variables - binding.keys())
        if missing:
            raise _error(
                400,
                "Expected a complete binding, but was missing some variable(s) that ARE in the "
                f"graph pattern ('{canonical}'), but are missing from the binding, namely: "
                f"[{', '.join('?' + v for v in missing)}]. Note that the question mark should "
                "NOT be included in your binding keys.",
            )
        for key in binding:
            if key not in pattern.variables:
                raise _error(
                    400,
                    f"Given binding set uses key '?{key}', but this does not occur as a variable "
                    f"in graph pattern '{canonical}'.",
                )
    return bindings


def _unmatched_binding(
    outgoing: BindingSet, incoming: BindingSet, ki: _Interaction
) -> dict[str, str] | None:
    """An outgoing binding that agrees with no incoming one, as the KE checks it, or None.

    ANSWER: some incoming binding's values must all be in the outgoing binding. REACT: the same,
    on the variables that occur in both its argument and its result pattern.
    """
    given = [b for b in incoming if b]
    if not given or len(given) < len(incoming):
        return None  # an empty binding was sent: it asks for everything
    shared: frozenset[str] | None = None
    if ki.kind is KnowledgeInteractionType.REACT:
        argument = ki.argument.variables if ki.argument else frozenset()
        shared = argument & (ki.result.variables if ki.result else frozenset())
    wanted = [
        {k: v for k, v in source.items() if shared is None or k in shared} for source in given
    ]
    for binding in outgoing:
        if not any(fits(binding, one) for one in wanted):
            return binding
    return None
