"""``dump_config``: a config dict as the text of a YAML, TOML or JSON config file.

YAML is the default: block style, keys in the dict's order, and multi-line strings (patterns,
queries) as literal blocks, so the file reads as one would write it.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import yaml  # type: ignore[import-untyped, unused-ignore]

from ._toml import dump_toml

__all__ = ["Format", "dump_config"]

Format = Literal["yaml", "toml", "json"]


def _indent(dumper: Any, flow: bool = False, indentless: bool = False) -> None:
    """Indent a list below its key, as people write it (PyYAML does not, by default)."""
    yaml.SafeDumper.increase_indent(dumper, flow, False)


def _string(dumper: Any, value: str) -> Any:
    """A multi-line string as a literal ``|`` block; the others as PyYAML chooses."""
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper: Any = type("_Dumper", (yaml.SafeDumper,), {"increase_indent": _indent})
"""PyYAML's safe dumper, with multi-line strings as ``|`` blocks and lists indented."""
_Dumper.add_representer(str, _string)


def dump_config(data: dict[str, Any], fmt: Format = "yaml") -> str:
    """The text of a config file that holds ``data``.

    Args:
        data: The config, of plain dicts, lists, strings, numbers and booleans (no None in
            TOML, which has no null: a key whose value is None is left out).
        fmt: ``"yaml"`` (the default), ``"toml"`` or ``"json"``.

    Returns:
        The text, ending in a line break.

    Raises:
        ValueError: ``fmt`` is none of the three.
    """
    if fmt == "yaml":
        return str(
            yaml.dump(
                data,
                Dumper=_Dumper,
                sort_keys=False,
                allow_unicode=True,
                default_flow_style=False,
                width=2**16,
            )
        )
    if fmt == "toml":
        return dump_toml(data)
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    raise ValueError(f"unknown format {fmt!r}: use 'yaml', 'toml' or 'json'")
