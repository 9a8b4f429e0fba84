"""Fetch one URL into ``<name>.part`` on urllib3's ``Retry``: one :class:`Budget` of tries and seconds, spent by the
adapter on connection errors and 408/429/5xx (urllib3's backoff, ``Retry-After``) and by :func:`fetch_part` on a
body cut short. Only a try bringing ``MIN_PROGRESS`` bytes beyond the furthest earlier one is free."""
from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from tqdm.auto import tqdm
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import MaxRetryError, ProtocolError
from urllib3.util import Retry

from ..._files import atomic_write
from ..._text import one_line

DEFAULT_RETRIES, DEFAULT_BACKOFF_S, MAX_BACKOFF_S = 5, 1.0, 60
DEFAULT_MAX_TIME_S = 4 * 3600  # the whole download, every retry included
DEFAULT_TIMEOUT = (15.0, 120.0)  # connect, read: each capped by the time left
CHUNK_SIZE = MIN_PROGRESS = 1 << 20
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
DECODED = frozenset({"gzip", "x-gzip", "deflate"})  # saved decoded, as the server meant the payload


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
    def start(cls, retries=DEFAULT_RETRIES, backoff=DEFAULT_BACKOFF_S, max_time=DEFAULT_MAX_TIME_S) -> Budget:
        return cls(total=retries, redirect=10, status_forcelist=RETRYABLE_STATUS, allowed_methods={"GET"},
                   raise_on_status=False, backoff_factor=backoff, backoff_max=MAX_BACKOFF_S,
                   retry_after_max=MAX_BACKOFF_S, deadline=time.monotonic() + max_time)

    def new(self, **kwargs) -> Budget:
        return super().new(deadline=self.deadline, **kwargs)

    def is_exhausted(self) -> bool:
        return super().is_exhausted() or self.left() <= 0

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def sleep(self, response=None) -> None:
        delay = max(self.get_backoff_time(), (self.get_retry_after(response) or 0) if response else 0)
        if delay >= self.left():
            raise OutOfTime(f"the next try would start past it, after {delay:g} s")
        time.sleep(delay)


def get(url: str, budget: Budget, **kwargs) -> requests.Response:
    """GET spending ``budget``; the timeouts never reach past its deadline."""
    if budget.left() <= 0:
        raise OutOfTime("the time budget is spent")
    session = requests.Session()
    for prefix in ("http://", "https://"):
        session.mount(prefix, HTTPAdapter(max_retries=budget))
    return session.get(url, timeout=tuple(min(limit, budget.left()) for limit in DEFAULT_TIMEOUT), **kwargs)


def reason(error: BaseException) -> str:
    """The innermost cause of a requests/urllib3 error, one printable line."""
    while isinstance(inner := getattr(error, "reason", None) or (error.args or [None])[0], BaseException):
        error = inner
    first = error.args[0] if error.args and isinstance(error.args[0], str) else None
    return one_line(first or str(error) or type(error).__name__)


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
    part.unlink(missing_ok=True)
    meta_path(part).unlink(missing_ok=True)


_REFUSED = (" -- the server refused the request (the OECD site sometimes challenges automated clients); try "
            "again later, or download the file in a browser and run `oda-data ingest FILE`")
_HINTS = {401: _REFUSED, 403: _REFUSED, 404: " -- the file is not there (the OECD moves bulk files when it "
          "republishes; run `oda-data download crs --list` to see the current ones)"}


def fetch_part(url: str, part: Path, budget: Budget, *, label: str | None = None, chunk_size: int = CHUNK_SIZE,
               progress: bool = True) -> dict:
    """Stream ``url`` into ``part``; return what the server said (``total``, ``etag``, ``content_encoding``...).

    A ``part`` whose ``<part>.json`` names the URL and an ETag or Last-Modified is resumed (``Range``,
    ``If-Range``); a compressed answer is saved decoded, its wire length checked, never resumed."""
    label, retries = one_line(label or url), budget.total
    high = part.stat().st_size if part.exists() else 0  # the furthest any try got
    last: BaseException | None = None
    try:
        while True:
            offset, meta, headers = _resume(url, part)
            try:
                with get(url, budget, headers=headers, stream=True) as response:
                    budget = response.raw.retries or budget  # what the adapter spent
                    return _receive(response, url, part, offset, meta, budget, label, chunk_size, progress)
            except Urllib3Error as error:  # a body cut short, a stall, a bad range: a read error to Retry
                last, size = error, part.stat().st_size if part.exists() else 0
                if size < high + MIN_PROGRESS:
                    budget = budget.increment("GET", url, error=error)
                    budget.sleep()
                high = max(high, size)
    except (MaxRetryError, requests.RequestException, OutOfTime) as error:
        cause = reason(last if isinstance(error, MaxRetryError) and last else error)
        spent = "its time budget" if isinstance(error, OutOfTime) or budget.left() <= 0 else f"{retries} retries"
        kept = f"; {part} is kept for the next run" if part.exists() else ""
        raise DownloadError(f"{label}: giving up on {url} after {spent} ({cause}){kept}") from None


def _resume(url: str, part: Path) -> tuple[int, dict, dict]:
    meta, offset = read_json(meta_path(part)) or {}, part.stat().st_size if part.exists() else 0
    if offset and not meta_path(part).exists():
        raise DownloadError(f"{part} exists but was not written by this downloader (no {meta_path(part).name}); "
                            "move it away or choose another --dest")
    validator = meta.get("etag") or meta.get("last_modified")
    if offset and (meta.get("url") != url or meta.get("content_encoding") or not validator):
        discard_part(part)  # another file's start, decoded bytes, or nothing to check a resume against
        offset = 0
    return offset, meta, {"Accept-Encoding": "identity", **(
        {"Range": f"bytes={offset}-", "If-Range": validator} if offset else {})}


def _receive(response, url, part, offset, meta, budget, label, chunk_size, progress) -> dict:
    status, answer = response.status_code, response.headers
    if status == 416 and offset:
        whole = re.search(r"\*/(\d+)", answer.get("Content-Range", ""))
        if whole and int(whole.group(1)) == offset == meta.get("total", offset):
            return meta
        discard_part(part)
        raise ProtocolError("the partial file does not match the server's file")
    if status in RETRYABLE_STATUS:  # the adapter spent the budget on these
        raise requests.RequestException(f"HTTP {status} {one_line(response.reason or '')}".rstrip())
    if status >= 400:
        raise DownloadError(one_line(f"{label}: {url} answered HTTP {status} {response.reason or ''}".rstrip()
                                     + _HINTS.get(status, "")))
    encoding = answer.get("Content-Encoding", "").strip().lower() or "identity"
    if encoding not in DECODED | {"identity"}:
        raise DownloadError(f"{label}: {url} answered with Content-Encoding {one_line(encoding)!r}, "
                            "which the downloader does not decode")
    mode, offset = ("ab", offset) if status == 206 else ("wb", 0)
    total = int(answer["Content-Length"]) if answer.get("Content-Length", "").isdigit() else None
    if status == 206:
        match = re.search(r"bytes\s+(\d+)-\d+/(\d+|\*)", answer.get("Content-Range", ""))
        if encoding != "identity" or not match or int(match.group(1)) != offset:
            discard_part(part)
            raise ProtocolError(f"unexpected range {one_line(answer.get('Content-Range', ''))!r} for bytes={offset}-")
        total = None if match.group(2) == "*" else int(match.group(2))
    meta = {"url": url, "total": total, "content_encoding": None if encoding == "identity" else encoding,
            "etag": answer.get("ETag") or meta.get("etag"),
            "last_modified": answer.get("Last-Modified") or meta.get("last_modified")}
    with open(part, mode) as sink, tqdm(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                                        desc=label, disable=not progress, leave=False) as bar:
        write_json(meta_path(part), meta)  # after "wb" truncated the part: it never describes older bytes
        while chunk := response.raw.read1(chunk_size, decode_content=True):
            sink.write(chunk)
            bar.update(offset + response.raw.tell() - bar.n)  # wire bytes, as Content-Length counts them
            if budget.left() <= 0:
                raise OutOfTime("the time budget is spent")
    if total is not None and offset + response.raw.tell() != total:
        raise ProtocolError(f"received {offset + response.raw.tell():,} of {total:,} bytes")
    return meta
