"""Parquet cache of CRS sources: convert once, then scan with filters pushed down.

* **Where**: :func:`cache_dir` = ``$ODA_DATA_CACHE`` when set, else the user
  cache folder of ``platformdirs`` (``.../oda_data/crs``).
* **Key**: a cached file is named ``<stem>-<path hash>-<state hash>.parquet``;
  the path hash comes from the source's resolved path, the state hash from its
  size, modification time (ns), the reader options (``sdmx_rows``) and
  :data:`CACHE_FORMAT`. A changed source gets a new file; the stale files of the
  same source are removed when the new one is written.
* **Conversion** (:func:`ingest`) streams the source batch by batch
  (``pyarrow.csv.open_csv`` for text, Parquet row groups for Parquet) into a
  ``ParquetWriter``: memory stays bounded for GB files. Bulk Parquet sources
  are converted too (not scanned in place) because their column names and types
  differ from the canonical ones; the streaming conversion is cheap.
* **Safety**: the file is written to a temporary name in the cache folder and
  moved in place with ``os.replace`` (atomic), under a per-source
  ``filelock.FileLock``: two processes reading the same new source convert it
  once and never see a half-written file.
* **Metadata**: each cached file carries its source path, size, mtime, row count
  and creation time in the Parquet key-value metadata (``oda_data.*``), which
  ``oda-data cache list`` shows, plus reader notes re-emitted as warnings on
  each read (e.g. "kept the DD rows only").
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import platformdirs
import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock, Timeout

from .layouts import CRSLayoutWarning, SDMX_ROW_CHOICES, detect_layout, read_canonical_batches
from .schema import CANONICAL_ARROW_SCHEMA

#: Environment variable that overrides the cache folder.
CACHE_ENV_VAR = "ODA_DATA_CACHE"
#: Bump when the canonical schema or the readers change what they write.
CACHE_FORMAT = "crs-canonical-1"
#: Rows per Parquet row group: big enough for scan speed, small enough for pruning.
ROW_GROUP_SIZE = 250_000
_LOCK_TIMEOUT_S = 3600  # a GB conversion by another process can take minutes
_META_PREFIX = "oda_data."

#: Counters of cache use in this process (for diagnostics and tests).
CACHE_STATS = {"hits": 0, "conversions": 0}


def cache_dir() -> Path:
    """Return the cache folder (created if missing).

    ``$ODA_DATA_CACHE`` when set, otherwise the platform's user cache folder
    for ``oda_data`` (``platformdirs.user_cache_dir``), sub-folder ``crs``.
    """
    override = os.environ.get(CACHE_ENV_VAR)
    if override:
        base = Path(override).expanduser()
    else:
        base = Path(platformdirs.user_cache_dir("oda_data", appauthor=False)) / "crs"
    base.mkdir(parents=True, exist_ok=True)
    return base


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:60] or "source"


def cached_path(source, *, sdmx_rows: str = "auto") -> Path:
    """Return where the cached Parquet of ``source`` lives (whether or not it exists yet)."""
    source = Path(source).resolve()
    stat = source.stat()
    path_key = _digest(str(source))
    state_key = _digest(f"{stat.st_size}|{stat.st_mtime_ns}|{sdmx_rows}|{CACHE_FORMAT}")
    return cache_dir() / f"{_slug(source.stem)}-{path_key}-{state_key}.parquet"


def _path_prefix(cached: Path) -> str:
    return cached.name.rsplit("-", 1)[0]


def ingest(path, *, progress: bool = True, sdmx_rows: str = "auto") -> Path:
    """Convert the CRS source at ``path`` to canonical Parquet in :func:`cache_dir` once.

    Parameters
    ----------
    path : str or os.PathLike
        Any layout :func:`oda_data.read_crs` reads (text, zip, Parquet, SDMX-CSV).
    progress : bool
        Show a tqdm progress bar (bytes read) while converting.
    sdmx_rows : {"auto", "DD", "_T"}
        Which Data Explorer rows to keep (see :mod:`oda_data.crs.layouts`).

    Returns
    -------
    pathlib.Path
        The cached Parquet file: the existing one when the source's resolved
        path, size and modification time are unchanged.

    Raises
    ------
    FileNotFoundError, oda_data.crs.layouts.CRSFormatError
    """
    if sdmx_rows not in SDMX_ROW_CHOICES:
        raise ValueError(f"sdmx_rows={sdmx_rows!r}; expected one of: {', '.join(SDMX_ROW_CHOICES)}")
    source = Path(path).expanduser()
    if not source.exists():
        raise FileNotFoundError(f"CRS source not found: {source}")
    source = source.resolve()
    target = cached_path(source, sdmx_rows=sdmx_rows)
    if target.exists():
        CACHE_STATS["hits"] += 1
        return target
    lock = FileLock(str(target.parent / f"{_path_prefix(target)}.lock"), timeout=_LOCK_TIMEOUT_S)
    try:
        with lock:
            if target.exists():  # another process converted it while we waited
                CACHE_STATS["hits"] += 1
                return target
            _convert(source, target, progress=progress, sdmx_rows=sdmx_rows)
            CACHE_STATS["conversions"] += 1
            _remove_stale(target)
    except Timeout:  # pragma: no cover - only with a stuck writer
        raise TimeoutError(
            f"waited {_LOCK_TIMEOUT_S}s for another process converting {source}; "
            f"delete {lock.lock_file} if no conversion is running"
        ) from None
    return target


def _convert(source: Path, target: Path, *, progress: bool, sdmx_rows: str) -> None:
    layout = detect_layout(source)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        unit = "row" if layout.kind == "bulk_parquet" else "B"
        bar = tqdm(total=layout.size or None, unit=unit, unit_scale=True,
                   desc=f"ingest {source.name}", leave=False)
    rows = 0
    notes: list[str] = []
    handle, temporary = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=".tmp", dir=target.parent)
    os.close(handle)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pq.ParquetWriter(temporary, CANONICAL_ARROW_SCHEMA, compression="zstd") as writer:
                for table in read_canonical_batches(
                    layout, on_read=bar.update if bar else None, sdmx_rows=sdmx_rows
                ):
                    if table.num_rows:
                        writer.write_table(table, row_group_size=ROW_GROUP_SIZE)
                        rows += table.num_rows
                if rows == 0:
                    writer.write_table(CANONICAL_ARROW_SCHEMA.empty_table())
                notes = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
                stat = source.stat()
                # Footer metadata, written with the file: what `cache list` shows.
                writer.add_key_value_metadata({
                    f"{_META_PREFIX}{key}": value for key, value in {
                        "source": str(source),
                        "source_size": str(stat.st_size),
                        "source_mtime_ns": str(stat.st_mtime_ns),
                        "layout": layout.kind,
                        "rows": str(rows),
                        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        "format": CACHE_FORMAT,
                        "sdmx_rows": sdmx_rows,
                        "notes": json.dumps(notes),
                    }.items()
                })
        for warning in caught:  # pass the reader's warnings on to the caller
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    finally:
        if bar is not None:
            bar.close()


def _remove_stale(current: Path) -> None:
    prefix = _path_prefix(current)
    for other in current.parent.glob(f"{glob_escape(prefix)}-*.parquet"):
        if other != current and _path_prefix(other) == prefix:
            with contextlib.suppress(FileNotFoundError):
                other.unlink()


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


@dataclass(frozen=True)
class CacheEntry:
    """One cached conversion, as listed by ``oda-data cache list``."""

    path: Path
    source: str
    size_bytes: int
    rows: int
    created: str
    layout: str
    notes: tuple[str, ...]


def read_metadata(cached: Path) -> dict[str, str]:
    """Return the ``oda_data.*`` metadata of a cached Parquet file (prefix removed)."""
    raw = pq.read_metadata(cached).metadata or {}
    return {
        key.decode()[len(_META_PREFIX):]: value.decode()
        for key, value in raw.items()
        if key.decode().startswith(_META_PREFIX)
    }


def list_cache() -> list[CacheEntry]:
    """Return the cached conversions in :func:`cache_dir`, newest first."""
    entries = []
    for path in cache_dir().glob("*.parquet"):
        try:
            meta = read_metadata(path)
        except (pa.ArrowInvalid, OSError):  # a foreign or damaged file: show it anyway
            meta = {}
        entries.append(CacheEntry(
            path=path,
            source=meta.get("source", "?"),
            size_bytes=path.stat().st_size,
            rows=int(meta.get("rows", -1)),
            created=meta.get("created", "?"),
            layout=meta.get("layout", "?"),
            notes=tuple(json.loads(meta.get("notes", "[]"))),
        ))
    return sorted(entries, key=lambda entry: entry.created, reverse=True)


def clear_cache() -> int:
    """Delete every cached conversion (and lock / temporary files); return how many."""
    removed = 0
    folder = cache_dir()
    for path in folder.glob("*.parquet"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed += 1
    for pattern in ("*.lock", ".*.tmp"):
        for path in folder.glob(pattern):
            with contextlib.suppress(OSError):
                path.unlink()
    return removed
