"""Notebook parameters checked: a :class:`ParameterError` names the parameter, the value and the valid choices,
enough on its own to fix the call (papermill shows it to whoever ran the report)."""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from numbers import Integral
from typing import Iterable

from .money import CURRENCIES, PRICES, money_label, rates_table
from .schema import REGIONS
from .themes import THEMES


class ParameterError(ValueError):
    """A notebook parameter has a value the notebook cannot use."""


def check_choice(name: str, value, choices: Iterable):
    """``value`` if it is one of ``choices`` (a bool is no int), else a ParameterError with a "did you mean"."""
    choices = list(choices)
    if not isinstance(value, bool) and any(_same(value, choice) for choice in choices):
        return value
    message = f"parameter {name!r} = {value!r} is not valid; choose one of: {', '.join(str(c) for c in choices)}"
    hint = _closest(value, choices)
    raise ParameterError(message + (f" (did you mean {hint!r}?)" if hint is not None else ""))


def check_choices(name: str, values, choices: Iterable) -> tuple:
    """Several of ``choices`` (one value or a list; ``None``: all), without repeats, in the order given."""
    choices = list(choices)
    if values is None:
        return tuple(choices)
    items = [values] if isinstance(values, str) or not isinstance(values, Iterable) else list(values)
    if not items:
        raise ParameterError(f"parameter {name!r} is empty; choose some of: {', '.join(map(str, choices))} "
                             "(or None for all)")
    return tuple(dict.fromkeys(check_choice(name, item, choices) for item in items))


def check_codes(name: str, values, example: str = "[701]") -> tuple[int, ...]:
    """Whole-number codes (donors, recipients, years): one, or a non-empty list."""
    items = [values] if isinstance(values, Integral) else values
    items = None if isinstance(items, (str, bytes)) or not isinstance(items, Iterable) else list(items)
    if not items or any(isinstance(item, bool) or not isinstance(item, Integral) for item in items):
        raise ParameterError(f"parameter {name!r} = {values!r} is not valid; "
                             f"give a non-empty list of whole numbers such as {example}")
    return tuple(dict.fromkeys(int(item) for item in items))


def _same(value, choice) -> bool:
    try:
        return bool(value == choice)
    except (TypeError, ValueError):  # e.g. an array compared with a string
        return False


def _closest(value, choices: list):
    """The choice spelled most like ``value`` (case-insensitive), if one is close."""
    if not isinstance(value, str):
        return None
    by_lower = {str(c).lower(): c for c in choices}
    if value.strip().lower() in by_lower:
        return by_lower[value.strip().lower()]
    close = difflib.get_close_matches(value.lower(), list(by_lower), n=1, cutoff=0.75)
    return by_lower[close[0]] if close else None


def dac_years() -> tuple[int, int]:
    """First and last year of the shipped DAC table of exchange rates and deflators."""
    index = rates_table().index
    return int(index.min()), int(index.max())


def check_year(name: str, value, first: int | None = None, last: int | None = None) -> int:
    """``value`` as an int if it is a whole year in ``first``..``last`` (default: the DAC table's years)."""
    table = dac_years()
    first, last = table[0] if first is None else first, table[1] if last is None else last
    where = " (the years of the DAC exchange-rate and deflator table)" if (first, last) == table else ""
    integral = isinstance(value, Integral) and not isinstance(value, bool)
    if not (integral or isinstance(value, float) and value.is_integer()) or not first <= int(value) <= last:
        hint = (f" (pass it as a number, {value.strip()}, not a string)"
                if isinstance(value, str) and value.strip().isdigit() else "")
        raise ParameterError(f"parameter {name!r} = {value!r} is not valid; choose a year from {first} to {last}"
                             f"{where}{hint}")
    return int(value)


def check_theme(theme: str) -> str:
    """A theme id of :data:`oda_data.THEMES`."""
    return check_choice("theme", theme, THEMES)


def check_region(region: str) -> str:
    """A region of :data:`oda_data.REGIONS`."""
    return check_choice("region", region, REGIONS)


@dataclass(frozen=True)
class MoneyBasis:
    """The currency ("USD", "JPY"), prices ("current", "constant") and base year a notebook shows money in."""

    currency: str = "USD"
    prices: str = "current"
    base_year: int = 2022

    @property
    def label(self) -> str:
        """``"USD, constant 2022 prices"``."""
        return money_label(self.currency, self.prices, self.base_year)

    @property
    def prices_phrase(self) -> str:
        """``"current prices"`` or ``"constant 2022 prices"``, for sentences."""
        return "current prices" if self.prices == "current" else f"constant {self.base_year} prices"


def check_money_basis(currency="USD", prices="current", base_year=2022) -> MoneyBasis:
    """The three money parameters the notebooks share, checked, as one :class:`MoneyBasis`."""
    return MoneyBasis(currency=check_choice("currency", currency, CURRENCIES),
                      prices=check_choice("prices", prices, PRICES), base_year=check_year("base_year", base_year))
