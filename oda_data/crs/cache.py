"""The CRS cache: one plain Parquet file per source, verified on open, rebuilt when damaged.

* **Where**: :func:`cache_dir` = ``$ODA_DATA_CACHE`` when set, else the user
  cache folder of ``platformdirs`` (``.../oda_data/crs``).
* **What**: ``<name>-<source key>-<content key>.parquet`` holds the canonical
  columns, the raw code columns and ``theme``/``theme_rule``, in the source's
  row order, zstd-compressed, in row groups of 122,880 rows with min/max
  statistics. DuckDB, ``pyarrow.dataset``, Spark or Dask read it as it is.
  Beside it, ``<name>-<source key>.json`` (the *manifest*) records the
  source (path, size, times, inode, checksum of its bytes), the Parquet file's
  row count and checksum (:func:`file_checksum`), the layout and the reader's notes.
* **Keys**: the source key digests the resolved path and the reader options
  (``sdmx_rows``, ``encoding``); the content key digests the source's
  checksum (its content fingerprint), :data:`CACHE_FORMAT` and the theme rules. A source whose size,
  mtime, ctime or inode changed is hashed again: an edit that keeps size and
  mtime still changes the ctime (no program can set it back), so it is seen;
  a mere ``touch`` or copy with the same bytes keeps the cache.
* **Integrity**: the first open of a cached file in a process checks its row
  count and checksum against the manifest (later opens check the file's
  size, times and inode). A damaged file (truncated, a flipped byte) is
  rebuilt from the source, with a :class:`CRSCacheWarning`.
* **Safety**: files are written under temporary names in the cache folder and
  moved in place (:mod:`oda_data._files`) under a per-source
  ``filelock.FileLock``: two processes reading the same new source convert it
  once. Temporary files left by a killed conversion are removed by the next
  conversion of that source and by ``oda-data cache clear``.
* **First reads of large text** (:func:`first_read`): the reader answers the
  query from the file itself, then the conversion runs in a thread; the next
  read of that source waits for it (:func:`wait_for_background`).
"""
from __future__ import annotations

import contextlib
import functools
import glob
import hashlib
import json
import os
import re
import shutil
import threading
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import platformdirs
from filelock import FileLock, Timeout

from .._files import atomic_write, publish, temporary_beside
from .._text import printable
from . import background, engine
from .errors import CRSCacheWarning, CRSLayoutWarning
from .integrity import file_checksum, stat_key, verify
from .opening import check_encoding
from .sdmx import check_sdmx_rows
from .sources import Source, bulk_columns, detect_layout
from .themes import rules_fingerprint

#: Environment variable that overrides the cache folder.
CACHE_ENV_VAR = "ODA_DATA_CACHE"
#: Bump when the cached columns or the readers change what they write.
CACHE_FORMAT = "crs-duckdb-1"
_LOCK_TIMEOUT_S = 3600  # a GB conversion by another process can take minutes
#: Counters of cache use in this process (for diagnostics and tests).
CACHE_STATS = {"hits": 0, "conversions": 0, "rebuilds": 0, "background": 0}
#: A bulk text file at least this large is answered from the file on its first
#: read and converted in the background (below it, converting first is quick).
ANSWER_FIRST_BYTES = 64 << 20


def cache_dir() -> Path:
    """Return the cache folder (created if missing).

    Raises
    ------
    NotADirectoryError, OSError
        The folder cannot be used (e.g. ``$ODA_DATA_CACHE`` names a file); the
        one-line message names the path.
    """
    override = os.environ.get(CACHE_ENV_VAR)
    base = Path(override).expanduser() if override else \
        Path(platformdirs.user_cache_dir("oda_data", appauthor=False)) / "crs"
    origin = f"${CACHE_ENV_VAR}" if override else "the user cache folder"
    if base.exists() and not base.is_dir():
        raise NotADirectoryError(f"CRS cache folder {printable(base)} (from {origin}) is a file, not a folder; "
                                 f"point {CACHE_ENV_VAR} at a folder")
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise type(error)(f"CRS cache folder {printable(base)} (from {origin}) cannot be created: "
                          f"{error.strerror or error}") from None
    return base


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:60] or "source"


def _prefix(source: Path, sdmx_rows: str, encoding: str | None) -> str:
    return f"{_slug(source.stem)}-{_digest(f'{source}|{sdmx_rows}|{encoding}')}"


def _content_key(fingerprint: str) -> str:
    return _digest(f"{fingerprint}|{CACHE_FORMAT}|{rules_fingerprint()}")


def _manifest_path(folder: Path, prefix: str) -> Path:
    return folder / f"{prefix}.json"


def _load_manifest(path: Path) -> dict | None:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and "data" in manifest else None


def cached_path(source, *, sdmx_rows: str = "auto", encoding: str | None = None) -> Path:
    """The cached Parquet file of ``source`` as the manifest records it (or where its manifest would be)."""
    source = Path(source).expanduser().resolve()
    folder = cache_dir()
    prefix = _prefix(source, sdmx_rows, check_encoding(encoding))
    manifest = _load_manifest(_manifest_path(folder, prefix))
    return folder / manifest["data"] if manifest else _manifest_path(folder, prefix).with_suffix(".parquet")


def read_metadata(cached) -> dict:
    """The manifest of a cached Parquet file (source, rows, layout, notes, checksums ...)."""
    cached = Path(cached)
    prefix = cached.name[: -len(".parquet")].rsplit("-", 1)[0]
    return _load_manifest(_manifest_path(cached.parent, prefix)) or {}


def ingest(path, *, progress: bool = True, sdmx_rows: str = "auto", encoding: str | None = None) -> Path:
    """Convert the CRS source at ``path`` to Parquet in :func:`cache_dir` once; return the cached file.

    Parameters
    ----------
    path : str or os.PathLike
        Any layout :func:`oda_data.read_crs` reads (text, zip, gzip, Parquet, SDMX-CSV).
    progress : bool
        Show a tqdm progress bar while converting.
    sdmx_rows : {"auto", "DD", "_T"}
        Which Data Explorer rows to keep (see :mod:`oda_data.crs.sdmx`).
    encoding : str, optional
        The text encoding when it is neither UTF-8 (with or without BOM) nor UTF-16.

    Raises
    ------
    FileNotFoundError, oda_data.crs.CRSFormatError, OSError (cache folder)
    """
    return ingest_and_say(path, progress=progress, sdmx_rows=sdmx_rows, encoding=encoding)[0]


def ingest_and_say(path, *, progress: bool, sdmx_rows: str, encoding: str | None,
                   answer_first: bool = False) -> tuple[Path | FirstRead, bool]:
    """:func:`ingest`, and whether this call converted (else the reader repeats the stored notes).

    With ``answer_first``, a source :func:`first_read` would answer from comes
    back as that :class:`FirstRead`, not converted.
    """
    source, folder, prefix, encoding, current, hit = _lookup(path, sdmx_rows, encoding)
    if hit is not None:
        CACHE_STATS["hits"] += 1
        return hit, False
    first = _first_read(source, folder, prefix, current, sdmx_rows, encoding) if answer_first else None
    if first is not None:
        return first, False
    return _under_lock(source, folder, prefix, current, progress=progress, sdmx_rows=sdmx_rows, encoding=encoding)


def _lookup(path, sdmx_rows: str, encoding: str | None):
    """(resolved source, cache folder, source key prefix, checked encoding, source stat key, fresh
    cached file or None), after this process's background conversion of it; the source must exist."""
    check_sdmx_rows(sdmx_rows)
    encoding = check_encoding(encoding)
    source = Path(path).expanduser()
    if not source.exists():
        raise FileNotFoundError(f"CRS source not found: {printable(source)}")
    source = source.resolve()
    folder, prefix = cache_dir(), _prefix(source, sdmx_rows, encoding)
    background.wait(prefix, source)
    current = stat_key(source)
    manifest = _load_manifest(_manifest_path(folder, prefix))
    fresh = _describes(manifest, current) and verify(folder / manifest["data"], manifest) is None
    return source, folder, prefix, encoding, current, folder / manifest["data"] if fresh else None


def _describes(manifest: dict | None, current: list[int]) -> bool:
    """Whether ``manifest`` was written for the source as it is now, with this package's format and rules."""
    return bool(manifest) and manifest.get("source_stat") == current and manifest.get("key") == _content_key(
        manifest.get("fingerprint", ""))


def _under_lock(source: Path, folder: Path, prefix: str, current: list[int], **options) -> tuple[Path, bool]:
    """Look again under the source's lock (another process may have converted it); else convert."""
    manifest_file = _manifest_path(folder, prefix)
    lock = FileLock(str(folder / f"{prefix}.lock"), timeout=_LOCK_TIMEOUT_S)
    try:
        with lock:
            _remove_leftovers(folder, prefix)
            manifest = _load_manifest(manifest_file)
            if manifest:
                if manifest.get("source_stat") != current and file_checksum(source) == manifest.get("fingerprint"):
                    manifest["source_stat"] = current  # same bytes (touched, copied back): keep the cache
                    atomic_write(manifest_file, json.dumps(manifest, indent=1))
                if _describes(manifest, current):
                    problem = verify(folder / manifest["data"], manifest)
                    if problem is None:
                        CACHE_STATS["hits"] += 1
                        return folder / manifest["data"], False
                    warnings.warn(f"{printable(folder / manifest['data'])}: {problem}; converting "
                                  f"{printable(source)} again", CRSCacheWarning, stacklevel=3)
                    CACHE_STATS["rebuilds"] += 1
            target = _convert(source, folder, prefix, **options)
            CACHE_STATS["conversions"] += 1
    except Timeout:  # pragma: no cover - only with a stuck writer
        raise TimeoutError(f"waited {_LOCK_TIMEOUT_S}s for another process converting {printable(source)}; "
                           f"delete {printable(lock.lock_file)} if no conversion is running") from None
    return target, True


# --------------------------------------------------------------------------- first reads of large text
@dataclass
class FirstRead:
    """A large uncached text file: answer from it (:func:`oda_data.crs.engine.answer`), then convert."""

    source: Path
    folder: Path
    prefix: str
    layout: Source
    options: dict

    def convert_in_background(self) -> None:
        """Convert into the cache in a thread (:mod:`oda_data.crs.background`; DuckDB leaves
        the interpreter free meanwhile). The next read or ``ingest`` of the source waits for it."""
        CACHE_STATS["background"] += 1
        background.start(self.prefix, self.source, functools.partial(
            _under_lock, self.source, self.folder, self.prefix, stat_key(self.source), progress=False,
            layout=self.layout, **self.options))


def first_read(path, *, sdmx_rows: str = "auto", encoding: str | None = None) -> FirstRead | None:
    """A :class:`FirstRead` when ``path`` is bulk text of at least :data:`ANSWER_FIRST_BYTES`
    that DuckDB reads directly and the cache has no fresh copy; else None (read through the cache)."""
    source, folder, prefix, encoding, current, hit = _lookup(path, sdmx_rows, encoding)
    return None if hit is not None else _first_read(source, folder, prefix, current, sdmx_rows, encoding)


def _first_read(source: Path, folder: Path, prefix: str, current: list[int], sdmx_rows: str,
                encoding: str | None) -> FirstRead | None:
    if current[0] < ANSWER_FIRST_BYTES:
        return None
    layout = detect_layout(source, encoding)
    if layout.kind != "bulk_text" or not layout.duckdb_reads_directly or bulk_columns(layout)[1]:
        return None
    return FirstRead(source, folder, prefix, layout, {"sdmx_rows": sdmx_rows, "encoding": encoding})


def wait_for_background() -> None:
    """Wait for this process's background conversions (a failure is a :class:`CRSCacheWarning`)."""
    background.wait_all()


def _convert(source: Path, folder: Path, prefix: str, *, progress: bool, sdmx_rows: str,
             encoding: str | None, layout: Source | None = None) -> Path:
    """Convert under the lock. A ``layout`` given means a background conversion after a first read
    (which warned the caller): nothing is warned from here, as ``catch_warnings`` is not thread-safe."""
    quiet = layout is not None
    layout = layout or detect_layout(source, encoding)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=layout.size or None, unit="row" if layout.kind == "bulk_parquet" else "B",
                   unit_scale=True, desc=f"ingest {printable(source.name)}", leave=False)
    stat_before = stat_key(source)
    fingerprint: dict[str, str] = {}
    hasher = threading.Thread(target=lambda: fingerprint.update(checksum=file_checksum(source)), daemon=True)
    hasher.start()
    spill = folder / f".{prefix}.duckdb.tmp"
    try:
        record = contextlib.nullcontext([]) if quiet else warnings.catch_warnings(record=True)
        with contextlib.ExitStack() as stack, record as caught:
            if not quiet:
                warnings.simplefilter("always")
            staged = stack.enter_context(temporary_beside(folder / f"{prefix}.parquet"))

            def scratch(suffix: str) -> Path:
                return stack.enter_context(temporary_beside(folder / f"{prefix}{suffix}"))

            result = engine.convert(layout, staged, scratch=scratch, on_read=bar.update if bar else None,
                                    sdmx_rows=sdmx_rows, spill=spill)
            hasher.join()
            if stat_key(source) != stat_before:
                raise OSError(f"{printable(source)} changed while it was being converted; read it again")
            key = _content_key(fingerprint["checksum"])
            target = folder / f"{prefix}-{key}.parquet"
            notes = [[w.category.__name__, str(w.message)] for w in caught if issubclass(w.category, UserWarning)]
            manifest = {
                "source": str(source), "source_stat": stat_before, "fingerprint": fingerprint["checksum"],
                "key": key, "data": target.name, "rows": result.rows, "size": staged.stat().st_size,
                "checksum": file_checksum(staged), "layout": layout.kind, "format": CACHE_FORMAT,
                "theme_rules": rules_fingerprint(), "sdmx_rows": sdmx_rows, "encoding": encoding,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "notes": notes + [["CRSLayoutWarning", note] for note in result.notes],
                "raw_columns": result.raw_columns,
            }
            publish(staged, target)
            atomic_write(_manifest_path(folder, prefix), json.dumps(manifest, indent=1))
    finally:
        hasher.join()
        shutil.rmtree(spill, ignore_errors=True)
        if bar is not None:
            bar.close()
    for warning in [] if quiet else caught:  # pass the reader's warnings on to the caller
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    for note in [] if quiet else result.notes:
        warnings.warn(note, CRSLayoutWarning, stacklevel=3)
    for other in folder.glob(f"{glob.escape(prefix)}-*.parquet"):
        if other != target:
            other.unlink(missing_ok=True)
    return target


def _remove_leftovers(folder: Path, prefix: str) -> None:
    """Delete temporary files and DuckDB spill folders of ``prefix`` (call under its lock)."""
    for leftover in folder.glob(f".{glob.escape(prefix)}*.tmp"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


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


def list_cache() -> list[CacheEntry]:
    """Return the cached conversions in :func:`cache_dir`, newest first."""
    folder = cache_dir()
    entries = []
    for manifest_file in folder.glob("*.json"):
        manifest = _load_manifest(manifest_file)
        if manifest is None:
            continue
        data = folder / manifest["data"]
        try:
            size = data.stat().st_size
        except FileNotFoundError:  # removed by another process since the listing
            continue
        entries.append(CacheEntry(path=data, source=manifest.get("source", "?"), size_bytes=size,
                                  rows=int(manifest.get("rows", -1)), created=manifest.get("created", "?"),
                                  layout=manifest.get("layout", "?"),
                                  notes=tuple(message for _, message in manifest.get("notes", ()))))
    return sorted(entries, key=lambda entry: entry.created, reverse=True)


def clear_cache() -> int:
    """Delete every cached conversion (Parquet file, manifest, leftovers); return how many conversions.

    A source being converted by another process right now is left alone: each
    source's files are deleted while holding its lock, and a held lock is
    skipped. Lock files stay (deleting one another process waits on would let
    two processes hold "the" lock at once).
    """
    removed = 0
    folder = cache_dir()
    prefixes = {path.stem for path in folder.glob("*.json")}
    prefixes |= {path.name[: -len(".lock")] for path in folder.glob("*.lock")}
    for prefix in sorted(prefixes):
        lock = FileLock(str(folder / f"{prefix}.lock"), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            continue  # converting in another process right now
        try:
            data = list(folder.glob(f"{glob.escape(prefix)}-*.parquet"))
            removed += bool(data)
            for path in [*data, _manifest_path(folder, prefix)]:
                path.unlink(missing_ok=True)
            _remove_leftovers(folder, prefix)
        finally:
            lock.release()
    return removed

