"""What a build records: each report's provenance, the skip key, ``manifest.json``.

One record per report (see :class:`EntryResult`): its title, group, notebook,
parameters (defaults included), status, the data behind it with checksums,
package version and git commit, build time, and the executed notebook
(``_executed/<name>.ipynb``, relative to the output folder). The reports site
is rendered from these records.

A previous manifest is read back only for what cannot be recomputed (skip key,
build time, duration), each value type-checked: file paths are never taken
from it, so a hand-edited manifest cannot make the site link elsewhere.
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
from dataclasses import asdict, dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, Iterator

from .._files import atomic_write

#: Every report runs on this Jupyter kernel.
KERNEL_NAME = "python3"
#: Environment variable naming the CRS source for ``requires: crs`` entries.
CRS_SOURCE_ENV = "ODA_CRS_SOURCE"
#: Parameter through which ``requires: crs`` entries receive the CRS source.
CRS_SOURCE_PARAMETER = "crs_source"
MANIFEST_NAME = "manifest.json"
#: Folder of the executed notebooks, inside the build's work folder (:func:`work_folder`).
EXECUTED_DIR = "_executed"
#: Folder (inside :data:`EXECUTED_DIR`) of the executed copies of failed runs.
FAILED_DIR = "_failed"
#: Version of the manifest layout (bump when fields change meaning).
MANIFEST_FORMAT = 2
#: ok: the page is current; failed: no page; skipped: not run (``reason``);
#: stale: this run failed, the last good page is kept (``error`` says why).
STATUSES = ("ok", "failed", "skipped", "stale")

_PACKAGE = Path(__file__).resolve().parents[1]


def work_folder(output: Path) -> Path:
    """Where a build keeps what is not the site (lock, executed notebooks, Sphinx's work tree,
    temporary files): ``<parent>/.cache/reports-<name>`` beside the output folder."""
    output = Path(output)
    return output.parent / ".cache" / f"reports-{output.name}"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class EntryResult:
    """One report of a build: one record of ``manifest.json``."""

    name: str
    title: str
    description: str
    #: Whether the schedule gave the title (else: the notebook's heading).
    titled: bool
    group: str
    notebook: str
    parameters: dict
    status: str
    #: The parameters as the schedule gives them (``parameters`` adds the defaults).
    given: dict = field(default_factory=dict)
    teaching: bool = False
    requires: list = field(default_factory=list)
    error: str | None = None
    reason: str | None = None
    data: list = field(default_factory=list)
    package_version: str | None = None
    git_commit: str | None = None
    built_at: str | None = None
    executed: str | None = None
    failed_executed: str | None = None
    duration_s: float | None = None
    key: str | None = None
    demo: bool = False
    #: True when the page was not rebuilt (nothing it depends on changed).
    unchanged: bool = False

    def to_record(self) -> dict:
        return asdict(self)


@dataclass
class BuildResult:
    """Results of a build, in schedule order; iterate for the entries."""

    entries: list[EntryResult]
    output_dir: Path
    index_path: Path
    manifest_path: Path

    def __iter__(self) -> Iterator[EntryResult]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, name: str) -> EntryResult:
        for entry in self.entries:
            if entry.name == name:
                return entry
        raise KeyError(f"no report named {name!r}; built: {[e.name for e in self.entries]}")

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(entry.status for entry in self.entries))

    @property
    def exit_code(self) -> int:
        """1 when a report failed or is stale, else 0 (skipped reports do not count)."""
        return 1 if any(e.status in ("failed", "stale") for e in self.entries) else 0


# --------------------------------------------------------------------------- keys


def package_checksum() -> str:
    """SHA-256 of the package's own code and data (``oda_data/**/*.py``, ``oda_data/data/*``)
    but for ``oda_data/reports/`` (it renders pages; the site has its own key).

    Part of every skip key: editing the package rebuilds the reports.
    """
    digest = hashlib.sha256()
    files = sorted([*_PACKAGE.rglob("*.py"), *(_PACKAGE / "data").glob("*")])
    for path in files:
        parts = path.relative_to(_PACKAGE).parts
        if path.is_file() and "__pycache__" not in parts and parts[0] != "reports":
            digest.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def source_fingerprint(path: str | PathLike) -> dict:
    """Path, size and modification time of a data source (cheap, changes with it)."""
    stat = Path(path).stat()
    return {"path": str(Path(path).resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def entry_key(notebook: str | PathLike, parameters: dict, *, package: str,
              data: list[str], crs_fingerprint: dict | None = None) -> str:
    """SHA-256 identifying one build of a report; an unchanged key means the page is current.

    Covers the notebook's bytes, the parameters (canonical JSON), the
    package's code and data (:func:`package_checksum`), the checksums of the
    data sets the report reads and the CRS source's fingerprint.
    """
    payload = {
        "notebook_sha256": hashlib.sha256(Path(notebook).read_bytes()).hexdigest(),
        "parameters": parameters,
        "package": package,
        "data": sorted(data),
        "crs_source": crs_fingerprint,
        "kernel": KERNEL_NAME,
        "python": sys.version_info[:2],
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def git_commit(folder: Path) -> str | None:
    """The commit checked out in ``folder`` (None outside a git clone or without git)."""
    try:
        done = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and re.fullmatch(r"[0-9a-f]{40,64}", commit) else None


# --------------------------------------------------------------------------- data sets


def packaged_datasets() -> dict[str, dict]:
    """Data entries of the package's own data sets (White Paper chapter, DAC rates)."""
    from ..white_paper import default_path

    rates = _PACKAGE / "data" / "dac_rates.csv"
    years = [row["year"] for row in _csv_rows(rates)]
    return {
        "white_paper": _file_entry(
            "Japan's ODA White Paper 2018, chapter \"(3) Assistance for Security and Stability\"",
            Path(default_path()), date="2018"),
        "dac_rates": _file_entry(
            f"OECD DAC exchange rates and deflators, every DAC provider, {min(years)}-{max(years)}", rates,
            date="2024-12"),
    }


def crs_dataset(source: Path, *, demo: bool, previous: list | None = None) -> dict:
    """Data entry of a CRS source: file name, checksum, rows (when known), file date."""
    fingerprint = source_fingerprint(source)
    label = ("CRS demonstration file: invented activities, not OECD figures" if demo
             else "OECD Creditor Reporting System (CRS) file")
    for old in previous or []:  # hashing a large CRS file once is enough
        if isinstance(old, dict) and old.get("fingerprint") == fingerprint and _HEX64.match(
                str(old.get("checksum"))):
            return {**old, "label": label, "demo": demo}
    # A real file is dated by its file time (when it was downloaded); the demonstration file's
    # file time is only when the project was cloned, so it gets no date.
    date = None if demo else dt.date.fromtimestamp(fingerprint["mtime_ns"] / 1e9).isoformat()
    entry = _file_entry(label, source, date=date, rows=None)
    entry["rows"] = _crs_rows(source)
    return {**entry, "demo": demo, "fingerprint": fingerprint}


def _file_entry(label: str, path: Path, *, date: str | None, rows: int | None = -1) -> dict:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    if rows == -1:
        rows = sum(1 for _ in _csv_rows(path))
    relative = path.resolve().relative_to(_PACKAGE.parent).as_posix() if _PACKAGE in \
        path.resolve().parents else path.name
    return {"label": label, "file": relative, "checksum": digest.hexdigest(), "rows": rows,
            "date": date, "demo": False}


def _csv_rows(path: Path) -> Iterator[dict]:
    with open(path, newline="", encoding="utf-8") as stream:
        yield from csv.DictReader(stream)


def _crs_rows(source: Path) -> int | None:
    """Rows of a CRS source as ``read_crs`` reads them: those of its Parquet cache (converted
    now when it is not yet; the report's own read then finds it)."""
    try:
        import pyarrow.parquet as pq

        from ..crs.cache import ingest

        return pq.read_metadata(ingest(source, progress=False)).num_rows
    except Exception:  # unreadable: the report itself will say why
        return None


# --------------------------------------------------------------------------- the file


def read_previous(path: Path) -> dict[str, dict]:
    """Type-checked fields of the last build's records, by report name ({} when none)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        records = document["reports"]
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"warning: {path}: unreadable manifest ({error}); rebuilding every report",
              file=sys.stderr)
        return {}
    kept: dict[str, dict] = {}
    for record in records if isinstance(records, list) else []:
        if not isinstance(record, dict) or not isinstance(record.get("name"), str):
            continue
        checks = {"status": lambda v: v in STATUSES, "key": lambda v: bool(_HEX64.match(v)),
                  "built_at": _is_time, "duration_s": lambda v: isinstance(v, (int, float)),
                  "parameters": lambda v: isinstance(v, dict),
                  "data": lambda v: isinstance(v, list) and all(isinstance(d, dict) for d in v),
                  "package_version": lambda v: isinstance(v, str),
                  "git_commit": lambda v: isinstance(v, str), "demo": lambda v: v is True,
                  "error": lambda v: isinstance(v, str)}
        kept[record["name"]] = {name: record[name] for name, check in checks.items()
                                if record.get(name) is not None and _safe(check, record[name])}
    return kept


def _safe(check, value) -> bool:
    try:
        return bool(check(value))
    except (TypeError, ValueError):
        return False


def _is_time(value: Any) -> bool:
    dt.datetime.fromisoformat(value)
    return True


def write_manifest(output_dir: Path, entries: list[EntryResult], context: dict, *,
                   complete: bool, folder: Path | None = None) -> dict:
    """Write ``manifest.json`` atomically; returns the document written."""
    records = [entry.to_record() for entry in entries]
    manifest = {
        "manifest_format": MANIFEST_FORMAT,
        "complete": complete,
        **context,
        "counts": dict(Counter(record["status"] for record in records)),
        "reports": records,
    }
    atomic_write(output_dir / MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n", folder=folder)
    return manifest
