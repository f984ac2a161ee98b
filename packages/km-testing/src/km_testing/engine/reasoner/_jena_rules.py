"""Domain knowledge: rules in the Apache Jena rules syntax, read as the Knowledge Engine reads them.

``POST /sc/knowledge`` takes rules such as::

    @prefix ex: <http://example.org/> .
    [grandparent: (?a ex:parentOf ?b) (?b ex:parentOf ?c) -> (?a ex:grandparentOf ?c)]
    (?x ex:q ?y) <- (?x ex:p ?y) .
    -> (ex:oak ex:height 21) .

A rule is ``body -> head`` (or ``head <- body``), ended by ``.`` or wrapped in ``[...]`` with an
optional ``name:``; clauses are triples in parentheses, commas between them optional. A rule
without a body is a fact. The KE takes triples only: a builtin such as ``notEqual(?a ?b)`` is
refused, and so is a rule with a body but no head. Errors carry the KE's texts, with the tokens
read so far (``At '( ?a ex:p ?b ) '``), so that what the local engine refuses, and why, is
what the KE refuses.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Final

__all__ = ["JenaRule", "RuleSyntaxError", "parse_rules"]

Triple = tuple[str, str, str]

_BUILT_IN: Final = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
_DELIMITERS: Final = frozenset("()[]")
_MALFORMED: Final = "Malformed rule"
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


class RuleSyntaxError(ValueError):
    """Domain knowledge the KE would refuse; the message is the KE's reason."""


@dataclasses.dataclass(frozen=True)
class JenaRule:
    """One rule of domain knowledge: when the body's triples hold, so do the head's.

    Attributes:
        name: The name given in ``[name: ...]``, if any.
        body: The triples that must hold (none for a fact).
        head: The triples that then hold. Terms are written as in bindings: ``?var``,
            ``<iri>``, ``"literal"``, ``"21"^^<...#integer>``.
    """

    name: str | None
    body: tuple[Triple, ...]
    head: tuple[Triple, ...]


def _tokens(text: str) -> Iterator[str]:
    """Split rule text into tokens: delimiters, quotes, quoted text, ``<iri>``, words."""
    i, end = 0, len(text)
    while i < end:
        char = text[i]
        if char.isspace() or char == ",":  # commas between clauses and nodes are optional
            i += 1
        elif char == "#" or text.startswith("//", i):
            newline = text.find("\n", i)
            i = end if newline < 0 else newline + 1
        elif char in _DELIMITERS:
            yield char
            i += 1
        elif char in "'\"":
            close = text.find(char, i + 1)
            if close < 0:
                yield char
                yield text[i + 1 :]
                return
            yield char
            yield text[i + 1 : close]
            yield char
            i = close + 1
        elif char == "<" and not text.startswith("<-", i):
            close = text.find(">", i)
            close = end - 1 if close < 0 else close
            yield text[i : close + 1]
            i = close + 1
        else:
            start = i
            while i < end and not text[i].isspace() and text[i] not in _DELIMITERS | {","}:
                if text[i] in "'\"" and i > start:
                    break
                i += 1
            yield text[start:i]


@dataclasses.dataclass(frozen=True)
class _Other:
    """A clause that is not a triple: a builtin (``Functor``) or a nested ``Rule``."""

    kind: str
    text: str


_Clause = Triple | _Other


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = list(_tokens(text))
        self.position = 0
        self.history: list[str] = []
        self.prefixes = dict(_BUILT_IN)

    def fail(self, reason: str) -> RuleSyntaxError:
        """An error naming the tokens of the rule read so far (all of it, when malformed)."""
        if reason == _MALFORMED:
            while (token := self.peek()) is not None:
                self.position += 1
                self.history.append(token)
                if token in (".", "]"):
                    break
        seen = "".join(f"{token} " for token in self.history)
        return RuleSyntaxError(f"{reason}\nAt '{seen}'")

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def following(self) -> str | None:
        """The token after the next one."""
        at = self.position + 1
        return self.tokens[at] if at < len(self.tokens) else None

    def next(self) -> str:
        token = self.peek()
        if token is None:
            raise self.fail(_MALFORMED)
        self.position += 1
        self.history.append(token)
        return token

    def rules(self) -> list[JenaRule]:
        found: list[JenaRule] = []
        while self.peek() is not None:
            self.history = []
            if self.peek() == "@prefix":
                self.prefix()
            elif self.peek() == "@include":
                # The KE reads the rule sets Jena includes as a rule it refuses.
                raise RuleSyntaxError(_refused("[ -> tableAll() ]", "consequent", "Functor"))
            elif self.peek() == "[":
                self.next()
                name = None
                following = self.peek()
                if following is not None and following.endswith(":") and len(following) > 1:
                    name = self.next()[:-1]
                found.append(self.rule(name))
            else:
                found.append(self.rule(None))
        return found

    def prefix(self) -> None:
        self.next()
        name = self.next()
        iri = self.next()
        if not (iri.startswith("<") and iri.endswith(">")):
            raise self.fail(_MALFORMED)
        self.prefixes[name.removesuffix(":")] = iri[1:-1]
        if self.peek() == ".":
            self.next()

    def rule(self, name: str | None) -> JenaRule:
        """A rule up to its end (``.`` or ``]``, whichever way it began)."""
        body, head = self.bare_rule()
        if self.next() not in (".", "]"):
            raise self.fail(_MALFORMED)
        return _checked(name, body, head)

    def bare_rule(self) -> tuple[list[_Clause], list[_Clause]]:
        """The body and head of ``body -> head`` or ``head <- body``."""
        first = self.clauses()
        arrow = self.next()
        if arrow not in ("->", "<-"):
            raise self.fail(_MALFORMED)
        second = self.clauses()
        return (first, second) if arrow == "->" else (second, first)

    def clauses(self) -> list[_Clause]:
        found: list[_Clause] = []
        while True:
            token = self.peek()
            if token is None or token in ("->", "<-", ".", "]"):
                return found
            if token == "(":
                found.append(self.triple())
            elif token == "[":
                found.append(self.nested_rule())
            else:
                found.append(_Other("Functor", self.builtin()))

    def nested_rule(self) -> _Other:
        """A backward rule inside a head, kept as its text: the KE refuses it."""
        self.next()
        body, head = self.bare_rule()
        if self.next() != "]":
            raise self.fail(_MALFORMED)
        return _Other("Rule", f"[ {_write(head)}<- {_write(body)}]")

    def triple(self) -> Triple:
        self.next()
        nodes: list[str] = []
        while self.peek() != ")":
            if self.peek() in (None, "->", "<-", ".", "]", "["):
                raise self.fail(_MALFORMED)
            nodes.append(self.builtin() if self.following() == "(" else self.node())
        self.next()
        if len(nodes) != 3:
            raise self.fail(f"Triple with {len(nodes)} nodes!")
        return (nodes[0], nodes[1], nodes[2])

    def builtin(self) -> str:
        """A builtin or functor call, kept as its text: the KE refuses it (see `_checked`)."""
        name = self.next()
        following = self.peek()
        if following != "(":
            self.next()
            raise self.fail(f"Expected '(' at start of clause, found {following}")
        self.next()
        arguments: list[str] = []
        while self.peek() != ")":
            if self.peek() in (None, "->", "<-", ".", "]"):
                raise self.fail(_MALFORMED)
            arguments.append(self.node())
        self.next()
        return f"{name}({' '.join(arguments)})"

    def node(self) -> str:
        token = self.next()
        if token in ("'", '"'):
            lexical = self.next()
            if self.next() != token:
                raise self.fail(_MALFORMED)
            suffix = self.peek()
            if suffix is not None and suffix.startswith("^^"):
                self.next()
                return f'"{lexical}"^^{self.iri(suffix[2:])}'
            return f'"{lexical}"'  # a language tag is no part of it: it is read as a node
        if token.startswith("?") or _NUMBER.fullmatch(token):
            return token
        return self.iri(token)

    def iri(self, token: str) -> str:
        if token.startswith("<") and token.endswith(">"):
            return token
        prefix, colon, local = token.partition(":")
        if not colon:
            return f"<{token}>"
        if local.startswith("//"):
            return f"<{token}>"  # a full IRI written bare
        namespace = self.prefixes.get(prefix)
        if namespace is None:
            raise self.fail(f"Unrecognized qname prefix ({prefix}) in rule")
        return f"<{namespace}{local}>"


def _write(clauses: list[_Clause]) -> str:
    return "".join(
        f"{clause.text} " if isinstance(clause, _Other) else f"({' '.join(clause)}) "
        for clause in clauses
    )


def _refused(shown: str, part: str, kind: str) -> str:
    return (
        f"The rule '{shown}' should not contain non-triple pattern clauses in its {part} such "
        f"as: {kind}"
    )


def _checked(name: str | None, body: list[_Clause], head: list[_Clause]) -> JenaRule:
    """The rule, if the KE takes it: triples only, and a head when there is a body."""
    shown = f"[ {_write(body)}-> {_write(head)}]"
    triples: list[tuple[Triple, ...]] = []
    for clauses, part in ((body, "antecedent"), (head, "consequent")):
        other = next((c for c in clauses if isinstance(c, _Other)), None)
        if other is not None:
            raise RuleSyntaxError(_refused(shown, part, other.kind))
        triples.append(tuple(c for c in clauses if not isinstance(c, _Other)))
    if body and not head:
        raise RuleSyntaxError(f"Rule '{shown}' should have a consequent.")
    return JenaRule(name, triples[0], triples[1])


def parse_rules(text: str) -> list[JenaRule]:
    """Read domain knowledge as the KE does.

    Raises:
        RuleSyntaxError: the KE would refuse it; the message is the KE's reason.
    """
    return _Parser(text).rules()
