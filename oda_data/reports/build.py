"""Build a schedule's reports: check, lock, plan, run in parallel, record, render.

The output folder gets the site and ``manifest.json``; everything else goes into the work folder
(:func:`~.manifest.work_folder`). A report whose key is unchanged since its last good build is not run again; every
file is moved into place when complete.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
from os import PathLike
from pathlib import Path

from .manifest import (CRS_SOURCE_ENV, CRS_SOURCE_PARAMETER, EXECUTED_DIR, FAILED_DIR, MANIFEST_NAME, PAGE_STATUSES,
                       BuildResult, EntryResult, crs_dataset, entry_key, git_commit, package_checksum,
                       packaged_datasets, read_previous, work_folder, write_manifest)
from .schedule import DEFAULT_SCHEDULE, DEFAULT_TIMEOUT_S, ReportEntry, Schedule, ScheduleError, load_schedule
from .site import render
from .worker import execute

#: Where the site goes by default (git-ignored).
DEFAULT_OUTPUT = Path("reports") / "build"
#: Held (in the work folder) while a build writes into the output folder.
LOCK_NAME = "build.lock"
#: The build's temporary folder, in the work folder.
TEMP_NAME = "tmp"


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class BuildLockedError(RuntimeError):
    """Another build is writing into the same output folder."""


class OutputFolderError(ValueError):
    """The output folder would overwrite the notebooks the build reads."""


def build_reports(schedule_path: str | PathLike = DEFAULT_SCHEDULE, output_dir: str | PathLike = DEFAULT_OUTPUT, *,
                  jobs: int | None = None, force: bool = False, progress: bool = True,
                  only: list[str] | None = None, demo: bool = False, timeout: int | None = None) -> BuildResult:
    """Build the reports of a schedule into ``output_dir``; the options are those of ``oda-data reports build``.
    With ``jobs > 1`` workers are spawned: call it under ``if __name__ == "__main__":`` in a script."""
    import filelock

    schedule = load_schedule(schedule_path)
    unknown = [name for name in only or [] if name not in schedule.names]
    if unknown:
        raise ScheduleError(f"{schedule.path}: no report named {', '.join(map(repr, unknown))}; "
                            f"valid names: {', '.join(schedule.names)}")
    for option, value in (("jobs", jobs), ("timeout", timeout)):
        if value is not None and value < 1:
            raise ValueError(f"{option}: expected a whole number >= 1, got {value!r}")
    output = Path(os.path.abspath(output_dir))
    check_output_folder(output, schedule)
    output.mkdir(parents=True, exist_ok=True)
    work = work_folder(output)
    work.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(work / LOCK_NAME, timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise BuildLockedError(f"{output}: another build is writing here (lock file {work / LOCK_NAME}); wait for "
                               "it to finish or pass another --output") from None
    temp = work / TEMP_NAME
    try:
        shutil.rmtree(temp, ignore_errors=True)  # under the lock: one found here is a killed build's
        temp.mkdir()
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return _Build(schedule, set(only or schedule.names), output, temp, force=force, demo=demo,
                      timeout=timeout or DEFAULT_TIMEOUT_S).run(jobs or cores, progress)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
        lock.release()


def check_output_folder(output: Path, schedule: Schedule) -> None:
    """Refuse an output folder that is, lies inside or contains a notebooks folder."""
    resolved = output.resolve()
    protected = {folder.resolve() for entry in schedule for folder in (entry.path.parent, entry.project / "notebooks")}
    projects = {entry.project.resolve() for entry in schedule}
    for folder in sorted(protected):
        # Inside the project root is fine (reports/build) even when a notebook lies there.
        inside = folder in resolved.parents and folder not in projects
        if resolved == folder or inside or resolved in folder.parents:
            raise OutputFolderError(f"{output}: the output folder may not be, lie inside or contain {folder} (the "
                                    "notebooks the reports are built from); pass another --output, e.g. "
                                    f"{DEFAULT_OUTPUT}")


def command_name() -> str:
    """How the user runs ``oda-data`` here: this environment's script, relative when inside cwd."""
    script = Path(os.path.abspath(Path(sys.executable).parent / "oda-data"))
    if not script.is_file():
        return "oda-data"
    return script.relative_to(Path.cwd()).as_posix() if script.is_relative_to(Path.cwd()) else str(script)


class _Build:
    """One build: the plan of each report, the runs, the records."""

    def __init__(self, schedule: Schedule, selected: set[str], output: Path, temp: Path, *, force: bool, demo: bool,
                 timeout: int):
        from .. import __version__

        self.schedule, self.selected, self.output, self.temp = schedule, selected, output, temp
        self.work = work_folder(output)
        self.force, self.demo, self.timeout = force, demo, timeout
        self.previous = read_previous(output / MANIFEST_NAME)
        self.context = {"package_version": __version__,
                        "git_commit": git_commit(schedule.entries[0].project), "generated_at": now()}
        self.package = package_checksum()
        self.datasets = packaged_datasets()
        self.results: dict[str, EntryResult] = {}

    def run(self, jobs: int, progress: bool) -> BuildResult:
        from tqdm import tqdm

        tasks = []
        for entry in self.schedule:
            planned = self._plan(entry)
            if isinstance(planned, EntryResult):
                self.results[entry.name] = planned
            else:
                tasks.append(planned)
        bar = tqdm(total=len(tasks), unit="report", desc="reports", file=sys.stderr, disable=not progress or not tasks,
                   dynamic_ncols=True)

        def record(task: dict, outcome: dict) -> None:
            self.results[task["name"]] = self._finish(task, outcome)
            bar.set_postfix_str(f"{task['name']}: {self.results[task['name']].status}")
            bar.update()
            self._write(complete=False)  # an interrupted build keeps what finished

        try:
            self._write(complete=False)
            execute(tasks, jobs, record)
        finally:
            bar.close()
        render(self.output, self._write(complete=True), self.work)
        return BuildResult([self.results[entry.name] for entry in self.schedule], self.output / "index.html")

    def _write(self, *, complete: bool) -> dict:
        entries = [self.results.get(entry.name) or self._pending(entry) for entry in self.schedule]
        return write_manifest(self.output, entries, self.context, complete=complete, folder=self.temp)

    def _base(self, entry: ReportEntry, parameters: dict, **fields) -> EntryResult:
        described = ("name", "title", "titled", "description", "group", "notebook")
        return EntryResult(**{name: getattr(entry, name) for name in described}, teaching=entry.group == "teaching",
                           parameters={**entry.defaults, **parameters}, given=dict(entry.parameters),
                           requires=list(entry.requires), package_version=self.context["package_version"],
                           git_commit=self.context["git_commit"], **fields)

    def _has_page(self, entry: ReportEntry) -> bool:  # a last good build to keep
        executed = self.work / EXECUTED_DIR / f"{entry.name}.ipynb"
        return executed.is_file() and self.previous.get(entry.name, {}).get("status") in PAGE_STATUSES

    def _pending(self, entry: ReportEntry) -> EntryResult:  # not finished yet
        if self._has_page(entry):
            return self._kept(entry)
        return self._base(entry, entry.parameters, status="skipped", reason="not built yet (build in progress)")

    def _plan(self, entry: ReportEntry) -> EntryResult | dict:
        """The final result (skipped, unchanged, not selected) or a task to run."""
        previous = self.previous.get(entry.name, {})
        parameters, env, demo = dict(entry.parameters), {}, False
        data = [self.datasets[name] for name in entry.data if name in self.datasets]
        if "crs" in entry.requires:
            source, demo = self._crs_source(entry)
            written = CRS_SOURCE_PARAMETER in entry.parameters
            if source is None:
                command = command_name()
                return self._base(entry, parameters, status="skipped", reason=(
                    f"needs OECD CRS data: run `{command} download crs --reduced`, then "
                    f"`{CRS_SOURCE_ENV}=<path> {command} reports build`; or "
                    f"`{command} reports build --demo` for pages on the demonstration data"))
            if demo:  # the notebook picks (and labels) the demonstration file itself
                env[CRS_SOURCE_ENV] = None
                parameters.pop(CRS_SOURCE_PARAMETER, None)
            else:
                parameters[CRS_SOURCE_PARAMETER] = str(source)
                if not written:
                    # The kernel runs in notebooks/: it sees the variable made absolute, equal
                    # to the parameter, so the page can say the file came from the variable.
                    env[CRS_SOURCE_ENV] = str(source)
            if not source.is_file():
                origin = f"parameter {CRS_SOURCE_PARAMETER}" if written else f"${CRS_SOURCE_ENV}"
                return self._base(entry, parameters, status="failed",
                                  error=f"CRS source {str(source)!r} (from {origin}) does not exist")
            data.append(crs_dataset(source, demo=demo, previous=previous.get("data")))
        key = entry_key(entry.path, parameters, package=self.package, data=[d["checksum"] for d in data],
                        crs_fingerprint=data[-1].get("fingerprint") if "crs" in entry.requires else None)
        kept = self._has_page(entry)
        current = kept and previous["status"] == "ok" and previous.get("key") == key
        if (current and not self.force) or (kept and entry.name not in self.selected):
            return self._kept(entry)
        if entry.name not in self.selected:
            return self._base(entry, parameters, status="skipped", reason="not built yet (not selected with --only)")
        return {"name": entry.name, "notebook_path": str(entry.path), "parameters": parameters,
                "executed": str(self.work / EXECUTED_DIR / f"{entry.name}.ipynb"),
                "failed_executed": str(self.work / EXECUTED_DIR / FAILED_DIR / f"{entry.name}.ipynb"),
                "temp_dir": str(self.temp), "env": env, "timeout": entry.timeout or self.timeout,
                "entry": entry, "key": key, "data": data, "demo": demo}

    def _kept(self, entry: ReportEntry) -> EntryResult:
        """A report not run in this build: its last good build, as recorded."""
        previous = self.previous[entry.name]
        recorded = {name: previous.get(name) for name in ("status", "key", "built_at", "duration_s", "error")}
        return self._base(entry, previous["parameters"], **recorded, data=previous.get("data", []), unchanged=True,
                          demo=previous.get("demo", False), executed=f"{EXECUTED_DIR}/{entry.name}.ipynb")

    def _crs_source(self, entry: ReportEntry) -> tuple[Path | None, bool]:
        if self.demo:
            from ..crs.demo import DEMO_PATH

            return DEMO_PATH, True
        written = entry.parameters.get(CRS_SOURCE_PARAMETER)
        if written:
            path = Path(str(written)).expanduser()
            return (path if path.is_absolute() else (entry.project / path).resolve()), False
        from_env = os.environ.get(CRS_SOURCE_ENV, "").strip()
        return (Path(from_env).expanduser().resolve() if from_env else None), False

    def _finish(self, task: dict, outcome: dict) -> EntryResult:
        entry: ReportEntry = task["entry"]
        failed = f"{EXECUTED_DIR}/{FAILED_DIR}/{entry.name}.ipynb" if outcome["failed_executed"] else None
        if outcome["status"] == "ok":
            return self._base(entry, task["parameters"], status="ok", data=task["data"], key=task["key"],
                              built_at=now(), duration_s=outcome["duration_s"], demo=task["demo"],
                              executed=f"{EXECUTED_DIR}/{entry.name}.ipynb")
        if self._has_page(entry):  # the last good page is kept, marked stale, with this error
            return self._kept(entry).model_copy(update={
                "status": "stale", "error": outcome["error"], "failed_executed": failed, "unchanged": False})
        return self._base(entry, task["parameters"], status="failed", error=outcome["error"], data=task["data"],
                          built_at=now(), duration_s=outcome["duration_s"], failed_executed=failed, demo=task["demo"])
