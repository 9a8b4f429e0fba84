"""Read and validate ``reports/schedule.yaml``: which notebooks to run, with which parameters."""
from __future__ import annotations

import glob
import math
import re
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, Iterator

from ._text import one_line as _one_line

#: Where ``oda-data reports build`` looks for the schedule (relative to the current folder).
DEFAULT_SCHEDULE = Path("reports") / "schedule.yaml"
INDEX_NAME = "index.html"
MANIFEST_NAME = "manifest.json"
_ENTRY_FIELDS = ("name", "notebook", "parameters", "requires")
_TOP_LEVEL_FIELDS = ("reports",)
#: What an entry may require, and why.
REQUIREMENTS = {"crs": "an OECD CRS source (entry parameter crs_source or $ODA_CRS_SOURCE)"}
# A name becomes <name>.html and <name>.ipynb: keep it portable and unambiguous.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_RESERVED_NAMES = {Path(INDEX_NAME).stem, Path(MANIFEST_NAME).stem}
_GLOB_CHARS = re.compile(r"[*?\[]")


class ScheduleError(ValueError):
    """The schedule cannot be used; the message names the file, entry and field."""



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

