"""The SPARQL text of each request: a SELECT for an ANSWER, an update for a REACT.

An ANSWER runs ``SELECT DISTINCT <the pattern's variables> WHERE { <the pattern> }``, or the
interaction's own ``query``, followed by a trailing ``VALUES`` clause holding the incoming
bindings: SPARQL 1.1 allows one after any query, joined with the query's solutions before its
ORDER BY, LIMIT and projection, so a configured query needs no marker. A variable that a
binding leaves out is ``UNDEF`` there. No bindings, or a binding that binds nothing (which
matches everything), mean no VALUES clause.

A REACT runs ``INSERT DATA { ... }`` with the argument pattern's triples written once for each
incoming binding, or the interaction's own ``update``: a template holding a line ``# values``
(a comment, so the template is valid SPARQL as written) inside a WHERE group, which is replaced
by the VALUES clause of the bindings. Every binding of a REACT binds every variable.

Binding keys are never written into a query: they must be variables of the pattern, and the
pattern's own names are written. Values are parsed and written anew (see `._terms`), so nothing
from the network can change a query's structure. The interaction's prefixes are declared
(``PREFIX``) before a configured query or update; a generated one writes full IRIs.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence

from rdflib.term import Node, Variable

from km_core import BindingSet, BindingValidationError
from km_core.terms import Term, iri_problem

from ._terms import read_value, shown, sparql_constant, sparql_text

__all__ = [
    "VALUES_MARKER",
    "BindingReader",
    "InsertData",
    "Select",
    "UpdateTemplate",
    "prologue",
    "values_clause",
]

VALUES_MARKER = re.compile(r"^[ \t]*#[ \t]*values[ \t]*$", re.MULTILINE | re.IGNORECASE)
"""The line of a configured update that the VALUES clause replaces: ``# values``."""

# A prefix name SPARQL reads (PN_PREFIX, ASCII-leaning): letters first, no final dot.
_PREFIX_NAME = re.compile(r"(?:[^\W\d_](?:[\w.\-]*[\w\-])?)?")

Triple = tuple[Node, Node, Node]
Row = tuple[str | None, ...]
"""One row of a VALUES clause: written terms, ``None`` for UNDEF."""


def prologue(prefixes: Mapping[str, str]) -> str:
    """``PREFIX`` lines for the prefixes SPARQL can declare (others would not parse anyway)."""
    return "".join(
        f"PREFIX {name}: <{iri}>\n"
        for name, iri in prefixes.items()
        if _PREFIX_NAME.fullmatch(name) and iri_problem(iri) is None
    )


def values_clause(variables: Sequence[str], rows: Iterable[Row]) -> str:
    """A VALUES clause: ``VALUES (?a ?b) { (<x> UNDEF) ... }``, each row on a line of its own."""
    head = " ".join(f"?{variable}" for variable in variables)
    body = "".join(
        "  (" + " ".join("UNDEF" if term is None else term for term in row) + ")\n" for row in rows
    )
    return f"VALUES ({head}) {{\n{body}}}"


def _triple_text(triple: Triple, terms: Mapping[str, str]) -> str:
    """A triple's text, each variable written as its term in ``terms``, or else as ``?name``."""
    return " ".join(
        terms.get(str(node), f"?{node}") if isinstance(node, Variable) else sparql_constant(node)
        for node in triple
    )


class BindingReader:
    """Checks incoming bindings against an interaction's variables, and parses their values.

    Raises `km_core.BindingValidationError` for a key that is not one of the variables, a value
    that is not an RDF term a store can take, or (when ``complete``) a variable left unbound;
    the message names the interaction, the binding and the problem.
    """

    def __init__(self, interaction: str, variables: Sequence[str], *, complete: bool) -> None:
        self._interaction = interaction
        self._variables = frozenset(variables)
        self._listed = ", ".join(f"?{name}" for name in sorted(variables)) or "none"
        self._complete = complete

    def read(self, binding_set: BindingSet) -> list[dict[str, Term]]:
        """The bindings, each value parsed.

        Raises:
            km_core.BindingValidationError: a binding cannot be used; nothing is sent then.
        """
        if not isinstance(binding_set, list):
            raise self._refused(None, 0, "a binding set is a list of bindings")
        count = len(binding_set)
        bindings: list[dict[str, Term]] = []
        for index, binding in enumerate(binding_set):
            if not isinstance(binding, dict):
                raise self._refused(index, count, "a binding is an object of variable to value")
            terms: dict[str, Term] = {}
            for key, value in binding.items():
                if key not in self._variables:
                    raise self._refused(
                        index,
                        count,
                        f"{shown(str(key))} is not a variable of the graph pattern "
                        f"(its variables: {self._listed})",
                    )
                try:
                    terms[key] = read_value(value)
                except ValueError as exc:
                    raise self._refused(index, count, f"?{key}: {exc}") from None
            if self._complete and len(terms) < len(self._variables):
                missing = ", ".join(f"?{name}" for name in sorted(self._variables - set(terms)))
                raise self._refused(index, count, f"it leaves {missing} unbound")
            bindings.append(terms)
        return bindings

    def _refused(self, index: int | None, count: int, reason: str) -> BindingValidationError:
        where = "" if index is None else f", binding {index + 1} of {count}"
        return BindingValidationError(
            f"knowledge interaction {self._interaction!r}{where}: {reason}; the request is "
            "refused and nothing is sent to the SPARQL source"
        )


def _rows(variables: Sequence[str], bindings: Iterable[Mapping[str, Term]]) -> list[Row]:
    """The distinct rows of the bindings, in order."""
    rows = dict.fromkeys(
        tuple(
            None if (term := binding.get(variable)) is None else sparql_text(term)
            for variable in variables
        )
        for binding in bindings
    )
    return list(rows)


@dataclasses.dataclass(frozen=True, slots=True)
class Select:
    """The SELECT of an ANSWER interaction, to which each request adds its VALUES clause.

    Attributes:
        text: The query without a VALUES clause.
        variables: The pattern's variables, in the order the VALUES clause lists them.
    """

    text: str
    variables: tuple[str, ...]

    @classmethod
    def from_pattern(cls, triples: Iterable[Triple], variables: Sequence[str]) -> Select:
        """``SELECT DISTINCT`` of all ``variables`` (``*`` if none) over the pattern's triples."""
        projection = " ".join(f"?{variable}" for variable in variables) or "*"
        pattern = "".join(f"  {_triple_text(triple, {})} .\n" for triple in triples)
        text = f"SELECT DISTINCT {projection}\nWHERE {{\n{pattern}}}"
        return cls(text, tuple(variables))

    @classmethod
    def from_query(
        cls, query: str, prefixes: Mapping[str, str], variables: Sequence[str]
    ) -> Select:
        """A configured SELECT, after ``PREFIX`` lines for the interaction's prefixes."""
        return cls(prologue(prefixes) + query.rstrip(), tuple(variables))

    def build(self, bindings: Sequence[Mapping[str, Term]]) -> str:
        """The query for one request's (checked) bindings."""
        if not bindings or any(not binding for binding in bindings):
            return self.text
        used = [name for name in self.variables if any(name in b for b in bindings)]
        # A new line first: the query may end with a comment.
        return f"{self.text}\n{values_clause(used, _rows(used, bindings))}"


@dataclasses.dataclass(frozen=True, slots=True)
class InsertData:
    """The ``INSERT DATA`` of a REACT interaction: its argument pattern, once per binding."""

    triples: tuple[Triple, ...]
    interaction: str

    def build(self, bindings: Sequence[Mapping[str, Term]]) -> str | None:
        """The update for one request's (complete, checked) bindings; ``None``: nothing to do.

        Raises:
            km_core.BindingValidationError: a literal is bound where a triple's subject or
                predicate stands, which no store can hold.
        """
        lines: dict[str, None] = {}
        for index, binding in enumerate(bindings):
            written = {name: sparql_text(term) for name, term in binding.items()}
            for triple in self.triples:
                for position, node in zip(("subject", "predicate"), triple, strict=False):
                    if isinstance(node, Variable) and binding[str(node)].kind != "iri":
                        raise BindingValidationError(
                            f"knowledge interaction {self.interaction!r}, binding {index + 1} of "
                            f"{len(bindings)}: ?{node} stands as a triple's {position}, where a "
                            "literal cannot: send an IRI; the request is refused and nothing "
                            "is sent to the SPARQL source"
                        )
                lines[f"  {_triple_text(triple, written)} .\n"] = None
        if not lines:
            return None
        return "INSERT DATA {\n" + "".join(lines) + "}"


@dataclasses.dataclass(frozen=True, slots=True)
class UpdateTemplate:
    """A configured update whose ``# values`` line becomes the VALUES clause of the bindings.

    Attributes:
        before: The prologue and the update up to the marker line.
        after: The update after the marker line.
        variables: The argument pattern's variables, all listed in the VALUES clause.
    """

    before: str
    after: str
    variables: tuple[str, ...]

    @classmethod
    def parse(
        cls, update: str, prefixes: Mapping[str, str], variables: Sequence[str]
    ) -> UpdateTemplate:
        """Split a configured update at its marker line.

        Raises:
            ValueError: it has no ``# values`` line, or more than one.
        """
        markers = list(VALUES_MARKER.finditer(update))
        if len(markers) != 1:
            found = "none" if not markers else f"{len(markers)}"
            raise ValueError(
                "a SPARQL source's update needs exactly one line '# values' (a comment on a "
                "line of its own) inside its WHERE group, where the incoming bindings go as a "
                f"VALUES clause; found {found}"
            )
        marker = markers[0]
        return cls(
            prologue(prefixes) + update[: marker.start()],
            update[marker.end() :],
            tuple(variables),
        )

    def build(self, bindings: Sequence[Mapping[str, Term]]) -> str:
        """The update for one request's (complete, checked) bindings."""
        return (
            self.before
            + values_clause(self.variables, _rows(self.variables, bindings))
            + (self.after)
        )
