"""Reading the Knowledge Engine's answer bodies: JSON into the SDK's models, checked.

`parse` validates a body into a `km_core` model (or a list of them, `KB_LIST`, `KI_LIST`);
`version_from` and `ki_id_from` read the bodies that have no model. A body that
does not fit raises `UnexpectedResponseError` saying what is wrong, with the body's start.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from km_core import KnowledgeBaseInfo, KnowledgeInteractionInfo

from ._diagnosis import not_a_knowledge_engine
from ._status_errors import unexpected

__all__ = ["KB_LIST", "KI_LIST", "ki_id_from", "parse", "version_from"]

_NOT_JSON = object()

KB_LIST = TypeAdapter(list[KnowledgeBaseInfo])
"""The body of ``GET /sc``: a list of knowledge bases."""

KI_LIST = TypeAdapter(list[KnowledgeInteractionInfo])
"""The body of ``GET /sc/ki``: a list of knowledge interactions."""


def parse(
    response: httpx.Response,
    adapter: TypeAdapter[Any] | type[BaseModel],
    endpoint: str,
    kb_id: str | None = None,
    ki_id: str | None = None,
) -> Any:
    """Validate a JSON body into a model; a body that does not fit is a clear error."""
    try:
        if isinstance(adapter, TypeAdapter):
            return adapter.validate_json(response.content)
        return adapter.model_validate_json(response.content)
    except ValidationError as exc:
        raise unexpected(
            response,
            f"the Knowledge Engine's answer could not be read: {_first_problem(exc)}",
            endpoint,
            kb_id=kb_id,
            ki_id=ki_id,
        ) from exc


def version_from(response: httpx.Response, base_url: str, endpoint: str) -> str:
    """The version in a 200 answer to ``GET /version``; anything else is not a KE's answer."""
    try:
        body = response.json()
    except (ValueError, RecursionError):
        body = _NOT_JSON
    version = body.get("version") if isinstance(body, dict) else None
    if not isinstance(version, str) or not version:
        if body is _NOT_JSON:
            what = "answered with something that is not JSON"
        elif not isinstance(body, dict):
            what = f"answered with a JSON {type(body).__name__}, not an object"
        else:
            what = "answered without a version"
        raise unexpected(response, not_a_knowledge_engine(base_url, 200, what), endpoint)
    return version


def _json_object(
    response: httpx.Response,
    endpoint: str,
    kb_id: str | None = None,
    ki_id: str | None = None,
) -> dict[str, Any]:
    """The body as a JSON object; a body that is not JSON, or not an object, is a clear error."""
    try:
        body = response.json()
    except (ValueError, RecursionError) as exc:
        raise unexpected(
            response,
            f"the Knowledge Engine answered with something that is not JSON: {exc}",
            endpoint,
            kb_id=kb_id,
            ki_id=ki_id,
        ) from exc
    if not isinstance(body, dict):
        raise unexpected(
            response,
            f"the Knowledge Engine answered with a JSON {type(body).__name__}, not an object",
            endpoint,
            kb_id=kb_id,
            ki_id=ki_id,
        )
    return body


def ki_id_from(response: httpx.Response, kb_id: str) -> str:
    """The id the KE gave a new interaction, from its answer to ``POST /sc/ki``."""
    body = _json_object(response, "POST /sc/ki", kb_id)
    ki_id = body.get("knowledgeInteractionId")
    if not isinstance(ki_id, str):
        raise unexpected(
            response,
            "the Knowledge Engine's answer has no knowledgeInteractionId",
            "POST /sc/ki",
            kb_id=kb_id,
        )
    return ki_id


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "body"
    return f"{where}: {error['msg']}"
