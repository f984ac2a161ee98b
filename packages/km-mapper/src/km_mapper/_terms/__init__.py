"""Between a source's values and RDF terms: a `TermCodec` per variable, and `convert`.

``_lexical`` holds the lexical forms of Python values per XML Schema datatype; ``_codec`` the
codec that writes and reads one variable's terms by its `TermMapping`.
"""

from ._codec import NoMatch, TermCodec, codecs_for
from ._lexical import Value, convert

__all__ = ["NoMatch", "TermCodec", "Value", "codecs_for", "convert"]
