"""Download one CRS bulk file end to end: locate, fetch, verify, install, ingest.

The verified file takes its final name last, after its sidecars (``.sha256``, provenance ``.json``):
:func:`os.replace` is the commit point. A file under that name without the provenance is the user's and
is never replaced. One download of a file runs at a time (a file lock beside the ``.part``).
"""
from __future__ import annotations

import datetime as _dt
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import platformdirs
from filelock import FileLock
from filelock import Timeout as LockTimeout

from ..._files import atomic_write
from ..._text import one_line
from .. import cache as crs_cache
from .fetch import (CHUNK_SIZE, DEFAULT_BACKOFF_S, DEFAULT_MAX_TIME_S, DEFAULT_RETRIES, DEFAULT_TIMEOUT, Budget,
                    DownloadError, discard_part, fetch_part, meta_path, read_json, write_json)
from .locate import BulkFile, fetch_bulk_files, find_bulk_file, label_for
from .verify import read_sha256_sidecar, sha256_of, verify_payload

DOWNLOADS_ENV_VAR = "ODA_DATA_DOWNLOADS"


@dataclass
class DownloadResult:
    """The verified file, its SHA-256 and origin; ``reused`` when an up-to-date copy was there."""
    path: Path
    sha256: str
    label: str
    url: str
    version: str | None
    reused: bool
    cached: Path | None = None  # the Parquet cache file made by ingest


def default_download_dir() -> Path:
    """``$ODA_DATA_DOWNLOADS``, else ``<user data folder>/oda_data/downloads``: apart from the Parquet cache."""
    override = os.environ.get(DOWNLOADS_ENV_VAR)
    return Path(override) if override else Path(platformdirs.user_data_dir("oda_data", appauthor=False)) / "downloads"


def file_stem(label: str) -> str:
    """``"CRS 2018 (dotStat format)"`` -> ``"crs-2018-dotstat-format"``."""
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "crs-bulk-file"


def download_crs(*, year: int | None = None, full: bool = False, reduced: bool = False, url: str | None = None,
                 dest=None, ingest: bool = True, force: bool = False, dataflow_url: str | None = None,
                 bulk_url: str | None = None, retries: int = DEFAULT_RETRIES, backoff: float = DEFAULT_BACKOFF_S,
                 max_time: float = DEFAULT_MAX_TIME_S, timeout=DEFAULT_TIMEOUT, chunk_size: int = CHUNK_SIZE,
                 progress: bool = True) -> DownloadResult:
    """Download one OECD CRS bulk file into ``dest`` (default :func:`default_download_dir`), verify, ingest it.

    Choose one of ``year``, ``full`` / ``reduced`` (the whole CRS as Parquet) or ``url``. ``retries`` and
    ``max_time`` (seconds) budget the whole download, locate step included; ``backoff`` is urllib3's
    backoff factor; ``force`` downloads an up-to-date copy again. Raises :class:`DownloadError` (one line
    naming the file and URL; a corrupt file is removed, an interrupted one stays as ``<name>.part`` for
    the next run to resume), or ValueError for a bad choice.
    """
    budget = Budget.start(retries, backoff, max_time)
    if url is not None:
        if year is not None or full or reduced or not re.match(r"^https?://", url, re.IGNORECASE):
            raise ValueError(f"url must start with http:// or https:// and come alone (got {one_line(url)!r})")
        bulk = BulkFile(Path(Path(unquote(urlsplit(url).path)).name).stem or "crs-bulk-file", url)
    else:
        label = label_for(year=year, full=full, reduced=reduced)
        bulk = find_bulk_file(fetch_bulk_files(dataflow_url, bulk_url=bulk_url, budget=budget, timeout=timeout), label)
    folder = Path(dest if dest is not None else default_download_dir()).expanduser().resolve()
    cache = crs_cache.cache_dir().resolve()
    if folder == cache or cache in folder.parents:
        raise DownloadError(f"the download folder {folder} is inside the CRS cache folder {cache}, which holds only "
                            f"Parquet files; choose another with --dest or ${DOWNLOADS_ENV_VAR}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DownloadError(f"the download folder {folder} cannot be created ({error.strerror or error})") from None
    stem, label = file_stem(bulk.label), one_line(bulk.label)
    part = folder / f"{stem}.part"
    try:
        with FileLock(f"{part}.lock", timeout=0):
            result = _reuse_or_fetch(bulk, folder, stem, part, label, budget, force,
                                     timeout=timeout, chunk_size=chunk_size, progress=progress)
    except LockTimeout:
        raise DownloadError(f"{label}: another download of this file into {folder} is running (lock {part}.lock)") from None
    if ingest:
        result.cached = crs_cache.ingest(result.path, progress=progress)
    return result


def _reuse_or_fetch(bulk: BulkFile, folder: Path, stem: str, part: Path, label: str, budget: Budget, force: bool,
                    **options) -> DownloadResult:
    for final in (folder / f"{stem}.zip", folder / f"{stem}.parquet"):
        provenance = read_json(final.with_name(final.name + ".json")) if final.is_file() else None
        if final.is_file() and not (isinstance(provenance, dict) and "sha256" in provenance):
            raise DownloadError(f"{final} is not a download of oda-data (no provenance {final.name}.json): "
                                "it is left untouched; move it or choose another --dest")
        if provenance and not force and bulk.version is not None and provenance.get("url") == bulk.url \
                and provenance.get("version") == bulk.version and read_sha256_sidecar(final) == sha256_of(final):
            return DownloadResult(final, provenance["sha256"], bulk.label, bulk.url, bulk.version, True)
    fetched = fetch_part(bulk.url, part, budget, label=label, **options)
    try:
        kind = verify_payload(part, expected_size=None if fetched["content_encoding"] else fetched["total"])
    except DownloadError as error:
        discard_part(part)
        raise DownloadError(f"{error} -- downloaded from {one_line(bulk.url)}; the damaged download was removed") from None
    final, digest = folder / f"{stem}.{kind}", sha256_of(part)
    provenance = {"label": bulk.label, "url": bulk.url, "version": bulk.version, "size": part.stat().st_size,
                  "sha256": digest, **{key: fetched[key] for key in ("etag", "last_modified", "content_encoding")},
                  "downloaded_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    atomic_write(final.with_name(final.name + ".sha256"), f"{digest}  {final.name}\n")
    write_json(final.with_name(final.name + ".json"), provenance)
    stale = folder / f"{stem}.{'parquet' if kind == 'zip' else 'zip'}"
    for old in (stale, stale.with_name(stale.name + ".sha256"), stale.with_name(stale.name + ".json")):
        old.unlink(missing_ok=True)  # our download of the other kind (a user's file was refused above)
    os.replace(part, final)
    meta_path(part).unlink(missing_ok=True)
    return DownloadResult(final, digest, bulk.label, bulk.url, bulk.version, False)
