"""The ``km-mapper`` command: ``convert`` a legacy config file, ``check`` a config file.

``km-mapper convert legacy.jsonc -o mapper.yaml`` writes a knowledge-mapper 0.0.24 file as a
config file of ours (YAML, TOML or JSON) and prints on stderr, one ``note:`` line each, what
could not be carried over. ``km-mapper check mapper.yaml`` reads and validates a config file.
A mistake is one line on stderr, ``km-mapper: ...``, and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path, PurePath
from typing import NoReturn, cast

from .__about__ import __version__
from ._config import MapperConfig, load_config
from ._config._loading import FORMATS
from ._errors import MapperConfigError
from ._legacy import convert_legacy, dump_config
from ._legacy._dump import Format

__all__ = ["main"]

EXIT_USAGE = 2
"""The exit status of every mistake: a bad file, a bad argument."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr, status 2."""

    def error(self, message: str) -> NoReturn:
        _fail(f"{message} (see '{self.prog} --help')")


def _fail(message: str) -> NoReturn:
    """Print ``km-mapper: message`` on stderr and exit with status 2."""
    print(f"km-mapper: {message}", file=sys.stderr)
    raise SystemExit(EXIT_USAGE)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="km-mapper",
        description="Config files of km-mapper: convert legacy ones, check yours.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s (km-mapper) {__version__}"
    )
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )
    convert = commands.add_parser(
        "convert",
        help="convert a knowledge-mapper 0.0.24 config file (JSON5) to a config file of ours",
        description=(
            "Convert a knowledge-mapper 0.0.24 config file (JSON5) to a config file of ours. "
            "What could not be carried over, or now means something else, is printed on "
            "stderr, one 'note:' line each: read them before you run the result."
        ),
    )
    convert.add_argument("legacy", metavar="LEGACY", type=Path, help="the legacy config file")
    convert.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        type=Path,
        help="the file to write (default: standard output); its suffix chooses the format",
    )
    convert.add_argument(
        "--format",
        choices=("yaml", "toml", "json"),
        help="the format (default: that of OUT's suffix, else yaml)",
    )
    check = commands.add_parser(
        "check",
        help="read and validate a config file",
        description="Read and validate a config file (YAML, TOML or JSON), without serving it.",
    )
    check.add_argument("config", metavar="CONFIG", type=Path, help="the config file")
    return parser


def _output_format(output: Path | None, given: str | None) -> Format:
    """The format to write: ``--format``, else OUT's suffix, else YAML; they must agree."""
    by_suffix = FORMATS.get(PurePath(output).suffix.lower()) if output is not None else None
    if output is not None and by_suffix is None:
        _fail(
            f"cannot write {output}: its name must end in .yaml, .yml, .toml or .json, "
            "as km run and check read a config file by its suffix"
        )
    if given is not None and by_suffix is not None and given != by_suffix:
        _fail(f"--format {given} does not fit {output}, which is read as {by_suffix}")
    return cast(Format, given or by_suffix or "yaml")


def _convert(args: argparse.Namespace) -> None:
    fmt = _output_format(args.output, args.format)
    try:
        config, notes = convert_legacy(args.legacy)
    except MapperConfigError as exc:
        _fail(str(exc))
    text = dump_config(config, fmt)
    if args.output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as exc:
            _fail(f"cannot write {args.output}: {(exc.strerror or str(exc)).lower()}")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)


def _summary(config: MapperConfig) -> str:
    count = len(config.knowledge_interactions)
    sources = ", ".join(f"{name} ({source.type})" for name, source in config.sources.items())
    return (
        f"ok: {config.knowledge_base.id}, {count} interaction{'' if count == 1 else 's'}, "
        f"sources: {sources or 'none'}"
    )


def _check(args: argparse.Namespace) -> None:
    try:
        config = load_config(args.config)
    except MapperConfigError as exc:
        _fail(str(exc))
    print(_summary(config))


def main(argv: Sequence[str] | None = None) -> None:
    """Run the ``km-mapper`` command.

    Args:
        argv: The arguments after the program name; by default ``sys.argv[1:]``.
    """
    args = _parser().parse_args(argv)
    if args.command == "convert":
        _convert(args)
    else:
        _check(args)


if __name__ == "__main__":
    main()
