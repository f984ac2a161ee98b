"""Binding models and the conversion of bindings between Python and the KE's text form.

- ``_model``: `BindingModel`, pydantic models whose fields are a pattern's variables;
- ``_convert``: binding sets checked on the way out and read into models on the way in.
"""

from ._convert import from_binding_set, to_binding_set
from ._model import BindingModel

__all__ = ["BindingModel", "from_binding_set", "to_binding_set"]
