"""The sources a mapper serves its interactions from.

SQL (``_sql``), SPARQL (``_sparql``), Python (``_python``), what they share (``_base``), and
making the one a config names (``_factory``).
"""

from ._base import Prepared, Serve, Source
from ._factory import make_source

__all__ = ["Prepared", "Serve", "Source", "make_source"]
