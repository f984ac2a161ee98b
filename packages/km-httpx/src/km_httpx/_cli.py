"""The ``km`` command: ``km run path/to/app.py:kb`` serves a knowledge base with an HttpxClient.

``km run`` loads the knowledge base (or the app factory that makes it), gives it an
`HttpxClient` from its settings when it has no client (or when the Knowledge Engine's URL was
configured), and runs it until SIGINT or SIGTERM, which stop it gracefully. Every mistake the
user can make ends in one line on stderr and exit status 2, never with a header's value.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import httpx

from km_core import KnowledgeBase, KnowledgeEngineError, KnowledgeEngineUnavailableError

from .__about__ import __version__
from ._client import DEFAULT_TIMEOUT, HttpxClient
from ._settings import (
    DEFAULT_KE_URL,
    LOG_LEVELS,
    KmSettings,
    SettingsLoadError,
    display_url,
    load_settings,
)

__all__ = ["main"]

logger = logging.getLogger("km_httpx.cli")

DEFAULT_ATTRIBUTE = "kb"
EXIT_USAGE = 2
TARGET_FORMS = "path/to/app.py:kb or package.module:kb"


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr, status 2."""

    def error(self, message: str) -> NoReturn:
        _fail(f"{message} (see '{self.prog} --help')")


def _fail(message: str) -> NoReturn:
    """Print ``km: message`` on stderr and exit with status 2."""
    print(f"km: {message}", file=sys.stderr)
    raise SystemExit(EXIT_USAGE)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="km",
        description="Run knowledge bases of the Knowledge Mapper SDK.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s (km-httpx) {__version__}")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )
    run = commands.add_parser(
        "run",
        help="serve a knowledge base until SIGINT or SIGTERM",
        description=(
            "Serve a knowledge base: connect to the Knowledge Engine (waiting for it), "
            "register, handle requests, and on SIGINT or SIGTERM stop gracefully and "
            "unregister. Every option may also be set by an environment variable (KM_ and the "
            "option's name in capitals, e.g. KM_KE_URL) or in the --config file; flags win "
            "over the environment, which wins over the file."
        ),
    )
    run.add_argument(
        "target",
        metavar="TARGET",
        help=(
            f"the knowledge base: {TARGET_FORMS}; the name after ':' (default: "
            f"{DEFAULT_ATTRIBUTE}) is a KnowledgeBase or a function without arguments that "
            "returns one"
        ),
    )
    suppress: Any = argparse.SUPPRESS  # options not given stay out of the namespace
    run.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="a TOML, YAML or JSON file of settings, named as the options with underscores",
    )
    run.add_argument(
        "--ke-url",
        default=suppress,
        metavar="URL",
        help=(
            "the Knowledge Engine's REST base URL; it replaces the knowledge base's own client "
            f"(default: {DEFAULT_KE_URL}, used when the knowledge base has no client)"
        ),
    )
    run.add_argument(
        "--max-concurrent-handlers",
        default=suppress,
        metavar="N",
        help="requests handled at once (default: 10)",
    )
    run.add_argument(
        "--grace-period",
        default=suppress,
        metavar="SECONDS",
        help="seconds in-flight handlers get to finish when stopping; 'none': no limit "
        "(default: 30)",
    )
    run.add_argument(
        "--connect-wait",
        default=suppress,
        metavar="SECONDS",
        help="seconds to wait for the Knowledge Engine at start; 'none': forever (default: 60)",
    )
    run.add_argument(
        "--log-level",
        default=suppress,
        metavar="LEVEL",
        help=f"one of {', '.join(LOG_LEVELS)} (default: INFO)",
    )
    run.add_argument(
        "--header",
        dest="headers",
        action="append",
        default=suppress,
        metavar="NAME=VALUE",
        help=(
            "a header for every request to the Knowledge Engine, e.g. a reverse proxy's token; "
            "repeatable; values are never logged"
        ),
    )
    run.add_argument(
        "--insecure",
        action="store_const",
        const=True,
        default=suppress,
        help="do not verify the Knowledge Engine's TLS certificate (default: verify)",
    )
    return parser


# ---------------------------------------------------------------------- settings


def _parse_headers(items: Sequence[str]) -> dict[str, str]:
    """``NAME=VALUE`` items as a dict; a malformed item ends the command (without its text)."""
    headers: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            _fail("argument --header: expected NAME=VALUE (the argument is not shown)")
        headers[name.strip()] = value
    return headers


def _settings(args: argparse.Namespace) -> KmSettings:
    """The settings from the parsed flags, the environment and the config file."""
    flags = {
        name: value
        for name, value in vars(args).items()
        if name not in ("command", "target", "config")
    }
    if "headers" in flags:
        flags["headers"] = _parse_headers(flags["headers"])
    try:
        return load_settings(flags, args.config)
    except SettingsLoadError as exc:
        _fail(str(exc))


def _configure_logging(settings: KmSettings) -> None:
    """Log to stderr at the configured level; keep httpx's per-request lines out below DEBUG."""
    level = settings.log_level_number
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet = max(level, logging.WARNING) if level > logging.DEBUG else level
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(quiet)


# ---------------------------------------------------------------------- the target


def _split_target(target: str) -> tuple[str, str, bool]:
    """Split TARGET into its source, attribute, and whether the source is a file path."""
    source, sep, attribute = target.rpartition(":")
    if not sep:
        source, attribute = target, DEFAULT_ATTRIBUTE
    is_file = source.endswith(".py") or "/" in source or os.sep in source
    valid_module = all(part.isidentifier() for part in source.split("."))
    if not source or not attribute.isidentifier() or not (is_file or valid_module):
        _fail(f"malformed TARGET {target!r}: expected {TARGET_FORMS}")
    return source, attribute, is_file


def _import_file(source: str) -> ModuleType:
    """Import a module from a file, its directory first on ``sys.path`` for sibling imports."""
    path = Path(source)
    if not path.is_file():
        _fail(f"no such file: {source}")
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
        _fail(f"cannot import {source!r}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except ImportError as exc:
        del sys.modules[name]
        _fail(f"cannot import {source!r}: {exc}")
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _import_module(source: str) -> ModuleType:
    """Import a module by its dotted name."""
    try:
        return importlib.import_module(source)
    except ImportError as exc:
        _fail(f"cannot import {source!r}: {exc}")


def _knowledge_bases(module: ModuleType) -> list[str]:
    return sorted(name for name, value in vars(module).items() if isinstance(value, KnowledgeBase))


def _load_target(target: str) -> KnowledgeBase:
    """The knowledge base TARGET names, made by calling it if it is an app factory."""
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
        _fail(f"{source!r} has no attribute {attribute!r}; {have}")
    where = f"{source}:{attribute}"
    if isinstance(found, KnowledgeBase):
        return found
    if not callable(found):
        _fail(
            f"{where!r} is a {type(found).__name__}, not a KnowledgeBase or a function "
            "that returns one"
        )
    if inspect.iscoroutinefunction(found):
        _fail(f"{where!r} is an async function; an app factory must be a plain function")
    try:
        inspect.signature(found).bind()
    except TypeError:
        _fail(f"{where!r} needs arguments; an app factory must take none")
    except ValueError:  # no signature to inspect (some builtins): just try it
        pass
    made = found()
    if not isinstance(made, KnowledgeBase):
        _fail(f"{where}() returned a {type(made).__name__}, not a KnowledgeBase")
    return made


# ---------------------------------------------------------------------- the client


class _InsecureHttpxClient(HttpxClient):
    """An HttpxClient on an httpx client without TLS verification, which it closes."""

    def __init__(self, base_url: str, *, headers: dict[str, str]) -> None:
        self._insecure_http = httpx.AsyncClient(
            verify=False,
            headers=headers,
            timeout=DEFAULT_TIMEOUT,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )
        super().__init__(base_url, http_client=self._insecure_http)

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            await self._insecure_http.aclose()


def _supply_client(kb: KnowledgeBase, settings: KmSettings) -> None:
    """Give the KB an HttpxClient from the settings, unless it has one and no URL was set."""
    url_given = "ke_url" in settings.model_fields_set
    if kb.has_client and not url_given:
        if settings.headers or settings.insecure:
            logger.warning(
                "knowledge base %s brings its own client; the headers and --insecure "
                "settings do not apply to it (set --ke-url to use a client made by km)",
                kb.id,
            )
        logger.info("knowledge base %s uses its own client", kb.id)
        return
    headers = settings.header_values()
    if settings.insecure:
        logger.warning(
            "TLS certificate verification is OFF (--insecure): anyone on the network path "
            "to %s can pose as the Knowledge Engine",
            display_url(settings.ke_url),
        )
        kb.client = _InsecureHttpxClient(settings.ke_url, headers=headers)
    else:
        kb.client = HttpxClient(settings.ke_url, headers=headers)
    logger.info(
        "knowledge base %s uses the Knowledge Engine at %s%s",
        kb.id,
        display_url(settings.ke_url),
        f" (headers: {', '.join(sorted(settings.headers))})" if settings.headers else "",
    )


# ---------------------------------------------------------------------- running


def _run(kb: KnowledgeBase, settings: KmSettings) -> None:
    """Serve the KB until it stops; an unreachable KE ends the command with status 2."""
    try:
        kb.run(
            max_concurrent_handlers=settings.max_concurrent_handlers,
            grace_period=settings.grace_period,
            connect_wait=settings.connect_wait,
        )
    except KnowledgeEngineUnavailableError:
        url = getattr(kb.client, "base_url", None)
        where = display_url(url) if isinstance(url, str) else repr(kb.client)
        wait = settings.connect_wait
        _fail(
            f"cannot reach the Knowledge Engine at {where}"
            + (f" within {wait:g} s" if wait is not None else "")
        )
    except KnowledgeEngineError as exc:
        print(f"km: knowledge base {kb.id} stopped: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    logger.info("knowledge base %s stopped", kb.id)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the ``km`` command.

    Args:
        argv: The arguments after the program name; by default ``sys.argv[1:]``.
    """
    args = _parser().parse_args(argv)
    if args.command == "run":
        try:
            settings = _settings(args)
            _configure_logging(settings)
            kb = _load_target(args.target)
            _supply_client(kb, settings)
            _run(kb, settings)
        except KeyboardInterrupt:  # pragma: no cover - a SIGINT before the loop took over
            raise SystemExit(130) from None


if __name__ == "__main__":
    main()
