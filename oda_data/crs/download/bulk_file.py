"""Download one CRS bulk file end to end: locate, fetch, verify, install, ingest.

:func:`download_crs` runs the steps of the other modules of this package in
order. The verified file is *installed* under its final name only after its
sidecars are written (``<file>.sha256`` and the provenance ``<file>.json``):
:func:`os.replace` is the commit point, so a half file never sits under the
final name. One download of a given file runs at a time (a file lock).
"""
from __future__ import annotations

import datetime as _dt
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import requests
from filelock import FileLock
from filelock import Timeout as LockTimeout

from ..._files import atomic_write
from .. import cache as crs_cache
from ..._text import printable
from .fetch import (
    CHUNK_SIZE, DEFAULT_BACKOFF_S, DEFAULT_RETRIES, DEFAULT_TIMEOUT, DownloadError,
    discard_part, fetch_to_part, new_session, part_meta_path, read_json, write_json_atomic,
)
from .locate import BulkFile, fetch_bulk_files, find_bulk_file, label_for
from .verify import read_sha256_sidecar, sha256_of, verify_payload


@dataclass
class DownloadResult:
    """Outcome of :func:`download_crs`.

    Attributes
    ----------
    path : pathlib.Path
        The verified bulk file.
    sha256 : str
    label, url : str
    version : str or None
    reused : bool
        True when an up-to-date verified copy was already there.
    cached : pathlib.Path or None
        The Parquet cache file made by ingest (None with ``ingest=False``).
    """

    path: Path
    sha256: str
    label: str
    url: str
    version: str | None
    reused: bool
    cached: Path | None = None


def default_download_dir() -> Path:
    """``<cache_dir()>/downloads``: where bulk files go unless ``dest`` is given."""
    return crs_cache.cache_dir() / "downloads"


def file_stem(label: str) -> str:
    """File-name stem of a label: ``"CRS 2018 (dotStat format)"`` -> ``"crs-2018-dotstat-format"``."""
    stem = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
    return stem or "crs-bulk-file"


def _existing_final(dest: Path, stem: str) -> Path | None:
    for suffix in (".zip", ".parquet"):
        candidate = dest / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _is_up_to_date(final: Path, bulk: BulkFile) -> bool:
    """True when ``final`` came from ``bulk`` (same URL and version) and its SHA-256 still matches."""
    provenance = read_json(final.with_name(final.name + ".json")) or {}
    if provenance.get("url") != bulk.url or bulk.version is None:
        return False
    if provenance.get("version") != bulk.version:
        return False
    recorded = read_sha256_sidecar(final)
    return recorded is not None and recorded == sha256_of(final)


def download_crs(
    *,
    year: int | None = None,
    full: bool = False,
    reduced: bool = False,
    url: str | None = None,
    dest: str | os.PathLike | None = None,
    ingest: bool = True,
    force: bool = False,
    dataflow_url: str | None = None,
    bulk_url: str | None = None,
    retries: int = DEFAULT_RETRIES,
    backoff: float = DEFAULT_BACKOFF_S,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    chunk_size: int = CHUNK_SIZE,
    progress: bool = True,
    session: requests.Session | None = None,
) -> DownloadResult:
    """Download one OECD CRS bulk file, verify it and (by default) ingest it.

    Parameters
    ----------
    year : int, optional
        A yearly file, ``"CRS {year} (dotStat format)"``.
    full, reduced : bool
        The whole CRS as Parquet (``"CRS-Parquet"``, about 1 GB) or its
        reduced version (``"CRS-reduced-parquet"``).
    url : str, optional
        Skip the locate step and fetch this address.
    dest : path-like, optional
        Folder for the file (default :func:`default_download_dir`).
    ingest : bool
        Convert the file into the Parquet cache (:func:`oda_data.crs.cache.ingest`).
    force : bool
        Download again even when an up-to-date verified copy exists.
    dataflow_url, bulk_url : str, optional
        Overrides (see :func:`fetch_bulk_files`).
    retries, backoff, timeout, chunk_size, progress, session
        As in :func:`fetch_to_part`.

    Returns
    -------
    DownloadResult

    Raises
    ------
    DownloadError
        Locate, fetch or verification failed. A corrupt file is removed; an
        interrupted one is kept as ``<name>.part`` for the next run to resume.
    ValueError
        Not exactly one of year/full/reduced/url.
    """
    session = session or new_session()
    if url is not None:
        if year is not None or full or reduced:
            raise ValueError("give either url or one of year/full/reduced, not both")
        if not re.match(r"^https?://", url, re.IGNORECASE):
            raise ValueError(f"url must start with http:// or https:// (got {url!r})")
        name = Path(unquote(urlsplit(url).path)).name
        bulk = BulkFile(label=Path(name).stem or "crs-bulk-file", url=url, version=None)
    else:
        label = label_for(year=year, full=full, reduced=reduced)
        files = fetch_bulk_files(
            dataflow_url, bulk_url=bulk_url, session=session,
            retries=retries, backoff=backoff, timeout=timeout,
        )
        bulk = find_bulk_file(files, label)
    folder = Path(dest).expanduser().resolve() if dest is not None else default_download_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stem = file_stem(bulk.label)
    part = folder / f"{stem}.part"

    try:
        # One download of a given file at a time, across processes.
        with FileLock(str(part) + ".lock", timeout=0):
            final = _existing_final(folder, stem)
            if final is not None and not force and _is_up_to_date(final, bulk):
                result = DownloadResult(final, read_sha256_sidecar(final), bulk.label, bulk.url, bulk.version, True)
            else:
                result = _fetch_verify_install(
                    bulk, folder, stem, part, session=session, retries=retries,
                    backoff=backoff, timeout=timeout, chunk_size=chunk_size, progress=progress,
                )
    except LockTimeout:
        raise DownloadError(
            f"{printable(bulk.label)}: another download of this file into {folder} is running "
            f"(lock {part}.lock)"
        ) from None
    if ingest:
        result.cached = crs_cache.ingest(result.path, progress=progress)
    return result


def _fetch_verify_install(
    bulk: BulkFile, folder: Path, stem: str, part: Path, **fetch_options
) -> DownloadResult:
    for attempt in (1, 2):
        fetched = fetch_to_part(bulk.url, part, label=bulk.label, **fetch_options)
        try:
            kind = verify_payload(part, expected_size=fetched.total)
            break
        except DownloadError as error:
            # Resuming may have glued two versions of the file together when
            # the server gave no validator: start afresh once before failing.
            discard_part(part)
            if fetched.resumed and attempt == 1:
                continue
            raise DownloadError(
                f"{error} -- downloaded from {printable(bulk.url)}; the damaged download was removed"
            ) from None
    final = folder / f"{stem}.{kind}"
    digest = sha256_of(part)
    provenance = {
        "label": bulk.label,
        "url": bulk.url,
        "version": bulk.version,
        "size": part.stat().st_size,
        "sha256": digest,
        "etag": fetched.etag,
        "last_modified": fetched.last_modified,
        "server_filename": fetched.server_filename,
        "downloaded_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    # Sidecars first, then the data file: os.replace is the commit point.
    atomic_write(final.with_name(final.name + ".sha256"), f"{digest}  {final.name}\n")
    write_json_atomic(final.with_name(final.name + ".json"), provenance)
    # A file of the other kind under the same stem is stale now.
    for other in (".zip", ".parquet"):
        stale = folder / f"{stem}{other}"
        if stale != final and stale.exists():
            stale.unlink()
    os.replace(part, final)
    part_meta_path(part).unlink(missing_ok=True)
    return DownloadResult(final, digest, bulk.label, bulk.url, bulk.version, False)

