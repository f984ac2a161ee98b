"""Making the source a config names, importing its extra's code only when it is used.

A SQL source needs the ``sql`` extra (and a driver: ``postgresql``, ``mysql``), a SPARQL source
the ``sparql`` extra; a config that names one without it installed fails with the command that
installs it.
"""

from __future__ import annotations

import importlib
from typing import Any

from km_mapper._config import PythonSource, SourceConfig, SparqlSource, SqlSource
from km_mapper._errors import MapperConfigError

from ._base import Source

__all__ = ["make_source"]

_KINDS: dict[type[Any], tuple[str, str, str]] = {
    # config class: (module, class, extra)
    SqlSource: ("km_mapper._sources._sql", "SqlDatabase", "sql"),
    SparqlSource: ("km_mapper._sources._sparql", "SparqlDataSource", "sparql"),
    PythonSource: ("km_mapper._sources._python", "PythonCode", ""),
}


def make_source(name: str, config: SourceConfig) -> Source:
    """The source named ``name`` in the config, not yet open.

    Raises:
        MapperConfigError: its extra is not installed, or its settings cannot be used.
    """
    module_name, class_name, extra = _KINDS[type(config)]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise MapperConfigError(
            f"source {name!r} is a {config.type} source, which needs km-mapper's {extra!r} "
            f"extra: pip install 'km-mapper[{extra}]' ({exc})"
        ) from exc
    source: Source = getattr(module, class_name)(name, config)
    return source
