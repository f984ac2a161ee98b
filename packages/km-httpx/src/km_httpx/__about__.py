"""The version of km-httpx."""

__version__ = "0.1.0"
