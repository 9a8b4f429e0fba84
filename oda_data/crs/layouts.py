"""Recognise a CRS file's layout and read it, batch by batch, into canonical columns.

Layouts understood (see ``docs/oecd_formats.md`` of the project's shared docs):

``bulk_text``
    The CRS bulk download text file ("CRS 2018 data.txt"), plain or inside its
    zip (Deflate64 zips included, through ``zipfile-deflate64``). UTF-8 with or
    without BOM or UTF-16 (BOM, or NUL-byte pattern); ``|``, ``,``, tab or
    ``;`` delimited. Column names are matched case-insensitively (``CRSid`` =
    ``CrsID``); unknown columns are ignored. The 2024+ "dotStat format" files'
    ``DEDonorcode`` / ``DERecipientcode`` (``JPN``) are used when the numeric
    columns are absent.
``bulk_parquet``
    The "CRS-Parquet" and "CRS-reduced-parquet" bulk files: same columns as the
    text file. Read by row groups (streaming), then normalised like text.
``sdmx_csv``
    OECD Data Explorer SDMX-CSV of dataflow ``DSD_CRS@DF_CRS``, both
    ``csvfilewithlabels`` (each code column followed by its label column) and
    ``csvfile`` (codes only). Long format: one observation per row. Rows of one
    activity (commitment/disbursement x current/constant) are pivoted into the
    four amount columns. ``MD_DIM`` = ``DD`` rows are activities, ``_T`` rows are
    aggregates: both describe the same money, so they are never mixed. The
    rule (``sdmx_rows``): ``"auto"`` keeps the ``DD`` rows when the file has
    any (and says so with a :class:`CRSLayoutWarning` when ``_T`` rows were
    dropped), otherwise the ``_T`` rows; ``"DD"`` or ``"_T"`` force one kind.
    ``OBS_VALUE`` is scaled by ``UNIT_MULT`` to USD millions. An SDMX file is read
    whole (Data Explorer downloads are capped in size by the API).
``purpose_summary``
    Aggregated snake_case exports of the CRS ("by purpose": ``donor_code, ...,
    purpose_code, ..., indicator, value, currency, prices``) such as ONE
    Campaign's. ``value`` goes to the disbursement columns (or commitment
    columns when ``indicator`` names commitments), current or constant
    according to ``prices``. Rows with every cell empty (a real quirk: trailing
    ``,,,`` lines) are dropped.

Errors are :class:`CRSFormatError` (a ``ValueError``) naming the file and what
was wrong: empty file, not a CRS file, a missing required column, a
non-numeric amount or code (with its line), a truncated or corrupt zip.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from . import codes
from .schema import AMOUNT_COLUMNS, CANONICAL_ARROW_SCHEMA, CANONICAL_TYPES

try:  # registers Deflate64 (compression method 9) with the standard zipfile module
    import zipfile_deflate64  # noqa: F401
except ImportError:  # pragma: no cover - declared dependency; plain zips still work
    zipfile_deflate64 = None

LAYOUTS = ("bulk_text", "bulk_parquet", "sdmx_csv", "purpose_summary")
SDMX_ROW_CHOICES = ("auto", "DD", "_T")
_BLOCK_SIZE = 2 << 20  # bytes the CSV reader parses at a time: fits the CPU caches (8 MB is 30 % slower)
_BLOCKS_PER_BATCH = 4  # parsed blocks converted together: fewer, larger compute calls
_SNIFF_BYTES = 1 << 16


def check_sdmx_rows(sdmx_rows: str) -> str:
    """Return ``sdmx_rows`` if it is one of :data:`SDMX_ROW_CHOICES`, else raise a ValueError listing them."""
    if sdmx_rows not in SDMX_ROW_CHOICES:
        raise ValueError(f"sdmx_rows={sdmx_rows!r}; expected one of: {', '.join(SDMX_ROW_CHOICES)}")
    return sdmx_rows


class CRSFormatError(ValueError):
    """A CRS source could not be read: the message names the file and the problem."""


class CRSLayoutWarning(UserWarning):
    """A reader made a documented choice the user should know about (e.g. DD over _T)."""


# --------------------------------------------------------------------------- layouts
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
# Data Explorer codes in the 2024+ "dotStat format" bulk files.
BULK_DE_COLUMNS = {"donor_code": "dedonorcode", "recipient_code": "derecipientcode"}

SUMMARY_COLUMNS: dict[str, tuple[str, ...]] = {
    "year": ("year",),
    "donor_code": ("donor_code",),
    "donor_name": ("donor_name",),
    "agency_code": ("agency_code",),
    "agency_name": ("agency_name",),
    "recipient_code": ("recipient_code",),
    "recipient_name": ("recipient_name",),
    "region_name": ("region_name",),
    "flow_code": ("flow_code",),
    "finance_type": ("finance_t", "finance_type"),
    "purpose_code": ("purpose_code",),
    "purpose_name": ("purpose_name",),
    "sector_code": ("sector_code",),
    "channel_code": ("channel_code",),
    "project_title": ("project_title",),
    "short_description": ("short_description",),
    "long_description": ("long_description",),
}
SUMMARY_EXTRA = ("value", "prices", "currency", "indicator")

# SDMX code column (upper case) -> canonical column it feeds.
SDMX_CODE_COLUMNS = {
    "TIME_PERIOD": "year",
    "DONOR": "donor_code",
    "DONOR_AGENCY": "agency_code",
    "RECIPIENT": "recipient_code",
    "REGION": "region_name",
    "MEASURE": "flow_code",
    "FINANCETYPE_CODE": "finance_type",
    "SECTOR": "purpose_code",
    "CHANNEL": "channel_code",
    "PROJECT_TITLE": "project_title",
    "SHORT_DESCRIPTION": "short_description",
    "LONG_DESCRIPTION": "long_description",
}
SDMX_REQUIRED = ("DONOR", "RECIPIENT", "SECTOR", "FLOW_TYPE", "TIME_PERIOD", "OBS_VALUE")
SDMX_OPTIONAL = ("PRICE_BASE", "MD_DIM", "MD_ID", "OECD_ID", "DONOR_PROJECT_ID",
                 "UNIT_MULT", "UNIT_MEASURE")


@dataclass
class Layout:
    """What :func:`detect_layout` learned about a file.

    Attributes
    ----------
    kind : str
        One of :data:`LAYOUTS`.
    path : Path
        The source file.
    member : str or None
        The member read inside a zip archive.
    encoding : str or None
        Text encoding (``utf-8``, ``utf-8-sig``, ``utf-16``); None for Parquet.
    delimiter : str or None
        Field delimiter of a text layout.
    header : list of str
        Column names exactly as in the file.
    size : int
        Bytes to read (uncompressed size for a zip member), for progress bars.
    """

    kind: str
    path: Path
    member: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    header: list[str] = field(default_factory=list)
    size: int = 0

    @property
    def lower_header(self) -> dict[str, str]:
        """Lower-case name -> name as in the file (first occurrence wins)."""
        mapping: dict[str, str] = {}
        for name in self.header:
            mapping.setdefault(name.strip().lower(), name)
        return mapping

    def describe(self) -> str:
        where = f"{self.path}" + (f" (member {self.member!r})" if self.member else "")
        return where


# --------------------------------------------------------------------------- opening
def _open_zip(path: Path) -> tuple[zipfile.ZipFile, zipfile.ZipInfo]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise CRSFormatError(
            f"{path}: not a readable zip archive (truncated or corrupt download?): {error}"
        ) from None
    members = [
        info for info in archive.infolist()
        if not info.is_dir() and info.filename.lower().endswith((".txt", ".csv"))
    ]
    if not members:
        names = [info.filename for info in archive.infolist()]
        archive.close()
        raise CRSFormatError(
            f"{path}: the zip holds no .txt or .csv CRS file; members: {names or 'none'}"
        )
    # The CRS zips hold one data file; pick the largest if a readme sits beside it.
    return archive, max(members, key=lambda info: info.file_size)


def open_source_bytes(layout: Layout):
    """Open the raw (undecoded) byte stream of a text layout, inside the zip if any."""
    if layout.member is None:
        return open(layout.path, "rb")
    archive, _ = _open_zip(layout.path)
    try:
        return archive.open(layout.member)
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as error:
        raise CRSFormatError(f"{layout.describe()}: cannot open zip member: {error}") from None


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


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line
    return ""


def _sniff_delimiter(line: str) -> str:
    counts = {delimiter: line.count(delimiter) for delimiter in ("|", "\t", ",", ";")}
    return max(counts, key=counts.get)


def detect_layout(path) -> Layout:
    """Recognise the layout of the CRS file at ``path``.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    CRSFormatError
        Empty file, unreadable zip, or a file that is not any CRS layout.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"CRS source not found: {path}")
    if path.is_dir():
        raise CRSFormatError(f"{path}: is a folder; expected a CRS file (.txt, .csv, .zip, .parquet)")
    if path.stat().st_size == 0:
        raise CRSFormatError(f"{path}: the file is empty (0 bytes); expected a CRS file")
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if magic == b"PAR1":
        return _detect_parquet(path)
    member = None
    size = path.stat().st_size
    if magic.startswith(b"PK"):
        archive, info = _open_zip(path)
        member, size = info.filename, info.file_size
        try:
            with archive.open(info) as stream:
                head = stream.read(_SNIFF_BYTES)
        except (zipfile.BadZipFile, EOFError, OSError, zlib.error, NotImplementedError) as error:
            raise CRSFormatError(
                f"{path}: cannot read zip member {member!r} (truncated or corrupt download?): {error}"
            ) from None
        finally:
            archive.close()
        if not head:
            raise CRSFormatError(f"{path}: zip member {member!r} is empty; expected a CRS file")
    else:
        with open(path, "rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    encoding = _sniff_encoding(head)
    text = head.decode(encoding, errors="replace")
    line = _first_line(text)
    if not line:
        raise CRSFormatError(f"{path}: no header line (the file holds only blank lines)")
    delimiter = _sniff_delimiter(line)
    header = next(csv.reader([line], delimiter=delimiter))
    layout = Layout("", path, member, encoding, delimiter, [h.strip() for h in header], size)
    layout.kind = _classify(layout)
    return layout


def _detect_parquet(path: Path) -> Layout:
    try:
        schema = pq.read_schema(path)
        size = pq.ParquetFile(path).metadata.num_rows
    except (pa.ArrowInvalid, OSError) as error:
        raise CRSFormatError(f"{path}: unreadable Parquet file (truncated?): {error}") from None
    layout = Layout("", path, header=list(schema.names), size=size)
    kind = _classify(layout)
    if kind != "bulk_text":
        raise CRSFormatError(
            f"{path}: a Parquet file without the CRS bulk columns "
            f"(Year, DonorCode, RecipientCode, PurposeCode, USD_Disbursement ...); "
            f"found: {_preview(layout.header)}"
        )
    layout.kind = "bulk_parquet"
    return layout


def _preview(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} columns)" if len(names) > limit else "")


def _classify(layout: Layout) -> str:
    lower = layout.lower_header
    exact = set(layout.header)
    # SDMX-CSV: the observation columns, or the dataflow columns with a time period.
    sdmx_markers = {"OBS_VALUE", "DATAFLOW", "STRUCTURE", "DONOR"}
    if "TIME_PERIOD" in exact and len(sdmx_markers & exact) >= 1 or {"obs_value", "time_period", "donor"} <= set(lower):
        return "sdmx_csv"
    if "purposecode" in lower or "donorcode" in lower or "dedonorcode" in lower:
        return "bulk_text"
    if "purpose_code" in lower and "value" in lower:
        return "purpose_summary"
    raise CRSFormatError(
        f"{layout.describe()}: not a CRS file: its header has none of the CRS layouts' "
        f"columns (bulk: DonorCode/PurposeCode; Data Explorer: DONOR/TIME_PERIOD/OBS_VALUE; "
        f"summary: donor_code/purpose_code/value); found: {_preview(layout.header)}"
    )


# --------------------------------------------------------------------------- converting
class _ProgressReader(io.RawIOBase):
    """A byte stream that reports how many bytes were read (for tqdm)."""

    def __init__(self, raw, on_read: Callable[[int], None] | None):
        self._raw = raw
        self._on_read = on_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._raw.read(len(buffer))
        count = len(data)
        buffer[:count] = data
        if self._on_read and count:
            self._on_read(count)
        return count

    def close(self) -> None:
        self._raw.close()
        super().close()


# The canonical schema with every column nullable, while rows are being checked.
_LOOSE_SCHEMA = pa.schema([field.with_nullable(True) for field in CANONICAL_ARROW_SCHEMA])

_NUMBER = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"


def _blank_to_null(array: pa.Array) -> pa.Array:
    """Trim whitespace; empty (or blank) cells become null."""
    array = pc.utf8_trim_whitespace(array)
    blank = pc.equal(array, "")
    if not pc.any(blank).as_py():
        return array
    keep = pc.and_not(pc.is_valid(array), pc.fill_null(blank, False))
    if array.offset == 0 and keep.offset == 0 and pa.types.is_string(array.type):
        # Same offsets and characters, new validity bitmap: no copy of the text
        # (pc.if_else would copy every string).
        return pa.Array.from_buffers(array.type, len(array), [keep.buffers()[1], *array.buffers()[1:]])
    return pc.if_else(keep, array, pa.scalar(None, array.type))


def to_number(array, target: pa.DataType, *, column: str, where: str, first_row: int) -> pa.Array:
    """Cast a text column to a number, or raise a CRSFormatError naming the line.

    ``first_row`` is the 0-based index of the batch's first data row in the
    file; the reported line counts the header as line 1.
    """
    array = pa.array(array) if not isinstance(array, (pa.Array, pa.ChunkedArray)) else array
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_integer(array.type) or pa.types.is_floating(array.type):
        numbers = array
    else:
        if not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
            array = pc.cast(array, pa.string())
        array = _blank_to_null(array)
        valid = pc.or_kleene(pc.is_null(array), pc.match_substring_regex(array, _NUMBER))
        if not pc.all(valid).as_py():
            index = pc.index(valid, False).as_py()
            raise CRSFormatError(
                f"{where}: column {column!r} must be numeric; found {array[index].as_py()!r} "
                f"at data row {first_row + index + 1} (line {first_row + index + 2})"
            )
        numbers = pc.cast(array, pa.float64())
    if pa.types.is_integer(target):
        as_float = pc.cast(numbers, pa.float64())
        whole = pc.or_kleene(pc.is_null(as_float), pc.equal(pc.floor(as_float), as_float))
        if not pc.all(whole).as_py():
            index = pc.index(whole, False).as_py()
            raise CRSFormatError(
                f"{where}: column {column!r} must hold whole codes; found {as_float[index].as_py()!r} "
                f"at data row {first_row + index + 1} (line {first_row + index + 2})"
            )
        try:
            return pc.cast(as_float, target)
        except pa.ArrowInvalid as error:
            raise CRSFormatError(f"{where}: column {column!r}: code out of range: {error}") from None
    return pc.cast(numbers, target)


def _to_text(array) -> pa.Array:
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not pa.types.is_string(array.type):
        array = pc.cast(array, pa.string())
    return _blank_to_null(array)


def _null_column(name: str, length: int) -> pa.Array:
    return pa.nulls(length, CANONICAL_TYPES[name])


def _finish(columns: dict[str, pa.Array], length: int) -> pa.Table:
    """Assemble canonical columns; derive sector_code; drop all-empty rows."""
    arrays = [columns.get(name, _null_column(name, length)) for name in CANONICAL_TYPES]
    table = pa.Table.from_arrays(arrays, schema=_LOOSE_SCHEMA)
    if "sector_code" not in columns:
        derived = pc.cast(pc.divide(table["purpose_code"], pa.scalar(100, pa.int32())), pa.int32())
        table = table.set_column(table.schema.get_field_index("sector_code"), "sector_code", derived)
    return table


def _drop_blank_rows(table: pa.Table, where: str, first_row: int) -> pa.Table:
    """Drop rows with no year, no donor and no amount (blank ``,,,`` lines); refuse half rows."""
    empty = pc.is_null(table["year"])
    for name in ("donor_code", "purpose_code", *AMOUNT_COLUMNS):
        empty = pc.and_(empty, pc.is_null(table[name]))
    if pc.any(empty).as_py():
        table = table.filter(pc.invert(empty))
    missing_year = pc.is_null(table["year"])
    if pc.any(missing_year).as_py():
        index = pc.index(missing_year, True).as_py()
        raise CRSFormatError(f"{where}: a row without a year (around data row {first_row + index + 1})")
    return table.cast(CANONICAL_ARROW_SCHEMA)


def _resolve(layout: Layout, candidates: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Canonical column -> column name in the file, matched case-insensitively."""
    lower = layout.lower_header
    found = {}
    for canonical, names in candidates.items():
        for name in names:
            if name in lower:
                found[canonical] = lower[name]
                break
    return found


def _require(layout: Layout, found: dict, required: list[tuple[str, str]]) -> None:
    """``required``: (canonical, name shown to the user) pairs."""
    missing = [shown for canonical, shown in required if canonical not in found]
    if missing:
        raise CRSFormatError(
            f"{layout.describe()}: missing required column(s) {', '.join(missing)} "
            f"(matched case-insensitively) for the {layout.kind} layout; "
            f"found: {_preview(layout.header, 30)}"
        )


class _NativeConversionFailed(Exception):
    """Arrow's own number parsing refused a cell: read again with the checked, line-numbered path."""


def _text_batches(
    layout: Layout, include: list[str], on_read, *, numeric: dict[str, pa.DataType] | None = None,
    skip_rows: int = 0,
) -> Iterator[tuple[pa.RecordBatch, int]]:
    """Stream a delimited text source as tables of a few record batches, with row offsets.

    Columns are read as text, except those in ``numeric`` (name -> float64),
    which Arrow's CSV reader converts itself (the fast path): any cell it
    cannot convert raises :class:`_NativeConversionFailed` instead of an error,
    so that the caller can read again as text and report the line. Only the
    empty cell is null in that mode (Arrow's default null spellings include
    ``n/a``, which must stay an error). ``skip_rows`` data rows are read but
    not yielded (the rows a failed fast pass already yielded).
    """
    raw = open_source_bytes(layout)
    stream = _ProgressReader(raw, on_read)
    bad_lines: list[int] = []

    def skip_invalid(row) -> str:
        bad_lines.append(row.number if row.number is not None else -1)
        return "skip"

    # Arrow transcodes non-UTF-8 input itself; it skips a UTF-8 BOM on its own.
    encoding = "utf8" if layout.encoding in ("utf-8", "utf-8-sig") else layout.encoding
    read_options = pacsv.ReadOptions(block_size=_BLOCK_SIZE, encoding=encoding)
    parse_options = pacsv.ParseOptions(
        delimiter=layout.delimiter, newlines_in_values=True, invalid_row_handler=skip_invalid
    )
    column_types = {name: pa.string() for name in include}
    column_types.update(numeric or {})
    convert_options = pacsv.ConvertOptions(
        column_types=column_types,
        include_columns=include,
        null_values=[""],
        strings_can_be_null=False,
    )
    group: list[pa.RecordBatch] = []
    group_first = rows_seen = 0

    def take_group() -> tuple[pa.Table, int]:
        table = pa.Table.from_batches(group)
        group.clear()
        start = max(skip_rows - group_first, 0)  # rows a failed fast pass already yielded
        return (table.slice(start) if start else table), group_first + start

    try:
        try:
            reader = pacsv.open_csv(stream, read_options, parse_options, convert_options)
            for batch in reader:
                if rows_seen + batch.num_rows <= skip_rows:
                    rows_seen += batch.num_rows
                    continue
                if not group:
                    group_first = rows_seen
                group.append(batch)
                rows_seen += batch.num_rows
                if len(group) == _BLOCKS_PER_BATCH:
                    yield take_group()
            if group:
                yield take_group()
        except (pa.ArrowInvalid, pa.ArrowKeyError) as error:
            if numeric:
                raise _NativeConversionFailed(str(error)) from None
            raise CRSFormatError(f"{layout.describe()}: cannot parse as CRS text: {error}") from None
        except (zipfile.BadZipFile, EOFError, zlib.error) as error:
            raise CRSFormatError(
                f"{layout.describe()}: the zip is truncated or corrupt: {error}"
            ) from None
        except (OSError, UnicodeDecodeError) as error:
            raise CRSFormatError(f"{layout.describe()}: read error ({layout.encoding}): {error}") from None
    finally:
        stream.close()
    if bad_lines:
        shown = ", ".join(str(n) for n in bad_lines[:5])
        warnings.warn(
            f"{layout.describe()}: skipped {len(bad_lines)} malformed line(s) with the wrong "
            f"number of fields (lines {shown}{' ...' if len(bad_lines) > 5 else ''})",
            CRSLayoutWarning,
            stacklevel=2,
        )


def _parquet_batches(layout: Layout, include: list[str], on_read) -> Iterator[tuple[pa.RecordBatch, int]]:
    parquet = pq.ParquetFile(layout.path)
    rows_before = 0
    for batch in parquet.iter_batches(batch_size=256_000, columns=include):
        yield batch, rows_before
        rows_before += batch.num_rows
        if on_read:
            on_read(batch.num_rows)


def _map_de_codes(array, mapping: dict[str, int], kind: str, where: str) -> pa.Array:
    array = _to_text(array)
    upper = pc.utf8_upper(array)
    keys = pa.array(list(mapping), pa.string())
    values = pa.array(list(mapping.values()), pa.int32())
    index = pc.index_in(upper, value_set=keys)
    mapped = pc.take(values, index)
    # numeric codes (a .Stat-style file) pass through
    numeric = pc.match_substring_regex(pc.fill_null(upper, ""), r"^\d+$")
    as_int = pc.cast(pc.if_else(numeric, upper, pa.scalar(None, pa.string())), pa.int32())
    mapped = pc.coalesce(mapped, as_int)
    unmapped = pc.and_(pc.is_null(mapped), pc.is_valid(array))
    unmapped = pc.and_(unmapped, pc.invert(pc.is_in(upper, value_set=pa.array(["_T", "_Z"]))))
    codes.warn_unmapped(kind, pc.unique(array.filter(unmapped)).to_pylist(), where)
    return mapped


def _bulk_tables(layout: Layout, on_read) -> Iterator[pa.Table]:
    found = _resolve(layout, BULK_COLUMNS)
    lower = layout.lower_header
    de_codes = {
        canonical: lower[name]
        for canonical, name in BULK_DE_COLUMNS.items()
        if canonical not in found and name in lower
    }
    required = [("year", "Year"), ("donor_code", "DonorCode"),
                ("recipient_code", "RecipientCode"), ("purpose_code", "PurposeCode")]
    have = {**found, **de_codes}
    _require(layout, have, required)
    if not any(name in found for name in AMOUNT_COLUMNS):
        raise CRSFormatError(
            f"{layout.describe()}: missing required amount column: none of "
            f"USD_Commitment, USD_Disbursement, USD_Commitment_Defl, USD_Disbursement_Defl "
            f"(matched case-insensitively); found: {_preview(layout.header, 30)}"
        )
    include = list(dict.fromkeys([*found.values(), *de_codes.values()]))
    where = layout.describe()
    if layout.kind == "bulk_parquet":
        for batch, first_row in _parquet_batches(layout, include, on_read):
            yield _bulk_table(batch, first_row, found, de_codes, where, native=False)
        return
    # Fast path: Arrow parses the numbers itself. Every number goes through
    # float64, like the checked path, so "0x10" (which Arrow's integer parser
    # would take as hexadecimal) is refused the same way.
    numeric = {source: pa.float64() for canonical, source in found.items()
               if not pa.types.is_string(CANONICAL_TYPES[canonical])}
    reported = 0

    def count_bytes(size: int) -> None:
        nonlocal reported
        reported += size
        if on_read:
            on_read(size)

    rows_done = 0
    fast = _text_batches(layout, include, count_bytes, numeric=numeric)
    try:
        for batch, first_row in fast:
            table = _bulk_table(batch, first_row, found, de_codes, where, native=True)
            rows_done = first_row + batch.num_rows
            yield table
        return
    except _NativeConversionFailed:
        pass
    finally:
        fast.close()  # closes the source now, and drops its pending warnings
    # A cell the fast path refused: read again as text from the first row not
    # yet yielded; the checked conversion names the line (or accepts the cell,
    # e.g. " 12.5 " with spaces). The progress bar moves on past the bytes
    # the fast pass already reported.
    seen = 0

    def report_new_bytes(size: int) -> None:
        nonlocal seen
        fresh = max(0, min(size, seen + size - reported))
        seen += size
        if on_read and fresh:
            on_read(fresh)

    for batch, first_row in _text_batches(layout, include, report_new_bytes, skip_rows=rows_done):
        yield _bulk_table(batch, first_row, found, de_codes, where, native=False)


def _bulk_table(batch: pa.RecordBatch, first_row: int, found: dict[str, str], de_codes: dict[str, str],
                where: str, *, native: bool) -> pa.Table:
    """One batch of a bulk layout -> canonical columns.

    ``native``: the numeric columns were parsed by Arrow as float64; a value
    the checked path would refuse or convert differently (not finite, not a
    whole code, out of range) raises :class:`_NativeConversionFailed`.
    """
    columns: dict[str, pa.Array] = {}
    for canonical, source in found.items():
        kind = CANONICAL_TYPES[canonical]
        if pa.types.is_string(kind):
            columns[canonical] = _to_text(batch.column(source))
        elif native:
            columns[canonical] = _native_number(batch.column(source), kind)
        else:
            columns[canonical] = to_number(
                batch.column(source), kind, column=source, where=where, first_row=first_row
            )
    for canonical, source in de_codes.items():
        mapping = codes.donor_de_to_dac() if canonical == "donor_code" else codes.recipient_de_to_dac()
        columns[canonical] = _map_de_codes(batch.column(source), mapping, canonical.split("_")[0], where)
    table = _finish(columns, batch.num_rows)
    return _drop_blank_rows(table, where, first_row)


def _native_number(array, target: pa.DataType) -> pa.Array:
    """A float64 column parsed by Arrow -> ``target``, exactly as :func:`to_number` would convert it."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    # Arrow reads "nan", "inf" and "1e400" (as inf); the checked path refuses the first two.
    if array.null_count < len(array) and not pc.all(pc.is_finite(array)).as_py():
        raise _NativeConversionFailed("a value that is not a finite number")
    if pa.types.is_floating(target):
        return pc.cast(array, target)
    try:  # a safe cast refuses fractions and out-of-range codes
        return pc.cast(array, target)
    except pa.ArrowInvalid as error:
        raise _NativeConversionFailed(str(error)) from None


def _summary_tables(layout: Layout, on_read) -> Iterator[pa.Table]:
    found = _resolve(layout, SUMMARY_COLUMNS)
    lower = layout.lower_header
    _require(layout, {**found, **{k: k for k in SUMMARY_EXTRA if k in lower}},
             [("year", "year"), ("donor_code", "donor_code"), ("recipient_code", "recipient_code"),
              ("purpose_code", "purpose_code"), ("value", "value")])
    extra = {name: lower[name] for name in SUMMARY_EXTRA if name in lower}
    include = list(dict.fromkeys([*found.values(), *extra.values()]))
    where = layout.describe()
    for batch, first_row in _text_batches(layout, include, on_read):
        columns: dict[str, pa.Array] = {}
        for canonical, source in found.items():
            kind = CANONICAL_TYPES[canonical]
            if pa.types.is_string(kind):
                columns[canonical] = _to_text(batch.column(source))
            else:
                columns[canonical] = to_number(
                    batch.column(source), kind, column=source, where=where, first_row=first_row
                )
        value = to_number(batch.column(extra["value"]), pa.float64(), column=extra["value"],
                          where=where, first_row=first_row)
        length = batch.num_rows
        prices = (pc.utf8_lower(_to_text(batch.column(extra["prices"]))) if "prices" in extra
                  else pa.array(["current"] * length, pa.string()))
        indicator = (pc.utf8_lower(_to_text(batch.column(extra["indicator"]))) if "indicator" in extra
                     else pa.nulls(length, pa.string()))
        if "currency" in extra:
            currency = pc.utf8_upper(_to_text(batch.column(extra["currency"])))
            wrong = pc.and_(pc.is_valid(currency), pc.not_equal(currency, "USD"))
            if pc.any(wrong).as_py():
                index = pc.index(wrong, True).as_py()
                raise CRSFormatError(
                    f"{where}: column 'currency' must be USD; found {currency[index].as_py()!r} "
                    f"at data row {first_row + index + 1} (line {first_row + index + 2})"
                )
        prices_known = pc.or_kleene(pc.is_null(prices), pc.is_in(prices, pa.array(["current", "constant"])))
        if not pc.all(prices_known).as_py():
            index = pc.index(prices_known, False).as_py()
            raise CRSFormatError(
                f"{where}: column 'prices' must be 'current' or 'constant'; found "
                f"{prices[index].as_py()!r} at data row {first_row + index + 1} (line {first_row + index + 2})"
            )
        is_commitment = pc.fill_null(pc.match_substring(indicator, "commitment"), False)
        is_constant = pc.fill_null(pc.equal(prices, "constant"), False)
        null = pa.scalar(None, pa.float64())
        for name, commitment, constant in (
            ("usd_commitment", True, False), ("usd_disbursement", False, False),
            ("usd_commitment_constant", True, True), ("usd_disbursement_constant", False, True),
        ):
            mask = pc.and_(
                is_commitment if commitment else pc.invert(is_commitment),
                is_constant if constant else pc.invert(is_constant),
            )
            columns[name] = pc.if_else(mask, value, null)
        table = _finish(columns, length)
        yield _drop_blank_rows(table, where, first_row)


def _sdmx_label_pairs(header: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Code columns (upper-case names) and, in ``csvfilewithlabels``, their label columns."""
    code_like = re.compile(r"^[A-Z][A-Z0-9_]*$")
    codes_found: dict[str, str] = {}
    labels: dict[str, str] = {}
    for position, name in enumerate(header):
        if code_like.match(name):
            codes_found.setdefault(name, name)
            following = header[position + 1] if position + 1 < len(header) else None
            if following is not None and not code_like.match(following):
                labels[name] = following
    if not codes_found:  # lower-case SDMX export: match case-insensitively
        for name in header:
            codes_found.setdefault(name.upper(), name)
    return codes_found, labels


def _sdmx_tables(layout: Layout, on_read, sdmx_rows: str) -> Iterator[pa.Table]:
    where = layout.describe()
    check_sdmx_rows(sdmx_rows)
    code_columns, labels = _sdmx_label_pairs(layout.header)
    missing = [name for name in SDMX_REQUIRED if name not in code_columns]
    if missing:
        raise CRSFormatError(
            f"{where}: missing required column(s) {', '.join(missing)} for the Data Explorer "
            f"SDMX-CSV layout; found: {_preview(layout.header, 30)}"
        )
    wanted = [*SDMX_REQUIRED, *SDMX_OPTIONAL, *SDMX_CODE_COLUMNS]
    include = [code_columns[name] for name in dict.fromkeys(wanted) if name in code_columns]
    include += [labels[name] for name in dict.fromkeys(wanted) if name in labels]
    include = list(dict.fromkeys(include))
    batches = [batch for batch, _ in _text_batches(layout, include, on_read)]
    table = pa.concat_tables(batches) if batches else None
    if table is None or table.num_rows == 0:
        raise CRSFormatError(f"{where}: the Data Explorer file has a header but no observations")

    def column(name: str) -> pa.Array:
        return _to_text(table.column(code_columns[name]))

    def label(name: str) -> pa.Array | None:
        return _to_text(table.column(labels[name])) if name in labels else None

    length = table.num_rows
    # ---- DD (activities) or _T (aggregates): never both.
    if "MD_DIM" in code_columns:
        md_dim = pc.utf8_upper(column("MD_DIM"))
        is_dd = pc.fill_null(pc.equal(md_dim, "DD"), False)
        has_dd, dd_count = pc.any(is_dd).as_py(), pc.sum(is_dd).as_py() or 0
        choice = sdmx_rows if sdmx_rows != "auto" else ("DD" if has_dd else "_T")
        keep = is_dd if choice == "DD" else pc.fill_null(pc.equal(md_dim, "_T"), False)
        dropped = length - (pc.sum(keep).as_py() or 0)
        if sdmx_rows == "auto" and has_dd and dropped:
            warnings.warn(
                f"{where}: the file mixes activity rows (MD_DIM=DD, {dd_count}) with aggregate "
                f"rows (MD_DIM=_T or other, {dropped}); kept the DD rows only so totals do not "
                f"double (pass sdmx_rows='_T' for the aggregates)",
                CRSLayoutWarning,
                stacklevel=2,
            )
        table = table.filter(keep)
        length = table.num_rows
        if length == 0:
            raise CRSFormatError(f"{where}: no rows with MD_DIM={choice!r}")
    where_rows = where
    # ---- amounts: OBS_VALUE scaled to millions, split by FLOW_TYPE x PRICE_BASE.
    value = to_number(column("OBS_VALUE"), pa.float64(), column="OBS_VALUE", where=where_rows, first_row=0)
    if "UNIT_MULT" in code_columns:
        multiplier = to_number(column("UNIT_MULT"), pa.float64(), column="UNIT_MULT", where=where_rows, first_row=0)
        scale = pc.power(pa.scalar(10.0), pc.subtract(pc.fill_null(multiplier, 6.0), 6.0))
        value = pc.multiply(value, scale)
    if "UNIT_MEASURE" in code_columns:
        unit = pc.utf8_upper(column("UNIT_MEASURE"))
        wrong = pc.and_(pc.is_valid(unit), pc.not_equal(unit, "USD"))
        if pc.any(wrong).as_py():
            index = pc.index(wrong, True).as_py()
            raise CRSFormatError(
                f"{where}: UNIT_MEASURE must be USD; found {unit[index].as_py()!r} "
                f"(observation {index + 1}); download the USD series"
            )
    flow_type = pc.utf8_upper(column("FLOW_TYPE"))
    price_base = pc.utf8_upper(column("PRICE_BASE")) if "PRICE_BASE" in code_columns else pa.array(["V"] * length)
    null = pa.scalar(None, pa.float64())
    amounts = {}
    for name, flow, price in (("usd_commitment", "C", "V"), ("usd_disbursement", "D", "V"),
                              ("usd_commitment_constant", "C", "Q"),
                              ("usd_disbursement_constant", "D", "Q")):
        mask = pc.fill_null(pc.and_(pc.equal(flow_type, flow), pc.equal(price_base, price)), False)
        amounts[name] = pc.if_else(mask, value, null)
    # ---- descriptive columns
    columns: dict[str, pa.Array] = {}
    columns["year"] = to_number(column("TIME_PERIOD"), pa.int32(), column="TIME_PERIOD", where=where, first_row=0)
    columns["donor_code"] = _map_de_codes(column("DONOR"), codes.donor_de_to_dac(), "donor", where)
    columns["recipient_code"] = _map_de_codes(column("RECIPIENT"), codes.recipient_de_to_dac(), "recipient", where)
    columns["donor_name"] = label("DONOR") if label("DONOR") is not None else pc.take(
        pa.array(list(codes.donor_names().values()), pa.string()),
        pc.index_in(columns["donor_code"], value_set=pa.array(list(codes.donor_names()), pa.int32())),
    )
    columns["recipient_name"] = label("RECIPIENT") if label("RECIPIENT") is not None else pc.take(
        pa.array(list(codes.recipient_names().values()), pa.string()),
        pc.index_in(columns["recipient_code"], value_set=pa.array(list(codes.recipient_names()), pa.int32())),
    )

    def numeric_code(name: str) -> pa.Array | None:
        if name not in code_columns:
            return None
        text = column(name)
        numeric = pc.match_substring_regex(pc.fill_null(text, ""), r"^\d+$")
        return pc.cast(pc.if_else(numeric, text, pa.scalar(None, pa.string())), pa.int32())

    for source, canonical in (("DONOR_AGENCY", "agency_code"), ("MEASURE", "flow_code"),
                              ("FINANCETYPE_CODE", "finance_type"), ("SECTOR", "purpose_code"),
                              ("CHANNEL", "channel_code")):
        converted = numeric_code(source)
        if converted is not None:
            columns[canonical] = converted
    for source, canonical in (("DONOR_AGENCY", "agency_name"), ("SECTOR", "purpose_name"),
                              ("REGION", "region_name")):
        if label(source) is not None:
            columns[canonical] = label(source)
    for source in ("PROJECT_TITLE", "SHORT_DESCRIPTION", "LONG_DESCRIPTION"):
        if source in code_columns:
            columns[SDMX_CODE_COLUMNS[source]] = column(source)
    # ---- one row per activity: group the observations of the same activity.
    identity = {name: column(name) for name in ("MD_ID", "OECD_ID", "DONOR_PROJECT_ID", "MD_DIM")
                if name in code_columns}
    frame = _finish(columns, length)
    keys = [name for name in CANONICAL_TYPES if name not in AMOUNT_COLUMNS]
    for name, array in identity.items():
        frame = frame.append_column(f"__{name}", array)
        keys.append(f"__{name}")
    for name, array in amounts.items():
        frame = frame.set_column(frame.schema.get_field_index(name), name, array)
    grouped = frame.group_by(keys, use_threads=False).aggregate(
        [(name, "sum", pc.ScalarAggregateOptions(min_count=1)) for name in AMOUNT_COLUMNS]
    )
    grouped = grouped.rename_columns([name.removesuffix("_sum") for name in grouped.column_names])
    grouped = grouped.select(list(CANONICAL_TYPES))
    yield _drop_blank_rows(grouped, where, 0)


def read_canonical_batches(
    layout: Layout, *, on_read: Callable[[int], None] | None = None, sdmx_rows: str = "auto"
) -> Iterator[pa.Table]:
    """Yield canonical Arrow tables, batch by batch, from a detected layout.

    Parameters
    ----------
    layout : Layout
        From :func:`detect_layout`.
    on_read : callable, optional
        Called with the number of bytes (text) or rows (Parquet) just read.
    sdmx_rows : {"auto", "DD", "_T"}
        Which Data Explorer rows to keep (see the module docstring).
    """
    if layout.kind in ("bulk_text", "bulk_parquet"):
        yield from _bulk_tables(layout, on_read)
    elif layout.kind == "purpose_summary":
        yield from _summary_tables(layout, on_read)
    elif layout.kind == "sdmx_csv":
        yield from _sdmx_tables(layout, on_read, sdmx_rows)
    else:  # pragma: no cover - detect_layout only returns known kinds
        raise CRSFormatError(f"{layout.describe()}: unknown layout {layout.kind!r}")
