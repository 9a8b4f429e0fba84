"""``oda-data reports build`` and ``oda-data reports list``.

Exit codes: 0 all ok or skipped; 1 a report failed or is stale, the site could not be rendered, or an
operating-system error; 2 a bad schedule, ``--only`` name or output folder, or a folder another build holds; 130
interrupted.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from ..cli import help_handler, whole_number
from .._text import os_error_line
from .build import DEFAULT_OUTPUT, BuildLockedError, OutputFolderError, build_reports
from .manifest import PROBLEMS, STATUSES
from .schedule import DEFAULT_SCHEDULE, DEFAULT_TIMEOUT_S, ScheduleError, load_schedule
from .site import SiteError


def register(subparsers) -> None:
    """Add ``oda-data reports build|list`` to the ``oda-data`` command."""
    reports = subparsers.add_parser("reports", help="build the scheduled reports site",
                                    description="Scheduled reports built from the notebooks (see reports/README.md).")
    reports.set_defaults(handler=help_handler(reports))
    actions = reports.add_subparsers(dest="reports_action", metavar="ACTION")
    build = actions.add_parser(
        "build", help="run the reports of the schedule and render the site",
        description="Run the reports of the schedule with papermill, write manifest.json and render the site into the "
        "output folder. Reports whose notebook, parameters, data and package code are unchanged are not run again.")
    listing = actions.add_parser("list", help="list the reports of the schedule", description="List the reports of "
                                 "the schedule: name, group, title, notebook and parameters.")
    for parser in (build, listing):
        parser.add_argument("--schedule", type=Path, default=DEFAULT_SCHEDULE, metavar="FILE",
                            help=f"the schedule (default: {DEFAULT_SCHEDULE})")
    build.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, metavar="DIR",
                       help=f"where the site goes (default: {DEFAULT_OUTPUT})")
    build.add_argument("--only", nargs="+", metavar="NAME",
                       help="build only these reports (names from `oda-data reports list`)")
    build.add_argument("--demo", action="store_true", help="run the CRS reports on the bundled demonstration data "
                       "(invented activities, labelled as such)")
    build.add_argument("--jobs", type=whole_number(1), default=None, metavar="N",
                       help="reports run at the same time (default: the number of CPU cores)")
    build.add_argument("--timeout", type=whole_number(1), default=None, metavar="SECONDS",
                       help=f"time limit of a report whose entry gives none (default {DEFAULT_TIMEOUT_S})")
    build.add_argument("--force", action="store_true", help="rebuild reports even when nothing they depend on changed")
    build.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    build.set_defaults(handler=_errors_as_lines(_build_command))
    listing.set_defaults(handler=_errors_as_lines(_list_command))


def _errors_as_lines(command):
    """The command's expected errors as one ``error:`` line and an exit code, no traceback."""
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except (ScheduleError, BuildLockedError, OutputFolderError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except (OSError, SiteError) as error:  # SiteError: the reports are recorded, the site is the old one
            print(f"error: {os_error_line(error) if isinstance(error, OSError) else error}", file=sys.stderr)
            return 1
    return run


def _build_command(args: argparse.Namespace) -> int:
    result = build_reports(args.schedule, args.output, jobs=args.jobs, force=args.force, progress=args.progress,
                           only=args.only, demo=args.demo, timeout=args.timeout)
    for entry in result:
        if entry.status in PROBLEMS:
            kept = " (the last good page is kept)" if entry.status == "stale" else ""
            print(f"FAILED  {entry.name}: {entry.error}{kept}")
        elif entry.status == "skipped" and (not args.only or entry.name in args.only):
            print(f"skipped {entry.name}: {entry.reason}")
    counts = Counter(entry.status for entry in result)
    if all(entry.unchanged or entry.status == "skipped" for entry in result):
        skipped = f", {counts['skipped']} skipped" if counts.get("skipped") else ""
        print(f"nothing changed: {counts.get('ok', 0)} reports up to date{skipped} - site: {result.index_path}")
    else:
        print(", ".join(f"{counts[s]} {s}" for s in STATUSES if counts.get(s)) + f" - site: {result.index_path}")
    return result.exit_code


def _list_command(args: argparse.Namespace) -> int:
    schedule = load_schedule(args.schedule)
    width = max(len(entry.name) for entry in schedule)
    for entry in schedule:
        parameters = ", ".join(f"{key}={value}" for key, value in entry.parameters.items())
        needs = f" [needs {', '.join(entry.requires)}]" if entry.requires else ""
        print(f"{entry.name:<{width}}  {entry.group:<8}  {entry.title}{needs}")
        print(f"{'':<{width}}  {'':<8}  {entry.notebook}" + (f" ({parameters})" if parameters else ""))
    return 0
