"""The version of km-core."""

__version__ = "0.1.0"
