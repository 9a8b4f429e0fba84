"""OECD Data Explorer SDMX-CSV (dataflow ``DSD_CRS@DF_CRS``), ``csvfilewithlabels`` or ``csvfile``.

The observations of one activity (commitment/disbursement x current/constant) are pivoted into the four amount
columns. ``MD_DIM`` DD rows (activities) and _T rows (aggregates of the same money) are never mixed (``sdmx_rows``).
Every observation is placed or the file refused naming its line; ``OBS_VALUE`` is scaled by ``UNIT_MULT``.
"""
from __future__ import annotations

import re
import warnings

import pyarrow as pa
import pyarrow.compute as pc

from ... import _text
from .. import codes
from ..errors import CRSFormatError, CRSLayoutWarning
from ..opening import Layout, Source
from ..schema import AMOUNT_COLUMNS
from .cells import (LOOSE_SCHEMA, assemble, drop_blank_rows, in_millions, numeric_codes, read_text, refuse_codes,
                    refuse_unless_usd, split_amounts, table_reader, to_number, to_text)

SDMX_ROW_CHOICES = ("auto", "DD", "_T")
_TOTAL_CODES = pa.array(["_T", "_Z"])  # "total" / "not applicable": nothing to convert or warn about
CODE_COLUMNS = {"DONOR_AGENCY": "agency_code", "MEASURE": "flow_code", "FINANCETYPE_CODE": "finance_type",
                "CHANNEL": "channel_code"}
LABEL_COLUMNS = {"DONOR_AGENCY": "agency_name", "SECTOR": "purpose_name", "REGION": "region_name"}
TEXT_COLUMNS = {"PROJECT_TITLE": "project_title", "SHORT_DESCRIPTION": "short_description",
                "LONG_DESCRIPTION": "long_description"}
REQUIRED = ("DONOR", "RECIPIENT", "SECTOR", "FLOW_TYPE", "TIME_PERIOD", "OBS_VALUE")
OPTIONAL = ("PRICE_BASE", "MD_DIM", "MD_ID", "OECD_ID", "DONOR_PROJECT_ID", "UNIT_MULT", "UNIT_MEASURE",
            "REGION")


def check_sdmx_rows(sdmx_rows: str) -> str:
    """``sdmx_rows`` if it is one of :data:`SDMX_ROW_CHOICES`, else a ValueError listing them."""
    if sdmx_rows not in SDMX_ROW_CHOICES:
        raise ValueError(f"sdmx_rows={sdmx_rows!r}; expected one of: {', '.join(SDMX_ROW_CHOICES)}")
    return sdmx_rows


def map_de_codes(array, mapping: dict[str, int], kind: str, where: str) -> tuple[pa.Array, pa.Array]:
    """Data Explorer codes -> (DAC numeric codes, the codes as read where they could not be converted)."""
    array = to_text(array)
    upper = pc.utf8_upper(array)
    mapped = pc.take(pa.array(list(mapping.values()), pa.int32()),
                     pc.index_in(upper, value_set=pa.array(list(mapping), pa.string())))
    mapped = pc.coalesce(mapped, numeric_codes(upper))  # numeric codes (a .Stat-style file) pass through
    unmapped = pc.and_(pc.and_(pc.is_null(mapped), pc.is_valid(array)),
                       pc.invert(pc.is_in(upper, value_set=_TOTAL_CODES)))
    if pc.any(unmapped).as_py():
        codes.warn_unmapped(kind, pc.unique(array.filter(unmapped)).to_pylist(), where, pc.sum(unmapped).as_py())
    return mapped, pc.if_else(unmapped, array, pa.scalar(None, pa.string()))


def names_of(dac_codes: pa.Array, names: dict[int, str]) -> pa.Array:
    """The name of each DAC code in ``names`` (null where it has none)."""
    return pc.take(pa.array(list(names.values()), pa.string()),
                   pc.index_in(dac_codes, value_set=pa.array(list(names), pa.int32())))


def _label_pairs(header: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Code columns (upper-case names) and, in ``csvfilewithlabels``, the label column after each."""
    code_like = re.compile(r"^[A-Z][A-Z0-9_]*$")
    found: dict[str, str] = {}
    labels: dict[str, str] = {}
    for position, name in enumerate(header):
        if code_like.match(name):
            found.setdefault(name, name)
            following = header[position + 1] if position + 1 < len(header) else None
            if following is not None and not code_like.match(following):
                labels[name] = following
    if not found:  # lower-case SDMX export: match case-insensitively
        found = {name.upper(): name for name in header}
    return found, labels


def _table(source: Source, on_read, options: dict) -> pa.Table:
    where, sdmx_rows = source.describe(), check_sdmx_rows(options.get("sdmx_rows", "auto"))
    code_columns, labels = _label_pairs(source.header)
    missing = [name for name in REQUIRED if name not in code_columns]
    if missing:
        raise CRSFormatError(f"{where}: missing required column(s) {', '.join(missing)} for the Data Explorer "
                             f"SDMX-CSV layout; found: {', '.join(source.header[:30])}")
    wanted = [*REQUIRED, *OPTIONAL, *CODE_COLUMNS, *TEXT_COLUMNS]
    include = list(dict.fromkeys([code_columns[name] for name in wanted if name in code_columns]
                                 + [labels[name] for name in wanted if name in labels]))
    table = read_text(source, include, on_read)
    if table.num_rows == 0:
        raise CRSFormatError(f"{where}: the Data Explorer file has a header but no observations")

    def column(name: str) -> pa.Array:
        return to_text(table.column(code_columns[name]))

    length = table.num_rows
    at = {"where": where}
    flow_type = pc.utf8_upper(column("FLOW_TYPE"))
    refuse_codes(flow_type, ["C", "D"], column="FLOW_TYPE", meaning="commitments, disbursements", **at)
    price_base = pc.utf8_upper(column("PRICE_BASE")) if "PRICE_BASE" in code_columns else pa.array(["V"] * length)
    refuse_codes(price_base, ["V", "Q"], column="PRICE_BASE", meaning="current, constant prices", **at)
    md_dim = pc.utf8_upper(column("MD_DIM")) if "MD_DIM" in code_columns else None
    if md_dim is not None:
        refuse_codes(md_dim, ["DD", "_T"], column="MD_DIM", meaning="activities, aggregates", **at)
    if "UNIT_MEASURE" in code_columns:
        refuse_unless_usd(column("UNIT_MEASURE"), column="UNIT_MEASURE", expected="be USD (download the USD series)",
                          **at)
    value = to_number(column("OBS_VALUE"), pa.float64(), column="OBS_VALUE", **at)
    if "UNIT_MULT" in code_columns:
        value = in_millions(value, column("UNIT_MULT"), column="UNIT_MULT", **at)
    columns = split_amounts(value, commitment=pc.equal(flow_type, "C"), disbursement=pc.equal(flow_type, "D"),
                            current=pc.equal(price_base, "V"), constant=pc.equal(price_base, "Q"))
    columns["year"] = to_number(column("TIME_PERIOD"), pa.int32(), column="TIME_PERIOD", **at)
    for kind, mapping, names in (("donor", codes.donor_de_to_dac, codes.donor_names),
                                 ("recipient", codes.recipient_de_to_dac, codes.recipient_names)):
        code = kind.upper()
        columns[f"{kind}_code"], columns[f"{kind}_raw"] = map_de_codes(column(code), mapping(), kind, where)
        # A csvfile (codes only) has no label columns: the names come from the code tables.
        columns[f"{kind}_name"] = (to_text(table.column(labels[code])) if code in labels
                                   else names_of(columns[f"{kind}_code"], names()))
    for name, canonical in CODE_COLUMNS.items():
        if name in code_columns:
            columns[canonical] = numeric_codes(column(name))
    columns["purpose_code"], columns["purpose_raw"] = map_de_codes(column("SECTOR"), {}, "purpose", where)
    for name, canonical in LABEL_COLUMNS.items():
        if name in labels:
            columns[canonical] = to_text(table.column(labels[name]))
    for name, canonical in TEXT_COLUMNS.items():
        if name in code_columns:
            columns[canonical] = column(name)
    frame = assemble(columns, length)
    keys = [name for name in LOOSE_SCHEMA.names if name not in AMOUNT_COLUMNS]
    for name in ("MD_ID", "OECD_ID", "DONOR_PROJECT_ID", "MD_DIM"):
        if name in code_columns:
            frame = frame.append_column(f"__{name}", column(name))
            keys.append(f"__{name}")
    if md_dim is not None:
        dd_count = pc.sum(pc.equal(md_dim, "DD")).as_py() or 0
        choice = sdmx_rows if sdmx_rows != "auto" else ("DD" if dd_count else "_T")
        if sdmx_rows == "auto" and dd_count and dd_count < length:
            warnings.warn(_text.printable(
                f"{where}: the file mixes activity rows (MD_DIM=DD, {dd_count}) with aggregate rows "
                f"(MD_DIM=_T, {length - dd_count}); kept the DD rows only so totals do not double "
                f"(pass sdmx_rows='_T' for the aggregates)"), CRSLayoutWarning, stacklevel=2)
        frame = frame.filter(pc.equal(md_dim, choice))
        if frame.num_rows == 0:
            raise CRSFormatError(f"{where}: no rows with MD_DIM={choice!r}")
    grouped = frame.group_by(keys, use_threads=False).aggregate(
        [(name, "sum", pc.ScalarAggregateOptions(min_count=1)) for name in AMOUNT_COLUMNS])
    grouped = grouped.rename_columns([name.removesuffix("_sum") for name in grouped.column_names])
    return drop_blank_rows(grouped.select(LOOSE_SCHEMA.names))


def _matches(source: Source) -> bool:
    exact, lower = set(source.header), set(source.lower_header)
    return ("TIME_PERIOD" in exact and bool({"OBS_VALUE", "DATAFLOW", "STRUCTURE", "DONOR"} & exact)
            or {"obs_value", "time_period", "donor"} <= lower)


LAYOUT = Layout("sdmx_csv", _matches, table_reader(_table))
