"""The sources a mapper serves its interactions from.

SQL (``_sql``), SPARQL (``_sparql``), Python (``_python``), and what they share (``_base``).
"""

from ._base import Prepared, Serve, Source

__all__ = ["Prepared", "Serve", "Source"]
