"""ONE Campaign oda_reader's Data Explorer CRS output (CSV or Parquet): snake_case, one amount per row.

``value`` with ``flow_type_code`` (C/D) and ``amount_type`` (current/constant prices; else ``data_type_code`` A/V,
D/Q), scaled by ``unit_multiplier``; codes DAC numeric or Data Explorer (``JPN``, converted as in
:mod:`.data_explorer`). Every row is one canonical row, or the file is refused naming its line.
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from .. import codes
from ..errors import CRSFormatError
from ..opening import Layout, Source
from .cells import (assemble, drop_blank_rows, in_millions, numeric_codes, read_text, refuse_codes, refuse_unless_usd,
                    split_amounts, table_reader, to_number, to_text)
from .data_explorer import map_de_codes

#: Canonical column -> oda_reader column(s), the first one present wins.
COLUMNS = {
    "year": ("year",), "donor_name": ("donor_name",), "recipient_name": ("recipient_name",),
    "agency_name": ("donor_agency_name", "agency_name"), "region_name": ("region_name", "region_code"),
    "purpose_name": ("sector_name", "purpose_name"), "project_title": ("project_title",),
    "short_description": ("short_description",), "long_description": ("long_description",),
}
CODES = {"agency_code": ("donor_agency_code", "agency_code"), "flow_code": ("measure_code",),
         "finance_type": ("finance_type_code",), "channel_code": ("channel_code",),
         "purpose_code": ("sector_code", "purpose_code")}
#: Columns read under their own name.
_EXACT = ("value", "flow_type_code", "amount_type", "data_type_code", "unit_multiplier", "unit_measure_code",
            "donor_code", "recipient_code")


def _table(source: Source, on_read, options) -> pa.Table:
    lower, where = source.lower_header, source.describe()

    def pick(names):
        return next((lower[name] for name in names if name in lower), None)

    wanted = {key: pick(names) for key, names in {**COLUMNS, **CODES}.items()}
    wanted.update({name: lower.get(name) for name in _EXACT})
    wanted = {key: name for key, name in wanted.items() if name is not None}
    missing = [name for name in ("year", "donor_code", "recipient_code", "purpose_code") if name not in wanted]
    if missing or not {"amount_type", "data_type_code"} & set(wanted):
        raise CRSFormatError(f"{where}: missing required column(s) {', '.join(missing) or 'amount_type'} for the "
                             f"oda_reader layout; found: {', '.join(source.header[:30])}")
    table = read_text(source, list(dict.fromkeys(wanted.values())), on_read)
    text = {key: to_text(table[name]) for key, name in wanted.items()}
    length, at = table.num_rows, {"where": where}
    columns = {key: text[key] for key in COLUMNS if key in text}
    columns["year"] = to_number(text["year"], pa.int32(), column=wanted["year"], **at)
    columns["purpose_code"] = to_number(text["purpose_code"], pa.int32(), column="purpose_code", **at)
    for key in ("agency_code", "flow_code", "finance_type", "channel_code"):
        if key in text:
            columns[key] = numeric_codes(text[key])
    if "agency_name" not in columns and "agency_code" in text:  # oda_reader puts the agency's name there
        columns["agency_name"] = pc.if_else(pc.is_null(columns["agency_code"]), text["agency_code"],
                                            pa.scalar(None, pa.string()))
    for kind, mapping in (("donor", codes.donor_de_to_dac), ("recipient", codes.recipient_de_to_dac)):
        columns[f"{kind}_code"], columns[f"{kind}_raw"] = map_de_codes(text[f"{kind}_code"], mapping(), kind, where)
    flow = pc.utf8_upper(text["flow_type_code"])
    refuse_codes(flow, ["C", "D"], column=wanted["flow_type_code"], meaning="commitments, disbursements", **at)
    if "amount_type" in text:
        prices = pc.utf8_lower(text["amount_type"])
        prices = pc.if_else(pc.match_substring(prices, "constant"), "Q",
                            pc.if_else(pc.match_substring(prices, "current"), "V", prices))
    else:
        prices = pc.utf8_upper(text["data_type_code"])
        prices = pc.if_else(pc.is_in(prices, pa.array(["A", "V"])), "V",
                            pc.if_else(pc.is_in(prices, pa.array(["D", "Q"])), "Q", prices))
    refuse_codes(prices, ["V", "Q"], column=wanted.get("amount_type", "data_type_code"),
                 meaning="'Current prices' (V), 'Constant prices' (Q)", **at)
    if "unit_measure_code" in text:
        refuse_unless_usd(text["unit_measure_code"], column="unit_measure_code", **at)
    value = to_number(text["value"], pa.float64(), column=wanted["value"], **at)
    if "unit_multiplier" in text:
        value = in_millions(value, text["unit_multiplier"], column="unit_multiplier", **at)
    columns.update(split_amounts(value, commitment=pc.equal(flow, "C"), disbursement=pc.equal(flow, "D"),
                                 current=pc.equal(prices, "V"), constant=pc.equal(prices, "Q")))
    return drop_blank_rows(assemble(columns, length))


def _matches(source: Source) -> bool:
    lower = set(source.lower_header)
    return {"donor_code", "recipient_code", "value", "flow_type_code"} <= lower and bool(
        {"amount_type", "data_type_code"} & lower)


LAYOUT = Layout("oda_reader", _matches, table_reader(_table), parquet=None)
