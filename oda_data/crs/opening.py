"""What a CRS file is made of (:class:`Source`, its :class:`Layout`) and how to get at its bytes: zip members
(Deflate64 too), gzip (CRC-32 and length checked by Python's ``gzip``), UTF-8, UTF-16 or a named encoding,
streamed into one UTF-8 file for DuckDB by :func:`transcode` (plain UTF-8 DuckDB reads as it is)."""
from __future__ import annotations

import codecs
import contextlib
import gzip
import os
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import zipfile_deflate64  # noqa: F401  (registers Deflate64, compression method 9, with zipfile)

from .errors import CRSFormatError

SNIFF_BYTES = 1 << 16
_CHUNK = 1 << 20
_DATA_SUFFIXES = (".txt", ".csv", ".tsv")
_STREAM_ERRORS = (zipfile.BadZipFile, EOFError, OSError, zlib.error, NotImplementedError)
#: Characters DuckDB's readers take as a pattern in a path (``*.txt``, ``[ab]``, ``{a,b}``).
GLOB_CHARACTERS = set("*?[]{}")


@dataclass(frozen=True)
class Layout:
    """One CRS layout: ``matches(source)`` tells from the header; ``read(source, cursor, run, scratch, on_read,
    options)`` hands ``run`` the checked ``SELECT`` of the canonical columns, returns ``(run's result, notes)``;
    ``answers_first``: whether a large first read may be answered from the file itself."""

    name: str
    matches: Callable[[Source], bool]
    read: Callable
    parquet: bool = False
    answers_first: Callable[[Source], bool] = lambda source: False


@dataclass
class Source:
    """A CRS file as detected: layout, container, encoding, delimiter, header, size (bytes or Parquet rows)."""

    path: Path
    layout: Layout | None = None
    members: tuple[str, ...] = ()
    compression: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    header: list[str] = field(default_factory=list)
    size: int = 0
    parquet: bool = False

    @property
    def kind(self) -> str:
        return self.layout.name if self.layout else ""

    @property
    def lower_header(self) -> dict[str, str]:
        """Lower-case name -> name as in the file (names are unique: checked on detection)."""
        return {name.strip().lower(): name for name in self.header}

    def describe(self) -> str:
        if not self.members:
            return str(self.path)
        shown = ", ".join(repr(member) for member in self.members)
        return f"{self.path} (member{'s' if len(self.members) > 1 else ''} {shown})"

    @property
    def duckdb_reads_directly(self) -> bool:
        """Plain UTF-8 text (gzip goes through Python, which checks its CRC-32 and length)."""
        return self.compression is None and self.encoding in ("utf-8", "utf-8-sig")


@contextlib.contextmanager
def literal_path(path: Path):
    """``path``, or a link to it in a temporary folder when its name holds glob characters
    (DuckDB's readers would take it as a pattern and read another file)."""
    if not GLOB_CHARACTERS & set(str(path)):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="oda_data-") as folder:
        link = Path(folder) / f"source{''.join(path.suffixes[-2:])}"
        os.symlink(path, link)
        yield link


def check_encoding(encoding: str | None) -> str | None:
    """``None`` (detect) or a codec Python knows (UTF-8 names mean "detect": the same bytes, one cache file)."""
    if encoding is None:
        return None
    try:
        name = codecs.lookup(encoding).name
    except (LookupError, TypeError):
        raise ValueError(f"encoding={encoding!r}: not a known text encoding (e.g. 'latin-1', 'cp1252')") from None
    return None if name in ("utf-8", "utf-8-sig") else name


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


def stream_error(source: Source, member, error: Exception) -> CRSFormatError:
    """The one-line error for a stream that cannot be read to its end."""
    if member:
        return CRSFormatError(f"{source.path}: cannot read zip member {member!r} (truncated or corrupt "
                              f"download?): {error}")
    if source.compression == "gzip":
        return CRSFormatError(f"{source.path}: not a readable gzip file (truncated, or its CRC-32/length "
                              f"check failed): {error}")
    return CRSFormatError(f"{source.path}: read error: {error}")


def raw_streams(source: Source):
    """Yield ``(member or None, binary stream)`` for each part of a text source, decompressed."""
    if source.compression == "zip":
        archive, _ = open_zip(source.path)
        with archive:
            for member in source.members:
                try:
                    stream = archive.open(member)
                except _STREAM_ERRORS as error:
                    raise stream_error(source, member, error) from None
                with stream:
                    yield member, stream
    else:
        with (gzip.open if source.compression == "gzip" else open)(source.path, "rb") as stream:
            yield None, stream


def read_all(source: Source, stream, member, size: int = -1) -> bytes:
    """``stream.read(size)``, or the one-line error naming the broken gzip or zip member."""
    try:
        return stream.read(size)
    except _STREAM_ERRORS as error:
        raise stream_error(source, member, error) from None


def sniff_encoding(head: bytes) -> str:
    """``utf-8-sig`` or ``utf-16`` from a BOM, ``utf-16-le``/``-be`` from NUL bytes, else ``utf-8``."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = head[:200]
    for encoding, nul_bytes in (("utf-16-le", sample[1::2]), ("utf-16-be", sample[0::2])):
        if len(sample) >= 4 and nul_bytes.count(0) > len(sample) // 4:
            return encoding
    return "utf-8"


def encoding_error(source: Source, line: int, member=None) -> CRSFormatError:
    """The error for bytes that are not valid in the file's (detected) encoding."""
    where = f"{source.path}" + (f" (member {member!r})" if member else "")
    if source.encoding in ("utf-8", "utf-8-sig"):
        return CRSFormatError(f"{where}: line {line} is not UTF-8 text (the file is neither UTF-8 nor UTF-16); pass "
                              f"its encoding, e.g. read_crs(..., encoding='latin-1') or 'cp1252' (oda-data ingest "
                              f"--encoding latin-1)")
    return CRSFormatError(f"{where}: line {line} cannot be decoded as {source.encoding}; "
                          f"pass the file's encoding with encoding=...")


def transcode(source: Source, target: Path, on_read: Callable[[int], None] | None = None) -> list[tuple[str, int]]:
    """Write the text of ``source`` (every zip member, one header) to ``target`` as UTF-8; ``(member, first line
    in target)`` for each member (:func:`where_is_line`)."""
    starts, line_count, text = [], 0, ""
    with open(target, "w", encoding="utf-8", newline="") as out:
        for index, (member, stream) in enumerate(raw_streams(source)):
            decoder = codecs.getincrementaldecoder(source.encoding)()
            skip_header, member_lines = index > 0, 0
            starts.append((member, line_count))
            while True:
                data = read_all(source, stream, member, _CHUNK)
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
    position = max(index for index, (_, start) in enumerate(starts) if line > start or index == 0)
    member, start = starts[position]
    # Lines of later members are shifted by the lines before them, less their dropped header.
    return f"{source.path} (member {member!r}) line {line - start + (1 if position else 0)}"
