"""``km-mapper convert``: knowledge-mapper 0.0.24's JSON5 config files as config files of ours.

``_convert`` turns a legacy file into a config dict and notes (with ``_sources`` for its data
source and ``_interactions`` for its interactions); ``_dump`` writes a config dict as YAML,
TOML or JSON.
"""

from ._convert import convert_legacy
from ._dump import dump_config

__all__ = ["convert_legacy", "dump_config"]
