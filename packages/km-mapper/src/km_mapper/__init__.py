"""km-mapper: knowledge mapping without code, a knowledge base from one config file.

``km run mapper.yaml`` serves the knowledge base the file describes: its interactions served
from SQL databases (SQLAlchemy 2, async), SPARQL stores (the SPARQL 1.1 protocol, or an
in-process store loaded from a file), or code of yours; with km-core's concurrent handling
loop, error policy, timeouts, authorization, graceful stop and access log.
"""

from .__about__ import __version__
from ._build import build_knowledge_base
from ._config import MapperConfig, load_config
from ._errors import MapperConfigError, SourceError

__all__ = [
    "MapperConfig",
    "MapperConfigError",
    "SourceError",
    "__version__",
    "build_knowledge_base",
    "load_config",
]
