"""Validation of notebook parameters, with messages that say what to pass instead.

Every parameterised notebook validates its parameters in the cell after the
``parameters`` cell. A bad value stops the notebook with a
:class:`ParameterError` whose message names the parameter, the value given and
the valid choices, e.g.::

    parameter 'theme' = 'pirates' is not valid; choose one of: police_capacity,
    counter_terrorism, ...

papermill shows that message (the exception's ``evalue``) to whoever ran the
report, so it must be enough on its own to fix the call.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from numbers import Integral
from typing import Iterable

from .money import CURRENCIES, PRICES, money_label, rates_table
from .schema import REGIONS
from .themes import THEMES

__all__ = [
    "MoneyBasis",
    "ParameterError",
    "check_choice",
    "check_choices",
    "check_codes",
    "check_money_basis",
    "check_region",
    "check_theme",
    "check_year",
    "dac_years",
]


class ParameterError(ValueError):
    """A notebook parameter has a value the notebook cannot use."""


def _show(value) -> str:
    return repr(value)


def check_choice(name: str, value, choices: Iterable):
    """Return ``value`` if it is one of ``choices``, else raise :class:`ParameterError`.

    Parameters
    ----------
    name : str
        The parameter's name, as the notebook spells it.
    value
        The value given.
    choices : iterable
        The valid values, in the order to list them.

    Raises
    ------
    ParameterError
        ``parameter 'theme' = 'pirates' is not valid; choose one of: ...``,
        with a "did you mean" hint when a choice is spelled alike (``'asia'``
        -> ``'Asia'``).

    Examples
    --------
    >>> check_choice("currency", "USD", ["USD", "JPY"])
    'USD'
    """
    choices = list(choices)
    # bool is an int: True must not pass for a choice of 1.
    if not isinstance(value, bool) and any(_same(value, choice) for choice in choices):
        return value
    message = (
        f"parameter {name!r} = {_show(value)} is not valid; "
        f"choose one of: {', '.join(str(c) for c in choices)}"
    )
    hint = _closest(value, choices)
    if hint is not None:
        message += f" (did you mean {hint!r}?)"
    raise ParameterError(message)


def check_choices(name: str, values, choices: Iterable) -> tuple:
    """Several of ``choices``: one value or a list; ``None`` means all of them.

    Returns the values as a tuple without repeats, in the order given.

    Examples
    --------
    >>> check_choices("themes", "cyberspace", ["outer_space", "cyberspace"])
    ('cyberspace',)
    >>> check_choices("themes", None, ["outer_space", "cyberspace"])
    ('outer_space', 'cyberspace')
    """
    choices = list(choices)
    if values is None:
        return tuple(choices)
    items = [values] if isinstance(values, str) or not isinstance(values, Iterable) else list(values)
    if not items:
        raise ParameterError(
            f"parameter {name!r} is empty; choose some of: {', '.join(map(str, choices))} (or None for all)"
        )
    return tuple(dict.fromkeys(check_choice(name, item, choices) for item in items))


def check_codes(name: str, values, example: str = "[701]") -> tuple[int, ...]:
    """Whole-number codes (donors, recipients, years): one or a non-empty list.

    Raises
    ------
    ParameterError
        ``parameter 'donors' = 'Japan' is not valid; give a non-empty list of
        whole numbers such as [701]``.
    """
    items = [values] if isinstance(values, Integral) else values
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        items = None
    else:
        items = list(items)
    if not items or any(isinstance(item, bool) or not isinstance(item, Integral) for item in items):
        raise ParameterError(
            f"parameter {name!r} = {_show(values)} is not valid; "
            f"give a non-empty list of whole numbers such as {example}"
        )
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
    """Return ``value`` as an int if it is a whole year in ``first``..``last``.

    Parameters
    ----------
    name : str
        The parameter's name.
    value : int
        The year given; a bool, a float with a fraction or a string is refused
        (papermill passes YAML/JSON values through, so ``2022`` arrives as an int).
    first, last : int, optional
        Inclusive bounds; default the years of the DAC table (:func:`dac_years`).

    Raises
    ------
    ParameterError
        ``parameter 'base_year' = 1990 is not valid; choose a year from 2000 to 2023 ...``
    """
    table_first, table_last = dac_years()
    first = table_first if first is None else first
    last = table_last if last is None else last
    where = (
        " (the years of the DAC exchange-rate and deflator table)"
        if (first, last) == (table_first, table_last)
        else ""
    )
    is_whole = isinstance(value, Integral) and not isinstance(value, bool)
    if isinstance(value, float) and value.is_integer():
        is_whole = True
    if not is_whole or not first <= int(value) <= last:
        hint = ""
        if isinstance(value, str) and value.strip().isdigit():
            hint = f" (pass it as a number, {value.strip()}, not a string)"
        raise ParameterError(
            f"parameter {name!r} = {_show(value)} is not valid; "
            f"choose a year from {first} to {last}{where}{hint}"
        )
    return int(value)


def check_theme(theme: str) -> str:
    """Validate a theme id (one of :data:`oda_data.THEMES`)."""
    return check_choice("theme", theme, THEMES)


def check_region(region: str) -> str:
    """Validate a region (one of :data:`oda_data.REGIONS`)."""
    return check_choice("region", region, REGIONS)


@dataclass(frozen=True)
class MoneyBasis:
    """The currency and price base a notebook shows money in.

    Attributes
    ----------
    currency : {"USD", "JPY"}
    prices : {"current", "constant"}
    base_year : int
        Base year of constant prices (ignored for current prices, but still a
        year of the DAC table).
    """

    currency: str = "USD"
    prices: str = "current"
    base_year: int = 2022

    @property
    def label(self) -> str:
        """Unit label such as ``"USD, constant 2022 prices"``."""
        return money_label(self.currency, self.prices, self.base_year)

    @property
    def prices_phrase(self) -> str:
        """``"current prices"`` or ``"constant 2022 prices"``, for sentences."""
        return "current prices" if self.prices == "current" else f"constant {self.base_year} prices"


def check_money_basis(currency="USD", prices="current", base_year=2022) -> MoneyBasis:
    """Validate the three money parameters the notebooks share.

    Returns
    -------
    MoneyBasis

    Raises
    ------
    ParameterError
        For a currency other than USD/JPY, prices other than current/constant
        or a base year outside the DAC table.

    Examples
    --------
    >>> check_money_basis("JPY", "constant", 2020).label
    'JPY, constant 2020 prices'
    """
    return MoneyBasis(
        currency=check_choice("currency", currency, CURRENCIES),
        prices=check_choice("prices", prices, PRICES),
        base_year=check_year("base_year", base_year),
    )
