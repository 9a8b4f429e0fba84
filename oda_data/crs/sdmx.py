"""Read an OECD Data Explorer SDMX-CSV file (layout ``sdmx_csv``), and dispatch the small long-format layouts.

Dataflow ``DSD_CRS@DF_CRS``, both ``csvfilewithlabels`` (each code column
followed by its label column) and ``csvfile`` (codes only). Long format: one
observation per row. Rows of one activity (commitment/disbursement x
current/constant) are pivoted into the four amount columns. ``MD_DIM`` =
``DD`` rows are activities, ``_T`` rows are aggregates: both describe the same
money, so they are never mixed. The rule (``sdmx_rows``): ``"auto"`` keeps the
``DD`` rows when the file has any (and says so with a
:class:`~oda_data.crs.errors.CRSLayoutWarning` when ``_T`` rows were dropped),
otherwise the ``_T`` rows; ``"DD"`` or ``"_T"`` force one kind. ``OBS_VALUE``
is scaled by ``UNIT_MULT`` to USD millions. A Data Explorer code the code
tables cannot convert keeps its row: the code is NA and the value as read goes
to ``donor_raw`` / ``recipient_raw`` / ``purpose_raw``.

These files and the "by purpose" summaries (:mod:`oda_data.crs.summary`) are
small (the Data Explorer API caps downloads), so they are read whole with
pyarrow (:mod:`oda_data.crs.cells`); :func:`read_table` reads either, and
:mod:`oda_data.crs.engine` then tags and writes them with DuckDB. Bulk files
never come here: DuckDB reads them itself.
"""
from __future__ import annotations

import re
import warnings

import pyarrow as pa
import pyarrow.compute as pc

from . import codes
from .._text import printable
from .cells import (LOOSE_SCHEMA, assemble, drop_blank_rows, numeric_codes, read_text, split_amounts,
                    to_number, to_text)
from .errors import CRSFormatError, CRSLayoutWarning
from .schema import AMOUNT_COLUMNS
from .sources import Source
from .summary import read_summary

SDMX_ROW_CHOICES = ("auto", "DD", "_T")
_TOTAL_CODES = pa.array(["_T", "_Z"])  # "total" / "not applicable": no code to convert, nothing to warn about


def check_sdmx_rows(sdmx_rows: str) -> str:
    """Return ``sdmx_rows`` if it is one of :data:`SDMX_ROW_CHOICES`, else raise a ValueError listing them."""
    if sdmx_rows not in SDMX_ROW_CHOICES:
        raise ValueError(f"sdmx_rows={sdmx_rows!r}; expected one of: {', '.join(SDMX_ROW_CHOICES)}")
    return sdmx_rows


def read_table(source: Source, *, on_read=None, sdmx_rows: str = "auto") -> pa.Table:
    """Read a ``sdmx_csv`` or ``purpose_summary`` source into canonical columns (+ raw code columns)."""
    if source.kind == "sdmx_csv":
        return _sdmx_table(source, on_read, sdmx_rows)
    return read_summary(source, on_read)


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


def _map_de_codes(array, mapping: dict[str, int], kind: str, where: str) -> tuple[pa.Array, pa.Array]:
    """Data Explorer codes -> (DAC numeric codes, the codes as read where they could not be converted)."""
    array = to_text(array)
    upper = pc.utf8_upper(array)
    keys = pa.array(list(mapping), pa.string())
    values = pa.array(list(mapping.values()), pa.int32())
    index = pc.index_in(upper, value_set=keys)
    mapped = pc.take(values, index)
    mapped = pc.coalesce(mapped, numeric_codes(upper))  # numeric codes (a .Stat-style file) pass through
    unmapped = pc.and_(pc.is_null(mapped), pc.is_valid(array))
    unmapped = pc.and_(unmapped, pc.invert(pc.is_in(upper, value_set=_TOTAL_CODES)))
    unmapped_count = pc.sum(unmapped).as_py() or 0
    if unmapped_count:
        codes.warn_unmapped(kind, pc.unique(array.filter(unmapped)).to_pylist(), where, unmapped_count)
    return mapped, pc.if_else(unmapped, array, pa.scalar(None, pa.string()))


def _names_of(dac_codes: pa.Array, names: dict[int, str]) -> pa.Array:
    """The name of each DAC code in ``names`` (null where it has none)."""
    return pc.take(pa.array(list(names.values()), pa.string()),
                   pc.index_in(dac_codes, value_set=pa.array(list(names), pa.int32())))


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
    table = read_text(source, include, on_read)
    if table.num_rows == 0:
        raise CRSFormatError(f"{where}: the Data Explorer file has a header but no observations")

    def column(name: str) -> pa.Array:
        return to_text(table.column(code_columns[name]))

    def label(name: str) -> pa.Array | None:
        return to_text(table.column(labels[name])) if name in labels else None

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
    # ---- amounts: OBS_VALUE scaled to millions, split by FLOW_TYPE x PRICE_BASE.
    value = to_number(column("OBS_VALUE"), pa.float64(), column="OBS_VALUE", where=where, first_row=0)
    if "UNIT_MULT" in code_columns:
        multiplier = to_number(column("UNIT_MULT"), pa.float64(), column="UNIT_MULT", where=where, first_row=0)
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

    def where_equal(codes_array: pa.Array, code: str) -> pa.Array:
        return pc.fill_null(pc.equal(codes_array, code), False)

    # FLOW_TYPE C/D = commitment/disbursement, PRICE_BASE V/Q = current/constant; other codes get no amount.
    amounts = split_amounts(value, commitment=where_equal(flow_type, "C"), disbursement=where_equal(flow_type, "D"),
                            current=where_equal(price_base, "V"), constant=where_equal(price_base, "Q"))
    # ---- descriptive columns
    columns: dict[str, pa.Array] = {}
    columns["year"] = to_number(column("TIME_PERIOD"), pa.int32(), column="TIME_PERIOD", where=where, first_row=0)
    columns["donor_code"], columns["donor_raw"] = _map_de_codes(
        column("DONOR"), codes.donor_de_to_dac(), "donor", where)
    columns["recipient_code"], columns["recipient_raw"] = _map_de_codes(
        column("RECIPIENT"), codes.recipient_de_to_dac(), "recipient", where)
    # A csvfile (codes only) has no label columns: the names come from the code tables.
    columns["donor_name"] = label("DONOR") if "DONOR" in labels else _names_of(
        columns["donor_code"], codes.donor_names())
    columns["recipient_name"] = label("RECIPIENT") if "RECIPIENT" in labels else _names_of(
        columns["recipient_code"], codes.recipient_names())
    for source, canonical in (("DONOR_AGENCY", "agency_code"), ("MEASURE", "flow_code"),
                              ("FINANCETYPE_CODE", "finance_type"), ("SECTOR", "purpose_code"),
                              ("CHANNEL", "channel_code")):
        if source in code_columns:
            columns[canonical] = numeric_codes(column(source))
    sector = column("SECTOR")
    unmapped = pc.and_(pc.is_null(columns["purpose_code"]), pc.is_valid(sector))
    unmapped = pc.and_(unmapped, pc.invert(pc.is_in(pc.utf8_upper(sector), value_set=_TOTAL_CODES)))
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
    frame = assemble(columns, length)
    keys = [name for name in LOOSE_SCHEMA.names if name not in AMOUNT_COLUMNS]
    for name, array in identity.items():
        frame = frame.append_column(f"__{name}", array)
        keys.append(f"__{name}")
    for name, array in amounts.items():
        frame = frame.set_column(frame.schema.get_field_index(name), name, array)
    grouped = frame.group_by(keys, use_threads=False).aggregate(
        [(name, "sum", pc.ScalarAggregateOptions(min_count=1)) for name in AMOUNT_COLUMNS]
    )
    grouped = grouped.rename_columns([name.removesuffix("_sum") for name in grouped.column_names])
    grouped = grouped.select(LOOSE_SCHEMA.names)
    return drop_blank_rows(grouped, where, 0)
