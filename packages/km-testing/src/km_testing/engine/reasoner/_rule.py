"""The reasoner's rules: what each knowledge interaction and each piece of domain knowledge means.

As in the KE, everything the reasoner can use is a rule from an antecedent (triples it needs)
to a consequent (triples it gives):

- an ANSWER interaction: no antecedent, its pattern as consequent (a source of facts);
- a REACT interaction: its argument pattern to its result pattern (a converter when it has a
  result, a sink when it has none);
- a domain-knowledge rule: its body to its head (a fact: no body);
- the asking or posting interaction itself (the *start*): an ASK needs its pattern; a POST
  gives its argument pattern; a POST's result pattern is a sink that captures the results.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from functools import cached_property
from typing import Any

from ._jena_rules import JenaRule
from ._terms import Triple, jena_node, triples_of, variables_of

__all__ = ["Rule", "RuleKind", "domain_rules"]


class RuleKind(enum.Enum):
    """What applying a rule does."""

    ANSWER = "answer"
    """Ask a knowledge base's ANSWER interaction."""
    REACT = "react"
    """Post to a knowledge base's REACT interaction."""
    META = "meta"
    """Answered by the engine itself from what it knows of a knowledge base."""
    DOMAIN = "domain"
    """Derive the consequent from the antecedent's bindings (domain knowledge)."""
    START = "start"
    """The ASK or POST being executed."""
    CAPTURE = "capture"
    """A POST's result pattern, collecting what the reactions give."""


@dataclasses.dataclass(eq=False)
class Rule:
    """One rule; rules compare by identity.

    Attributes:
        name: A name for logs and messages (the interaction's id, or the rule's name).
        antecedent: The triples the rule needs, each once.
        consequent: The triples the rule gives, each once.
        kind: What applying it does.
        source: What it stands for (the engine's interaction record), if anything.
    """

    name: str
    antecedent: tuple[Triple, ...]
    consequent: tuple[Triple, ...]
    kind: RuleKind
    source: Any = None

    @cached_property
    def antecedent_variables(self) -> frozenset[str]:
        """The antecedent's variable names."""
        return variables_of(self.antecedent)

    @cached_property
    def consequent_variables(self) -> frozenset[str]:
        """The consequent's variable names."""
        return variables_of(self.consequent)

    def __repr__(self) -> str:
        return f"Rule({self.kind.value} {self.name})"


def domain_rules(parsed: Iterable[JenaRule], owner: str) -> list[Rule]:
    """The reasoner's rules for domain knowledge read by `parse_rules`."""
    rules = []
    for number, rule in enumerate(parsed):
        body = triples_of(_jena_triple(triple) for triple in rule.body)
        head = triples_of(_jena_triple(triple) for triple in rule.head)
        name = rule.name or f"{owner}#rule{number}"
        rules.append(Rule(name, body, head, RuleKind.DOMAIN))
    return rules


def _jena_triple(triple: Triple) -> Triple:
    s, p, o = triple
    return (jena_node(s), jena_node(p), jena_node(o))
