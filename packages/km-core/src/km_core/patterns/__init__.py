"""Graph patterns of knowledge interactions: parsing and checking them as the KE does.

The public face of km-core's graph-pattern grammar, for packages built on km-core (km-testing's
local engine parses registered patterns with it). `parse_graph_pattern` reads the text of a
basic graph pattern with its prefixes and raises `km_core.GraphPatternError` where the KE would
answer 400; `GraphPattern.canonical` writes it as ``GET /sc/ki`` gives it back.
"""

from ._model import GraphPattern
from ._parse import parse_graph_pattern

__all__ = ["GraphPattern", "parse_graph_pattern"]
