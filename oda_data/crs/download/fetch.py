"""Fetch one URL into ``<name>.part`` on urllib3's :class:`~urllib3.util.Retry`: resume, budget, progress.

One :class:`Budget` (a ``Retry`` with a deadline) is the whole allowance of
a download, requests and seconds. The session's adapter spends it on
connection errors and 408/429/5xx answers (with urllib3's backoff and
``Retry-After``); :func:`fetch_part` spends it on a body cut short. Only an
attempt that brought bytes beyond any earlier one's (``MIN_PROGRESS`` at
least) is free, so a server that restarts from zero, or drops every time,
ends the download after ``retries + 1`` tries at most.
"""
from __future__ import annotations

import email.message
import json
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from tqdm.auto import tqdm
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import MaxRetryError
from urllib3.util import Retry

from ..._files import atomic_write
from ..._text import one_line

DEFAULT_RETRIES = 5
DEFAULT_BACKOFF_S = 1.0
MAX_BACKOFF_S = 60.0
#: Seconds a whole download may take, every retry included.
DEFAULT_MAX_TIME_S = 4 * 3600
DEFAULT_TIMEOUT = (15.0, 120.0)  # connect, read (each capped by the time left)
CHUNK_SIZE = 1 << 20
MIN_PROGRESS = CHUNK_SIZE
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
# Content-Encodings urllib3 decodes; the file saved is the decoded payload.
DECODED = frozenset({"gzip", "x-gzip", "deflate"})
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-\d+/(\d+|\*)")


class DownloadError(RuntimeError):
    """A bulk file could not be located, fetched or verified (one line says why)."""


class OutOfTime(Exception):
    """The download's time budget is spent."""


class Budget(Retry):
    """urllib3's ``Retry`` with a ``deadline`` (``time.monotonic()``): no request, no sleep past it."""

    def __init__(self, *args, deadline: float = math.inf, **kwargs):
        super().__init__(*args, **kwargs)
        self.deadline = deadline

    @classmethod
    def start(cls, retries: int = DEFAULT_RETRIES, backoff: float = DEFAULT_BACKOFF_S,
              max_time: float = DEFAULT_MAX_TIME_S) -> Budget:
        return cls(total=retries, connect=None, read=None, status=None, other=None, redirect=10,
                   status_forcelist=RETRYABLE_STATUS, allowed_methods={"GET"}, raise_on_status=False,
                   backoff_factor=backoff, backoff_max=MAX_BACKOFF_S, retry_after_max=int(MAX_BACKOFF_S),
                   deadline=time.monotonic() + max_time)

    def new(self, **kwargs) -> Budget:
        return super().new(deadline=self.deadline, **kwargs)

    def is_exhausted(self) -> bool:
        return super().is_exhausted() or time.monotonic() >= self.deadline

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def sleep(self, response=None) -> None:
        delay = max(self.get_backoff_time(), (self.get_retry_after(response) or 0) if response else 0)
        if delay >= self.left():
            raise OutOfTime(f"the next try would start after the time budget ({delay:g} s backoff)")
        time.sleep(delay)


def new_session(budget: Budget) -> requests.Session:
    """A session whose adapters spend ``budget`` (set again before each request by :func:`get`)."""
    from ... import __version__

    session = requests.Session()
    session.headers["User-Agent"] = f"oda-security-notebooks/{__version__} python-requests"
    for prefix in ("http://", "https://"):
        session.mount(prefix, HTTPAdapter(max_retries=budget))
    return session


def get(session: requests.Session, url: str, budget: Budget, timeout=DEFAULT_TIMEOUT, **kwargs):
    """``session.get`` spending ``budget``; the timeouts never reach past its deadline."""
    if budget.left() <= 0:
        raise OutOfTime("the time budget is spent")
    session.get_adapter(url).max_retries = budget
    left = budget.left()
    return session.get(url, timeout=(min(timeout[0], left), min(timeout[1], left)), **kwargs)


def reason(error: BaseException) -> str:
    """The innermost cause of a requests/urllib3 error, one printable line."""
    while isinstance(error, (requests.RequestException, MaxRetryError)):
        inner = error.reason if isinstance(error, MaxRetryError) else (error.args[0] if error.args else None)
        if not isinstance(inner, BaseException):
            break
        error = inner
    text = error.args[0] if error.args and isinstance(error.args[0], str) else str(error)
    return one_line(text or type(error).__name__)


@dataclass
class FetchResult:
    """What the server said about the file :func:`fetch_part` fetched.

    ``total`` is the byte count the saved file must have (None when unknown or
    when the answer was compressed: its wire length was checked instead).
    """

    url: str
    total: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    server_filename: str | None = None
    content_encoding: str | None = None
    resumed: bool = False


def meta_path(part: Path) -> Path:
    return part.with_name(part.name + ".json")


def write_json(path: Path, payload: dict) -> None:
    atomic_write(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def discard_part(part: Path) -> None:
    """Remove a partial download and its resume metadata (missing ones are fine)."""
    part.unlink(missing_ok=True)
    meta_path(part).unlink(missing_ok=True)


def _filename(disposition: str | None) -> str | None:
    message = email.message.Message()
    message["content-disposition"] = disposition or ""
    name = message.get_filename()
    return Path(name).name if name else None


def http_error(status: int, text: str, url: str, label: str) -> DownloadError:
    message = f"{label}: {url} answered HTTP {status} {text}".rstrip()
    if status == 404:
        message += (" -- the file is not there (the OECD moves bulk files when it republishes; "
                    "run `oda-data download crs --list` to see the current ones)")
    elif status in (401, 403):
        message += (" -- the server refused the request (the OECD site sometimes challenges automated "
                    "clients); try again later, or download the file in a browser and run `oda-data ingest FILE`")
    return DownloadError(one_line(message))


class _Cut(Exception):
    """One attempt ended before the whole file (retried while the budget lasts)."""


class _Spent(Exception):
    """The adapter spent the budget on retryable answers; the last one says why."""


def fetch_part(url: str, part: Path, budget: Budget, *, label: str | None = None,
               timeout=DEFAULT_TIMEOUT, chunk_size: int = CHUNK_SIZE, progress: bool = True) -> FetchResult:
    """Stream ``url`` into ``part``, resuming what an earlier attempt or run left there.

    A ``part`` whose sidecar (``<part>.json``) names the same URL is resumed
    with ``Range`` (and ``If-Range`` with its ETag or Last-Modified); a ``200``
    answer rewrites it from the start. A compressed answer
    (``Content-Encoding: gzip``) is saved decoded, its wire length checked
    against ``Content-Length``, and never resumed (a range would count
    compressed bytes). A ``part`` the downloader did not write is refused.

    Raises
    ------
    DownloadError
        A 4xx answer, or the budget spent (``part`` is kept for the next run).
    """
    label, session, retries = one_line(label or url), new_session(budget), budget.total
    high = part.stat().st_size if part.exists() else 0  # the furthest any attempt got
    last: BaseException | None = None
    try:
        while True:
            offset, meta, headers = _resume(url, part)
            try:
                with get(session, url, budget, timeout, headers=headers, stream=True) as response:
                    budget = response.raw.retries or budget  # what the adapter spent
                    return _receive(response, url, part, offset, meta, budget, label, chunk_size, progress)
            except (_Cut, Urllib3Error) as error:
                last, size = error, (part.stat().st_size if part.exists() else 0)
                if size < high + MIN_PROGRESS:  # a restart from zero or a trickle: it costs
                    budget = budget.increment("GET", url, error=error if isinstance(error, Urllib3Error) else None)
                    budget.sleep()
                high = max(high, size)
    except (MaxRetryError, requests.RequestException, _Spent, OutOfTime) as error:
        cause = reason(last if isinstance(error, MaxRetryError) and last else error)
        spent = "its time budget" if isinstance(error, OutOfTime) or budget.left() <= 0 else f"{retries} retries"
        kept = f"; {part} is kept and the next run resumes from it" if part.exists() else ""
        raise DownloadError(f"{label}: giving up on {url} after {spent} ({cause}){kept}") from None


def _resume(url: str, part: Path) -> tuple[int, dict, dict]:
    """Offset, resume metadata and request headers for the next attempt."""
    meta = read_json(meta_path(part)) or {}
    offset = part.stat().st_size if part.exists() else 0
    if part.exists() and not meta:
        raise DownloadError(f"{part} exists but was not written by this downloader (no {meta_path(part).name}); "
                            "move it away or choose another --dest")
    if offset and (meta.get("url") != url or meta.get("content_encoding")):
        discard_part(part)  # another file's start, or decoded bytes a range cannot continue
        offset, meta = 0, {}
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        etag = meta.get("etag") or ""
        validator = etag if etag and not etag.startswith("W/") else meta.get("last_modified")
        if validator:
            headers["If-Range"] = validator
    return offset, meta, headers


def _receive(response, url, part, offset, meta, budget, label, chunk_size, progress) -> FetchResult:
    status, answer = response.status_code, response.headers
    if status == 416 and offset:
        whole = re.search(r"\*/(\d+)", answer.get("Content-Range", ""))
        if whole and int(whole.group(1)) == offset == meta.get("total", offset):
            return _result(url, meta, resumed=True)
        discard_part(part)
        raise _Cut("the partial file does not match the server's file")
    if status in RETRYABLE_STATUS:
        raise _Spent(one_line(f"HTTP {status} {response.reason or ''}"))
    if status >= 400:
        raise http_error(status, response.reason or "", url, label)
    encoding = answer.get("Content-Encoding", "identity").strip().lower() or "identity"
    if encoding != "identity" and encoding not in DECODED:
        raise DownloadError(f"{label}: {url} answered with Content-Encoding {one_line(encoding)!r}, "
                            "which the downloader does not decode")
    encoded = encoding in DECODED
    if status == 206:
        match = _CONTENT_RANGE.search(answer.get("Content-Range", ""))
        if encoded or not match or int(match.group(1)) != offset:
            discard_part(part)
            raise _Cut(f"unexpected range {one_line(answer.get('Content-Range'))!r} for bytes={offset}-")
        total, mode = (None if match.group(2) == "*" else int(match.group(2))), "ab"
    else:
        length = answer.get("Content-Length", "")
        offset, mode, total = 0, "wb", int(length) if length.isdigit() else None
    meta = {"url": url, "total": total, "content_encoding": encoding if encoded else None,
            "etag": answer.get("ETag") or meta.get("etag"),
            "last_modified": answer.get("Last-Modified") or meta.get("last_modified"),
            "server_filename": _filename(answer.get("Content-Disposition"))}
    write_json(meta_path(part), meta)
    with open(part, mode) as sink, tqdm(total=total, initial=offset, unit="B", unit_scale=True,
                                        unit_divisor=1024, desc=label, disable=not progress, leave=False) as bar:
        while chunk := response.raw.read1(chunk_size, decode_content=True):
            sink.write(chunk)
            bar.update(offset + response.raw.tell() - bar.n)  # wire bytes, as Content-Length counts
            if budget.left() <= 0:
                raise OutOfTime("the time budget is spent")
    received = offset + response.raw.tell()
    if total is not None and received != total:
        raise _Cut(f"received {received:,} of {total:,} bytes")
    return _result(url, meta, resumed=mode == "ab")


def _result(url: str, meta: dict, *, resumed: bool) -> FetchResult:
    encoded = meta.get("content_encoding")
    return FetchResult(url=url, total=None if encoded else meta.get("total"), etag=meta.get("etag"),
                       last_modified=meta.get("last_modified"), server_filename=meta.get("server_filename"),
                       content_encoding=encoded, resumed=resumed)
