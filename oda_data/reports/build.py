"""Build every report of a schedule: plan, lock, run in parallel, record."""
from __future__ import annotations

import json
import sys
from collections import Counter
from os import PathLike
from pathlib import Path

from .._files import TEMP_SUFFIX as _TEMP_SUFFIX, atomic_write
from ._text import now as _now
from .manifest import (CRS_SOURCE_ENV, CRS_SOURCE_PARAMETER, MANIFEST_FORMAT, BuildResult, EntryResult,
                       _BUILT_STATUSES, _read_previous_manifest, crs_source_for, entry_key,
                       source_fingerprint)
from .schedule import (DEFAULT_SCHEDULE, INDEX_NAME, MANIFEST_NAME, ReportEntry, Schedule,
                       load_schedule, search_folders)
from .pages import render_index
from .worker import _execute

#: Where the pages go by default (git-ignored).
DEFAULT_OUTPUT = Path("reports") / "build"
#: How to get CRS data, shown for ``requires: crs`` entries that cannot run.
CRS_HOWTO = (
    f"needs OECD CRS data: run `oda-data download crs --reduced`, then "
    f"`{CRS_SOURCE_ENV}=<path> oda-data reports build`"
)
#: Held while a build writes into the output folder.
LOCK_NAME = ".build.lock"


class BuildLockedError(RuntimeError):
    """Another build is writing into the same output folder."""



def build_reports(
    schedule_path: str | PathLike = DEFAULT_SCHEDULE,
    output_dir: str | PathLike = DEFAULT_OUTPUT,
    *,
    jobs: int | None = None,
    force: bool = False,
    progress: bool = True,
) -> BuildResult:
    """Build every report of a schedule into ``output_dir``.

    Parameters
    ----------
    schedule_path : path-like, default ``reports/schedule.yaml``
        The schedule (see :func:`load_schedule`).
    output_dir : path-like, default ``reports/build``
        Created when missing; receives ``<name>.ipynb``, ``<name>.html``,
        ``index.html`` and ``manifest.json``.
    jobs : int, optional
        Reports executed at the same time (default: the number of CPU cores).
        With 1 everything runs in this process.
    force : bool, default False
        Rebuild reports whose inputs are unchanged since their last successful build.
    progress : bool, default True
        Show a progress bar (tqdm, on stderr).

    Returns
    -------
    BuildResult
        A failed report never stops the others; check ``result.exit_code``.

    Raises
    ------
    ScheduleError
        When the schedule is invalid (nothing is run then).
    BuildLockedError
        When another build is writing into ``output_dir``.
    KeyboardInterrupt
        After Ctrl-C, once the reports already running are recorded.

    Notes
    -----
    With ``jobs > 1`` reports run in worker processes started with
    multiprocessing's "spawn" method, which imports the calling script again:
    in a script, call this under ``if __name__ == "__main__":``.
    """
    import filelock

    schedule = load_schedule(schedule_path)
    if jobs is not None and jobs < 1:
        raise ValueError(f"jobs: expected a whole number >= 1, got {jobs!r}")
    output_dir = Path(output_dir).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    # Two builds into one folder would remove each other's temporary files and
    # interleave manifests: the second one stops with a clear message.
    lock = filelock.FileLock(output_dir / LOCK_NAME, timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise BuildLockedError(
            f"{output_dir}: another build is writing here (lock file {LOCK_NAME}); wait for "
            "it to finish or pass another --output"
        ) from None
    try:
        return _build_locked(schedule, output_dir, jobs=jobs, force=force, progress=progress)
    finally:
        lock.release()


def _build_locked(
    schedule: Schedule, output_dir: Path, *, jobs: int | None, force: bool, progress: bool
) -> BuildResult:
    from tqdm import tqdm

    from .. import __version__
    from ..white_paper import data_checksum

    _remove_stale_temp_files(output_dir)
    previous = _read_previous_manifest(output_dir / MANIFEST_NAME)
    context = {
        "data_checksum": data_checksum(),
        "package_version": __version__,
        "schedule": str(schedule.path),
    }
    folders = search_folders(schedule.path)

    results: dict[str, EntryResult] = {}
    tasks: list[dict] = []
    for entry in schedule:
        planned = _plan_entry(entry, folders, previous.get(entry.name), context, output_dir,
                              force)
        if isinstance(planned, EntryResult):
            results[entry.name] = planned
        else:
            tasks.append(planned)

    build = _BuildFiles(schedule, output_dir, previous, context)
    bar = tqdm(total=len(schedule), initial=len(results), unit="report", desc="reports",
               file=sys.stderr, disable=not progress, dynamic_ncols=True)

    def record(task: dict, outcome: dict) -> None:
        results[task["name"]] = _finish(task, outcome)
        bar.set_postfix_str(f"{task['name']}: {results[task['name']].status}")
        bar.update()
        build.write(results)  # an interrupted build keeps what finished

    try:
        build.write(results)
        _execute(tasks, jobs, record)
    finally:
        bar.close()
    ordered = [results[entry.name] for entry in schedule]
    build.write(results, complete=True)
    return BuildResult(ordered, output_dir, output_dir / INDEX_NAME, output_dir / MANIFEST_NAME)


def _plan_entry(
    entry: ReportEntry,
    folders: list[Path],
    previous: dict | None,
    context: dict,
    output_dir: Path,
    force: bool,
) -> EntryResult | dict:
    """Either the final result (skipped, unchanged, bad CRS source) or a task to execute."""
    parameters = dict(entry.parameters)
    base = dict(name=entry.name, notebook=entry.notebook, requires=list(entry.requires),
                data_checksum=context["data_checksum"],
                package_version=context["package_version"])
    crs_fingerprint = None
    if "crs" in entry.requires:
        source = crs_source_for(entry, folders)
        if source is None:
            return EntryResult(parameters=parameters, status="skipped", message=CRS_HOWTO, **base)
        parameters[CRS_SOURCE_PARAMETER] = str(source)
        if not source.exists():
            origin = (f"parameter {CRS_SOURCE_PARAMETER}" if CRS_SOURCE_PARAMETER in entry.parameters
                      else f"${CRS_SOURCE_ENV}")
            return EntryResult(parameters=parameters, status="failed",
                               error=f"CRS source {str(source)!r} (from {origin}) does not exist",
                               **base)
        crs_fingerprint = source_fingerprint(source)
    key = entry_key(entry.path, parameters, data_checksum=context["data_checksum"],
                    package_version=context["package_version"], crs_fingerprint=crs_fingerprint)
    if not force and previous and _still_current(previous, key, output_dir):
        return EntryResult(
            parameters=parameters, status="unchanged", crs_source=crs_fingerprint, key=key,
            duration_s=previous.get("duration_s"), built_at=previous.get("built_at"),
            html=previous["html"], executed_notebook=previous["executed_notebook"],
            message=f"skipped (unchanged since {previous.get('built_at') or 'the last build'})",
            **base,
        )
    return {"name": entry.name, "notebook_path": str(entry.path), "parameters": parameters,
            "output_dir": str(output_dir), "base": base, "key": key,
            "crs_source": crs_fingerprint}


def _still_current(previous: dict, key: str, output_dir: Path) -> bool:
    """The previous build of this entry is current and its pages are still there."""
    return (
        previous.get("status") in _BUILT_STATUSES
        and previous.get("key") == key
        and bool(previous.get("html")) and (output_dir / previous["html"]).is_file()
        and bool(previous.get("executed_notebook"))
        and (output_dir / previous["executed_notebook"]).is_file()
    )


def _finish(task: dict, outcome: dict) -> EntryResult:
    return EntryResult(
        parameters=task["parameters"], key=task["key"] if outcome["status"] == "ok" else None,
        crs_source=task["crs_source"], built_at=_now(), **task["base"], **outcome,
    )



def _remove_stale_temp_files(output_dir: Path) -> None:
    """Remove our temporary files left by an interrupted build (never anyone else's)."""
    for pattern in (f".*{_TEMP_SUFFIX}", f".*{_TEMP_SUFFIX}.ipynb"):
        for stale in output_dir.glob(pattern):
            if stale.is_file():
                stale.unlink(missing_ok=True)


class _BuildFiles:
    """Writes manifest.json and index.html for the results known so far."""

    def __init__(self, schedule: Schedule, output_dir: Path, previous: dict, context: dict):
        self.schedule, self.output_dir = schedule, output_dir
        self.previous, self.context = previous, context

    def write(self, results: dict[str, EntryResult], *, complete: bool = False) -> None:
        records = []
        for entry in self.schedule:
            if entry.name in results:
                records.append(results[entry.name].to_record())
            elif entry.name in self.previous:
                # Not finished yet: its files on disk are still the previous build's.
                records.append(self.previous[entry.name])
            else:
                records.append({"name": entry.name, "notebook": entry.notebook,
                                "parameters": entry.parameters, "status": "pending"})
        manifest = {
            "manifest_format": MANIFEST_FORMAT,
            "complete": complete,
            "generated_at": _now(),
            **self.context,
            "counts": dict(Counter(record["status"] for record in records)),
            "reports": records,
        }
        atomic_write(self.output_dir / MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n")
        shown = [results.get(entry.name) or EntryResult(
            name=entry.name, notebook=entry.notebook, parameters=entry.parameters,
            status="pending") for entry in self.schedule]
        atomic_write(self.output_dir / INDEX_NAME,
                     render_index(shown, context=self.context, complete=complete))

