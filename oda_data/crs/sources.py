"""Recognise a CRS file's layout, open zip/gzip/UTF-16 sources, map their columns.

Layouts understood (see ``docs/oecd_formats.md`` of the project's shared docs):

``bulk_text``
    The CRS bulk download text file ("CRS 2018 data.txt"), plain, gzipped or
    inside its zip (Deflate64 zips included, through ``zipfile-deflate64``).
    UTF-8 with or without BOM, or UTF-16 (BOM, or the NUL-byte pattern of
    ASCII text); any other encoding must be named (``encoding="latin-1"``).
    ``|``, ``,``, tab or ``;`` delimited. Column names are matched
    case-insensitively (``CRSid`` = ``CrsID``); unknown columns are ignored;
    a column named twice is an error. The 2024+ "dotStat format" files'
    ``DEDonorcode`` / ``DERecipientcode`` (``JPN``) are used when the numeric
    columns are absent.
``bulk_parquet``
    The "CRS-Parquet" and "CRS-reduced-parquet" bulk files (same columns).
``sdmx_csv`` and ``purpose_summary``
    OECD Data Explorer SDMX-CSV and aggregated snake_case "by purpose"
    exports; read by :mod:`oda_data.crs.sdmx`.

DuckDB reads plain and gzipped UTF-8 text itself. A zip member, UTF-16 text
or a named encoding is first streamed into a temporary UTF-8 file (every data
member of a zip, one after the other: they must share one header).
"""
from __future__ import annotations

import codecs
import csv
import gzip
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ._text import printable

try:  # registers Deflate64 (compression method 9) with the standard zipfile module
    import zipfile_deflate64  # noqa: F401
except ImportError:  # pragma: no cover - declared dependency; plain zips still work
    zipfile_deflate64 = None

LAYOUTS = ("bulk_text", "bulk_parquet", "sdmx_csv", "purpose_summary")
SDMX_ROW_CHOICES = ("auto", "DD", "_T")
_SNIFF_BYTES = 1 << 16
_CHUNK = 1 << 20
_DATA_SUFFIXES = (".txt", ".csv", ".tsv")


class CRSFormatError(ValueError):
    """A CRS source could not be read: the message names the file, the line and the problem.

    Text quoted from the file (a header, a cell) has its control characters
    escaped (:func:`oda_data.crs._text.printable`).
    """

    def __init__(self, message: str):
        super().__init__(printable(message))


class CRSLayoutWarning(UserWarning):
    """A reader made a documented choice the user should know about (e.g. DD over _T)."""


def check_sdmx_rows(sdmx_rows: str) -> str:
    """Return ``sdmx_rows`` if it is one of :data:`SDMX_ROW_CHOICES`, else raise a ValueError listing them."""
    if sdmx_rows not in SDMX_ROW_CHOICES:
        raise ValueError(f"sdmx_rows={sdmx_rows!r}; expected one of: {', '.join(SDMX_ROW_CHOICES)}")
    return sdmx_rows


def check_encoding(encoding: str | None) -> str | None:
    """``None`` (detect) or a codec Python knows, else a ValueError."""
    if encoding is None:
        return None
    try:
        return codecs.lookup(encoding).name
    except (LookupError, TypeError):
        raise ValueError(f"encoding={encoding!r}: not a known text encoding (e.g. 'latin-1', 'cp1252')") from None


# Canonical column -> candidate source names (lower case), for the bulk layouts.
BULK_COLUMNS: dict[str, tuple[str, ...]] = {
    "year": ("year",),
    "donor_code": ("donorcode",),
    "donor_name": ("donorname",),
    "agency_code": ("agencycode",),
    "agency_name": ("agencyname",),
    "recipient_code": ("recipientcode",),
    "recipient_name": ("recipientname",),
    "region_name": ("regionname",),
    "flow_code": ("flowcode",),
    "finance_type": ("finance_t", "financetype"),
    "purpose_code": ("purposecode",),
    "purpose_name": ("purposename",),
    "sector_code": ("sectorcode",),
    "channel_code": ("channelcode",),
    "project_title": ("projecttitle",),
    "short_description": ("shortdescription",),
    "long_description": ("longdescription",),
    "usd_commitment": ("usd_commitment",),
    "usd_disbursement": ("usd_disbursement",),
    "usd_commitment_constant": ("usd_commitment_defl",),
    "usd_disbursement_constant": ("usd_disbursement_defl",),
}
#: Data Explorer codes in the 2024+ "dotStat format" bulk files.
BULK_DE_COLUMNS = {"donor_code": "dedonorcode", "recipient_code": "derecipientcode"}
BULK_REQUIRED = (("year", "Year"), ("donor_code", "DonorCode"), ("recipient_code", "RecipientCode"),
                 ("purpose_code", "PurposeCode"))


@dataclass
class Source:
    """What :func:`detect_layout` learned about a file.

    Attributes
    ----------
    kind : str
        One of :data:`LAYOUTS`.
    path : Path
        The source file.
    members : tuple of str
        The data members read inside a zip archive (in archive order).
    compression : {None, "zip", "gzip"}
    encoding : str or None
        Text encoding (``utf-8``, ``utf-8-sig``, ``utf-16``, ``utf-16-le`` ...); None for Parquet.
    delimiter : str or None
    header : list of str
        Column names as in the file.
    size : int
        Bytes to read (uncompressed, for zips), or rows for Parquet: for progress bars.
    """

    kind: str
    path: Path
    members: tuple[str, ...] = ()
    compression: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    header: list[str] = field(default_factory=list)
    size: int = 0

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
        """Plain or gzipped UTF-8 text: DuckDB's CSV reader takes the file as it is."""
        return self.compression != "zip" and self.encoding in ("utf-8", "utf-8-sig")


# --------------------------------------------------------------------------- opening
def _open_zip(path: Path) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
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
        archive, _ = _open_zip(source.path)
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


def _sniff_encoding(head: bytes) -> str:
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


def _sniff_delimiter(line: str) -> str:
    counts = {delimiter: line.count(delimiter) for delimiter in ("|", "\t", ",", ";")}
    return max(counts, key=counts.get)


def _read_head(source: Source, stream, member) -> bytes:
    try:
        return stream.read(_SNIFF_BYTES)
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error, NotImplementedError) as error:
        if source.compression == "gzip":
            raise CRSFormatError(f"{source.path}: not a readable gzip file (truncated?): {error}") from None
        raise _zip_error(source, member, error) from None


def _header_of(source: Source, head: bytes, member) -> list[str]:
    encoding = source.encoding
    try:
        text = head.decode(encoding)
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # not just a character cut at the end of the sample
            line = head[: error.start].count(b"\n") + 1
            raise encoding_error(source, line, member) from None
        text = head[: error.start].decode(encoding)
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        where = f"zip member {member!r} of {source.path}" if member else str(source.path)
        raise CRSFormatError(f"{where}: no header line (the file is empty or holds only blank lines)")
    source.delimiter = source.delimiter or _sniff_delimiter(lines[0])
    return [name.strip() for name in next(csv.reader([lines[0]], delimiter=source.delimiter))]


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


def detect_layout(path, encoding: str | None = None) -> Source:
    """Recognise the layout of the CRS file at ``path``.

    Parameters
    ----------
    encoding : str, optional
        The text encoding, when it is not UTF-8 (with or without BOM) or UTF-16.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    CRSFormatError
        Empty file, unreadable zip/gzip, a zip whose data members differ, a
        column named twice, or a file that is not any CRS layout.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"CRS source not found: {printable(path)}")
    if path.is_dir():
        raise CRSFormatError(f"{path}: is a folder; expected a CRS file (.txt, .csv, .zip, .gz, .parquet)")
    if path.stat().st_size == 0:
        raise CRSFormatError(f"{path}: the file is empty (0 bytes); expected a CRS file")
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if magic == b"PAR1":
        return _detect_parquet(path)
    source = Source("", path, size=path.stat().st_size)
    if magic.startswith(b"PK"):
        archive, members = _open_zip(path)
        archive.close()
        source.compression = "zip"
        source.members = tuple(info.filename for info in members)
        source.size = sum(info.file_size for info in members)
    elif magic.startswith(b"\x1f\x8b"):
        source.compression = "gzip"
    headers = []
    for member, stream in raw_streams(source):
        head = _read_head(source, stream, member)
        if not head:
            raise CRSFormatError(f"{path}: {'zip member ' + repr(member) if member else 'the file'} "
                                 "is empty; expected a CRS file")
        source.encoding = check_encoding(encoding) or _sniff_encoding(head)
        headers.append((member, _header_of(source, head, member)))
    member, source.header = headers[0]
    for other, header in headers[1:]:
        if header != source.header:
            raise CRSFormatError(
                f"{path}: the zip holds {len(headers)} data files with different columns "
                f"({member!r}: {_preview(source.header)}; {other!r}: {_preview(header)}); "
                f"unzip it and read each file on its own")
    source.kind = _classify(source)
    _check_unique(source)
    return source


def _detect_parquet(path: Path) -> Source:
    try:
        schema = pq.read_schema(path)
        rows = pq.ParquetFile(path).metadata.num_rows
    except (pa.ArrowInvalid, OSError) as error:
        raise CRSFormatError(f"{path}: unreadable Parquet file (truncated?): {error}") from None
    source = Source("", path, header=list(schema.names), size=rows)
    if _classify(source) != "bulk_text":
        raise CRSFormatError(
            f"{path}: a Parquet file without the CRS bulk columns (Year, DonorCode, RecipientCode, "
            f"PurposeCode, USD_Disbursement ...); found: {_preview(source.header)}")
    source.kind = "bulk_parquet"
    _check_unique(source)
    return source


def _check_unique(source: Source) -> None:
    """A column named twice is an error (bulk names are matched case-insensitively;
    Data Explorer pairs ``DONOR``/``Donor`` are codes and labels)."""
    seen: dict[str, list[int]] = {}
    fold = str.lower if source.kind.startswith("bulk") else str
    for position, name in enumerate(source.header, start=1):
        if name.strip():  # unnamed columns (a trailing delimiter) are never read
            seen.setdefault(fold(name.strip()), []).append(position)
    twice = {name: places for name, places in seen.items() if len(places) > 1}
    if twice:
        name, places = next(iter(twice.items()))
        shown = source.header[places[0] - 1]
        raise CRSFormatError(
            f"{source.describe()}: line 1 (header): column {shown!r} appears {len(places)} times "
            f"(columns {', '.join(map(str, places))}"
            f"{', names matched case-insensitively' if source.kind.startswith('bulk') else ''}); "
            f"which one holds the data is ambiguous, so the file is refused")


def _preview(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} columns)" if len(names) > limit else "")


def _classify(source: Source) -> str:
    lower = source.lower_header
    exact = set(source.header)
    sdmx_markers = {"OBS_VALUE", "DATAFLOW", "STRUCTURE", "DONOR"}
    if "TIME_PERIOD" in exact and sdmx_markers & exact or {"obs_value", "time_period", "donor"} <= set(lower):
        return "sdmx_csv"
    if "purposecode" in lower or "donorcode" in lower or "dedonorcode" in lower:
        return "bulk_text"
    if "purpose_code" in lower and "value" in lower:
        return "purpose_summary"
    raise CRSFormatError(
        f"{source.describe()}: not a CRS file: its header has none of the CRS layouts' "
        f"columns (bulk: DonorCode/PurposeCode; Data Explorer: DONOR/TIME_PERIOD/OBS_VALUE; "
        f"summary: donor_code/purpose_code/value); found: {_preview(source.header)}")


# --------------------------------------------------------------------------- columns
def bulk_columns(source: Source) -> tuple[dict[str, str], dict[str, str]]:
    """Map a bulk source's columns: (canonical -> file column, canonical -> Data Explorer code column).

    Raises CRSFormatError when a required column or every amount column is missing.
    """
    lower = source.lower_header
    found = {}
    for canonical, names in BULK_COLUMNS.items():
        for name in names:
            if name in lower:
                found[canonical] = lower[name]
                break
    de_codes = {canonical: lower[name] for canonical, name in BULK_DE_COLUMNS.items()
                if canonical not in found and name in lower}
    missing = [shown for canonical, shown in BULK_REQUIRED if canonical not in found and canonical not in de_codes]
    if missing:
        raise CRSFormatError(
            f"{source.describe()}: missing required column(s) {', '.join(missing)} (matched "
            f"case-insensitively) for the {source.kind} layout; found: {_preview(source.header, 30)}")
    if not any(name.startswith("usd_") for name in found):
        raise CRSFormatError(
            f"{source.describe()}: missing required amount column: none of USD_Commitment, "
            f"USD_Disbursement, USD_Commitment_Defl, USD_Disbursement_Defl (matched "
            f"case-insensitively); found: {_preview(source.header, 30)}")
    return found, de_codes


# --------------------------------------------------------------------------- transcoding
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
