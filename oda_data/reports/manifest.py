"""What a build records: the skip key, each entry's result, ``manifest.json``."""
from __future__ import annotations

import hashlib
import json
import os
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, Iterator

from .schedule import ReportEntry

#: Every report runs on this Jupyter kernel.
KERNEL_NAME = "python3"
#: Environment variable naming the CRS source for ``requires: crs`` entries.
CRS_SOURCE_ENV = "ODA_CRS_SOURCE"
#: Parameter through which ``requires: crs`` entries receive the CRS source.
CRS_SOURCE_PARAMETER = "crs_source"
#: Version of the manifest layout (bump when fields change meaning).
MANIFEST_FORMAT = 1
#: Status of an entry: built now, failed, not run (missing requirement), not
#: run because nothing it depends on changed; ``pending`` only appears in the
#: files written while a build is still running.
STATUSES = ("ok", "failed", "skipped", "unchanged")
_BUILT_STATUSES = ("ok", "unchanged")


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
