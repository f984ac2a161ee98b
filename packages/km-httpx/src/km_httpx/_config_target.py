"""``km run mapper.yaml``: a TARGET that is a config file, served by an installed plugin.

A TARGET ending in ``.yaml``, ``.yml``, ``.toml`` or ``.json`` is a config file that describes a
knowledge base (km-mapper's). km finds the code that reads it through the ``km.targets`` entry
point named ``config``: a function that takes the file's path and returns the ``km run``
settings the file gives (which flags and ``KM_*`` variables override) and a function that
builds the knowledge base for a ``max_concurrent_handlers``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from km_core import KnowledgeBase, KnowledgeMapperError

from ._target import UsageError

__all__ = ["CONFIG_SUFFIXES", "ENTRY_POINT_GROUP", "is_config_target", "load_config_target"]

CONFIG_SUFFIXES = (".yaml", ".yml", ".toml", ".json")
ENTRY_POINT_GROUP = "km.targets"

Build = Callable[[int], KnowledgeBase]


def is_config_target(target: str) -> bool:
    """Whether TARGET names a config file rather than Python code."""
    return Path(target).suffix.lower() in CONFIG_SUFFIXES


def load_config_target(target: str) -> tuple[Mapping[str, Any], Build]:
    """The settings a config file gives, and the function that builds its knowledge base.

    Raises:
        UsageError: the file is missing, no installed package reads config files, or the file
            cannot be used (the message names the file, the line and the key).
    """
    path = Path(target)
    if not path.is_file():
        raise UsageError(f"no such file: {target}")
    found = list(entry_points(group=ENTRY_POINT_GROUP, name="config"))
    if not found:
        raise UsageError(
            f"{target} is a config file; km serves one with km-mapper, which is not "
            "installed: pip install km-mapper"
        )
    loader = found[0].load()
    try:
        settings, build = loader(path)
    except KnowledgeMapperError as exc:
        raise UsageError(str(exc)) from exc

    def checked_build(max_concurrent_handlers: int) -> KnowledgeBase:
        try:
            kb = build(max_concurrent_handlers)
        except KnowledgeMapperError as exc:
            raise UsageError(f"{target}: {exc}") from exc
        if not isinstance(kb, KnowledgeBase):
            raise UsageError(f"{target}: the config loader returned no KnowledgeBase")
        return kb

    return dict(settings), checked_build
