"""The SPARQL source: a SPARQL 1.1 endpoint over HTTP, or an in-process store from a file.

``_source`` is the `Source`; ``_remote`` (httpx) and ``_store`` (pyoxigraph) run its queries
(``_backend`` is what they share); ``_queries`` writes the SPARQL text of each request,
``_terms`` the terms in it, ``_results`` reads the answers back, and ``_checks`` checks a
configured query or update at startup.
"""

from ._source import SparqlDataSource

__all__ = ["SparqlDataSource"]
