"""What ``km run mapper.yaml`` asks of km-mapper: the file's run settings, and its KB.

km-httpx's ``km run`` finds this through the ``km.targets`` entry point when its TARGET is a
config file (``.yaml``, ``.yml``, ``.toml``, ``.json``). It gets the file's
``knowledge_engine`` settings, which its flags and ``KM_*`` environment variables override, and
a function that builds the knowledge base once the settings are known (the sources' pools are
sized to ``max_concurrent_handlers``). The file's directory goes first on ``sys.path``, so that a
Python source may name a module beside it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from km_core import KnowledgeBase

from ._build import build_knowledge_base
from ._config import MapperConfig, load_config
from ._errors import MapperConfigError

__all__ = ["load_for_km_run", "run_settings"]


def run_settings(config: MapperConfig) -> dict[str, Any]:
    """The ``km run`` settings the file gives, by setting name (unset ones left out).

    Raises:
        MapperConfigError: a header's environment variable is not set.
    """
    engine = config.knowledge_engine
    settings = engine.model_dump(exclude_none=True, exclude={"headers_env"})
    headers: dict[str, str] = {}
    for header, variable in engine.headers_env.items():
        value = os.environ.get(variable)
        if value is None:
            raise MapperConfigError(
                f"header {header!r} comes from the environment variable {variable}, which is "
                "not set",
                key="knowledge_engine.headers_env",
            )
        headers[header] = value
    if headers:
        settings["headers"] = headers
    return settings


def load_for_km_run(
    path: str | Path,
) -> tuple[dict[str, Any], Callable[[int], KnowledgeBase]]:
    """The file's ``km run`` settings, and a function that builds its knowledge base.

    Args:
        path: The config file.

    Returns:
        The settings by name, and ``build(max_concurrent_handlers)``.

    Raises:
        MapperConfigError: the file cannot be read or used; the message names the file, the
            line and the key.
    """
    config = load_config(path)
    directory = str(Path(path).resolve().parent)
    if directory not in sys.path:  # a python source's module may sit beside the file
        sys.path.insert(0, directory)
    settings = run_settings(config)

    def build(max_concurrent_handlers: int) -> KnowledgeBase:
        return build_knowledge_base(config, pool_size=max_concurrent_handlers)

    return settings, build
