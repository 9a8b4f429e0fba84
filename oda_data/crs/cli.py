"""``oda-data ingest PATH`` and ``oda-data cache list|clear``."""
from __future__ import annotations

import argparse
import sys
import warnings

from tqdm import tqdm

from . import cache
from ..cli import help_handler
from .._text import printable
from .layouts.data_explorer import SDMX_ROW_CHOICES


def _ingest(args: argparse.Namespace) -> int:
    status = 0
    for path in args.paths:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                cached = cache.ingest(path, progress=not args.quiet, sdmx_rows=args.sdmx_rows,
                                      encoding=args.encoding)
            for warning in caught:  # one line each, not Python's source-line display
                print(f"oda-data ingest: note: {printable(warning.message)}", file=sys.stderr)
        except (OSError, ValueError) as error:  # missing/unreadable file, bad CRS file, cache folder
            print(f"oda-data ingest: {printable(error)}", file=sys.stderr)
            status = 1
            continue
        meta = cache.read_metadata(cached)
        print(printable(f"{path} -> {cached} ({meta.get('rows', '?')} rows, layout {meta.get('layout', '?')})"))
    return status


def _cache_command(action: str, show):
    """The handler of ``cache <action>``: ``<action>_cache()``, shown by ``show``, or one line naming the path."""
    def handler(args: argparse.Namespace) -> int:
        try:
            folder, result = cache.cache_dir(), getattr(cache, f"{action}_cache")()
        except OSError as error:
            print(f"oda-data cache {action}: {printable(error)}", file=sys.stderr)
            return 1
        show(folder, result)
        return 0
    return handler


def _show_entries(folder, entries) -> None:
    print(printable(f"cache folder: {folder}"))
    if not entries:
        print("(empty)")
    for entry in entries:
        print(printable(entry.path))
        print("    " + printable(f"source {entry.source}; {tqdm.format_sizeof(entry.size_bytes, 'B', 1024)}, "
                                 f"{entry.rows} rows, layout {entry.layout}, created {entry.created}"))


def _show_removed(folder, removed: int) -> None:
    print(printable(f"removed {removed} cached file(s) from {folder}"))


def register(subparsers) -> None:
    """Add ``ingest`` and ``cache`` to the ``oda-data`` command line."""
    ingest = subparsers.add_parser("ingest", help="convert CRS files to the Parquet cache ahead of time",
                                   description="Convert CRS files (bulk text/zip/Parquet, Data Explorer SDMX-CSV) "
                                               "to canonical Parquet in the cache, with a progress bar.")
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="CRS file(s)")
    ingest.add_argument("--sdmx-rows", choices=SDMX_ROW_CHOICES, default="auto",
                        help="Data Explorer files: activity (DD) or aggregate (_T) rows (default: DD when present)")
    ingest.add_argument("--encoding", default=None,
                        help="text encoding when the file is neither UTF-8 nor UTF-16 (e.g. latin-1)")
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")
    ingest.set_defaults(handler=_ingest)

    cache_parser = subparsers.add_parser("cache", help="list or clear the Parquet cache",
                                         description=f"Cache folder: ${cache.CACHE_ENV_VAR} or the user cache folder.")
    actions = cache_parser.add_subparsers(dest="cache_action", metavar="ACTION")
    listing = actions.add_parser("list", help="show each cached Parquet file's path, source, size, rows, created")
    listing.set_defaults(handler=_cache_command("list", _show_entries))
    actions.add_parser("clear", help="delete every cached file").set_defaults(
        handler=_cache_command("clear", _show_removed))
    cache_parser.set_defaults(handler=help_handler(cache_parser))
