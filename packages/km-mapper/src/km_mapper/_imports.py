"""Importing what a config names as ``package.module:name`` (a policy, a Python source)."""

from __future__ import annotations

import importlib
from typing import Any

from ._errors import MapperConfigError

__all__ = ["import_object"]


def import_object(reference: str, *, what: str) -> Any:
    """The object ``package.module:name`` names.

    Raises:
        MapperConfigError: the reference is malformed, or the module or the name is missing.
    """
    module_name, sep, name = reference.partition(":")
    if not sep or not module_name or not name:
        raise MapperConfigError(f"{what}: expected 'package.module:name', got {reference!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise MapperConfigError(f"{what}: cannot import {module_name!r}: {exc}") from exc
    target: Any = module
    for part in name.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise MapperConfigError(f"{what}: module {module_name!r} has no {name!r}") from None
    return target
