"""The version of km-testing."""

__version__ = "0.1.0"
