"""What the reasoning scenarios share: KBs at a reasoner level, exchanges, and cases per level.

The reasoning scenarios (``reasoning_ask``, ``reasoning_post``, ``reasoning_gaps``,
``reasoning_meta``) restate the KE's own reasoning tests, as tests/conformance/test_reasoning_*
do. A scenario that compares levels plays its case once per level, with KBs and IRIs of that
level (``asker-2``, ``<.../height-2>``: the KBs of one level never match another level's), and
labels what it records with the level.
"""

from __future__ import annotations

from collections.abc import Iterable

from differential.recorder import HandleResponse, Json, Recorder, Reply
from differential.scenarios.common import (
    REACT,
    Handler,
)

RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
KE = "https://w3id.org/knowledge-engine/"
TEXT = {"Content-Type": "text/plain"}
LEVELS = (1, 2, 5)
SHORT_GRACE = 0.3
"""Seconds a KB the engine did not contact keeps polling after an exchange (`common.GRACE` is
1 s): a contacted one is done when the exchange returns, and these scenarios have many KBs
that, at some level, are not contacted."""
META = (
    f"?kb {RDF_TYPE} <{KE}KnowledgeBase> . ?kb <{KE}hasName> ?name . "
    f"?kb <{KE}hasDescription> ?description . ?kb <{KE}hasKnowledgeInteraction> ?ki . "
    f"?ki {RDF_TYPE} ?kiType . ?ki <{KE}isMeta> ?isMeta . ?ki <{KE}hasCommunicativeAct> ?act . "
    f"?act {RDF_TYPE} <{KE}CommunicativeAct> . ?act <{KE}hasRequirement> ?req . "
    f"?act <{KE}hasSatisfaction> ?sat . ?req {RDF_TYPE} ?reqType . ?sat {RDF_TYPE} ?satType . "
    f"?ki <{KE}hasGraphPattern> ?gp . ?gp {RDF_TYPE} ?patternType . ?gp <{KE}hasPattern> ?pattern ."
)


# ------------------------------------------------------------------ building blocks


async def kb(rec: Recorder, name: str, level: int | None = None, **extra: Json) -> str:
    """Register KB ``name`` at reasoner ``level`` (the engine's default when None)."""
    if level is not None:
        extra["reasonerLevel"] = level
    return await rec.register_kb(name, **extra)


async def ki(rec: Recorder, kb_id: str, kind: str, name: str, **body: Json) -> str | None:
    """Register an interaction ``name`` of kind ``kind`` with ``body``; its id."""
    return await rec.register_ki(
        kb_id, None, knowledgeInteractionType=kind, knowledgeInteractionName=name, **body
    )


async def react(rec: Recorder, kb_id: str, argument: str, result: str | None = None) -> str | None:
    """A REACT ``react`` of ``kb_id``."""
    body: dict[str, Json] = {"argumentGraphPattern": argument}
    if result is not None:
        body["resultGraphPattern"] = result
    return await ki(rec, kb_id, REACT, "react", **body)


async def knowledge(rec: Recorder, label: str, kb_id: str, rules: str) -> None:
    """Upload domain knowledge (Apache Jena rules) for ``kb_id``, recording the response."""
    await rec.request(label, "POST", "/sc/knowledge", kb=kb_id, content=rules, headers=TEXT)


def within(rows: list[dict[str, str]]) -> HandleResponse:
    """A handler response: the ``rows`` that agree with some binding received (``[]``: all)."""

    def respond(request: dict[str, Json]) -> dict[str, Json]:
        incoming = request.get("bindingSet") or [{}]
        kept = [
            row
            for row in rows
            if any(all(row.get(var) == value for var, value in b.items()) for b in incoming)
        ]
        return {"bindingSet": kept}

    return respond


def mapped(key: str, values: dict[str, str], out: str, fallback: str = '""') -> HandleResponse:
    """A converter: each received binding's ``key`` with ``out`` from ``values``."""

    def respond(request: dict[str, Json]) -> dict[str, Json]:
        received = request.get("bindingSet") or []
        return {
            "bindingSet": [
                {key: b[key], out: values.get(b[key], fallback)} for b in received if key in b
            ]
        }

    return respond


async def exchange(
    rec: Recorder,
    label: str,
    path: str,
    kb_id: str,
    ki_id: str | None,
    body: Json,
    handlers: Iterable[Handler] = (),
) -> Reply:
    """Ask or post (``path``) with ``body`` while ``handlers`` serve; record under ``label``."""
    return await rec.concurrently(
        lambda: rec.request(label, "POST", path, kb=kb_id, ki=ki_id, json=body),
        handlers,
        grace=SHORT_GRACE,
    )


class Case:
    """One case of a scenario (a reasoner level, say): KB names, IRIs and labels of its own."""

    def __init__(self, rec: Recorder, name: str) -> None:
        self.rec = rec
        self.name = name

    def iri(self, local: str) -> str:
        """The case's IRI ``local``."""
        return self.rec.iri(f"{local}-{self.name}")

    def kb_name(self, name: str) -> str:
        """The case's KB (and handler) name ``name``."""
        return f"{name}-{self.name}"

    def label(self, what: str) -> str:
        """A label of the case's record."""
        return f"{self.name}: {what}"

    async def kb(self, name: str, level: int | None = None, **extra: Json) -> str:
        """Register the case's KB ``name`` at reasoner ``level``."""
        return await kb(self.rec, self.kb_name(name), level, **extra)

    def handle(self, kb_id: str, name: str, respond: HandleResponse, count: int = 1) -> Handler:
        """Serve the case's KB ``name`` (``kb_id``) for ``count`` requests."""
        return self.rec.handle(kb_id, self.kb_name(name), respond, count=count)

    async def exchange(
        self,
        what: str,
        path: str,
        kb_id: str,
        ki_id: str | None,
        body: Json,
        handlers: Iterable[Handler] = (),
    ) -> Reply:
        """`exchange`, labelled for the case."""
        return await exchange(self.rec, self.label(what), path, kb_id, ki_id, body, handlers)


def at_level(rec: Recorder, level: int) -> Case:
    """The case of reasoner level ``level``: names ``...-2``, labels ``level 2: ...``."""
    return Case(rec, f"level{level}")


def in_list(recipients: list[str], bindings: Json) -> dict[str, Json]:
    """The object form of an ask or post body, with a recipient selector."""
    return {"recipientSelector": {"knowledgeBases": recipients}, "bindingSet": bindings}


def subclass_rules(c: Case) -> str:
    """TestDomainKnowledge's rules (the case's Sensor is a subclass of its Device)."""
    return (
        f"-> ( {c.iri('Sensor')} rdfs:subClassOf {c.iri('Device')} ) .\n"
        "(?x rdfs:subClassOf ?y), (?a rdf:type ?x) -> (?a rdf:type ?y) .\n"
    )
