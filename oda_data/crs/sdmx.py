"""Small long-format CRS sources, read whole with pyarrow: Data Explorer SDMX-CSV and "by purpose" summaries.

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
    ``OBS_VALUE`` is scaled by ``UNIT_MULT`` to USD millions. A Data Explorer
    code the code tables cannot convert keeps its row: the code is NA and the
    value as read goes to ``donor_raw`` / ``recipient_raw`` / ``purpose_raw``.
``purpose_summary``
    Aggregated snake_case exports of the CRS ("by purpose": ``donor_code, ...,
    purpose_code, ..., indicator, value, currency, prices``) such as ONE
    Campaign's. ``value`` goes to the disbursement columns (or commitment
    columns when ``indicator`` names commitments), current or constant
    according to ``prices``. Rows with every cell empty (a real quirk: trailing
    ``,,,`` lines) are dropped.

Both are small (the Data Explorer API caps downloads), so they are read
whole; :mod:`oda_data.crs.engine` then tags and writes them with DuckDB.
Bulk files never come here: DuckDB reads them itself.
"""
from __future__ import annotations

import io
import re
import warnings
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from . import codes
from .schema import AMOUNT_COLUMNS, CANONICAL_TYPES, CODE_RANGE, RAW_COLUMNS, VALID_RANGES
from ._text import printable
from .sources import CRSFormatError, CRSLayoutWarning, Source, check_sdmx_rows, raw_streams

#: Canonical columns plus the raw code columns, every one nullable, while rows are checked.
_LOOSE_SCHEMA = pa.schema([pa.field(name, kind) for name, kind in CANONICAL_TYPES.items()]
                          + [pa.field(name, pa.string()) for name in RAW_COLUMNS])


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


def _refuse_unless(ok, shown, *, column: str, where: str, first_row: int, expected: str) -> None:
    """Raise a CRSFormatError naming the first row where ``ok`` is false (header = line 1)."""
    if not pc.all(ok).as_py():
        index = pc.index(ok, False).as_py()
        raise CRSFormatError(f"{where}: column {column!r} must hold {expected}; found {shown[index].as_py()!r} "
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
        _refuse_unless(valid, array, expected="numbers", **where_row)
        numbers = pc.cast(array, pa.float64())
    _refuse_unless(pc.or_kleene(pc.is_null(numbers), pc.is_finite(numbers)), array,
                   expected="finite numbers", **where_row)
    if not pa.types.is_integer(target):
        return pc.cast(numbers, target)
    _refuse_unless(pc.or_kleene(pc.is_null(numbers), pc.equal(pc.floor(numbers), numbers)), array,
                   expected="whole codes", **where_row)
    low, high = VALID_RANGES.get(column_kind(column), CODE_RANGE)
    inside = pc.or_kleene(pc.is_null(numbers), pc.and_(pc.greater_equal(numbers, low), pc.less_equal(numbers, high)))
    _refuse_unless(inside, array, expected=f"values in {low}-{high}", **where_row)
    return pc.cast(numbers, target)


def column_kind(column: str) -> str:
    """The canonical column a source column feeds, for its valid range (``TIME_PERIOD`` -> ``year``)."""
    lowered = column.lower()
    return {"time_period": "year", "sector": "purpose_code"}.get(lowered, lowered)


def _to_text(array) -> pa.Array:
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not pa.types.is_string(array.type):
        array = pc.cast(array, pa.string())
    return _blank_to_null(array)


def _finish(columns: dict[str, pa.Array], length: int) -> pa.Table:
    """Assemble canonical and raw code columns; derive sector_code."""
    arrays = [columns.get(name, pa.nulls(length, field.type)) for name, field in
              zip(_LOOSE_SCHEMA.names, _LOOSE_SCHEMA)]
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
    return table

def _map_de_codes(array, mapping: dict[str, int], kind: str, where: str) -> tuple[pa.Array, pa.Array]:
    """Data Explorer codes -> (DAC numeric codes, the codes as read where they could not be converted)."""
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
    unmapped_count = pc.sum(unmapped).as_py() or 0
    if unmapped_count:
        codes.warn_unmapped(kind, pc.unique(array.filter(unmapped)).to_pylist(), where, unmapped_count)
    return mapped, pc.if_else(unmapped, array, pa.scalar(None, pa.string()))

def _summary_table(source: Source, on_read) -> pa.Table:
    lower = source.lower_header
    found = {canonical: lower[name] for canonical, names in SUMMARY_COLUMNS.items()
             for name in reversed(names) if name in lower}
    missing = [name for name in ("year", "donor_code", "recipient_code", "purpose_code") if name not in found]
    missing += [] if "value" in lower else ["value"]
    if missing:
        raise CRSFormatError(
            f"{source.describe()}: missing required column(s) {', '.join(missing)} (matched "
            f"case-insensitively) for the purpose_summary layout; found: {', '.join(source.header[:30])}")
    extra = {name: lower[name] for name in SUMMARY_EXTRA if name in lower}
    include = list(dict.fromkeys([*found.values(), *extra.values()]))
    where = source.describe()
    for batch, first_row in [(_read_text(source, include, on_read), 0)]:
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
        return _drop_blank_rows(table, where, first_row)


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


def _sdmx_table(source: Source, on_read, sdmx_rows: str) -> pa.Table:
    where = source.describe()
    check_sdmx_rows(sdmx_rows)
    code_columns, labels = _sdmx_label_pairs(source.header)
    missing = [name for name in SDMX_REQUIRED if name not in code_columns]
    if missing:
        raise CRSFormatError(
            f"{where}: missing required column(s) {', '.join(missing)} for the Data Explorer "
            f"SDMX-CSV layout; found: {', '.join(source.header[:30])}"
        )
    wanted = [*SDMX_REQUIRED, *SDMX_OPTIONAL, *SDMX_CODE_COLUMNS]
    include = [code_columns[name] for name in dict.fromkeys(wanted) if name in code_columns]
    include += [labels[name] for name in dict.fromkeys(wanted) if name in labels]
    include = list(dict.fromkeys(include))
    table = _read_text(source, include, on_read)
    if table.num_rows == 0:
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
            warnings.warn(printable(
                f"{where}: the file mixes activity rows (MD_DIM=DD, {dd_count}) with aggregate "
                f"rows (MD_DIM=_T or other, {dropped}); kept the DD rows only so totals do not "
                f"double (pass sdmx_rows='_T' for the aggregates)"),
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
    columns["donor_code"], columns["donor_raw"] = _map_de_codes(
        column("DONOR"), codes.donor_de_to_dac(), "donor", where)
    columns["recipient_code"], columns["recipient_raw"] = _map_de_codes(
        column("RECIPIENT"), codes.recipient_de_to_dac(), "recipient", where)
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
    sector = column("SECTOR")
    unmapped = pc.and_(pc.is_null(columns["purpose_code"]), pc.is_valid(sector))
    unmapped = pc.and_(unmapped, pc.invert(pc.is_in(pc.utf8_upper(sector), value_set=pa.array(["_T", "_Z"]))))
    if pc.any(unmapped).as_py():
        columns["purpose_raw"] = pc.if_else(unmapped, sector, pa.scalar(None, pa.string()))
        codes.warn_unmapped("purpose", pc.unique(sector.filter(unmapped)).to_pylist(), where,
                            pc.sum(unmapped).as_py())
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
    keys = [name for name in _LOOSE_SCHEMA.names if name not in AMOUNT_COLUMNS]
    for name, array in identity.items():
        frame = frame.append_column(f"__{name}", array)
        keys.append(f"__{name}")
    for name, array in amounts.items():
        frame = frame.set_column(frame.schema.get_field_index(name), name, array)
    grouped = frame.group_by(keys, use_threads=False).aggregate(
        [(name, "sum", pc.ScalarAggregateOptions(min_count=1)) for name in AMOUNT_COLUMNS]
    )
    grouped = grouped.rename_columns([name.removesuffix("_sum") for name in grouped.column_names])
    grouped = grouped.select(_LOOSE_SCHEMA.names)
    return _drop_blank_rows(grouped, where, 0)


def _read_text(source: Source, include: list[str], on_read: Callable[[int], None] | None) -> pa.Table:
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


def read_table(source: Source, *, on_read=None, sdmx_rows: str = "auto") -> pa.Table:
    """Read a ``sdmx_csv`` or ``purpose_summary`` source into canonical columns (+ raw code columns)."""
    if source.kind == "sdmx_csv":
        return _sdmx_table(source, on_read, sdmx_rows)
    return _summary_table(source, on_read)
