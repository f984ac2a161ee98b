"""The local engine's reasoner: what the KE's reasoner does with an ASK or a POST, in Python.

Every knowledge interaction of the other knowledge bases, and every rule of the asking KB's
domain knowledge, is a `Rule`. For an ASK, `plan_ask` finds the rules that together can give
its pattern (backward chaining) and `run_ask` executes that plan: bindings travel down as
filters, answers come up through joins, and each knowledge base is contacted once, through the
``apply`` callback the engine provides. For a POST, `plan_post` and `run_post` do the same
forward: reactions whose argument the posted data feeds, completed by answers where the level
allows, and their results captured by the POST's result pattern. `knowledge_gaps` says what an
empty answer lacks. The reasoner level chooses the match flags (`flags_for`).

Layers, lowest first: `_terms` (terms and triples as text), `_rule` (the rule model) and
`_jena_rules` (domain knowledge read as the KE reads it), `_matcher` (matches and combi
matches), `_bindings` (translation and joins), `_planner`, `_executor`, `_gaps`.
"""

from ._bindings import Binding, fits
from ._executor import Apply, run_ask, run_post
from ._gaps import knowledge_gaps
from ._jena_rules import JenaRule, RuleSyntaxError, parse_rules
from ._matcher import DEFAULT_MATCH_BUDGET, MatchBudgetExceeded, MatchFlags, flags_for
from ._planner import Plan, plan_ask, plan_post
from ._rule import Rule, RuleKind, domain_rules
from ._terms import Triple, is_variable, same_value, triples_of, variables_of, write_node

__all__ = [
    "DEFAULT_MATCH_BUDGET",
    "Apply",
    "Binding",
    "JenaRule",
    "MatchBudgetExceeded",
    "MatchFlags",
    "Plan",
    "Rule",
    "RuleKind",
    "RuleSyntaxError",
    "Triple",
    "domain_rules",
    "fits",
    "flags_for",
    "is_variable",
    "knowledge_gaps",
    "parse_rules",
    "plan_ask",
    "plan_post",
    "run_ask",
    "run_post",
    "same_value",
    "triples_of",
    "variables_of",
    "write_node",
]
