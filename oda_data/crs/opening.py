"""Open a CRS text file's bytes: zip members, gzip, the text encoding, transcoding to UTF-8.

What a file is (its layout and columns) is :mod:`oda_data.crs.sources`; this
module only gets at its text. DuckDB reads plain and gzipped UTF-8 text
itself. A zip member, UTF-16 text or a named encoding is first streamed into a
temporary UTF-8 file by :func:`transcode` (every data member of a zip, one
after the other: they must share one header). Deflate64 zips (compression
method 9) are read through ``zipfile-deflate64``.
Encodings detected: UTF-8 with or without BOM, and UTF-16 (BOM, or the
NUL-byte pattern of ASCII text); any other must be named.
"""
from __future__ import annotations

import codecs
import gzip
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import CRSFormatError

if TYPE_CHECKING:  # a Source is passed in; sources imports this module
    from .sources import Source

try:  # registers Deflate64 (compression method 9) with the standard zipfile module
    import zipfile_deflate64  # noqa: F401
except ImportError:  # pragma: no cover - declared dependency; plain zips still work
    zipfile_deflate64 = None

SNIFF_BYTES = 1 << 16
_CHUNK = 1 << 20
_DATA_SUFFIXES = (".txt", ".csv", ".tsv")


def check_encoding(encoding: str | None) -> str | None:
    """``None`` (detect) or a codec Python knows, else a ValueError."""
    if encoding is None:
        return None
    try:
        return codecs.lookup(encoding).name
    except (LookupError, TypeError):
        raise ValueError(f"encoding={encoding!r}: not a known text encoding (e.g. 'latin-1', 'cp1252')") from None


def open_zip(path: Path) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    """The archive and its data members (.txt, .csv, .tsv), or a CRSFormatError."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise CRSFormatError(f"{path}: not a readable zip archive (truncated or corrupt download?): {error}") from None
    members = [info for info in archive.infolist()
               if not info.is_dir() and info.filename.lower().endswith(_DATA_SUFFIXES)]
    if not members:
        names = [info.filename for info in archive.infolist()]
        archive.close()
        raise CRSFormatError(f"{path}: the zip holds no .txt or .csv CRS file; members: {names or 'none'}")
    return archive, members


def _zip_error(source: Source, member: str, error: Exception) -> CRSFormatError:
    return CRSFormatError(f"{source.path}: cannot read zip member {member!r} (truncated or corrupt download?): {error}")


def raw_streams(source: Source):
    """Yield ``(member or None, binary stream)`` for each part of a text source, decompressed."""
    if source.compression == "zip":
        archive, _ = open_zip(source.path)
        with archive:
            for member in source.members:
                try:
                    stream = archive.open(member)
                except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as error:
                    raise _zip_error(source, member, error) from None
                with stream:
                    yield member, stream
    elif source.compression == "gzip":
        with gzip.open(source.path, "rb") as stream:
            yield None, stream
    else:
        with open(source.path, "rb") as stream:
            yield None, stream


def read_head(source: Source, stream, member) -> bytes:
    """The first :data:`SNIFF_BYTES` of a stream, or a CRSFormatError naming the broken gzip or zip member."""
    try:
        return stream.read(SNIFF_BYTES)
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error, NotImplementedError) as error:
        if source.compression == "gzip":
            raise CRSFormatError(f"{source.path}: not a readable gzip file (truncated?): {error}") from None
        raise _zip_error(source, member, error) from None


def sniff_encoding(head: bytes) -> str:
    """``utf-8-sig`` or ``utf-16`` from a BOM, ``utf-16-le``/``-be`` from NUL bytes, else ``utf-8``."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = head[:200]
    # UTF-16 without BOM: every other byte of ASCII-range text is NUL.
    if len(sample) >= 4 and sample[1::2].count(0) > len(sample) // 4:
        return "utf-16-le"
    if len(sample) >= 4 and sample[0::2].count(0) > len(sample) // 4:
        return "utf-16-be"
    return "utf-8"


def encoding_error(source: Source, line: int, member=None) -> CRSFormatError:
    """The error for bytes that are not valid in the file's (detected) encoding."""
    where = f"{source.path}" + (f" (member {member!r})" if member else "")
    if source.encoding in ("utf-8", "utf-8-sig"):
        return CRSFormatError(
            f"{where}: line {line} is not UTF-8 text (the file is neither UTF-8 nor UTF-16); "
            f"pass its encoding, e.g. read_crs(..., encoding='latin-1') or 'cp1252' "
            f"(oda-data ingest --encoding latin-1)")
    return CRSFormatError(f"{where}: line {line} cannot be decoded as {source.encoding}; "
                          f"pass the file's encoding with encoding=...")


def transcode(source: Source, target: Path, on_read: Callable[[int], None] | None = None) -> list[tuple[str, int]]:
    """Write the text of ``source`` (every zip member, one header) to ``target`` as UTF-8.

    Returns ``(member, first line in target)`` for each member, so that a line
    of ``target`` can be named in its member (:func:`where_is_line`).
    """
    starts = []
    line_count = 0
    with open(target, "w", encoding="utf-8", newline="") as out:
        for index, (member, stream) in enumerate(raw_streams(source)):
            decoder = codecs.getincrementaldecoder(source.encoding)()
            skip_header = index > 0
            starts.append((member, line_count))
            member_lines = 0
            while True:
                try:
                    data = stream.read(_CHUNK)
                except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as error:
                    raise _zip_error(source, member, error) if member else CRSFormatError(
                        f"{source.path}: read error: {error}") from None
                if on_read and data:
                    on_read(len(data))
                try:
                    text = decoder.decode(data, final=not data)
                except UnicodeDecodeError as error:
                    good = decoder.__class__().decode(data[: error.start]) if error.start else ""
                    raise encoding_error(source, member_lines + good.count("\n") + 1, member) from None
                if skip_header and text:
                    cut = text.find("\n")
                    if cut < 0:
                        continue  # pragma: no cover - headers are shorter than a chunk
                    text, skip_header = text[cut + 1:], False
                text = text.lstrip("\ufeff") if member_lines == 0 else text
                member_lines += text.count("\n")
                out.write(text)
                if not data:
                    break
            if text and not text.endswith("\n"):
                out.write("\n")
                member_lines += 1
            line_count += member_lines
    return starts


def where_is_line(source: Source, line: int, starts: list[tuple[str, int]] | None) -> str:
    """``"<file> line N"`` or ``"<file> (member 'x.txt') line N"`` for line ``line`` of the text DuckDB read."""
    if not starts or len(starts) == 1:
        return f"{source.describe()} line {line}"
    position = 0
    for index, (_, start) in enumerate(starts):
        if line > start:
            position = index
    member, start = starts[position]
    # Lines of later members are shifted by the lines before them, less their dropped header.
    return f"{source.path} (member {member!r}) line {line - start + (1 if position else 0)}"
