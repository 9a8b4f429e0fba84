"""The checked ``SELECT`` of the two bulk layouts (text, Parquet): columns matched case-insensitively (dotStat
``DEDonorcode``/``DERecipientcode`` for absent codes), every number checked, blank lines skipped."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from .. import codes
from ..errors import CRSFormatError
from ..opening import Source
from ..schema import AMOUNT_COLUMNS, CANONICAL_TYPES, CODE_RANGE, VALID_RANGES
from ..sql import identifier, literal

#: Canonical column -> candidate source names (lower case).
BULK_COLUMNS: dict[str, tuple[str, ...]] = {
    "year": ("year",), "donor_code": ("donorcode",), "donor_name": ("donorname",),
    "agency_code": ("agencycode",), "agency_name": ("agencyname",), "recipient_code": ("recipientcode",),
    "recipient_name": ("recipientname",), "region_name": ("regionname",), "flow_code": ("flowcode",),
    "finance_type": ("finance_t", "financetype"), "purpose_code": ("purposecode",),
    "purpose_name": ("purposename",), "sector_code": ("sectorcode",), "channel_code": ("channelcode",),
    "project_title": ("projecttitle",), "short_description": ("shortdescription",),
    "long_description": ("longdescription",), "usd_commitment": ("usd_commitment",),
    "usd_disbursement": ("usd_disbursement",), "usd_commitment_constant": ("usd_commitment_defl",),
    "usd_disbursement_constant": ("usd_disbursement_defl",),
}
#: Data Explorer codes in the 2024+ "dotStat format" bulk files.
BULK_DE_COLUMNS = {"donor_code": "dedonorcode", "recipient_code": "derecipientcode"}
BULK_REQUIRED = (("year", "Year"), ("donor_code", "DonorCode"), ("recipient_code", "RecipientCode"),
                 ("purpose_code", "PurposeCode"))
BAD = "oda_data:bad-value:"
NUMERIC = {name for name, kind in CANONICAL_TYPES.items() if not pa.types.is_string(kind)}


def matches(source: Source) -> bool:
    return bool({"purposecode", "donorcode", "dedonorcode"} & set(source.lower_header))


@dataclass(frozen=True)
class Numbers:
    """How a layout's numeric cells become ``DOUBLE``: ``value(column)`` (NULL when empty), ``unparsable(column)``
    (true for a cell neither empty nor a number), ``shown(column)`` (the cell as written)."""

    value: Callable[[str], str] = identifier
    unparsable: Callable[[str], str] = lambda column: "FALSE"
    shown: Callable[[str], str] = identifier


def columns(source: Source) -> tuple[dict[str, str], dict[str, str]]:
    """(canonical -> file column, canonical -> Data Explorer code column), or a CRSFormatError."""
    lower = source.lower_header
    found = {canonical: lower[name] for canonical, names in BULK_COLUMNS.items()
             for name in reversed(names) if name in lower}
    de_codes = {canonical: lower[name] for canonical, name in BULK_DE_COLUMNS.items()
                if canonical not in found and name in lower}
    missing = [shown for canonical, shown in BULK_REQUIRED if canonical not in found and canonical not in de_codes]
    shown = ", ".join(source.header[:30])
    if missing:
        raise CRSFormatError(f"{source.describe()}: missing required column(s) {', '.join(missing)} (matched "
                             f"case-insensitively) for the {source.kind} layout; found: {shown}")
    if not any(name.startswith("usd_") for name in found):
        raise CRSFormatError(f"{source.describe()}: missing required amount column: none of USD_Commitment, "
                             f"USD_Disbursement, USD_Commitment_Defl, USD_Disbursement_Defl (matched "
                             f"case-insensitively); found: {shown}")
    return found, de_codes


def _in_range(canonical: str, value: str) -> str:
    if canonical in AMOUNT_COLUMNS:
        return f"isfinite({value})"
    low, high = VALID_RANGES.get(canonical, CODE_RANGE)
    return f"({value} = trunc({value}) AND {value} BETWEEN {low} AND {high})"


def _number_sql(canonical: str, column: str, numbers: Numbers) -> str:
    value = numbers.value(column)
    bad = f"error({literal(BAD + column + ':')} || coalesce(CAST({numbers.shown(column)} AS VARCHAR), ''))"
    good = value if canonical in AMOUNT_COLUMNS else f"CAST({value} AS INTEGER)"
    return (f"CASE WHEN {numbers.unparsable(column)} THEN {bad} WHEN {value} IS NULL THEN NULL "
            f"WHEN {_in_range(canonical, value)} THEN {good} ELSE {bad} END")


def _de_code_sql(canonical: str, column: str) -> tuple[str, str]:
    """(DAC code, raw code) SQL for a Data Explorer code column of a dotStat bulk file."""
    mapping = codes.donor_de_to_dac() if canonical == "donor_code" else codes.recipient_de_to_dac()
    table = "MAP {" + ", ".join(f"{literal(key)}: {int(value)}" for key, value in mapping.items()) + "}"
    text = f"upper(trim(CAST({identifier(column)} AS VARCHAR)))"
    code = f"coalesce(map_extract_value({table}, {text}), TRY_CAST({text} AS INTEGER))"
    return code, f"CASE WHEN ({code}) IS NULL AND nullif({text}, '') NOT IN ('_T', '_Z') THEN {text} END"


def select(source: Source, relation: str, numbers: Numbers, refuse: str = "FALSE") -> tuple[str, dict[str, str]]:
    """The checked ``SELECT`` of the canonical and raw code columns from ``relation``; (sql, found).
    A row where the SQL condition ``refuse`` holds aborts the query (``error()``)."""
    found, de_codes = columns(source)
    parts, empty = [], []
    for canonical, kind in CANONICAL_TYPES.items():
        column = found.get(canonical)
        if column and pa.types.is_string(kind):
            part = f"nullif(CAST({identifier(column)} AS VARCHAR), '')"
            empty.append(f"{part} IS NULL")
        elif column:
            part = _number_sql(canonical, column, numbers)
            empty.append(f"({numbers.value(column)} IS NULL AND NOT ({numbers.unparsable(column)}))")
        elif canonical in de_codes:
            part = _de_code_sql(canonical, de_codes[canonical])[0]
            empty.append(f"nullif(trim(CAST({identifier(de_codes[canonical])} AS VARCHAR)), '') IS NULL")
        elif canonical == "sector_code" and "purpose_code" in found:
            part = f"CAST(({_number_sql('purpose_code', found['purpose_code'], numbers)}) // 100 AS INTEGER)"
        else:
            sql_type = "VARCHAR" if pa.types.is_string(kind) else "DOUBLE" if kind == pa.float64() else "INTEGER"
            part = f"CAST(NULL AS {sql_type})"
        parts.append(f"{part} AS {canonical}")
    for kind in ("donor", "recipient", "purpose"):
        code = de_codes.get(f"{kind}_code")
        parts.append(f"CAST({_de_code_sql(f'{kind}_code', code)[1] if code else 'NULL'} AS VARCHAR) AS {kind}_raw")
    keep = (f"CASE WHEN {refuse} THEN error({literal(BAD + '__row:')}) WHEN {' AND '.join(empty)} THEN FALSE "
            f"ELSE TRUE END")
    return f"SELECT {', '.join(parts)} FROM {relation} WHERE {keep}", found


def locate_bad(cursor, relation: str, found: dict[str, str], message: str, numbers: Numbers) -> tuple[int, str]:
    """(1-based data row, what is wrong) of the first value the checks refuse."""
    column = message.split(BAD, 1)[1].split(":", 1)[0]
    canonical = next((name for name, value in found.items() if value == column), "year")
    value = numbers.value(column)
    row, shown, unparsable = cursor.execute(
        f"SELECT __row, CAST({numbers.shown(column)} AS VARCHAR), {numbers.unparsable(column)} FROM (SELECT "
        f"row_number() OVER () AS __row, * FROM {relation}) WHERE ({numbers.unparsable(column)}) OR ({value} IS NOT "
        f"NULL AND NOT {_in_range(canonical, value)}) ORDER BY __row LIMIT 1").fetchone()
    if unparsable:
        return row, f"column {column!r} must be numeric; found {shown!r}"
    expected = ("a finite amount" if canonical in AMOUNT_COLUMNS
                else "a year in {}-{}".format(*VALID_RANGES["year"]) if canonical == "year"
                else "a whole code in {}-{}".format(*VALID_RANGES.get(canonical, CODE_RANGE)))
    return row, f"column {column!r}: found {shown!r}; expected {expected}"
