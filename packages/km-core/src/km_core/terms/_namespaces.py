"""The namespaces and datatype IRIs that the term handling names.

The XML Schema datatypes km-core reads and writes, the groups of them that one Python type
accepts, and the prefixes the KE's parser knows without a declaration.
"""

from __future__ import annotations

from typing import Final

XSD: Final = "http://www.w3.org/2001/XMLSchema#"
"""The XML Schema namespace, for datatype IRIs: ``XSD + "integer"``."""
RDF: Final = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XSD_STRING: Final = XSD + "string"
XSD_INTEGER: Final = XSD + "integer"
XSD_DECIMAL: Final = XSD + "decimal"
XSD_DOUBLE: Final = XSD + "double"
XSD_BOOLEAN: Final = XSD + "boolean"
XSD_DATETIME: Final = XSD + "dateTime"
XSD_DATE: Final = XSD + "date"
XSD_TIME: Final = XSD + "time"

INTEGER_TYPES: Final = frozenset(
    XSD + name
    for name in (
        "integer",
        "int",
        "long",
        "short",
        "byte",
        "nonNegativeInteger",
        "nonPositiveInteger",
        "positiveInteger",
        "negativeInteger",
        "unsignedLong",
        "unsignedInt",
        "unsignedShort",
        "unsignedByte",
    )
)
FLOAT_TYPES: Final = frozenset({XSD_DOUBLE, XSD + "float"})

# Prefixed datatypes the KE's parser knows without any prefix declaration.
BUILT_IN_PREFIXES: Final = {
    "xsd": XSD,
    "rdf": RDF,
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
}
