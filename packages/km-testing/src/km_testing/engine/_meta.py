"""Meta knowledge: what the KE's meta knowledge interactions of a knowledge base say and send.

The Knowledge Engine gives every knowledge base (KB) eight *meta* knowledge interactions (KIs)
that describe the KB and its KIs in RDF (reference ``ke-rest-api.md`` §7.6). This module
computes, as pure functions of a KB's id, name, description and KIs, what those meta KIs are
and which bindings they produce, exactly as KE 1.5.0 writes them. The engine decides when to
use them and delivers them; nothing here keeps state or does I/O.

Three uses, all checked against a real KE 1.5.0:

* An ASK with ``includeMetaKIs`` also reaches the meta ANSWER KI of every *other* KB, whose
  pattern is `META_GRAPH_PATTERN`; it answers `kb_metadata`, narrowed to the incoming
  bindings by `answer_meta_ask`. The exchange info names the id from `meta_interaction_id`.
* After a KB is registered, and after each ``POST /sc/ki`` or ``DELETE /sc/ki`` of it, the KE
  posts its metadata from its meta POST KI (`meta_notification`) to the REACT KIs of every other
  KB; ``DELETE /sc`` posts the same with the "removed" purpose. These posts are matched at
  reasoner level `META_MATCH_LEVEL`, whatever the KBs' own levels.
* ``GET /sc/ki`` never lists the meta KIs (`meta_interactions` gives them for matching only).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from km_core import CommunicativeAct, KnowledgeInteractionInfo, KnowledgeInteractionType

__all__ = [
    "CHANGED_KNOWLEDGE_PURPOSE",
    "INFORM_PURPOSE",
    "KE_NAMESPACE",
    "META_GRAPH_PATTERN",
    "META_MATCH_LEVEL",
    "META_TRIPLES",
    "META_VARIABLES",
    "NEW_KNOWLEDGE_PURPOSE",
    "REMOVED_KNOWLEDGE_PURPOSE",
    "MetaEvent",
    "MetaNotification",
    "answer_meta_ask",
    "is_meta_interaction",
    "kb_metadata",
    "meta_interaction_id",
    "meta_interactions",
    "meta_notification",
]

KE_NAMESPACE: Final = "https://w3id.org/knowledge-engine/"
"""The namespace of the KE's ontology (``kb:`` in the KE's own pattern text)."""

INFORM_PURPOSE: Final = KE_NAMESPACE + "InformPurpose"
"""The default purpose; the meta ASK and ANSWER KIs require and satisfy only this one."""
NEW_KNOWLEDGE_PURPOSE: Final = KE_NAMESPACE + "NewKnowledgePurpose"
"""The purpose of the post that announces a newly registered KB."""
CHANGED_KNOWLEDGE_PURPOSE: Final = KE_NAMESPACE + "ChangedKnowledgePurpose"
"""The purpose of the post that announces a KB whose set of KIs changed."""
REMOVED_KNOWLEDGE_PURPOSE: Final = KE_NAMESPACE + "RemovedKnowledgePurpose"
"""The purpose of the post that announces a KB that is being deleted."""

_RDF_TYPE: Final = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
_XSD_BOOLEAN: Final = "http://www.w3.org/2001/XMLSchema#boolean"
_XSD_STRING_SUFFIX: Final = "^^<http://www.w3.org/2001/XMLSchema#string>"


def _kb(local: str) -> str:
    return f"<{KE_NAMESPACE}{local}>"


META_TRIPLES: Final = (
    ("?kb", _RDF_TYPE, _kb("KnowledgeBase")),
    ("?kb", _kb("hasName"), "?name"),
    ("?kb", _kb("hasDescription"), "?description"),
    ("?kb", _kb("hasKnowledgeInteraction"), "?ki"),
    ("?ki", _RDF_TYPE, "?kiType"),
    ("?ki", _kb("isMeta"), "?isMeta"),
    ("?ki", _kb("hasCommunicativeAct"), "?act"),
    ("?act", _RDF_TYPE, _kb("CommunicativeAct")),
    ("?act", _kb("hasRequirement"), "?req"),
    ("?act", _kb("hasSatisfaction"), "?sat"),
    ("?req", _RDF_TYPE, "?reqType"),
    ("?sat", _RDF_TYPE, "?satType"),
    ("?ki", _kb("hasGraphPattern"), "?gp"),
    ("?gp", _RDF_TYPE, "?patternType"),
    ("?gp", _kb("hasPattern"), "?pattern"),
)

"""The meta pattern's triples, terms written as in bindings."""

META_GRAPH_PATTERN: Final = "".join(f"{s} {p} {o} . " for s, p, o in META_TRIPLES)
"""The one graph pattern of all eight meta KIs, in the KE's canonical form: full IRIs, each
triple followed by ``" . "`` (also how a KB's metadata lists the meta KIs' own patterns)."""

META_VARIABLES: Final = (
    "kb", "name", "description", "ki", "kiType", "isMeta", "act",
    "req", "sat", "reqType", "satType", "gp", "patternType", "pattern",
)  # fmt: skip
"""The 14 variables of `META_GRAPH_PATTERN`; every metadata binding binds all of them."""

META_MATCH_LEVEL: Final = 1
"""The reasoner level (1 = ENTRY_LEVEL) of every meta KI. A meta notification reaches a REACT KI
only under level-1 matching: its argument pattern must be the meta pattern up to variable names
(constants in place of variables are allowed and narrow the bindings); sub- or super-patterns
receive nothing. An ASK with ``includeMetaKIs`` is matched at the asking KB's own level."""


class MetaEvent(enum.Enum):
    """What a meta notification announces; the value is the purpose of its meta POST KI."""

    NEW = NEW_KNOWLEDGE_PURPOSE
    """A KB was registered (sent once, before ``POST /sc`` answers)."""
    CHANGED = CHANGED_KNOWLEDGE_PURPOSE
    """A KI was registered or deleted (before ``POST /sc/ki`` / ``DELETE /sc/ki`` answers)."""
    REMOVED = REMOVED_KNOWLEDGE_PURPOSE
    """A KB is being deleted (``DELETE /sc``; by the KE source also on lease expiry)."""


_TYPE_IRI: Final = {
    KnowledgeInteractionType.ASK: _kb("AskKnowledgeInteraction"),
    KnowledgeInteractionType.ANSWER: _kb("AnswerKnowledgeInteraction"),
    KnowledgeInteractionType.POST: _kb("PostKnowledgeInteraction"),
    KnowledgeInteractionType.REACT: _kb("ReactKnowledgeInteraction"),
}


def meta_interaction_id(
    kb_id: str, kind: KnowledgeInteractionType, event: MetaEvent | None = None
) -> str:
    """The id the KE gives one meta KI of a KB: ``<kb_id>/meta/knowledgeinteractions/<...>``.

    ASK and ANSWER take no `event`; POST and REACT need one (``.../post/new`` and so on).
    """
    base = f"{kb_id}/meta/knowledgeinteractions/"
    if kind in (KnowledgeInteractionType.ASK, KnowledgeInteractionType.ANSWER):
        if event is not None:
            raise ValueError(f"a meta {kind.name} KI has no event")
        return base + kind.name.lower()
    if event is None:
        raise ValueError(f"a meta {kind.name} KI needs an event")
    return f"{base}{kind.name.lower()}/{event.name.lower()}"


def _act(required: str, satisfied: str) -> CommunicativeAct:
    return CommunicativeAct(required_purposes=[required], satisfied_purposes=[satisfied])


def meta_interactions(kb_id: str) -> list[KnowledgeInteractionInfo]:
    """The eight meta KIs of a KB, as KI infos (never listed by ``GET /sc/ki``).

    In this order: ASK, ANSWER, POST new/changed/removed, REACT new/changed/removed. All have
    `META_GRAPH_PATTERN` as (argument) pattern and no name. Acts: ASK and ANSWER
    Inform/Inform; POST Inform/<event purpose>; REACT <event purpose>/Inform. The ASK and
    POST have ``include_meta_kis`` (they reach other KBs' meta KIs).
    """
    ask, answer = KnowledgeInteractionType.ASK, KnowledgeInteractionType.ANSWER
    infos = [
        KnowledgeInteractionInfo(
            knowledge_interaction_id=meta_interaction_id(kb_id, kind),
            knowledge_interaction_type=kind,
            graph_pattern=META_GRAPH_PATTERN,
            communicative_act=_act(INFORM_PURPOSE, INFORM_PURPOSE),
            knowledge_gaps_enabled=False,
            include_meta_kis=kind is ask,
        )
        for kind in (ask, answer)
    ]
    for kind in (KnowledgeInteractionType.POST, KnowledgeInteractionType.REACT):
        for event in MetaEvent:
            posting = kind is KnowledgeInteractionType.POST
            infos.append(
                KnowledgeInteractionInfo(
                    knowledge_interaction_id=meta_interaction_id(kb_id, kind, event),
                    knowledge_interaction_type=kind,
                    argument_graph_pattern=META_GRAPH_PATTERN,
                    communicative_act=(
                        _act(INFORM_PURPOSE, event.value)
                        if posting
                        else _act(event.value, INFORM_PURPOSE)
                    ),
                    knowledge_gaps_enabled=False,
                    include_meta_kis=posting,
                )
            )
    return infos


def is_meta_interaction(kb_id: str, ki_id: str) -> bool:
    """Whether `ki_id` is one of the eight meta KI ids of the KB `kb_id`."""
    return any(info.knowledge_interaction_id == ki_id for info in meta_interactions(kb_id))


def _literal(text: str) -> str:
    # As the KE (Jena) writes a plain string: only these six characters are escaped; other
    # control characters (\b, \x01, \x7f, \u2028 ...) and all non-ASCII text stay as they are.
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
        .replace("\f", "\\f")
    )
    return f'"{escaped}"'


def _boolean(value: bool) -> str:
    return f'"{"true" if value else "false"}"^^<{_XSD_BOOLEAN}>'


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _graph_patterns(info: KnowledgeInteractionInfo) -> list[tuple[str, str, str]]:
    """(node suffix, pattern type, pattern text) of each pattern the KI's metadata lists."""
    kind = info.knowledge_interaction_type
    if kind in (KnowledgeInteractionType.ASK, KnowledgeInteractionType.ANSWER):
        return [("/gp", "GraphPattern", info.graph_pattern or "")]
    # POST / REACT: a missing argument or result pattern has a node but no pattern, so no row.
    found = [("/argumentgp", "ArgumentGraphPattern", info.argument_graph_pattern)]
    found.append(("/resultgp", "ResultGraphPattern", info.result_graph_pattern))
    return [(node, kind_, text) for node, kind_, text in found if text is not None]


def _ki_rows(
    kb_row: Mapping[str, str], info: KnowledgeInteractionInfo, is_meta: bool
) -> list[dict[str, str]]:
    ki = info.knowledge_interaction_id
    act = info.communicative_act or CommunicativeAct()
    base = {
        **kb_row,
        "ki": f"<{ki}>",
        "kiType": _TYPE_IRI[info.knowledge_interaction_type],
        "isMeta": _boolean(is_meta),
        "act": f"<{ki}/act>",
        "req": f"<{ki}/act/req>",
        "sat": f"<{ki}/act/sat>",
    }
    return [
        {
            **base,
            "reqType": f"<{required}>",
            "satType": f"<{satisfied}>",
            "gp": f"<{ki}{node}>",
            "patternType": _kb(pattern_type),
            "pattern": _literal(text),
        }
        for node, pattern_type, text in _graph_patterns(info)
        for required in _unique(act.required_purposes)
        for satisfied in _unique(act.satisfied_purposes)
    ]


def kb_metadata(
    kb_id: str, name: str, description: str, interactions: Iterable[KnowledgeInteractionInfo]
) -> list[dict[str, str]]:
    """The binding set that describes a KB on `META_GRAPH_PATTERN`, as the KE writes it.

    This is what the KB's meta ANSWER KI answers to an unrestricted ask, and what its meta
    notifications carry. `interactions` are the KB's registered KIs as ``GET /sc/ki`` lists
    them (patterns in canonical form); the eight meta KIs are always added (with ``isMeta``
    true) and are skipped if `interactions` holds them too.

    One binding per KI, per listed pattern (ASK/ANSWER: the pattern; POST/REACT: argument and
    result, where given), per required purpose, per satisfied purpose. Node ids hang under the
    KI id: ``/act``, ``/act/req``, ``/act/sat``, ``/gp``, ``/argumentgp``, ``/resultgp``. The KE
    gives no order; this function lists the meta KIs first, then `interactions` in order.
    """
    kb_row = {"kb": f"<{kb_id}>", "name": _literal(name), "description": _literal(description)}
    meta = meta_interactions(kb_id)
    meta_ids = {info.knowledge_interaction_id for info in meta}
    rows = [row for info in meta for row in _ki_rows(kb_row, info, True)]
    for info in interactions:
        if info.knowledge_interaction_id not in meta_ids:
            rows.extend(_ki_rows(kb_row, info, False))
    return rows


def _value_key(term: str) -> str:
    """A key under which two terms of a metadata binding have the same RDF value."""
    term = term.strip()
    if term in ("true", "false"):
        return _boolean(term == "true")
    if term.startswith('"') and term.endswith(f'"^^<{_XSD_BOOLEAN}>'):
        lexical = term[1 : -len(f'"^^<{_XSD_BOOLEAN}>')]
        if lexical in ("true", "1", "false", "0"):
            return _boolean(lexical in ("true", "1"))
    if term.endswith(_XSD_STRING_SUFFIX):
        return term[: -len(_XSD_STRING_SUFFIX)]
    return term


def answer_meta_ask(
    metadata: Sequence[Mapping[str, str]], incoming: Sequence[Mapping[str, str]]
) -> list[dict[str, str]]:
    """What a meta ANSWER KI returns for an ask whose bindings reach it as `incoming`.

    `metadata` is `kb_metadata` of the answering KB; `incoming` the bindings already
    translated into the meta pattern's variables. With no incoming binding everything is
    answered; otherwise a metadata binding is kept when some incoming binding fits it: each of
    its variables is bound in the metadata binding to the same RDF value (``true`` equals
    ``"true"^^<...#boolean>``, seen on the KE; ``"x"`` equals ``"x"^^<...#string>``, by RDF).
    The exchange info of the ask shows this set, in the meta pattern's variable names.
    """
    if not incoming:
        return [dict(row) for row in metadata]
    return [dict(row) for row in metadata if any(_fits(b, row) for b in incoming)]


def _fits(incoming: Mapping[str, str], row: Mapping[str, str]) -> bool:
    return all(
        var in row and _value_key(row[var]) == _value_key(value) for var, value in incoming.items()
    )


@dataclasses.dataclass(frozen=True)
class MetaNotification:
    """One meta notification: a POST the KE makes on a KB's behalf to the other KBs.

    The engine treats it as a POST from `posting_interaction` by `kb_id`, matched at reasoner
    level `META_MATCH_LEVEL` against the REACT KIs of every *other* registered KB (never the
    KB itself). A REACT KI receives it only when its communicative act fits: the default act
    (Inform/Inform) receives all three events; one requiring ``NewKnowledgePurpose`` (or
    ``Changed...``, ``Removed...``) only that event. Each matching REACT KI gets one handle
    request with ``requestingKnowledgeBaseId`` = `kb_id` and `binding_set` translated into its
    own variables. The KE waits for every reply (each up to its ask/post wait timeout, 10 s by
    default) before ``POST /sc``, ``POST /sc/ki`` or ``DELETE /sc/ki`` answers; ``DELETE /sc``
    waits at most 500 ms x (number of other KBs + 1) and leaves unanswered requests queued.
    """

    event: MetaEvent
    """What is announced."""
    kb_id: str
    """The KB the notification is about and on whose behalf it is sent."""
    posting_interaction: KnowledgeInteractionInfo
    """The KB's meta POST KI for `event` (id ``<kb_id>/meta/knowledgeinteractions/post/...``)."""
    binding_set: list[dict[str, str]]
    """`kb_metadata` of the KB at that moment (for NEW: only its eight meta KIs)."""


def meta_notification(
    event: MetaEvent,
    kb_id: str,
    name: str,
    description: str,
    interactions: Iterable[KnowledgeInteractionInfo],
) -> MetaNotification:
    """The notification the KE sends for `event` about a KB with these KIs.

    `interactions` are the KB's KIs *after* the change (after a ``DELETE /sc/ki`` without the
    deleted one); for REMOVED, those the KB still had when it was deleted.
    """
    posting = meta_interactions(kb_id)[2 + list(MetaEvent).index(event)]
    return MetaNotification(
        event=event,
        kb_id=kb_id,
        posting_interaction=posting,
        binding_set=kb_metadata(kb_id, name, description, interactions),
    )
