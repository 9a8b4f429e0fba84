"""Security and stability ODA in an OECD CRS source, and the White Paper against it.

What the two CRS notebooks compute, as plain functions on the canonical frame
of :func:`oda_data.read_crs` (amounts in **USD million**, as the CRS gives them):

* **Where the data comes from** (:func:`resolve_source`): the ``crs_source``
  parameter, else ``$ODA_CRS_SOURCE``, else the package's demonstration file
  (:data:`DEMO_FILE`: invented activities, not OECD figures, so that the
  notebooks run in any fresh clone).
* **Security trends** (:func:`check_trends_parameters`, :func:`load_trends`,
  then :func:`by_theme_year`, :func:`by_region`, :func:`top_recipients`,
  :func:`donor_comparison`, :func:`theme_mix`): security ODA by theme, year,
  region and recipient for the chosen donors, and every donor of the source
  side by side with its security share of its own total.
* **White Paper against CRS** (:func:`load_queries`,
  :func:`compare_white_paper`): for each White Paper figure with a CRS
  counterpart, the CRS query of ``data/white_paper_crs_queries.yaml``, its
  total, the gap and the reasons they can differ.

"Security ODA" means the rows :func:`oda_data.tag_themes` gives one of the
chapter's themes (:data:`oda_data.THEMES`); "total" means every row of the
donor in the source over the same years. Regions are the broad DAC regions of
the recipient codes (``data/crs_regions.csv``): the same whatever the layout,
even for files without a region column.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from numbers import Integral
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .crs import read_crs
from .crs import codes as crs_codes
from .crs.themes import RULES_VERSION
from .analysis import with_money
from .narrative import describe_change, format_money, format_years, record_period
from .params import MoneyBasis, ParameterError, check_choice
from .themes import THEMES, theme_label
from .white_paper import REPORT_YEAR, white_paper

__all__ = [
    "DEMO_FILE",
    "FLOWS",
    "PRICES",
    "QUERIES_FILE",
    "SOURCE_ENV_VAR",
    "UNIT",
    "REGIONS",
    "CRSQuery",
    "CRSSource",
    "SecurityTrends",
    "TrendsQuery",
    "WhitePaperComparison",
    "amount_column",
    "by_region",
    "by_theme_year",
    "channel_table",
    "check_trends_parameters",
    "compare_white_paper",
    "demo_source_path",
    "donor_comparison",
    "load_queries",
    "load_trends",
    "read_source",
    "region_of",
    "region_table",
    "resolve_source",
    "select",
    "theme_mix",
    "theme_rules_version",
    "top_recipients",
    "yearly_totals",
]

#: Environment variable naming the CRS source when no parameter does.
SOURCE_ENV_VAR = "ODA_CRS_SOURCE"
#: The demonstration file shipped in ``oda_data/data`` (made by
#: ``tests/fixtures/crs/make_demo_crs.py``; described in ``crs_demo.md``).
DEMO_FILE = "crs_demo_security_2016_2020.csv"
#: The White Paper -> CRS query table in ``oda_data/data``.
QUERIES_FILE = "white_paper_crs_queries.yaml"
#: Values of the ``flow`` parameter.
FLOWS = ("disbursements", "commitments")
#: Values of the ``prices`` parameter.
PRICES = ("current", "constant")
#: The unit of every CRS amount here.
UNIT = "USD million"
#: Region of recipients whose code no range of ``crs_regions.csv`` covers.
UNKNOWN_REGION = "Unspecified"

_AMOUNT_COLUMNS = {
    ("disbursements", "current"): "usd_disbursement",
    ("commitments", "current"): "usd_commitment",
    ("disbursements", "constant"): "usd_disbursement_constant",
    ("commitments", "constant"): "usd_commitment_constant",
}
_ORIGINS = {"parameter": "the crs_source parameter", "environment": f"${SOURCE_ENV_VAR}", "demo": "the demo default"}


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class CRSSource:
    """A CRS file and how it was chosen.

    Attributes
    ----------
    path : pathlib.Path
        Absolute path of the file (never shown in notebook outputs; use ``name``).
    origin : {"parameter", "environment", "demo"}
        Where the path came from (see :func:`resolve_source`).
    """

    path: Path
    origin: str

    @property
    def name(self) -> str:
        """The file name alone: what notebooks show (no absolute paths in outputs)."""
        return self.path.name

    @property
    def is_demo(self) -> bool:
        """True when this is the package's demonstration file (invented data)."""
        return self.origin == "demo"


def demo_source_path() -> Path:
    """Path of the shipped demonstration CRS file (:data:`DEMO_FILE`)."""
    return Path(str(files("oda_data").joinpath("data", DEMO_FILE)))


def resolve_source(crs_source=None, *, environ: Mapping[str, str] | None = None) -> CRSSource:
    """Choose the CRS source: parameter > ``$ODA_CRS_SOURCE`` > demonstration file.

    Parameters
    ----------
    crs_source : str or os.PathLike, optional
        A CRS file in any layout :func:`oda_data.read_crs` reads. A relative
        path is taken from the current folder (a notebook's kernel runs in the
        notebook's folder). ``None`` or ``""`` means "not given".
    environ : mapping, optional
        Environment to read ``ODA_CRS_SOURCE`` from; default ``os.environ``.

    Returns
    -------
    CRSSource

    Raises
    ------
    FileNotFoundError
        The chosen file does not exist; the message names it and where it came from.
    """
    environ = os.environ if environ is None else environ
    if crs_source is not None and str(crs_source).strip():
        path, origin = Path(crs_source), "parameter"
    elif environ.get(SOURCE_ENV_VAR, "").strip():
        path, origin = Path(environ[SOURCE_ENV_VAR].strip()), "environment"
    else:
        return CRSSource(demo_source_path(), "demo")
    path = path.expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"CRS source not found: {str(path)!r} (from {_ORIGINS[origin]}); give the path of an "
            f"OECD CRS file (`oda-data download crs --reduced` fetches one), or leave crs_source "
            f"and ${SOURCE_ENV_VAR} unset to use the demonstration data"
        )
    return CRSSource(path.resolve(), origin)


def _clean_note(message: str, source: CRSSource) -> str:
    # Reader notes name the file by its full path: keep outputs free of absolute paths.
    for text in (str(source.path), str(source.path.parent)):
        message = message.replace(text, source.name if text == str(source.path) else ".")
    return message


def read_source(source: CRSSource, **filters) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """:func:`oda_data.read_crs` with the reader's notes collected, not printed.

    The reader warns on the first read (conversion) and repeats its notes on
    cached reads; collecting them makes a notebook's output the same whether
    the cache was cold or warm. Notes name the file by its name only.

    Parameters
    ----------
    source : CRSSource
    **filters
        Passed to :func:`oda_data.read_crs` (``donors``, ``years``, ``themes``,
        ``columns`` ...); ``progress`` is always off.

    Returns
    -------
    (pandas.DataFrame, tuple of str)
        The canonical frame and the distinct reader notes, sorted.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = read_crs(source.path, progress=False, **filters)
    notes = []
    for warning in caught:
        if issubclass(warning.category, UserWarning) and warning.category.__module__.startswith("oda_data"):
            notes.append(_clean_note(str(warning.message), source))
        else:  # not the reader's: let it through unchanged
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return frame, tuple(sorted(set(notes)))


# --------------------------------------------------------------------------- code tables


@lru_cache(maxsize=1)
def region_table() -> pd.DataFrame:
    """Broad DAC regions by recipient-code range (``data/crs_regions.csv``)."""
    with files("oda_data").joinpath("data", "crs_regions.csv").open("r", encoding="utf-8") as handle:
        return pd.read_csv(handle, dtype={"first_code": "int64", "last_code": "int64", "region": str, "dac_regions": str})


#: The broad regions, in the order tables list them.
REGIONS = ("Africa", "America", "Asia", "Europe", "Middle East", "Oceania", UNKNOWN_REGION)


def region_of(recipient_codes) -> pd.Series:
    """Broad DAC region of each recipient code (``Unspecified`` when unknown or missing).

    DAC recipient codes are numbered by region (Africa 130-299, Middle East
    540-589, ...): the ranges are in ``data/crs_regions.csv``, checked against
    the official Recipient list by the tests.

    Examples
    --------
    >>> region_of([273, 755, 543, 998]).tolist()
    ['Africa', 'Asia', 'Middle East', 'Unspecified']
    """
    codes = pd.Series(recipient_codes, dtype="float64").to_numpy()
    result = np.full(len(codes), UNKNOWN_REGION, dtype=object)
    for row in region_table().itertuples(index=False):
        result[(codes >= row.first_code) & (codes <= row.last_code)] = row.region
    index = recipient_codes.index if isinstance(recipient_codes, pd.Series) else None
    return pd.Series(result, index=index, dtype=str, name="region")


@lru_cache(maxsize=1)
def channel_table() -> pd.DataFrame:
    """Channel-of-delivery codes the query table uses (``data/crs_channel_codes.csv``)."""
    with files("oda_data").joinpath("data", "crs_channel_codes.csv").open("r", encoding="utf-8") as handle:
        return pd.read_csv(handle, dtype={"channel_code": "int64"}, keep_default_na=False)


# --------------------------------------------------------------------------- parameters


def amount_column(flow: str, prices: str) -> str:
    """Canonical amount column of a flow and price base (``usd_disbursement`` ...).

    Raises
    ------
    oda_data.params.ParameterError
        Naming the parameter and its valid values.
    """
    check_choice("flow", flow, FLOWS)
    check_choice("prices", prices, PRICES)
    return _AMOUNT_COLUMNS[(flow, prices)]


def _int_list(name: str, value, example: str) -> tuple[int, ...]:
    if isinstance(value, Integral) and not isinstance(value, bool):
        value = [value]
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ParameterError(f"parameter {name!r} = {value!r} is not valid; give a list of whole numbers such as {example}")
    items = list(value)
    bad = [item for item in items if isinstance(item, bool) or not isinstance(item, Integral)]
    if bad or not items:
        raise ParameterError(
            f"parameter {name!r} = {value!r} is not valid; give a non-empty list of whole numbers such as {example}"
        )
    return tuple(dict.fromkeys(int(item) for item in items))


@dataclass(frozen=True)
class TrendsQuery:
    """The validated parameters of the security-trends notebook."""

    source: CRSSource
    donors: tuple[int, ...]
    years: tuple[int, ...] | None
    themes: tuple[str, ...]
    flow: str
    prices: str

    @property
    def amount_column(self) -> str:
        """The canonical column summed (``usd_disbursement`` ...)."""
        return amount_column(self.flow, self.prices)

    @property
    def unit_label(self) -> str:
        """Axis-title unit: ``"USD million, current prices"``."""
        return f"{UNIT}, {self.prices_phrase}"

    @property
    def prices_phrase(self) -> str:
        """``"current prices"`` or ``"constant prices"`` (of the file's base year)."""
        return "current prices" if self.prices == "current" else "constant prices (the CRS release's base year)"

    @property
    def flow_phrase(self) -> str:
        """``"gross disbursements"`` or ``"commitments"``."""
        return "gross disbursements" if self.flow == "disbursements" else "commitments"


def check_trends_parameters(
    crs_source=None,
    donors=(701,),
    years=None,
    themes=None,
    flow: str = "disbursements",
    prices: str = "current",
) -> TrendsQuery:
    """Validate the parameters of ``crs_security_trends.ipynb``.

    Parameters
    ----------
    crs_source : str or os.PathLike, optional
        See :func:`resolve_source`.
    donors : int or list of int
        DAC donor codes to focus on (701 = Japan); checked against the source
        by :func:`load_trends`.
    years : int or list of int, optional
        Reporting years; default every year of the source.
    themes : str or list of str, optional
        Ids of :data:`oda_data.THEMES`; default all nine.
    flow : {"disbursements", "commitments"}
    prices : {"current", "constant"}

    Returns
    -------
    TrendsQuery

    Raises
    ------
    oda_data.params.ParameterError
        A bad value, with the valid choices.
    FileNotFoundError
        The CRS source does not exist.
    """
    check_choice("flow", flow, FLOWS)
    check_choice("prices", prices, PRICES)
    donor_codes = _int_list("donors", donors, "[701] (Japan)")
    year_list = None
    if years is not None:
        year_list = tuple(sorted(_int_list("years", years, "[2018, 2019, 2020]")))
        for year in year_list:
            if not 1960 <= year <= 2100:
                raise ParameterError(f"parameter 'years' holds {year}, which is not a reporting year (1960-2100)")
    if themes is None:
        theme_list = tuple(THEMES)
    else:
        raw = [themes] if isinstance(themes, str) else list(themes)
        if not raw:
            raise ParameterError(f"parameter 'themes' is empty; choose some of: {', '.join(THEMES)} (or None for all)")
        theme_list = tuple(dict.fromkeys(check_choice("themes", theme, THEMES) for theme in raw))
    return TrendsQuery(resolve_source(crs_source), donor_codes, year_list, theme_list, flow, prices)


# --------------------------------------------------------------------------- trends

_TREND_COLUMNS = ["year", "donor_code", "donor_name", "recipient_code", "recipient_name",
                  "purpose_code", "channel_code"]


@dataclass
class SecurityTrends:
    """What :func:`load_trends` read: security rows of every donor and each donor's total.

    Attributes
    ----------
    query : TrendsQuery
    security : pandas.DataFrame
        One row per security activity (any donor) in the selected years and
        themes: ``year, donor_code, donor, recipient_code, recipient, region,
        purpose_code, channel_code, theme, theme_label, amount`` (``amount`` in
        USD million of the chosen flow and prices; missing amounts count 0).
    totals : pandas.DataFrame
        Every donor of the source: ``donor_code, donor, total`` (USD million,
        all purposes, same years, flow and prices).
    years : tuple of int
        The years analysed (the source's years when ``years`` was not given).
    notes : tuple of str
        The reader's notes, plus any said here (years missing from the source).
    """

    query: TrendsQuery
    security: pd.DataFrame
    totals: pd.DataFrame
    years: tuple[int, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)
    text_available: bool = True

    @property
    def focus(self) -> pd.DataFrame:
        """The security rows of the chosen donors."""
        return self.security.loc[self.security["donor_code"].isin(self.query.donors)]

    @property
    def focus_names(self) -> list[str]:
        """Names of the chosen donors, in the order given."""
        names = dict(zip(self.totals["donor_code"], self.totals["donor"]))
        return [names.get(code, str(code)) for code in self.query.donors]


def _donor_labels(frame: pd.DataFrame) -> pd.Series:
    """The file's donor name, else the package's, else the code."""
    table = crs_codes.donor_names()
    codes = frame["donor_code"].astype("Int64")
    fallback = codes.map(lambda code: table.get(int(code), str(int(code))) if pd.notna(code) else "Unknown donor")
    names = frame["donor_name"].astype(object) if "donor_name" in frame else pd.Series(pd.NA, index=frame.index)
    return names.where(names.notna(), fallback).astype(str)


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Arrow-backed columns -> numpy/object ones (simpler groupby and formatting)."""
    out = pd.DataFrame(index=frame.index)
    for name, column in frame.items():
        if pd.api.types.is_float_dtype(column.dtype):
            out[name] = column.astype("float64")
        elif pd.api.types.is_integer_dtype(column.dtype):
            out[name] = column.astype("Int64")
        else:
            out[name] = column.astype(object).where(column.notna(), None)
    return out


def load_trends(query: TrendsQuery) -> SecurityTrends:
    """Read what the security-trends notebook shows from ``query.source``.

    Two reads of the (cached) source: each donor's total over the years, and
    the security rows (tagged by :func:`oda_data.tag_themes`) of every donor.

    Raises
    ------
    oda_data.params.ParameterError
        A donor or year absent from the source (listing those present), or a
        flow/prices combination the source carries no amounts for (listing
        the combinations it has).
    """
    column = query.amount_column
    everything, notes = read_source(query.source, columns=["year", "donor_code", "donor_name", *_AMOUNT_COLUMNS.values()])
    source_years = sorted(int(year) for year in everything["year"].dropna().unique())
    if query.years is None:
        years = tuple(source_years)
    else:
        years = tuple(year for year in query.years if year in source_years)
        if not years:
            raise ParameterError(
                f"parameter 'years' = {list(query.years)}: the CRS source {query.source.name} holds no row for "
                f"these years; it covers {format_years(source_years)}"
            )
        missing = [year for year in query.years if year not in source_years]
        if missing:
            notes += (f"The source has no rows for {', '.join(map(str, missing))}; those years are left out.",)
    everything = everything.loc[everything["year"].isin(years)]
    present = {name: everything[name].notna().any() for name in _AMOUNT_COLUMNS.values()}
    if not present[column]:
        available = [f"flow={f!r}, prices={p!r}" for (f, p), name in _AMOUNT_COLUMNS.items() if present[name]]
        raise ParameterError(
            f"flow={query.flow!r} with prices={query.prices!r}: the CRS source {query.source.name} carries no such "
            f"amounts (column {column} is empty); it has: {'; '.join(available) or 'no amounts at all'}"
        )
    donors_present = everything.drop_duplicates("donor_code")
    donors_present = donors_present.assign(donor=_donor_labels(donors_present))
    unknown = [code for code in query.donors if code not in set(donors_present["donor_code"].dropna().astype(int))]
    if unknown:
        listing = ", ".join(f"{int(r.donor_code)} ({r.donor})" for r in donors_present.sort_values("donor_code").itertuples()
                            if pd.notna(r.donor_code))
        raise ParameterError(
            f"parameter 'donors': {unknown} not in the CRS source {query.source.name} for {format_years(years)}; "
            f"donors present: {listing}"
        )
    everything = everything.assign(donor=_donor_labels(everything))
    totals = (
        everything.groupby(["donor_code", "donor"], dropna=False)[column]
        .sum(min_count=0)
        .astype("float64")
        .rename("total")
        .reset_index()
    )
    totals["donor_code"] = totals["donor_code"].astype("Int64")
    # A donor may be spelled two ways in one file: one row per code, the first name.
    totals = totals.groupby("donor_code", as_index=False).agg(donor=("donor", "first"), total=("total", "sum"))

    rows, more_notes = read_source(
        query.source, years=list(years), themes=list(query.themes),
        columns=[*_TREND_COLUMNS, column, "theme", "project_title"],
    )
    notes = tuple(dict.fromkeys(notes + more_notes))  # distinct, first seen first
    # Whether the file has titles at all (the aggregated exports do not): without
    # them only the purpose-code rules can tag a row.
    probe, _ = read_source(query.source, columns=["project_title", "short_description"], years=list(years))
    text_available = bool(probe["project_title"].notna().any() or probe["short_description"].notna().any())
    security = _plain(rows.drop(columns=["project_title"]))
    security["donor"] = _donor_labels(rows).to_numpy()
    security["recipient"] = security["recipient_name"].where(
        security["recipient_name"].notna(),
        security["recipient_code"].map(lambda c: crs_codes.recipient_names().get(int(c), str(int(c))) if pd.notna(c) else "Unspecified"),
    ).astype(str)
    security["region"] = region_of(security["recipient_code"]).to_numpy()
    security["theme_label"] = security["theme"].map(theme_label)
    security["amount"] = security[column].fillna(0.0).astype("float64")
    security = security.drop(columns=["donor_name", "recipient_name", column]).reset_index(drop=True)
    return SecurityTrends(query, security, totals, years, notes, text_available)


def by_theme_year(security: pd.DataFrame, themes: Iterable[str] = THEMES, years: Iterable[int] | None = None) -> pd.DataFrame:
    """Security ODA by theme (rows, in :data:`~oda_data.THEMES` order) and year (columns).

    Parameters
    ----------
    security : pandas.DataFrame
        Rows with ``theme``, ``year`` and ``amount`` (e.g. ``SecurityTrends.focus``).
    themes : iterable of str
        Themes to show as rows (all rows shown, zeros included).
    years : iterable of int, optional
        Years to show as columns; default those in ``security``.

    Returns
    -------
    pandas.DataFrame
        USD million; index = theme labels, columns = years, plus a ``Total``
        column. No total row: add one when displaying.
    """
    themes = [theme for theme in THEMES if theme in set(themes)]
    years = sorted(set(security["year"].dropna().astype(int)) if years is None else set(years))
    table = security.pivot_table(index="theme", columns="year", values="amount", aggfunc="sum", fill_value=0.0)
    table = table.reindex(index=themes, columns=years, fill_value=0.0).astype("float64")
    table.columns = [int(year) for year in table.columns]
    table["Total"] = table.sum(axis=1)
    table.index = [theme_label(theme) for theme in themes]
    table.index.name = "theme"
    return table


def yearly_totals(security: pd.DataFrame, years: Iterable[int]) -> pd.Series:
    """Security ODA per year (USD million), every year of ``years`` present (zeros included)."""
    return security.groupby("year")["amount"].sum().reindex(list(years), fill_value=0.0).astype("float64")


def _with_shares(frame: pd.DataFrame, value: str = "amount") -> pd.DataFrame:
    total = frame[value].sum()
    frame = frame.copy()
    frame["share"] = frame[value] / total * 100.0 if total else 0.0
    return frame


def by_region(security: pd.DataFrame) -> pd.DataFrame:
    """Security ODA by broad DAC region: ``region, amount`` (USD million), ``share`` (%).

    Largest first; the shares sum to 100 (when there is any money).
    """
    table = security.groupby("region", as_index=False)["amount"].sum()
    table = table.sort_values(["amount", "region"], ascending=[False, True], kind="stable").reset_index(drop=True)
    return _with_shares(table)


def top_recipients(security: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The ``n`` largest recipients of security ODA.

    Returns
    -------
    pandas.DataFrame
        ``rank, recipient, region, amount`` (USD million), ``share`` (% of all
        the security ODA in ``security``), ``activities``; largest first, ties
        by name. Shares are of the whole, so the top ``n`` may sum to less than 100.
    """
    if n < 1:
        raise ValueError(f"top_recipients: n must be at least 1, got {n}")
    grouped = security.groupby(["recipient_code", "recipient", "region"], dropna=False, as_index=False).agg(
        amount=("amount", "sum"), activities=("amount", "size"))
    grouped = _with_shares(grouped)
    grouped = grouped.sort_values(["amount", "recipient"], ascending=[False, True], kind="stable").head(n)
    grouped.insert(0, "rank", range(1, len(grouped) + 1))
    return grouped[["rank", "recipient", "region", "amount", "share", "activities"]].reset_index(drop=True)


def donor_comparison(security: pd.DataFrame, totals: pd.DataFrame, focus: Iterable[int] = (701,)) -> pd.DataFrame:
    """Every donor of the source: its security ODA and the share of its own total.

    Parameters
    ----------
    security : pandas.DataFrame
        Security rows of every donor (``donor_code``, ``amount``).
    totals : pandas.DataFrame
        ``donor_code, donor, total``: each donor's ODA of every purpose.
    focus : iterable of int
        Donor codes to flag (``focus`` column).

    Returns
    -------
    pandas.DataFrame
        ``rank, donor_code, donor, security, total`` (USD million),
        ``security_share`` (% of the donor's own total), ``share_of_all``
        (% of all donors' security ODA; sums to 100), ``focus`` (bool);
        largest security ODA first, ties by name.
    """
    focus = set(focus)
    by_donor = security.groupby("donor_code")["amount"].sum()
    table = totals.copy()
    table["security"] = table["donor_code"].map(by_donor).fillna(0.0).astype("float64")
    table["security_share"] = table["security"] / table["total"].where(table["total"] > 0) * 100.0
    all_security = table["security"].sum()
    table["share_of_all"] = table["security"] / all_security * 100.0 if all_security else 0.0
    table["focus"] = table["donor_code"].isin(focus)
    table = table.sort_values(["security", "donor"], ascending=[False, True], kind="stable").reset_index(drop=True)
    table.insert(0, "rank", range(1, len(table) + 1))
    return table[["rank", "donor_code", "donor", "security", "total", "security_share", "share_of_all", "focus"]]


def theme_mix(security: pd.DataFrame, themes: Iterable[str] = THEMES) -> pd.DataFrame:
    """Each donor's security ODA split by theme, in % of the donor's security total.

    Returns
    -------
    pandas.DataFrame
        Index: donor names (largest security ODA first); columns: theme labels
        (in :data:`~oda_data.THEMES` order); each row sums to 100. Donors
        without security ODA are left out.
    """
    themes = [theme for theme in THEMES if theme in set(themes)]
    if security.empty:
        return pd.DataFrame(columns=[theme_label(t) for t in themes], dtype="float64")
    amounts = security.pivot_table(index="donor", columns="theme", values="amount", aggfunc="sum", fill_value=0.0)
    amounts = amounts.reindex(columns=themes, fill_value=0.0).astype("float64")
    totals = amounts.sum(axis=1)
    amounts = amounts.loc[totals > 0]
    order = totals.loc[totals > 0].reset_index().sort_values([0, "donor"], ascending=[False, True], kind="stable")["donor"]
    shares = amounts.div(amounts.sum(axis=1), axis=0).mul(100.0).loc[list(order)]
    shares.columns = [theme_label(theme) for theme in themes]
    shares.index.name = "donor"
    return shares


# --------------------------------------------------------------------------- White Paper vs CRS

_QUERY_FIELDS = ("donors", "years", "flow", "recipients", "recipient_regions", "themes", "purpose_codes", "channels")


@dataclass(frozen=True)
class CRSQuery:
    """The CRS activities that answer one White Paper figure (see ``white_paper_crs_queries.yaml``).

    Attributes
    ----------
    record_id : str
    years : (int, int)
        First and last calendar year, inclusive.
    flow : {"disbursements", "commitments"}
    donors : tuple of int
    recipients, recipient_regions, themes, purpose_codes, channels : tuple or None
        ``None`` = no filter on that field.
    note : str
        Why this query answers the figure (shown in the notebook).
    """

    record_id: str
    years: tuple[int, int]
    flow: str
    donors: tuple[int, ...] = (701,)
    recipients: tuple[int, ...] | None = None
    recipient_regions: tuple[str, ...] | None = None
    themes: tuple[str, ...] | None = None
    purpose_codes: tuple[int, ...] | None = None
    channels: tuple[int, ...] | None = None
    note: str = ""

    @property
    def year_list(self) -> list[int]:
        """Every year of the query, in order."""
        return list(range(self.years[0], self.years[1] + 1))

    def describe(self) -> str:
        """The query in words, for tables: "Japan (701) · 2016–2018 · disbursements · ..."."""
        donor_names = crs_codes.donor_names()
        recipient_names = crs_codes.recipient_names()
        parts = [", ".join(f"{donor_names.get(code, code)} ({code})" for code in self.donors),
                 format_years(self.year_list), self.flow]
        if self.recipients:
            parts.append("recipients " + ", ".join(f"{recipient_names.get(c, c)} ({c})" for c in self.recipients))
        if self.recipient_regions:
            parts.append("DAC region " + ", ".join(self.recipient_regions))
        if self.themes:
            parts.append(("every security theme but outer space" if set(self.themes) == set(THEMES) - {"outer_space"}
                          else "themes " + ", ".join(theme_label(t) for t in self.themes)))
        if self.purpose_codes:
            parts.append("purpose codes " + ", ".join(map(str, self.purpose_codes)))
        if self.channels:
            acronyms = dict(zip(channel_table()["channel_code"], channel_table()["acronym"]))
            parts.append("channels " + ", ".join(f"{acronyms.get(c) or c} ({c})" for c in self.channels))
        if not (self.themes or self.purpose_codes):
            parts.append("every purpose")
        return " · ".join(parts)


def _queries_path(path) -> Path:
    return Path(path) if path is not None else Path(str(files("oda_data").joinpath("data", QUERIES_FILE)))


def load_queries(path=None, wp: pd.DataFrame | None = None) -> tuple[dict[str, CRSQuery], dict[str, str]]:
    """Read and validate the White Paper -> CRS query table.

    Parameters
    ----------
    path : path-like, optional
        Default the shipped ``oda_data/data/white_paper_crs_queries.yaml``.
    wp : pandas.DataFrame, optional
        The White Paper dataset the record ids must exist in; default
        :func:`oda_data.white_paper`.

    Returns
    -------
    (dict, dict)
        ``record_id -> CRSQuery`` for figures with a counterpart and
        ``record_id -> reason`` for those without, both in file order.

    Raises
    ------
    ValueError
        Naming the file, the record and the field: an unknown record id, a
        code absent from the package's tables, an unknown theme, region or
        flow, a bad year range.
    """
    path = _queries_path(path)
    wp = white_paper() if wp is None else wp
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ValueError(f"{path.name}: not valid YAML ({error})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("records"), dict):
        raise ValueError(f"{path.name}: expected a mapping with a 'records' mapping of record_id -> entry")
    known = {
        "donors": set(crs_codes.known_codes("donor")),
        "recipients": set(crs_codes.known_codes("recipient")),
        "purpose_codes": set(crs_codes.known_codes("purpose")),
        "channels": set(channel_table()["channel_code"]),
    }
    record_ids = set(wp["record_id"])
    queries: dict[str, CRSQuery] = {}
    reasons: dict[str, str] = {}
    for record_id, entry in raw["records"].items():
        where = f"{path.name}, {record_id}"
        if record_id not in record_ids:
            raise ValueError(f"{where}: no such record_id in the White Paper dataset")
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: expected a mapping with 'counterpart'")
        counterpart = entry.get("counterpart")
        if counterpart == "none":
            reason = str(entry.get("reason") or "").strip()
            if not reason:
                raise ValueError(f"{where}: counterpart none needs a 'reason'")
            reasons[record_id] = reason
            continue
        if counterpart != "crs":
            raise ValueError(f"{where}: counterpart {counterpart!r}; expected 'crs' or 'none'")
        query = entry.get("query")
        if not isinstance(query, dict):
            raise ValueError(f"{where}: counterpart crs needs a 'query' mapping")
        unknown_fields = sorted(set(query) - set(_QUERY_FIELDS))
        if unknown_fields:
            raise ValueError(f"{where}: unknown query field(s) {unknown_fields}; expected some of: {', '.join(_QUERY_FIELDS)}")
        years = query.get("years")
        if (not isinstance(years, list) or len(years) != 2 or not all(isinstance(y, int) for y in years)
                or years[0] > years[1] or not 1960 <= years[0] <= 2100):
            raise ValueError(f"{where}: years must be [first, last] (whole years, first <= last), got {years!r}")
        flow = query.get("flow")
        if flow not in FLOWS:
            raise ValueError(f"{where}: flow {flow!r}; expected one of: {', '.join(FLOWS)}")
        values = {}
        for name in ("donors", "recipients", "purpose_codes", "channels"):
            if name not in query:
                continue
            codes = query[name]
            if not isinstance(codes, list) or not codes or not all(isinstance(c, int) for c in codes):
                raise ValueError(f"{where}: {name} must be a non-empty list of codes, got {codes!r}")
            unknown = sorted(set(codes) - known[name])
            if unknown:
                raise ValueError(f"{where}: {name} {unknown} not in the package's code tables (expected DAC/CRS codes)")
            values[name] = tuple(codes)
        for name, valid in (("themes", THEMES), ("recipient_regions", REGIONS)):
            if name not in query:
                continue
            items = query[name]
            bad = [item for item in (items if isinstance(items, list) else [items]) if item not in valid]
            if not isinstance(items, list) or not items or bad:
                raise ValueError(f"{where}: {name} {bad or items!r} not valid; expected some of: {', '.join(valid)}")
            values[name] = tuple(items)
        queries[record_id] = CRSQuery(record_id, (years[0], years[1]), flow,
                                      note=" ".join(str(entry.get("note") or "").split()), **values)
    return queries, reasons


def select(frame: pd.DataFrame, query: CRSQuery) -> pd.DataFrame:
    """The rows of a canonical (theme-tagged) frame that ``query`` selects.

    ``frame`` needs ``donor_code, year, recipient_code`` and, when the query
    filters on them, ``theme``, ``purpose_code`` and ``channel_code``.
    """
    mask = frame["donor_code"].isin(query.donors) & frame["year"].isin(query.year_list)
    if query.recipients:
        mask &= frame["recipient_code"].isin(query.recipients)
    if query.recipient_regions:
        mask &= region_of(frame["recipient_code"]).isin(query.recipient_regions).to_numpy()
    if query.themes:
        mask &= frame["theme"].isin(query.themes).fillna(False)
    if query.purpose_codes:
        mask &= frame["purpose_code"].isin(query.purpose_codes)
    if query.channels:
        mask &= frame["channel_code"].isin(query.channels)
    return frame.loc[mask.fillna(False).astype(bool)]


@dataclass
class WhitePaperComparison:
    """The result of :func:`compare_white_paper`.

    Attributes
    ----------
    source : CRSSource
    matches : pandas.DataFrame
        One row per figure with a counterpart, in dataset order: ``record_id,
        theme, kind, stated`` (the figure as the chapter states it),
        ``currency, wp_usd_m`` (the figure in USD million, current prices;
        NaN when the chapter states no amount), ``query`` (in words), ``flow,
        period, covered`` (the query's years the source holds), ``activities,
        crs_usd_m`` (NaN when the source covers none of the years or carries
        no amounts of the flow), ``gap_usd_m`` (White Paper minus CRS),
        ``crs_share`` (CRS in % of the White Paper), ``reasons`` (list of
        plain-language sentences), ``note`` (from the query table) and
        ``restates`` (the record_id a restatement restates in a second
        currency, else None: the same money, so never counted twice).
    unmatched : pandas.DataFrame
        Figures without a counterpart: ``record_id, theme, kind, figure, reason``.
    source_years : tuple of int
    notes : tuple of str
        Reader notes.
    text_available : bool
        Whether the source has project titles or descriptions.
    """

    source: CRSSource
    matches: pd.DataFrame
    unmatched: pd.DataFrame
    source_years: tuple[int, ...]
    notes: tuple[str, ...]
    text_available: bool


def _stated(row) -> str:
    if pd.isna(row["amount"]):
        parts = ["no amount"] if row["kind"] in ("contribution", "disbursement") else []
    else:
        parts = [format_money(row["amount"], row["currency"], approximate=bool(row["approximate"]))]
    if pd.notna(row.get("people")):
        parts.append(f"{int(row['people']):,} people")
    if pd.notna(row.get("countries")):
        parts.append(f"{int(row['countries']):,} countries")
    return "; ".join(parts) or "no figure"


_KIND_READINGS = {
    ("pledge", "disbursements"): (
        "A pledge announces money for the years ahead; CRS records what was actually disbursed, year by year, "
        "so money pledged for a period can be paid out after it (or not at all)."),
    ("pledge", "commitments"): (
        "A pledge announces money for the years ahead; CRS commitments record the grants and loans actually "
        "signed, and a package can count projects signed before or after the period."),
    ("achievement", "commitments"): (
        "The chapter's achievement is Japan's own tally of what it counts towards the pledge; CRS commitments "
        "are the signed amounts of individual activities, which may be classed under other purposes."),
    ("achievement", "disbursements"): (
        "The chapter's achievement is Japan's own tally; CRS disbursements are what was paid out in each year."),
    ("contribution", "disbursements"): (
        "A contribution to an international fund is reported in CRS only when it is earmarked (a bilateral "
        "activity with the fund as channel); core contributions to an organisation's budget are multilateral "
        "ODA and never appear as CRS activities."),
    ("disbursement", "disbursements"): (
        "Both sides are disbursements, so the difference lies in what each counts (scope, years, ODA "
        "eligibility) rather than in pledged against paid."),
}


def _reasons(record, query: CRSQuery, covered: list[int], crs_total: float, wp_usd: float,
             comparison_context: dict) -> list[str]:
    """Plain-language reasons why the White Paper figure and the CRS total can differ."""
    reasons = []
    period = query.year_list
    if not covered:
        reasons.append(f"The source holds none of the years {format_years(period)}, so there is no CRS total to compare.")
    elif len(covered) < len(period):
        left = len(period) - len(covered)
        reasons.append(f"The source covers only {format_years(covered)} of {format_years(period)}: the CRS total leaves out "
                       f"{left} year{'s' if left > 1 else ''}.")
    if comparison_context["no_amounts"]:
        reasons.append(f"The source carries no {query.flow} amounts, so the CRS side cannot be computed.")
    if pd.isna(wp_usd):
        reasons.append("The chapter states no amount for this item: only the CRS side can be shown.")
    elif pd.notna(crs_total) and crs_total > 0:
        reasons.append(f"CRS shows {describe_change(wp_usd, crs_total)} than the chapter "
                       f"({format_money(crs_total * 1e6)} against {format_money(wp_usd * 1e6)}).")
    elif pd.notna(crs_total):
        reasons.append("The query finds no matching activity in the source.")
    kind_reading = _KIND_READINGS.get((record["kind"], query.flow))
    if kind_reading:
        reasons.append(kind_reading)
    if query.channels and record["kind"] != "contribution":
        reasons.append("Only money channelled through the named organisations is counted; core contributions "
                       "to their budgets are multilateral ODA and not CRS activities.")
    if query.themes:
        reasons.append("Only activities the project's theme rules tag as "
                       + ", ".join(theme_label(t).lower() for t in query.themes[:3])
                       + (" …" if len(query.themes) > 3 else "")
                       + " are counted; security spending that is not ODA-eligible ("
                       + ("military operations such as the Self-Defense Forces' anti-piracy mission"
                          if "maritime_security" in query.themes else "military equipment, armed forces' operations")
                       + ") never appears in CRS.")
        if not comparison_context["text_available"]:
            reasons.append("This source has no project titles or descriptions, so themes come from purpose "
                           "codes alone (15210, 16063) and keyword-tagged activities are missed.")
    if record["currency"] == "JPY":
        reasons.append("The chapter states yen: converted at the DAC average yen-dollar rate of the period, "
                       "so exchange-rate swings alone move the dollar figure.")
    reasons.append("Japan's budget runs on fiscal years (April–March) and its announcements often do too; CRS "
                   "uses calendar years. Both sides are in current (nominal) prices here.")
    return reasons


def compare_white_paper(
    source: CRSSource,
    wp: pd.DataFrame | None = None,
    queries: tuple[dict[str, CRSQuery], dict[str, str]] | None = None,
) -> WhitePaperComparison:
    """Put every White Paper figure beside its CRS counterpart.

    Parameters
    ----------
    source : CRSSource
        See :func:`resolve_source`.
    wp : pandas.DataFrame, optional
        Default :func:`oda_data.white_paper`.
    queries : (dict, dict), optional
        Default :func:`load_queries`.

    Returns
    -------
    WhitePaperComparison
        Amounts in USD million, current prices on both sides: the White Paper
        figure converted with :func:`oda_data.analysis.with_money` (yen at the DAC mean
        rate of its period; a total "to date" at :data:`~oda_data.REPORT_YEAR`),
        the CRS total as the file gives it.
    """
    wp = white_paper() if wp is None else wp
    queries, reasons_none = load_queries(wp=wp) if queries is None else queries
    converted = with_money(wp, MoneyBasis("USD", "current")).set_index("record_id")
    donors = sorted({code for query in queries.values() for code in query.donors})
    columns = ["year", "donor_code", "recipient_code", "purpose_code", "channel_code",
               "usd_disbursement", "usd_commitment", "theme"]
    frame, notes = read_source(source, donors=donors, columns=columns)
    years_frame, more = read_source(source, columns=["year", "project_title", "short_description"])
    notes = tuple(dict.fromkeys(notes + more))
    source_years = tuple(sorted(int(y) for y in years_frame["year"].dropna().unique()))
    text_available = bool(years_frame["project_title"].notna().any() or years_frame["short_description"].notna().any())
    # Whether a flow exists is a property of the file (the aggregated exports have
    # disbursements only), not of the rows a query happens to select.
    amounts, _ = read_source(source, columns=["usd_disbursement", "usd_commitment"])
    flow_present = {"disbursements": bool(amounts["usd_disbursement"].notna().any()),
                    "commitments": bool(amounts["usd_commitment"].notna().any())}
    rows = []
    for record_id, query in queries.items():
        record = converted.loc[record_id]
        column = _AMOUNT_COLUMNS[(query.flow, "current")]
        covered = [year for year in query.year_list if year in source_years]
        chosen = select(frame, query)
        no_amounts = not flow_present[query.flow]
        crs_total = float(chosen[column].fillna(0.0).sum()) if covered and not no_amounts else np.nan
        wp_usd = float(record["money"]) / 1e6 if pd.notna(record["money"]) else np.nan
        context = {"no_amounts": no_amounts, "text_available": text_available}
        rows.append({
            "record_id": record_id,
            "theme": record["theme"],
            "kind": record["kind"],
            "stated": _stated(record),
            "currency": record["currency"] if pd.notna(record["currency"]) else None,
            "wp_period": record_period(record, undated="to date"),
            "wp_usd_m": wp_usd,
            "query": query.describe(),
            "flow": query.flow,
            "period": format_years(query.year_list),
            "covered": format_years(covered, none="none"),
            "activities": int(len(chosen)) if covered else 0,
            "crs_usd_m": crs_total,
            "gap_usd_m": wp_usd - crs_total,
            "crs_share": crs_total / wp_usd * 100.0 if pd.notna(wp_usd) and wp_usd else np.nan,
            "reasons": _reasons(record, query, covered, crs_total, wp_usd, context),
            "note": query.note,
            "restates": record["equivalent_of"] if pd.notna(record["equivalent_of"]) else None,
        })
    matches = pd.DataFrame(rows)
    unmatched = pd.DataFrame([
        {"record_id": record_id, "theme": converted.loc[record_id, "theme"], "kind": converted.loc[record_id, "kind"],
         "figure": _stated(converted.loc[record_id]), "reason": reason}
        for record_id, reason in reasons_none.items()
    ], columns=["record_id", "theme", "kind", "figure", "reason"])
    return WhitePaperComparison(source, matches, unmatched, source_years, notes, text_available)


def theme_rules_version() -> int:
    """Version of the theme mapping (``crs_theme_rules.yaml``) the tags come from."""
    return RULES_VERSION
