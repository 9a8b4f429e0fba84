"""Scheduled reports: schedule -> papermill runs -> pages, index, manifest.

A schedule (``reports/schedule.yaml``) lists the reports to build; each entry
names a notebook and the parameters to run it with. The modules, in the
order a build uses them:

* :mod:`.schedule` - read and validate the schedule (:func:`load_schedule`);
* :mod:`.build` - plan, lock the output folder, run, record (:func:`build_reports`);
* :mod:`.worker` - run one notebook with papermill in a worker process;
* :mod:`.manifest` - the skip key and ``manifest.json``;
* :mod:`.pages` - the HTML pages and index;
* :mod:`.cli` - ``oda-data reports build`` and ``oda-data reports list``.

``reports/README.md`` explains scheduling.
"""
from __future__ import annotations

from .._files import atomic_write
from .build import DEFAULT_OUTPUT, LOCK_NAME, BuildLockedError, build_reports
from .cli import register
from .manifest import (CRS_SOURCE_ENV, CRS_SOURCE_PARAMETER, KERNEL_NAME, STATUSES, BuildResult,
                       EntryResult, entry_key)
from .pages import export_html, render_index
from .schedule import DEFAULT_SCHEDULE, ReportEntry, Schedule, ScheduleError, load_schedule

__all__ = [
    "CRS_SOURCE_ENV", "CRS_SOURCE_PARAMETER", "DEFAULT_OUTPUT", "DEFAULT_SCHEDULE", "KERNEL_NAME",
    "LOCK_NAME", "STATUSES", "BuildLockedError", "BuildResult", "EntryResult", "ReportEntry",
    "Schedule", "ScheduleError", "atomic_write", "build_reports", "entry_key", "export_html",
    "load_schedule", "register", "render_index",
]
