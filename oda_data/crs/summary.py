"""Read an aggregated snake_case "by purpose" CRS export (layout ``purpose_summary``).

Such files (``donor_code, ..., purpose_code, ..., indicator, value, currency,
prices``, e.g. ONE Campaign's) hold one amount per row. ``value`` goes to the
disbursement columns (or commitment columns when ``indicator`` names
commitments), current or constant according to ``prices``; a ``currency``
other than USD is refused. Rows with every cell empty (a real quirk: trailing
``,,,`` lines) are dropped. Files are small, so they are read whole
(:mod:`oda_data.crs.cells`).
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from .cells import assemble, drop_blank_rows, read_text, refuse_unless, split_amounts, to_number, to_text
from .errors import CRSFormatError
from .schema import CANONICAL_TYPES
from .sources import Source

# Canonical column -> candidate source names (lower case).
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


def read_summary(source: Source, on_read) -> pa.Table:
    """A ``purpose_summary`` source in canonical columns (see the module docstring)."""
    lower = source.lower_header
    # The first candidate name wins when a file has both (hence reversed: later ones are overwritten).
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
    table = read_text(source, include, on_read)
    length = table.num_rows
    at_rows = {"where": where, "first_row": 0}
    columns: dict[str, pa.Array] = {}
    for canonical, name in found.items():
        kind = CANONICAL_TYPES[canonical]
        if pa.types.is_string(kind):
            columns[canonical] = to_text(table.column(name))
        else:
            columns[canonical] = to_number(table.column(name), kind, column=name, **at_rows)
    value = to_number(table.column(extra["value"]), pa.float64(), column=extra["value"], **at_rows)
    prices = (pc.utf8_lower(to_text(table.column(extra["prices"]))) if "prices" in extra
              else pa.array(["current"] * length, pa.string()))
    indicator = (pc.utf8_lower(to_text(table.column(extra["indicator"]))) if "indicator" in extra
                 else pa.nulls(length, pa.string()))
    if "currency" in extra:
        currency = pc.utf8_upper(to_text(table.column(extra["currency"])))
        refuse_unless(pc.or_kleene(pc.is_null(currency), pc.equal(currency, "USD")), currency,
                      column="currency", expected="be USD", **at_rows)
    refuse_unless(pc.or_kleene(pc.is_null(prices), pc.is_in(prices, pa.array(["current", "constant"]))), prices,
                  column="prices", expected="be 'current' or 'constant'", **at_rows)
    is_commitment = pc.fill_null(pc.match_substring(indicator, "commitment"), False)
    is_constant = pc.fill_null(pc.equal(prices, "constant"), False)
    columns.update(split_amounts(value, commitment=is_commitment, disbursement=pc.invert(is_commitment),
                                 current=pc.invert(is_constant), constant=is_constant))
    return drop_blank_rows(assemble(columns, length), where, 0)
