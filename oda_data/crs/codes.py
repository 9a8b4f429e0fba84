"""Donor, recipient and purpose code maps for the CRS readers.

The OECD publishes two code systems for the same donors and recipients:

* the DAC/.Stat **numeric** codes used by the CRS bulk files (Japan = 701,
  Philippines = 755), which this package uses everywhere (the canonical frame,
  the ``donors=`` / ``recipients=`` filters);
* the **Data Explorer** codes used by SDMX-CSV downloads (Japan = ``JPN``,
  Philippines = ``PHL``, EU Institutions = ``4EU001``, "Far East Asia,
  regional" = ``S97_X``).

The small tables shipped in ``oda_data/data`` map one to the other:

``crs_donor_codes.csv``
    ``donor_code, de_code, donor_name, donor_type``: the DAC members, the EU
    Institutions and the main non-DAC bilateral providers.
``crs_recipient_codes.csv``
    ``recipient_code, de_code, recipient_name``: the ODA-eligible countries
    of the regions the White Paper chapter covers, and the main regional codes.
``crs_purpose_codes.csv``
    ``purpose_code, purpose_name``: the purpose codes used by the security
    theme mapping (:mod:`oda_data.crs.themes`).

Source: OECD DAC and CRS code lists, "Provider" and "Recipient" lists
(https://www.oecd.org/dac/stats/dacandcrscodelists.htm, as served in 2026-06,
fields ``code`` and ``dotstatcode``) and the "Sector" list of 2022-09-06 for
purpose names. The tables were written for this project from those facts;
``tests/test_crs_codes.py`` checks every row against the official lists when
``../shared/data/codelists`` is present.

The tables are deliberately small. A code absent from them is still accepted
when the source file itself contains it (see :func:`check_filter_codes`); a
Data Explorer code absent from them cannot be converted and becomes NA with a
:class:`CRSCodeWarning`.
"""
from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterable
from functools import lru_cache
from importlib.resources import files

import pandas as pd


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
    table = _data_table("crs_recipient_codes.csv")
    return table.astype({"recipient_code": "int64"})


@lru_cache(maxsize=None)
def purpose_table() -> pd.DataFrame:
    """Return the shipped purpose-code table (``purpose_code`` as int)."""
    table = _data_table("crs_purpose_codes.csv")
    return table.astype({"purpose_code": "int64"})


def donor_de_to_dac() -> dict[str, int]:
    """Data Explorer donor code (``JPN``) -> DAC numeric code (701)."""
    table = donor_table()
    return dict(zip(table["de_code"], table["donor_code"]))


def recipient_de_to_dac() -> dict[str, int]:
    """Data Explorer recipient code (``PHL``) -> DAC numeric code (755)."""
    table = recipient_table()
    return dict(zip(table["de_code"], table["recipient_code"]))


def donor_names() -> dict[int, str]:
    """DAC donor code -> English name."""
    table = donor_table()
    return dict(zip(table["donor_code"], table["donor_name"]))


def recipient_names() -> dict[int, str]:
    """DAC recipient code -> English name."""
    table = recipient_table()
    return dict(zip(table["recipient_code"], table["recipient_name"]))


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


def check_filter_codes(requested, present, kind: str, parameter: str, source) -> None:
    """Raise ValueError for requested codes that are neither known nor present.

    A code is *unknown* when it is absent from the package's table for
    ``kind`` and also absent from the source file (``present``): such a code
    is almost surely a typo. Known codes with no rows simply select nothing.
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
            f"{kind} table and not found in {source}; expected DAC numeric codes "
            f"such as {examples}"
        )


def warn_unmapped(kind: str, codes, source) -> None:
    """Warn that Data Explorer codes could not be mapped (rows keep NA codes)."""
    codes = sorted(set(codes))
    if codes:
        shown = ", ".join(codes[:10]) + (" ..." if len(codes) > 10 else "")
        warnings.warn(
            f"{source}: {len(codes)} Data Explorer {kind} code(s) not in oda_data's "
            f"{kind} table were left as NA {kind}_code: {shown}",
            CRSCodeWarning,
            stacklevel=3,
        )
