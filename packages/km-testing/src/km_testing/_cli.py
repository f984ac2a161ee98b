"""The ``km-testing`` command: ``km-testing serve`` runs a local Knowledge Engine over HTTP.

The server (starlette and uvicorn) is an optional part of km-testing; ``--help`` works without
it, and ``serve`` says how to install it when it is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .__about__ import __version__
from .engine import DEFAULT_HEARTBEAT, DEFAULT_KB_WAIT_TIMEOUT, LocalKnowledgeEngine

if TYPE_CHECKING:
    import uvicorn

__all__ = ["main"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8280
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
SHUTDOWN_GRACE = 5
"""Seconds the server waits for requests under way when it stops, before cancelling them."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="km-testing",
        description="Test utilities of the Knowledge Mapper SDK.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    serve = commands.add_parser(
        "serve",
        help="serve a local Knowledge Engine's REST API over HTTP",
        description=(
            "Serve a local Knowledge Engine (LocalKnowledgeEngine) with the TNO Knowledge "
            "Engine's Smart Connector REST API under /rest, e.g. http://127.0.0.1:8280/rest. "
            "Everything is kept in memory; stop it with Ctrl-C or SIGTERM."
        ),
    )
    serve.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="the address to bind (default: %(default)s, this machine only)",
    )
    serve.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="the port to bind; 0 picks a free one (default: %(default)s, the KE's)",
    )
    serve.add_argument(
        "--heartbeat",
        type=float,
        default=DEFAULT_HEARTBEAT,
        metavar="SECONDS",
        help="seconds an idle long poll is held before it answers 202 (default: %(default)g)",
    )
    serve.add_argument(
        "--kb-wait-timeout",
        type=float,
        default=DEFAULT_KB_WAIT_TIMEOUT,
        metavar="SECONDS",
        help=(
            "seconds an ask or post waits for each contacted knowledge interaction; 0 waits "
            "forever (default: %(default)g, the KE's KE_KB_WAIT_TIMEOUT)"
        ),
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=LOG_LEVELS,
        help="how much to log (default: %(default)s)",
    )
    return parser


def _base_url(host: str, port: int) -> str:
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return f"http://{host}:{port}/rest"


@contextlib.contextmanager
def _quiet_signals() -> Iterator[None]:
    """Make SIGINT and SIGTERM harmless once uvicorn is done with them.

    uvicorn catches both to shut down gracefully, and afterwards raises the signal it caught
    again with the handlers it found; with these, the process then ends normally (status 0).
    """
    names = ("SIGINT", "SIGTERM")
    previous = {name: signal.getsignal(getattr(signal, name)) for name in names}
    for name in names:
        signal.signal(getattr(signal, name), lambda signum, frame: None)
    try:
        yield
    finally:
        for name, handler in previous.items():
            signal.signal(getattr(signal, name), handler)


def _server(config: uvicorn.Config, engine: LocalKnowledgeEngine) -> uvicorn.Server:
    """A uvicorn server that prints its base URL and stops the engine's KBs when it stops."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started:
                port = self.servers[0].sockets[0].getsockname()[1]
                url = _base_url(self.config.host, port)
                print(f"km-testing: a local Knowledge Engine serves {url}", flush=True)

        async def shutdown(self, sockets: Any = None) -> None:
            # As the KE does when it stops: every KB stops, so their open polls get 410 and
            # the asks waiting on them end, before the connections are closed.
            for kb in engine.list_kbs():
                with contextlib.suppress(Exception):
                    await engine.delete_kb(kb.knowledge_base_id)
            await super().shutdown(sockets)

    return Server(config)


def _serve(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    try:
        import uvicorn

        from ._server import create_app
    except ImportError as exc:
        print(
            f"km-testing: serve needs starlette and uvicorn ({exc.name} is missing); "
            "install km-testing with its server extra (from a clone: "
            'python -m pip install "./packages/km-testing[server]")',
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    if not 0 <= args.port <= 65535:
        parser.error(f"argument --port: {args.port} is not a port (0 to 65535)")
    try:
        engine = LocalKnowledgeEngine(
            heartbeat=args.heartbeat, kb_wait_timeout=args.kb_wait_timeout
        )
    except ValueError as exc:
        parser.error(str(exc))
    level = logging.DEBUG if args.log_level == "trace" else getattr(logging, args.log_level.upper())
    logging.basicConfig(level=level, format="%(levelname)s:     %(name)s: %(message)s")
    config = uvicorn.Config(
        create_app(engine),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        ws="none",
        lifespan="off",
        timeout_graceful_shutdown=SHUTDOWN_GRACE,
    )
    with _quiet_signals():
        _server(config, engine).run()


def main(argv: list[str] | None = None) -> None:
    """Run the ``km-testing`` command.

    Args:
        argv: The arguments after the program name; by default ``sys.argv[1:]``.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "serve":
        _serve(args, parser)


if __name__ == "__main__":
    main()
