"""The ``oda-data`` command line: each module in ``_COMMAND_MODULES`` registers its sub-commands
(``reports build``, ``ingest``, ``cache list|clear``, ``download crs``) next to its code."""
from __future__ import annotations

import argparse
import importlib
import sys

# module -> its `register(subparsers)` adds sub-commands whose handler is set
# with `set_defaults(handler=...)`; a handler returns the exit code.
_COMMAND_MODULES = ("oda_data.reports.cli", "oda_data.crs.cli", "oda_data.crs.download")


def help_handler(parser: argparse.ArgumentParser):
    """Handler of a command given without its sub-command: print the command's help, exit code 2."""
    def show_help(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2
    return show_help


def whole_number(minimum: int):
    """An argparse ``type``: a whole number >= ``minimum``, else a usage error saying so."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}")
        return value
    return parse


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="oda-data",
                                     description="ODA for security and stability: reports, OECD CRS data, cache.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None) or help_handler(parser)
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
