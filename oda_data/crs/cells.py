"""Read a small text source whole with pyarrow and turn its cells into canonical columns, checked.

Shared by the two long-format readers, :mod:`oda_data.crs.sdmx` (Data
Explorer SDMX-CSV) and :mod:`oda_data.crs.summary` ("by purpose" exports):
every cell is read as text, blanks become null, numbers and codes are
checked (finite, whole, in their valid range) and a bad cell is refused with
a one-line error naming its data row and line (the header is line 1).
"""
from __future__ import annotations

import io
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .errors import CRSFormatError
from .opening import raw_streams
from .schema import AMOUNT_COLUMNS, CANONICAL_TYPES, CODE_RANGE, RAW_COLUMNS, VALID_RANGES
from .sources import Source

#: Canonical columns plus the raw code columns, every one nullable, while rows are checked.
LOOSE_SCHEMA = pa.schema([pa.field(name, kind) for name, kind in CANONICAL_TYPES.items()]
                         + [pa.field(name, pa.string()) for name in RAW_COLUMNS])

_NUMBER = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"


def read_text(source: Source, include: list[str], on_read: Callable[[int], None] | None) -> pa.Table:
    """The ``include`` columns of a text source, as text (blank cells null)."""
    parts = []
    for _, stream in raw_streams(source):
        data = stream.read()
        if on_read:
            on_read(len(data))
        parts.append(data)
    encoding = "utf8" if source.encoding in ("utf-8", "utf-8-sig") else source.encoding
    try:
        tables = [pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(encoding=encoding),
            parse_options=pacsv.ParseOptions(delimiter=source.delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types={name: pa.string() for name in include},
                                                 include_columns=include, null_values=[""],
                                                 strings_can_be_null=True),
        ) for data in parts]
    except (pa.ArrowInvalid, pa.ArrowKeyError, UnicodeDecodeError) as error:
        raise CRSFormatError(f"{source.describe()}: cannot parse as CSV text: {error}") from None
    return pa.concat_tables(tables)


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


def to_text(array) -> pa.Array:
    """A column as trimmed text, blank cells null."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not pa.types.is_string(array.type):
        array = pc.cast(array, pa.string())
    return _blank_to_null(array)


def refuse_unless(ok, shown, *, column: str, where: str, first_row: int, expected: str) -> None:
    """Raise "column must <expected>; found ..." naming the first row where ``ok`` is false (header = line 1)."""
    if not pc.all(ok).as_py():
        index = pc.index(ok, False).as_py()
        raise CRSFormatError(f"{where}: column {column!r} must {expected}; found {shown[index].as_py()!r} "
                             f"at data row {first_row + index + 1} (line {first_row + index + 2})")


def to_number(array, target: pa.DataType, *, column: str, where: str, first_row: int) -> pa.Array:
    """Cast a text column to a finite number (a whole code for integer targets), or raise naming the line.

    ``first_row`` is the 0-based index of the batch's first data row in the file.
    """
    array = pa.array(array) if not isinstance(array, (pa.Array, pa.ChunkedArray)) else array
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    where_row = {"column": column, "where": where, "first_row": first_row}
    if pa.types.is_integer(array.type) or pa.types.is_floating(array.type):
        numbers = pc.cast(array, pa.float64())
    else:
        array = _blank_to_null(pc.cast(array, pa.string()))
        valid = pc.or_kleene(pc.is_null(array), pc.match_substring_regex(array, _NUMBER))
        refuse_unless(valid, array, expected="hold numbers", **where_row)
        numbers = pc.cast(array, pa.float64())
    refuse_unless(pc.or_kleene(pc.is_null(numbers), pc.is_finite(numbers)), array,
                  expected="hold finite numbers", **where_row)
    if not pa.types.is_integer(target):
        return pc.cast(numbers, target)
    refuse_unless(pc.or_kleene(pc.is_null(numbers), pc.equal(pc.floor(numbers), numbers)), array,
                  expected="hold whole codes", **where_row)
    low, high = VALID_RANGES.get(column_kind(column), CODE_RANGE)
    inside = pc.or_kleene(pc.is_null(numbers), pc.and_(pc.greater_equal(numbers, low), pc.less_equal(numbers, high)))
    refuse_unless(inside, array, expected=f"hold values in {low}-{high}", **where_row)
    return pc.cast(numbers, target)


def column_kind(column: str) -> str:
    """The canonical column a source column feeds, for its valid range (``TIME_PERIOD`` -> ``year``)."""
    lowered = column.lower()
    return {"time_period": "year", "sector": "purpose_code"}.get(lowered, lowered)


def numeric_codes(text: pa.Array) -> pa.Array:
    """Cells of digits only as int32 codes; any other cell (``_T``, ``JPN``, null) null."""
    numeric = pc.match_substring_regex(pc.fill_null(text, ""), r"^\d+$")
    return pc.cast(pc.if_else(numeric, text, pa.scalar(None, pa.string())), pa.int32())


def split_amounts(value: pa.Array, *, commitment, disbursement, current, constant) -> dict[str, pa.Array]:
    """One amount column into the four canonical ones, by null-free boolean masks of its rows."""
    null = pa.scalar(None, pa.float64())
    return {name: pc.if_else(pc.and_(flow, prices), value, null) for name, flow, prices in (
        ("usd_commitment", commitment, current), ("usd_disbursement", disbursement, current),
        ("usd_commitment_constant", commitment, constant), ("usd_disbursement_constant", disbursement, constant))}


def assemble(columns: dict[str, pa.Array], length: int) -> pa.Table:
    """Assemble canonical and raw code columns (absent ones null); derive sector_code."""
    arrays = [columns.get(name, pa.nulls(length, field.type)) for name, field in
              zip(LOOSE_SCHEMA.names, LOOSE_SCHEMA)]
    table = pa.Table.from_arrays(arrays, schema=LOOSE_SCHEMA)
    if "sector_code" not in columns:
        derived = pc.cast(pc.divide(table["purpose_code"], pa.scalar(100, pa.int32())), pa.int32())
        table = table.set_column(table.schema.get_field_index("sector_code"), "sector_code", derived)
    return table


def drop_blank_rows(table: pa.Table, where: str, first_row: int) -> pa.Table:
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
    return table
