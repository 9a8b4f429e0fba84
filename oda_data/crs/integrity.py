"""Is a cached file intact, and is a source still the file it was? The cache records each Parquet file's size,
rows, CRC-32 and identity (:func:`stat_key`): any write changes the ctime, which no program can set back, so only
a file whose identity changed (damaged, or copied back) is checked in full, once."""
from __future__ import annotations

import zlib
from pathlib import Path

import pyarrow.parquet as pq

_CHUNK = 4 << 20


def file_checksum(path) -> str:
    """``crc32:<size>:<CRC-32>`` of a file's bytes (over 1 GB/s, and it releases the GIL)."""
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


def verify(data: Path, manifest: dict) -> tuple[str | None, bool]:
    """(what is wrong with the cached file ``data``, or None; whether it was checked in full)."""
    try:
        seen = stat_key(data)
    except FileNotFoundError:
        return "missing", False
    if seen == manifest.get("data_stat"):
        return None, False
    if seen[0] != manifest.get("size"):
        return f"{seen[0]} bytes where {manifest.get('size')} were written (truncated?)", True
    if file_checksum(data) != manifest.get("checksum"):
        return "its checksum differs from the one recorded at write (damaged bytes)", True
    try:
        rows = pq.read_metadata(data).num_rows
    except Exception as error:  # noqa: BLE001 - any unreadable footer is damage
        return f"unreadable Parquet footer ({error})", True
    return (None if rows == manifest.get("rows") else f"{rows} rows where {manifest.get('rows')} were written"), True
