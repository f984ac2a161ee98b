"""km_testing._meta_knowledge gives what a real KE 1.5.0 gave over its REST API.

Every expected value here was observed on KE 1.5.0 (``GET /rest/version`` = ``1.5.0``) with raw
REST probes: knowledge-base ids, names, KI lists (``GET /sc/ki``) and the bindings are copied
from those runs. kb1's metadata is what an ASK with ``includeMetaKIs`` on the full metadata
pattern returned (22 bindings, also in the exchange info of kb1's meta ANSWER KI); the
notifications are the handle requests a REACT KI on the metadata pattern received.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

from km_core import KnowledgeInteractionInfo, KnowledgeInteractionType
from km_testing.engine._meta import (
    META_GRAPH_PATTERN,
    META_VARIABLES,
    MetaEvent,
    answer_meta_ask,
    is_meta_interaction,
    kb_metadata,
    meta_interaction_id,
    meta_interactions,
    meta_notification,
)

KE = "https://w3id.org/knowledge-engine/"
TRUE = '"true"^^<http://www.w3.org/2001/XMLSchema#boolean>'
FALSE = '"false"^^<http://www.w3.org/2001/XMLSchema#boolean>'

# The ?pattern value of every meta KI, as the KE sent it.
META = (
    '"?kb <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://w3id.org/knowledge-engine/'
    "KnowledgeBase> . ?kb <https://w3id.org/knowledge-engine/hasName> ?name . ?kb <https://w3id"
    ".org/knowledge-engine/hasDescription> ?description . ?kb <https://w3id.org/knowledge-engine"
    "/hasKnowledgeInteraction> ?ki . ?ki <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> ?kiTy"
    "pe . ?ki <https://w3id.org/knowledge-engine/isMeta> ?isMeta . ?ki <https://w3id.org/knowledg"
    "e-engine/hasCommunicativeAct> ?act . ?act <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
    "<https://w3id.org/knowledge-engine/CommunicativeAct> . ?act <https://w3id.org/knowledge-engi"
    "ne/hasRequirement> ?req . ?act <https://w3id.org/knowledge-engine/hasSatisfaction> ?sat . ?r"
    "eq <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> ?reqType . ?sat <http://www.w3.org/1999"
    "/02/22-rdf-syntax-ns#type> ?satType . ?ki <https://w3id.org/knowledge-engine/hasGraphPattern"
    "> ?gp . ?gp <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> ?patternType . ?gp <https://w3"
    'id.org/knowledge-engine/hasPattern> ?pattern . "'
)

# --- kb1: named and unnamed ASK/ANSWER/POST/REACT KIs -------------------------------------------

K1 = "http://example.org/meta-probe-2f91be83/kb1"
K1_NAME, K1_DESCRIPTION = "KB one", "Provides things"

# GET /sc/ki of kb1, verbatim.
K1_KIS_JSON = r"""[
{"argumentGraphPattern": "?x <http://example.org/q> ?y . ", "communicativeAct": {"requiredPurposes": ["https://w3id.org/knowledge-engine/InformPurpose", "https://w3id.org/knowledge-engine/ActuationPurpose"], "satisfiedPurposes": ["https://w3id.org/knowledge-engine/InformPurpose", "https://w3id.org/knowledge-engine/ActuationPurpose"]}, "knowledgeGapsEnabled": false, "knowledgeInteractionId": "http://example.org/meta-probe-2f91be83/kb1/interaction/react1", "knowledgeInteractionName": "react1", "knowledgeInteractionType": "ReactKnowledgeInteraction", "prefixes": {}, "resultGraphPattern": "?x <http://example.org/r> ?z . "},
{"communicativeAct": {"requiredPurposes": ["https://w3id.org/knowledge-engine/InformPurpose"], "satisfiedPurposes": ["https://w3id.org/knowledge-engine/InformPurpose"]}, "graphPattern": "?a <http://example.org/p> ?b . ?a <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://example.org/Thing> . ", "knowledgeGapsEnabled": false, "knowledgeInteractionId": "http://example.org/meta-probe-2f91be83/kb1/interaction/ask1", "knowledgeInteractionName": "ask1", "knowledgeInteractionType": "AskKnowledgeInteraction", "prefixes": {}},
{"argumentGraphPattern": "?x <http://example.org/q> ?y . ", "communicativeAct": {"requiredPurposes": ["https://w3id.org/knowledge-engine/InformPurpose"], "satisfiedPurposes": ["https://w3id.org/knowledge-engine/InformPurpose"]}, "knowledgeGapsEnabled": false, "knowledgeInteractionId": "http://example.org/meta-probe-2f91be83/kb1/interaction/7b42ee13-ff6e-4572-a5a9-507cf22fe9a2", "knowledgeInteractionType": "ReactKnowledgeInteraction", "prefixes": {}},
{"argumentGraphPattern": "?x <http://example.org/q> ?y . ", "communicativeAct": {"requiredPurposes": ["https://w3id.org/knowledge-engine/InformPurpose"], "satisfiedPurposes": ["https://w3id.org/knowledge-engine/InformPurpose"]}, "knowledgeGapsEnabled": false, "knowledgeInteractionId": "http://example.org/meta-probe-2f91be83/kb1/interaction/7086ef3a-9867-4cb3-b34f-6b471142707b", "knowledgeInteractionType": "PostKnowledgeInteraction", "prefixes": {}},
{"argumentGraphPattern": "?x <http://example.org/q> ?y . ", "communicativeAct": {"requiredPurposes": ["https://w3id.org/knowledge-engine/InformPurpose"], "satisfiedPurposes": ["https://w3id.org/knowledge-engine/InformPurpose"]}, "knowledgeGapsEnabled": false, "knowledgeInteractionId": "http://example.org/meta-probe-2f91be83/kb1/interaction/post2", "knowledgeInteractionName": "post2", "knowledgeInteractionType": "PostKnowledgeInteraction", "prefixes": {}, "resultGraphPattern": "?x <http://example.org/r> ?z . "},
{"communicativeAct": {"requiredPurposes": ["https://w3id.org/knowledge-engine/InformPurpose"], "satisfiedPurposes": ["https://w3id.org/knowledge-engine/InformPurpose"]}, "graphPattern": "?s <http://example.org/name> \"lit \\\"q\\\" \\\\ x\" . ?s <http://example.org/age> 42 . ?s <http://example.org/ok> true . ?s <http://example.org/l> \"hi\"@en . ?s <http://example.org/d> \"2.5\"^^<http://www.w3.org/2001/XMLSchema#double> . ", "knowledgeGapsEnabled": false, "knowledgeInteractionId": "http://example.org/meta-probe-2f91be83/kb1/interaction/answer1", "knowledgeInteractionName": "answer1", "knowledgeInteractionType": "AnswerKnowledgeInteraction", "prefixes": {}}
]"""  # noqa: E501 (verbatim KE output)
K1_KIS = [KnowledgeInteractionInfo.model_validate(item) for item in json.loads(K1_KIS_JSON)]

Q_ARG = '"?x <http://example.org/q> ?y . "'
R_RES = '"?x <http://example.org/r> ?z . "'
ANSWER1 = (
    r'"?s <http://example.org/name> \"lit \\\"q\\\" \\\\ x\" . ?s <http://example.org/age> 42 . '
    r"?s <http://example.org/ok> true . ?s <http://example.org/l> \"hi\"@en . ?s <http://example"
    r'.org/d> \"2.5\"^^<http://www.w3.org/2001/XMLSchema#double> . "'
)
ASK1 = (
    '"?a <http://example.org/p> ?b . ?a <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> '
    '<http://example.org/Thing> . "'
)
ARG, RES = ("argumentgp", "ArgumentGraphPattern"), ("resultgp", "ResultGraphPattern")
GP = ("gp", "GraphPattern")
INFORM, ACTUATION = "InformPurpose", "ActuationPurpose"

# The eight meta KIs of any KB: (id after the KB id, type, reqType, satType, gp node, gp type).
META_ROWS = [
    ("meta/knowledgeinteractions/ask", "Ask", INFORM, INFORM, *GP),
    ("meta/knowledgeinteractions/answer", "Answer", INFORM, INFORM, *GP),
    ("meta/knowledgeinteractions/post/new", "Post", INFORM, "NewKnowledgePurpose", *ARG),
    ("meta/knowledgeinteractions/post/changed", "Post", INFORM, "ChangedKnowledgePurpose", *ARG),
    ("meta/knowledgeinteractions/post/removed", "Post", INFORM, "RemovedKnowledgePurpose", *ARG),
    ("meta/knowledgeinteractions/react/new", "React", "NewKnowledgePurpose", INFORM, *ARG),
    ("meta/knowledgeinteractions/react/changed", "React", "ChangedKnowledgePurpose", INFORM, *ARG),
    ("meta/knowledgeinteractions/react/removed", "React", "RemovedKnowledgePurpose", INFORM, *ARG),
]
REACT1 = "interaction/react1"
# kb1's own KIs: (id after K1, type, reqType, satType, gp node, gp type, pattern value).
K1_ROWS = [
    ("interaction/ask1", "Ask", INFORM, INFORM, *GP, ASK1),
    ("interaction/answer1", "Answer", INFORM, INFORM, *GP, ANSWER1),
    ("interaction/7086ef3a-9867-4cb3-b34f-6b471142707b", "Post", INFORM, INFORM, *ARG, Q_ARG),
    ("interaction/post2", "Post", INFORM, INFORM, *ARG, Q_ARG),
    ("interaction/post2", "Post", INFORM, INFORM, *RES, R_RES),
    ("interaction/7b42ee13-ff6e-4572-a5a9-507cf22fe9a2", "React", INFORM, INFORM, *ARG, Q_ARG),
    *[
        (REACT1, "React", req, sat, *gp, pattern)
        for gp, pattern in ((ARG, Q_ARG), (RES, R_RES))
        for req in (INFORM, ACTUATION)
        for sat in (INFORM, ACTUATION)
    ],
]


def expected(
    kb: str,
    name: str,
    description: str,
    own: Iterable[tuple[str, str, str, str, str, str, str]],
) -> list[dict[str, str]]:
    """The bindings the KE sent, written out from the compact rows above."""
    rows = [(*row, META) for row in META_ROWS]
    rows.extend(own)
    return [
        {
            "kb": f"<{kb}>",
            "name": name,
            "description": description,
            "ki": f"<{kb}/{ki}>",
            "kiType": f"<{KE}{kind}KnowledgeInteraction>",
            "isMeta": TRUE if ki.startswith("meta/") else FALSE,
            "act": f"<{kb}/{ki}/act>",
            "req": f"<{kb}/{ki}/act/req>",
            "sat": f"<{kb}/{ki}/act/sat>",
            "reqType": f"<{KE}{req}>",
            "satType": f"<{KE}{sat}>",
            "gp": f"<{kb}/{ki}/{gp}>",
            "patternType": f"<{KE}{gp_type}>",
            "pattern": pattern,
        }
        for ki, kind, req, sat, gp, gp_type, pattern in rows
    ]


def as_set(bindings: Sequence[Mapping[str, str]]) -> list[str]:
    """A binding set in a comparable form (the KE sends bindings in no particular order)."""
    return sorted(json.dumps(binding, sort_keys=True) for binding in bindings)


def test_the_meta_pattern_is_the_one_the_ke_reports_for_its_meta_kis() -> None:
    assert f'"{META_GRAPH_PATTERN}"' == META
    assert set(META_VARIABLES) == set(expected(K1, "", "", [])[0])
    assert len(META_VARIABLES) == 14


def test_meta_interaction_ids() -> None:
    ask, answer = KnowledgeInteractionType.ASK, KnowledgeInteractionType.ANSWER
    post, react = KnowledgeInteractionType.POST, KnowledgeInteractionType.REACT
    # The exchange info of an ASK with includeMetaKIs names this id.
    assert meta_interaction_id(K1, answer) == f"{K1}/meta/knowledgeinteractions/answer"
    assert meta_interaction_id(K1, ask) == f"{K1}/meta/knowledgeinteractions/ask"
    assert (
        meta_interaction_id(K1, post, MetaEvent.NEW) == f"{K1}/meta/knowledgeinteractions/post/new"
    )
    assert (
        meta_interaction_id(K1, react, MetaEvent.REMOVED)
        == f"{K1}/meta/knowledgeinteractions/react/removed"
    )
    assert [info.knowledge_interaction_id for info in meta_interactions(K1)] == [
        f"{K1}/{row[0]}" for row in META_ROWS
    ]
    assert is_meta_interaction(K1, f"{K1}/meta/knowledgeinteractions/post/changed")
    assert not is_meta_interaction(K1, f"{K1}/interaction/ask1")


def test_meta_interactions_have_the_types_and_purposes_their_metadata_lists() -> None:
    for info, (_, kind, req, sat, _, _) in zip(meta_interactions(K1), META_ROWS, strict=True):
        assert info.knowledge_interaction_type == f"{kind}KnowledgeInteraction"
        assert info.communicative_act is not None
        assert info.communicative_act.required_purposes == [KE + req]
        assert info.communicative_act.satisfied_purposes == [KE + sat]
        assert (info.graph_pattern or info.argument_graph_pattern) == META_GRAPH_PATTERN
        assert info.result_graph_pattern is None


def test_kb_metadata_is_what_the_meta_answer_of_the_real_ke_answered() -> None:
    observed = expected(K1, '"KB one"', '"Provides things"', K1_ROWS)
    assert len(observed) == 22
    assert as_set(kb_metadata(K1, K1_NAME, K1_DESCRIPTION, K1_KIS)) == as_set(observed)


def test_one_metadata_binding_written_out() -> None:
    answer1 = f"{K1}/interaction/answer1"
    rows = [
        row
        for row in kb_metadata(K1, K1_NAME, K1_DESCRIPTION, K1_KIS)
        if row["ki"] == f"<{answer1}>"
    ]
    assert rows == [
        {
            "act": f"<{answer1}/act>",
            "description": '"Provides things"',
            "gp": f"<{answer1}/gp>",
            "isMeta": '"false"^^<http://www.w3.org/2001/XMLSchema#boolean>',
            "kb": "<http://example.org/meta-probe-2f91be83/kb1>",
            "ki": "<http://example.org/meta-probe-2f91be83/kb1/interaction/answer1>",
            "kiType": "<https://w3id.org/knowledge-engine/AnswerKnowledgeInteraction>",
            "name": '"KB one"',
            "pattern": ANSWER1,
            "patternType": "<https://w3id.org/knowledge-engine/GraphPattern>",
            "req": f"<{answer1}/act/req>",
            "reqType": "<https://w3id.org/knowledge-engine/InformPurpose>",
            "sat": f"<{answer1}/act/sat>",
            "satType": "<https://w3id.org/knowledge-engine/InformPurpose>",
        }
    ]


def test_meta_kis_given_with_the_interactions_are_not_doubled() -> None:
    with_meta = [*meta_interactions(K1), *K1_KIS]
    assert as_set(kb_metadata(K1, K1_NAME, K1_DESCRIPTION, with_meta)) == as_set(
        kb_metadata(K1, K1_NAME, K1_DESCRIPTION, K1_KIS)
    )


def test_the_meta_answer_narrows_to_the_incoming_bindings() -> None:
    metadata = kb_metadata(K1, K1_NAME, K1_DESCRIPTION, K1_KIS)
    everything = expected(K1, '"KB one"', '"Provides things"', K1_ROWS)
    assert as_set(answer_meta_ask(metadata, [])) == as_set(everything)
    assert as_set(answer_meta_ask(metadata, [{}])) == as_set(everything)
    # Asked with ki bound to react1: the exchange info showed react1's 8 bindings.
    react1 = answer_meta_ask(metadata, [{"ki": f"<{K1}/interaction/react1>"}])
    assert as_set(react1) == as_set([b for b in everything if b["ki"] == f"<{K1}/{REACT1}>"])
    assert len(react1) == 8
    # Asked with isMeta bound to the bare `true`: the 8 bindings of the meta KIs.
    meta_only = answer_meta_ask(metadata, [{"isMeta": "true"}])
    assert as_set(meta_only) == as_set(expected(K1, '"KB one"', '"Provides things"', []))


# --- meta notifications received by a REACT KI on the metadata pattern ----------------------------

N = "http://example.org/meta-probe-29a1a0d7/newcomer"
N_NAME, N_DESCRIPTION = 'N "quoted" \\ back', "line1\nline2\ttab\r é ☃ </>"
N_NAME_SENT, N_DESCRIPTION_SENT = r'"N \"quoted\" \\ back"', r'"line1\nline2\ttab\r é ☃ </>"'
N_ANSWER = "interaction/bbe10763-607d-4f5d-8ac6-f4bc35697713"


def newcomer_ki(ki: str, kind: KnowledgeInteractionType) -> KnowledgeInteractionInfo:
    """A KI of the newcomer, as registered (``?x <http://example.org/q> ?y .``, no act)."""
    pattern = "?x <http://example.org/q> ?y . "
    if kind is KnowledgeInteractionType.ANSWER:
        return KnowledgeInteractionInfo(
            knowledge_interaction_id=f"{N}/{ki}",
            knowledge_interaction_type=kind,
            graph_pattern=pattern,
        )
    return KnowledgeInteractionInfo(
        knowledge_interaction_id=f"{N}/{ki}",
        knowledge_interaction_type=kind,
        argument_graph_pattern=pattern,
    )


P1 = newcomer_ki("interaction/p1", KnowledgeInteractionType.POST)
P2 = newcomer_ki("interaction/p2", KnowledgeInteractionType.POST)
ANSWER = newcomer_ki(N_ANSWER, KnowledgeInteractionType.ANSWER)
P1_ROW = ("interaction/p1", "Post", INFORM, INFORM, *ARG, Q_ARG)
P2_ROW = ("interaction/p2", "Post", INFORM, INFORM, *ARG, Q_ARG)
ANSWER_ROW = (N_ANSWER, "Answer", INFORM, INFORM, *GP, Q_ARG)


def test_the_notification_of_a_new_kb_lists_only_its_meta_kis() -> None:
    notification = meta_notification(MetaEvent.NEW, N, N_NAME, N_DESCRIPTION, [])
    assert as_set(notification.binding_set) == as_set(
        expected(N, N_NAME_SENT, N_DESCRIPTION_SENT, [])
    )
    assert notification.kb_id == N  # the requestingKnowledgeBaseId of the handle request
    posting = notification.posting_interaction
    assert posting.knowledge_interaction_id == f"{N}/meta/knowledgeinteractions/post/new"
    assert posting.argument_graph_pattern == META_GRAPH_PATTERN


def test_changed_notifications_list_the_kis_after_the_change() -> None:
    # After POST /sc/ki of p1 and of an unnamed ANSWER: 8 + 1 + 1 bindings.
    after_register = meta_notification(MetaEvent.CHANGED, N, N_NAME, N_DESCRIPTION, [P1, ANSWER])
    assert as_set(after_register.binding_set) == as_set(
        expected(N, N_NAME_SENT, N_DESCRIPTION_SENT, [P1_ROW, ANSWER_ROW])
    )
    # After DELETE /sc/ki of p1: p1 is gone.
    after_delete = meta_notification(MetaEvent.CHANGED, N, N_NAME, N_DESCRIPTION, [ANSWER])
    assert as_set(after_delete.binding_set) == as_set(
        expected(N, N_NAME_SENT, N_DESCRIPTION_SENT, [ANSWER_ROW])
    )
    assert (
        after_delete.posting_interaction.knowledge_interaction_id
        == f"{N}/meta/knowledgeinteractions/post/changed"
    )


def test_the_removed_notification_lists_the_kis_the_kb_still_had() -> None:
    removed = meta_notification(MetaEvent.REMOVED, N, N_NAME, N_DESCRIPTION, [ANSWER, P2])
    assert as_set(removed.binding_set) == as_set(
        expected(N, N_NAME_SENT, N_DESCRIPTION_SENT, [ANSWER_ROW, P2_ROW])
    )
    assert (
        removed.posting_interaction.knowledge_interaction_id
        == f"{N}/meta/knowledgeinteractions/post/removed"
    )


def test_names_and_descriptions_are_escaped_as_the_ke_escapes_them() -> None:
    # Only \ " \n \r \t \f are escaped; \b, other control characters and non-ASCII stay as is.
    kb = "http://example.org/meta-probe-69ac615d/empty"
    description = "a\fb\bc\x01d\x7fe\u2028f\x85g\xa0h'i"
    rows = kb_metadata(kb, "", description, [])
    assert {row["name"] for row in rows} == {'""'}
    assert {row["description"] for row in rows} == {'"a\\fb\x08c\x01d\x7fe\u2028f\x85g\xa0h\'i"'}
    assert len(rows) == 8
