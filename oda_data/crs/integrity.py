"""Is a cached file intact, and is a source still the file it was? (checksums and file identity).

The cache (:mod:`oda_data.crs.cache`) records, at write, each Parquet file's
size, row count and :func:`file_checksum`, and each source's :func:`stat_key`
and checksum (its content fingerprint). :func:`verify` compares a cached file
with that record once per process; later opens compare its size, times and
inode only.
"""
from __future__ import annotations

import zlib
from pathlib import Path

import pyarrow.parquet as pq

_CHUNK = 4 << 20
#: (path, size, mtime, ctime, inode) of the cached files verified in this process.
VERIFIED: set[tuple] = set()


def file_checksum(path) -> str:
    """``crc32:<size>:<CRC-32>`` of a file's bytes.

    CRC-32 runs at over 1 GB/s and releases the GIL (it runs beside DuckDB
    during a conversion); it detects every truncation, burst and flipped
    byte, which is what it is for: noticing damage and edits, not attacks.
    """
    crc, size = 0, 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
    return f"crc32:{size}:{crc:08x}"


def stat_key(path: Path) -> list[int]:
    """Size, mtime, ctime, inode and device: an edit changes at least the ctime."""
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev]


def verify(data: Path, manifest: dict) -> str | None:
    """None when the cached file ``data`` matches its manifest, else what is wrong."""
    try:
        stat = data.stat()
    except FileNotFoundError:
        return "missing"
    seen = (str(data), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
    if seen in VERIFIED:
        return None
    if stat.st_size != manifest.get("size"):
        return f"{stat.st_size} bytes where {manifest.get('size')} were written (truncated?)"
    if file_checksum(data) != manifest.get("checksum"):
        return "its checksum differs from the one recorded at write (damaged bytes)"
    try:
        rows = pq.read_metadata(data).num_rows
    except Exception as error:  # noqa: BLE001 - any unreadable footer is damage
        return f"unreadable Parquet footer ({error})"
    if rows != manifest.get("rows"):
        return f"{rows} rows where {manifest.get('rows')} were written"
    VERIFIED.add(seen)
    return None
