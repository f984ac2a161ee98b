"""Scenarios of the REST surface's lifecycle, without any exchange.

Registering, listing and deleting KBs and KIs, domain knowledge, headers, and the errors of
each (status codes and messages).
"""

from __future__ import annotations

from differential.recorder import Json, Recorder
from differential.scenario import scenario
from differential.scenarios.common import ANSWER, ASK, POST, REACT

TEXT = {"Content-Type": "text/plain"}
JSON_TYPE = {"Content-Type": "application/json"}


@scenario()
async def version(rec: Recorder) -> None:
    """GET /version."""
    await rec.request("GET /version", "GET", "/version")


@scenario()
async def kb_register_get_list(rec: Recorder) -> None:
    """Register a KB, read it, list it, register it again, delete it twice."""
    kb = await rec.register_kb("a", "POST /sc")
    await rec.request("GET /sc (header)", "GET", "/sc", kb=kb)
    listed = await rec.request(None, "GET", "/sc")
    mine = [
        item
        for item in (listed.body if isinstance(listed.body, list) else [])
        if rec.tag in str(item.get("knowledgeBaseId"))
    ]
    rec.note("GET /sc (all, this run's)", {"status": listed.status, "body": mine})
    again = {"knowledgeBaseId": kb, "knowledgeBaseName": "a", "knowledgeBaseDescription": "x"}
    await rec.request("POST /sc again", "POST", "/sc", json=again)
    await rec.request("DELETE /sc", "DELETE", "/sc", kb=kb)
    await rec.request("GET /sc (deleted)", "GET", "/sc", kb=kb)
    await rec.request("DELETE /sc again", "DELETE", "/sc", kb=kb)


@scenario()
async def kb_register_errors(rec: Recorder) -> None:
    """POST /sc with invalid ids, a missing name, reasoner levels and leases out of range."""

    def body(kb_id: str, **extra: Json) -> dict[str, Json]:
        return {
            "knowledgeBaseId": kb_id,
            "knowledgeBaseName": "a",
            "knowledgeBaseDescription": "d",
            **extra,
        }

    cases: list[tuple[str, dict[str, Json]]] = [
        ("empty id", body("")),
        ("https://", body("https://")),
        ("spaces", body("strange characters and spaces | & ^")),
        ("relative", body("/relative.nl")),
        ("no name", {"knowledgeBaseId": rec.kb_id("n"), "knowledgeBaseDescription": "d"}),
        ("level 0", body(rec.kb_id("l0"), reasonerLevel=0)),
        ("level 6", body(rec.kb_id("l6"), reasonerLevel=6)),
        ("lease 29", body(rec.kb_id("le29"), leaseRenewalTime=29)),
        ("lease 3601", body(rec.kb_id("le3601"), leaseRenewalTime=3601)),
        ("unknown field", body(rec.kb_id("uf"), reasonerEnabled=True)),
    ]
    for label, case in cases:
        await rec.request(f"POST /sc {label}", "POST", "/sc", json=case)
    await rec.request(
        "POST /sc malformed json", "POST", "/sc", content="{not json", headers=JSON_TYPE
    )


@scenario()
async def ki_register_list(rec: Recorder) -> None:
    """Register one KI of each type (named, unnamed, gaps, purposes) and list them."""
    kb = await rec.register_kb("k")
    p = rec.iri("p")
    await rec.register_ki(
        kb,
        "POST /sc/ki ask named",
        knowledgeInteractionType=ASK,
        knowledgeInteractionName="q",
        graphPattern="?s ex:p ?o . ?s a ex:T .",
        prefixes={"ex": rec.ex},
    )
    await rec.register_ki(
        kb,
        "POST /sc/ki answer unnamed",
        knowledgeInteractionType=ANSWER,
        graphPattern=f"?s {p} 12 .",
    )
    await rec.register_ki(
        kb,
        "POST /sc/ki post",
        knowledgeInteractionType=POST,
        knowledgeInteractionName="p",
        argumentGraphPattern=f"?s {p} ?o .",
        resultGraphPattern=f"?s {rec.iri('q')} true .",
    )
    await rec.register_ki(
        kb,
        "POST /sc/ki react gaps",
        knowledgeInteractionType=REACT,
        knowledgeInteractionName="r",
        argumentGraphPattern=f"?s {p} ?o .",
        knowledgeGapsEnabled=True,
        communicativeAct={
            "requiredPurposes": ["https://w3id.org/knowledge-engine/InformPurpose"],
            "satisfiedPurposes": ["https://w3id.org/knowledge-engine/NewKnowledgePurpose"],
        },
    )
    await rec.register_ki(
        kb,
        "POST /sc/ki ask gaps as string",
        knowledgeInteractionType=ASK,
        knowledgeInteractionName="g",
        graphPattern=f"?s {p} ?o .",
        knowledgeGapsEnabled="true",
    )
    await rec.request("GET /sc/ki", "GET", "/sc/ki", kb=kb)
    await rec.request("GET /sc/ki unknown kb", "GET", "/sc/ki", kb=rec.kb_id("nobody"))
    await rec.request("GET /sc/ki no header", "GET", "/sc/ki")
    await rec.request("GET /sc/ki/ trailing slash", "GET", "/sc/ki/", kb=kb)


@scenario()
async def ki_register_errors(rec: Recorder) -> None:
    """POST /sc/ki with duplicate and invalid names, bad patterns, types and purposes."""
    kb = await rec.register_kb("e")
    pattern = f"?s {rec.iri('p')} ?o ."
    cases: list[tuple[str, dict[str, Json]]] = [
        (
            "dup name",
            {
                "knowledgeInteractionType": ASK,
                "knowledgeInteractionName": "q",
                "graphPattern": pattern,
            },
        ),
        (
            "dup name 2",
            {
                "knowledgeInteractionType": ANSWER,
                "knowledgeInteractionName": "q",
                "graphPattern": pattern,
            },
        ),
        (
            "bad name",
            {
                "knowledgeInteractionType": ASK,
                "knowledgeInteractionName": "a b",
                "graphPattern": pattern,
            },
        ),
        (
            "bad name underscore",
            {
                "knowledgeInteractionType": ASK,
                "knowledgeInteractionName": "a_b",
                "graphPattern": pattern,
            },
        ),
        ("undefined prefix", {"knowledgeInteractionType": ASK, "graphPattern": "?s ex:p ?o ."}),
        (
            "filter",
            {
                "knowledgeInteractionType": ASK,
                "graphPattern": f"?s {rec.iri('p')} ?o . FILTER(?o > 1)",
            },
        ),
        ("empty pattern", {"knowledgeInteractionType": ASK, "graphPattern": ""}),
        ("missing pattern ask", {"knowledgeInteractionType": ASK}),
        ("missing pattern answer", {"knowledgeInteractionType": ANSWER}),
        ("missing patterns post", {"knowledgeInteractionType": POST}),
        ("missing patterns react", {"knowledgeInteractionType": REACT}),
        (
            "only result pattern post",
            {"knowledgeInteractionType": POST, "resultGraphPattern": pattern},
        ),
        (
            "bad type",
            {"knowledgeInteractionType": "FooKnowledgeInteraction", "graphPattern": pattern},
        ),
        ("no type", {"graphPattern": pattern}),
        (
            "empty purposes",
            {
                "knowledgeInteractionType": ASK,
                "graphPattern": pattern,
                "communicativeAct": {
                    "requiredPurposes": [],
                    "satisfiedPurposes": ["https://w3id.org/knowledge-engine/InformPurpose"],
                },
            },
        ),
        ("syntax error", {"knowledgeInteractionType": ASK, "graphPattern": "?s <p ?o"}),
    ]
    for label, body in cases:
        await rec.register_ki(kb, f"POST /sc/ki {label}", **body)
    ask_body = {"knowledgeInteractionType": ASK, "graphPattern": pattern}
    await rec.request(
        "POST /sc/ki unknown kb", "POST", "/sc/ki", kb=rec.kb_id("nobody"), json=ask_body
    )
    await rec.request("POST /sc/ki no header", "POST", "/sc/ki", json=ask_body)


@scenario()
async def ki_delete(rec: Recorder) -> None:
    """DELETE /sc/ki: once, twice, without the KI header, for an unknown KB."""
    kb = await rec.register_kb("d")
    ki = await rec.register_ki(
        kb,
        None,
        knowledgeInteractionType=ASK,
        knowledgeInteractionName="q",
        graphPattern=f"?s {rec.iri('p')} ?o .",
    )
    await rec.request("DELETE /sc/ki", "DELETE", "/sc/ki", kb=kb, ki=ki)
    await rec.request("DELETE /sc/ki again", "DELETE", "/sc/ki", kb=kb, ki=ki)
    await rec.request("DELETE /sc/ki no ki header", "DELETE", "/sc/ki", kb=kb)
    await rec.request("DELETE /sc/ki unknown kb", "DELETE", "/sc/ki", kb=rec.kb_id("nobody"), ki=ki)
    await rec.request("GET /sc/ki after", "GET", "/sc/ki", kb=kb)


@scenario()
async def misc_headers(rec: Recorder) -> None:
    """Missing and malformed Knowledge-Base-Id headers, a trailing slash, CORS, content type."""
    await rec.request("GET /sc bad uri", "GET", "/sc", kb="not a uri at all")
    await rec.request("DELETE /sc no header", "DELETE", "/sc")
    await rec.request("DELETE /sc bad uri", "DELETE", "/sc", kb="not a uri")
    await rec.request("GET /sc/handle unknown", "GET", "/sc/handle", kb=rec.kb_id("nobody"))
    await rec.request("GET /sc/handle no header", "GET", "/sc/handle")
    await rec.request("GET /sc/handle bad uri", "GET", "/sc/handle", kb="bad uri")
    slash = {
        "knowledgeBaseId": rec.kb_id("slash"),
        "knowledgeBaseName": "s",
        "knowledgeBaseDescription": "d",
    }
    await rec.request("POST /sc/ trailing slash", "POST", "/sc/", json=slash)
    rec.kbs.add(rec.kb_id("slash"))
    reply = await rec.request(None, "GET", "/version")
    cors = (
        "access-control-allow-origin",
        "access-control-allow-methods",
        "access-control-allow-headers",
    )
    rec.note("CORS headers", {name: reply.headers.get(name) for name in cors})
    rec.note("GET /version content-type", reply.headers.get("content-type"))
    missing = await rec.request(None, "GET", "/nonexistent")
    rec.note("GET /nonexistent status", missing.status)


@scenario()
async def domain_knowledge(rec: Recorder) -> None:
    """POST /sc/knowledge: valid rules, empty, unparsable, for an unknown KB or none."""
    kb = await rec.register_kb("dk")
    rule = "-> (<http://e/a> <http://e/b> <http://e/c>) ."
    path = "/sc/knowledge"
    await rec.request("knowledge text/plain", "POST", path, kb=kb, content=rule, headers=TEXT)
    await rec.request("knowledge no content-type", "POST", path, kb=kb, content=rule.encode())
    await rec.request("knowledge empty", "POST", path, kb=kb, content="", headers=TEXT)
    await rec.request(
        "knowledge prefixed", "POST", path, kb=kb, content="-> (ex:a ex:b ex:c) .", headers=TEXT
    )
    await rec.request(
        "knowledge not rules", "POST", path, kb=kb, content="this is not rules", headers=TEXT
    )
    await rec.request(
        "knowledge unknown kb", "POST", path, kb=rec.kb_id("nobody"), content="", headers=TEXT
    )
    await rec.request("knowledge no header", "POST", path, content="", headers=TEXT)
