"""Reading the SPARQL basic graph patterns of knowledge interactions.

A knowledge interaction carries its graph pattern as text: triples with ``?variables``, written
with the interaction's prefixes. The Knowledge Engine parses that text when the interaction is
registered (``POST /sc/ki``) as the body of ``SELECT * WHERE { ... }``, keeps only a basic graph
pattern and rejects anything else with a 400. `parse_graph_pattern` does the same checks before
a request is sent, so a bad pattern fails when its interaction is declared, with the line and
column of the problem, and `GraphPattern.canonical` writes a pattern the way ``GET /sc/ki`` gives
it back.

The parser is assembled at run time from the parser elements of rdflib's SPARQL 1.1 grammar
(deep-copied, so rdflib's own parser is left as it is), with three changes: the text is parsed
on its own rather than inside a ``SELECT`` wrapper, so every position the parser reports is a
position in the pattern as given; the triples are read one after the other instead of
recursively, so a long pattern does not exhaust the Python stack; and a negative decimal such
as ``-21.5`` parses (rdflib's own parse action raises TypeError on it). Prefixed names are
resolved here, against the given prefixes only: like the KE, and unlike rdflib, no prefix (not
even ``rdf:`` or ``xsd:``) is predefined.

rdflib is imported on the first parse, not when this module is imported.
"""

from __future__ import annotations

import bisect
import math
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING

from ._errors import GraphPatternError

if TYPE_CHECKING:
    from pyparsing import ParseBaseException, ParserElement, ParseResults
    from rdflib.term import Literal, Node, URIRef

__all__ = ["GraphPattern", "parse_graph_pattern"]

_XSD = "http://www.w3.org/2001/XMLSchema#"
_XSD_STRING = _XSD + "string"
_XSD_INTEGER = _XSD + "integer"
_XSD_DECIMAL = _XSD + "decimal"
_XSD_DOUBLE = _XSD + "double"
_XSD_BOOLEAN = _XSD + "boolean"

# The short forms SPARQL reads back with the same datatype.
_SHORT_INTEGER = re.compile(r"[+-]?[0-9]+")
_SHORT_DECIMAL = re.compile(r"[+-]?[0-9]*\.[0-9]+")

# How a string literal is written: the escapes of canonical N-Triples (RDF 1.2), so that every
# character comes back as it was. Other control characters become \u escapes.
_STRING_ESCAPES = {
    **{code: f"\\u{code:04X}" for code in (*range(0x20), 0x7F)},
    ord('"'): '\\"',
    ord("\\"): "\\\\",
    ord("\n"): "\\n",
    ord("\r"): "\\r",
    ord("\t"): "\\t",
    ord("\b"): "\\b",
    ord("\f"): "\\f",
}

# A \u or \U code point escape, or an escaped backslash (which is skipped, so that the text
# ``\\u0041`` keeps its backslash and is not read as an escape).
_CODE_POINT_ESCAPE = re.compile(r"\\(?:\\|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8}))")

# PN_PREFIX of the SPARQL grammar: a letter, then letters, digits, '_', '-', '.' (not last).
_NAME_CHAR = r"[\w\-\u00B7\u0300-\u036F\u203F-\u2040]"
_PREFIX_NAME = re.compile(rf"[^\W\d_](?:(?:{_NAME_CHAR}|\.)*{_NAME_CHAR})?")

# Characters SPARQL does not allow inside <...>, and the scheme that makes an IRI absolute.
_NOT_IN_IRI = re.compile(r'[\x00-\x20<>"{}|^`\\]')
_IRI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")

# A reserved character escaped in the local part of a prefixed name, like ex:a\.b.
_LOCAL_ESCAPE = re.compile(r"\\(.)")

# The label rdflib gives the blank node of a '[]', '[ ... ]' or '( ... )'.
_GENERATED_BLANK_NODE = re.compile(r"N[0-9a-f]{32}")

_WHITESPACE = " \t\r\n"

# What may come before a statement that starts a triple or goes on with one; see _syntax_error.
_SEPARATORS = frozenset({"", ".", ";", ",", "(", ")", "{", "}"})

# Prefixes some tools predefine; the KE (and this module) does not.
_WELL_KNOWN_PREFIXES = frozenset({"rdf", "rdfs", "xsd", "owl"})

# The constructs that may stand between triples in SPARQL, by rdflib's name for them.
_CONSTRUCTS = {
    "Filter": "FILTER",
    "OptionalGraphPattern": "OPTIONAL",
    "MinusGraphPattern": "MINUS",
    "GraphGraphPattern": "GRAPH",
    "ServiceGraphPattern": "SERVICE",
    "Bind": "BIND",
    "InlineData": "VALUES",
}

_ONLY_TRIPLES = (
    "a graph pattern may contain only triples ('subject predicate object', separated by ' . ')"
)


@dataclass(frozen=True, slots=True)
class GraphPattern:
    """A parsed basic graph pattern.

    Attributes:
        text: The pattern as given.
        prefixes: The prefixes as given (a read-only copy).
        triples: The triples in the order written, as rdflib terms: `Variable`, `URIRef` and
            `Literal`. Prefixed names and ``a`` are expanded to full IRIs.
        variables: The names of the variables in the triples, without the ``?``.
    """

    text: str
    prefixes: Mapping[str, str] = field(hash=False)
    triples: tuple[tuple[Node, Node, Node], ...]
    variables: frozenset[str]

    def canonical(self) -> str:
        """The pattern as the Knowledge Engine writes it, for example in ``GET /sc/ki``.

        Each triple is written ``s p o`` followed by ``" . "``, the last one included, with
        nothing in between: variables as ``?name``, IRIs in full as ``<...>``, integers,
        decimals, doubles and booleans in their short form (``12``, ``21.5``, ``1.0E3``,
        ``true``), strings quoted with N-Triples escapes, with their language tag or, for any
        other datatype, ``^^<datatype>``. Numbers are written as rdflib normalises them
        (``+5`` and ``05`` become ``5``, and a double is always written as ``1.0E3``), where the
        KE keeps the text as written.

        Returns:
            The canonical text, which `parse_graph_pattern` reads back to the same triples.
        """
        return "".join(
            f"{_write_term(subject)} {_write_term(predicate)} {_write_term(obj)} . "
            for subject, predicate, obj in self.triples
        )


def parse_graph_pattern(
    pattern: str,
    prefixes: Mapping[str, str] | None = None,
    *,
    ki_name: str | None = None,
) -> GraphPattern:
    """Parse and check a basic graph pattern the way the Knowledge Engine does.

    Args:
        pattern: Triples in SPARQL syntax, such as ``?tree ex:height ?height .``.
        prefixes: Prefix names (without the colon) and their namespace IRIs, for the prefixed
            names in ``pattern``. No prefix is predefined.
        ki_name: The knowledge interaction the pattern belongs to, named in any error.

    Returns:
        The parsed pattern.

    Raises:
        GraphPatternError: The pattern is empty or blank, is not valid SPARQL (the error
            gives the line and column in ``pattern``), uses a prefix that ``prefixes`` does
            not define, uses a relative IRI, or contains anything but triples: FILTER,
            OPTIONAL, UNION, MINUS, BIND, VALUES, GRAPH, SERVICE, a nested group or subquery,
            a property path or a blank node. Also raised when ``prefixes`` does not map
            prefix names to strings.
    """
    given: object = pattern
    if not isinstance(given, str):
        raise GraphPatternError(
            f"a graph pattern must be a string, not {type(given).__name__}",
            pattern=repr(given),
            ki_name=ki_name,
        )
    report = _Report(pattern, ki_name)
    namespaces = _check_prefixes(prefixes, report)
    if not pattern.strip():
        raise report.error("the graph pattern is empty")
    grammar = _grammar()
    source = _Source(pattern, report)
    try:
        triples = _parse(source, namespaces, grammar, report)
    except GraphPatternError:
        raise
    except RecursionError:
        raise report.error("the graph pattern is too long or too deeply nested to read") from None
    except Exception as exc:  # anything rdflib or pyparsing did not foresee
        raise report.error(
            f"the graph pattern cannot be read ({type(exc).__name__}: {exc})"
        ) from exc
    variables = frozenset(str(term) for triple in triples for term in triple if _is_variable(term))
    return GraphPattern(
        text=pattern,
        prefixes=MappingProxyType(dict(namespaces)),
        triples=tuple(triples),
        variables=variables,
    )


class _Report:
    """Makes the errors of one pattern, with its KI name and, when known, a position."""

    def __init__(self, pattern: str, ki_name: str | None) -> None:
        self.pattern = pattern
        self.ki_name = ki_name

    def error(self, message: str, offset: int | None = None) -> GraphPatternError:
        """An error about the pattern, at ``offset`` (a 0-based index into it) if given."""
        line = column = None
        if offset is not None:
            offset = max(0, min(offset, len(self.pattern)))
            line = self.pattern.count("\n", 0, offset) + 1
            column = offset - (self.pattern.rfind("\n", 0, offset) + 1) + 1
        return GraphPatternError(
            message, pattern=self.pattern, ki_name=self.ki_name, line=line, column=column
        )


def _check_prefixes(prefixes: object, report: _Report) -> dict[str, str]:
    """The prefix map as a plain dict, after checking it maps prefix names to strings."""
    if prefixes is None:
        return {}
    if not isinstance(prefixes, Mapping):
        raise report.error(
            "prefixes must be a mapping of prefix names to namespace IRIs, "
            f"not {type(prefixes).__name__}"
        )
    items: Iterable[tuple[object, object]] = prefixes.items()
    namespaces: dict[str, str] = {}
    for name, namespace in items:
        if not isinstance(name, str) or not isinstance(namespace, str):
            raise report.error(
                "prefixes must map prefix names (str) to namespace IRIs (str), "
                f"but has {name!r}: {namespace!r}"
            )
        if name and not _PREFIX_NAME.fullmatch(name):
            bare = name.rstrip(":")
            hint = (
                f"; write it without the colon: {bare!r}"
                if bare != name and _PREFIX_NAME.fullmatch(bare)
                else ""
            )
            raise report.error(f"{name!r} in prefixes is not a valid prefix name{hint}")
        namespaces[name] = namespace
    return namespaces


class _Source:
    r"""The pattern with its \u and \U escapes replaced, as SPARQL reads it before parsing.

    Remembers where each replacement was, so that a position in the text the parser saw can
    be turned back into a position in the pattern as given.
    """

    def __init__(self, pattern: str, report: _Report) -> None:
        self.pattern = pattern
        # Each pair: an offset in the parsed text and the offset in the pattern it comes from.
        self._parsed_offsets = [0]
        self._pattern_offsets = [0]
        if "\\" not in pattern:
            self.text = pattern
            return
        pieces: list[str] = []
        copied = 0
        length = 0
        for match in _CODE_POINT_ESCAPE.finditer(pattern):
            digits = match.group(1) or match.group(2)
            if digits is None:
                continue
            code = int(digits, 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise report.error(
                    f"syntax error: {match.group(0)!r} is not a valid Unicode character",
                    match.start(),
                )
            pieces.append(pattern[copied : match.start()])
            length += match.start() - copied
            pieces.append(chr(code))
            self._parsed_offsets += [length, length + 1]
            self._pattern_offsets += [match.start(), match.end()]
            length += 1
            copied = match.end()
        pieces.append(pattern[copied:])
        self.text = "".join(pieces)

    def to_pattern(self, offset: int) -> int:
        """The offset in the pattern as given of ``offset`` in the parsed text."""
        anchor = bisect.bisect_right(self._parsed_offsets, offset) - 1
        return self._pattern_offsets[anchor] + offset - self._parsed_offsets[anchor]


@dataclass(frozen=True, slots=True)
class _Grammar:
    """The parser elements this module uses, built once from rdflib's SPARQL grammar."""

    pattern: ParserElement
    triple: ParserElement


_built: list[_Grammar] = []
_build_lock = threading.Lock()


def _grammar() -> _Grammar:
    """The grammar, built on first use (once, even when threads ask at the same time)."""
    if not _built:
        with _build_lock:
            if not _built:
                _built.append(_build_grammar())
    return _built[0]


def _build_grammar() -> _Grammar:
    """Import rdflib's SPARQL grammar and assemble the pattern parser from its elements."""
    import copy

    from pyparsing import Optional, ParserElement, StringEnd, Suppress, ZeroOrMore
    from rdflib.plugins.sparql import parser as sparql
    from rdflib.plugins.sparql.parserutils import Comp, ParamList

    # Deep copies of the elements used here, so that changing them leaves rdflib's own
    # parser as it is.
    copies: dict[int, object] = {}
    triple, not_triples, subquery = copy.deepcopy(
        (sparql.TriplesSameSubjectPath, sparql.GraphPatternNotTriples, sparql.SubSelect), copies
    )
    # rdflib cannot negate a decimal: its parse action raises TypeError on "-21.5".
    negative_decimal = copies[id(sparql.DECIMAL_NEGATIVE)]
    assert isinstance(negative_decimal, ParserElement)
    negative_decimal.set_parse_action(_negative_decimal)

    triples = Comp(
        "TriplesBlock",
        ParamList("triples", triple)
        + ZeroOrMore(Suppress(".") + ParamList("triples", triple))
        + Optional(Suppress(".")),
    )
    group = Comp(
        "GroupGraphPatternSub",
        Optional(ParamList("part", triples))
        + ZeroOrMore(
            ParamList("part", not_triples)
            + Optional(Suppress("."))
            + Optional(ParamList("part", triples))
        ),
    )
    pattern = (subquery | group) + StringEnd()
    for comment in triple.ignoreExprs:  # '#' comments, as in the rest of rdflib's grammar
        pattern.ignore(comment)
    # Tabs are kept as they are, so positions and string literals are not changed.
    return _Grammar(pattern=pattern.parse_with_tabs(), triple=triple.parse_with_tabs())


def _negative_decimal(tokens: ParseResults) -> Literal:
    """The literal of a negative decimal such as ``-21.5``, from the decimal after the '-'."""
    from rdflib.term import Literal, URIRef

    return Literal(f"-{tokens[0]}", datatype=URIRef(_XSD_DECIMAL))


def _parse(
    source: _Source, namespaces: dict[str, str], grammar: _Grammar, report: _Report
) -> list[tuple[Node, Node, Node]]:
    """Parse the pattern and read its triples."""
    from pyparsing import ParseBaseException

    try:
        parsed = grammar.pattern.parse_string(source.text, parse_all=True)
    except ParseBaseException as exc:
        raise _syntax_error(exc, source, grammar, report) from None
    return _TripleReader(namespaces, report).read(parsed[0])


def _syntax_error(
    exc: ParseBaseException, source: _Source, grammar: _Grammar, report: _Report
) -> GraphPatternError:
    """Describe a syntax error in terms a user can act on, at the right position.

    pyparsing gives up at the start of the statement it could not read (it backtracks out of a
    triple that fails halfway). If that statement starts a new triple (after a ' . ') or goes
    on with the one before it (after a ';' or ','), it is parsed again on its own to find where
    inside it reading stopped. Otherwise the triple before it ended and no ' . ' followed, so
    the statement itself is the problem.
    """
    from pyparsing import ParseBaseException

    text = source.text
    start = _skip_blank(text, exc.loc)
    if start >= len(text):
        return _ends_early(source, report)
    if text[start] == "}":
        return report.error(
            "syntax error: unexpected '}' (a graph pattern is written without the braces "
            "around it)",
            source.to_pattern(start),
        )
    after_a_triple = _last_significant_character(text, start) not in _SEPARATORS
    expected = ""
    try:
        grammar.triple.parse_string(text[start:])
    except ParseBaseException as inner:
        stop = start if after_a_triple else _skip_blank(text, start + inner.loc)
        expected = "" if after_a_triple else inner.msg
    else:
        stop = start
        if after_a_triple:
            return report.error(
                f"syntax error: ' . ' expected between two triples, before {_token(text, start)}",
                source.to_pattern(start),
            )
    if stop >= len(text):
        return _ends_early(source, report)
    hint = ""
    if text.count("<", start, stop) > text.count(">", start, stop):
        hint = " (is the '>' of an IRI missing?)"
    elif re.fullmatch(r"Expected '[^']{1,3}'", expected):
        hint = f" (expected {expected[len('Expected ') :]})"
    return report.error(
        f"syntax error: unexpected {_token(text, stop)}{hint}", source.to_pattern(stop)
    )


def _last_significant_character(text: str, end: int) -> str:
    """The last character before ``end`` that is neither blank nor in a comment, or ''."""
    lines = text[:end].split("\n")
    while lines:
        line = _without_comment(lines.pop()).rstrip(_WHITESPACE)
        if line:
            return line[-1]
    return ""


def _without_comment(line: str) -> str:
    """The line without its '#' comment, roughly: a '#' in a string or an IRI is kept."""
    for index, character in enumerate(line):
        if character == "#":
            head = line[:index]
            inside = head.count('"') % 2 or head.count("'") % 2 or head.count("<") > head.count(">")
            if not inside:
                return head
    return line


def _ends_early(source: _Source, report: _Report) -> GraphPatternError:
    """The error for a pattern that stops in the middle of a triple, a string or an IRI."""
    return report.error(
        "syntax error: the graph pattern ends in the middle of a triple (or a string literal "
        "or an IRI is not closed)",
        len(source.pattern.rstrip(_WHITESPACE)),
    )


def _skip_blank(text: str, offset: int) -> int:
    """The offset of the first character at or after ``offset`` that is no space or comment."""
    while offset < len(text):
        if text[offset] in _WHITESPACE:
            offset += 1
        elif text[offset] == "#":
            end = text.find("\n", offset)
            offset = len(text) if end < 0 else end
        else:
            break
    return offset


def _token(text: str, offset: int) -> str:
    """The word at ``offset``, quoted and shortened, to show in a message."""
    word = re.match(r"\S{1,30}", text[offset:])
    shown = word.group(0) if word else text[offset : offset + 1]
    return repr(shown + ("..." if word and word.end() == 30 else ""))


class _TripleReader:
    """Reads the triples out of rdflib's parse tree, rejecting everything that is no triple."""

    def __init__(self, namespaces: dict[str, str], report: _Report) -> None:
        self._namespaces = namespaces
        self._report = report

    def read(self, group: object) -> list[tuple[Node, Node, Node]]:
        """The triples of the parsed pattern, in the order written."""
        if _comp_name(group) == "SubSelect":
            raise self._report.error(f"a subquery (SELECT) is not allowed: {_ONLY_TRIPLES}")
        triples: list[tuple[Node, Node, Node]] = []
        for part in _comp_list(group, "part"):
            name = _comp_name(part)
            if name == "TriplesBlock":
                for terms in _comp_list(part, "triples"):
                    triples += self._triples(terms)
            else:
                raise self._report.error(f"{_describe(part)} is not allowed: {_ONLY_TRIPLES}")
        if not triples:
            raise self._report.error("the graph pattern contains no triples")
        return triples

    def _triples(self, terms: object) -> list[tuple[Node, Node, Node]]:
        """The triples of one statement, which rdflib gives as one flat list of terms."""
        flat = list(terms) if isinstance(terms, Iterable) else []
        if not flat or len(flat) % 3:
            raise self._report.error("the graph pattern cannot be read as triples")
        return [
            (self._term(flat[i]), self._predicate(flat[i + 1]), self._term(flat[i + 2]))
            for i in range(0, len(flat), 3)
        ]

    def _predicate(self, path: object) -> Node:
        """The predicate, which the grammar reads as a property path of one step."""
        while True:
            name = _comp_name(path)
            if name in ("PathAlternative", "PathSequence"):
                steps = _comp_list(path, "part")
                if len(steps) != 1:
                    operator = "|" if name == "PathAlternative" else "/"
                    raise self._path_error(f"'{operator}'")
                path = steps[0]
            elif name == "PathElt":
                if _comp_get(path, "mod") is not None:
                    raise self._path_error(f"'{_comp_get(path, 'mod')}'")
                path = _comp_get(path, "part")
            elif name == "PathEltOrInverse":
                raise self._path_error("'^' (inverse)")
            elif name == "PathNegatedPropertySet":
                raise self._path_error("'!' (negated)")
            elif name == "DistinctPath":
                raise self._path_error("DISTINCT")
            else:
                return self._term(path)

    def _path_error(self, operator: str) -> GraphPatternError:
        return self._report.error(
            f"a property path with {operator} is not allowed: {_ONLY_TRIPLES}; write each step "
            "of a path as a triple of its own, joined to the next by a variable"
        )

    def _term(self, term: object) -> Node:
        """One term of a triple, with prefixed names expanded and literals built."""
        from rdflib.term import BNode, Literal, URIRef, Variable

        if isinstance(term, Variable | Literal):
            return term
        if isinstance(term, URIRef):
            return self._checked_iri(str(term))
        if isinstance(term, BNode):
            raise self._blank_node_error(term)
        name = _comp_name(term)
        if name == "pname":
            return self._expand(term)
        if name == "literal":
            return self._literal(term)
        raise self._report.error(f"{term!r} cannot be used in a triple")

    def _expand(self, pname: object) -> URIRef:
        """The IRI of a prefixed name, from the given prefixes only."""
        prefix = str(_comp_get(pname, "prefix") or "")
        local = str(_comp_get(pname, "localname") or "")
        namespace = self._namespaces.get(prefix)
        if namespace is None:
            written = f"{prefix}:{local}"
            if prefix:
                note = f"; no prefix is predefined, not even {prefix!r}" * (
                    prefix in _WELL_KNOWN_PREFIXES
                )
                raise self._report.error(
                    f"undefined prefix {prefix!r} (in {written!r}): add {prefix!r} and its "
                    f"namespace IRI to prefixes{note}"
                )
            raise self._report.error(
                f"undefined default prefix ':' (in {written!r}): add the key '' and its "
                "namespace IRI to prefixes"
            )
        iri = namespace + _LOCAL_ESCAPE.sub(r"\1", local)
        return self._checked_iri(iri, prefix=prefix)

    def _checked_iri(self, iri: str, prefix: str | None = None) -> URIRef:
        """The IRI as an rdflib term, if it is absolute and can be written as ``<...>``."""
        from rdflib.term import URIRef

        if _NOT_IN_IRI.search(iri) or not _IRI_SCHEME.match(iri):
            if prefix is not None:
                raise self._report.error(
                    f"prefix {prefix!r} expands to {iri!r}, which is not an absolute IRI; "
                    "check its namespace in prefixes"
                )
            raise self._report.error(
                f"<{iri}> is a relative IRI: the Knowledge Engine needs absolute IRIs, "
                "such as <http://example.org/thing>"
            )
        return URIRef(iri)

    def _literal(self, literal: object) -> Literal:
        """A quoted literal, with its language tag or its datatype."""
        from rdflib.term import Literal, URIRef

        lexical = str(_comp_get(literal, "string"))
        language = _comp_get(literal, "lang")
        if language is not None:
            return Literal(lexical, lang=str(language))
        written_type = _comp_get(literal, "datatype")
        if written_type is None:
            return Literal(lexical)
        datatype = self._term(written_type)
        if not isinstance(datatype, URIRef):
            raise self._report.error(f"the datatype of literal {lexical!r} is not an IRI")
        if str(datatype) == _XSD_STRING:  # in RDF 1.1 "abc"^^xsd:string is "abc"
            return Literal(lexical)
        return Literal(lexical, datatype=datatype)

    def _blank_node_error(self, node: object) -> GraphPatternError:
        label = str(node)
        if _GENERATED_BLANK_NODE.fullmatch(label):
            found = "an anonymous blank node ('[]', '[ ... ]' or a collection '( ... )')"
            instead = "a variable"
        else:
            found = f"blank node '_:{label}'"
            instead = f"a variable such as '?{label}'"
        return self._report.error(
            f"{found} is not allowed in a graph pattern: use {instead} instead"
        )


def _describe(part: object) -> str:
    """What a construct between triples is, in words, for an error message."""
    name = _comp_name(part)
    if name in _CONSTRUCTS:
        return _CONSTRUCTS[name]
    if name == "GroupOrUnionGraphPattern":
        groups = _comp_list(part, "graph")
        if len(groups) > 1:
            return "UNION"
        if groups and _comp_name(groups[0]) == "SubSelect":
            return "a subquery (SELECT)"
        return "a nested group '{ ... }'"
    return f"a {name or 'construct'}"


def _comp_name(node: object) -> str | None:
    """The grammar rule an rdflib parse-tree node comes from, or None for a term."""
    from rdflib.plugins.sparql.parserutils import CompValue

    return node.name if isinstance(node, CompValue) else None


def _comp_get(node: object, key: str) -> object:
    """A value of an rdflib parse-tree node, or None."""
    # CompValue.get returns the key itself when it is missing, so go to the dict directly.
    return dict.get(node, key) if isinstance(node, dict) else None


def _comp_list(node: object, key: str) -> list[object]:
    """A repeated value of an rdflib parse-tree node, as a list."""
    value = _comp_get(node, key)
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _is_variable(term: object) -> bool:
    from rdflib.term import Variable

    return isinstance(term, Variable)


def _write_term(term: Node) -> str:
    """One term as the canonical text writes it."""
    from rdflib.term import Literal, URIRef, Variable

    if isinstance(term, Variable):
        return f"?{term}"
    if isinstance(term, URIRef):
        return f"<{term}>"
    if isinstance(term, Literal):
        return _write_literal(term)
    raise TypeError(f"a graph pattern holds only variables, IRIs and literals, not {term!r}")


def _write_literal(literal: Literal) -> str:
    """A literal in the short form of its datatype if it has one, else quoted."""
    lexical = str(literal)
    value = literal.value
    if isinstance(value, float) and not math.isfinite(value):
        lexical = "NaN" if math.isnan(value) else "INF" if value > 0 else "-INF"  # not "inf"
    quoted = '"' + lexical.translate(_STRING_ESCAPES) + '"'
    if literal.language:
        return f"{quoted}@{literal.language}"
    datatype = literal.datatype
    if datatype is None or str(datatype) == _XSD_STRING:
        return quoted
    short = _short_form(lexical, str(datatype), value)
    return short if short is not None else f"{quoted}^^<{datatype}>"


def _short_form(lexical: str, datatype: str, value: object) -> str | None:
    """The unquoted form of a number or boolean that reads back with the same datatype."""
    if datatype == _XSD_INTEGER and _SHORT_INTEGER.fullmatch(lexical):
        return lexical
    if datatype == _XSD_DECIMAL and _SHORT_DECIMAL.fullmatch(lexical):
        return lexical
    if datatype == _XSD_DOUBLE and isinstance(value, float) and math.isfinite(value):
        return _write_double(value)
    if datatype == _XSD_BOOLEAN and lexical in ("true", "false"):
        return lexical
    return None


def _write_double(value: float) -> str:
    """A double in the canonical XSD form, ``1.0E3``: one digit before the point."""
    if value == 0:
        return "-0.0E0" if math.copysign(1.0, value) < 0 else "0.0E0"
    # repr gives the shortest digits that read back to the same double; Decimal takes them
    # apart exactly (no rounding, whatever the decimal context).
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    assert isinstance(exponent, int)  # a finite value has a numeric exponent
    all_digits = "".join(map(str, digits))
    mantissa = all_digits.rstrip("0")
    power = exponent + len(all_digits) - 1  # of the first digit
    return f"{'-' if sign else ''}{mantissa[0]}.{mantissa[1:] or '0'}E{power}"
