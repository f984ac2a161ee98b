"""Finding the knowledge base that ``km run TARGET`` names: a file or module, and an attribute.

``path/to/app.py:kb`` imports that file (its directory first on ``sys.path``, so that it may
import its siblings); ``package.module:kb`` imports a module by name. The attribute (default
``kb``) is a `KnowledgeBase` or an app factory: a plain function without arguments that returns
one. Every mistake, the user's code raising while it is imported or called included, is a
`UsageError` whose message is one line; the original exception is its ``__cause__``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
import traceback
from pathlib import Path
from types import ModuleType

from km_core import KnowledgeBase, KnowledgeMapperError

__all__ = ["DEFAULT_ATTRIBUTE", "TARGET_FORMS", "UsageError", "load_target"]

DEFAULT_ATTRIBUTE = "kb"
TARGET_FORMS = "path/to/app.py:kb or package.module:kb"


class UsageError(Exception):
    """A mistake in how ``km`` was called or in the code it loads; the message is one line."""


def _where(exc: BaseException) -> str:
    """`` (app.py, line 12)``: the innermost frame of the user's code, when there is one."""
    frames = traceback.extract_tb(exc.__traceback__)
    user = [f for f in frames if "importlib" not in f.filename and "km_httpx" not in f.filename]
    if not user:
        return ""
    frame = user[-1]
    return f" ({Path(frame.filename).name}, line {frame.lineno})"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ImportError):  # its message names the module
        return str(exc)
    if isinstance(exc, KnowledgeMapperError):  # a declaration mistake: its message says it all
        return f"{type(exc).__name__}: {exc}"
    return f"{type(exc).__name__}: {exc}{_where(exc)}"


def _split_target(target: str) -> tuple[str, str, bool]:
    """Split TARGET into its source, attribute, and whether the source is a file path."""
    source, sep, attribute = target.rpartition(":")
    if not sep:
        source, attribute = target, DEFAULT_ATTRIBUTE
    is_file = source.endswith(".py") or "/" in source or os.sep in source
    valid_module = all(part.isidentifier() for part in source.split("."))
    if not source or not attribute.isidentifier() or not (is_file or valid_module):
        raise UsageError(f"malformed TARGET {target!r}: expected {TARGET_FORMS}")
    return source, attribute, is_file


def _import_file(source: str) -> ModuleType:
    """Import a module from a file, its directory first on ``sys.path`` for sibling imports."""
    path = Path(source)
    if not path.is_file():
        raise UsageError(f"no such file: {source}")
    path = path.resolve()
    directory = str(path.parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    name = path.stem
    known = sys.modules.get(name)
    if known is not None:
        if Path(getattr(known, "__file__", None) or "").resolve() == path:
            return known
        name = f"km_app_{abs(hash(str(path)))}_{path.stem}"  # a name in use by another module
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot import {source!r}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise UsageError(f"cannot import {source!r}: {_describe(exc)}") from exc
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _import_module(source: str) -> ModuleType:
    """Import a module by its dotted name."""
    try:
        return importlib.import_module(source)
    except Exception as exc:
        raise UsageError(f"cannot import {source!r}: {_describe(exc)}") from exc


def _knowledge_bases(module: ModuleType) -> list[str]:
    return sorted(name for name, value in vars(module).items() if isinstance(value, KnowledgeBase))


def load_target(target: str) -> KnowledgeBase:
    """The knowledge base TARGET names, made by calling it if it is an app factory.

    Raises:
        UsageError: TARGET is malformed, cannot be imported, has no such attribute, is not a
            knowledge base or a factory of one, or raised while it was imported or called.
    """
    source, attribute, is_file = _split_target(target)
    module = _import_file(source) if is_file else _import_module(source)
    try:
        found = getattr(module, attribute)
    except AttributeError:
        names = _knowledge_bases(module)
        have = (
            f"its KnowledgeBase objects: {', '.join(names)}"
            if names
            else "it has no KnowledgeBase objects"
        )
        raise UsageError(f"{source!r} has no attribute {attribute!r}; {have}") from None
    where = f"{source}:{attribute}"
    if isinstance(found, KnowledgeBase):
        return found
    if not callable(found):
        raise UsageError(
            f"{where!r} is a {type(found).__name__}, not a KnowledgeBase or a function "
            "that returns one"
        )
    if inspect.iscoroutinefunction(found):
        raise UsageError(f"{where!r} is an async function; an app factory must be a plain function")
    try:
        inspect.signature(found).bind()
    except TypeError:
        raise UsageError(f"{where!r} needs arguments; an app factory must take none") from None
    except ValueError:  # no signature to inspect (some builtins): just try it
        pass
    try:
        made = found()
    except Exception as exc:
        raise UsageError(f"{where}() raised {_describe(exc)}") from exc
    if not isinstance(made, KnowledgeBase):
        raise UsageError(f"{where}() returned a {type(made).__name__}, not a KnowledgeBase")
    return made
