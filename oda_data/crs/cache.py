"""Parquet cache of CRS sources: convert once, then read only the row groups a query needs.

* **Where**: :func:`cache_dir` = ``$ODA_DATA_CACHE`` when set, else the user
  cache folder of ``platformdirs`` (``.../oda_data/crs``).
* **Key**: a cached file is named ``<stem>-<path hash>-<state hash>.parquet``;
  the path hash comes from the source's resolved path, the state hash from its
  size, modification time (ns), the reader options (``sdmx_rows``),
  :data:`CACHE_FORMAT` and the theme rules (:func:`~oda_data.crs.themes.rules_fingerprint`).
  A changed source, format or rule file gets a new file; the stale files of the
  same source are removed when the new one is written.
* **Two files per source.** The ``.parquet`` file holds the canonical columns
  (:data:`~oda_data.crs.schema.CANONICAL_ARROW_SCHEMA`, nothing else: any
  Parquet tool can read it). Its *companion* ``.rows`` file (Parquet too, see
  :func:`companion_path`) holds, row for row and row group for row group,
  ``source_row`` (the row's position in the source) and the ``theme`` /
  ``theme_rule`` that :func:`oda_data.tag_themes` gives it, computed once at
  conversion.
* **Layout for pruning.** The source is cut into *runs* of :data:`RUN_ROWS`
  rows. Each run is sorted: first its rows with a theme, by donor, theme and
  year, in row groups of :data:`THEMED_ROW_GROUP_SIZE` rows; then the other
  rows, by donor and year, in row groups of :data:`ROW_GROUP_SIZE`. Parquet's
  min/max statistics then let a query skip every row group of other donors,
  and every row group without the themes asked for. Readers put the rows
  back in source order with ``source_row`` (:mod:`oda_data.crs.reader`).
  The row groups of each run are listed in the metadata (``oda_data.runs``).
* **Conversion** (:func:`ingest`) streams the source batch by batch
  (``pyarrow.csv.open_csv`` for text, Parquet row groups for Parquet); one
  run at a time is tagged, sorted and written by a worker thread while the
  next run is read, so memory stays bounded (about two runs) for GB files.
  Bulk Parquet sources are converted too (not scanned in place) because their
  column names and types differ from the canonical ones.
* **Safety**: both files are written to temporary names in the cache folder
  and moved in place with ``os.replace`` (atomic), the companion first, under
  a per-source ``filelock.FileLock``: two processes reading the same new
  source convert it once and never see a half-written file. A ``.parquet``
  file whose companion is missing is converted again.
* **Metadata**: each cached file carries its source path, size, mtime, row count
  and creation time in the Parquet key-value metadata (``oda_data.*``), which
  ``oda-data cache list`` shows, plus reader notes re-emitted as warnings on
  each read (e.g. "kept the DD rows only").
"""
from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import re
import threading
import warnings
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import platformdirs
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from filelock import FileLock, Timeout

from .._files import temporary_beside
from .layouts import check_sdmx_rows, detect_layout, read_canonical_batches
from .schema import CANONICAL_ARROW_SCHEMA, TEXT_COLUMNS
from .themes import rules_fingerprint, theme_arrays

#: Environment variable that overrides the cache folder.
CACHE_ENV_VAR = "ODA_DATA_CACHE"
#: Bump when the canonical schema or the readers change what they write.
#: 2: runs sorted by donor/theme/year, companion file with source_row and themes.
CACHE_FORMAT = "crs-canonical-2"
#: Rows sorted together: bounds the conversion's memory (a few runs at a time).
RUN_ROWS = 262_144
#: Rows per row group of untagged rows: big enough for scan speed, small enough for pruning.
ROW_GROUP_SIZE = 65_536
#: Rows per row group of tagged rows: few rows, read by every ``themes=`` query.
THEMED_ROW_GROUP_SIZE = 1_024
_WORKERS = 2  # threads tagging and sorting runs while the source is read
# LZ4 encodes and decodes faster than zstd (the files are about 15 % larger).
_WRITE_OPTIONS = {"compression": "lz4"}
# Min/max statistics where queries filter; none on free text, which they cannot prune.
_STATISTICS_COLUMNS = ["year", "donor_code", "agency_code", "recipient_code", "flow_code", "finance_type",
                       "purpose_code", "sector_code", "channel_code"]
#: Suffix of the companion file (source_row, theme, theme_rule).
COMPANION_SUFFIX = ".rows"
#: Arrow schema of the companion file.
COMPANION_SCHEMA = pa.schema([
    pa.field("source_row", pa.int64(), nullable=False),
    pa.field("theme", pa.string()),
    pa.field("theme_rule", pa.string()),
])
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
    state_key = _digest(f"{stat.st_size}|{stat.st_mtime_ns}|{sdmx_rows}|{CACHE_FORMAT}|{rules_fingerprint()}")
    return cache_dir() / f"{_slug(source.stem)}-{path_key}-{state_key}.parquet"


def companion_path(cached) -> Path:
    """Return the companion file of a cached Parquet file (``<name>.rows`` beside it).

    It holds ``source_row``, ``theme`` and ``theme_rule`` (:data:`COMPANION_SCHEMA`)
    for the rows of ``cached``, in the same order and row groups.
    """
    cached = Path(cached)
    return cached.with_name(cached.stem + COMPANION_SUFFIX)


def _is_complete(cached: Path) -> bool:
    return cached.exists() and companion_path(cached).exists()


def _path_prefix(cached: Path) -> str:
    """``<stem>-<path hash>`` of a cached or companion file name."""
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
    check_sdmx_rows(sdmx_rows)
    source = Path(path).expanduser()
    if not source.exists():
        raise FileNotFoundError(f"CRS source not found: {source}")
    source = source.resolve()
    target = cached_path(source, sdmx_rows=sdmx_rows)
    if _is_complete(target):
        CACHE_STATS["hits"] += 1
        return target
    lock = FileLock(str(target.parent / f"{_path_prefix(target)}.lock"), timeout=_LOCK_TIMEOUT_S)
    try:
        with lock:
            if _is_complete(target):  # another process converted it while we waited
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
    companion = companion_path(target)
    try:
        # Both files go to temporary names beside their final ones; whatever is
        # not moved into place (an error, Ctrl-C) is removed on the way out.
        with temporary_beside(target) as main_temporary, temporary_beside(companion) as companion_temporary:
            _write_files(source, layout, main_temporary, companion_temporary,
                         on_read=bar.update if bar else None, sdmx_rows=sdmx_rows)
            # Companion first: a .parquet file is only ever seen with its companion.
            os.replace(companion_temporary, companion)
            os.replace(main_temporary, target)
    finally:
        if bar is not None:
            bar.close()


def _write_files(source: Path, layout, main_file: Path, companion_file: Path, *,
                 on_read, sdmx_rows: str) -> None:
    """Read ``layout``, tag and sort it by runs, and write the cached file and its companion."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pq.ParquetWriter(main_file, CANONICAL_ARROW_SCHEMA, **_WRITE_OPTIONS,
                              write_statistics=_STATISTICS_COLUMNS) as writer, \
                pq.ParquetWriter(companion_file, COMPANION_SCHEMA, **_WRITE_OPTIONS,
                                 write_statistics=["source_row", "theme"]) as companion_writer:
            runs = _RunWriter(writer, companion_writer)
            with runs:
                pending: list[pa.Table] = []
                pending_rows = 0
                for table in read_canonical_batches(layout, on_read=on_read, sdmx_rows=sdmx_rows):
                    if table.num_rows:
                        pending.append(table)
                        pending_rows += table.num_rows
                    while pending_rows >= RUN_ROWS:  # runs of exactly RUN_ROWS rows
                        rest = pa.concat_tables(pending)
                        runs.submit(rest.slice(0, RUN_ROWS))
                        pending, pending_rows = [rest.slice(RUN_ROWS)], pending_rows - RUN_ROWS
                if pending_rows:
                    runs.submit(pa.concat_tables(pending))
            rows = runs.rows
            if rows == 0:
                writer.write_table(CANONICAL_ARROW_SCHEMA.empty_table())
                companion_writer.write_table(COMPANION_SCHEMA.empty_table())
            notes = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
            stat = source.stat()
            # Footer metadata, written with the file: what `cache list` shows.
            metadata = {
                f"{_META_PREFIX}{key}": value for key, value in {
                    "source": str(source),
                    "source_size": str(stat.st_size),
                    "source_mtime_ns": str(stat.st_mtime_ns),
                    "layout": layout.kind,
                    "rows": str(rows),
                    "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "format": CACHE_FORMAT,
                    "theme_rules": rules_fingerprint(),
                    "sdmx_rows": sdmx_rows,
                    "notes": json.dumps(notes),
                    "runs": json.dumps(runs.row_groups_per_run),
                }.items()
            }
            writer.add_key_value_metadata(metadata)
            companion_writer.add_key_value_metadata(metadata)
    for warning in caught:  # pass the reader's warnings on to the caller
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)


class _RunWriter:
    """Tag and sort runs of rows in worker threads; write them in source order.

    The workers overlap the tagging (regular expressions), sorting and Parquet
    encoding of runs with the reading of the next ones (Arrow releases the
    GIL). Two workers keep both cores busy when the reader waits on I/O or
    one run is slower; runs are still written one after the other, in order.
    At most :data:`_WORKERS` runs are in the workers' hands, which bounds memory.
    """

    def __init__(self, writer: pq.ParquetWriter, companion_writer: pq.ParquetWriter):
        self._writer = writer
        self._companion_writer = companion_writer
        self._executor = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="oda-data-ingest")
        self._pending: deque[Future] = deque()
        self._turn = threading.Condition()
        self._next_to_write = 0
        self._failed = False
        self._submitted = 0
        self.rows = 0
        self.row_groups_per_run: list[int] = []

    def submit(self, table: pa.Table) -> None:
        while len(self._pending) >= _WORKERS:
            self._pending.popleft().result()  # re-raises a worker's error here
        index, self._submitted = self._submitted, self._submitted + 1
        # Hand the table over in a list the worker empties: the run's memory
        # is freed as soon as it is sorted, not when the whole job ends.
        self._pending.append(self._executor.submit(self._process, [table], self.rows, index))
        self.rows += table.num_rows

    def __enter__(self) -> "_RunWriter":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        try:
            if error is None:
                while self._pending:
                    self._pending.popleft().result()
        finally:
            self._fail()  # a worker still waiting for its turn gives up
            self._executor.shutdown(wait=True)

    def _fail(self) -> None:
        with self._turn:
            self._failed = True
            self._turn.notify_all()

    def _process(self, handed_over: list[pa.Table], first_row: int, index: int) -> None:
        try:
            parts = sort_run(handed_over.pop(), first_row)
        except BaseException:
            self._fail()
            raise
        with self._turn:
            self._turn.wait_for(lambda: self._next_to_write == index or self._failed)
            if self._failed:
                return
            try:
                self.row_groups_per_run.append(write_run(self._writer, self._companion_writer, *parts))
            except BaseException:
                self._failed = True
                raise
            finally:
                self._next_to_write += 1
                self._turn.notify_all()


def sort_run(table: pa.Table, first_row: int) -> tuple[pa.Table, pa.Table, int]:
    """Tag one run of canonical rows and sort it for pruning.

    Returns the sorted canonical rows, the matching companion rows
    (``source_row``, ``theme``, ``theme_rule``) and how many rows have a theme
    (they come first, by donor, theme and year; then the others by donor and
    year). The sort is stable: rows with the same keys keep their source order.
    """
    length = table.num_rows
    theme, rule = theme_arrays(table["purpose_code"], [table[name] for name in TEXT_COLUMNS])
    keys = pa.table({
        "untagged": pc.is_null(theme), "donor_code": table["donor_code"], "theme": theme, "year": table["year"],
    })
    order = pc.sort_indices(keys, sort_keys=[(name, "ascending", "at_end") for name in keys.column_names])
    extra = pa.table({"source_row": np.arange(first_row, first_row + length, dtype=np.int64),
                      "theme": theme, "theme_rule": rule}, schema=COMPANION_SCHEMA)
    tagged = length - (pc.sum(pc.is_null(theme)).as_py() or 0)
    return table.take(order), extra.take(order), tagged


def write_run(writer: pq.ParquetWriter, companion_writer: pq.ParquetWriter,
              table: pa.Table, extra: pa.Table, tagged: int) -> int:
    """Write a sorted run (from :func:`sort_run`) to both files; return its row-group count.

    The ``tagged`` first rows go in row groups of :data:`THEMED_ROW_GROUP_SIZE`,
    the others in row groups of :data:`ROW_GROUP_SIZE`.
    """
    length = table.num_rows
    row_groups = 0
    for start, stop, size in ((0, tagged, THEMED_ROW_GROUP_SIZE), (tagged, length, ROW_GROUP_SIZE)):
        if stop > start:
            # One write_table call per part: a row group never mixes tagged and untagged rows.
            writer.write_table(table.slice(start, stop - start), row_group_size=size)
            companion_writer.write_table(extra.slice(start, stop - start), row_group_size=size)
            row_groups += -(-(stop - start) // size)
    return row_groups


def _remove_stale(current: Path) -> None:
    prefix = _path_prefix(current)
    keep = {current.name, companion_path(current).name}
    for pattern in (f"{glob_escape(prefix)}-*.parquet", f"{glob_escape(prefix)}-*{COMPANION_SUFFIX}"):
        for other in current.parent.glob(pattern):
            if other.name not in keep and _path_prefix(other) == prefix:
                with contextlib.suppress(FileNotFoundError):
                    other.unlink()


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


@dataclass(frozen=True)
class CacheEntry:
    """One cached conversion, as listed by ``oda-data cache list`` (size: both files)."""

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


def row_groups_per_run(metadata: pq.FileMetaData) -> list[int]:
    """How many row groups each run of a cached file has, in file order (``oda_data.runs``).

    Empty for an empty source (whose file holds one empty row group).
    """
    raw = (metadata.metadata or {}).get(f"{_META_PREFIX}runs".encode(), b"[]")
    return [int(count) for count in json.loads(raw)]


def list_cache() -> list[CacheEntry]:
    """Return the cached conversions in :func:`cache_dir`, newest first."""
    entries = []
    for path in cache_dir().glob("*.parquet"):
        try:
            meta = read_metadata(path)
        except (pa.ArrowInvalid, OSError):  # a foreign or damaged file: show it anyway
            meta = {}
        try:
            size = path.stat().st_size
        except FileNotFoundError:  # removed by another process since the listing
            continue
        with contextlib.suppress(FileNotFoundError):
            size += companion_path(path).stat().st_size
        entries.append(CacheEntry(
            path=path,
            source=meta.get("source", "?"),
            size_bytes=size,
            rows=int(meta.get("rows", -1)),
            created=meta.get("created", "?"),
            layout=meta.get("layout", "?"),
            notes=tuple(json.loads(meta.get("notes", "[]"))),
        ))
    return sorted(entries, key=lambda entry: entry.created, reverse=True)


def clear_cache() -> int:
    """Delete every cached conversion with its companion and temporary files; return how many.

    A source being converted by another process right now is left alone: each
    source's files are deleted while holding its lock, and a lock that is held
    is skipped (its conversion would otherwise fail when it moves its files in).
    Lock files stay: deleting a lock file another process waits on would let
    two processes hold "the" lock at once.
    """
    removed = 0
    folder = cache_dir()
    prefixes = {_path_prefix(path) for path in folder.glob("*.parquet")}
    prefixes |= {path.name[: -len(".lock")] for path in folder.glob("*.lock")}
    for prefix in sorted(prefixes):
        lock = FileLock(str(folder / f"{prefix}.lock"), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            continue  # converting in another process right now
        try:
            for path in folder.glob(f"{glob.escape(prefix)}-*.parquet"):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
            for pattern in (f"{glob.escape(prefix)}-*{COMPANION_SUFFIX}", f".{glob.escape(prefix)}-*.tmp"):
                for path in folder.glob(pattern):
                    with contextlib.suppress(OSError):
                        path.unlink()
        finally:
            lock.release()
    return removed
