"""Read and validate ``reports/schedule.yaml``: which notebooks to run, with which parameters.

Everything is checked before anything runs, and every problem is reported at
once, each naming the file, the entry and the field. The YAML is read with a
strict safe loader (no duplicate keys, no anchors or aliases); notebook paths
and globs stay inside the project; parameter names must be ones the notebook
declares in its ``parameters`` cell (read with papermill's ``inspect_notebook``).
"""
from __future__ import annotations

import difflib
import keyword
import math
import re
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

from . import _globs
from ._notebooks import notebook_facts
from ._strict_yaml import read_strict_yaml
from .._text import one_line as _one_line

#: Where ``oda-data reports build`` looks for the schedule (relative to the current folder).
DEFAULT_SCHEDULE = Path("reports") / "schedule.yaml"
#: The sections of the reports site, in the order the home page shows them.
GROUPS = ("overview", "themes", "regions", "pledges", "crs", "teaching")
#: What an entry may require, and why.
REQUIREMENTS = {"crs": "an OECD CRS source (entry parameter crs_source, $ODA_CRS_SOURCE or --demo)"}
#: The data sets a report may name in ``data:`` (described in the manifest's data entries).
DATASETS = ("white_paper", "dac_rates", "crs")

_ENTRY_FIELDS = ("name", "notebook", "title", "description", "group", "parameters", "requires",
                 "data")
_TOP_LEVEL_FIELDS = ("reports",)
# A name becomes a file name in the output folder: keep it portable and unambiguous.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_RESERVED_NAMES = {"index", "manifest", "search", "genindex", "_executed", "_static", "_sources"}


class ScheduleError(ValueError):
    """The schedule cannot be used; the message names the file, entry and field."""


@dataclass(frozen=True)
class ReportEntry:
    """One report of a schedule.

    Attributes
    ----------
    name : str
        Unique, file-safe name.
    notebook : str
        The notebook's path relative to the project folder (POSIX), e.g.
        ``notebooks/theme_profile.ipynb``; for a glob entry, the matched notebook.
    path : Path
        The notebook's absolute path.
    parameters : dict
        Parameters passed to papermill, as written in the schedule.
    defaults : dict
        Every parameter the notebook declares, with its default value (text
        of the source code when it is not a plain literal).
    title, description, group : str
        What the site shows; ``group`` is one of :data:`GROUPS`.
    requires : tuple of str
        Requirements (keys of :data:`REQUIREMENTS`), e.g. ``("crs",)``.
    data : tuple of str
        The data sets the report reads (:data:`DATASETS`).
    index : int
        Position of the entry in the schedule's ``reports`` list (0-based).
    project : Path
        The project folder ``notebook`` is relative to (see :func:`search_folders`).
    """

    name: str
    notebook: str
    path: Path
    parameters: dict = field(default_factory=dict)
    defaults: dict = field(default_factory=dict)
    title: str = ""
    description: str = ""
    group: str = "overview"
    requires: tuple[str, ...] = ()
    data: tuple[str, ...] = ("white_paper", "dac_rates")
    index: int = 0
    project: Path = Path(".")

    @property
    def teaching(self) -> bool:
        """A walkthrough for learners (the site shows its code)."""
        return self.group == "teaching"


@dataclass(frozen=True)
class Schedule:
    """A validated schedule: its file and its entries in schedule order."""

    path: Path
    entries: tuple[ReportEntry, ...]

    def __iter__(self) -> Iterator[ReportEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def names(self) -> list[str]:
        return [entry.name for entry in self.entries]


def search_folders(schedule_path: str | PathLike) -> list[Path]:
    """Project folders against which the schedule's notebook paths are resolved, in order.

    The current folder first (``make reports`` runs from the project root),
    then the folder above the schedule's folder (the project root for
    ``<root>/reports/schedule.yaml``), then the schedule's own folder. The
    first folder where the path exists wins; the path must stay inside it.
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
        The YAML schedule.
    check_files : bool, default True
        Require every notebook to exist (and check parameters against it).
        With False, an entry whose notebook is missing is kept, unchecked.

    Raises
    ------
    ScheduleError
        Listing every problem, each naming the file, the entry (index and
        name) and the field.
    """
    path = Path(path)
    if not path.is_file():
        raise ScheduleError(
            f"{path}: no schedule file here (looked for {path.resolve()}); run from the "
            "project root or pass --schedule FILE"
        )
    try:
        document = read_strict_yaml(path)
    except ValueError as error:
        raise ScheduleError(str(error)) from None
    if not isinstance(document, dict):
        raise ScheduleError(f"{path}: expected a mapping with a 'reports' list at the top, got "
                            f"{_type_name(document)}")
    problems: list[str] = []
    unknown = sorted(set(map(str, document)) - set(_TOP_LEVEL_FIELDS))
    if unknown:
        problems.append(f"unknown top-level field(s) {unknown}; valid: {list(_TOP_LEVEL_FIELDS)}")
    listed = document.get("reports")
    if not isinstance(listed, list) or not listed:
        problems.append(f"field 'reports': expected a non-empty list of entries, got "
                        f"{_type_name(listed)}")
        listed = []

    folders = search_folders(path)
    entries: list[ReportEntry] = []
    for index, raw in enumerate(listed):
        entries.extend(_parse_entry(index, raw, folders, check_files, problems))

    seen: dict[str, ReportEntry] = {}
    for entry in entries:
        # Case-insensitive: pages must not overwrite each other on macOS or Windows.
        other = seen.setdefault(entry.name.lower(), entry)
        if other is not entry:
            problems.append(f"{_where(entry.index, entry.name)}, field 'name': duplicate name, "
                            f"already used by {_where(other.index, other.name)}")
    if problems:
        raise ScheduleError(f"{path}: " + "\n  ".join(["invalid schedule:", *problems]))
    return Schedule(path=path, entries=tuple(entries))


# --------------------------------------------------------------------------- entries


def _parse_entry(index: int, raw: Any, folders: list[Path], check_files: bool,
                 problems: list[str]) -> list[ReportEntry]:
    if not isinstance(raw, dict):
        problems.append(f"{_where(index, None)}: expected a mapping with name and notebook, "
                        f"got {_type_name(raw)}")
        return []
    name = raw.get("name")
    where = _where(index, name if isinstance(name, str) else None)
    before = len(problems)

    def problem(field_name: str, text: str) -> None:
        problems.append(f"{where}, field '{field_name}': {text}")

    unknown = sorted(set(map(str, raw)) - set(_ENTRY_FIELDS))
    if unknown:
        problems.append(f"{where}: unknown field(s) {unknown}; valid: {list(_ENTRY_FIELDS)}")
    if not isinstance(name, str) or not name:
        problem("name", f"expected a text name, got {_type_name(name)}")
    notebook = raw.get("notebook")
    if not isinstance(notebook, str) or not notebook.strip():
        problem("notebook", f"expected the path of a notebook, got {_type_name(notebook)}")
    elif (trouble := _globs.path_problem(notebook)) is not None:
        problem("notebook", f"{notebook!r} {trouble}")
    texts = {}
    for key in ("title", "description"):
        value = raw.get(key, "")
        if not isinstance(value, str):
            problem(key, f"expected text, got {_type_name(value)}")
        texts[key] = " ".join(str(value).split())
    group = raw.get("group")
    if group is not None and group not in GROUPS:
        problem("group", f"unknown group {group!r}; valid: {list(GROUPS)}")
    parameters = raw.get("parameters") or {}
    if not isinstance(parameters, dict):
        problem("parameters", f"expected a mapping (name: value), got {_type_name(parameters)}")
        parameters = {}
    for key, value in parameters.items():
        if not isinstance(key, str) or not key.isidentifier() or keyword.iskeyword(key):
            problem("parameters", f"name {key!r} is not a valid Python variable name")
        elif (trouble := _plain_value_problem(value)) is not None:
            problem("parameters", f"parameter {key!r}: {trouble}")
    requires = _names(raw.get("requires", ()), REQUIREMENTS, "requires", problem)
    data = _names(raw.get("data", ("white_paper", "dac_rates") + requires), DATASETS, "data",
                  problem)
    if len(problems) > before:
        return []

    matches = _globs.resolve(notebook, folders)
    if isinstance(matches, str):  # the glob visited too much
        problem("notebook", f"{notebook!r}: {matches}")
        return []
    if not matches:
        if check_files or _globs.is_glob(notebook):
            if check_files:
                what = "matches no notebook" if _globs.is_glob(notebook) else "not found"
                tried = ", ".join(str(folder) for folder in folders)
                problem("notebook", f"{notebook!r} {what} (looked in {tried})")
            return []
        matches = [(PurePosixPath(notebook).as_posix(), folders[0] / notebook, folders[0])]
    entries = []
    for written, resolved, project in matches:
        entry_name = f"{name}-{PurePosixPath(written).stem}" if _globs.is_glob(notebook) else name
        if not _SAFE_NAME.match(entry_name) or entry_name.lower() in _RESERVED_NAMES:
            problems.append(
                f"{_where(index, entry_name)}, field 'name': {entry_name!r} is not a safe file "
                "name (letters, digits, '.', '_' and '-', starting with a letter or digit, at "
                f"most 100 characters, not one of {sorted(_RESERVED_NAMES)})")
            continue
        if resolved.suffix != ".ipynb":
            problem("notebook", f"{written!r} is not a .ipynb notebook")
            continue
        heading, defaults = "", {}
        if resolved.is_file():
            heading, defaults, trouble = _read_notebook(resolved, set(parameters) | set(
                ("crs_source",) if "crs" in requires else ()))
            if trouble:
                problem("parameters", f"{written}: {trouble}")
                continue
        title = texts["title"] if texts["title"] and not _globs.is_glob(notebook) else (
            heading or entry_name)
        entries.append(ReportEntry(
            name=entry_name, notebook=written, path=resolved, parameters=dict(parameters),
            defaults=defaults, title=title, description=texts["description"],
            group=group or ("teaching" if "/teaching/" in f"/{written}" else "overview"),
            requires=requires, data=data, index=index, project=project,
        ))
    return entries


def _names(value: Any, valid, field_name: str, problem) -> tuple[str, ...]:
    """A name or list of names from ``valid``, without repeats (problems reported)."""
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        problem(field_name, f"expected a name or a list of names from {sorted(valid)}, got "
                            f"{_type_name(value)}")
        return ()
    for name in value:
        if name not in valid:
            problem(field_name, f"unknown {field_name} {name!r}; valid: {sorted(valid)}")
    return tuple(dict.fromkeys(value))


def _read_notebook(path: Path, wanted: set[str]) -> tuple[str, dict, str | None]:
    """(first heading, declared parameters with defaults, problem with ``wanted`` or None)."""
    try:
        heading, declared = notebook_facts(path)
    except (OSError, ValueError, KeyError, TypeError) as error:
        return "", {}, f"cannot read the notebook ({_one_line(str(error))})"
    declared = dict(declared)
    unknown = sorted(wanted - set(declared))
    if not unknown:
        return heading, declared, None
    if not declared:
        return heading, declared, (f"parameter(s) {unknown} given, but the notebook declares "
                                   "none (no cell tagged 'parameters')")
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, list(declared), n=1)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return heading, declared, (f"the notebook declares no parameter {', '.join(hints)}; valid: "
                               f"{sorted(declared)}")


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
