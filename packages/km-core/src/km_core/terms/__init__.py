"""RDF terms as the Knowledge Engine writes them in bindings: reading, writing, checking.

The public face of km-core's term handling, for packages built on km-core (km-testing's local
engine reads and compares binding values with it). A binding value is the text of one RDF
term: ``<http://…>`` for an IRI, ``"text"``, ``"text"@lang`` or ``"lexical"^^<datatype>`` for a
literal, ``_:label`` for a blank node.
"""

from ._escape import escape, unescape
from ._iri import iri_problem, is_absolute_iri
from ._namespaces import (
    FLOAT_TYPES,
    INTEGER_TYPES,
    RDF,
    XSD,
    XSD_BOOLEAN,
    XSD_DATE,
    XSD_DATETIME,
    XSD_DECIMAL,
    XSD_DOUBLE,
    XSD_INTEGER,
    XSD_STRING,
    XSD_TIME,
)
from ._parse import Term, parse_term, split_literal, unreadable

__all__ = [
    "FLOAT_TYPES",
    "INTEGER_TYPES",
    "RDF",
    "XSD",
    "XSD_BOOLEAN",
    "XSD_DATE",
    "XSD_DATETIME",
    "XSD_DECIMAL",
    "XSD_DOUBLE",
    "XSD_INTEGER",
    "XSD_STRING",
    "XSD_TIME",
    "Term",
    "escape",
    "iri_problem",
    "is_absolute_iri",
    "parse_term",
    "split_literal",
    "unescape",
    "unreadable",
]
