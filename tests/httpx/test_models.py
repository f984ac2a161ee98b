"""The km_core models against the KE reference's example documents.

Every response model must read the KE's JSON as the reference shows it and write it back
unchanged with `to_wire()` (camelCase names, absent fields left absent), and the request models
must write exactly the names the KE reads.

The examples are embedded here, verbatim: the KE reference is not part of the repository.
`test_embedded_examples_are_the_references` checks them against the reference files, found as
`tests/reference.py` says (``KM_TEST_KE_REFERENCE``), and skips when those are missing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from km_core import (
    AskResult,
    ExchangeStatus,
    HandleRequest,
    HandleResponse,
    KnowledgeBaseInfo,
    KnowledgeInteractionInfo,
    KnowledgeInteractionRegistration,
    KnowledgeInteractionType,
    LeaseInfo,
    PostResult,
)
from tests.reference import require_reference

INFORM = "https://w3id.org/knowledge-engine/InformPurpose"
DATE_TIME_KEYS = {"expires", "exchangeStart", "exchangeEnd"}

# ---------------------------------------------------------------- ke-rest-api.md examples

# Section 5.3, as the reference writes it.
ASK_RESULT_5_3_TEXT = (
    '{"bindingSet":[{"a":"<http://example.org/Barry>","b":"<http://example.org/Jack>"}],'
    '"exchangeInfo":[{"initiator":"knowledgeBase","knowledgeBaseId":"http://example.org/kb2",'
    '"knowledgeInteractionId":"http://example.org/kb2/interaction/answer-relations",'
    '"exchangeStart":"2026-06-29T11:37:33.101+00:00",'
    '"exchangeEnd":"2026-06-29T11:37:33.187+00:00","status":"SUCCEEDED",'
    '"bindingSet":[{"x":"<http://example.org/Barry>","y":"<http://example.org/Jack>"}]}]}'
)
ASK_RESULT_5_3 = json.loads(ASK_RESULT_5_3_TEXT)

# Section 2.2: an element of GET /sc; leaseRenewalTime only when a lease was asked for.
KB_WITH_LEASE = {
    "knowledgeBaseId": "http://example.org/kb1",
    "knowledgeBaseName": "Relations",
    "knowledgeBaseDescription": "Knows who is related to whom",
    "leaseRenewalTime": 60,
    "reasonerLevel": 2,
}
KB_WITHOUT_LEASE = {
    "knowledgeBaseId": "https://hello",
    "knowledgeBaseName": "Hello",
    "knowledgeBaseDescription": "",
    "reasonerLevel": 2,
}

# Section 2.6: GET /sc/ki elements, with the canonical patterns (full IRIs, trailing " . ").
KI_ASK = {
    "knowledgeInteractionId": "http://example.org/kb1/interaction/ask-relations",
    "knowledgeInteractionType": "AskKnowledgeInteraction",
    "knowledgeInteractionName": "ask-relations",
    "knowledgeGapsEnabled": True,
    "communicativeAct": {"requiredPurposes": [INFORM], "satisfiedPurposes": [INFORM]},
    "graphPattern": "?a <http://example.org/isRelatedTo> ?b . ",
}
KI_REACT = {
    "knowledgeInteractionId": "http://example.org/kb1/interaction/3c5d7c3e-1111-4d5e-9e0f",
    "knowledgeInteractionType": "ReactKnowledgeInteraction",
    "knowledgeGapsEnabled": False,
    "communicativeAct": {
        "requiredPurposes": ["https://w3id.org/knowledge-engine/NewKnowledgePurpose"],
        "satisfiedPurposes": [INFORM],
    },
    "argumentGraphPattern": "?m <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
    "<http://example.org/Measurement> . ?m <http://example.org/hasValueInMeters> ?v . ",
    "resultGraphPattern": "?m <http://example.org/hasValueInYards> ?y . ",
}
KI_POST_WITH_EMPTY_PREFIXES = {
    "knowledgeInteractionId": "http://example.org/kb1/interaction/post-measurements",
    "knowledgeInteractionType": "PostKnowledgeInteraction",
    "knowledgeInteractionName": "post-measurements",
    "knowledgeGapsEnabled": False,
    "communicativeAct": {"requiredPurposes": [INFORM], "satisfiedPurposes": [INFORM]},
    "argumentGraphPattern": "?m <http://example.org/hasValue> 12 . ",
    "prefixes": {},
}

# Section 2.11: a handle request, with all four fields.
HANDLE_REQUEST_2_11 = {
    "knowledgeInteractionId": "http://example.org/kb1/interaction/answer-relations",
    "handleRequestId": 1,
    "bindingSet": [{"a": "<http://example.org/Barry>"}],
    "requestingKnowledgeBaseId": "http://example.org/kb2",
}

# Section 2.5, with the date-time format of section 1.
LEASE_INFO = {
    "knowledgeBaseId": "http://example.org/kb1",
    "expires": "2026-06-29T11:37:33.123+00:00",
}

# Sections 5.2 and 5.3: a post with one REACT that answered and one that timed out (4.4).
POST_RESULT = {
    "resultBindingSet": [{"y": '"1.0936"^^<http://www.w3.org/2001/XMLSchema#decimal>'}],
    "exchangeInfo": [
        {
            "initiator": "knowledgeBase",
            "knowledgeBaseId": "http://example.org/kb2",
            "knowledgeInteractionId": "http://example.org/kb2/interaction/react-convert",
            "exchangeStart": "2026-06-29T11:37:33.101+00:00",
            "exchangeEnd": "2026-06-29T11:37:33.187+00:00",
            "status": "SUCCEEDED",
            "argumentBindingSet": [
                {
                    "m": "<http://example.org/m1>",
                    "v": '"1"^^<http://www.w3.org/2001/XMLSchema#integer>',
                }
            ],
            "resultBindingSet": [
                {
                    "m": "<http://example.org/m1>",
                    "w": '"1.0936"^^<http://www.w3.org/2001/XMLSchema#decimal>',
                }
            ],
        },
        {
            "initiator": "knowledgeBase",
            "knowledgeBaseId": "http://example.org/kb3",
            "knowledgeInteractionId": "http://example.org/kb3/interaction/react-slow",
            "exchangeStart": "2026-06-29T11:37:33.101+00:00",
            "exchangeEnd": "2026-06-29T11:37:43.102+00:00",
            "status": "FAILED",
            "failedMessage": "Error 'TimeoutException' occurred while waiting for response to "
            "message: 0f8fad5b-d9cb-469f-a165-70867728950e",
            "argumentBindingSet": [
                {
                    "m": "<http://example.org/m1>",
                    "v": '"1"^^<http://www.w3.org/2001/XMLSchema#integer>',
                }
            ],
            "resultBindingSet": [],
        },
    ],
}

# Section 4.3: an answerer that posted an errorMessage; gaps enabled but none found (5.1).
ASK_RESULT_FAILED = {
    "bindingSet": [],
    "exchangeInfo": [
        {
            "initiator": "knowledgeBase",
            "knowledgeBaseId": "http://example.org/kb2",
            "knowledgeInteractionId": "http://example.org/kb2/interaction/answer-relations",
            "exchangeStart": "2026-06-29T11:37:33.101+00:00",
            "exchangeEnd": "2026-06-29T11:37:33.187+00:00",
            "status": "FAILED",
            "failedMessage": "An error occurred while ANSWERing: Database connection lost.",
            "bindingSet": [],
        }
    ],
    "knowledgeGaps": [],
}

# ---------------------------------------------------------------- openapi-sc.yaml examples

OPENAPI_EXAMPLES: dict[str, Any] = {
    "POST /sc request: without lease": {
        "knowledgeBaseId": "http://example.org/a-knowledge-base-id",
        "knowledgeBaseName": "Example Knowledge Base",
        "knowledgeBaseDescription": "This is a detailed description",
    },
    "POST /sc request: with 60 seconds lease": {
        "knowledgeBaseId": "http://example.org/a-knowledge-base-id",
        "knowledgeBaseName": "Example Knowledge Base",
        "knowledgeBaseDescription": "This is a detailed description",
        "leaseRenewalTime": 60,
    },
    "POST /sc request: with reasoner level": {
        "knowledgeBaseId": "http://example.org/a-knowledge-base-id",
        "knowledgeBaseName": "Example Knowledge Base",
        "knowledgeBaseDescription": "This is a detailed description",
        "reasonerLevel": 4,
    },
    "POST /sc/ki request: ASK without prefixes": {
        "knowledgeInteractionType": "AskKnowledgeInteraction",
        "graphPattern": "?a <http://example.org/isRelatedTo> ?b .",
    },
    "POST /sc/ki request: ASK with prefixes": {
        "knowledgeInteractionType": "AskKnowledgeInteraction",
        "graphPattern": "?a rdf:type ex:Something .",
        "prefixes": {
            "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
            "ex": "http://example.org/",
        },
    },
    "POST /sc/ki request: REACT with prefixes": {
        "knowledgeInteractionType": "ReactKnowledgeInteraction",
        "argumentGraphPattern": "?a rdf:type ex:Measurement . ?a ex:hasValueInMeters ?b .",
        "resultGraphPattern": "?a rdf:type ex:Measurement . ?a ex:hasValueInYards ?b .",
        "prefixes": {
            "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
            "ex": "http://example.org/",
        },
    },
    "POST /sc/ki request: ASK with name and prefixes": {
        "knowledgeInteractionType": "AskKnowledgeInteraction",
        "knowledgeInteractionName": "books-by-shakespeare",
        "graphPattern": "?a rdf:type ex:Book . ?a ex:hasAuthor ex:Shakespeare",
        "prefixes": {
            "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
            "ex": "http://example.org/",
        },
    },
    "POST /sc/ki request: ASK with knowledge gaps enabled": {
        "knowledgeInteractionType": "AskKnowledgeInteraction",
        "graphPattern": "?a <http://example.org/isRelatedTo> ?b .",
        "knowledgeGapsEnabled": "true",
    },
    "POST /sc/ki request: ASK with meta KIs included": {
        "knowledgeInteractionType": "AskKnowledgeInteraction",
        "graphPattern": "?a <http://example.org/isRelatedTo> ?b .",
        "includeMetaKIs": True,
    },
    "POST /sc/ask 200: knowledge gaps NOT enabled": {
        "bindingSet": [{"a": "<http://example.org/Barry>", "b": "<http://example.org/Jack>"}],
        "exchangeInfo": [],
    },
    "POST /sc/ask 200: knowledge gaps enabled": {
        "bindingSet": [{"a": "<http://example.org/Barry>", "b": "<http://example.org/Jack>"}],
        "exchangeInfo": [],
        "knowledgeGaps": [
            [
                "?a <http://example.org/isFatherOf> ?c",
                "?a <http://example.org/liveInTheSameHouse> ?b",
            ]
        ],
    },
    "GET /sc/handle 200: example": {
        "knowledgeInteractionId": "http://example.org/ki/your-knowledge-interaction-id",
        "handleRequestId": 1,
        "bindingSet": [
            {
                "a": "<http://example.org/some-incoming-value>",
                "b": "<http://example.org/another-incoming-value>",
            }
        ],
        "requestingKnowledgeBaseId": "http://example.org/knowledge-base-id-of-requesting-side",
    },
    # The YAML's HandleResponse examples say handleResponseId; the KE reads handleRequestId
    # (ke-rest-api.md 2.12 and 2.14).
    "POST /sc/handle request: binding set response": {
        "handleResponseId": 1,
        "bindingSet": [
            {
                "a": "<http://example.org/some-outgoing-value>",
                "b": "<http://example.org/another-outgoing-value>",
            }
        ],
    },
    "POST /sc/handle request: error response": {
        "handleResponseId": 1,
        "errorMessage": "Database connection lost.",
    },
}

OPENAPI_MODELS: dict[str, type[BaseModel]] = {
    "POST /sc request": KnowledgeBaseInfo,
    "POST /sc/ki request": KnowledgeInteractionRegistration,
    "POST /sc/ask 200": AskResult,
    "GET /sc/handle 200": HandleRequest,
    "POST /sc/handle request": HandleResponse,
}


def corrected_handle_response(example: dict[str, Any]) -> dict[str, Any]:
    """The YAML's HandleResponse example with the id under the name the KE reads."""
    fixed = {"handleRequestId": example["handleResponseId"]}
    fixed.update((key, value) for key, value in example.items() if key != "handleResponseId")
    return fixed


def openapi_round_trips() -> list[Any]:
    params = []
    for name, example in OPENAPI_EXAMPLES.items():
        label = name.split(":")[0]
        model = OPENAPI_MODELS[label]
        document, wire = example, example
        if model is HandleResponse:
            document = wire = corrected_handle_response(example)
        if example.get("knowledgeGapsEnabled") == "true":
            wire = {**example, "knowledgeGapsEnabled": True}  # 2.14: the string is coerced
        params.append(pytest.param(model, document, wire, id=f"openapi {name}"))
    return params


# ---------------------------------------------------------------- round trips


def instants(document: Any) -> Any:
    """The document with its date-time texts parsed, so that one instant compares equal to
    itself however it is written (``.123+00:00`` or ``.123000Z``)."""
    if isinstance(document, dict):
        return {
            key: datetime.fromisoformat(value)
            if key in DATE_TIME_KEYS and isinstance(value, str)
            else instants(value)
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [instants(item) for item in document]
    return document


REFERENCE_ROUND_TRIPS = [
    pytest.param(AskResult, ASK_RESULT_5_3, ASK_RESULT_5_3, id="AskResult 5.3"),
    pytest.param(AskResult, ASK_RESULT_FAILED, ASK_RESULT_FAILED, id="AskResult FAILED"),
    pytest.param(KnowledgeBaseInfo, KB_WITH_LEASE, KB_WITH_LEASE, id="KnowledgeBaseInfo lease"),
    pytest.param(
        KnowledgeBaseInfo, KB_WITHOUT_LEASE, KB_WITHOUT_LEASE, id="KnowledgeBaseInfo no lease"
    ),
    pytest.param(KnowledgeInteractionInfo, KI_ASK, KI_ASK, id="KnowledgeInteractionInfo ASK"),
    pytest.param(KnowledgeInteractionInfo, KI_REACT, KI_REACT, id="KnowledgeInteractionInfo REACT"),
    pytest.param(
        KnowledgeInteractionInfo,
        KI_POST_WITH_EMPTY_PREFIXES,
        KI_POST_WITH_EMPTY_PREFIXES,
        id="KnowledgeInteractionInfo POST",
    ),
    pytest.param(HandleRequest, HANDLE_REQUEST_2_11, HANDLE_REQUEST_2_11, id="HandleRequest"),
    pytest.param(LeaseInfo, LEASE_INFO, LEASE_INFO, id="LeaseInfo"),
    pytest.param(PostResult, POST_RESULT, POST_RESULT, id="PostResult"),
]


@pytest.mark.parametrize(
    ("model", "document", "wire"), [*REFERENCE_ROUND_TRIPS, *openapi_round_trips()]
)
def test_reference_examples_round_trip(
    model: type[BaseModel], document: dict[str, Any], wire: dict[str, Any]
) -> None:
    parsed = model.model_validate(document)
    dumped = parsed.to_wire()  # type: ignore[attr-defined]

    assert instants(dumped) == instants(wire)
    assert model.model_validate(dumped) == parsed
    assert model.model_validate_json(json.dumps(dumped)) == parsed


# ---------------------------------------------------------------- what the models read


def test_the_ask_result_example_reads_into_its_fields() -> None:
    result = AskResult.model_validate(ASK_RESULT_5_3)

    assert result.binding_set == [
        {"a": "<http://example.org/Barry>", "b": "<http://example.org/Jack>"}
    ]
    assert result.knowledge_gaps is None
    (exchange,) = result.exchange_info
    assert exchange.initiator == "knowledgeBase"
    assert exchange.knowledge_base_id == "http://example.org/kb2"
    assert exchange.status is ExchangeStatus.SUCCEEDED
    assert exchange.failed_message is None
    assert exchange.exchange_start == datetime(2026, 6, 29, 11, 37, 33, 101000, tzinfo=UTC)
    assert exchange.binding_set == [
        {"x": "<http://example.org/Barry>", "y": "<http://example.org/Jack>"}
    ]


def test_a_failed_exchange_keeps_its_message() -> None:
    result = AskResult.model_validate(ASK_RESULT_FAILED)

    (exchange,) = result.exchange_info
    assert exchange.status is ExchangeStatus.FAILED
    assert exchange.failed_message == (
        "An error occurred while ANSWERing: Database connection lost."
    )
    assert result.knowledge_gaps == []
    assert result.to_wire()["knowledgeGaps"] == []  # present and empty: no gaps were found


def test_knowledge_gaps_absent_stay_absent() -> None:
    result = AskResult.model_validate({"bindingSet": [], "exchangeInfo": []})

    assert result.knowledge_gaps is None
    assert "knowledgeGaps" not in result.to_wire()


def test_a_post_result_keeps_both_binding_sets_of_each_exchange() -> None:
    result = PostResult.model_validate(POST_RESULT)

    succeeded, failed = result.exchange_info
    assert succeeded.argument_binding_set == POST_RESULT["exchangeInfo"][0]["argumentBindingSet"]
    assert succeeded.result_binding_set == POST_RESULT["exchangeInfo"][0]["resultBindingSet"]
    assert failed.status is ExchangeStatus.FAILED
    assert failed.failed_message is not None
    assert "TimeoutException" in failed.failed_message
    assert failed.result_binding_set == []


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2026-06-29T11:37:33.123+00:00", datetime(2026, 6, 29, 11, 37, 33, 123000, tzinfo=UTC)),
        ("2026-06-29T11:37:33.123Z", datetime(2026, 6, 29, 11, 37, 33, 123000, tzinfo=UTC)),
        (
            "2026-06-29T13:37:33.123+02:00",
            datetime(2026, 6, 29, 13, 37, 33, 123000, tzinfo=timezone(timedelta(hours=2))),
        ),
    ],
)
def test_lease_expiry_is_an_aware_date_time(text: str, instant: datetime) -> None:
    lease = LeaseInfo.model_validate({"knowledgeBaseId": "http://example.org/kb1", "expires": text})

    assert lease.expires == instant
    assert lease.expires.utcoffset() is not None
    assert LeaseInfo.model_validate(lease.to_wire()).expires == instant


def test_a_listed_ki_reads_into_its_fields() -> None:
    ki = KnowledgeInteractionInfo.model_validate(KI_REACT)

    assert ki.knowledge_interaction_type is KnowledgeInteractionType.REACT
    assert ki.knowledge_interaction_name is None
    assert ki.graph_pattern is None
    assert ki.argument_graph_pattern == KI_REACT["argumentGraphPattern"]
    assert ki.result_graph_pattern == KI_REACT["resultGraphPattern"]
    assert ki.knowledge_gaps_enabled is False
    assert ki.communicative_act is not None
    assert ki.communicative_act.required_purposes == [
        "https://w3id.org/knowledge-engine/NewKnowledgePurpose"
    ]


# ---------------------------------------------------------------- what the request models write


def test_ki_registration_writes_the_ke_field_names() -> None:
    registration = KnowledgeInteractionRegistration(
        knowledge_interaction_type=KnowledgeInteractionType.ASK,
        graph_pattern="?a <http://example.org/isRelatedTo> ?b .",
        knowledge_gaps_enabled=True,
        include_meta_kis=True,
    )

    assert registration.to_wire() == {
        "knowledgeInteractionType": "AskKnowledgeInteraction",
        "graphPattern": "?a <http://example.org/isRelatedTo> ?b .",
        "knowledgeGapsEnabled": True,
        "includeMetaKIs": True,
    }


def test_ki_registration_omits_none_but_keeps_false() -> None:
    registration = KnowledgeInteractionRegistration(
        knowledge_interaction_type=KnowledgeInteractionType.POST,
        argument_graph_pattern="?m <http://example.org/hasValue> ?v .",
        knowledge_gaps_enabled=False,
        include_meta_kis=False,
    )

    wire = registration.to_wire()

    assert wire == {
        "knowledgeInteractionType": "PostKnowledgeInteraction",
        "argumentGraphPattern": "?m <http://example.org/hasValue> ?v .",
        "knowledgeGapsEnabled": False,
        "includeMetaKIs": False,
    }
    assert None not in wire.values()


def test_ki_registration_reads_include_meta_kis_by_its_wire_name() -> None:
    registration = KnowledgeInteractionRegistration.model_validate(
        {"knowledgeInteractionType": "AskKnowledgeInteraction", "includeMetaKIs": "true"}
    )

    assert registration.include_meta_kis is True


@pytest.mark.parametrize(
    ("response", "wire"),
    [
        pytest.param(
            HandleResponse(handle_request_id=3, binding_set=[{"a": "<http://example.org/a>"}]),
            {"handleRequestId": 3, "bindingSet": [{"a": "<http://example.org/a>"}]},
            id="binding-set",
        ),
        pytest.param(
            HandleResponse(handle_request_id=3, binding_set=[]),
            {"handleRequestId": 3, "bindingSet": []},
            id="empty-binding-set",
        ),
        pytest.param(
            HandleResponse(handle_request_id=3, error_message="Database connection lost."),
            {"handleRequestId": 3, "errorMessage": "Database connection lost."},
            id="error-message",
        ),
    ],
)
def test_handle_response_writes_handle_request_id(
    response: HandleResponse, wire: dict[str, Any]
) -> None:
    dumped = response.to_wire()

    assert dumped == wire
    assert "handleResponseId" not in dumped


def test_the_yaml_handle_response_example_is_refused() -> None:
    # The YAML's example names the id handleResponseId, which the KE ignores (2.12, 2.14).
    with pytest.raises(ValidationError, match="handleRequestId"):
        HandleResponse.model_validate(OPENAPI_EXAMPLES["POST /sc/handle request: error response"])


# ---------------------------------------------------------------- the embedded examples


def openapi_examples_in(spec: dict[str, Any]) -> dict[str, Any]:
    """The examples of `OPENAPI_EXAMPLES`, as the contract holds them."""
    paths = spec["paths"]
    places = {
        "POST /sc request": paths["/sc"]["post"]["requestBody"],
        "POST /sc/ki request": paths["/sc/ki"]["post"]["requestBody"],
        "POST /sc/ask 200": paths["/sc/ask"]["post"]["responses"]["200"],
        "GET /sc/handle 200": paths["/sc/handle"]["get"]["responses"]["200"],
        "POST /sc/handle request": paths["/sc/handle"]["post"]["requestBody"],
    }
    found: dict[str, Any] = {}
    for label, place in places.items():
        (media,) = place["content"].values()
        examples = media.get("examples") or {"example": {"value": media["example"]}}
        for name, example in examples.items():
            found[f"{label}: {name}"] = example["value"]
    return found


def test_embedded_examples_are_the_references() -> None:
    yaml = pytest.importorskip("yaml")
    openapi, rest_api = require_reference("openapi-sc.yaml"), require_reference("ke-rest-api.md")
    # PyYAML refuses the trailing tabs on one line of the contract; they carry no content.
    text = "\n".join(line.rstrip() for line in openapi.read_text().splitlines())

    assert openapi_examples_in(yaml.safe_load(text)) == OPENAPI_EXAMPLES
    assert ASK_RESULT_5_3_TEXT in rest_api.read_text()
