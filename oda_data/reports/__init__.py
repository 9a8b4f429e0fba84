"""Scheduled reports: schedule -> papermill runs -> manifest -> reports site (reports/README.md)."""
from __future__ import annotations

from .build import DEFAULT_OUTPUT, LOCK_NAME, BuildLockedError, OutputFolderError, build_reports
from .manifest import (CRS_SOURCE_ENV, CRS_SOURCE_PARAMETER, EXECUTED_DIR, KERNEL_NAME,
                       MANIFEST_NAME, STATUSES, BuildResult, EntryResult, entry_key,
                       work_folder)
from .schedule import (DEFAULT_SCHEDULE, GROUPS, ReportEntry, Schedule, ScheduleError,
                       load_schedule)

__all__ = [
    "CRS_SOURCE_ENV", "CRS_SOURCE_PARAMETER", "DEFAULT_OUTPUT", "DEFAULT_SCHEDULE", "EXECUTED_DIR",
    "GROUPS", "KERNEL_NAME", "LOCK_NAME", "MANIFEST_NAME", "STATUSES", "BuildLockedError",
    "BuildResult", "EntryResult", "OutputFolderError", "ReportEntry", "Schedule", "ScheduleError",
    "build_reports", "entry_key", "load_schedule", "work_folder",
]
