"""The donor, recipient and purpose code tables (complete: ``oda_data/data/crs_tables.md``) and the filter checks.

Filters take DAC numeric codes (Japan = 701), Data Explorer files carry their own (``JPN``). A valid code is
never refused: a filter code is an error only when it is in no table *and* absent from the source (a typo).
A source's code the tables cannot convert is kept raw (``donor_raw`` ...), with one warning per source and kind.
"""
from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterable
from functools import lru_cache
from importlib.resources import files

import pandas as pd

from .._text import printable


class CRSCodeWarning(UserWarning):
    """A code in a CRS source could not be mapped to a DAC numeric code."""


def _data_table(name: str) -> pd.DataFrame:
    with files("oda_data").joinpath("data", name).open("r", encoding="utf-8") as handle:
        return pd.read_csv(handle, dtype=str, keep_default_na=False)


@lru_cache(maxsize=None)
def donor_table() -> pd.DataFrame:
    return _data_table("crs_donor_codes.csv").astype({"donor_code": "int64"})


@lru_cache(maxsize=None)
def recipient_table() -> pd.DataFrame:
    table = _data_table("crs_recipient_codes.csv").astype({"recipient_code": "int64"})
    table["region_code"] = pd.to_numeric(table["region_code"].replace("", None)).astype("Int64")
    return table


@lru_cache(maxsize=None)
def purpose_table() -> pd.DataFrame:
    return _data_table("crs_purpose_codes.csv").astype({"purpose_code": "int64", "category_code": "int64"})


def _de_map(table: pd.DataFrame, code_column: str) -> dict[str, int]:
    listed = table[table["de_code"] != ""]  # a few codes have no Data Explorer code
    return dict(zip(listed["de_code"], listed[code_column]))


def donor_de_to_dac() -> dict[str, int]:
    """Data Explorer donor code (``JPN``) -> DAC numeric code (701)."""
    return _de_map(donor_table(), "donor_code")


def recipient_de_to_dac() -> dict[str, int]:
    """Data Explorer recipient code (``PHL``, ``F3_X``) -> DAC numeric code (755, 1027)."""
    return _de_map(recipient_table(), "recipient_code")


def donor_names() -> dict[int, str]:
    """DAC donor code -> English name."""
    return dict(zip(donor_table()["donor_code"], donor_table()["donor_name"]))


def recipient_names() -> dict[int, str]:
    """DAC recipient code -> English name."""
    return dict(zip(recipient_table()["recipient_code"], recipient_table()["recipient_name"]))


@lru_cache(maxsize=None)
def known_codes(kind: str) -> frozenset[int]:
    """The DAC numeric codes the package knows for ``kind`` ("donor", "recipient" or "purpose")."""
    table = {"donor": donor_table, "recipient": recipient_table, "purpose": purpose_table}[kind]()
    return frozenset(int(code) for code in table[f"{kind}_code"])


def filter_values(values) -> list | None:
    """A filter argument as a list: None stays None (no filter), one value (text, integer, any non-iterable)
    becomes a one-item list, an empty list stays empty (it selects nothing)."""
    if values is None:
        return None
    if isinstance(values, (str, numbers.Integral)) or not isinstance(values, Iterable):
        return [values]
    return list(values)


def _is_whole_number(value) -> bool:
    """An integer (Python or numpy, not a bool) or a text of digits."""
    if isinstance(value, str):
        return value.strip().isdigit()
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def normalise_filter_codes(values, parameter: str) -> list[int] | None:
    """A filter argument as a list of ints; ValueError for anything else (``"JPN"`` with a hint: 701)."""
    values = filter_values(values)
    if values is None:
        return None
    de_codes = {"donors": donor_de_to_dac, "recipients": recipient_de_to_dac}
    codes = []
    for value in values:
        if not _is_whole_number(value):
            mapped = None
            if parameter in de_codes and isinstance(value, str):
                mapped = de_codes[parameter]().get(value.strip().upper())
            hint = f" (did you mean {mapped}?)" if mapped else ""
            raise ValueError(f"{parameter}: {value!r} is not a DAC numeric code; "
                             f"{parameter}= takes integers such as 701 (Japan){hint}")
        codes.append(int(value))
    return codes


def normalise_filter_years(values) -> list[int] | None:
    """A ``years=`` argument as a list of ints within 1960-2100, or a clear ValueError."""
    values = filter_values(values)
    if values is None:
        return None
    years = []
    for value in values:
        if not _is_whole_number(value):
            raise ValueError(f"years: {value!r} is not a year; years= takes integers such as 2018")
        year = int(value)
        if not 1960 <= year <= 2100:
            raise ValueError(f"years: {year} is outside 1960-2100")
        years.append(year)
    return years


def selects_nothing(*filters) -> bool:
    """True when any normalised filter is an empty list ("none of these"): the query selects no row."""
    return any(values is not None and len(values) == 0 for values in filters)


def check_filter_codes(requested, present, kind: str, parameter: str, source) -> None:
    """ValueError for requested codes in no table and not ``present`` in the source (almost surely a typo)."""
    unknown = sorted(set(requested) - known_codes(kind) - set(present))
    if unknown:
        examples = {"donor": "701 (Japan), 302 (United States)", "recipient": "755 (Philippines), 769 (Viet Nam)",
                    "purpose": "15210, 16063"}[kind]
        raise ValueError(f"{parameter}: unknown {kind} code(s) {unknown}: not in oda_data's {kind} table and not "
                         f"found in {printable(source)}; expected DAC numeric codes such as {examples}")


def warn_unmapped(kind: str, codes, source, rows: int | None = None) -> None:
    """Warn once that Data Explorer ``codes`` (in ``rows`` rows) could not be converted; the rows are kept."""
    codes = sorted({printable(code) for code in codes})
    if not codes:
        return
    shown = ", ".join(codes[:10]) + (" ..." if len(codes) > 10 else "")
    affected = f"{rows} row(s) with " if rows is not None else ""
    warnings.warn(f"{printable(source)}: {affected}{len(codes)} Data Explorer {kind} code(s) not in oda_data's "
                  f"{kind} table ({shown}): kept with {kind}_code NA and the code as read in column {kind}_raw",
                  CRSCodeWarning, stacklevel=3)
