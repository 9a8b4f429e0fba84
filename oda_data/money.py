"""Money in one currency and price base by the DAC method, for every DAC provider (default Japan, 701).

The table: ``data/dac_rates.md``; the method and the package's conventions for periods: the README.
"""
from __future__ import annotations

import difflib
from functools import lru_cache
from importlib import resources
from numbers import Real
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

#: The chapter's currencies: the notebooks' ``currency`` choices (every currency of :func:`dac_rates` converts).
CURRENCIES = ("USD", "JPY")
PRICES = ("current", "constant")  #: price bases
JAPAN = 701  #: the default donor
_REFERENCE = {"EUR": 918, "CHF": 11}  # currencies of several providers: whose rate is the currency's


@lru_cache(maxsize=1)
def _read() -> pd.DataFrame:
    with resources.files("oda_data").joinpath("data/dac_rates.csv").open("rb") as fh:
        return pd.read_csv(fh, dtype={"donor_code": "int64", "year": "int64", "iso3": "string"})


def dac_rates() -> pd.DataFrame:
    """The shipped table (columns: ``data/dac_rates.md``), a row per DAC donor code and year."""
    return _read().copy()


def rates_table() -> pd.DataFrame:
    """Japan 2000-2023 (the White Paper notebooks' years) by year: ``jpy_per_usd``, ``deflator_2022``."""
    japan = _read().query(f"donor_code == {JAPAN} and 2000 <= year <= 2023").set_index("year").sort_index()
    return japan[["exchange_rate", "deflator"]].set_axis(["jpy_per_usd", "deflator_2022"], axis="columns")


@lru_cache(maxsize=1)
def _facts() -> tuple[dict, dict, tuple]:  # (donor, year) -> (currency, rate, deflator); donor -> (name, iso3)
    t = _read()
    entries = dict(zip(zip(t.donor_code, t.year), zip(t.currency, t.exchange_rate, t.deflator)))
    donors = {int(c): (n, "" if pd.isna(i) else i) for c, n, i in zip(t.donor_code, t.donor_name, t.iso3)}
    return entries, donors, tuple(dict.fromkeys(("USD", "JPY", *sorted(t.currency.unique()))))


def _unknown(what: str, value, choices: dict) -> ValueError:
    labels = {c: " ".join(map(str, (c, *names[:1]))) for c, names in choices.items()}
    spellings = {str(s).lower(): c for c, names in choices.items() for s in (c, *names) if s}
    close = difflib.get_close_matches(str(value).strip().lower(), list(spellings), n=1, cutoff=0.75)
    hint = f" (did you mean {labels[spellings[close[0]]]}?)" if close else ""
    return ValueError(f"unknown {what} {value!r}; expected one of: {', '.join(labels.values())}{hint}")


def _check(*currencies: str, prices: str = "current") -> None:
    for currency in currencies:
        if currency not in _facts()[2]:
            raise _unknown("currency", currency, {c: () for c in _facts()[2]})
    if prices not in PRICES:
        raise ValueError(f"unknown prices {prices!r}; expected one of: {', '.join(PRICES)}")


def _year(value, what: str = "year") -> int:
    if isinstance(value, bool) or not isinstance(value, Real) or not float(value).is_integer():
        raise ValueError(f"{what} must be an integer year, got {value!r}")
    return int(value)


def _known(donor) -> bool:  # a code, also as a whole float (a column with NA); never a bool
    return isinstance(donor, Real) and not isinstance(donor, bool) and donor in _facts()[1]


def _donor(donor) -> int:
    if donor is None or _known(donor):
        return JAPAN if donor is None else int(donor)
    raise _unknown("donor", donor, _facts()[1])


def _label(donor: int) -> str:
    return f"{_facts()[1][donor][0]} ({donor})"


def _entry(donor: int, year, what: str = "year") -> tuple[str, float, float]:
    entry = _facts()[0].get((donor, _year(year, what)))
    if entry is None:
        years = {y for d, y in _facts()[0] if d == donor}
        spans = zip(sorted(y for y in years if y - 1 not in years), sorted(y for y in years if y + 1 not in years))
        raise ValueError(f"no DAC exchange rate or deflator for {what} {year!r} of {_label(donor)}: the shipped "
                         f"table covers {', '.join(f'{a}-{b}' if a < b else str(a) for a, b in spans)}")
    return entry


def _rate(currency: str, year, donor: int | None, *, strict: bool = False) -> float:
    """``currency`` per US dollar: the donor's own rate for its currency, else the currency's."""
    _check(currency)
    own = _entry(JAPAN if donor is None else donor, year)[0]  # also checks the year
    if currency == "USD":
        return 1.0
    if strict and donor is not None and own != currency:
        raise ValueError(f"{_label(donor)} has DAC exchange rates in {own} in {year}, not {currency}: "
                         f"ask exchange_rate({year}, {own!r}, donor={donor})")
    source = donor if donor is not None and own == currency else (
        _REFERENCE.get(currency) or next(d for (d, _), e in _facts()[0].items() if e[0] == currency))
    rate = _entry(source, year)[1]
    if np.isnan(rate):
        raise ValueError(f"the DAC gives no {currency} exchange rate for {_label(source)} in {year}: "
                         "its figures for that year are in US dollars only")
    return float(rate)


def exchange_rate(year: int, currency: str = "JPY", *, donor: int | None = None) -> float:
    """``currency`` per US dollar in ``year`` (DAC annual average); with ``donor`` (5 Germany) its own rate.

    >>> exchange_rate(2018), exchange_rate(2018, "EUR", donor=5)
    (110.4378, 0.8473)
    """
    return _rate(currency, year, None if donor is None else _donor(donor), strict=True)


def deflator(year: int, base_year: int = 2022, *, donor: int | None = None) -> float:
    """The donor's (default Japan's) DAC deflator, ``base_year`` = 100: constant USD = USD / (deflator / 100).

    >>> deflator(2018), round(deflator(2018, donor=302), 2)
    (117.09, 86.71)
    """
    donor = _donor(donor)
    value, base = _entry(donor, year)[2], _entry(donor, base_year, "base_year")[2]
    if np.isnan(value) or np.isnan(base):
        raise ValueError(f"the DAC gives no deflator for {_label(donor)} in {year if np.isnan(value) else base_year}")
    return float(value / base * 100.0)


def _years(year=None, period_start=None, period_end=None) -> list[int]:
    if _present(period_start) and _present(period_end):
        start, end = _year(period_start, "period start"), _year(period_end, "period end")
        if end < start:
            raise ValueError(f"period end {end} is before its start {start}")
        return list(range(start, end + 1))
    if _present(year):
        return [_year(year)]
    raise ValueError("an amount needs a year or a period (start and end) to be converted")


def _present(value) -> bool:
    return not (value is None or value is pd.NA or (isinstance(value, Real) and np.isnan(value)))


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values)


def _parts(currency: str, years: list[int], to: str, prices: str, base_year, donor) -> tuple[float, float, float]:
    from_rate = _mean(_rate(currency, y, donor) for y in years)
    if prices == "current":
        return from_rate, 1.0, _mean(_rate(to, y, donor) for y in years)
    return from_rate, _mean(deflator(y, base_year, donor=donor) for y in years) / 100.0, _rate(to, base_year, donor)


def convert_amount(amount: float, currency: str, *, year: int | None = None, period_start: int | None = None,
                   period_end: int | None = None, to: str = "USD", prices: str = "current",
                   base_year: int = 2022, donor: int | None = None) -> float:
    """One amount of ``donor`` (default Japan) in ``to`` and ``prices``; its years: the period if given, else ``year``.

    >>> round(convert_amount(120e6, "USD", period_start=2016, period_end=2018, to="JPY") / 1e9, 2)
    13.26
    """
    _check(currency, to, prices=prices)
    donor = None if donor is None else _donor(donor)
    rate_in, deflated, rate_out = _parts(currency, _years(year, period_start, period_end), to, prices, base_year, donor)
    return amount / rate_in / deflated * rate_out


def convert(frame: pd.DataFrame, *, to: str = "USD", prices: str = "current", base_year: int = 2022,
            amount: str | Sequence[str] = "amount", currency: str = "currency", column: str | None = None,
            default_year: int | None = None, donor: int | str | None = None,
            fallback_donor: int | None = None) -> pd.DataFrame:
    """A copy of ``frame`` with each ``amount`` column also as ``<amount>_<to>_<prices>`` (or ``column``), same unit.

    ``currency`` and ``donor``: a column or one code for all rows; an error names the row (README: the arguments)."""
    _check(to, prices=prices)
    by_column = isinstance(donor, str)
    _entry(_donor(None if by_column else donor), base_year, "base_year")
    amounts = [amount] if isinstance(amount, str) else list(amount)
    fixed = currency if currency not in frame.columns and currency in _facts()[2] else None
    missing = [c for c in (*amounts, *([] if fixed else [currency]), *([donor] if by_column else [])) if c not in frame]
    if missing or not amounts:
        raise KeyError(f"convert() needs column(s) {missing or 'an amount column'}; "
                       f"the frame has {list(frame.columns)}")
    fallback = None if fallback_donor is None else _donor(fallback_donor)

    def cells(name, default=None) -> list:
        return frame[name].astype(object).tolist() if name in frame.columns else [default] * len(frame)

    parts, found = {}, []
    for index, record, year, start, end, code, who, has_amount in zip(
            frame.index, cells("record_id"), cells("year"), cells("period_start"), cells("period_end"),
            cells(currency, fixed), cells(donor if by_column else None, donor), frame[amounts].notna().any(axis=1)):
        year, start, end = (v if _present(v) else None for v in (year, start, end))
        if start is not None and end is None and default_year is not None:
            end = max(_year(start, "period start"), _year(default_year, "default_year"))  # an open period
        if by_column:  # a missing code must never mean the default donor, Japan
            who = fallback if fallback is not None and not _known(who) else (pd.NA if who is None else who)
        key = (code, default_year if year is None else year, start, end, who)
        try:
            if has_amount and key not in parts:
                parts[key] = _parts(code, _years(*key[1:4]), to, prices, base_year,
                                    None if who is None else _donor(who))
        except ValueError as error:
            hint = "; pass fallback_donor= for donors the table lacks" if "unknown donor" in str(error) else ""
            where = record if _present(record) else f"row {index!r}"
            raise ValueError(f"cannot convert {where}: {error}{hint}") from None
        found.append(parts[key] if has_amount else (np.nan,) * 3)
    rate_from, deflated, rate_to = np.array(found, dtype="float64").reshape(-1, 3).T
    out = frame.copy()
    for name in amounts:
        values = pd.to_numeric(frame[name]).to_numpy(dtype="float64", na_value=np.nan)
        out[column if column and len(amounts) == 1 else f"{name}_{to.lower()}_{prices}"] = (
            values / rate_from / deflated * rate_to)
    return out


def stated_in(frame: pd.DataFrame, currency: str) -> pd.DataFrame:
    """The amount the chapter itself gives in ``currency`` for each row (``stated_amount``, NaN: none), with its
    ``stated_approximate``: a restatement's (``equivalent_of``) figure counts, never a conversion."""
    _check(currency)
    by_id = frame.set_index("record_id")[["amount", "currency", "approximate"]]
    pairs = dict(frame.dropna(subset=["equivalent_of"])[["record_id", "equivalent_of"]].itertuples(index=False))
    pairs.update({original: restated for restated, original in pairs.items()})
    amounts, approximate = [], []
    for record_id, own_currency in zip(frame["record_id"], frame["currency"]):
        source = record_id if own_currency == currency else pairs.get(record_id)
        found = source is not None and by_id.at[source, "currency"] == currency
        amounts.append(float(by_id.at[source, "amount"]) if found else np.nan)
        approximate.append(bool(by_id.at[source, "approximate"]) if found else False)
    return pd.DataFrame({"stated_amount": amounts, "stated_approximate": approximate}, index=frame.index)


def money_label(to: str, prices: str, base_year: int = 2022) -> str:
    """A short unit label for axes and tables, e.g. ``"USD, constant 2022 prices"``."""
    _check(to)
    return f"{to}, current prices" if prices == "current" else f"{to}, constant {base_year} prices"
