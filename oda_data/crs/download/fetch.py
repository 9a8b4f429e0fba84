"""Fetch one file over HTTP into ``<name>.part``: resume, retry, progress.

The shared HTTP policy of the downloader lives here too: the session (with
the package's User-Agent), which answers are worth retrying, and the bounded
exponential backoff (:func:`sleep_backoff`).
"""
from __future__ import annotations

import email.message
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from tqdm.auto import tqdm

from ..._files import atomic_write
from ..._text import printable

#: Default retry policy: attempts without progress, and the first backoff (s).
DEFAULT_RETRIES = 5
DEFAULT_BACKOFF_S = 1.0
MAX_BACKOFF_S = 60.0
#: (connect, read) timeouts in seconds.
DEFAULT_TIMEOUT = (15.0, 120.0)
CHUNK_SIZE = 1 << 20

_CONTENT_RANGE_RE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_UNSATISFIED_RANGE_RE = re.compile(r"bytes\s+\*/(\d+)")
# HTTP answers worth retrying: server-side trouble and throttling.
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
TRANSIENT_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


class DownloadError(RuntimeError):
    """A bulk file could not be located, fetched or verified (message says why)."""


class RetryableError(Exception):
    """A transient failure inside one attempt (5xx, short body, ...)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after



def new_session() -> requests.Session:
    from ... import __version__

    session = requests.Session()
    session.headers["User-Agent"] = f"oda-security-notebooks/{__version__} python-requests"
    return session



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



def part_meta_path(part: Path) -> Path:
    return part.with_name(part.name + ".json")


def write_json_atomic(path: Path, payload: dict) -> None:
    atomic_write(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def discard_part(part: Path) -> None:
    """Remove a partial download and its resume metadata (missing ones are fine)."""
    part.unlink(missing_ok=True)
    part_meta_path(part).unlink(missing_ok=True)


def retry_after_of(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


def sleep_backoff(failures: int, backoff: float, retry_after: float | None = None) -> None:
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
    message = f"{printable(label)}: {printable(url)} answered HTTP {status} {printable(reason)}".rstrip()
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
    session = session or new_session()
    meta_path = part_meta_path(part)
    failures = 0
    resumed = False
    while True:
        meta = read_json(meta_path) or {}
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
                    raise RetryableError("the partial file does not match the server's file")
                if status in RETRYABLE_STATUS:
                    raise RetryableError(f"HTTP {status} {printable(response.reason)}", retry_after_of(response))
                if status >= 400:
                    raise DownloadError(_http_error_message(status, response.reason, url, label))
                if status == 206:
                    match = _CONTENT_RANGE_RE.search(response.headers.get("Content-Range", ""))
                    if not match or int(match.group(1)) != offset:
                        discard_part(part)
                        raise RetryableError(
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
                write_json_atomic(meta_path, meta)
                start_size = offset
                with open(part, mode) as sink, tqdm(
                    total=total,
                    initial=offset,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=printable(label),
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
                    raise RetryableError(f"received {size:,} of {total:,} bytes")
                return _fetch_result(url, meta, resumed=resumed)
        except (*TRANSIENT_ERRORS, RetryableError) as error:
            now = part.stat().st_size if part.exists() else 0
            failures = 0 if now > start_size else failures + 1
            if failures > retries:
                kept = (
                    f"; the partial file {part} is kept and the next run resumes from it"
                    if part.exists()
                    else ""
                )
                raise DownloadError(
                    f"{printable(label)}: giving up on {printable(url)} after {retries} retries ({printable(error)}){kept}"
                ) from None
            sleep_backoff(max(failures, 1), backoff, getattr(error, "retry_after", None))


def _fetch_result(url: str, meta: dict, *, resumed: bool) -> FetchResult:
    return FetchResult(
        url=url,
        total=meta.get("total"),
        etag=meta.get("etag"),
        last_modified=meta.get("last_modified"),
        server_filename=meta.get("server_filename"),
        resumed=resumed,
    )
