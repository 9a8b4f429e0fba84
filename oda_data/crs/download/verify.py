"""Verify a fetched bulk file and record its SHA-256.

The OECD publishes no checksum, so check what can be checked: the byte count,
every zip member's CRC (Deflate64 included), the Parquet footer. A verified
file gets a ``<file>.sha256`` sidecar (``sha256sum`` format).
"""
from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path

from ..._text import one_line
from .fetch import CHUNK_SIZE, DownloadError


def verify_payload(path: Path, *, expected_size: int | None = None) -> str:
    """Check that ``path`` is a whole zip or Parquet file; return ``"zip"`` or ``"parquet"``.

    Raises
    ------
    DownloadError
        Naming the file and what is wrong (an HTML page served with 200 too).
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
                bad, empty = archive.testzip(), not archive.namelist()
        except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, ValueError) as error:
            raise DownloadError(f"{path.name}: broken or truncated zip archive ({one_line(str(error))})") from None
        if bad is not None or empty:
            raise DownloadError(f"{path.name}: " + ("the zip archive is empty" if empty else
                                                    f"broken zip archive (bad CRC in member {bad!r})"))
        return "zip"
    if head.startswith(b"PAR1"):
        import pyarrow.parquet as pq

        try:
            pq.ParquetFile(path).metadata  # noqa: B018 -- reads and checks the footer
        except Exception as error:  # pyarrow raises ArrowInvalid / OSError variants
            raise DownloadError(f"{path.name}: broken or truncated Parquet file ({one_line(str(error))})") from None
        return "parquet"
    hint = " (it looks like an HTML page: the server answered an error page)" if head.lstrip().startswith(b"<") else ""
    raise DownloadError(f"{path.name}: not a zip or Parquet file (starts with {head!r}){hint}")


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK_SIZE), b""):
            digest.update(block)
    return digest.hexdigest()


def read_sha256_sidecar(path: Path) -> str | None:
    """The digest recorded in ``<path>.sha256``, None when absent or malformed."""
    try:
        text = path.with_name(path.name + ".sha256").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    digest = text.split(maxsplit=1)[0] if text.strip() else ""
    return digest.lower() if re.fullmatch(r"[0-9a-fA-F]{64}", digest) else None
