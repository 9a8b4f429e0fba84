"""Helpers and self-checking exercises for the teaching notebooks.

The walkthroughs in ``notebooks/teaching/`` call into this module so that their
code cells stay short. It holds two things:

* small, explained helpers to look at the White Paper dataset
  (:func:`record`, :func:`compact`, :func:`select`, :func:`drop_restatements`,
  :func:`with_figure_flags`, :func:`amounts_in`, :func:`pledge_progress`,
  :func:`restatement_table`, :func:`plot_rate_and_deflator`, ...);
* the exercise registry :data:`EXERCISES` and :func:`check_answer`, which
  compares a learner's answer with the expected one and returns a
  :class:`CheckResult` that displays as friendly feedback.

Every expected answer is **computed** from :func:`oda_data.white_paper` and
:mod:`oda_data.money` when it is checked; no number is typed in here, so an
edit of the dataset or of the DAC table can never leave a stale answer behind.

Examples
--------
>>> from oda_data import teaching
>>> teaching.check_answer("1.4", None)  # doctest: +ELLIPSIS
✏️ Not answered yet: Find the Africa counter-terrorism pledges ...
"""
from __future__ import annotations

import difflib
import html
import math
import numbers
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .analysis import with_money, without_restatements
from .money import convert_amount, deflator, exchange_rate, money_label, rates_table
from .narrative import DOLLAR, escape_markdown, record_period
from .params import MoneyBasis
from .schema import KINDS, REGIONS
from .themes import THEMES
from .white_paper import REPORT_YEAR, white_paper

#: The teaching notebooks, in reading order (file stems in notebooks/teaching/).
NOTEBOOKS = (
    "01_reading_an_oda_figure",
    "02_currencies_and_constant_prices",
    "03_ask_your_own_question",
)

#: Columns :func:`compact` shows by default: enough to read a figure.
COMPACT_COLUMNS = (
    "region",
    "kind",
    "amount",
    "currency",
    "approximate",
    "people",
    "countries",
    "period_start",
    "period_end",
    "description",
)

#: Columns that hold a figure; a record with none of them states no figure.
FIGURE_COLUMNS = ("amount", "people", "countries")


# ---------------------------------------------------------------------------
# Looking at the data
# ---------------------------------------------------------------------------


def _dataset(frame: pd.DataFrame | None) -> pd.DataFrame:
    return white_paper() if frame is None else frame


def _unknown(what: str, value: object, valid: Iterable[str]) -> ValueError:
    """A ValueError naming the bad value, a close match if any, and every valid choice."""
    valid = list(valid)
    close = difflib.get_close_matches(str(value), valid, n=1)
    suggestion = f" (did you mean {close[0]!r}?)" if close else ""
    return ValueError(f"unknown {what} {value!r}{suggestion}; expected one of: {', '.join(valid)}")


def record(record_id: str, frame: pd.DataFrame | None = None) -> pd.Series:
    """Return the one record with ``record_id`` as a Series.

    Parameters
    ----------
    record_id : str
        For example ``"WP-CT-03"``.
    frame : DataFrame, optional
        The White Paper dataset; default :func:`oda_data.white_paper`.

    Raises
    ------
    ValueError
        When no record has that id; the message lists the valid ids.
    """
    frame = _dataset(frame)
    rows = frame[frame["record_id"] == record_id]
    if len(rows) != 1:
        raise _unknown("record_id", record_id, frame["record_id"])
    return rows.iloc[0]


def compact(
    frame: pd.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    max_description: int = 70,
) -> pd.DataFrame:
    """A narrow view of records for reading: indexed by ``record_id``.

    Parameters
    ----------
    frame : DataFrame
        Records of the White Paper dataset (any subset, any extra columns).
    columns : sequence of str, optional
        Columns to show; default :data:`COMPACT_COLUMNS` (those present).
    max_description : int
        Longer descriptions are cut to this many characters, ending in "…",
        so that a table fits the screen.

    Returns
    -------
    DataFrame
        For reading, not computing: amounts are written as the chapter
        writes them ("6 billion", "15.1 million") and missing values are blank.
    """
    if columns is None:
        columns = [c for c in COMPACT_COLUMNS if c in frame.columns]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"compact(): no column(s) {missing}; the frame has {list(frame.columns)}")
    view = frame.set_index("record_id")[list(columns)].copy()
    if "description" in view.columns:
        view["description"] = view["description"].map(
            lambda text: text if len(text) <= max_description else text[: max_description - 1] + "…"
        )
    if "amount" in view.columns:
        view["amount"] = view["amount"].map(amount_words, na_action="ignore")
    return view.astype(object).where(view.notna(), "")


def amount_words(amount: float) -> str:
    """Write an amount as the chapter does: ``6e9`` -> ``"6 billion"``, ``15.1e6`` -> ``"15.1 million"``.

    Examples
    --------
    >>> amount_words(4.5e6)
    '4.5 million'
    """
    for size, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if abs(amount) >= size:
            scaled = amount / size
            # Three significant figures would write 999.7 as "1e+03": whole numbers from there.
            return f"{scaled:,.3g} {word}" if abs(scaled) < 999.5 else f"{scaled:,.0f} {word}"
    return f"{amount:,.0f}"


def _as_choices(name: str, value: str | Iterable[str] | None, valid: Iterable[str]) -> list[str] | None:
    if value is None:
        return None
    values = [value] if isinstance(value, str) else list(value)
    valid = list(valid)
    for item in values:
        if item not in valid:
            raise _unknown(name, item, valid)
    return values


def select(
    frame: pd.DataFrame | None = None,
    *,
    theme: str | Iterable[str] | None = None,
    region: str | Iterable[str] | None = None,
    kind: str | Iterable[str] | None = None,
) -> pd.DataFrame:
    """Filter records by theme, region and/or kind (each one value or a list).

    Parameters
    ----------
    frame : DataFrame, optional
        Default :func:`oda_data.white_paper`.
    theme, region, kind : str or list of str, optional
        Valid values: ``oda_data.THEMES``, ``oda_data.REGIONS``, ``oda_data.KINDS``.

    Raises
    ------
    ValueError
        For a value that is not valid; the message lists the valid values and
        suggests a close one.

    Examples
    --------
    >>> len(select(theme="maritime_security", region="Africa")) > 0
    True
    """
    frame = _dataset(frame)
    keep = pd.Series(True, index=frame.index)
    for column, value, valid in (
        ("theme", theme, THEMES),
        ("region", region, REGIONS),
        ("kind", kind, KINDS),
    ):
        values = _as_choices(column, value, valid)
        if values is not None:
            keep &= frame[column].isin(values)
    return frame[keep]


def drop_restatements(frame: pd.DataFrame) -> pd.DataFrame:
    """Remove records that restate another record's amount (``equivalent_of`` set).

    The chapter sometimes gives one amount twice ("$120 million (approximately
    ¥14 billion)"). The restatement is kept in the dataset so that every
    figure of the text is there, but adding it to its original would count the
    same money twice. (The narrative notebooks use the same rule:
    :func:`oda_data.analysis.without_restatements`.)
    """
    return without_restatements(frame)


def with_figure_flags(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy with boolean columns saying which figures each record states.

    Adds ``has_amount``, ``has_people``, ``has_countries`` and ``has_figure``
    (any of the three). Many records of the chapter name an initiative without
    any figure: they count as records but add nothing to a total.
    """
    out = frame.copy()
    for column in FIGURE_COLUMNS:
        out[f"has_{column}"] = out[column].notna()
    out["has_figure"] = out[[f"has_{c}" for c in FIGURE_COLUMNS]].any(axis=1)
    return out


def figure_summary(frame: pd.DataFrame | None = None, by: str = "theme") -> pd.DataFrame:
    """Count records per group: all, with each kind of figure, and without any figure.

    Parameters
    ----------
    frame : DataFrame, optional
        Default :func:`oda_data.white_paper`.
    by : {"theme", "region", "kind"}
        The column to group by; groups keep the package's order (THEMES,
        REGIONS, KINDS) and empty groups are left out.
    """
    order = {"theme": list(THEMES), "region": list(REGIONS), "kind": list(KINDS)}
    if by not in order:
        raise _unknown("grouping column", by, order)
    flags = with_figure_flags(_dataset(frame))
    flags["no_figure"] = ~flags["has_figure"]
    counts = flags.groupby(by).agg(
        records=("record_id", "size"),
        with_amount=("has_amount", "sum"),
        with_people=("has_people", "sum"),
        with_countries=("has_countries", "sum"),
        without_figure=("no_figure", "sum"),
    )
    present = [group for group in order[by] if group in counts.index]
    return counts.loc[present].astype("int64")


def kinds_table(frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """What each ``kind`` means (from :data:`oda_data.KINDS`) and how many records have it."""
    counts = _dataset(frame)["kind"].value_counts()
    return pd.DataFrame(
        {
            "meaning": list(KINDS.values()),
            "records": [int(counts.get(kind, 0)) for kind in KINDS],
        },
        index=pd.Index(list(KINDS), name="kind"),
    )


def _value_column(to: str, prices: str, base_year: int) -> str:
    base = f"_{base_year}" if prices == "constant" else ""
    return f"{to.lower()}_{prices}{base}_millions"


def amounts_in(
    frame: pd.DataFrame | None = None,
    *,
    to: str = "USD",
    prices: str = "current",
    base_year: int = 2022,
) -> pd.DataFrame:
    """Money records in one currency and price base, in millions, largest first.

    Restatements are dropped (:func:`drop_restatements`), records without an
    amount are left out, and amounts are converted with
    :func:`oda_data.analysis.with_money` (multi-year amounts at the mean rate
    of their period; totals "to date" without a year at
    :data:`oda_data.white_paper.REPORT_YEAR`), as in the narrative notebooks.

    Returns
    -------
    DataFrame
        Indexed by ``record_id``: theme, region, kind, the original amount and
        currency, the period, ``rank`` (1 = largest) and the converted value in
        a column named like ``usd_current_millions`` or
        ``usd_constant_2022_millions``.
    """
    money = drop_restatements(_dataset(frame))
    money = money[money["amount"].notna()]
    column = _value_column(to, prices, base_year)
    converted = with_money(money, MoneyBasis(to, prices, base_year)).rename(columns={"money": column})
    converted[column] = converted[column] / 1e6
    converted = converted.sort_values(column, ascending=False, kind="stable")
    converted["rank"] = np.arange(1, len(converted) + 1)
    columns = ["theme", "region", "kind", "amount", "currency", "period_start", "period_end", "rank", column]
    return converted.set_index("record_id")[columns]


def price_bases(frame: pd.DataFrame | None = None, base_year: int = 2022) -> pd.DataFrame:
    """Each money record in current USD, constant USD and constant JPY, in millions.

    Restatements are dropped and amounts converted with :func:`oda_data.convert`
    (see :func:`amounts_in`); columns are named with
    :func:`oda_data.money_label`, e.g. ``"USD, constant 2022 prices (millions)"``.
    """
    frame = _dataset(frame)
    money = amounts_in(frame)
    table = pd.DataFrame(
        {
            "stated_millions": money["amount"] / 1e6,
            "currency": money["currency"],
            # A total "to date" has no period: it is valued in the report year.
            "period": [
                record_period(record(rid, frame)) or f"to date (valued in {REPORT_YEAR})" for rid in money.index
            ],
        },
        index=money.index,
    )
    for to, prices in (("USD", "current"), ("USD", "constant"), ("JPY", "constant")):
        values = amounts_in(frame, to=to, prices=prices, base_year=base_year)
        label = f"{money_label(to, prices, base_year)} (millions)"
        table[label] = values[_value_column(to, prices, base_year)].round(1)
    return table


def pledge_progress(frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each achievement beside the pledge it reports on (linked by ``pledge_id``).

    Returns
    -------
    DataFrame
        Indexed by the achievement's ``record_id``: ``pledge_id``, the
        ``measure`` compared (the currency, or ``"people"``), ``pledged`` and
        ``achieved`` (in that measure), both periods as text and
        ``percent_of_pledge``.
    """
    frame = _dataset(frame)
    rows = []
    for _, achieved in frame[frame["pledge_id"].notna()].iterrows():
        pledged = record(achieved["pledge_id"], frame)
        if pd.notna(achieved["amount"]):
            if achieved["currency"] != pledged["currency"]:
                raise ValueError(
                    f"{achieved['record_id']} is in {achieved['currency']} but its pledge "
                    f"{pledged['record_id']} is in {pledged['currency']}: convert before comparing"
                )
            measure, promised, done = achieved["currency"], pledged["amount"], achieved["amount"]
        else:
            measure, promised, done = "people", pledged["people"], achieved["people"]
        rows.append(
            {
                "record_id": achieved["record_id"],
                "pledge_id": pledged["record_id"],
                "measure": measure,
                # Whole units (yen, people): readable in a table, exact in a ratio.
                "pledged": round(float(promised)),
                "pledge_period": record_period(pledged),
                "achieved": round(float(done)),
                "achievement_period": record_period(achieved),
                "percent_of_pledge": round(float(done) / float(promised) * 100.0, 1),
            }
        )
    table = pd.DataFrame(rows).set_index("record_id")
    return table.astype({"pledged": "int64", "achieved": "int64"})


def period_years(row: pd.Series) -> int:
    """Number of calendar years a record's period covers, both ends included."""
    if pd.isna(row["period_start"]) or pd.isna(row["period_end"]):
        raise ValueError(f"{row['record_id']} has no complete period (period_start and period_end)")
    return int(row["period_end"]) - int(row["period_start"]) + 1


# ---------------------------------------------------------------------------
# Currencies and prices
# ---------------------------------------------------------------------------


def dac_table(start: int = 2000, end: int = 2023, base_year: int = 2022) -> pd.DataFrame:
    """Japan's DAC exchange rate and deflator for ``start``..``end``.

    Columns ``jpy_per_usd`` and ``deflator`` (``base_year`` = 100), indexed by year.
    """
    years = range(int(start), int(end) + 1)
    return pd.DataFrame(
        {
            "jpy_per_usd": [exchange_rate(year) for year in years],
            "deflator": [round(deflator(year, base_year), 2) for year in years],
        },
        index=pd.Index(list(years), name="year"),
    )


def mean_rate(start: int, end: int, currency: str = "JPY") -> float:
    """Mean of the DAC annual exchange rates of ``start``..``end`` (the multi-year rule)."""
    years = range(int(start), int(end) + 1)
    return sum(exchange_rate(year, currency) for year in years) / len(years)


def _round_to(value: float, unit: float) -> float:
    # Half up, as people round in prose (Python's round() rounds half to even).
    return math.floor(value / unit + 0.5) * unit


def rounding_window(original: float, stated: float, unit: float) -> tuple[float, float]:
    """Exchange rates at which ``original`` rounds to ``stated`` (to the nearest ``unit``).

    Returns ``(low, high)``: every rate ``r`` with ``low <= r < high`` gives
    ``original * r`` that rounds to ``stated``.

    Examples
    --------
    >>> rounding_window(120e6, 14e9, 1e9)
    (112.5, 120.83333333333333)
    """
    if original <= 0 or unit <= 0:
        raise ValueError("original and unit must be positive")
    return (stated - unit / 2) / original, (stated + unit / 2) / original


def dac_years_with_rate(low: float, high: float, currency: str = "JPY") -> list[int]:
    """Years of the shipped DAC table whose annual rate lies in ``[low, high)``."""
    table = rates_table()
    return [int(year) for year in table.index if low <= exchange_rate(int(year), currency) < high]


def restatement_table(
    record_id: str = "WP-CT-04", frame: pd.DataFrame | None = None, unit: float = 1e9
) -> pd.DataFrame:
    """How a restated amount compares with the original at candidate exchange rates.

    For a record whose ``equivalent_of`` points at an original in another
    currency (by default the ¥14 billion restatement of the $120 million
    Africa pledge), convert the original at: the mean DAC rate of its period
    (the package's rule), each year of the period, the year before the period,
    and the rate implied by the two stated figures.

    Returns
    -------
    DataFrame
        One row per rate basis: ``rate`` (units of the restated currency per
        unit of the original's), ``converted_billions``, ``rounds_to_billions``
        (to the nearest ``unit``) and ``matches_statement``.
    """
    frame = _dataset(frame)
    restated = record(record_id, frame)
    if pd.isna(restated["equivalent_of"]):
        raise ValueError(f"{record_id} has no equivalent_of: it restates no other record")
    original = record(restated["equivalent_of"], frame)
    start, end = int(original["period_start"]), int(original["period_end"])
    if {original["currency"], restated["currency"]} != {"USD", "JPY"}:
        raise ValueError(f"{record_id}: only USD<->JPY restatements are supported")
    to_jpy = restated["currency"] == "JPY"

    def rate(first: int, last: int) -> float:
        jpy_per_usd = mean_rate(first, last)
        return jpy_per_usd if to_jpy else 1.0 / jpy_per_usd

    bases = [(f"DAC mean {start}–{end} (package rule)", rate(start, end))]
    announced = None if pd.isna(original["year"]) else int(original["year"])
    for year in range(start, end + 1):
        label = f"DAC {year}" + (" (year announced)" if year == announced else "")
        bases.append((label, rate(year, year)))
    if start - 1 in rates_table().index:
        bases.append((f"DAC {start - 1} (year before the period)", rate(start - 1, start - 1)))
    bases.append(("implied by the chapter's two figures", restated["amount"] / original["amount"]))
    rows = []
    for label, value in bases:
        converted = original["amount"] * value
        rows.append(
            {
                "rate_basis": label,
                "rate": round(value, 4),
                "converted_billions": round(converted / 1e9, 2),
                "rounds_to_billions": _round_to(converted, unit) / 1e9,
                "matches_statement": bool(_round_to(converted, unit) == _round_to(restated["amount"], unit)),
            }
        )
    return pd.DataFrame(rows).set_index("rate_basis")


def plot_rate_and_deflator(
    start: int = 2000,
    end: int = 2023,
    base_year: int = 2022,
    highlight: tuple[int, int] | None = None,
):
    """Two stacked panels: Japan's yen-per-dollar rate and its DAC deflator.

    Parameters
    ----------
    start, end : int
        Years shown (within the shipped table, 2000-2023).
    base_year : int
        The deflator's base year (= 100).
    highlight : (int, int), optional
        A period to shade, e.g. a pledge's ``(2016, 2018)``.

    Returns
    -------
    matplotlib.figure.Figure
        Already closed in pyplot, so that a notebook shows it once: as the
        cell's value, not again when pyplot flushes its open figures.
    """
    import matplotlib.pyplot as plt  # imported here: only this helper draws

    table = dac_table(start, end, base_year)
    # pyplot (not a bare Figure) so that Jupyter's inline backend is set up
    # and knows how to render the returned figure.
    figure = plt.figure(figsize=(8, 5.6), layout="constrained")
    plt.close(figure)
    top, bottom = figure.subplots(2, 1, sharex=True)
    top.plot(table.index, table["jpy_per_usd"], color="#1f4e79", marker="o", markersize=3)
    top.set_ylabel("Yen per US dollar\n(DAC annual average)")
    top.set_title("Japan: exchange rate and DAC deflator", loc="left", fontweight="bold")
    bottom.plot(table.index, table["deflator"], color="#b5523b", marker="o", markersize=3)
    bottom.axhline(100, color="grey", linewidth=0.8, linestyle=":")
    bottom.set_ylabel(f"DAC deflator, USD terms\n({base_year} = 100)")
    bottom.set_xlabel("Year")
    for axis in (top, bottom):
        axis.grid(axis="y", color="#dddddd", linewidth=0.6)
        axis.spines[["top", "right"]].set_visible(False)
        if highlight is not None:
            axis.axvspan(highlight[0] - 0.5, highlight[1] + 0.5, color="#f2c14e", alpha=0.25, linewidth=0)
    if highlight is not None:
        top.text(
            (highlight[0] + highlight[1]) / 2, top.get_ylim()[1], f"{highlight[0]}–{highlight[1]}",
            ha="center", va="top", fontsize=8, color="#7a5a00",
        )
    figure.text(
        0.01, 0.0,
        "Source: OECD DAC, deflators and exchange rates, Japan (donor 701); "
        "table shipped as oda_data/data/dac_japan_rates.csv.",
        fontsize=7.5, color="#555555", ha="left", va="bottom",
    )
    figure.get_layout_engine().set(rect=(0, 0.03, 1, 0.97))
    return figure


# ---------------------------------------------------------------------------
# Exercises
# ---------------------------------------------------------------------------

_STATUS_LABELS = {
    "correct": ("✅", "Correct"),
    "incorrect": ("❌", "Not quite"),
    "unanswered": ("✏️", "Not answered yet"),
}
_STATUS_COLOURS = {"correct": "#2e7d32", "incorrect": "#c62828", "unanswered": "#6d6d6d"}


@dataclass(frozen=True)
class CheckResult:
    """The outcome of checking one answer; displays as feedback in a notebook.

    ``text/plain`` is ``"<icon> <label>: <message>"`` (deterministic, so stored
    notebook outputs do not change between runs); Markdown and HTML reprs show
    the same text, escaped, for JupyterLab and HTML reports: a "$" (feedback
    quotes dollar amounts) is written as :data:`oda_data.narrative.DOLLAR`, so
    two of them are never typeset as TeX.
    """

    exercise_id: str
    status: str
    message: str

    def __post_init__(self):
        if self.status not in _STATUS_LABELS:
            raise ValueError(f"unknown status {self.status!r}; expected one of: {', '.join(_STATUS_LABELS)}")

    @property
    def correct(self) -> bool:
        """True when the answer was right."""
        return self.status == "correct"

    @property
    def label(self) -> str:
        """``"Correct"``, ``"Not quite"`` or ``"Not answered yet"``."""
        return _STATUS_LABELS[self.status][1]

    def __str__(self) -> str:
        icon, label = _STATUS_LABELS[self.status]
        return f"{icon} {label}: {self.message}"

    __repr__ = __str__

    def _repr_markdown_(self) -> str:
        icon, label = _STATUS_LABELS[self.status]
        return f"**{icon} {label}** (exercise {html.escape(self.exercise_id)}): {escape_markdown(self.message)}"

    def _repr_html_(self) -> str:
        icon, label = _STATUS_LABELS[self.status]
        colour = _STATUS_COLOURS[self.status]
        return (
            f'<div class="oda-check oda-check-{self.status}" style="border-left: 4px solid {colour}; '
            f'padding: 0.4em 0.8em; margin: 0.2em 0;">'
            f'<strong style="color: {colour};">{icon} {label}</strong> '
            f"<small>(exercise {html.escape(self.exercise_id)})</small>: "
            f"{html.escape(self.message, quote=False).replace('$', DOLLAR)}</div>"
        )


@dataclass(frozen=True)
class Mistake:
    """A wrong answer learners often give, and what to tell them about it.

    ``value`` computes the wrong answer from the data (like the right one); it
    may return ``None`` when the mistake cannot happen with the current data.
    """

    value: Callable[[], Any]
    feedback: str


@dataclass(frozen=True)
class Exercise:
    """One self-checking exercise.

    Parameters
    ----------
    exercise_id : str
        ``"<notebook>.<n>"``, e.g. ``"2.1"``; the notebook's answer variable is ``answer_<n>``.
    notebook : str
        File stem in ``notebooks/teaching/``.
    title : str
        A few words naming the exercise (the question itself is in the notebook).
    answer_type : {"number", "text", "choice"}
        ``number``: compared within ``tolerance``; ``text``: compared after
        normalisation (case, spaces, quotes, final full stop); ``choice``: one
        letter of ``choices`` (or the choice's text).
    expected : callable
        Computes the expected answer from the data. For ``text`` it may return
        a tuple of accepted answers.
    explain : callable
        Given the expected answer, the sentence a correct answer is told.
    hint : str
        Shown when the answer is missing or wrong.
    tolerance : float
        Numbers: the largest accepted absolute difference.
    unit : str
        Numbers: the unit asked for, named in feedback.
    choices : mapping, optional
        ``choice``: letter -> text.
    mistakes : tuple of Mistake
        Typical wrong answers with specific feedback.
    """

    exercise_id: str
    notebook: str
    title: str
    answer_type: str
    expected: Callable[[], Any]
    explain: Callable[[Any], str]
    hint: str
    tolerance: float = 0.0
    unit: str = ""
    choices: Mapping[str, str] | None = None
    mistakes: tuple[Mistake, ...] = field(default=())

    @property
    def answer_variable(self) -> str:
        """Name of the notebook variable that holds the learner's answer."""
        return f"answer_{self.exercise_id.split('.')[1]}"

    def expected_answer(self) -> Any:
        """The expected answer, computed from the data now (first one if several are accepted)."""
        value = self.expected()
        return value[0] if isinstance(value, tuple) else value

    def check(self, answer: Any) -> CheckResult:
        """Compare ``answer`` with the expected answer and return feedback."""
        if answer is None:
            return CheckResult(self.exercise_id, "unanswered", self.hint)
        expected = self.expected()
        try:
            given = self._normalise(answer)
        except ValueError as problem:
            return CheckResult(self.exercise_id, "incorrect", f"{problem} Hint: {self.hint}")
        if self._matches(given, expected):
            return CheckResult(self.exercise_id, "correct", self.explain(self.expected_answer()))
        mistake = self._closest_mistake(given)
        if mistake is not None:
            return CheckResult(self.exercise_id, "incorrect", f"{mistake.feedback} Hint: {self.hint}")
        return CheckResult(self.exercise_id, "incorrect", f"{self._generic(given, expected)} Hint: {self.hint}")

    # -- comparison ---------------------------------------------------------

    def _normalise(self, answer: Any) -> Any:
        if self.answer_type == "number":
            return _as_number(answer, self.unit)
        if self.answer_type == "choice":
            return _as_choice(answer, self.choices or {})
        return _normalise_text(_as_text(answer))

    def _matches(self, given: Any, expected: Any) -> bool:
        if self.answer_type == "number":
            expected = float(expected)
            slack = self.tolerance + 1e-9 * max(1.0, abs(expected))
            return abs(given - expected) <= slack
        accepted = expected if isinstance(expected, tuple) else (expected,)
        if self.answer_type == "choice":
            return given in accepted
        return given in {_normalise_text(str(value)) for value in accepted}

    def _closest_mistake(self, given: Any) -> Mistake | None:
        # Two typical mistakes may both lie within the tolerance (0.78 and 1.78
        # for a tolerance of 1): the nearest one is the likelier explanation.
        found = []
        for mistake in self.mistakes:
            wrong = mistake.value()
            if wrong is not None and self._matches(given, wrong):
                distance = abs(given - float(wrong)) if self.answer_type == "number" else 0.0
                found.append((distance, len(found), mistake))
        return min(found)[2] if found else None

    def _generic(self, given: Any, expected: Any) -> str:
        if self.answer_type == "number":
            expected = float(expected)
            for power, name in ((3, "thousand"), (6, "million"), (9, "billion")):
                for factor in (10.0**power, 10.0**-power):
                    if abs(given * factor - expected) <= self.tolerance + 1e-9 * max(1.0, abs(expected)):
                        return (
                            f"The digits look right but the unit does not (a factor of one {name}): "
                            f"give the answer in {self.unit or 'the unit asked for'}."
                        )
            direction = "too high" if given > expected else "too low"
            return f"{_format_number(given)} is {direction}."
        if self.answer_type == "choice":
            return f"({given}) is not the best description."
        return f"{given!r} is not the answer we expected."


def _as_number(answer: Any, unit: str) -> float:
    what = f" (in {unit})" if unit else ""
    if isinstance(answer, (pd.Series, pd.Index, np.ndarray, list, tuple)):
        values = np.asarray(answer).ravel()
        if values.size != 1:
            raise ValueError(f"Expected one number{what}, got {values.size} values.")
        answer = values[0]
    if isinstance(answer, (bool, np.bool_)):
        raise ValueError(f"Expected a number{what}, got {answer!r}.")
    if isinstance(answer, numbers.Real):
        value = float(answer)
    elif isinstance(answer, str):
        cleaned = answer.strip().replace(",", "").replace("_", "").replace(" ", "").rstrip("%")
        try:
            value = float(cleaned)
        except ValueError:
            raise ValueError(f"Expected a number{what} such as 12.5, got {answer!r}.") from None
    else:
        raise ValueError(f"Expected a number{what}, got a {type(answer).__name__}.")
    if not math.isfinite(value):
        raise ValueError(f"Expected a finite number{what}, got {value!r}.")
    return value


def _as_text(answer: Any) -> str:
    if isinstance(answer, (pd.Series, pd.Index, np.ndarray, list, tuple)):
        values = np.asarray(answer, dtype=object).ravel()
        if values.size != 1:
            raise ValueError(f"Expected one answer, got {values.size} values.")
        answer = values[0]
    if not isinstance(answer, str):
        raise ValueError(f"Expected text in quotes, e.g. \"Asia\", got {answer!r}.")
    return answer


def _normalise_text(text: str) -> str:
    """Case, surrounding spaces and quotes, inner runs of spaces and a final full stop do not matter."""
    text = text.strip().strip("\"'“”‘’").strip().rstrip(".").strip()
    return re.sub(r"\s+", " ", text).casefold()


def _as_choice(answer: Any, choices: Mapping[str, str]) -> str:
    text = _as_text(answer)
    letter = text.strip().strip("()[]. )").casefold()
    if letter in choices:
        return letter
    by_text = {_normalise_text(value): key for key, value in choices.items()}
    if _normalise_text(text) in by_text:
        return by_text[_normalise_text(text)]
    raise ValueError(f"Expected one of the letters {', '.join(repr(c) for c in choices)}, got {answer!r}.")


def _format_number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.4g}"


# -- expected values, computed from the data -----------------------------------


def _flow_type(row: pd.Series) -> str:
    """Letter of exercise 1.1 describing a record: pledge, one-year, multi-year disbursement, other."""
    if row["kind"] == "pledge":
        return "a"
    if row["kind"] == "disbursement":
        many_years = pd.notna(row["period_start"]) and pd.notna(row["period_end"]) and period_years(row) > 1
        return "c" if many_years else "b"
    return "d"


def _somalia() -> pd.Series:
    return record("WP-MAR-12")


def _asean_progress() -> pd.Series:
    progress = pledge_progress()
    money = progress[progress["measure"] != "people"]
    return money.loc["WP-CT-08"]


def _asean_exceeds_percent() -> float:
    progress = _asean_progress()
    return (progress["achieved"] / progress["pledged"] - 1.0) * 100.0


def _ct_pledges() -> pd.DataFrame:
    return select(theme="counter_terrorism", kind="pledge")


def _people_pledged() -> int:
    return int(_ct_pledges()["people"].sum())


def _people_pledged_and_achieved() -> int:
    achieved = select(theme="counter_terrorism", kind="achievement")["people"].sum()
    return _people_pledged() + int(achieved)


def _africa_ct_pledges() -> pd.DataFrame:
    return select(theme="counter_terrorism", region="Africa", kind="pledge")


def _africa_usd_millions() -> float:
    return float(amounts_in(_africa_ct_pledges())["usd_current_millions"].sum())


def _africa_usd_millions_counted_twice() -> float:
    pledges = _africa_ct_pledges()
    pledges = pledges[pledges["amount"].notna()]
    return float(with_money(pledges, MoneyBasis("USD"))["money"].sum() / 1e6)


def _africa_pledge() -> pd.Series:
    return record(record("WP-CT-04")["equivalent_of"])


def _africa_pledge_yen_billions(years: Sequence[int] | None = None) -> float:
    pledge = _africa_pledge()
    if years is None:
        years = range(int(pledge["period_start"]), int(pledge["period_end"]) + 1)
    value = convert_amount(
        pledge["amount"], pledge["currency"], period_start=min(years), period_end=max(years), to="JPY"
    )
    return value / 1e9


def _africa_announced_year() -> int:
    return int(_africa_pledge()["year"])


def _pledge_year_rates() -> list[float]:
    pledge = _africa_pledge()
    return [exchange_rate(y) for y in range(int(pledge["period_start"]), int(pledge["period_end"]) + 1)]


def _implied_rate() -> float:
    restated = record("WP-CT-04")
    return float(restated["amount"] / record(restated["equivalent_of"])["amount"])


def _somalia_constant(prices_years: Sequence[int] | None = None, multiply: bool = False) -> float:
    row = _somalia()
    if prices_years is None and not multiply:
        return convert_amount(
            row["amount"], row["currency"], period_start=int(row["period_start"]),
            period_end=int(row["period_end"]), prices="constant", base_year=2022,
        ) / 1e6
    years = prices_years or range(int(row["period_start"]), int(row["period_end"]) + 1)
    mean_deflator = sum(deflator(y, 2022) for y in years) / len(years)
    factor = mean_deflator / 100.0
    return row["amount"] * factor / 1e6 if multiply else row["amount"] / factor / 1e6


def _somalia_mean_deflator(base_year: int = 2022) -> float:
    row = _somalia()
    years = range(int(row["period_start"]), int(row["period_end"]) + 1)
    return sum(deflator(y, base_year) for y in years) / len(years)


def _maritime_africa() -> int:
    return len(select(theme="maritime_security", region="Africa"))


def _records_without_figure() -> int:
    return int((~with_figure_flags(white_paper())["has_figure"]).sum())


def _initiatives_without_figure() -> int:
    flags = with_figure_flags(select(kind="initiative"))
    return int((~flags["has_figure"]).sum())


def _ranked_ids() -> list[str]:
    return list(amounts_in().index)


def _raw_ranked_ids() -> list[str]:
    money = drop_restatements(white_paper())
    return list(money.dropna(subset=["amount"]).sort_values("amount", ascending=False)["record_id"])


def _region_most_money_records() -> tuple[str, ...]:
    counts = amounts_in()["region"].value_counts()
    return tuple(counts[counts == counts.max()].index)


def _region_most_records_if_different() -> str | None:
    counts = white_paper()["region"].value_counts()
    top = counts.index[0]
    return None if top in _region_most_money_records() else top


_FLOW_CHOICES = {
    "a": "a pledge: money promised for the coming years",
    "b": "money disbursed in a single year",
    "c": "money disbursed over many years, added up (a cumulative total)",
    "d": "a commitment: a firm obligation to provide a specified amount for a specified purpose",
}


def _exercise_list() -> list[Exercise]:
    first, second, third = NOTEBOOKS
    return [
        # -- 01 reading an ODA figure ----------------------------------------
        Exercise(
            "1.1", first, "What kind of figure is Somalia's $468 million?", "choice",
            expected=lambda: _flow_type(_somalia()),
            explain=lambda letter: (
                f"WP-MAR-12 is of kind '{_somalia()['kind']}' and covers "
                f"{record_period(_somalia())} ({period_years(_somalia())} years): a cumulative total of "
                "money already paid out, not a promise and not a yearly flow."
            ),
            hint="Look at the kind of WP-MAR-12 and at how many years lie between its "
            "period_start and period_end.",
            choices=_FLOW_CHOICES,
            mistakes=(
                Mistake(lambda: "a", "A pledge looks forward; this figure looks back (\"has disbursed\")."),
                Mistake(lambda: "b", "It is disbursed money, but count the years of its period."),
                Mistake(lambda: "d", "A commitment is an obligation to pay; this figure reports money already paid."),
            ),
        ),
        Exercise(
            "1.2", first, "By how much did the ASEAN achievement exceed the pledge?", "number",
            expected=_asean_exceeds_percent,
            explain=lambda value: (
                f"The ¥{_asean_progress()['achieved'] / 1e9:,.0f} billion delivered in "
                f"{_asean_progress()['achievement_period']} is {_asean_progress()['percent_of_pledge']:.0f}% "
                f"of the ¥{_asean_progress()['pledged'] / 1e9:,.0f} billion pledged for "
                f"{_asean_progress()['pledge_period']}: {value:.0f}% more, in fewer years. Both figures are "
                "the chapter's own; the pledge was 'approximately' that amount, and the achievement may "
                "count a wider range of assistance than the pledge did."
            ),
            hint="Use teaching.pledge_progress(wp): the achievement WP-CT-08 points at its pledge "
            "through pledge_id. Exceeded by = (achieved / pledged - 1) x 100.",
            tolerance=1.0,
            unit="percent",
            mistakes=(
                Mistake(
                    lambda: _asean_exceeds_percent() + 100.0,
                    "That is the achievement as a percentage of the pledge; the question asks by how much "
                    "it exceeds the pledge (subtract 100).",
                ),
                Mistake(
                    lambda: _asean_exceeds_percent() / 100.0,
                    "That is a fraction; give the answer in percent (x 100).",
                ),
                Mistake(
                    lambda: _asean_exceeds_percent() / 100.0 + 1.0,
                    "That is the ratio achieved / pledged; subtract 1 and give the answer in percent.",
                ),
            ),
        ),
        Exercise(
            "1.3", first, "How many people did the 2016 counter-terrorism pledges promise to train?", "number",
            expected=_people_pledged,
            explain=lambda value: (
                f"{value:,} people: "
                + " + ".join(
                    f"{int(row.people):,} ({row.region})"
                    for row in _ct_pledges().dropna(subset=["people"]).itertuples()
                )
                + ". People are a different unit from money: they have their own column and are never "
                "added to amounts."
            ),
            hint="Filter counter_terrorism records of kind 'pledge' and add up the people column "
            "(money is in another column).",
            tolerance=0.0,
            unit="people",
            mistakes=(
                Mistake(
                    _people_pledged_and_achieved,
                    "You also added people already trained (an achievement, WP-CT-09): "
                    "count only what was pledged.",
                ),
            ),
        ),
        Exercise(
            "1.4", first, "Total pledged for counter-terrorism in Africa, in US$ million", "number",
            expected=_africa_usd_millions,
            explain=lambda value: (
                f"${value:,.0f} million: the pledge WP-CT-03 alone. WP-CT-04 states the same pledge in yen "
                "(its equivalent_of is WP-CT-03), so adding both would count it twice "
                f"(${_africa_usd_millions_counted_twice():,.0f} million)."
            ),
            hint="Find the Africa counter-terrorism pledges with an amount. Is any of them the same "
            "money stated in another currency? Look at the equivalent_of column.",
            tolerance=1.0,
            unit="millions of US dollars",
            mistakes=(
                Mistake(
                    _africa_usd_millions_counted_twice,
                    "You counted the pledge twice: WP-CT-04 (yen) is the same pledge as WP-CT-03 "
                    "(dollars); its equivalent_of column says so. Drop restatements before adding.",
                ),
                Mistake(
                    lambda: float(_africa_ct_pledges()["amount"].sum() / 1e6),
                    "You added dollars and yen as if they were one currency, and the yen figure "
                    "restates the dollar one anyway.",
                ),
            ),
        ),
        # -- 02 currencies and constant prices -------------------------------
        Exercise(
            "2.1", second, "$120 million in yen at the mean 2016-2018 DAC rate", "number",
            expected=_africa_pledge_yen_billions,
            explain=lambda value: (
                f"About ¥{value:.1f} billion: ${_africa_pledge()['amount'] / 1e6:,.0f} million x "
                f"¥{mean_rate(int(_africa_pledge()['period_start']), int(_africa_pledge()['period_end'])):.2f} "
                "per dollar (the mean of the three annual DAC rates). The chapter's "
                "'approximately ¥14 billion' is not what the DAC rates give."
            ),
            hint="Yen = dollars x yen-per-dollar. Average exchange_rate(2016), (2017) and (2018), "
            "or call oda_data.convert_amount with period_start and period_end.",
            tolerance=0.1,
            unit="billions of yen",
            mistakes=(
                Mistake(
                    lambda: _africa_pledge_yen_billions([_africa_announced_year()]),
                    "That is the rate of the year of the announcement alone; the package's rule "
                    "averages every year of the pledge's period.",
                ),
                Mistake(
                    lambda: round(record("WP-CT-04")["amount"] / 1e9, 1),
                    "That is the chapter's rounded figure; compute the amount from the DAC rates instead.",
                ),
            ),
        ),
        Exercise(
            "2.2", second, "The exchange rate implied by the chapter's two figures", "number",
            expected=_implied_rate,
            explain=lambda value: (
                f"¥{value:.1f} per dollar. The DAC annual rates of the pledge years "
                f"({record_period(_africa_pledge())}) range from ¥{min(_pledge_year_rates()):.1f} to "
                f"¥{max(_pledge_year_rates()):.1f}: none of them is that high."
            ),
            hint="Divide the yen amount of WP-CT-04 by the dollar amount of the record it restates.",
            tolerance=0.1,
            unit="yen per US dollar",
            mistakes=(
                Mistake(
                    lambda: 1.0 / _implied_rate(),
                    "That is dollars per yen: divide the yen amount by the dollar amount, not the reverse.",
                ),
            ),
        ),
        Exercise(
            "2.3", second, "Somalia's $468 million in constant 2022 US dollars", "number",
            expected=_somalia_constant,
            explain=lambda value: (
                f"About ${value:,.0f} million in 2022 prices. The mean deflator of "
                f"{record_period(_somalia())} is {_somalia_mean_deflator():.1f} (2022 = 100), so a dollar "
                f"of that period counts as {100 / _somalia_mean_deflator():.2f} dollars of 2022. Japan's "
                "deflator is in dollar terms: the strong yen of those years weighs in."
            ),
            hint="Constant = current / (deflator / 100), with the mean deflator of every year of the "
            "period (2022 = 100); or oda_data.convert_amount(..., prices=\"constant\", base_year=2022).",
            tolerance=1.0,
            unit="millions of US dollars",
            mistakes=(
                Mistake(
                    lambda: float(_somalia()["amount"] / 1e6),
                    "That is the amount in current prices; divide by the deflator (over 100).",
                ),
                Mistake(
                    lambda: _somalia_constant(prices_years=[int(_somalia()["period_end"])]),
                    "You used the deflator of the last year only; the rule for a period uses the mean "
                    "deflator of every year in it.",
                ),
                Mistake(
                    lambda: _somalia_constant(multiply=True),
                    "You multiplied by the deflator; divide by it (constant = current / (deflator / 100)).",
                ),
            ),
        ),
        Exercise(
            "2.4", second, "The 2018 deflator rebased to 2016 = 100", "number",
            expected=lambda: deflator(2018, base_year=2016),
            explain=lambda value: (
                f"{value:.1f}: {deflator(2018):.2f} / {deflator(2016):.2f} x 100. Rebasing divides the whole "
                "series by the base year's value; it changes the unit, not the story."
            ),
            hint="Rebased value = deflator(2018) / deflator(2016) x 100, or oda_data.deflator(2018, base_year=2016).",
            tolerance=0.1,
            unit="index points (2016 = 100)",
            mistakes=(
                Mistake(
                    lambda: deflator(2018),
                    "That is the 2018 deflator with 2022 = 100; rebase it to 2016 = 100.",
                ),
                Mistake(
                    lambda: deflator(2016, base_year=2018),
                    "Upside down: divide the 2018 value by the 2016 value.",
                ),
            ),
        ),
        # -- 03 ask your own question -------------------------------------------
        Exercise(
            "3.1", third, "Maritime security records in Africa", "number",
            expected=_maritime_africa,
            explain=lambda value: (
                f"{value} records: "
                + ", ".join(select(theme="maritime_security", region="Africa")["record_id"])
                + "."
            ),
            hint="teaching.select(wp, theme=..., region=...) and len() of the result.",
            unit="records",
            mistakes=(
                Mistake(
                    lambda: len(select(theme="maritime_security")),
                    "That is every maritime security record; filter the region as well.",
                ),
                Mistake(
                    lambda: len(select(region="Africa")),
                    "That is every record in Africa; filter the theme as well.",
                ),
            ),
        ),
        Exercise(
            "3.2", third, "Records that state no figure at all", "number",
            expected=_records_without_figure,
            explain=lambda value: (
                f"{value} of {len(white_paper())} records state no amount, no people and no countries. "
                "They are real activities, so 'no figure' is not 'nothing'; a total of the figures "
                "leaves them out silently."
            ),
            hint="teaching.with_figure_flags(wp) adds has_figure (amount, people or countries); count "
            "the records where it is False, of every kind.",
            unit="records",
            mistakes=(
                Mistake(
                    lambda: int(white_paper()["amount"].isna().sum()),
                    "That counts records without an amount; some of them still give people or countries.",
                ),
                Mistake(
                    _initiatives_without_figure,
                    "That is initiatives only; the question asks about records of every kind.",
                ),
            ),
        ),
        Exercise(
            "3.3", third, "The second-largest money figure, in US dollars", "text",
            expected=lambda: _ranked_ids()[1],
            explain=lambda value: (
                f"{value}: {amounts_in().loc[value, 'amount'] / 1e9:,.0f} billion "
                f"{amounts_in().loc[value, 'currency']}, about "
                f"${amounts_in().loc[value, 'usd_current_millions']:,.0f} million. Ranking needs one "
                "currency; it still mixes pledges, achievements and disbursements, so say what you rank."
            ),
            hint="Rank teaching.amounts_in(wp) (one currency, restatements dropped) and give the "
            "record_id in second place, as text, e.g. \"WP-XX-01\".",
            mistakes=(
                Mistake(
                    lambda: _raw_ranked_ids()[1],
                    "You ranked the raw amounts, mixing yen and dollars; convert to one currency first.",
                ),
                Mistake(lambda: _ranked_ids()[0], "That is the largest; the question asks for the second."),
            ),
        ),
        Exercise(
            "3.4", third, "The region with most money records", "text",
            expected=_region_most_money_records,
            explain=lambda value: (
                f"{value}. Records with an amount, restatements dropped: "
                + ", ".join(f"{region} {count}" for region, count in amounts_in()["region"].value_counts().items())
                + f". Most records is not most money: the largest amount is in "
                f"{amounts_in().groupby('region')['usd_current_millions'].sum().idxmax()}."
            ),
            hint="Count the regions of teaching.amounts_in(wp) with value_counts(); answer with the "
            "region's name as text.",
            mistakes=(
                Mistake(
                    _region_most_records_if_different,
                    "That region has the most records overall; count only records with an amount.",
                ),
            ),
        ),
    ]


#: Every exercise of the teaching notebooks, by ``exercise_id``.
EXERCISES: Mapping[str, Exercise] = {exercise.exercise_id: exercise for exercise in _exercise_list()}


def exercise(exercise_id: str) -> Exercise:
    """Return the exercise ``exercise_id``; a ValueError lists the valid ids."""
    try:
        return EXERCISES[exercise_id]
    except KeyError:
        raise _unknown("exercise", exercise_id, EXERCISES) from None


def exercises(notebook: str | None = None) -> list[Exercise]:
    """The exercises of one notebook (file stem, see :data:`NOTEBOOKS`), or all."""
    if notebook is not None and notebook not in NOTEBOOKS:
        raise _unknown("notebook", notebook, NOTEBOOKS)
    return [e for e in EXERCISES.values() if notebook is None or e.notebook == notebook]


def check_answer(exercise_id: str, answer: Any) -> CheckResult:
    """Check a learner's answer to one exercise.

    Parameters
    ----------
    exercise_id : str
        For example ``"1.2"`` (see :data:`EXERCISES`).
    answer : object
        The learner's answer; ``None`` means not answered yet (never an error).

    Returns
    -------
    CheckResult
        Displays as "✅ Correct: ...", "❌ Not quite: ... Hint: ..." or
        "✏️ Not answered yet: <hint>".
    """
    return exercise(exercise_id).check(answer)


def expected_answer(exercise_id: str) -> Any:
    """The answer ``exercise_id`` expects, computed from the data now."""
    return exercise(exercise_id).expected_answer()


__all__ = [
    "COMPACT_COLUMNS",
    "EXERCISES",
    "FIGURE_COLUMNS",
    "NOTEBOOKS",
    "CheckResult",
    "Exercise",
    "Mistake",
    "amount_words",
    "amounts_in",
    "check_answer",
    "compact",
    "dac_table",
    "dac_years_with_rate",
    "drop_restatements",
    "exercise",
    "exercises",
    "expected_answer",
    "figure_summary",
    "kinds_table",
    "mean_rate",
    "period_years",
    "pledge_progress",
    "plot_rate_and_deflator",
    "price_bases",
    "record",
    "restatement_table",
    "rounding_window",
    "select",
    "with_figure_flags",
]
