"""The version of km-mapper."""

__version__ = "0.1.0"
