"""Aggregated snake_case "by purpose" CRS exports (ONE Campaign's oda_data_package): one ``value`` per row, a
disbursement (a commitment when ``indicator`` says so), current or constant by ``prices``, in USD only."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from ..errors import CRSFormatError
from ..opening import Layout, Source
from ..schema import CANONICAL_TYPES
from .cells import (assemble, drop_blank_rows, read_text, refuse_unless, refuse_unless_usd, split_amounts, table_reader,
                    to_number, to_text)

#: Canonical column -> candidate source names (lower case); the first one present wins.
SUMMARY_COLUMNS: dict[str, tuple[str, ...]] = {
    **{name: (name,) for name in CANONICAL_TYPES if not name.startswith("usd_")},
    "finance_type": ("finance_t", "finance_type"),
}
EXTRA = ("value", "prices", "currency", "indicator")


def _table(source: Source, on_read, options) -> pa.Table:
    lower, where = source.lower_header, source.describe()
    found = {canonical: lower[name] for canonical, names in SUMMARY_COLUMNS.items()
             for name in reversed(names) if name in lower}
    missing = [name for name in ("year", "donor_code", "recipient_code", "purpose_code") if name not in found]
    missing += [] if "value" in lower else ["value"]
    if missing:
        raise CRSFormatError(f"{where}: missing required column(s) {', '.join(missing)} (matched case-insensitively) "
                             f"for the purpose_summary layout; found: {', '.join(source.header[:30])}")
    extra = {name: lower[name] for name in EXTRA if name in lower}
    table = read_text(source, list(dict.fromkeys([*found.values(), *extra.values()])), on_read)
    length = table.num_rows
    columns = {canonical: to_text(table[name]) if pa.types.is_string(CANONICAL_TYPES[canonical])
               else to_number(table[name], CANONICAL_TYPES[canonical], column=name, where=where)
               for canonical, name in found.items()}

    def text(name: str, default: str | None) -> pa.Array:
        return to_text(table[extra[name]]) if name in extra else pa.array([default] * length, pa.string())

    value = to_number(table[extra["value"]], pa.float64(), column=extra["value"], where=where)
    prices, indicator = pc.utf8_lower(text("prices", "current")), text("indicator", None)
    refuse_unless_usd(text("currency", None), column="currency", where=where)
    refuse_unless(pc.or_kleene(pc.is_null(prices), pc.is_in(prices, pa.array(["current", "constant"]))), prices,
                  column="prices", expected="be 'current' or 'constant'", where=where)
    is_commitment = pc.fill_null(pc.match_substring(pc.utf8_lower(indicator), "commitment"), False)
    is_constant = pc.fill_null(pc.equal(prices, "constant"), False)
    columns.update(split_amounts(value, commitment=is_commitment, disbursement=pc.invert(is_commitment),
                                 current=pc.invert(is_constant), constant=is_constant))
    return drop_blank_rows(assemble(columns, length))


LAYOUT = Layout("purpose_summary", lambda source: {"purpose_code", "value"} <= set(source.lower_header),
                table_reader(_table))
