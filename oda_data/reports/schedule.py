"""Read and validate ``reports/schedule.yaml``: the notebooks to run, with which parameters.

The form is declared once (:class:`EntrySpec`); every problem is reported at once, naming the file, the entry and the
field, before anything runs.
"""
from __future__ import annotations

import ast
import difflib
import json
import keyword
import re
from collections.abc import Hashable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Iterator, Literal, Optional

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, JsonValue, PositiveInt, ValidationError,
                      field_validator)

from .._text import one_line

#: Where ``oda-data reports build`` looks for the schedule (relative to the current folder).
DEFAULT_SCHEDULE = Path("reports") / "schedule.yaml"
#: The sections of the reports site, in the order the home page shows them: id -> heading.
GROUPS = {"overview": "Overview", "themes": "Themes", "regions": "Regions", "pledges": "Pledges", "crs": "CRS",
          "teaching": "Teaching"}
#: What an entry may require, and the data sets it may name in ``data:``.
REQUIREMENTS, DATASETS = ("crs",), ("white_paper", "dac_rates", "crs")
#: How long a report may run, unless its entry or ``--timeout`` says otherwise (seconds).
DEFAULT_TIMEOUT_S = 30 * 60

#: A report name is a file name in the output folder: portable and unambiguous.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_RESERVED_NAMES = {"index", "manifest", "search", "genindex", "data", "_static", "_sources"}
# What a field's type error says was expected, where pydantic's words would not tell a user.
_EXPECTED = {"name": "a text name", "notebook": "the path of a notebook", "reports": "a non-empty list of entries",
             "parameters": "a mapping (name: value)"}


class ScheduleError(ValueError):
    """The schedule cannot be used; the message names the file, entry and field."""


def _identifier(name: str) -> str:
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"name {name!r} is not a valid Python variable name")
    return name


def _inside_project(path: str) -> str:
    """A notebook path or glob must be project-relative, so that a schedule reads only its project."""
    if path.startswith(("/", "\\", "~")) or re.match(r"^[A-Za-z]:", path):
        trouble = "must be relative to the project folder (no absolute path, no ~)"
    elif "\\" in path:
        trouble = "must use '/' between folders"
    elif ".." in PurePosixPath(path).parts:
        trouble = "must stay inside the project folder (no '..')"
    elif any("**" in part and part != "**" for part in PurePosixPath(path).parts):
        trouble = "uses '**' inside a name; '**' must be a whole path part (notebooks/**/*.ipynb)"
    else:
        return path
    raise ValueError(f"{path!r} {trouble}")


def _is_glob(text: str) -> bool:
    return bool(re.search(r"[*?\[]", text))


def _notebooks(pattern: str, folders: list[Path]) -> list[tuple[str, Path, Path]]:
    """(project-relative POSIX path, path, project folder) of each notebook ``pattern`` names, from
    the first folder with a match. Path.glob does not follow links under ``**`` (no loop); a
    link leading out of the project, hidden folders and __pycache__ are dropped."""
    for folder in folders:
        root = folder.resolve()
        found = root.glob(pattern) if _is_glob(pattern) else [root / pattern]
        inside = sorted(path.relative_to(root).as_posix() for path in found
                        if path.is_file() and path.resolve().is_relative_to(root))
        if _is_glob(pattern):
            inside = [rel for rel in inside if rel.endswith(".ipynb") and not any(
                part.startswith(".") or part == "__pycache__" for part in rel.split("/"))]
        if inside:
            return [(rel, root / rel, root) for rel in inside]
    return []


class EntrySpec(BaseModel):
    """One entry of ``reports:`` as written (the schedule's declared schema)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

    name: str = Field(min_length=1)
    notebook: Annotated[str, Field(min_length=1), AfterValidator(_inside_project)]
    title: str = ""
    description: str = ""
    group: Optional[Literal[tuple(GROUPS)]] = None
    parameters: dict[Annotated[str, AfterValidator(_identifier)], JsonValue] = Field(default_factory=dict)
    requires: list[Literal[REQUIREMENTS]] = Field(default_factory=list)
    data: Optional[list[Literal[DATASETS]]] = None
    timeout: Optional[PositiveInt] = None

    @field_validator("requires", "data", mode="before")
    @classmethod
    def _one_or_many(cls, value):
        return [value] if isinstance(value, str) else value


class ScheduleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    reports: list[Any] = Field(min_length=1)


class ReportEntry(EntrySpec):
    """One report of a schedule as ``build`` runs it (a glob entry gives one per notebook)."""

    path: Path  # of the notebook; ``notebook`` is project-relative, POSIX
    defaults: dict = {}  # every parameter the notebook declares, with its default
    titled: bool = False  # whether the schedule gave the title (else: the notebook's heading)
    index: int = 0  # the entry's place in the schedule
    project: Path = Path(".")


@dataclass(frozen=True)
class Schedule:
    """A validated schedule: its file and its entries in schedule order."""

    path: Path
    entries: tuple[ReportEntry, ...]

    def __iter__(self) -> Iterator[ReportEntry]:
        return iter(self.entries)

    @property
    def names(self) -> list[str]:
        return [entry.name for entry in self.entries]


def load_schedule(path: str | PathLike = DEFAULT_SCHEDULE) -> Schedule:
    """Read and validate a schedule file; :class:`ScheduleError` lists every problem."""
    path = Path(path)
    if not path.is_file():
        raise ScheduleError(f"{path}: no schedule file here (looked for {path.resolve()}); run from the project root "
                            "or pass --schedule FILE")
    document = _read_strict_yaml(path)
    if not isinstance(document, dict):
        raise ScheduleError(f"{path}: expected a mapping with a 'reports' list at the top, got {_type_name(document)}")
    problems: list[str] = []
    try:
        listed = ScheduleSpec.model_validate(document).reports
    except ValidationError as error:
        problems += _describe(error, ScheduleSpec, "the schedule")
        listed = document.get("reports") if isinstance(document.get("reports"), list) else []
    # A notebook is looked up in the current folder, then the project root (the folder above the schedule's), then
    # the schedule's own folder.
    here = path.resolve().parent
    folders = list(dict.fromkeys([Path.cwd().resolve(), here.parent, here]))
    entries: list[ReportEntry] = []
    for index, raw in enumerate(listed):
        entries.extend(_entries(index, raw, folders, problems))
    seen: dict[str, ReportEntry] = {}
    for entry in entries:
        # Case-insensitive: pages must not overwrite each other on macOS or Windows.
        other = seen.setdefault(entry.name.lower(), entry)
        if other is not entry:
            problems.append(f"{_where(entry.index, entry.name)}, field 'name': duplicate name, already used by "
                            f"{_where(other.index, other.name)}")
    if problems:
        raise ScheduleError(f"{path}: " + "\n  ".join(["invalid schedule:", *problems]))
    return Schedule(path=path, entries=tuple(entries))


def _read_strict_yaml(path: Path) -> Any:
    """yaml.SafeLoader without anchors and aliases (alias bombs, recursion: a schedule needs neither) or duplicate
    keys (a repeated key would silently win)."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise yaml.constructor.ConstructorError(None, None, "anchors and aliases (&name, *name) are not "
                                                        "allowed; write the values out", event.start_mark)
            return super().compose_node(parent, index)

        def construct_mapping(self, node, deep=False):
            seen = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, Hashable) and key in seen:
                    problem = f"duplicate key {key!r} (first at line {seen[key].line + 1})"
                    raise yaml.constructor.ConstructorError("while reading a mapping", node.start_mark, problem,
                                                            key_node.start_mark)
                seen[key] = key_node.start_mark
            return super().construct_mapping(node, deep=deep)

    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=StrictLoader)  # noqa: S506
    except UnicodeDecodeError as error:
        raise ScheduleError(f"{path}: not UTF-8 text ({error})") from None
    except yaml.YAMLError as error:
        raise ScheduleError(f"{path}: not valid YAML ({one_line(str(error))})") from None


def _describe(error: ValidationError, model, where: str) -> list[str]:
    """pydantic's errors as the schedule's messages: where, field, what was expected."""
    problems, unknown = [], []
    for item in error.errors(include_url=False):
        loc, kind, value = item["loc"], item["type"], item["input"]
        name = str(loc[0]) if loc else ""
        message = item["msg"].removeprefix("Value error, ")
        if kind == "extra_forbidden":
            unknown.append(name)
            continue
        if kind == "literal_error":
            valid = item["ctx"]["expected"].replace(" or ", ", ")
            message = f"unknown {name} {value!r}; valid: [{valid}]"
        elif kind in ("invalid-json-value", "finite_number"):
            message = (f"parameter {loc[1]!r}: expected text, a number, true/false, null or a list/mapping of those, "
                       f"got {_type_name(value)} {value!r} (quote it to pass it as text)")
        elif kind.endswith("_type") or kind in ("missing", "too_short"):
            wanted = _EXPECTED.get(name, message.lower().removeprefix("input should be "))
            message = f"expected {wanted}, got {_type_name(value)}"
        problems.append(f"{where}, field '{name}': {message}")
    if unknown:
        problems.insert(0, f"{where}: unknown field(s) {sorted(unknown)}; valid: {list(model.model_fields)}")
    return problems


def _entries(index: int, raw: Any, folders: list[Path], problems: list[str]) -> list[ReportEntry]:
    name = raw.get("name") if isinstance(raw, dict) else None
    where = _where(index, name if isinstance(name, str) else None)
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping with name and notebook, got {_type_name(raw)}")
        return []
    try:
        spec = EntrySpec.model_validate(raw)
    except ValidationError as error:
        problems += _describe(error, EntrySpec, where)
        return []
    glob = _is_glob(spec.notebook)
    matches = _notebooks(spec.notebook, folders)
    if not matches:
        what = "matches no notebook" if glob else "not found"
        looked = ", ".join(map(str, folders))
        problems.append(f"{where}, field 'notebook': {spec.notebook!r} {what} (looked in {looked})")
        return []
    requires = list(dict.fromkeys(spec.requires))
    data = list(dict.fromkeys(spec.data if spec.data is not None else ["white_paper", "dac_rates", *requires]))
    entries = []
    for written, resolved, project in matches:
        entry_name = f"{spec.name}-{PurePosixPath(written).stem}" if glob else spec.name
        if not SAFE_NAME.match(entry_name) or entry_name.lower() in _RESERVED_NAMES:
            problems.append(f"{_where(index, entry_name)}, field 'name': {entry_name!r} is not a safe file name "
                            "(letters, digits, '.', '_' and '-', starting with a letter or digit, at most 100 "
                            f"characters, not one of {sorted(_RESERVED_NAMES)})")
            continue
        if resolved.suffix != ".ipynb":
            problems.append(f"{where}, field 'notebook': {written!r} is not a .ipynb notebook")
            continue
        wanted = set(spec.parameters) | ({"crs_source"} if "crs" in requires else set())
        heading, defaults, trouble = _read_notebook(resolved, wanted)
        if trouble:
            problems.append(f"{where}, field 'parameters': {written}: {trouble}")
            continue
        titled = bool(spec.title.strip()) and not glob
        entries.append(ReportEntry.model_construct(**{
            **dict(spec), "name": entry_name, "notebook": written, "path": resolved, "defaults": defaults,
            "title": " ".join(spec.title.split()) if titled else (heading or entry_name), "titled": titled,
            "description": " ".join(spec.description.split()), "requires": requires, "data": data,
            "group": spec.group or ("teaching" if "/teaching/" in f"/{written}" else "overview"),
            "index": index, "project": project}))
    return entries


def _read_notebook(path: Path, wanted: set[str]) -> tuple[str, dict, str | None]:
    """(first ``#`` heading, parameters with defaults as papermill's ``inspect_notebook`` finds them, problem with
    ``wanted`` or None)."""
    from papermill import inspect_notebook
    from papermill.inspection import _infer_parameters
    from papermill.iorw import load_notebook_node

    try:
        heading = next((match.group(1).strip() for cell in json.loads(path.read_bytes())["cells"]
                        if cell.get("cell_type") == "markdown" and (match := re.search(
                            r"^#\s+(.+)$", "".join(cell.get("source", "")), re.MULTILINE))), "")
        try:
            inspected = inspect_notebook(str(path))
        except ValueError:  # no kernelspec in the notebook: inspect it as the python3 kernel runs it
            inspected = {p.name: p._asdict() for p in _infer_parameters(
                load_notebook_node(str(path)), name="python3", language="python")}
    except (OSError, ValueError, KeyError, TypeError) as error:
        return "", {}, f"cannot read the notebook ({one_line(str(error))})"
    # As JSON keeps it (the manifest): a tuple default becomes a list.
    declared = json.loads(json.dumps({name: _literal(info.get("default")) for name, info in inspected.items()},
                                     default=repr))
    unknown = sorted(wanted - set(declared))
    if not unknown:
        return heading, declared, None
    if not declared:
        return heading, declared, (f"parameter(s) {unknown} given, but the notebook declares none (no cell tagged "
                                   "'parameters')")
    hints = [f"{name!r}" + (f" (did you mean {close[0]!r}?)" if (
        close := difflib.get_close_matches(name, list(declared), n=1)) else "") for name in unknown]
    return heading, declared, f"the notebook declares no parameter {', '.join(hints)}; valid: {sorted(declared)}"


def _literal(source: str | None) -> Any:
    try:
        return None if source is None else ast.literal_eval(source)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return source  # not a plain literal: its source text


def _where(index: int, name: str | None) -> str:
    return f"reports[{index}]" + (f" ({name!r})" if name else " (no name)")


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "text"}.get(type(value), type(value).__name__)
