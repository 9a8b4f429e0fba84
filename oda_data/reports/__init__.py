"""Scheduled reports: schedule -> papermill runs -> manifest -> reports site (reports/README.md)."""
from .build import build_reports
from .manifest import entry_key, work_folder
from .schedule import ScheduleError, load_schedule

__all__ = ["ScheduleError", "build_reports", "entry_key", "load_schedule", "work_folder"]
