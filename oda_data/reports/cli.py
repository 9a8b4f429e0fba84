"""``oda-data reports build`` and ``oda-data reports list``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..cli import help_handler, whole_number
from .build import DEFAULT_OUTPUT, BuildLockedError, build_reports
from .manifest import STATUSES
from .schedule import DEFAULT_SCHEDULE, ScheduleError


def register(subparsers) -> None:
    """Add ``oda-data reports build`` to the ``oda-data`` command."""
    reports = subparsers.add_parser(
        "reports", help="build the scheduled HTML reports",
        description="Scheduled reports built from the notebooks (see reports/README.md).",
    )
    reports.set_defaults(handler=help_handler(reports))
    actions = reports.add_subparsers(dest="reports_action", metavar="ACTION")
    build = actions.add_parser(
        "build", help="run every report of the schedule and write pages, index and manifest",
        description="Run every report of the schedule with papermill and write <name>.html, "
        "<name>.ipynb, index.html and manifest.json to the output folder. Reports whose "
        "notebook, parameters, data and package version are unchanged are not run again.",
    )
    build.add_argument("--schedule", type=Path, default=DEFAULT_SCHEDULE, metavar="FILE",
                       help=f"the schedule (default: {DEFAULT_SCHEDULE})")
    build.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, metavar="DIR",
                       help=f"where the pages go (default: {DEFAULT_OUTPUT})")
    build.add_argument("--jobs", type=whole_number(1), default=None, metavar="N",
                       help="reports run at the same time (default: the number of CPU cores)")
    build.add_argument("--force", action="store_true",
                       help="rebuild reports even when nothing they depend on changed")
    build.add_argument("--no-progress", dest="progress", action="store_false",
                       help="no progress bar")
    build.set_defaults(handler=_build_command)


def _build_command(args: argparse.Namespace) -> int:
    try:
        result = build_reports(args.schedule, args.output, jobs=args.jobs, force=args.force,
                               progress=args.progress)
    except (ScheduleError, BuildLockedError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for entry in result:
        if entry.status == "failed":
            print(f"FAILED  {entry.name}: {entry.error}")
        elif entry.status == "skipped":
            print(f"skipped {entry.name}: {entry.message}")
    counts = result.counts
    print(", ".join(f"{counts[s]} {s}" for s in STATUSES if counts.get(s))
          + f" - index: {result.index_path}")
    return result.exit_code
