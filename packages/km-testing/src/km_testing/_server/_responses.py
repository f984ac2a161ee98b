"""How the KE writes its answers: compact JSON, ``ResponseMessage`` bodies, empty bodies.

And `_bad`, the 400 that the readers of a request raise.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
from typing import Any

from pydantic import BaseModel
from starlette.responses import Response

from km_core import KnowledgeEngineResponseError


def _default(value: Any) -> Any:
    """JSON for what `json` cannot write: dates as the KE writes them, enums by value."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        # The KE's RFC3339DateFormat: milliseconds and a +00:00 offset.
        return value.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


JSON_UTF8 = "application/json;charset=utf-8"
"""The media type of the KE's own answers."""
_MAPPED_EXCEPTION = re.compile(r"[A-Z][A-Za-z]*Exception: ")


def _json(status: int, body: Any, media_type: str = JSON_UTF8) -> Response:
    """A compact JSON response, as Jackson writes it."""
    content = json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=_default)
    return Response(content.encode(), status_code=status, media_type=media_type)


def _wire(model: BaseModel) -> dict[str, Any]:
    """A model's wire form: camelCase keys, null fields left out (dates stay dates)."""
    return model.model_dump(by_alias=True, exclude_none=True)


def _message(status: int, message: str, message_type: str = "error") -> Response:
    """The KE's ``ResponseMessage`` body.

    The KE's exception mappers (bean validation, Jackson) answer as plain
    ``application/json``; its resources add ``;charset=utf-8``.
    """
    media_type = "application/json" if _MAPPED_EXCEPTION.match(message) else JSON_UTF8
    return _json(status, {"messageType": message_type, "message": message}, media_type)


def _empty(status: int = 200) -> Response:
    """A response without a body."""
    return Response(status_code=status)


def _bad(message: str) -> KnowledgeEngineResponseError:
    """A 400 with the given message."""
    return KnowledgeEngineResponseError(message, status_code=400)
