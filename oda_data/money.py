"""Money in one currency and one price base.

Japan's DAC exchange rates and deflators ship as a small table
(``data/dac_japan_rates.csv``, OECD DAC, Japan = donor 701). Conversions follow
the DAC method: a flow is first put in current US dollars at the year's average
exchange rate, then in constant prices by dividing by the donor's DAC deflator
(USD terms, rebased so that ``base_year`` = 100). Constant yen are constant
dollars at the base year's exchange rate.

Multi-year amounts
------------------
An amount spread over a period (a pledge "over 2016-2018") has no single year.
Such an amount is converted with the **arithmetic mean of the annual rates (and
deflators) of every year of the period**, i.e. as if it were spent evenly. A row
with both ``period_start`` and ``period_end`` uses its period; an open period
("since 2007") runs to :func:`convert`'s ``default_year`` (the report year);
otherwise the row's ``year``. These are the package's conventions, not the
chapter's: it does not say when the money was spent.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

#: Currencies the package converts between.
CURRENCIES = ("USD", "JPY")
#: Price bases accepted by :func:`convert`.
PRICES = ("current", "constant")


@lru_cache(maxsize=1)
def rates_table() -> pd.DataFrame:
    """Return the shipped DAC table for Japan, indexed by year.

    Columns: ``jpy_per_usd`` (DAC annual average, yen per US dollar) and
    ``deflator_2022`` (DAC deflator, 2022 = 100).
    """
    with resources.files("oda_data").joinpath("data/dac_japan_rates.csv").open("rb") as fh:
        table = pd.read_csv(fh, dtype={"year": "int64"}, engine="pyarrow")
    return table.set_index("year").sort_index()


def _check_year(year: int) -> int:
    table = rates_table()
    try:
        year_int = int(year)
    except (TypeError, ValueError):
        raise ValueError(f"year must be an integer, got {year!r}") from None
    if year_int != year or year_int not in table.index:
        raise ValueError(
            f"no DAC exchange rate or deflator for year {year!r}: the shipped table "
            f"covers {table.index.min()}-{table.index.max()}"
        )
    return year_int


def _check_currency(currency: str) -> str:
    if currency not in CURRENCIES:
        raise ValueError(
            f"unknown currency {currency!r}; expected one of: {', '.join(CURRENCIES)}"
        )
    return currency


def exchange_rate(year: int, currency: str = "JPY") -> float:
    """Units of national currency per US dollar, DAC annual average.

    Parameters
    ----------
    year : int
        Calendar year, within the shipped table (2000-2023).
    currency : {"JPY", "USD"}
        ``"USD"`` returns 1.0.

    Raises
    ------
    ValueError
        For a year outside the table or an unknown currency.

    Examples
    --------
    >>> exchange_rate(2018)
    110.4378
    """
    year = _check_year(year)
    if _check_currency(currency) == "USD":
        return 1.0
    return float(rates_table().at[year, "jpy_per_usd"])


def deflator(year: int, base_year: int = 2022) -> float:
    """Japan's DAC deflator for ``year``, rebased so that ``base_year`` = 100.

    Constant-price USD = current USD / (deflator / 100).

    Examples
    --------
    >>> deflator(2018)
    117.09
    """
    year, base_year = _check_year(year), _check_year(base_year)
    column = rates_table()["deflator_2022"]
    return float(column[year] / column[base_year] * 100.0)


def _years(year=None, period_start=None, period_end=None) -> list[int]:
    if _present(period_start) and _present(period_end):
        start, end = int(period_start), int(period_end)
        if end < start:
            raise ValueError(f"period end {end} is before its start {start}")
        return [_check_year(y) for y in range(start, end + 1)]
    if _present(year):
        return [_check_year(int(year))]
    raise ValueError("an amount needs a year or a period (start and end) to be converted")


def _present(value) -> bool:
    return value is not None and not (isinstance(value, float) and np.isnan(value)) and value is not pd.NA


def convert_amount(
    amount: float,
    currency: str,
    *,
    year: int | None = None,
    period_start: int | None = None,
    period_end: int | None = None,
    to: str = "USD",
    prices: str = "current",
    base_year: int = 2022,
) -> float:
    """Convert one amount to ``to`` currency in ``prices`` terms.

    The amount's years are its period (``period_start``..``period_end``
    inclusive) when both are given, else ``year``; over a period the mean annual
    rate and deflator are used (see module docstring).

    Examples
    --------
    $120 million over 2016-2018 in current yen:

    >>> round(convert_amount(120e6, "USD", period_start=2016, period_end=2018, to="JPY") / 1e9, 2)
    13.26
    """
    _check_currency(currency)
    _check_currency(to)
    if prices not in PRICES:
        raise ValueError(f"unknown prices {prices!r}; expected one of: {', '.join(PRICES)}")
    years = _years(year, period_start, period_end)
    usd_current = amount / _mean(exchange_rate(y, currency) for y in years)
    if prices == "current":
        return usd_current * _mean(exchange_rate(y, to) for y in years)
    usd_constant = usd_current / (_mean(deflator(y, base_year) for y in years) / 100.0)
    return usd_constant * exchange_rate(base_year, to)


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values)


def convert(
    frame: pd.DataFrame,
    *,
    to: str = "USD",
    prices: str = "current",
    base_year: int = 2022,
    amount: str = "amount",
    currency: str = "currency",
    column: str | None = None,
    default_year: int | None = None,
) -> pd.DataFrame:
    """Return a copy of ``frame`` with its amounts in one currency and price base.

    Parameters
    ----------
    frame : DataFrame
        Needs the columns named by ``amount`` and ``currency`` and, for the
        years, ``year`` and/or ``period_start``/``period_end`` (see
        :func:`convert_amount` for the rule over periods).
    to : {"USD", "JPY"}
    prices : {"current", "constant"}
        ``"constant"`` expresses the amount in ``base_year`` prices.
    base_year : int
        Base year of constant prices (2000-2023).
    column : str, optional
        Name of the new column; default ``amount_<to>_<prices>`` in lower case.
    default_year : int, optional
        Year used for a row that has an amount but neither a period nor a
        year, e.g. a cumulative total "to date", and the end of an open period
        ("since 2007" runs 2007..``default_year``). Without it such a row is an
        error. For the White Paper pass :data:`oda_data.white_paper.REPORT_YEAR`.

    Returns
    -------
    DataFrame
        Rows without an amount get ``NaN`` in the new column.

    Raises
    ------
    ValueError
        Naming the row (``record_id`` when present) whose year or currency is
        outside the shipped table.
    """
    _check_currency(to)
    if prices not in PRICES:
        raise ValueError(f"unknown prices {prices!r}; expected one of: {', '.join(PRICES)}")
    _check_year(base_year)
    missing = [c for c in (amount, currency) if c not in frame.columns]
    if missing:
        raise KeyError(f"convert() needs column(s) {missing}; the frame has {list(frame.columns)}")
    column = column or f"amount_{to.lower()}_{prices}"
    values = np.full(len(frame), np.nan)
    for position, (_, row) in enumerate(frame.iterrows()):
        value = row[amount]
        if not _present(value) or pd.isna(value):
            continue
        start, end = row.get("period_start"), row.get("period_end")
        if _present(start) and not _present(end) and default_year is not None:
            # An open period ("since 2007") runs to the report year.
            end = max(int(start), int(default_year))
        try:
            values[position] = convert_amount(
                float(value),
                row[currency],
                year=row.get("year") if _present(row.get("year")) else default_year,
                period_start=start,
                period_end=end,
                to=to,
                prices=prices,
                base_year=base_year,
            )
        except ValueError as error:
            label = row.get("record_id", f"row {position}")
            raise ValueError(f"cannot convert {label}: {error}") from None
    out = frame.copy()
    out[column] = values
    return out


def stated_in(frame: pd.DataFrame, currency: str) -> pd.DataFrame:
    """The amount the chapter itself gives in ``currency`` for each row, if any.

    A row in ``currency`` gives its own amount; a row restated in ``currency``
    by another record (``equivalent_of``: "$120 million (approximately ¥14
    billion)") gives that record's amount, and the restatement gives the
    original's. Use it before converting: where the chapter states the other
    currency, its figure (and its "approximately") is used, not a conversion.

    Returns
    -------
    DataFrame
        Aligned with ``frame``: ``stated_amount`` (NaN where the chapter gives
        no amount in ``currency``) and ``stated_approximate``.

    Examples
    --------
    >>> import oda_data
    >>> wp = oda_data.white_paper()
    >>> stated_in(wp, "JPY").loc[wp["record_id"] == "WP-CT-03"].values.tolist()
    [[14000000000.0, True]]
    """
    _check_currency(currency)
    by_id = frame.set_index("record_id")[["amount", "currency", "approximate"]]
    links = frame.dropna(subset=["equivalent_of"])
    pairs = dict(zip(links["record_id"], links["equivalent_of"]))
    pairs.update({original: restated for restated, original in pairs.items()})
    amounts, approximate = [], []
    for record_id, own_currency in zip(frame["record_id"], frame["currency"]):
        source = record_id if own_currency == currency else pairs.get(record_id)
        if source is not None and by_id.at[source, "currency"] == currency:
            amounts.append(float(by_id.at[source, "amount"]))
            approximate.append(bool(by_id.at[source, "approximate"]))
        else:
            amounts.append(np.nan)
            approximate.append(False)
    return pd.DataFrame({"stated_amount": amounts, "stated_approximate": approximate}, index=frame.index)


def money_label(to: str, prices: str, base_year: int = 2022) -> str:
    """A short unit label for axes and tables, e.g. ``"USD, constant 2022 prices"``."""
    _check_currency(to)
    return f"{to}, current prices" if prices == "current" else f"{to}, constant {base_year} prices"


__all__: Sequence[str] = (
    "CURRENCIES",
    "PRICES",
    "convert",
    "convert_amount",
    "deflator",
    "exchange_rate",
    "money_label",
    "rates_table",
    "stated_in",
)
