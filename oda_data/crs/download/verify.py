"""Check a fetched bulk file (the OECD publishes no checksum) and record its SHA-256."""
from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path

from ..._text import one_line
from .fetch import CHUNK_SIZE, DownloadError


def verify_payload(path: Path, *, expected_size: int | None = None) -> str:
    """``"zip"`` (every member's CRC checked, Deflate64 too) or ``"parquet"`` (footer read), else DownloadError."""
    size = path.stat().st_size
    if expected_size is not None and size != expected_size:
        raise DownloadError(f"{path.name}: {size:,} bytes where the server announced {expected_size:,}")
    with open(path, "rb") as handle:
        head = handle.read(8)
    try:
        if head.startswith(b"PK"):
            import zipfile_deflate64  # noqa: F401  -- teaches zipfile Deflate64 (recent CRS zips)

            with zipfile.ZipFile(path) as archive:
                bad, empty = archive.testzip(), not archive.namelist()
            if bad is not None or empty:
                raise DownloadError(f"{path.name}: " + ("the zip archive is empty" if empty
                                                        else f"broken zip archive (bad CRC in member {bad!r})"))
            return "zip"
        if head.startswith(b"PAR1"):
            import pyarrow.parquet as pq

            pq.ParquetFile(path).metadata  # noqa: B018 -- reads and checks the footer
            return "parquet"
    except DownloadError:
        raise
    except Exception as error:  # zipfile, zlib and pyarrow raise many kinds for a damaged file
        kind = "zip archive" if head.startswith(b"PK") else "Parquet file"
        raise DownloadError(f"{path.name}: broken or truncated {kind} ({one_line(str(error))})") from None
    hint = " (it looks like an HTML page: the server answered an error page)" if head.lstrip().startswith(b"<") else ""
    raise DownloadError(f"{path.name}: not a zip or Parquet file (starts with {head!r}){hint}")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK_SIZE), b""):
            digest.update(block)
    return digest.hexdigest()


def read_sha256_sidecar(path: Path) -> str | None:
    """The digest recorded in ``<path>.sha256`` (``sha256sum`` format), None when absent or malformed."""
    try:
        text = path.with_name(path.name + ".sha256").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    match = re.match(r"\s*([0-9a-fA-F]{64})\b", text)
    return match.group(1).lower() if match else None
