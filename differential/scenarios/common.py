"""Building blocks the scenarios share: KBs with one interaction each, and exchanges.

An exchange (`ask`, `post`) starts the answering or reacting KBs' loops (`Recorder.handle`,
which records what each KB received and what it sent back), makes the request and records its
response, and then gives the loops `GRACE` seconds before it cancels those the engine never
contacted.
"""

from __future__ import annotations

from collections.abc import Coroutine, Iterable
from typing import Any

from differential.recorder import HandleResponse, Json, Recorder, Reply

ASK = "AskKnowledgeInteraction"
ANSWER = "AnswerKnowledgeInteraction"
POST = "PostKnowledgeInteraction"
REACT = "ReactKnowledgeInteraction"
XSD = "http://www.w3.org/2001/XMLSchema#"

GRACE = 1.0
"""Seconds the handlers get after the exchange returned (a contacted handler is done by then)."""

Handler = Coroutine[Any, Any, None]
"""A running answering or reacting KB: usually `Recorder.handle`."""


def _level(level: int | None) -> dict[str, Json]:
    return {} if level is None else {"reasonerLevel": level}


async def asker(
    rec: Recorder, pattern: str, *, level: int | None = None, **extra: Json
) -> tuple[str, str | None]:
    """Register KB ``asker`` with ASK interaction ``q`` on ``pattern``; return both ids.

    Args:
        rec: The recorder.
        pattern: The graph pattern.
        level: The KB's ``reasonerLevel``; the engine's default when None.
        **extra: Further fields of the interaction (``knowledgeGapsEnabled``, ...).
    """
    kb = await rec.register_kb("asker", **_level(level))
    ki = await rec.register_ki(
        kb,
        None,
        knowledgeInteractionType=ASK,
        knowledgeInteractionName="q",
        graphPattern=pattern,
        **extra,
    )
    return kb, ki


async def answerer(
    rec: Recorder, name: str, pattern: str, ki_name: str = "a"
) -> tuple[str, str | None]:
    """Register KB ``name`` with ANSWER interaction ``ki_name`` on ``pattern``; return both ids."""
    kb = await rec.register_kb(name)
    ki = await rec.register_ki(
        kb,
        None,
        knowledgeInteractionType=ANSWER,
        knowledgeInteractionName=ki_name,
        graphPattern=pattern,
    )
    return kb, ki


async def poster(
    rec: Recorder, argument: str, result: str | None = None, *, level: int | None = None
) -> tuple[str, str | None]:
    """Register KB ``poster`` with POST interaction ``p``; return both ids."""
    kb = await rec.register_kb("poster", **_level(level))
    body: dict[str, Json] = {"argumentGraphPattern": argument}
    if result is not None:
        body["resultGraphPattern"] = result
    ki = await rec.register_ki(
        kb, None, knowledgeInteractionType=POST, knowledgeInteractionName="p", **body
    )
    return kb, ki


async def reactor(
    rec: Recorder, name: str, argument: str, result: str | None = None
) -> tuple[str, str | None]:
    """Register KB ``name`` with REACT interaction ``r``; return both ids."""
    kb = await rec.register_kb(name)
    body: dict[str, Json] = {"argumentGraphPattern": argument}
    if result is not None:
        body["resultGraphPattern"] = result
    ki = await rec.register_ki(
        kb, None, knowledgeInteractionType=REACT, knowledgeInteractionName="r", **body
    )
    return kb, ki


async def ask(
    rec: Recorder,
    kb: str,
    ki: str | None,
    body: Json,
    handlers: Iterable[Handler] = (),
    *,
    label: str = "POST /sc/ask",
    grace: float = GRACE,
) -> Reply:
    """Ask with ``body`` while ``handlers`` answer; record the response under ``label``."""
    return await rec.concurrently(
        lambda: rec.request(label, "POST", "/sc/ask", kb=kb, ki=ki, json=body),
        handlers,
        grace=grace,
    )


async def post(
    rec: Recorder,
    kb: str,
    ki: str | None,
    body: Json,
    handlers: Iterable[Handler] = (),
    *,
    label: str = "POST /sc/post",
    grace: float = GRACE,
) -> Reply:
    """Post with ``body`` while ``handlers`` react; record the response under ``label``."""
    return await rec.concurrently(
        lambda: rec.request(label, "POST", "/sc/post", kb=kb, ki=ki, json=body),
        handlers,
        grace=grace,
    )


def fixed(bindings: list[dict[str, str]]) -> HandleResponse:
    """A handler response that always sends ``bindings``."""
    return lambda request: {"bindingSet": bindings}


def echo(request: dict[str, Json]) -> dict[str, Json]:
    """A handler response that sends back the binding set it received."""
    return {"bindingSet": request.get("bindingSet", [])}


def failing(message: str) -> HandleResponse:
    """A handler response that reports ``message`` as its error."""
    return lambda request: {"errorMessage": message}
