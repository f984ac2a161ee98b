"""Syntax errors described in terms a user can act on, at the position where reading stopped."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from km_core._errors import GraphPatternError

from ._grammar import Grammar
from ._source import Report, Source

if TYPE_CHECKING:
    from pyparsing import ParseBaseException

_WHITESPACE = " \t\r\n"

# What may come before a statement that starts a triple or goes on with one; see syntax_error.
_SEPARATORS = frozenset({"", ".", ";", ",", "(", ")", "{", "}"})


def syntax_error(
    exc: ParseBaseException, source: Source, grammar: Grammar, report: Report
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


def _ends_early(source: Source, report: Report) -> GraphPatternError:
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
