"""The ``km`` command: ``km run path/to/app.py:kb`` serves a knowledge base with an HttpxClient.

``km run mapper.yaml`` serves the knowledge base a config file describes (``_config_target``).

``km run`` loads the knowledge base (or the app factory that makes it), gives it an
`HttpxClient` from its settings when it has no client (or when the Knowledge Engine's URL was
configured), and runs it until SIGINT or SIGTERM, which stop it gracefully. How it ends is its
exit status (`ExitStatus`): every mistake the user can make is one line on stderr and status 2,
never with a header's value; the traceback follows only with ``--log-level debug``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from importlib.util import find_spec
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import httpx

from km_core import (
    ACCESS_LOGGER_NAME,
    KnowledgeBase,
    KnowledgeBaseStoppedError,
    KnowledgeEngineError,
    KnowledgeEngineUnavailableError,
    StartupError,
)

from .__about__ import __version__
from ._client import HttpxClient
from ._config_target import is_config_target, load_config_target
from ._diagnosis import display_url
from ._exit_status import ExitStatus
from ._sending import DEFAULT_TIMEOUT
from ._settings import (
    DEFAULT_KE_URL,
    LOG_LEVELS,
    KmSettings,
    SettingsLoadError,
    load_settings,
)
from ._target import DEFAULT_ATTRIBUTE, TARGET_FORMS, UsageError, load_target

__all__ = ["main"]

logger = logging.getLogger("km_httpx.cli")

EXIT_USAGE = ExitStatus.USAGE

T = TypeVar("T")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr, status 2."""

    def error(self, message: str) -> NoReturn:
        _fail(f"{message} (see '{self.prog} --help')")


def _fail(message: str, status: ExitStatus = ExitStatus.USAGE) -> NoReturn:
    """Print ``km: message`` on stderr and exit with ``status`` (default 2)."""
    print(f"km: {message}", file=sys.stderr)
    raise SystemExit(int(status))


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
            "returns one. Or a config file (mapper.yaml, .toml, .json) that km-mapper serves"
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
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=suppress,
        help="log one INFO line per handled request on the km_core.access logger (default: on)",
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
    run.add_argument(
        "--metrics-port",
        default=suppress,
        metavar="PORT",
        help="serve Prometheus metrics on /metrics, and /healthz and /readyz probes, on this port "
        "(0: a free one, logged) from start to stop; needs km-httpx[metrics] (default: off)",
    )
    run.add_argument(
        "--metrics-host",
        default=suppress,
        metavar="HOST",
        help="the address --metrics-port listens on (default: 127.0.0.1)",
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


def _settings(args: argparse.Namespace, defaults: Mapping[str, Any] | None = None) -> KmSettings:
    """The settings from the parsed flags, the environment, the config file and ``defaults``."""
    flags = {
        name: value
        for name, value in vars(args).items()
        if name not in ("command", "target", "config")
    }
    if "headers" in flags:
        flags["headers"] = _parse_headers(flags["headers"])
    try:
        settings = load_settings(flags, args.config, defaults)
    except SettingsLoadError as exc:
        _fail(str(exc))
    if settings.metrics_port is not None and find_spec("prometheus_client") is None:
        _fail("--metrics-port needs prometheus-client: pip install 'km-httpx[metrics]'")
    return settings


def _configure_logging(settings: KmSettings) -> None:
    """Log to stderr at the configured level; keep httpx's per-request lines out below DEBUG.

    The access log (``km_core.access``) follows the level, unless it is turned off.
    """
    level = settings.log_level_number
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet = max(level, logging.WARNING) if level > logging.DEBUG else level
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(quiet)
    logging.getLogger(ACCESS_LOGGER_NAME).disabled = not settings.access_log


# ---------------------------------------------------------------------- the target


def _load_target(target: str, *, debug: bool = False) -> KnowledgeBase:
    """The knowledge base TARGET names; a mistake ends the command with one line, status 2.

    With ``debug``, the traceback of what the user's code raised comes before that line.
    """
    try:
        return load_target(target)
    except UsageError as exc:
        if debug and exc.__cause__ is not None:
            traceback.print_exception(exc.__cause__, file=sys.stderr)
        _fail(str(exc))


def _checked(call: Callable[[Any], T], argument: Any) -> T:
    """``call(argument)``; a `UsageError` ends the command with its one line."""
    try:
        return call(argument)
    except UsageError as exc:
        _fail(str(exc))


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


def _stop_with(
    exc: BaseException, message: str, status: ExitStatus, settings: KmSettings
) -> NoReturn:
    """End the command with one line on stderr; the traceback before it at DEBUG."""
    if settings.log_level == "DEBUG":
        traceback.print_exception(exc, file=sys.stderr)
    _fail(message, status)


def _run(kb: KnowledgeBase, settings: KmSettings) -> None:
    """Serve the KB until it stops; how it stopped becomes the exit status (`ExitStatus`)."""
    options: dict[str, Any] = {
        "max_concurrent_handlers": settings.max_concurrent_handlers,
        "grace_period": settings.grace_period,
        "connect_wait": settings.connect_wait,
    }
    try:
        if settings.metrics_port is None:
            kb.run(**options)
        else:
            _run_with_endpoint(kb, settings, options)
    except StartupError as exc:
        _stop_with(exc, str(exc), ExitStatus.STARTUP_FAILED, settings)
    except KnowledgeEngineUnavailableError as exc:
        _stop_with(exc, f"knowledge base {kb.id}: {exc.message}", ExitStatus.UNREACHABLE, settings)
    except KnowledgeBaseStoppedError as exc:
        _stop_with(
            exc,
            f"knowledge base {kb.id}: {exc.message}; start it again once the Knowledge Engine "
            "is back",
            ExitStatus.STOPPED_BY_ENGINE,
            settings,
        )
    except KnowledgeEngineError as exc:
        status = getattr(exc, "status_code", None)
        _stop_with(
            exc,
            f"knowledge base {kb.id} stopped: {exc}",
            ExitStatus.USAGE if status == 400 else ExitStatus.ERROR,
            settings,
        )
    logger.info("knowledge base %s stopped", kb.id)


def _run_with_endpoint(kb: KnowledgeBase, settings: KmSettings, options: dict[str, Any]) -> None:
    """`KnowledgeBase.run` with the metrics and health endpoint (``--metrics-port``)."""
    from ._health import EndpointError, serve_with_endpoint  # needs prometheus-client

    assert settings.metrics_port is not None
    serving = serve_with_endpoint(
        kb, host=settings.metrics_host, port=settings.metrics_port, **options
    )
    try:
        asyncio.run(serving)
    except EndpointError as exc:
        _stop_with(exc, str(exc), ExitStatus.USAGE, settings)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the ``km`` command.

    Args:
        argv: The arguments after the program name; by default ``sys.argv[1:]``.
    """
    args = _parser().parse_args(argv)
    if args.command == "run":
        try:
            if is_config_target(args.target):
                file_settings, build = _checked(load_config_target, args.target)
                settings = _settings(args, file_settings)
                _configure_logging(settings)
                kb = _checked(build, settings.max_concurrent_handlers)
            else:
                settings = _settings(args)
                _configure_logging(settings)
                kb = _load_target(args.target, debug=settings.log_level == "DEBUG")
            _supply_client(kb, settings)
            _run(kb, settings)
        except KeyboardInterrupt:  # pragma: no cover - a SIGINT before the loop took over
            raise SystemExit(130) from None


if __name__ == "__main__":
    main()
