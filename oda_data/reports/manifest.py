"""What a build records: each report's provenance, the skip key, ``manifest.json``.

The previous manifest gives back only what cannot be recomputed, type-checked, never a path: a hand-edited manifest
cannot make the site link elsewhere.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Annotated, Iterator, Literal, Optional

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from .._files import atomic_write

#: Every report runs on this Jupyter kernel.
KERNEL_NAME = "python3"
#: Environment variable naming the CRS source for ``requires: crs`` entries.
CRS_SOURCE_ENV = "ODA_CRS_SOURCE"
#: Parameter through which ``requires: crs`` entries receive the CRS source.
CRS_SOURCE_PARAMETER = "crs_source"
MANIFEST_NAME = "manifest.json"
#: Folders (in the work folder) of the last good executed notebooks and of failed runs' copies.
EXECUTED_DIR, FAILED_DIR = "_executed", "_failed"
#: Version of the manifest layout (bump when fields change meaning).
MANIFEST_FORMAT = 2
#: ok: the page is current; failed: no page; skipped: not run (``reason``);
#: stale: this run failed, the last good page is kept (``error`` says why).
STATUSES = ("ok", "failed", "skipped", "stale")
#: The statuses that have a page (``stale``: the last good one), and those a build reports as failures.
PAGE_STATUSES, PROBLEMS = ("ok", "stale"), ("failed", "stale")

_PACKAGE = Path(__file__).resolve().parents[1]
_HEX64 = r"^[0-9a-f]{64}$"


def work_folder(output: Path) -> Path:
    """Where a build keeps all that is not the site: ``.cache/reports-<name>`` beside it."""
    output = Path(output)
    return output.parent / ".cache" / f"reports-{output.name}"


class EntryResult(BaseModel):
    """One report of a build: one record of ``manifest.json``, checked when read back."""

    model_config = ConfigDict(strict=True)

    name: str
    title: str
    description: str
    titled: bool  # whether the schedule gave the title (else: the notebook's heading)
    group: str
    notebook: str
    parameters: dict  # defaults included
    status: Literal[STATUSES]
    given: dict = {}  # the parameters as the schedule gives them
    teaching: bool = False
    requires: list[str] = []
    error: Optional[str] = None
    reason: Optional[str] = None
    data: list[dict] = []
    package_version: Optional[str] = None
    git_commit: Optional[str] = None
    built_at: Optional[Annotated[str, AfterValidator(lambda text: dt.datetime.fromisoformat(text) and text)]] = None
    executed: Optional[str] = None
    failed_executed: Optional[str] = None
    duration_s: Optional[float] = None
    key: Optional[Annotated[str, Field(pattern=_HEX64)]] = None
    demo: bool = False
    unchanged: bool = False  # not rebuilt: nothing it depends on changed


@dataclass
class BuildResult:
    """Results of a build, in schedule order; iterate for the entries."""

    entries: list[EntryResult]
    index_path: Path

    def __iter__(self) -> Iterator[EntryResult]:
        return iter(self.entries)

    def __getitem__(self, name: str) -> EntryResult:
        return {entry.name: entry for entry in self.entries}[name]

    @property
    def exit_code(self) -> int:
        """1 when a report failed or is stale, else 0 (skipped reports do not count)."""
        return 1 if any(e.status in PROBLEMS for e in self.entries) else 0


def package_checksum() -> str:
    """SHA-256 of the package's code and data, in every skip key; ``reports/`` only renders pages (the site has its
    own key)."""
    digest = hashlib.sha256()
    for path in sorted([*_PACKAGE.rglob("*.py"), *(_PACKAGE / "data").glob("*")]):
        parts = path.relative_to(_PACKAGE).parts
        if path.is_file() and "__pycache__" not in parts and parts[0] != "reports":
            digest.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def entry_key(notebook: str | PathLike, parameters: dict, *, package: str, data: list[str],
              crs_fingerprint: dict | None = None) -> str:
    """SHA-256 of all a report's page depends on; an unchanged key means the page is current."""
    payload = {"notebook_sha256": hashlib.sha256(Path(notebook).read_bytes()).hexdigest(), "parameters": parameters,
               "package": package, "data": sorted(data), "crs_source": crs_fingerprint, "kernel": KERNEL_NAME,
               "python": sys.version_info[:2]}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def git_commit(folder: Path) -> str | None:
    """The commit checked out in ``folder`` (None outside a git clone or without git)."""
    try:
        done = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and re.fullmatch(r"[0-9a-f]{40,64}", commit) else None


def packaged_datasets() -> dict[str, dict]:
    """Data entries of the package's own data sets (White Paper chapter, DAC rates)."""
    from ..white_paper import default_path

    rates = _PACKAGE / "data" / "dac_rates.csv"
    years = [row["year"] for row in _csv_rows(rates)]
    chapter = Path(default_path())
    return {"white_paper": _file_entry("Japan's ODA White Paper 2018, chapter \"(3) Assistance for Security and "
                                       "Stability\"", chapter, date="2018", rows=len(list(_csv_rows(chapter)))),
            "dac_rates": _file_entry(f"OECD DAC exchange rates and deflators, every DAC provider, {min(years)}-"
                                     f"{max(years)}", rates, date="2024-12", rows=len(years))}


def crs_dataset(source: Path, *, demo: bool, previous: list | None = None) -> dict:
    """Data entry of a CRS source: file name, checksum, rows (when known), file date."""
    stat = source.stat()  # path, size and modification time: cheap, and they change with it
    fingerprint = {"path": str(source.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    label = ("CRS demonstration file: invented activities, not OECD figures" if demo
             else "OECD Creditor Reporting System (CRS) file")
    for old in previous or []:  # hashing a large CRS file once is enough
        if old.get("fingerprint") == fingerprint and re.match(_HEX64, str(old.get("checksum"))):
            return {**old, "label": label, "demo": demo}
    # A real file is dated by its file time (when it was downloaded); the demonstration file's
    # file time is only when the project was cloned, so it gets no date.
    date = None if demo else dt.date.fromtimestamp(fingerprint["mtime_ns"] / 1e9).isoformat()
    return {**_file_entry(label, source, date=date, rows=_crs_rows(source)), "demo": demo, "fingerprint": fingerprint}


def _file_entry(label: str, path: Path, *, date: str | None, rows: int | None) -> dict:
    with open(path, "rb") as stream:
        checksum = hashlib.file_digest(stream, "sha256").hexdigest()
    resolved = path.resolve()
    relative = resolved.relative_to(_PACKAGE.parent).as_posix() if _PACKAGE in resolved.parents else path.name
    return {"label": label, "file": relative, "checksum": checksum, "rows": rows, "date": date, "demo": False}


def _csv_rows(path: Path) -> Iterator[dict]:
    with open(path, newline="", encoding="utf-8") as stream:
        yield from csv.DictReader(stream)


def _crs_rows(source: Path) -> int | None:
    """Rows as ``read_crs`` reads them: those of its Parquet cache (made now if need be; the report's read finds it)."""
    try:
        import pyarrow.parquet as pq

        from ..crs.cache import ingest

        return pq.read_metadata(ingest(source, progress=False)).num_rows
    except Exception:  # unreadable: the report itself will say why
        return None


def read_previous(path: Path) -> dict[str, dict]:
    """The last build's records that pass :class:`EntryResult`'s checks, by report name ({} when none)."""
    try:
        records = json.loads(path.read_text(encoding="utf-8"))["reports"]
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"warning: {path}: unreadable manifest ({error}); rebuilding every report", file=sys.stderr)
        return {}
    kept: dict[str, dict] = {}
    for record in records if isinstance(records, list) else []:
        try:
            checked = EntryResult.model_validate(record)
            kept[checked.name] = checked.model_dump(exclude_none=True)
        except ValidationError:  # a hand-edited or older record: the report is rebuilt
            pass
    return kept


def write_manifest(output_dir: Path, entries: list[EntryResult], context: dict, *, complete: bool,
                   folder: Path | None = None) -> dict:
    """Write ``manifest.json`` atomically; returns the document written."""
    manifest = {"manifest_format": MANIFEST_FORMAT, "complete": complete, **context,
                "counts": dict(Counter(entry.status for entry in entries)),
                "reports": [entry.model_dump() for entry in entries]}
    atomic_write(output_dir / MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n", folder=folder)
    return manifest
