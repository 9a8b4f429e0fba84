"""Download the OECD CRS bulk files: locate, fetch with progress, verify, ingest.

The OECD publishes the Creditor Reporting System as bulk files (one zip per
year, and the whole CRS as one Parquet file, full or reduced). Their download
addresses are not fixed: they are listed in the annotations of the CRS
dataflow's SDMX structure message, so a download has four steps:

1. **locate** -- fetch the dataflow XML (:data:`DEFAULT_DATAFLOW_URL`) and map
   each annotation's label (``"CRS-Parquet"``, ``"CRS-reduced-parquet"``,
   ``"CRS 2018 (dotStat format)"``) to its URL (:func:`parse_bulk_files`);
2. **fetch** -- stream the file into ``<name>.part`` with a progress bar,
   resuming with an HTTP ``Range`` request where the server allows it and
   retrying connection errors and 5xx answers with a bounded backoff
   (:func:`fetch_to_part`);
3. **verify** -- the OECD publishes no checksum, so check what can be checked
   (the byte count against ``Content-Length``, every zip member's CRC, the
   Parquet footer), then record a SHA-256 sidecar (``<file>.sha256``, the
   ``sha256sum`` format) and a provenance sidecar (``<file>.json``). Only
   then is the file moved to its final name with :func:`os.replace`, so a
   half file never sits under the final name;
4. **ingest** -- hand the file to :func:`oda_data.crs.cache.ingest`.

Command line::

    oda-data download crs (--year YYYY | --full | --reduced | --url URL | --list)
                          [--dest DIR] [--no-ingest] [--force] [--quiet]
                          [--dataflow-url URL] [--base-url URL] [--retries N]

``$ODA_OECD_DATAFLOW_URL`` and ``$ODA_OECD_BULK_URL`` override the dataflow
address and the bulk-file address prefix (tests point them at a local
server; a mirror can use them too).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import email.message
import hashlib
import json
import os
import re
import sys
import time
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import requests
from filelock import FileLock
from filelock import Timeout as LockTimeout
from tqdm.auto import tqdm

from .._files import atomic_write
from ..cli import help_handler, whole_number
from . import cache as crs_cache

#: The CRS dataflow's structure message; its annotations list the bulk files.
DEFAULT_DATAFLOW_URL = (
    "https://sdmx.oecd.org/public/rest/dataflow/OECD.DCD.FSD/DSD_CRS@DF_CRS/latest"
)
#: Prefix to which a bulk file id is appended when an annotation gives an id.
DEFAULT_BULK_URL = "https://stats.oecd.org/wbos/fileview2.aspx?IDFile="
#: Environment variables overriding the two addresses above.
DATAFLOW_URL_ENV_VAR = "ODA_OECD_DATAFLOW_URL"
BULK_URL_ENV_VAR = "ODA_OECD_BULK_URL"

#: Annotation labels of the bulk files (matched case- and space-insensitively).
FULL_PARQUET_LABEL = "CRS-Parquet"
REDUCED_PARQUET_LABEL = "CRS-reduced-parquet"
YEAR_LABEL_TEMPLATE = "CRS {year} (dotStat format)"

#: Default retry policy: attempts without progress, and the first backoff (s).
DEFAULT_RETRIES = 5
DEFAULT_BACKOFF_S = 1.0
MAX_BACKOFF_S = 60.0
#: (connect, read) timeouts in seconds.
DEFAULT_TIMEOUT = (15.0, 120.0)
CHUNK_SIZE = 1 << 20

# OECD appends "-vYYYYMMDD" (and "-N" for a same-day republish) to labels.
_LABEL_VERSION_RE = re.compile(r"-v(\d{8}(?:-\d+)?)$")
_YEAR_IN_LABEL_RE = re.compile(r"^crs[\s_-]*(\d{4})\b", re.IGNORECASE)
_CONTENT_RANGE_RE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_UNSATISFIED_RANGE_RE = re.compile(r"bytes\s+\*/(\d+)")
# HTTP answers worth retrying: server-side trouble and throttling.
_RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_TRANSIENT_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


class DownloadError(RuntimeError):
    """A bulk file could not be located, fetched or verified (message says why)."""


class _RetryableError(Exception):
    """A transient failure inside one attempt (5xx, short body, ...)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


# --------------------------------------------------------------------------
# 1. Locate
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class BulkFile:
    """One bulk file listed in the CRS dataflow's annotations.

    Attributes
    ----------
    label : str
        The annotation label without its ``-vYYYYMMDD`` suffix, e.g.
        ``"CRS 2018 (dotStat format)"``.
    url : str
        Where the file is served.
    version : str or None
        The republish token of the label (``"20250310"``), None when absent.
    """

    label: str
    url: str
    version: str | None = None

    @property
    def year(self) -> int | None:
        """The year of a yearly file (``"CRS 2018 ..."`` -> 2018), else None."""
        match = _YEAR_IN_LABEL_RE.match(self.label)
        return int(match.group(1)) if match else None


def _local_name(tag: str) -> str:
    """``{namespace}Name`` -> ``Name`` (SDMX prefixes vary between servers)."""
    return tag.rsplit("}", 1)[-1]


def _normalise_label(label: str) -> str:
    """Key used to compare labels: lower case, single spaces."""
    return " ".join(label.split()).lower()


def _split_version(label: str) -> tuple[str, str | None]:
    """``"CRS-Parquet-v20250310"`` -> ``("CRS-Parquet", "20250310")``."""
    label = " ".join(label.split())
    match = _LABEL_VERSION_RE.search(label)
    if not match:
        return label, None
    return label[: match.start()], match.group(1)


def _target_to_url(target: str, bulk_url: str) -> str | None:
    """An annotation's target -> a URL (an id is appended to ``bulk_url``)."""
    target = target.strip()
    if not target:
        return None
    if re.match(r"^https?://", target, re.IGNORECASE):
        # Spaces occur in real file names ("CRS 2018 data.zip"); keep any
        # %-escape already present rather than double-encoding it.
        parts = urlsplit(target)
        return urlunsplit(parts._replace(path=quote(parts.path, safe="/%")))
    if re.fullmatch(r"[A-Za-z0-9{}._-]+", target):
        return f"{bulk_url}{target}"
    return None


def parse_bulk_files(xml_text: str | bytes, *, bulk_url: str = DEFAULT_BULK_URL) -> dict[str, BulkFile]:
    """Map each bulk-file label of an SDMX dataflow message to its :class:`BulkFile`.

    Tolerant of the shapes the OECD has used: an ``AnnotationText`` (English
    one preferred) reading ``LABEL|URL`` or ``LABEL|FILE-ID``, or an
    ``AnnotationTitle`` (the label) with an ``AnnotationURL`` or a plain
    ``AnnotationText`` (URL or id). Namespace prefixes are ignored.

    Parameters
    ----------
    xml_text : str or bytes
        The structure message.
    bulk_url : str
        Prefix to which a bare file id is appended.

    Returns
    -------
    dict
        Normalised label (lower case) -> :class:`BulkFile`, in document order.

    Raises
    ------
    DownloadError
        When the text is not XML.
    """
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as error:
        raise DownloadError(f"the dataflow message is not valid XML ({error})") from None
    found: dict[str, BulkFile] = {}
    for annotation in root.iter():
        if _local_name(annotation.tag) != "Annotation":
            continue
        title = url_element = None
        texts: list[tuple[str | None, str]] = []
        for child in annotation:
            name = _local_name(child.tag)
            value = (child.text or "").strip()
            if name == "AnnotationTitle":
                title = value
            elif name == "AnnotationURL":
                url_element = value
            elif name == "AnnotationText":
                lang = child.get("{http://www.w3.org/XML/1998/namespace}lang")
                texts.append((lang, value))
        # English first, then language-less, then the rest.
        texts.sort(key=lambda item: {"en": 0, None: 1}.get(item[0], 2))
        candidates: list[tuple[str, str]] = []
        for _, text in texts:
            if "|" in text:
                label, _, target = text.partition("|")
                candidates.append((label, target))
        if title and url_element:
            candidates.append((title, url_element))
        if title and not candidates:
            candidates.extend((title, text) for _, text in texts)
        for raw_label, target in candidates:
            url = _target_to_url(target, bulk_url)
            if not raw_label.strip() or url is None:
                continue
            label, version = _split_version(raw_label.strip())
            found.setdefault(_normalise_label(label), BulkFile(label, url, version))
            break
    return found


def _session() -> requests.Session:
    from .. import __version__

    session = requests.Session()
    session.headers["User-Agent"] = f"oda-security-notebooks/{__version__} python-requests"
    return session


def fetch_bulk_files(
    dataflow_url: str | None = None,
    *,
    bulk_url: str | None = None,
    session: requests.Session | None = None,
    retries: int = DEFAULT_RETRIES,
    backoff: float = DEFAULT_BACKOFF_S,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
) -> dict[str, BulkFile]:
    """Fetch the CRS dataflow message and return its bulk files (see :func:`parse_bulk_files`).

    Parameters
    ----------
    dataflow_url, bulk_url : str, optional
        Default to ``$ODA_OECD_DATAFLOW_URL`` / ``$ODA_OECD_BULK_URL``, then
        :data:`DEFAULT_DATAFLOW_URL` / :data:`DEFAULT_BULK_URL`.
    session : requests.Session, optional
    retries, backoff, timeout
        As in :func:`fetch_to_part`.

    Raises
    ------
    DownloadError
        The message could not be fetched or lists no bulk file.
    """
    dataflow_url = dataflow_url or os.environ.get(DATAFLOW_URL_ENV_VAR) or DEFAULT_DATAFLOW_URL
    bulk_url = bulk_url or os.environ.get(BULK_URL_ENV_VAR) or DEFAULT_BULK_URL
    session = session or _session()
    failures = 0
    while True:
        try:
            response = session.get(dataflow_url, timeout=timeout)
            if response.status_code in _RETRYABLE_STATUS:
                raise _RetryableError(f"HTTP {response.status_code}", _retry_after(response))
            break
        except (*_TRANSIENT_ERRORS, _RetryableError) as error:
            failures += 1
            if failures > retries:
                raise DownloadError(
                    f"could not fetch the CRS dataflow message {dataflow_url} "
                    f"after {retries} retries: {error}"
                ) from None
            _sleep_backoff(failures, backoff, getattr(error, "retry_after", None))
    if response.status_code >= 400:
        raise DownloadError(
            f"the CRS dataflow message {dataflow_url} answered HTTP "
            f"{response.status_code} {response.reason}"
        )
    files = parse_bulk_files(response.content, bulk_url=bulk_url)
    if not files:
        raise DownloadError(
            f"the CRS dataflow message {dataflow_url} lists no bulk file "
            "(no annotation of the form 'LABEL|URL' was found)"
        )
    return files


def label_for(*, year: int | None = None, full: bool = False, reduced: bool = False) -> str:
    """The annotation label of the requested file (exactly one choice).

    Examples
    --------
    >>> label_for(year=2018)
    'CRS 2018 (dotStat format)'
    >>> label_for(reduced=True)
    'CRS-reduced-parquet'
    """
    chosen = [name for name, on in (("year", year is not None), ("full", full), ("reduced", reduced)) if on]
    if len(chosen) != 1:
        raise ValueError(f"choose exactly one of year, full, reduced (got {chosen or 'none'})")
    if full:
        return FULL_PARQUET_LABEL
    if reduced:
        return REDUCED_PARQUET_LABEL
    return YEAR_LABEL_TEMPLATE.format(year=int(year))


def find_bulk_file(files: dict[str, BulkFile], label: str) -> BulkFile:
    """Look ``label`` up in ``files``; a yearly label falls back to any ``CRS YYYY ...`` file.

    Raises
    ------
    DownloadError
        Naming the label and listing the labels (or years) that exist.
    """
    key = _normalise_label(label)
    if key in files:
        return files[key]
    year_match = _YEAR_IN_LABEL_RE.match(label)
    if year_match:
        year = int(year_match.group(1))
        same_year = [f for f in files.values() if f.year == year]
        if same_year:
            # Prefer the dotStat-format file when several formats exist.
            same_year.sort(key=lambda f: "dotstat" not in f.label.lower())
            return same_year[0]
        years = sorted({f.year for f in files.values() if f.year is not None})
        raise DownloadError(
            f"no CRS bulk file for {year}; years available: "
            f"{', '.join(map(str, years)) or 'none'}"
        )
    raise DownloadError(
        f"no bulk file labelled {label!r}; labels available: "
        f"{', '.join(repr(f.label) for f in files.values())}"
    )


# --------------------------------------------------------------------------
# 2. Fetch
# --------------------------------------------------------------------------


@dataclass
class FetchResult:
    """What :func:`fetch_to_part` learnt about the file it fetched.

    Attributes
    ----------
    url : str
    total : int or None
        The size the server announced (None when it did not).
    etag, last_modified, server_filename : str or None
        Response headers, kept for provenance and resume validation.
    resumed : bool
        True when part of the file came from an earlier attempt.
    """

    url: str
    total: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    server_filename: str | None = None
    resumed: bool = False
    extra: dict = field(default_factory=dict)


def _part_meta_path(part: Path) -> Path:
    return part.with_name(part.name + ".json")


def _write_json_atomic(path: Path, payload: dict) -> None:
    atomic_write(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def discard_part(part: Path) -> None:
    """Remove a partial download and its resume metadata (missing ones are fine)."""
    part.unlink(missing_ok=True)
    _part_meta_path(part).unlink(missing_ok=True)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


def _sleep_backoff(failures: int, backoff: float, retry_after: float | None = None) -> None:
    delay = min(backoff * 2 ** (failures - 1), MAX_BACKOFF_S)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_BACKOFF_S))
    if delay > 0:
        time.sleep(delay)


def _filename_from_disposition(value: str | None) -> str | None:
    if not value:
        return None
    message = email.message.Message()
    message["content-disposition"] = value
    name = message.get_filename()
    return Path(name).name if name else None


def _http_error_message(status: int, reason: str, url: str, label: str) -> str:
    message = f"{label}: {url} answered HTTP {status} {reason}".rstrip()
    if status == 404:
        message += (
            " -- the file is not there (the OECD moves bulk files when it republishes; "
            "run `oda-data download crs --list` to see the current ones)"
        )
    elif status in (401, 403):
        message += (
            " -- the server refused the request (the OECD site sometimes challenges "
            "automated clients); try again later, or download the file in a browser "
            "and run `oda-data ingest FILE`"
        )
    return message


def fetch_to_part(
    url: str,
    part: Path,
    *,
    label: str | None = None,
    session: requests.Session | None = None,
    retries: int = DEFAULT_RETRIES,
    backoff: float = DEFAULT_BACKOFF_S,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    chunk_size: int = CHUNK_SIZE,
    progress: bool = True,
) -> FetchResult:
    """Stream ``url`` into ``part``, resuming what an earlier attempt left there.

    A non-empty ``part`` whose metadata sidecar (``<part>.json``) names the
    same URL is resumed with ``Range: bytes=<size>-`` (and ``If-Range`` with
    the recorded ETag or Last-Modified, so a republished file restarts
    cleanly). A ``206`` answer appends; a ``200`` (no Range support, or the
    file changed) rewrites from the start. Connection errors, short bodies
    and 408/429/5xx answers are retried with exponential backoff; the count
    of failures restarts whenever an attempt made progress, so ``retries``
    bounds the attempts *without* progress.

    Parameters
    ----------
    url : str
    part : pathlib.Path
        The partial file (its folder must exist).
    label : str, optional
        Name of the file in messages (defaults to the URL).
    session : requests.Session, optional
    retries : int
        Failed attempts without progress tolerated before giving up.
    backoff : float
        First pause in seconds (doubled each time, capped at 60 s; a server's
        ``Retry-After`` is honoured up to that cap). Tests pass 0.
    timeout : (float, float)
        Connect and read timeouts in seconds.
    chunk_size : int
    progress : bool
        Show a tqdm bar in bytes.

    Returns
    -------
    FetchResult

    Raises
    ------
    DownloadError
        A 4xx answer (404 names the file and URL), or retries exhausted: then
        ``part`` is kept so that the next run resumes from it.
    """
    label = label or url
    session = session or _session()
    meta_path = _part_meta_path(part)
    failures = 0
    resumed = False
    while True:
        meta = _read_json(meta_path) or {}
        offset = part.stat().st_size if part.exists() else 0
        if offset and meta.get("url") != url:
            # A part from another URL (or without metadata) cannot be trusted.
            discard_part(part)
            offset, meta = 0, {}
        headers = {"Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
            etag = meta.get("etag")
            validator = etag if etag and not etag.startswith("W/") else meta.get("last_modified")
            if validator:
                headers["If-Range"] = validator
        start_size = offset
        try:
            with session.get(url, headers=headers, stream=True, timeout=timeout) as response:
                status = response.status_code
                if status == 416 and offset:
                    match = _UNSATISFIED_RANGE_RE.search(response.headers.get("Content-Range", ""))
                    if match and int(match.group(1)) == offset and meta.get("url") == url:
                        return _fetch_result(url, meta, resumed=True)
                    discard_part(part)
                    raise _RetryableError("the partial file does not match the server's file")
                if status in _RETRYABLE_STATUS:
                    raise _RetryableError(f"HTTP {status} {response.reason}", _retry_after(response))
                if status >= 400:
                    raise DownloadError(_http_error_message(status, response.reason, url, label))
                if status == 206:
                    match = _CONTENT_RANGE_RE.search(response.headers.get("Content-Range", ""))
                    if not match or int(match.group(1)) != offset:
                        discard_part(part)
                        raise _RetryableError(
                            f"the server answered an unexpected range "
                            f"({response.headers.get('Content-Range')!r} for bytes={offset}-)"
                        )
                    total = None if match.group(3) == "*" else int(match.group(3))
                    mode = "ab"
                    resumed = True
                else:
                    # 200: the whole file -- either no Range support or a changed file.
                    offset = 0
                    length = response.headers.get("Content-Length")
                    total = int(length) if length and length.isdigit() else None
                    mode = "wb"
                etag = response.headers.get("ETag")
                last_modified = response.headers.get("Last-Modified")
                if status == 206:
                    # Keep the validators of the first response when a range omits them.
                    etag = etag or meta.get("etag")
                    last_modified = last_modified or meta.get("last_modified")
                meta = {
                    "url": url,
                    "total": total,
                    "etag": etag,
                    "last_modified": last_modified,
                    "server_filename": _filename_from_disposition(
                        response.headers.get("Content-Disposition")
                    ),
                }
                _write_json_atomic(meta_path, meta)
                start_size = offset
                with open(part, mode) as sink, tqdm(
                    total=total,
                    initial=offset,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=label,
                    disable=not progress,
                    leave=False,
                ) as bar:
                    for chunk in response.iter_content(chunk_size=chunk_size):
                        sink.write(chunk)
                        bar.update(len(chunk))
                size = part.stat().st_size
                if total is not None and size != total:
                    if size > total:
                        discard_part(part)
                    raise _RetryableError(f"received {size:,} of {total:,} bytes")
                return _fetch_result(url, meta, resumed=resumed)
        except (*_TRANSIENT_ERRORS, _RetryableError) as error:
            now = part.stat().st_size if part.exists() else 0
            failures = 0 if now > start_size else failures + 1
            if failures > retries:
                kept = (
                    f"; the partial file {part} is kept and the next run resumes from it"
                    if part.exists()
                    else ""
                )
                raise DownloadError(
                    f"{label}: giving up on {url} after {retries} retries ({error}){kept}"
                ) from None
            _sleep_backoff(max(failures, 1), backoff, getattr(error, "retry_after", None))


def _fetch_result(url: str, meta: dict, *, resumed: bool) -> FetchResult:
    return FetchResult(
        url=url,
        total=meta.get("total"),
        etag=meta.get("etag"),
        last_modified=meta.get("last_modified"),
        server_filename=meta.get("server_filename"),
        resumed=resumed,
    )


# --------------------------------------------------------------------------
# 3. Verify
# --------------------------------------------------------------------------


def verify_payload(path: Path, *, expected_size: int | None = None) -> str:
    """Check that ``path`` is a complete bulk file; return its kind, ``"zip"`` or ``"parquet"``.

    A zip has every member's CRC checked (Deflate64 members included); a
    Parquet file has its footer read. Anything else (an HTML error page
    served with status 200, for instance) is rejected.

    Raises
    ------
    DownloadError
        Naming the file and what is wrong with it.
    """
    size = path.stat().st_size
    if expected_size is not None and size != expected_size:
        raise DownloadError(f"{path.name}: {size:,} bytes where the server announced {expected_size:,}")
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(b"PK"):
        import zipfile_deflate64  # noqa: F401  -- teaches zipfile Deflate64 (recent CRS zips)

        try:
            with zipfile.ZipFile(path) as archive:
                bad_member = archive.testzip()
                if not archive.namelist():
                    raise DownloadError(f"{path.name}: the zip archive is empty")
        except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, ValueError) as error:
            raise DownloadError(f"{path.name}: broken or truncated zip archive ({error})") from None
        if bad_member is not None:
            raise DownloadError(f"{path.name}: broken zip archive (bad CRC in member {bad_member!r})")
        return "zip"
    if head.startswith(b"PAR1"):
        import pyarrow.parquet as pq

        try:
            pq.ParquetFile(path).metadata  # noqa: B018 -- reads and checks the footer
        except Exception as error:  # pyarrow raises ArrowInvalid / OSError variants
            raise DownloadError(f"{path.name}: broken or truncated Parquet file ({error})") from None
        return "parquet"
    shown = head.decode("latin-1").strip()
    hint = " (it looks like an HTML page: the server answered an error page)" if shown.startswith("<") else ""
    raise DownloadError(
        f"{path.name}: not a zip or Parquet file (starts with {head!r}){hint}"
    )


def sha256_of(path: Path, chunk_size: int = CHUNK_SIZE) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk_size), b""):
            digest.update(block)
    return digest.hexdigest()


def read_sha256_sidecar(path: Path) -> str | None:
    """The digest recorded in ``<path>.sha256`` (``sha256sum`` format), None when absent."""
    try:
        text = path.with_name(path.name + ".sha256").read_text(encoding="utf-8")
    except OSError:
        return None
    digest = text.split(maxsplit=1)[0] if text.strip() else ""
    return digest.lower() if re.fullmatch(r"[0-9a-fA-F]{64}", digest) else None


# --------------------------------------------------------------------------
# 4. Orchestration
# --------------------------------------------------------------------------


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
    provenance = _read_json(final.with_name(final.name + ".json")) or {}
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
    session = session or _session()
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
            f"{bulk.label}: another download of this file into {folder} is running "
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
                f"{error} -- downloaded from {bulk.url}; the damaged download was removed"
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
    _write_json_atomic(final.with_name(final.name + ".json"), provenance)
    # A file of the other kind under the same stem is stale now.
    for other in (".zip", ".parquet"):
        stale = folder / f"{stem}{other}"
        if stale != final and stale.exists():
            stale.unlink()
    os.replace(part, final)
    _part_meta_path(part).unlink(missing_ok=True)
    return DownloadResult(final, digest, bulk.label, bulk.url, bulk.version, False)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def _year(value: str) -> int:
    try:
        year = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--year expects a year like 2018 (got {value!r})") from None
    if not 1960 <= year <= 2100:
        raise argparse.ArgumentTypeError(f"--year expects a year between 1960 and 2100 (got {year})")
    return year


def register(subparsers) -> None:
    """Add ``download crs`` to the ``oda-data`` command line."""
    download = subparsers.add_parser(
        "download",
        help="download OECD bulk files",
        description="Download OECD bulk files, verify them and ingest them into the cache.",
    )
    sources = download.add_subparsers(dest="download_source", metavar="SOURCE")
    download.set_defaults(handler=help_handler(download))
    crs = sources.add_parser(
        "crs",
        help="the OECD Creditor Reporting System bulk files",
        description=(
            "Locate a CRS bulk file in the OECD dataflow's annotations, download it "
            "(resuming an interrupted download, with retries), verify it, record its "
            "SHA-256 beside it and ingest it into the Parquet cache."
        ),
    )
    which = crs.add_mutually_exclusive_group(required=True)
    which.add_argument("--year", type=_year, metavar="YYYY", help="one year's file, 'CRS YYYY (dotStat format)'")
    which.add_argument("--full", action="store_true", help="the whole CRS as Parquet ('CRS-Parquet', about 1 GB)")
    which.add_argument("--reduced", action="store_true", help="the reduced CRS Parquet ('CRS-reduced-parquet')")
    which.add_argument("--url", help="fetch this address instead of locating a file")
    which.add_argument("--list", action="store_true", help="list the bulk files the OECD currently lists")
    crs.add_argument("--dest", metavar="DIR", help="folder for the file (default: <cache>/downloads)")
    crs.add_argument("--no-ingest", action="store_true", help="download and verify only")
    crs.add_argument("--force", action="store_true", help="download again even if an up-to-date copy exists")
    crs.add_argument("--quiet", action="store_true", help="no progress bars")
    crs.add_argument(
        "--dataflow-url",
        metavar="URL",
        help=f"dataflow message listing the files (default ${DATAFLOW_URL_ENV_VAR} or {DEFAULT_DATAFLOW_URL})",
    )
    crs.add_argument(
        "--base-url",
        metavar="URL",
        help=f"prefix for annotations that give a file id (default ${BULK_URL_ENV_VAR} or {DEFAULT_BULK_URL})",
    )
    crs.add_argument(
        "--retries", type=whole_number(0), default=DEFAULT_RETRIES, metavar="N",
        help=f"failed attempts without progress tolerated (default {DEFAULT_RETRIES})",
    )
    crs.set_defaults(handler=_run_download_crs)


def _run_download_crs(args: argparse.Namespace) -> int:
    prog = "oda-data download crs"
    try:
        if args.list:
            files = fetch_bulk_files(args.dataflow_url, bulk_url=args.base_url, retries=args.retries)
            for bulk in files.values():
                version = f" (v{bulk.version})" if bulk.version else ""
                print(f"{bulk.label}{version}\t{bulk.url}")
            return 0
        result = download_crs(
            year=args.year,
            full=args.full,
            reduced=args.reduced,
            url=args.url,
            dest=args.dest,
            ingest=False,
            force=args.force,
            dataflow_url=args.dataflow_url,
            bulk_url=args.base_url,
            retries=args.retries,
            progress=not args.quiet,
        )
    except (DownloadError, ValueError, OSError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 1
    state = "already up to date" if result.reused else "downloaded and verified"
    print(f"{result.label}: {state}: {result.path} (sha256 {result.sha256})")
    if args.no_ingest:
        return 0
    try:
        cached = crs_cache.ingest(result.path, progress=not args.quiet)
    except Exception as error:  # report any ingest failure without a traceback; the file stays
        print(
            f"{prog}: error: ingesting {result.path} failed ({type(error).__name__}: {error}); "
            f"the downloaded file is kept -- retry with `oda-data ingest {result.path}`",
            file=sys.stderr,
        )
        return 1
    print(f"ingested into the cache: {cached}")
    return 0
