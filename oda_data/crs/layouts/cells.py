"""The long-format layouts' shared steps (:mod:`.data_explorer`, :mod:`.oda_reader`, :mod:`.summary`): read the
file whole with pyarrow, every cell as text (blank: null), then check each cell into its canonical column; a bad
cell is refused naming its data row and line (the header is line 1)."""
from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..errors import CRSFormatError
from ..opening import Source, raw_streams, read_all
from ..schema import CANONICAL_TYPES, CODE_RANGE, RAW_COLUMNS, VALID_RANGES

#: Canonical columns plus the raw code columns, every one nullable, while rows are checked.
LOOSE_SCHEMA = pa.schema([pa.field(name, kind) for name, kind in CANONICAL_TYPES.items()]
                         + [pa.field(name, pa.string()) for name in RAW_COLUMNS])
_NUMBER = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"


def read_text(source: Source, include: list[str], on_read=None) -> pa.Table:
    """The ``include`` columns of a text or Parquet source, as text (blank cells null)."""
    if source.parquet:
        table = pq.read_table(source.path, columns=include)
        return pa.table({name: to_text(table[name]) for name in include})
    tables = []
    encoding = "utf8" if source.encoding in ("utf-8", "utf-8-sig") else source.encoding
    for member, stream in raw_streams(source):
        data = read_all(source, stream, member)
        if on_read:
            on_read(len(data))
        where = f"{source.path} (member {member!r})" if member else str(source.path)
        try:
            tables.append(pacsv.read_csv(
                io.BytesIO(data), read_options=pacsv.ReadOptions(encoding=encoding),
                parse_options=pacsv.ParseOptions(delimiter=source.delimiter, newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(column_types={name: pa.string() for name in include},
                                                     include_columns=include, null_values=[""],
                                                     strings_can_be_null=True)))
        except (pa.ArrowInvalid, pa.ArrowKeyError, UnicodeDecodeError) as error:
            raise CRSFormatError(f"{where}: cannot parse as CSV text: {error}") from None
    return pa.concat_tables(tables)


def to_text(array) -> pa.Array:
    """A column as trimmed text, blank cells null."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if not pa.types.is_string(array.type):
        array = pc.cast(array, pa.string())
    array = pc.utf8_trim_whitespace(array)
    blank = pc.fill_null(pc.equal(array, ""), False)
    return pc.if_else(blank, pa.scalar(None, pa.string()), array) if pc.any(blank).as_py() else array


def refuse_unless(ok, shown, *, column: str, where: str, expected: str) -> None:
    """Raise "column must <expected>; found ..." naming the first row where ``ok`` is false (header = line 1)."""
    ok = pc.fill_null(ok, False)
    if not pc.all(ok).as_py():
        index = pc.index(ok, False).as_py()
        raise CRSFormatError(f"{where}: column {column!r} must {expected}; found {shown[index].as_py()!r} "
                             f"at data row {index + 1} (line {index + 2})")


def to_number(array, target: pa.DataType, *, column: str, where: str) -> pa.Array:
    """A text column as a finite number (a whole code in range for integer targets), or an error naming the line."""
    array = to_text(array)
    at = {"column": column, "where": where}
    refuse_unless(pc.or_kleene(pc.is_null(array), pc.match_substring_regex(array, _NUMBER)), array,
                  expected="hold numbers", **at)
    numbers = pc.cast(array, pa.float64())
    refuse_unless(pc.or_kleene(pc.is_null(numbers), pc.is_finite(numbers)), array, expected="hold finite numbers", **at)
    if not pa.types.is_integer(target):
        return pc.cast(numbers, target)
    refuse_unless(pc.or_kleene(pc.is_null(numbers), pc.equal(pc.floor(numbers), numbers)), array,
                  expected="hold whole codes", **at)
    low, high = VALID_RANGES.get({"time_period": "year", "sector": "purpose_code"}.get(column.lower(), column.lower()),
                                 CODE_RANGE)
    inside = pc.and_(pc.greater_equal(numbers, low), pc.less_equal(numbers, high))
    refuse_unless(pc.or_kleene(pc.is_null(numbers), inside), array, expected=f"hold values in {low}-{high}", **at)
    return pc.cast(numbers, target)


def refuse_unless_usd(unit: pa.Array, *, column: str, where: str, expected: str = "be USD") -> None:
    """Every cell of ``unit`` (text) must be USD or blank."""
    upper = pc.utf8_upper(unit)
    refuse_unless(pc.or_kleene(pc.is_null(upper), pc.equal(upper, "USD")), unit, column=column, where=where,
                  expected=expected)


def in_millions(value: pa.Array, multiplier: pa.Array, *, column: str, where: str) -> pa.Array:
    """``value`` scaled by 10 ** (``multiplier`` - 6): an SDMX unit multiplier, blank for millions."""
    multiplier = to_number(multiplier, pa.float64(), column=column, where=where)
    return pc.multiply(value, pc.power(pa.scalar(10.0), pc.subtract(pc.fill_null(multiplier, 6.0), 6.0)))


def refuse_codes(array: pa.Array, valid: list[str], *, column: str, where: str, meaning: str) -> None:
    """Every cell must be one of ``valid`` (upper-cased): an observation the reader cannot place is refused."""
    refuse_unless(pc.is_in(pc.utf8_upper(array), value_set=pa.array(valid)), array, column=column, where=where,
                  expected=f"be one of {', '.join(valid)} ({meaning}); no observation is dropped, so the file "
                           f"is refused")


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
    """Canonical and raw code columns (absent ones null); sector_code derived from the purpose code."""
    arrays = [columns.get(name, pa.nulls(length, field.type)) for name, field in zip(LOOSE_SCHEMA.names, LOOSE_SCHEMA)]
    table = pa.Table.from_arrays(arrays, schema=LOOSE_SCHEMA)
    if "sector_code" not in columns:
        derived = pc.cast(pc.divide(table["purpose_code"], pa.scalar(100, pa.int32())), pa.int32())
        table = table.set_column(table.schema.get_field_index("sector_code"), "sector_code", derived)
    return table


def drop_blank_rows(table: pa.Table) -> pa.Table:
    """Drop rows with no value in any column (blank ``,,,`` lines); every other row is kept."""
    empty = pc.and_(pc.is_null(table["year"]), pc.is_null(table["donor_code"]))
    for name in table.column_names:
        if name != "sector_code":  # derived
            empty = pc.and_(empty, pc.is_null(table[name]))
    return table.filter(pc.invert(empty)) if pc.any(empty).as_py() else table


def table_reader(build):
    """A layout's ``read`` for a table built in Python: DuckDB tags and writes it."""
    def read(source: Source, cursor, run, *, scratch=None, on_read=None, options=None):
        cursor.register("__source_table", build(source, on_read, options or {}))
        return run("SELECT * FROM __source_table"), []
    return read
