"""Donor, recipient and purpose code tables for the CRS readers, and the filter checks.

The OECD publishes two code systems for the same donors and recipients:

* the DAC/.Stat **numeric** codes used by the CRS bulk files (Japan = 701,
  Philippines = 755), which this package uses everywhere (the canonical frame,
  the ``donors=`` / ``recipients=`` filters);
* the **Data Explorer** codes used by SDMX-CSV downloads (Japan = ``JPN``,
  Philippines = ``PHL``, EU Institutions = ``4EU001``, "Africa, regional" =
  ``F_X``).

The tables in ``oda_data/data`` are complete: every provider (bilateral,
multilateral, private), every recipient (countries, regional and unspecified
codes) and every DAC purpose code, active and withdrawn. They are derived from
the official code lists by ``tests/fixtures/make_code_tables.py``; the sources
are named in ``oda_data/data/crs_tables.md``.

``crs_donor_codes.csv``
    ``donor_code, de_code, donor_name, donor_type, oecd_type``
    (``donor_type``: bilateral / multilateral / private).
``crs_recipient_codes.csv``
    ``recipient_code, de_code, recipient_name, recipient_type, region_code,
    region_name`` (``recipient_type``: country / regional / unspecified).
``crs_purpose_codes.csv``
    ``purpose_code, purpose_name, category_code, category_name, status``
    (``status``: active / withdrawn).

Conventions every reader follows:

* **A valid code is never refused.** A filter code is an error only when it is
  in none of the tables *and* absent from the source (almost surely a typo).
* **An unknown code in a source is kept.** A Data Explorer code the tables
  cannot convert leaves ``<kind>_code`` NA and keeps the code as read in the
  column :data:`RAW_COLUMNS` names (``donor_raw``, ``recipient_raw``,
  ``purpose_raw``); :func:`warn_unmapped` gives ONE warning per source and
  kind saying how many rows it affects.
* **Filters:** ``None`` means "no filter"; an empty list selects nothing, the
  same for ``donors``, ``recipients``, ``purpose_codes``, ``years`` and
  ``themes`` (see :func:`selects_nothing`).
"""
from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterable
from functools import lru_cache
from importlib.resources import files

import pandas as pd

from .._text import printable

#: Column that keeps a code as read when it cannot be converted, by kind.
RAW_COLUMNS = {"donor": "donor_raw", "recipient": "recipient_raw", "purpose": "purpose_raw"}

class CRSCodeWarning(UserWarning):
    """A code in a CRS source could not be mapped to a DAC numeric code."""


def _data_table(name: str) -> pd.DataFrame:
    with files("oda_data").joinpath("data", name).open("r", encoding="utf-8") as handle:
        return pd.read_csv(handle, dtype=str, keep_default_na=False)


@lru_cache(maxsize=None)
def donor_table() -> pd.DataFrame:
    """Return the shipped donor table (``donor_code`` as int)."""
    table = _data_table("crs_donor_codes.csv")
    return table.astype({"donor_code": "int64"})


@lru_cache(maxsize=None)
def recipient_table() -> pd.DataFrame:
    """Return the shipped recipient table (``recipient_code`` as int)."""
    table = _data_table("crs_recipient_codes.csv").astype({"recipient_code": "int64"})
    table["region_code"] = pd.to_numeric(table["region_code"].replace("", None)).astype("Int64")
    return table


@lru_cache(maxsize=None)
def purpose_table() -> pd.DataFrame:
    """Return the shipped purpose-code table (``purpose_code`` as int)."""
    table = _data_table("crs_purpose_codes.csv")
    return table.astype({"purpose_code": "int64", "category_code": "int64"})


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
    table = donor_table()
    return dict(zip(table["donor_code"], table["donor_name"]))


def recipient_names() -> dict[int, str]:
    """DAC recipient code -> English name."""
    table = recipient_table()
    return dict(zip(table["recipient_code"], table["recipient_name"]))


@lru_cache(maxsize=None)
def known_codes(kind: str) -> frozenset[int]:
    """Return the DAC numeric codes the package knows for ``kind``.

    Parameters
    ----------
    kind : {"donor", "recipient", "purpose"}
    """
    tables = {"donor": donor_table, "recipient": recipient_table, "purpose": purpose_table}
    if kind not in tables:
        raise ValueError(f"unknown code kind {kind!r}; expected one of: {', '.join(tables)}")
    return frozenset(int(code) for code in tables[kind]()[f"{kind}_code"])


def filter_values(values) -> list | None:
    """A filter argument as a list: ``None`` stays None (no filter), one value becomes a one-item list.

    An empty list stays empty: it selects nothing (see :func:`selects_nothing`).

    One value is a text, an integer (numpy's included) or anything that is not
    iterable; the item checks of the callers then accept or refuse it by name.
    """
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
    """Turn a filter argument into a list of ints, or raise a clear ValueError.

    ``None`` means "no filter". A single int is accepted as a one-item list.
    Strings such as ``"JPN"`` are refused with a hint: filters take the DAC
    numeric codes (``donors=[701]``).
    """
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
            raise ValueError(
                f"{parameter}: {value!r} is not a DAC numeric code; "
                f"{parameter}= takes integers such as 701 (Japan){hint}"
            )
        codes.append(int(value))
    return codes


def normalise_filter_years(values) -> list[int] | None:
    """Turn a ``years=`` argument into a list of ints within 1960-2100, or raise a clear ValueError."""
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
    """True when any normalised filter is an empty list: the query selects no row.

    ``None`` is "no filter" and an empty list is "none of these", for every
    filter alike (``donors=[]`` and ``themes=[]`` both give an empty frame).
    """
    return any(values is not None and len(values) == 0 for values in filters)


def check_filter_codes(requested, present, kind: str, parameter: str, source) -> None:
    """Raise ValueError for requested codes that are neither known nor present.

    The tables hold every official code, so a code absent from them and from
    the source file (``present``) is almost surely a typo. Known codes with no
    rows simply select nothing; a code the tables lack but the file holds (a
    code newer than the tables) is accepted.
    """
    if not requested:
        return
    unknown = sorted(set(requested) - known_codes(kind) - set(present))
    if unknown:
        examples = {
            "donor": "701 (Japan), 302 (United States)",
            "recipient": "755 (Philippines), 769 (Viet Nam)",
            "purpose": "15210, 16063",
        }[kind]
        raise ValueError(
            f"{parameter}: unknown {kind} code(s) {unknown}: not in oda_data's "
            f"{kind} table and not found in {printable(source)}; expected DAC numeric codes "
            f"such as {examples}"
        )


def warn_unmapped(kind: str, codes, source, rows: int | None = None) -> None:
    """Warn once that Data Explorer ``codes`` could not be converted to DAC numeric codes.

    The rows are kept: ``<kind>_code`` is NA there and the code as read is in
    ``RAW_COLUMNS[kind]``. ``rows``: how many rows carry such a code (the
    warning says so when given). Codes come from a file: control characters
    are escaped.
    """
    codes = sorted({printable(code) for code in codes})
    if not codes:
        return
    shown = ", ".join(codes[:10]) + (" ..." if len(codes) > 10 else "")
    affected = f"{rows} row(s) with " if rows is not None else ""
    warnings.warn(
        f"{printable(source)}: {affected}{len(codes)} Data Explorer {kind} code(s) not in "
        f"oda_data's {kind} table ({shown}): kept with {kind}_code NA and the code as "
        f"read in column {RAW_COLUMNS[kind]}",
        CRSCodeWarning,
        stacklevel=3,
    )
