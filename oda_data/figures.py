"""What the White Paper notebooks share, once: the set-up, a record's figures in words (as stated and in a money
basis, honestly rounded), the record table and the amount chart; the analysis stays in the notebooks."""
from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import pandas as pd

from . import fmt, style
from .money import convert
from .params import dac_years
from .white_paper import REPORT_YEAR, white_paper

#: A number of people is counted in one of these measures (the chapter's words), never added across them.
MEASURES = {"human resources development": "Human resources development (pledged)",
            "personnel to be trained": "To be trained (pledged)", "personnel trained": "Reported trained",
            "graduates": "Graduates"}


def chapter(basis) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The records (amounts also in ``basis``, column ``value``) and the restatements (:func:`split_restatements`)."""
    wp = convert(white_paper(), to=basis.currency, prices=basis.prices, base_year=basis.base_year,
                 column="value", default_year=REPORT_YEAR)
    return split_restatements(wp)


def split_restatements(wp: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The records, and the restatements (``equivalent_of`` set) by the record they restate: the same money in a
    second currency (the Africa pledge in yen), shown beside its record, never as a record of its own."""
    restatements = wp.dropna(subset=["equivalent_of"]).set_index("equivalent_of")
    return wp[wp["equivalent_of"].isna()].reset_index(drop=True), restatements


def stated(row, restatements: pd.DataFrame) -> str:
    """The amount in the chapter's words, with its restatement once: "$120 million (approximately ¥14 billion)"."""
    text = fmt.money(row.amount, row.currency, approximate=bool(row.approximate))
    if row.record_id in restatements.index:
        again = restatements.loc[row.record_id]
        text += f" ({fmt.money(again.amount, again.currency, approximate=bool(again.approximate))})"
    return text


def chapter_figure(row, restatements: pd.DataFrame, currency: str):
    """The record, or its restatement where the chapter gives the amount in ``currency`` itself."""
    if row.record_id in restatements.index and restatements.at[row.record_id, "currency"] == currency:
        return restatements.loc[row.record_id]
    return row


#: In constant prices, a total with no year ("to date") is not deflated: no year says which prices it is in.
UNDATED = "not deflated: the chapter gives no year"


def undated(row) -> bool:
    """True for a figure without period or year (a total "to date", "in the past two years")."""
    return pd.isna(row.period_start) and pd.isna(row.period_end) and pd.isna(row.year)


def in_basis(row, restatements: pd.DataFrame, basis, value: str = "value") -> str:
    """The amount in ``basis`` (column ``value``), with the chapter figure's significant figures and "approximately"."""
    row = chapter_figure(row, restatements, basis.currency)
    if basis.prices == "constant" and undated(row):
        return UNDATED
    if row.currency == basis.currency and basis.prices == "current":
        return fmt.money(row.amount, row.currency, approximate=bool(row.approximate))
    return fmt.money(getattr(row, value), basis.currency, approximate=bool(row.approximate),
                     sig=fmt.significant_figures(row.amount))  # "$15.1 million" has three, "$6 billion" one


def people_text(row) -> str:
    """People in the chapter's measure and words ("human resources development for approximately 20,000 people")."""
    if row.people_measure == "human resources development":
        text = f"human resources development for {fmt.count(row.people, 'people', approximate=bool(row.approximate))}"
    else:
        text = fmt.count(row.people, row.people_measure, approximate=bool(row.approximate))
    return text if pd.isna(row.countries) else f"{text} from {fmt.count(row.countries, 'countries')}"


def figure_columns(frame: pd.DataFrame, restatements: pd.DataFrame, basis) -> pd.DataFrame:
    """``frame`` with the text a table shows (``stated``, ``shown``, ``people_text``, ``measure``, ``period``,
    ``year``, ``note``; "" where empty) and ``value``, the number behind ``shown``."""
    rows = list(frame.itertuples())
    return frame.assign(
        stated=[stated(r, restatements) if pd.notna(r.amount) else "" for r in rows],
        shown=[in_basis(r, restatements, basis) if pd.notna(r.amount) else "" for r in rows],
        value=[float("nan") if basis.prices == "constant" and undated(r)
               else chapter_figure(r, restatements, basis.currency).value for r in rows],
        people_text=[people_text(r) if pd.notna(r.people) else "" if pd.isna(r.countries)
                     else fmt.count(r.countries, "countries") for r in rows],
        measure=frame["people_measure"].map(MEASURES).fillna(""),
        period=[fmt.period(r.period_start, r.period_end) for r in rows],
        year=frame["year"].astype("string").fillna(""),
        note=frame["note"].fillna(""),
    )


def headings(basis) -> dict[str, str]:
    """Column headings of the record tables, the amount in the basis headed by its label."""
    return {"record_id": "Record", "stated": "Amount as the chapter states it", "shown": basis.label,
            "people_text": "People or countries", "measure": "Measure of people", "kind": "Kind",
            "period": "Period", "year": "Year", "theme": "Theme", "region": "Region", "description": "What",
            "note": "The package's note", "event": "Announcement"}


def record_table(frame: pd.DataFrame, columns: list[str], basis, caption: str, names: dict | None = None):
    """``fmt.table`` of ``columns`` of a :func:`figure_columns` frame; where it has money, the numbers
    behind the text (amount, currency, value in the basis, basis) go into ``csv_only`` columns."""
    table = frame[columns].rename(columns=headings(basis) | (names or {}))
    numbers = {}
    if frame["amount"].notna().any():
        numbers = {"amount_as_stated": frame["amount"], "currency_as_stated": frame["currency"],
                   "value_in_basis": frame["value"].where(frame["amount"].notna()),
                   "basis": pd.Series(basis.label, index=frame.index).where(frame["amount"].notna())}
    return fmt.table(table.assign(**numbers), caption=caption, csv_only=list(numbers))


def bar_names(frame: pd.DataFrame, width: int = 38) -> list[str]:
    """What each bar is (the record's description), wrapped so that no name is cut off."""
    return [textwrap.fill(text, width) for text in frame["description"]]


def amount_chart(bars: pd.DataFrame, basis, title: str, alt: str) -> None:
    """One bar per amount (``value``, labelled with ``shown``), log scale, coloured by kind: never stacked or summed."""
    bars = bars.sort_values("value", kind="stable")
    names = bar_names(bars)
    fig, ax = plt.subplots(figsize=(8, 1.6 + 0.17 * sum(n.count("\n") + 2 for n in names)))
    ax.barh(range(len(bars)), bars["value"], color=bars["kind"].map(style.KIND_COLORS))
    ax.set_yticks(range(len(bars)), names, fontsize=8)
    for y, (value, text) in enumerate(zip(bars["value"], bars["shown"])):
        ax.annotate(text, (value, y), xytext=(4, 0), textcoords="offset points", va="center", fontsize=9)
    ax.set_xscale("log")
    ax.set_xlim(bars["value"].min() / 10, bars["value"].max() * 60)  # every bar visible; room for the labels
    ax.xaxis.set_visible(False)  # each bar carries its own figure
    kinds = list(dict.fromkeys(k for k in style.KIND_COLORS if k in set(bars["kind"])))
    ax.legend([plt.Rectangle((0, 0), 1, 1, color=style.KIND_COLORS[k]) for k in kinds], kinds, loc="lower right")
    style.finish(ax, title=title, note="Log scale; no bar is a sum")
    described = "; ".join(f"{r.description} ({r.kind}, {r.region}): {r.shown}" for r in bars.itertuples())
    style.show(fig, alt=alt + described)


def method_note(basis) -> str:
    """How money is shown (only on a page that shows money), and what is the package's reading."""
    first, last = dac_years()
    return (f"**How money is shown.** Amounts are in {basis.label}. The chapter states each in US dollars or yen (\"as "
            f"the chapter states it\"); the other column converts that figure with the OECD DAC exchange rates and "
            f"deflators for Japan that ship with the package ({first}–{last}): over a period with the mean of its "
            f"years, else in the record's year, else in {REPORT_YEAR}, the year the chapter reports on. A converted "
            f"amount keeps the precision and the \"approximately\" of the chapter's figure; where the chapter gives "
            f"the amount in the chosen currency itself, that figure is the one converted. Figures of different kinds, "
            f"measures or periods are never added. Themes, regions, kinds and the descriptions are the package's "
            f"reading of the chapter; \"the package's note\" says where it reads more into the text or leaves a field "
            f"empty.")
