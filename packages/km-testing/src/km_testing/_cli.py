"""The ``km-testing`` command."""

from __future__ import annotations


def main() -> None:
    """Entry point of ``km-testing``; the server's CLI is defined in its own module."""
    raise SystemExit("km-testing: the serve command is not available yet")
