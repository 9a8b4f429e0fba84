"""Download one CRS bulk file end to end: locate, fetch, verify, install, ingest.

The verified file takes its final name only after its sidecars are written
(``<file>.sha256``, provenance ``<file>.json``): :func:`os.replace` is the
commit point, so a half file never sits under the final name. A file under
that name without the downloader's provenance is the user's and is never
replaced. One download of a file runs at a time (a file lock).
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
from .fetch import (CHUNK_SIZE, DEFAULT_BACKOFF_S, DEFAULT_MAX_TIME_S, DEFAULT_RETRIES, DEFAULT_TIMEOUT,
                    Budget, DownloadError, discard_part, fetch_part, meta_path, read_json, write_json)
from .locate import BulkFile, fetch_bulk_files, find_bulk_file, label_for
from .verify import read_sha256_sidecar, sha256_of, verify_payload

#: Overrides :func:`default_download_dir`.
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
    """``$ODA_DATA_DOWNLOADS``, else ``<user data dir>/oda_data/downloads``: never the Parquet cache folder."""
    override = os.environ.get(DOWNLOADS_ENV_VAR)
    return Path(override) if override else Path(platformdirs.user_data_dir("oda_data", appauthor=False)) / "downloads"


def file_stem(label: str) -> str:
    """``"CRS 2018 (dotStat format)"`` -> ``"crs-2018-dotstat-format"``."""
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "crs-bulk-file"


def _folder(dest) -> Path:
    folder = Path(dest if dest is not None else default_download_dir()).expanduser().resolve()
    cache = crs_cache.cache_dir().resolve()
    if folder == cache or cache in folder.parents:
        raise DownloadError(f"the download folder {folder} is inside the CRS cache folder {cache}, which holds "
                            f"only Parquet files; choose another with --dest or ${DOWNLOADS_ENV_VAR}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DownloadError(f"the download folder {folder} cannot be created ({error.strerror or error})") from None
    return folder


def _ours(final: Path) -> dict | None:
    """The provenance of a file this downloader installed, None for anything else."""
    provenance = read_json(final.with_name(final.name + ".json"))
    return provenance if isinstance(provenance, dict) and "sha256" in provenance and "url" in provenance else None


def download_crs(*, year: int | None = None, full: bool = False, reduced: bool = False, url: str | None = None,
                 dest=None, ingest: bool = True, force: bool = False, dataflow_url: str | None = None,
                 bulk_url: str | None = None, retries: int = DEFAULT_RETRIES, backoff: float = DEFAULT_BACKOFF_S,
                 max_time: float = DEFAULT_MAX_TIME_S, timeout=DEFAULT_TIMEOUT, chunk_size: int = CHUNK_SIZE,
                 progress: bool = True) -> DownloadResult:
    """Download one OECD CRS bulk file, verify it and (by default) ingest it.

    Choose exactly one of ``year`` (``"CRS {year} (dotStat format)"``),
    ``full`` / ``reduced`` (the whole CRS as Parquet) or ``url``. The file goes
    to ``dest`` (default :func:`default_download_dir`). ``retries`` and
    ``max_time`` (seconds) are the budget of the whole download, locate step
    included; ``backoff`` is urllib3's backoff factor. ``force`` downloads
    again an up-to-date verified copy.

    Raises
    ------
    DownloadError
        Locate, fetch or verification failed (one line naming the file and
        URL). A corrupt file is removed; an interrupted one stays as
        ``<name>.part`` for the next run to resume.
    ValueError
        Not exactly one of year/full/reduced/url.
    """
    budget = Budget.start(retries, backoff, max_time)
    if url is not None:
        if year is not None or full or reduced:
            raise ValueError("give either url or one of year/full/reduced, not both")
        if not re.match(r"^https?://", url, re.IGNORECASE):
            raise ValueError(f"url must start with http:// or https:// (got {one_line(url)!r})")
        bulk = BulkFile(Path(Path(unquote(urlsplit(url).path)).name).stem or "crs-bulk-file", url)
    else:
        label = label_for(year=year, full=full, reduced=reduced)
        bulk = find_bulk_file(fetch_bulk_files(dataflow_url, bulk_url=bulk_url, budget=budget, timeout=timeout), label)
    folder, stem = _folder(dest), file_stem(bulk.label)
    part, label = folder / f"{stem}.part", one_line(bulk.label)
    try:
        with FileLock(f"{part}.lock", timeout=0):
            finals = [f for f in (folder / f"{stem}.zip", folder / f"{stem}.parquet") if f.is_file()]
            for final in finals:
                if _ours(final) is None:
                    raise DownloadError(f"{final} is not a download of oda-data (no provenance {final.name}.json): "
                                        "it is left untouched; move it or choose another --dest")
            current = next((f for f in finals if _up_to_date(f, bulk)), None)
            if current is not None and not force:
                result = DownloadResult(current, read_sha256_sidecar(current), bulk.label, bulk.url, bulk.version, True)
            else:
                result = _fetch_and_install(bulk, folder, stem, part, label, budget, timeout=timeout,
                                            chunk_size=chunk_size, progress=progress)
    except LockTimeout:
        raise DownloadError(f"{label}: another download of this file into {folder} is running (lock {part}.lock)") from None
    if ingest:
        result.cached = crs_cache.ingest(result.path, progress=progress)
    return result


def _up_to_date(final: Path, bulk: BulkFile) -> bool:
    provenance = _ours(final)
    return (bulk.version is not None and provenance.get("url") == bulk.url and provenance.get("version") == bulk.version
            and read_sha256_sidecar(final) == sha256_of(final))


def _fetch_and_install(bulk: BulkFile, folder: Path, stem: str, part: Path, label: str, budget: Budget,
                       **options) -> DownloadResult:
    for attempt in (1, 2):
        fetched = fetch_part(bulk.url, part, budget, label=label, **options)
        try:
            kind = verify_payload(part, expected_size=fetched.total)
            break
        except DownloadError as error:
            discard_part(part)
            if not (fetched.resumed and attempt == 1):
                raise DownloadError(f"{error} -- downloaded from {one_line(bulk.url)}; "
                                    "the damaged download was removed") from None
            # A resume without a validator may have glued two versions together: start afresh once.
    final, digest = folder / f"{stem}.{kind}", sha256_of(part)
    provenance = {"label": bulk.label, "url": bulk.url, "version": bulk.version, "size": part.stat().st_size,
                  "sha256": digest, "etag": fetched.etag, "last_modified": fetched.last_modified,
                  "content_encoding": fetched.content_encoding, "server_filename": fetched.server_filename,
                  "downloaded_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    # Sidecars first, then the data file: os.replace is the commit point.
    atomic_write(final.with_name(final.name + ".sha256"), f"{digest}  {final.name}\n")
    write_json(final.with_name(final.name + ".json"), provenance)
    stale = folder / f"{stem}.{'parquet' if kind == 'zip' else 'zip'}"
    if stale.is_file():  # our older download of the other kind (a user's file was refused above)
        stale.unlink()
        for sidecar in (".sha256", ".json"):
            stale.with_name(stale.name + sidecar).unlink(missing_ok=True)
    os.replace(part, final)
    meta_path(part).unlink(missing_ok=True)
    return DownloadResult(final, digest, bulk.label, bulk.url, bulk.version, False)
