"""The registry of CRS layouts: :func:`detect` opens a file, reads its header and picks the first of
:data:`LAYOUTS` (one module each, each registering a :class:`~oda_data.crs.opening.Layout`) that ``matches``
it; nothing else in the package looks at a layout's name."""
from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..._text import printable
from ..errors import CRSFormatError
from ..opening import (SNIFF_BYTES, Source, check_encoding, encoding_error, open_zip, raw_streams, read_all,
                       sniff_encoding)
from . import bulk_parquet, bulk_text, data_explorer, oda_reader, summary

#: In the order they are tried.
LAYOUTS = (data_explorer.LAYOUT, bulk_text.LAYOUT, bulk_parquet.LAYOUT, oda_reader.LAYOUT, summary.LAYOUT)


def preview(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} columns)" if len(names) > limit else "")


def _header_of(source: Source, head: bytes, member) -> list[str]:
    try:
        text = head.decode(source.encoding)
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # not just a character cut at the end of the sample
            raise encoding_error(source, head[: error.start].count(b"\n") + 1, member) from None
        text = head[: error.start].decode(source.encoding)
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        where = f"zip member {member!r} of {source.path}" if member else str(source.path)
        raise CRSFormatError(f"{where}: no header line (the file is empty or holds only blank lines)")
    if source.delimiter is None:
        counts = {delimiter: lines[0].count(delimiter) for delimiter in ("|", "\t", ",", ";")}
        source.delimiter = max(counts, key=counts.get)
    return [name.strip() for name in next(csv.reader([lines[0]], delimiter=source.delimiter))]


def detect(path, encoding: str | None = None) -> Source:
    """The :class:`Source` at ``path`` with its layout; FileNotFoundError or CRSFormatError."""
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
        try:
            rows = pq.ParquetFile(path).metadata.num_rows
            source = Source(path, header=list(pq.read_schema(path).names), size=rows, parquet=True)
        except (pa.ArrowInvalid, OSError) as error:
            raise CRSFormatError(f"{path}: unreadable Parquet file (truncated?): {error}") from None
        return _choose(source, parquet=True)
    source = Source(path, size=path.stat().st_size)
    if magic.startswith(b"PK"):
        archive, members = open_zip(path)
        archive.close()
        source.compression, source.members = "zip", tuple(info.filename for info in members)
        source.size = sum(info.file_size for info in members)
    elif magic.startswith(b"\x1f\x8b"):
        source.compression = "gzip"
    named, found = check_encoding(encoding), []
    for member, stream in raw_streams(source):
        head = read_all(source, stream, member, SNIFF_BYTES)
        if not head:
            raise CRSFormatError(f"{path}: {'zip member ' + repr(member) if member else 'the file'} "
                                 "is empty; expected a CRS file")
        source.encoding = named or sniff_encoding(head)
        found.append((member, source.encoding, _header_of(source, head, member)))
    member, first_encoding, source.header = found[0]
    for other, other_encoding, header in found[1:]:
        if other_encoding.split("-")[:2] != first_encoding.split("-")[:2]:
            raise CRSFormatError(
                f"{path}: zip member {member!r} is {first_encoding} text but member {other!r} is "
                f"{other_encoding}; unzip it and read each file on its own")
        if header != source.header:
            raise CRSFormatError(
                f"{path}: the zip holds {len(found)} data files with different columns "
                f"({member!r}: {preview(source.header)}; {other!r}: {preview(header)}); "
                f"unzip it and read each file on its own")
    return _choose(source, parquet=False)


def _choose(source: Source, parquet: bool) -> Source:
    for layout in LAYOUTS:
        if (layout.parquet is None or layout.parquet == parquet) and layout.matches(source):
            source.layout = layout
            _check_unique(source)
            return source
    raise CRSFormatError(
        f"{source.describe()}: not a CRS file: its header has none of the CRS layouts' columns (bulk: "
        f"DonorCode/PurposeCode; Data Explorer: DONOR/TIME_PERIOD/OBS_VALUE; oda_reader: donor_code/"
        f"flow_type_code/value; summary: donor_code/purpose_code/value); found: {preview(source.header)}")


def _check_unique(source: Source) -> None:
    """A column named twice is refused (names compared case-insensitively, except Data Explorer's
    ``DONOR``/``Donor`` pairs of code and label)."""
    fold = str if source.layout is data_explorer.LAYOUT else str.lower
    seen: dict[str, list[int]] = {}
    for position, name in enumerate(source.header, start=1):
        if name.strip():  # unnamed columns (a trailing delimiter, an index) are never read
            seen.setdefault(fold(name.strip()), []).append(position)
    for name, places in seen.items():
        if len(places) > 1:
            raise CRSFormatError(
                f"{source.describe()}: line 1 (header): column {source.header[places[0] - 1]!r} appears "
                f"{len(places)} times (columns {', '.join(map(str, places))}); which one holds the data "
                f"is ambiguous, so the file is refused")
