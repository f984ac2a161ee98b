"""``convert_legacy``: a knowledge-mapper 0.0.24 JSON5 config file as a config file of ours.

The result is a plain dict that `MapperConfig` accepts, and notes: one line for each thing that
could not be carried over or that now means something else, for the user to act on. The data
source becomes the source ``legacy`` (see `_sources`), the interactions follow (see
`_interactions`), and the legacy's authorization becomes permitted lists.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from km_mapper._config import MapperConfig
from km_mapper._config._loading import validation_error
from km_mapper._errors import MapperConfigError

from ._context import Conversion
from ._interactions import Authorization, convert_interactions
from ._sources import SOURCE_KEYS, convert_source

__all__ = ["SOURCE_NAME", "convert_legacy"]

SOURCE_NAME = "legacy"
"""The name of the one source a converted file has."""

TOP_KEYS = frozenset(
    {"knowledge_engine_endpoint", "knowledge_base", "knowledge_interactions"}
    | {"authorization_enabled", "authorization"}
    | SOURCE_KEYS
)

_JSON5_AT = re.compile(r"^<string>:(\d+) ")


def convert_legacy(legacy: str | os.PathLike[str]) -> tuple[dict[str, Any], list[str]]:
    """Convert a knowledge-mapper 0.0.24 config file (JSON5) to a config of ours.

    Args:
        legacy: The file's path, or its text. A `str` is read as text when it holds a line
            break or starts with ``{``, and as a path otherwise.

    Returns:
        The config as a plain dict (valid for `MapperConfig`, in the order a file shows it),
        and the notes: what could not be carried over or changed meaning, one line each.

    Raises:
        MapperConfigError: the file cannot be read, is not JSON5, or has a mistake that the
            legacy tool would have failed on too; the message names the file and the key.
    """
    text, name = _read(legacy)
    conversion = Conversion(name)
    try:
        import json5
    except ImportError:  # pragma: no cover - json5 comes with km-mapper[legacy]
        conversion.fail("reading legacy files needs json5: install km-mapper[legacy]")
    try:
        data = json5.loads(text)
    except ValueError as exc:
        found = _JSON5_AT.match(str(exc))
        line = int(found.group(1)) if found else None
        problem = _JSON5_AT.sub("", str(exc))
        raise MapperConfigError(f"not valid JSON5: {problem}", path=name, line=line) from None
    config = _convert(conversion.mapping(data), conversion)
    try:
        MapperConfig.model_validate(config)
    except ValidationError as exc:
        raise validation_error(exc, config, MapperConfig, lambda path: None, path=name) from None
    return config, conversion.notes


def _read(legacy: str | os.PathLike[str]) -> tuple[str, str | None]:
    """The text and, for a file, its name."""
    if isinstance(legacy, str) and ("\n" in legacy or legacy.lstrip().startswith("{")):
        return legacy, None
    name = os.fspath(legacy)
    try:
        return Path(name).read_text(encoding="utf-8").removeprefix("\ufeff"), name
    except FileNotFoundError:
        raise MapperConfigError("no such file", path=name) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise MapperConfigError(f"cannot read the file: {reason}", path=name) from None


def _convert(legacy: dict[str, Any], conversion: Conversion) -> dict[str, Any]:
    config: dict[str, Any] = {}
    endpoint = legacy.get("knowledge_engine_endpoint")
    if endpoint is not None:
        config["knowledge_engine"] = {
            "ke_url": conversion.text(endpoint, "knowledge_engine_endpoint")
        }
        conversion.note(
            "knowledge_engine_endpoint became knowledge_engine.ke_url; KE_ENDPOINT is no longer "
            "read: set KM_KE_URL (or km run --ke-url) to override the file"
        )
    else:
        conversion.note(
            "the file has no knowledge_engine_endpoint (the legacy read KE_ENDPOINT); KE_ENDPOINT "
            "is no longer read: set KM_KE_URL, km run --ke-url, or knowledge_engine.ke_url"
        )
    authorization = _authorization(legacy, conversion)
    config["knowledge_base"] = _knowledge_base(legacy, authorization, conversion)
    source = convert_source(legacy, conversion)
    config["sources"] = {SOURCE_NAME: source}
    config["source"] = SOURCE_NAME
    if "knowledge_interactions" not in legacy:
        conversion.fail("is required", "knowledge_interactions")
    interactions = legacy["knowledge_interactions"]
    if not isinstance(interactions, list):
        conversion.fail("must be a list of interactions", "knowledge_interactions")
    config["knowledge_interactions"] = convert_interactions(
        interactions,
        sql=source["type"] == "sql",
        authorization=authorization,
        conversion=conversion,
    )
    unknown = sorted(set(legacy) - TOP_KEYS)
    if unknown:
        conversion.note(f"{', '.join(unknown)} not carried over (the legacy did not read them)")
    return config


def _knowledge_base(
    legacy: dict[str, Any], authorization: Authorization, conversion: Conversion
) -> dict[str, Any]:
    if "knowledge_base" not in legacy:
        conversion.fail("is required", "knowledge_base")
    kb = conversion.mapping(legacy["knowledge_base"], "knowledge_base")
    settings: dict[str, Any] = {
        "id": conversion.text(kb.get("id"), "knowledge_base", "id"),
        "name": conversion.text(kb.get("name"), "knowledge_base", "name"),
    }
    if kb.get("description"):
        settings["description"] = conversion.text(
            kb["description"], "knowledge_base", "description"
        )
    if authorization is not Authorization.NONE:
        settings["permitted"] = []
    unknown = sorted(set(kb) - {"id", "name", "description"})
    if unknown:
        conversion.note(
            f"knowledge_base: {', '.join(unknown)} not carried over (the legacy did not read them)"
        )
    return settings


def _authorization(legacy: dict[str, Any], conversion: Conversion) -> Authorization:
    """How the legacy file authorized requests; a note on what that becomes."""
    if "authorization_enabled" in legacy and "authorization" in legacy:
        conversion.fail(
            "the file has both authorization_enabled and authorization, which the legacy "
            "refused too: keep one"
        )
    if "authorization_enabled" in legacy:
        enabled = legacy["authorization_enabled"]
        if not isinstance(enabled, bool):
            conversion.fail(f"must be true or false, not {enabled!r}", "authorization_enabled")
        kind: object = "static" if enabled else None
    elif "authorization" in legacy:
        kind = conversion.mapping(legacy["authorization"], "authorization").get("type")
        if kind not in ("static", "sql"):
            conversion.fail(f"must be 'static' or 'sql', not {kind!r}", "authorization", "type")
    else:
        kind = None
    if kind == "static":
        conversion.note(
            "authorization: the legacy let nobody use an interaction without a permitted list; "
            "knowledge_base.permitted: [] keeps that, and each interaction keeps its own list"
        )
        return Authorization.STATIC
    if kind == "sql":
        conversion.note(
            "authorization type sql (its policies table and access_log) has no equivalent in "
            "the file: write a policy (km-core's authorize=, named by knowledge_base.policy) "
            "and an audit hook; until then knowledge_base.permitted: [] lets nobody in"
        )
        return Authorization.SQL
    return Authorization.NONE
