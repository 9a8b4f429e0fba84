"""``oda-data download crs``: the command line of the downloader."""
from __future__ import annotations

import argparse
import sys

from ...cli import help_handler, whole_number
from ..._text import one_line
from .. import cache as crs_cache
from .bulk_file import DOWNLOADS_ENV_VAR, download_crs
from .fetch import DEFAULT_MAX_TIME_S, DEFAULT_RETRIES, Budget, DownloadError
from .locate import BULK_URL_ENV_VAR, DATAFLOW_URL_ENV_VAR, DEFAULT_BULK_URL, DEFAULT_DATAFLOW_URL, fetch_bulk_files


def register(subparsers) -> None:
    """Add ``download crs`` to the ``oda-data`` command line."""
    download = subparsers.add_parser("download", help="download OECD bulk files, verify and ingest them")
    download.set_defaults(handler=help_handler(download))
    crs = download.add_subparsers(dest="download_source", metavar="SOURCE").add_parser(
        "crs", help="the OECD Creditor Reporting System bulk files",
        description="Locate a CRS bulk file in the OECD dataflow, download it (resumed, within a budget of "
                    "retries and seconds), verify it, record its SHA-256 and ingest it into the Parquet cache.")
    which = crs.add_mutually_exclusive_group(required=True)
    which.add_argument("--year", type=whole_number(1960), metavar="YYYY",
                       help="one year's file, 'CRS YYYY (dotStat format)'")
    which.add_argument("--full", action="store_true", help="the whole CRS as Parquet ('CRS-Parquet', about 1 GB)")
    which.add_argument("--reduced", action="store_true", help="the reduced CRS Parquet ('CRS-reduced-parquet')")
    which.add_argument("--url", help="fetch this address instead of locating a file")
    which.add_argument("--list", action="store_true", help="list the bulk files the OECD currently lists")
    add = crs.add_argument
    add("--dest", metavar="DIR",
        help=f"folder for the file (default ${DOWNLOADS_ENV_VAR} or <user data>/oda_data/downloads)")
    add("--no-ingest", action="store_true", help="download and verify only")
    add("--force", action="store_true", help="download again even if an up-to-date copy exists")
    add("--quiet", action="store_true", help="no progress bars")
    add("--dataflow-url", metavar="URL",
        help=f"message listing the files (default ${DATAFLOW_URL_ENV_VAR} or {DEFAULT_DATAFLOW_URL})")
    add("--base-url", metavar="URL", help=f"prefix of a file id (default ${BULK_URL_ENV_VAR} or {DEFAULT_BULK_URL})")
    add("--retries", type=whole_number(0), default=DEFAULT_RETRIES, metavar="N",
        help=f"failed tries tolerated in the whole download; a restart from zero is one (default {DEFAULT_RETRIES})")
    add("--max-time", type=whole_number(1), default=DEFAULT_MAX_TIME_S, metavar="SECONDS",
        help=f"give up after this long, every retry included (default {DEFAULT_MAX_TIME_S})")
    crs.set_defaults(handler=_run_download_crs)


def _run_download_crs(args: argparse.Namespace) -> int:
    prog = "oda-data download crs"
    try:
        if args.list:
            budget = Budget.start(args.retries, max_time=args.max_time)
            for bulk in fetch_bulk_files(args.dataflow_url, bulk_url=args.base_url, budget=budget).values():
                print(f"{one_line(bulk.label)}{f' (v{bulk.version})' if bulk.version else ''}\t{one_line(bulk.url)}")
            return 0
        result = download_crs(year=args.year, full=args.full, reduced=args.reduced, url=args.url, dest=args.dest,
                              ingest=False, force=args.force, dataflow_url=args.dataflow_url, bulk_url=args.base_url,
                              retries=args.retries, max_time=args.max_time, progress=not args.quiet)
        print(f"{one_line(result.label)}: {'already up to date' if result.reused else 'downloaded and verified'}: "
              f"{result.path} (sha256 {result.sha256})")
    except (DownloadError, ValueError, OSError) as error:
        print(f"{prog}: error: {one_line(str(error))}", file=sys.stderr)
        return 1
    if args.no_ingest:
        return 0
    try:
        print(f"ingested into the cache: {crs_cache.ingest(result.path, progress=not args.quiet)}")
    except Exception as error:  # any ingest failure in one line; the downloaded file stays
        print(f"{prog}: error: ingesting {result.path} failed ({type(error).__name__}: {one_line(str(error))}); "
              f"the downloaded file is kept -- retry with `oda-data ingest {result.path}`", file=sys.stderr)
        return 1
    return 0
