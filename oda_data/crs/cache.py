"""The CRS cache: one plain Parquet file per source, checked on open (:mod:`.integrity`), rebuilt when damaged.

File names, keys and the ``.work/`` folder for locks, temporary files and spill: the README's "The cache is a
plain Parquet dataset". Conversions run under the source's ``filelock``; a large text file's first read is
answered from the file (:class:`FirstRead`) and converted in a thread.
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
import uuid
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import platformdirs
from filelock import FileLock, Timeout

from .._files import atomic_write
from .._text import printable
from . import engine
from .errors import CRSCacheWarning, CRSLayoutWarning
from .integrity import file_checksum, stat_key, verify
from .layouts import detect
from .layouts.data_explorer import check_sdmx_rows
from .opening import Source, check_encoding
from .themes import rules_fingerprint

#: Environment variable that overrides the cache folder.
CACHE_ENV_VAR = "ODA_DATA_CACHE"
#: Bump when the cached columns or the readers change what they write.
CACHE_FORMAT = "crs-duckdb-2"
#: A text file at least this large is answered from the file on its first read and converted in the background.
ANSWER_FIRST_BYTES = 64 << 20
_LOCK_TIMEOUT_S = 3600  # a GB conversion by another process can take minutes
_WORK = ".work"


class CacheState:
    """This process's cache state: counters and background conversions (one non-daemon thread per
    source, so a script that ends waits for it); :meth:`wait` reports a failure as a CRSCacheWarning."""

    def __init__(self):
        self.stats = {"hits": 0, "conversions": 0, "rebuilds": 0, "background": 0}
        self._running: dict[str, tuple[threading.Thread, Path]] = {}
        self._failed: dict[str, BaseException] = {}

    def start(self, prefix: str, source: Path, convert) -> None:
        def work():
            try:
                convert()
            except BaseException as error:  # noqa: BLE001 - reported by the next wait
                self._failed[prefix] = error

        self.stats["background"] += 1
        thread = threading.Thread(target=work, name=f"oda_data: caching {source.name}")
        self._running[prefix] = (thread, source)
        thread.start()

    def wait(self, prefix: str, source: Path) -> None:
        thread, _ = self._running.pop(prefix, (None, None))
        if thread is not None:
            thread.join()
        error = self._failed.pop(prefix, None)
        if error is not None:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            warnings.warn(f"converting {printable(source)} into the cache in the background failed "
                          f"({printable(reason)}); the next read converts it again", CRSCacheWarning, stacklevel=4)

    def wait_all(self) -> None:
        for prefix, (_, source) in list(self._running.items()):
            self.wait(prefix, source)


STATE = CacheState()


def cache_dir() -> Path:
    """The cache folder (created if missing); NotADirectoryError/OSError naming the path when unusable."""
    override = os.environ.get(CACHE_ENV_VAR)
    base = Path(override).expanduser() if override else \
        Path(platformdirs.user_cache_dir("oda_data", appauthor=False)) / "crs"
    origin = f"${CACHE_ENV_VAR}" if override else "the user cache folder"
    if base.exists() and not base.is_dir():
        raise NotADirectoryError(f"CRS cache folder {printable(base)} (from {origin}) is a file, not a folder; "
                                 f"point {CACHE_ENV_VAR} at a folder")
    try:
        (base / _WORK).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise type(error)(f"CRS cache folder {printable(base)} (from {origin}) cannot be created: "
                          f"{error.strerror or error}") from None
    return base


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _prefix(source: Path) -> str:
    """``<file name>-<digest of the resolved path>``: one cache file per source."""
    return f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', source.stem)[:60] or 'source'}-{_digest(str(source))}"


def _content_key(fingerprint: str, sdmx_rows: str, encoding: str | None) -> str:
    return _digest(f"{fingerprint}|{CACHE_FORMAT}|{rules_fingerprint()}|{sdmx_rows}|{encoding}")


def _load_manifest(path: Path) -> dict | None:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and "data" in manifest else None


@dataclass
class Lookup:
    """Where a source stands in the cache: its keys, its stat now, and its fresh cached file (or None)."""

    source: Path
    folder: Path
    prefix: str
    sdmx_rows: str
    encoding: str | None
    stat: list[int]
    hit: Path | None = None

    @property
    def manifest_file(self) -> Path:
        return self.folder / f"_{self.prefix}.json"

    @property
    def work(self) -> Path:
        return self.folder / _WORK

    def describes(self, manifest: dict | None) -> bool:
        """Whether ``manifest`` was written for the source as it is now, with these options, format and rules."""
        return bool(manifest) and manifest.get("source_stat") == self.stat and manifest.get("key") == _content_key(
            manifest.get("fingerprint", ""), self.sdmx_rows, self.encoding)

    def fresh(self, manifest: dict | None) -> Path | None:
        """The cached file when ``manifest`` describes the source and the file checks out (else None)."""
        if not self.describes(manifest):
            return None
        data = self.folder / manifest["data"]
        problem, checked = verify(data, manifest)
        if problem:
            return None
        if checked:  # intact, but its identity changed (copied back, restored): remember the new one
            atomic_write(self.manifest_file, json.dumps({**manifest, "data_stat": stat_key(data)}, indent=1),
                         folder=self.work)
        return data


def _lookup(path, sdmx_rows: str, encoding: str | None) -> Lookup:
    """The :class:`Lookup` of ``path`` (after this process's background conversion of it)."""
    check_sdmx_rows(sdmx_rows)
    encoding = check_encoding(encoding)
    source = Path(path).expanduser()
    if not source.exists():
        raise FileNotFoundError(f"CRS source not found: {printable(source)}")
    source = source.resolve()
    lookup = Lookup(source, cache_dir(), _prefix(source), sdmx_rows, encoding, [])
    STATE.wait(lookup.prefix, source)
    lookup.stat = stat_key(source)
    lookup.hit = lookup.fresh(_load_manifest(lookup.manifest_file))
    return lookup


def cached_path(source) -> Path:
    """The cached Parquet file of ``source`` as its manifest records it (or where it would be)."""
    folder, prefix = cache_dir(), _prefix(Path(source).expanduser().resolve())
    manifest = _load_manifest(folder / f"_{prefix}.json")
    return folder / (manifest["data"] if manifest else f"{prefix}.parquet")


def read_metadata(cached) -> dict:
    """The manifest of a cached Parquet file (source, rows, layout, notes, checksums ...)."""
    cached = Path(cached)
    return _load_manifest(cached.parent / f"_{cached.name[: -len('.parquet')].rsplit('-', 1)[0]}.json") or {}


def ingest(path, *, progress: bool = True, sdmx_rows: str = "auto", encoding: str | None = None) -> Path:
    """The cached file of the CRS source at ``path``, converted once (FileNotFoundError, CRSFormatError, OSError)."""
    return ingest_and_say(path, progress=progress, sdmx_rows=sdmx_rows, encoding=encoding)[0]


def ingest_and_say(path, *, progress: bool, sdmx_rows: str, encoding: str | None,
                   answer_first: bool = False) -> tuple[Path | FirstRead, bool]:
    """:func:`ingest`, and whether this call converted (else the reader repeats the stored notes); with
    ``answer_first``, a large text source comes back as a :class:`FirstRead`, not converted."""
    lookup = _lookup(path, sdmx_rows, encoding)
    if lookup.hit is not None:
        STATE.stats["hits"] += 1
        return lookup.hit, False
    if answer_first and (first := _first_read(lookup)) is not None:
        return first, False
    return _under_lock(lookup, progress=progress)


def _under_lock(lookup: Lookup, *, progress: bool, layout: Source | None = None) -> tuple[Path, bool]:
    """Look again under the source's lock (another process may have converted it); else convert."""
    lock = FileLock(str(lookup.work / f"{lookup.prefix}.lock"), timeout=_LOCK_TIMEOUT_S)
    try:
        with lock:
            _remove_leftovers(lookup.folder, lookup.prefix)
            manifest = _load_manifest(lookup.manifest_file)
            if manifest and manifest.get("source_stat") != lookup.stat and \
                    file_checksum(lookup.source) == manifest.get("fingerprint"):
                manifest["source_stat"] = lookup.stat  # same bytes (touched, copied back): keep the cache
                atomic_write(lookup.manifest_file, json.dumps(manifest, indent=1), folder=lookup.work)
            if lookup.describes(manifest):
                hit = lookup.fresh(manifest)
                if hit is not None:
                    STATE.stats["hits"] += 1
                    return hit, False
                warnings.warn(f"{printable(lookup.folder / manifest['data'])}: "
                              f"{verify(lookup.folder / manifest['data'], manifest)[0]}; converting "
                              f"{printable(lookup.source)} again", CRSCacheWarning, stacklevel=3)
                STATE.stats["rebuilds"] += 1
            target = _convert(lookup, progress=progress, layout=layout)
            STATE.stats["conversions"] += 1
    except Timeout:  # pragma: no cover - only with a stuck writer
        raise TimeoutError(f"waited {_LOCK_TIMEOUT_S}s for another process converting {printable(lookup.source)}; "
                           f"delete {printable(lock.lock_file)} if no conversion is running") from None
    return target, True


@dataclass
class FirstRead:
    """A large uncached text file: answer from it (:func:`oda_data.crs.engine.answer`), then convert."""

    lookup: Lookup
    layout: Source

    def convert_in_background(self) -> None:
        """Convert into the cache in a thread; the next read or ``ingest`` of the source waits for it."""
        STATE.start(self.lookup.prefix, self.lookup.source,
                    functools.partial(_under_lock, self.lookup, progress=False, layout=self.layout))


def first_read(path, *, sdmx_rows: str = "auto", encoding: str | None = None) -> FirstRead | None:
    """A :class:`FirstRead` when ``path`` is large text its layout answers from, not fresh in the cache; else None."""
    lookup = _lookup(path, sdmx_rows, encoding)
    return None if lookup.hit is not None else _first_read(lookup)


def _first_read(lookup: Lookup) -> FirstRead | None:
    if lookup.stat[0] < ANSWER_FIRST_BYTES:
        return None
    source = detect(lookup.source, lookup.encoding)
    return FirstRead(lookup, source) if source.layout.answers_first(source) else None


def wait_for_background() -> None:
    """Wait for this process's background conversions (a failure is a :class:`CRSCacheWarning`)."""
    STATE.wait_all()


def _convert(lookup: Lookup, *, progress: bool, layout: Source | None = None) -> Path:
    """Convert under the lock. A ``layout`` given means a background conversion after a first read
    (which warned the caller): nothing is warned from here, as ``catch_warnings`` is not thread-safe."""
    quiet, source = layout is not None, lookup.source
    layout = layout or detect(source, lookup.encoding)
    from tqdm.auto import tqdm  # here: a read from the cache never pays for importing it

    bar = tqdm(total=layout.size or None, unit="row" if layout.parquet else "B", unit_scale=True,
               desc=f"ingest {printable(source.name)}", leave=False, disable=not progress)
    stat_before = stat_key(source)
    fingerprint: dict[str, str] = {}
    hasher = threading.Thread(target=lambda: fingerprint.update(checksum=file_checksum(source)), daemon=True)
    hasher.start()
    work, prefix = lookup.work, lookup.prefix
    try:
        record = contextlib.nullcontext([]) if quiet else warnings.catch_warnings(record=True)
        with record as caught:
            if not quiet:
                warnings.simplefilter("always")
            staged = work / f"{prefix}.{uuid.uuid4().hex[:8]}.parquet.tmp"
            result = engine.convert(layout, staged, scratch=lambda suffix: work / f"{prefix}.{uuid.uuid4().hex[:8]}"
                                    f"{suffix}.tmp", on_read=bar.update if progress else None,
                                    sdmx_rows=lookup.sdmx_rows, spill=work / f"{prefix}.spill.tmp")
            hasher.join()
            if stat_key(source) != stat_before:
                raise OSError(f"{printable(source)} changed while it was being converted; read it again")
            key = _content_key(fingerprint["checksum"], lookup.sdmx_rows, lookup.encoding)
            target = lookup.folder / f"{prefix}-{key}.parquet"
            os.chmod(staged, 0o644)
            manifest = {
                "source": str(source), "source_stat": stat_before, "fingerprint": fingerprint["checksum"],
                "key": key, "data": target.name, "rows": result.rows, "size": staged.stat().st_size,
                "checksum": file_checksum(staged), "layout": layout.kind, "format": CACHE_FORMAT,
                "theme_rules": rules_fingerprint(), "sdmx_rows": lookup.sdmx_rows, "encoding": lookup.encoding,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "notes": [[w.category.__name__, str(w.message)] for w in caught if issubclass(w.category, UserWarning)]
                + [["CRSLayoutWarning", note] for note in result.notes],
                "raw_columns": result.raw_columns,
            }
            os.replace(staged, target)
            atomic_write(lookup.manifest_file, json.dumps({**manifest, "data_stat": stat_key(target)}, indent=1),
                         folder=work)
    finally:
        hasher.join()
        _remove_leftovers(lookup.folder, prefix)
        bar.close()
    for warning in [] if quiet else caught:  # pass the reader's warnings on to the caller
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    for note in [] if quiet else result.notes:
        warnings.warn(note, CRSLayoutWarning, stacklevel=3)
    for other in lookup.folder.glob(f"{glob.escape(prefix)}-*.parquet"):
        if other != target:
            other.unlink(missing_ok=True)
    return target


def _remove_leftovers(folder: Path, prefix: str) -> None:
    """Delete the temporary files, DuckDB's included, and spill folders of ``prefix`` (call under its lock)."""
    escaped = glob.escape(prefix)
    for pattern in (f"{_WORK}/{escaped}.*.tmp", f"{_WORK}/tmp_{escaped}.*", f".{escaped}*.tmp", f"tmp_.{escaped}*"):
        for leftover in folder.glob(pattern):
            shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink(missing_ok=True)


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
    """The cached conversions in :func:`cache_dir`, newest first."""
    folder, entries = cache_dir(), []
    for manifest in filter(None, map(_load_manifest, folder.glob("_*.json"))):
        try:
            size = (folder / manifest["data"]).stat().st_size
        except FileNotFoundError:  # removed by another process since the listing
            continue
        entries.append(CacheEntry(folder / manifest["data"], manifest.get("source", "?"), size,
                                  int(manifest.get("rows", -1)), manifest.get("created", "?"),
                                  manifest.get("layout", "?"), tuple(note for _, note in manifest.get("notes", ()))))
    return sorted(entries, key=lambda entry: entry.created, reverse=True)


def clear_cache() -> int:
    """Delete every cached conversion (Parquet file, manifest, leftovers); return how many. A source
    another process converts now (lock held) is left alone; lock files stay (another process may wait on one)."""
    removed, folder = 0, cache_dir()
    prefixes = {path.stem[1:] for path in folder.glob("_*.json")}
    prefixes |= {path.name[: -len(".lock")] for path in (folder / _WORK).glob("*.lock")}
    for prefix in sorted(prefixes):
        lock = FileLock(str(folder / _WORK / f"{prefix}.lock"), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            continue  # converting in another process right now
        try:
            data = list(folder.glob(f"{glob.escape(prefix)}-*.parquet"))
            removed += bool(data)
            for path in [*data, folder / f"_{prefix}.json"]:
                path.unlink(missing_ok=True)
            _remove_leftovers(folder, prefix)
        finally:
            lock.release()
    return removed
