"""Scheduled reports: schedule -> papermill runs -> manifest -> reports site.

A schedule (``reports/schedule.yaml``) lists the reports to build; each entry
names a notebook and the parameters to run it with. The modules, in the
order a build uses them:

* :mod:`.schedule` - read and validate the schedule (:func:`load_schedule`);
* :mod:`.build` - check the output folder, lock it, plan, run, record (:func:`build_reports`);
* :mod:`.worker` - run one notebook with papermill in a worker process;
* :mod:`.manifest` - provenance, the skip key and ``manifest.json``;
* :mod:`.site`, :mod:`.page` - the reports site rendered from the manifest (Jinja2
  templates in ``templates/``);
* :mod:`.cli` - ``oda-data reports build`` and ``oda-data reports list``.

``reports/README.md`` explains scheduling.
"""
from __future__ import annotations

from .build import (DEFAULT_OUTPUT, LOCK_NAME, BuildLockedError, OutputFolderError, build_reports,
                    read_manifest)
from .manifest import (CRS_SOURCE_ENV, CRS_SOURCE_PARAMETER, EXECUTED_DIR, KERNEL_NAME,
                       MANIFEST_NAME, STATUSES, BuildResult, EntryResult, entry_key,
                       work_folder)
from .schedule import (DEFAULT_SCHEDULE, GROUPS, ReportEntry, Schedule, ScheduleError,
                       load_schedule)

__all__ = [
    "CRS_SOURCE_ENV", "CRS_SOURCE_PARAMETER", "DEFAULT_OUTPUT", "DEFAULT_SCHEDULE", "EXECUTED_DIR",
    "GROUPS", "KERNEL_NAME", "LOCK_NAME", "MANIFEST_NAME", "STATUSES", "BuildLockedError",
    "BuildResult", "EntryResult", "OutputFolderError", "ReportEntry", "Schedule", "ScheduleError",
    "build_reports", "entry_key", "load_schedule", "read_manifest", "work_folder",
]
