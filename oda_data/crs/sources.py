"""Recognise a CRS file's layout and map a bulk file's columns to the canonical ones.

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
    exports; read by :mod:`oda_data.crs.sdmx` and :mod:`oda_data.crs.summary`.

Getting at a file's text (zip members, gzip, encodings) is
:mod:`oda_data.crs.opening`; every data member of a zip must share one header.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .._text import printable
from .errors import CRSFormatError
from .opening import check_encoding, encoding_error, open_zip, raw_streams, read_head, sniff_encoding

LAYOUTS = ("bulk_text", "bulk_parquet", "sdmx_csv", "purpose_summary")


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


# --------------------------------------------------------------------------- detection
def _sniff_delimiter(line: str) -> str:
    counts = {delimiter: line.count(delimiter) for delimiter in ("|", "\t", ",", ";")}
    return max(counts, key=counts.get)


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
        archive, members = open_zip(path)
        archive.close()
        source.compression = "zip"
        source.members = tuple(info.filename for info in members)
        source.size = sum(info.file_size for info in members)
    elif magic.startswith(b"\x1f\x8b"):
        source.compression = "gzip"
    headers = []
    for member, stream in raw_streams(source):
        head = read_head(source, stream, member)
        if not head:
            raise CRSFormatError(f"{path}: {'zip member ' + repr(member) if member else 'the file'} "
                                 "is empty; expected a CRS file")
        source.encoding = check_encoding(encoding) or sniff_encoding(head)
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
