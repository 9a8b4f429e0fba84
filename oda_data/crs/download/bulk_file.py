"""One CRS bulk file end to end. The OECD publishes no checksum: a fetched file is checked (byte count, zip CRCs,
Parquet footer), then takes its final name last, after its ``.sha256`` and provenance ``.json`` (os.replace is the
commit point). A file under that name without the provenance is the user's: never replaced. One at a time (a lock)."""
from __future__ import annotations

import datetime as _dt
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import platformdirs
import pooch
from filelock import FileLock
from filelock import Timeout as LockTimeout

from ..._files import atomic_write
from ..._text import one_line
from .. import cache as crs_cache
from .fetch import (CHUNK_SIZE, DEFAULT_BACKOFF_S, DEFAULT_MAX_TIME_S, DEFAULT_RETRIES, Budget,
                    DownloadError, discard_part, fetch_part, meta_path, read_json, write_json)
from .locate import BulkFile, fetch_bulk_files, find_bulk_file, label_for

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


def download_crs(*, year: int | None = None, full: bool = False, reduced: bool = False, url: str | None = None,
                 dest=None, ingest: bool = True, force: bool = False, dataflow_url: str | None = None,
                 bulk_url: str | None = None, retries: int = DEFAULT_RETRIES, backoff: float = DEFAULT_BACKOFF_S,
                 max_time: float = DEFAULT_MAX_TIME_S, chunk_size: int = CHUNK_SIZE,
                 progress: bool = True) -> DownloadResult:
    """Download one of ``year``, ``full`` / ``reduced`` (CRS Parquet), ``url`` into ``dest``; verify, ingest it.

    ``retries`` and ``max_time`` (s) budget the whole download, locate step included (``backoff``: urllib3's
    factor). DownloadError in one line naming file and URL (a corrupt file removed, an interrupted one kept
    as ``<name>.part`` to resume); ValueError for a bad choice."""
    budget = Budget.start(retries, backoff, max_time)
    if url is not None:
        if year is not None or full or reduced or not re.match(r"^https?://", url, re.IGNORECASE):
            raise ValueError(f"url must start with http:// or https:// and come alone (got {one_line(url)!r})")
        bulk = BulkFile(Path(Path(unquote(urlsplit(url).path)).name).stem or "crs-bulk-file", url)
    else:
        label = label_for(year=year, full=full, reduced=reduced)
        bulk = find_bulk_file(fetch_bulk_files(dataflow_url, bulk_url=bulk_url, budget=budget), label)
    folder = Path(dest if dest is not None else default_download_dir()).expanduser().resolve()
    cache = crs_cache.cache_dir().resolve()
    if folder == cache or cache in folder.parents:
        raise DownloadError(f"the download folder {folder} is inside the CRS cache folder {cache}, which holds only "
                            f"Parquet files; choose another with --dest or ${DOWNLOADS_ENV_VAR}")
    folder.mkdir(parents=True, exist_ok=True)  # an OSError names the folder
    stem, label = re.sub(r"[^a-z0-9]+", "-", bulk.label.lower()).strip("-") or "crs-bulk-file", one_line(bulk.label)
    part = folder / f"{stem}.part"
    try:
        with FileLock(f"{part}.lock", timeout=0):
            result = _reuse_or_fetch(bulk, folder, stem, part, label, budget, force, chunk_size=chunk_size,
                                     progress=progress)
    except LockTimeout:
        raise DownloadError(f"{label}: another download of this file into {folder} is running "
                            f"(lock {part}.lock)") from None
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
                and provenance.get("version") == bulk.version and provenance["sha256"] == pooch.file_hash(str(final)):
            return DownloadResult(final, provenance["sha256"], bulk.label, bulk.url, bulk.version, True)
    fetched = fetch_part(bulk.url, part, budget, label=label, **options)
    try:
        kind = verify_payload(part, expected_size=None if fetched.get("content_encoding") else fetched.get("total"))
    except DownloadError as error:
        discard_part(part)
        raise DownloadError(f"{error} -- downloaded from {one_line(bulk.url)}; "
                            "the damaged download was removed") from None
    final, digest = folder / f"{stem}.{kind}", pooch.file_hash(str(part))
    provenance = {"label": bulk.label, "url": bulk.url, "version": bulk.version, "size": part.stat().st_size,
                  "sha256": digest, **{key: fetched.get(key) for key in ("etag", "last_modified", "content_encoding")},
                  "downloaded_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    atomic_write(final.with_name(final.name + ".sha256"), f"{digest}  {final.name}\n")
    write_json(final.with_name(final.name + ".json"), provenance)
    os.replace(part, final)
    meta_path(part).unlink(missing_ok=True)
    return DownloadResult(final, digest, bulk.label, bulk.url, bulk.version, False)


def verify_payload(path: Path, *, expected_size: int | None = None) -> str:
    """``"zip"`` (every member's CRC checked, Deflate64 too) or ``"parquet"`` (footer read), else DownloadError."""
    with open(path, "rb") as handle:
        head, size = handle.read(8), path.stat().st_size
    kind = "zip" if head.startswith(b"PK") else "parquet" if head.startswith(b"PAR1") else None
    if expected_size is not None and size != expected_size:
        raise DownloadError(f"{path.name}: {size:,} bytes where the server announced {expected_size:,}")
    if kind is None:
        hint = " (it looks like an HTML page: the server answered an error page)" if head.lstrip()[:1] == b"<" else ""
        raise DownloadError(f"{path.name}: not a zip or Parquet file (starts with {head!r}){hint}")
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            pq.ParquetFile(path).metadata  # noqa: B018 -- reads and checks the footer
            return kind
        import zipfile_deflate64  # noqa: F401  -- teaches zipfile Deflate64 (recent CRS zips)

        with zipfile.ZipFile(path) as archive:
            bad, empty = archive.testzip(), not archive.namelist()
    except Exception as error:  # zipfile, zlib and pyarrow raise many kinds for a damaged file
        raise DownloadError(f"{path.name}: broken or truncated {kind} file ({one_line(str(error))})") from None
    if bad is not None or empty:
        raise DownloadError(f"{path.name}: "
                            + ("the zip archive is empty" if empty else f"broken zip (bad CRC in {bad!r})"))
    return kind
