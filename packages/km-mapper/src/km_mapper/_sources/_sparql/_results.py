"""A SELECT's solutions, as the SPARQL 1.1 JSON results document gives them, as a binding set.

Only the interaction's variables are kept, each value in the KE's text form (see `._terms`).
A solution holding a term the KE cannot take (a blank node, above all) is left out whole: an
ANSWER's binding is complete or absent, never silently missing a value. Solutions that are the
same once converted are given once: a binding set is a set.
"""

from __future__ import annotations

from collections.abc import Collection

from km_core import BindingSet

from ._terms import ke_text

__all__ = ["Solutions", "read_solutions"]


class Solutions:
    """The converted bindings, and how many solutions were left out (and for which variables).

    Attributes:
        bindings: The binding set.
        left_out: How many solutions held a term the KE cannot take.
        variables: The variables such terms stood for.
    """

    __slots__ = ("bindings", "left_out", "variables")

    def __init__(self, bindings: BindingSet, left_out: int, variables: frozenset[str]) -> None:
        self.bindings = bindings
        self.left_out = left_out
        self.variables = variables


def read_solutions(document: object, variables: Collection[str]) -> Solutions:
    """The bindings of a SPARQL JSON results document, for the given variables.

    Raises:
        ValueError: ``document`` is not a SELECT's SPARQL JSON results.
    """
    results = document.get("results") if isinstance(document, dict) else None
    solutions = results.get("bindings") if isinstance(results, dict) else None
    if not isinstance(solutions, list):
        raise ValueError("it holds no 'results': {'bindings': [...]} (is it a SELECT's result?)")
    wanted = set(variables)
    seen: dict[tuple[tuple[str, str], ...], None] = {}
    left_out = 0
    at_fault: set[str] = set()
    for solution in solutions:
        if not isinstance(solution, dict):
            raise ValueError(f"a solution is not an object: {solution!r:.80}")
        binding: dict[str, str] = {}
        for variable, term in solution.items():
            if variable not in wanted:
                continue
            if not isinstance(term, dict):
                raise ValueError(f"the term of ?{variable} is not an object: {term!r:.80}")
            text = ke_text(term)
            if text is None:
                at_fault.add(variable)
                break
            binding[variable] = text
        else:
            seen[tuple(sorted(binding.items()))] = None
            continue
        left_out += 1
    bindings = [dict(items) for items in seen]
    return Solutions(bindings, left_out, frozenset(at_fault))
