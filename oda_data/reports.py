"""Scheduled reports: schedule -> papermill runs -> HTML pages, index, manifest.

A schedule (``reports/schedule.yaml``) lists the reports to build; each entry
names a notebook and the parameters to run it with::

    reports:
      - name: overview-usd
        notebook: notebooks/security_overview.ipynb
        parameters: {currency: USD, prices: current}
      - name: crs-security-trends
        notebook: notebooks/crs_security_trends.ipynb
        requires: crs

:func:`build_reports` executes every entry with papermill (in parallel, one
kernel per entry, the kernel's working folder being the notebook's folder) and
writes, into the output folder:

* ``<name>.ipynb`` - the executed notebook (kept on failure, with the error);
* ``<name>.html`` - the page, without code cells or prompts;
* ``index.html`` - one self-contained page linking every report;
* ``manifest.json`` - what was built from what (parameters, status, duration,
  data checksum, package version and the key used to skip unchanged reports).

An entry whose notebook, parameters, data and package version are unchanged
since its last successful build is not run again (unless ``force``). Every file
is written to a temporary file in the same folder and moved into place, so an
interrupted build leaves no half-written page. ``oda-data reports build`` is
the command-line face of :func:`build_reports`; ``reports/README.md`` explains
scheduling.
"""
from __future__ import annotations

import argparse
import contextlib
import concurrent.futures
import datetime as dt
import glob
import hashlib
import html
import json
import math
import multiprocessing
import os
import re
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, Callable, Iterator

from ._files import TEMP_SUFFIX, atomic_write, publish, temporary_beside
from .cli import help_handler, whole_number

#: Where ``oda-data reports build`` looks for the schedule (relative to the current folder).
DEFAULT_SCHEDULE = Path("reports") / "schedule.yaml"
#: Where the pages go by default (git-ignored).
DEFAULT_OUTPUT = Path("reports") / "build"
#: Every report runs on this Jupyter kernel.
KERNEL_NAME = "python3"
#: Environment variable naming the CRS source for ``requires: crs`` entries.
CRS_SOURCE_ENV = "ODA_CRS_SOURCE"
#: Parameter through which ``requires: crs`` entries receive the CRS source.
CRS_SOURCE_PARAMETER = "crs_source"
#: How to get CRS data, shown for ``requires: crs`` entries that cannot run.
CRS_HOWTO = (
    f"needs OECD CRS data: run `oda-data download crs --reduced`, then "
    f"`{CRS_SOURCE_ENV}=<path> oda-data reports build`"
)
INDEX_NAME = "index.html"
MANIFEST_NAME = "manifest.json"
#: Held while a build writes into the output folder.
LOCK_NAME = ".build.lock"
#: Version of the manifest layout (bump when fields change meaning).
MANIFEST_FORMAT = 1

#: Status of an entry: built now, failed, not run (missing requirement), not
#: run because nothing it depends on changed; ``pending`` only appears in the
#: files written while a build is still running.
STATUSES = ("ok", "failed", "skipped", "unchanged")
_BUILT_STATUSES = ("ok", "unchanged")

_ENTRY_FIELDS = ("name", "notebook", "parameters", "requires")
_TOP_LEVEL_FIELDS = ("reports",)
#: What an entry may require, and why.
REQUIREMENTS = {"crs": "an OECD CRS source (entry parameter crs_source or $ODA_CRS_SOURCE)"}
# A name becomes <name>.html and <name>.ipynb: keep it portable and unambiguous.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_RESERVED_NAMES = {Path(INDEX_NAME).stem, Path(MANIFEST_NAME).stem}
_GLOB_CHARS = re.compile(r"[*?\[]")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Our temporary files: ".<target>.<random>.tmp" (and ".tmp.ipynb" for papermill,
# which wants a notebook suffix); cleaned at the start of every build.
_TEMP_SUFFIX = TEMP_SUFFIX


class ScheduleError(ValueError):
    """The schedule cannot be used; the message names the file, entry and field."""


class BuildLockedError(RuntimeError):
    """Another build is writing into the same output folder."""


# --------------------------------------------------------------------------- schedule


@dataclass(frozen=True)
class ReportEntry:
    """One report of a schedule.

    Attributes
    ----------
    name : str
        Unique, file-safe name; the pages are ``<name>.html`` and ``<name>.ipynb``.
    notebook : str
        The notebook as written in the schedule (a glob entry: the matched path).
    path : Path
        The notebook's resolved absolute path.
    parameters : dict
        Parameters passed to papermill, as written in the schedule.
    requires : tuple of str
        Requirements (keys of :data:`REQUIREMENTS`), e.g. ``("crs",)``.
    index : int
        Position of the entry in the schedule's ``reports`` list (0-based).
    """

    name: str
    notebook: str
    path: Path
    parameters: dict = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    index: int = 0


@dataclass(frozen=True)
class Schedule:
    """A validated schedule: its file and its entries in schedule order."""

    path: Path
    entries: tuple[ReportEntry, ...]

    def __iter__(self) -> Iterator[ReportEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


def search_folders(schedule_path: str | PathLike) -> list[Path]:
    """Folders against which the schedule's relative paths are resolved, in order.

    The current folder first (``make reports`` and ``oda-data reports build``
    run from the project root), then the folder above the schedule's folder
    (the project root when the schedule is ``<root>/reports/schedule.yaml``),
    then the schedule's own folder. The first folder where the path exists wins.
    """
    schedule_folder = Path(schedule_path).resolve().parent
    folders: list[Path] = []
    for folder in (Path.cwd().resolve(), schedule_folder.parent, schedule_folder):
        if folder not in folders:
            folders.append(folder)
    return folders


def load_schedule(path: str | PathLike = DEFAULT_SCHEDULE, *, check_files: bool = True) -> Schedule:
    """Read and validate a schedule file.

    Parameters
    ----------
    path : path-like
        The YAML schedule (read with ``yaml.safe_load``).
    check_files : bool, default True
        Require every notebook to exist. With False, entries whose notebook is
        missing are kept (their ``path`` is where it would be under the first
        search folder) and a glob entry expands to the notebooks that exist.

    Returns
    -------
    Schedule

    Raises
    ------
    ScheduleError
        Listing every problem, each naming the file, the entry (index and
        name) and the field: unknown keys, missing notebooks, duplicate or
        unsafe names, parameters that are not a mapping of identifiers to
        plain values, unknown requirements.

    Notes
    -----
    Relative notebook paths are resolved against :func:`search_folders`. An
    entry whose ``notebook`` is a glob (``notebooks/teaching/*.ipynb``) becomes
    one report per matching notebook, named ``<name>-<notebook stem>``.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ScheduleError(
            f"{path}: no schedule file here (looked for {path.resolve()}); run from the "
            "project root or pass --schedule FILE"
        )
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ScheduleError(f"{path}: not valid YAML ({_one_line(str(error))})") from None
    except UnicodeDecodeError as error:
        raise ScheduleError(f"{path}: not UTF-8 text ({error})") from None

    if not isinstance(document, dict):
        raise ScheduleError(
            f"{path}: expected a mapping with a 'reports' list at the top, got "
            f"{_type_name(document)}"
        )
    problems: list[str] = []
    unknown = sorted(set(map(str, document)) - set(_TOP_LEVEL_FIELDS))
    if unknown:
        problems.append(f"unknown top-level field(s) {unknown}; valid: {list(_TOP_LEVEL_FIELDS)}")
    listed = document.get("reports")
    if not isinstance(listed, list) or not listed:
        problems.append(
            f"field 'reports': expected a non-empty list of entries, got {_type_name(listed)}"
        )
        listed = []

    folders = search_folders(path)
    entries: list[ReportEntry] = []
    for index, raw in enumerate(listed):
        entries.extend(_parse_entry(index, raw, folders, check_files, problems))

    seen: dict[str, ReportEntry] = {}
    for entry in entries:
        # Case-insensitive: the pages must not overwrite each other on macOS or Windows.
        other = seen.setdefault(entry.name.lower(), entry)
        if other is not entry:
            problems.append(
                f"{_where(entry.index, entry.name)}, field 'name': duplicate name, already used "
                f"by {_where(other.index, other.name)}"
            )
    if problems:
        raise ScheduleError(f"{path}: " + "\n  ".join(["invalid schedule:", *problems]))
    return Schedule(path=path, entries=tuple(entries))


def _parse_entry(
    index: int, raw: Any, folders: list[Path], check_files: bool, problems: list[str]
) -> list[ReportEntry]:
    if not isinstance(raw, dict):
        problems.append(f"{_where(index, None)}: expected a mapping with name and notebook, "
                        f"got {_type_name(raw)}")
        return []
    name = raw.get("name")
    where = _where(index, name if isinstance(name, str) else None)
    before = len(problems)

    unknown = sorted(set(map(str, raw)) - set(_ENTRY_FIELDS))
    if unknown:
        problems.append(f"{where}: unknown field(s) {unknown}; valid: {list(_ENTRY_FIELDS)}")
    if not isinstance(name, str) or not name:
        problems.append(f"{where}, field 'name': expected a text name, got {_type_name(name)}")
    notebook = raw.get("notebook")
    if not isinstance(notebook, str) or not notebook.strip():
        problems.append(
            f"{where}, field 'notebook': expected the path of a notebook, got {_type_name(notebook)}"
        )
    parameters = raw.get("parameters", {})
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        problems.append(
            f"{where}, field 'parameters': expected a mapping (name: value), got "
            f"{_type_name(parameters)}"
        )
        parameters = {}
    for key, value in parameters.items():
        if not isinstance(key, str) or not key.isidentifier():
            problems.append(
                f"{where}, field 'parameters': name {key!r} is not a valid Python variable name"
            )
        elif (problem := _plain_value_problem(value)) is not None:
            problems.append(f"{where}, field 'parameters', parameter {key!r}: {problem}")
    requires = raw.get("requires", ())
    if isinstance(requires, str):
        requires = (requires,)
    if not isinstance(requires, (list, tuple)) or not all(isinstance(r, str) for r in requires):
        problems.append(f"{where}, field 'requires': expected a name or a list of names "
                        f"from {sorted(REQUIREMENTS)}, got {_type_name(requires)}")
        requires = ()
    for requirement in requires:
        if requirement not in REQUIREMENTS:
            problems.append(f"{where}, field 'requires': unknown requirement {requirement!r}; "
                            f"valid: {sorted(REQUIREMENTS)}")
    if len(problems) > before:
        return []

    notebooks = _resolve_notebooks(notebook, folders)
    if not notebooks:
        tried = ", ".join(str(folder) for folder in folders)
        if check_files:
            what = "matches no notebook" if _GLOB_CHARS.search(notebook) else "not found"
            problems.append(f"{where}, field 'notebook': {notebook!r} {what} (looked in {tried})")
            return []
        if _GLOB_CHARS.search(notebook):
            return []
        notebooks = [(notebook, folders[0] / notebook)]
    is_glob = bool(_GLOB_CHARS.search(notebook))
    entries = []
    for written, resolved in notebooks:
        entry_name = f"{name}-{Path(written).stem}" if is_glob else name
        if not _SAFE_NAME.match(entry_name) or entry_name.lower() in _RESERVED_NAMES:
            problems.append(
                f"{_where(index, entry_name)}, field 'name': {entry_name!r} is not a safe file "
                "name (letters, digits, '.', '_' and '-', starting with a letter or digit, at "
                f"most 100 characters, not {sorted(_RESERVED_NAMES)})"
            )
            continue
        if resolved.suffix != ".ipynb":
            problems.append(f"{where}, field 'notebook': {written!r} is not a .ipynb notebook")
            continue
        entries.append(ReportEntry(
            name=entry_name, notebook=written, path=resolved, parameters=dict(parameters),
            requires=tuple(dict.fromkeys(requires)), index=index,
        ))
    return entries


def _resolve_notebooks(notebook: str, folders: list[Path]) -> list[tuple[str, Path]]:
    """(path as written, absolute path) of the notebook(s), from the first folder that has them."""
    written = Path(notebook).expanduser()
    if not _GLOB_CHARS.search(notebook):
        candidates = [written] if written.is_absolute() else [folder / written for folder in folders]
        for candidate in candidates:
            if candidate.is_file():
                return [(notebook, candidate.resolve())]
        return []
    for folder in ([None] if written.is_absolute() else folders):
        # glob.glob skips hidden files, so .ipynb_checkpoints copies never match.
        matches = sorted(glob.glob(notebook, root_dir=folder, recursive=True))
        matches = [m for m in matches if m.endswith(".ipynb") and ".ipynb_checkpoints" not in m]
        if matches:
            base = folder or Path("/")
            return [(match, (base / match).resolve()) for match in matches]
    return []


def _plain_value_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a notebook parameter (None when it can)."""
    if value is None or isinstance(value, (str, bool, int)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"expected a finite number, got {value!r}"
    if isinstance(value, list):
        return next(filter(None, map(_plain_value_problem, value)), None)
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            return "expected text keys in a mapping value"
        return next(filter(None, map(_plain_value_problem, value.values())), None)
    return (f"expected text, a number, true/false, null or a list/mapping of those, got "
            f"{_type_name(value)} {value!r} (quote it to pass it as text)")


def _where(index: int, name: str | None) -> str:
    return f"reports[{index}]" + (f" ({name!r})" if name else " (no name)")


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "text"}.get(type(value), type(value).__name__)


# --------------------------------------------------------------------------- keys


def crs_source_for(entry: ReportEntry, folders: list[Path] | None = None) -> Path | None:
    """The CRS source an entry reads: its ``crs_source`` parameter, else ``$ODA_CRS_SOURCE``.

    Relative paths become absolute (the kernel runs in the notebook's folder):
    the parameter against ``folders`` (see :func:`search_folders`; the first
    where it exists), the environment variable against the current folder.
    Returns None when neither is set.
    """
    written = entry.parameters.get(CRS_SOURCE_PARAMETER)
    if written:
        path = Path(str(written)).expanduser()
        if path.is_absolute():
            return path
        for folder in folders or [Path.cwd()]:
            if (folder / path).exists():
                return (folder / path).resolve()
        return (Path.cwd() / path).resolve()
    from_env = os.environ.get(CRS_SOURCE_ENV, "").strip()
    return Path(from_env).expanduser().resolve() if from_env else None


def source_fingerprint(path: str | PathLike) -> dict:
    """Path, size and modification time of a data source (cheap to compute, changes with it)."""
    stat = Path(path).stat()
    return {"path": str(Path(path).resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def entry_key(
    notebook: str | PathLike,
    parameters: dict,
    *,
    data_checksum: str,
    package_version: str,
    crs_fingerprint: dict | None = None,
) -> str:
    """SHA-256 identifying one build of a report; unchanged key -> the page is still current.

    Covers the notebook's bytes, the parameters (canonical JSON), the White
    Paper data checksum, the CRS source's fingerprint (``requires: crs``
    entries) and the package version. Code changes without a version bump are
    not seen: rebuild with ``force`` then.
    """
    notebook_digest = hashlib.sha256(Path(notebook).read_bytes()).hexdigest()
    payload = {
        "notebook_sha256": notebook_digest,
        "parameters": parameters,
        "data_checksum": data_checksum,
        "crs_source": crs_fingerprint,
        "package_version": package_version,
        "kernel": KERNEL_NAME,
    }
    return hashlib.sha256(_canonical_json(payload).encode("utf-8")).hexdigest()


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------- results


@dataclass
class EntryResult:
    """What happened to one report in a build (one record of ``manifest.json``).

    ``html`` and ``executed_notebook`` are file names inside the output folder
    (None when not produced). ``error`` is one line, ``ename: evalue`` for an
    exception raised in the notebook. ``message`` explains a skip.
    """

    name: str
    notebook: str
    parameters: dict
    status: str
    requires: list = field(default_factory=list)
    duration_s: float | None = None
    error: str | None = None
    message: str | None = None
    html: str | None = None
    executed_notebook: str | None = None
    built_at: str | None = None
    key: str | None = None
    data_checksum: str | None = None
    package_version: str | None = None
    crs_source: dict | None = None

    def to_record(self) -> dict:
        return asdict(self)


@dataclass
class BuildResult:
    """Results of :func:`build_reports`, in schedule order; iterate for the entries."""

    entries: list[EntryResult]
    output_dir: Path
    index_path: Path
    manifest_path: Path

    def __iter__(self) -> Iterator[EntryResult]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, name: str) -> EntryResult:
        """The result of the report called ``name``."""
        for entry in self.entries:
            if entry.name == name:
                return entry
        raise KeyError(f"no report named {name!r}; built: {[e.name for e in self.entries]}")

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(entry.status for entry in self.entries))

    @property
    def failed(self) -> list[EntryResult]:
        return [entry for entry in self.entries if entry.status == "failed"]

    @property
    def exit_code(self) -> int:
        """0 unless a report failed (skipped ``requires`` entries do not count)."""
        return 1 if self.failed else 0


# --------------------------------------------------------------------------- build


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

    from . import __version__
    from .white_paper import data_checksum

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


def _execute(tasks: list[dict], jobs: int | None, record: Callable[[dict, dict], None]) -> None:
    """Run the tasks, calling ``record(task, outcome)`` as each finishes.

    On Ctrl-C no new report starts; the running ones finish and are recorded,
    then KeyboardInterrupt is raised again. A second Ctrl-C stops them at once.
    """
    if not tasks:
        return
    jobs = min(jobs or _cpu_count(), len(tasks))
    if jobs == 1:
        for task in tasks:
            record(task, run_report(task))
        return
    # "spawn": fresh workers, no state forked from a parent holding threads
    # (tqdm's monitor); papermill starts one kernel process per report anyway.
    # Workers ignore Ctrl-C: the parent decides (see above).
    executor = concurrent.futures.ProcessPoolExecutor(
        max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
        initializer=_ignore_interrupts,
    )
    futures = {executor.submit(run_report, task): task for task in tasks}
    unrecorded, interrupted = set(futures), False
    try:
        while unrecorded:
            try:
                done, _ = concurrent.futures.wait(
                    unrecorded, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    record(futures[future], _outcome(future))
                    unrecorded.discard(future)
            except KeyboardInterrupt:
                if interrupted:
                    raise
                interrupted = True
                # cancel() fails for reports already running or done: those are kept.
                unrecorded = {future for future in unrecorded if not future.cancel()}
                print(f"\ninterrupted: finishing {len(unrecorded)} running report(s); "
                      "Ctrl-C again to stop them at once", file=sys.stderr)
    except BaseException:
        # Stop now: ending a worker ends its kernel too (ipykernel polls its parent).
        for process in list(getattr(executor, "_processes", {}).values()):
            process.terminate()
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    executor.shutdown(wait=True)
    if interrupted:
        raise KeyboardInterrupt


def _outcome(future: concurrent.futures.Future) -> dict:
    try:
        return future.result()
    except Exception as error:  # the worker died (out of memory, killed)
        return {"status": "failed", "error": _one_line(f"{type(error).__name__}: {error}"),
                "duration_s": None, "html": None, "executed_notebook": None}


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_report(task: dict) -> dict:
    """Execute one report and write its pages (runs in a worker process).

    Parameters
    ----------
    task : dict
        ``name``, ``notebook_path``, ``parameters`` and ``output_dir``.

    Returns
    -------
    dict
        ``status`` (ok or failed), ``error``, ``duration_s``, ``html`` and
        ``executed_notebook`` (file names in the output folder, or None).
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    name, output_dir = task["name"], Path(task["output_dir"])
    notebook = Path(task["notebook_path"])
    executed_path, page_path = output_dir / f"{name}.ipynb", output_dir / f"{name}.html"
    started = time.perf_counter()
    error: str | None = None
    executed: str | None = None
    html_name: str | None = None
    # papermill writes the notebook as it runs (and with the error cell when a
    # cell raises): let it write a temporary file, moved into place afterwards.
    with temporary_beside(executed_path, suffix=_TEMP_SUFFIX + ".ipynb") as temporary:
        nb = None
        try:
            with _local_kernel() as kernel:
                nb = papermill.execute_notebook(
                    str(notebook), str(temporary), parameters=task["parameters"], kernel_name=KERNEL_NAME,
                    # language: notebooks saved without kernel metadata still get parameters.
                    language="python", cwd=str(notebook.parent), progress_bar=False,
                    log_output=False, km=kernel,
                )
        except PapermillExecutionError as failure:
            error = _one_line(f"{failure.ename}: {failure.evalue}")
        except Exception as failure:  # no kernel, kernel died, unreadable notebook...
            error = _one_line(f"{type(failure).__name__}: {failure}")
        if os.path.getsize(temporary) > 0:
            publish(temporary, executed_path)
            executed = executed_path.name
        if error is None:
            try:
                atomic_write(page_path, export_html(nb, title=name))
                html_name = page_path.name
            except Exception as failure:
                error = _one_line(f"HTML export failed: {type(failure).__name__}: {failure}")
    if error is not None:
        # An old page or notebook would pass for the result of this failed run.
        page_path.unlink(missing_ok=True)
        if executed is None:
            executed_path.unlink(missing_ok=True)
    return {"status": "failed" if error else "ok", "error": error,
            "duration_s": round(time.perf_counter() - started, 3),
            "html": html_name, "executed_notebook": executed}


@contextlib.contextmanager
def _local_kernel():
    """A kernel manager that talks to its kernel over Unix sockets (IPC), not TCP.

    Kernel and build run on the same machine: IPC opens no port, and ipykernel
    stops warning on every start that TCP traffic is unencrypted. The socket
    path must be absolute (kernel and build have different working folders)
    and short (Unix sockets allow about 100 bytes), hence its own temp folder.
    """
    from jupyter_client.manager import KernelManager

    with tempfile.TemporaryDirectory(prefix="oda-kernel-") as folder:
        manager = KernelManager(kernel_name=KERNEL_NAME, transport="ipc", ip=os.path.join(folder, "k"))
        try:
            yield manager
        finally:
            # papermill leaves a kernel manager it was given running: stop it here.
            if manager.has_kernel:
                manager.shutdown_kernel(now=True)


def export_html(nb, *, title: str) -> str:
    """The report page of an executed notebook: outputs and markdown, no code, no prompts."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, template_name="report",
                            extra_template_basedirs=[str(Path(__file__).parent / "templates")])
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    return body


# --------------------------------------------------------------------------- files


def _remove_stale_temp_files(output_dir: Path) -> None:
    """Remove our temporary files left by an interrupted build (never anyone else's)."""
    for pattern in (f".*{_TEMP_SUFFIX}", f".*{_TEMP_SUFFIX}.ipynb"):
        for stale in output_dir.glob(pattern):
            if stale.is_file():
                stale.unlink(missing_ok=True)


def _read_previous_manifest(path: Path) -> dict[str, dict]:
    """Records of the last build by report name ({} when absent or unreadable)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return {record["name"]: record for record in document["reports"]
                if isinstance(record, dict) and "name" in record}
    except FileNotFoundError:
        return {}
    except (ValueError, KeyError, TypeError) as error:
        print(f"warning: {path}: unreadable manifest ({error}); rebuilding every report",
              file=sys.stderr)
        return {}


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


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- index page

_STATUS_COLOURS = {
    "ok": ("#e6f4ea", "#1e6b34"),
    "unchanged": ("#e8f0fe", "#1a4f9c"),
    "skipped": ("#fef7e0", "#7a5a00"),
    "failed": ("#fce8e6", "#a50e0e"),
    "pending": ("#f1f3f4", "#5f6368"),
}

_INDEX_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:72rem;padding:0 1rem;color:#202124;line-height:1.4}
h1{font-size:1.5rem;margin-bottom:.25rem}
p.meta{color:#5f6368;font-size:.85rem;margin-top:0}
table{border-collapse:collapse;width:100%;font-size:.9rem;table-layout:fixed}
td{overflow-wrap:anywhere}
th,td{text-align:left;vertical-align:top;padding:.45rem .6rem;border-bottom:1px solid #e0e0e0}
th{background:#f8f9fa;font-weight:600}
td.num{text-align:right;white-space:nowrap}
code{font-size:.85em;background:#f1f3f4;padding:0 .2em;border-radius:3px}
ul.params{list-style:none;margin:0;padding:0}
.status{display:inline-block;padding:.1rem .5rem;border-radius:1rem;font-weight:600;
font-size:.8rem;white-space:nowrap;overflow-wrap:normal}
td.error{color:#a50e0e;max-width:28rem;overflow-wrap:anywhere}
td.note{max-width:28rem;overflow-wrap:anywhere}
a{color:#1a4f9c}
"""


def render_index(entries: list[EntryResult], *, context: dict, complete: bool = True) -> str:
    """The self-contained ``index.html`` (inline CSS, no external assets) of a build.

    Every text that comes from the schedule or an error is HTML-escaped.
    """
    esc = html.escape
    counts = Counter(entry.status for entry in entries)
    summary = ", ".join(f"{counts[s]} {s}" for s in (*STATUSES, "pending") if counts[s])
    rows = []
    for entry in entries:
        name = esc(entry.name)
        if entry.html and entry.status in _BUILT_STATUSES:
            name = f'<a href="{esc(entry.html)}">{name}</a>'
        extra = ""
        if entry.status == "failed" and entry.executed_notebook:
            extra = (f'<br><a href="{esc(entry.executed_notebook)}">executed notebook '
                     "(with the error)</a>")
        parameters = "".join(
            f"<li><code>{esc(str(key))}={esc(_parameter_text(value))}</code></li>"
            for key, value in entry.parameters.items()
        )
        background, colour = _STATUS_COLOURS.get(entry.status, _STATUS_COLOURS["pending"])
        note = entry.error or entry.message or ""
        rows.append(
            "<tr>"
            f"<td>{name}{extra}</td>"
            # <wbr>: let long paths break after a folder, not mid-name
            f"<td><code>{esc(entry.notebook).replace('/', '/<wbr>')}</code></td>"
            f'<td><ul class="params">{parameters}</ul></td>'
            f'<td><span class="status" style="background:{background};color:{colour}">'
            f"{esc(entry.status)}</span></td>"
            f'<td class="num">{esc(_duration_text(entry.duration_s))}</td>'
            f'<td class="{"error" if entry.error else "note"}">{esc(note)}</td>'
            "</tr>"
        )
    state = "" if complete else " (build in progress)"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>ODA security reports{esc(state)}</title>\n<style>{_INDEX_CSS}</style>\n"
        "</head>\n<body>\n"
        f"<h1>ODA security and stability reports{esc(state)}</h1>\n"
        f'<p class="meta">{esc(summary)} &middot; package '
        f"{esc(str(context.get('package_version')))} &middot; data checksum "
        f"<code>{esc(str(context.get('data_checksum'))[:12])}</code> &middot; built "
        f"{esc(_now())}</p>\n"
        "<table>\n<colgroup><col style=\"width:19%\"><col style=\"width:23%\">"
        "<col style=\"width:20%\"><col style=\"width:10%\"><col style=\"width:7%\">"
        "<col style=\"width:21%\"></colgroup>\n<thead><tr><th>Report</th><th>Notebook</th><th>Parameters</th>"
        "<th>Status</th><th>Duration</th><th>Message</th></tr></thead>\n<tbody>\n"
        + "\n".join(rows)
        + "\n</tbody>\n</table>\n</body>\n</html>\n"
    )


def _parameter_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _duration_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def _one_line(text: str) -> str:
    """One line of plain text (no colour codes), at most 500 characters."""
    text = " ".join(_ANSI.sub("", text).split())
    return text if len(text) <= 500 else text[:497] + "..."


# --------------------------------------------------------------------------- command line


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
