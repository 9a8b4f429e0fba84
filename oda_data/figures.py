"""White Paper records as the chapter states them and in a money basis, honestly rounded.

Every White Paper notebook shows a record's figures the same way, so they live here
once: the amount in the chapter's words with its restatement ("$120 million
(approximately ¥14 billion)"), the amount in the run's currency and prices with no
more precision than the chapter's figure, and people in the chapter's measure
("65 graduates from 39 countries"). Selecting, grouping and comparing records stays
in the notebooks::

    wp = oda_data.convert(oda_data.white_paper(), to=basis.currency, prices=basis.prices,
                          base_year=basis.base_year, column="value", default_year=oda_data.REPORT_YEAR)
    records, restatements = figures.split_restatements(wp)
    table = figures.figure_columns(records, restatements, basis)

``basis`` is what :func:`oda_data.params.check_money_basis` returns (``currency``,
``prices``, ``label``); a row is a record as ``DataFrame.itertuples`` or ``.loc``
gives it.
"""
from __future__ import annotations

import pandas as pd

from . import fmt
from .params import dac_years
from .white_paper import REPORT_YEAR

__all__ = ["MEASURES", "chapter_figure", "figure_columns", "headings", "in_basis", "method_note", "people_text",
           "split_restatements", "stated"]

#: People are counted in different measures, never to be added: the kind of record says which.
MEASURES = {"pledge": "To be trained (pledged)", "achievement": "Reported trained", "output": "Graduates"}


def split_restatements(wp: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The records, and the restatements indexed by the record they restate.

    A restatement (``equivalent_of`` set: the Africa pledge again in yen) is the same
    money in a second currency: it is shown beside its record, never as a record.
    """
    restatements = wp.dropna(subset=["equivalent_of"]).set_index("equivalent_of")
    records = wp[wp["equivalent_of"].isna()].reset_index(drop=True)
    return records, restatements


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


def in_basis(row, restatements: pd.DataFrame, basis, value: str = "value") -> str:
    """The amount in ``basis`` (column ``value`` of the converted table), no more precise than the chapter.

    In the chapter's own currency at current prices it is the chapter's figure; else the
    conversion keeps that figure's significant figures and its "approximately"
    ("approximately $6 billion" in yen: "approximately ¥0.7 trillion").
    """
    row = chapter_figure(row, restatements, basis.currency)
    if row.currency == basis.currency and basis.prices == "current":
        return fmt.money(row.amount, row.currency, approximate=bool(row.approximate))
    digits = fmt.significant_figures(row.amount)  # "$6 billion" has one, "$15.1 million" three
    return fmt.money(getattr(row, value), basis.currency, approximate=bool(row.approximate), sig=digits)


def people_text(row) -> str:
    """People as the chapter counts them: "approximately 20,000 people", "65 graduates from 39 countries"."""
    noun = "graduates" if "graduate" in row.description.lower() else "people"
    text = fmt.count(row.people, noun, approximate=bool(row.approximate))
    return text if pd.isna(row.countries) else f"{text} from {fmt.count(row.countries, 'countries')}"


def figure_columns(frame: pd.DataFrame, restatements: pd.DataFrame, basis) -> pd.DataFrame:
    """``frame`` with the text columns a table of records shows, and ``value`` for charts.

    Added: ``stated`` and ``shown`` (the amount as the chapter states it and in the
    basis), ``people_text`` (people, or countries alone), ``measure`` (of people),
    ``period``, ``year`` and ``note`` as text ("" where empty). ``value`` becomes the
    number behind ``shown``: the restatement's where the chapter gives that currency.
    """
    rows = list(frame.itertuples())
    return frame.assign(
        stated=[stated(r, restatements) if pd.notna(r.amount) else "" for r in rows],
        shown=[in_basis(r, restatements, basis) if pd.notna(r.amount) else "" for r in rows],
        value=[chapter_figure(r, restatements, basis.currency).value for r in rows],
        people_text=[people_text(r) if pd.notna(r.people) else "" if pd.isna(r.countries)
                     else fmt.count(r.countries, "countries") for r in rows],
        measure=frame["kind"].map(MEASURES).fillna(frame["kind"]).where(frame["people"].notna(), ""),
        period=[fmt.period(r.period_start, r.period_end) for r in rows],
        year=frame["year"].astype("string").fillna(""),
        note=frame["note"].fillna(""),
    )


def headings(basis) -> dict[str, str]:
    """Column headings of the record tables, the amount in the basis headed by its label."""
    return {"record_id": "Record", "stated": "Amount as the chapter states it", "shown": basis.label,
            "people_text": "People or countries", "measure": "Measure of people", "kind": "Kind",
            "period": "Period", "year": "Year", "theme": "Theme", "region": "Region", "description": "What",
            "note": "The package's note"}


def method_note(basis) -> str:
    """The closing note of every White Paper notebook: how money is shown, and what is the package's reading."""
    first, last = dac_years()
    return (
        f"**How money is shown.** Amounts are in {basis.label}. The chapter states each in US dollars or yen "
        f"(\"as the chapter states it\"); the other column converts that figure with the OECD DAC exchange rates "
        f"and deflators for Japan that ship with the package ({first}–{last}): over a period with the mean of its "
        f"years, else in the record's year, else in {REPORT_YEAR}, the year the chapter reports on. A converted "
        f"amount keeps the precision and the \"approximately\" of the chapter's figure; where the chapter gives the "
        f"amount in the chosen currency itself, that figure is the one converted. Figures of different kinds, "
        f"measures or periods are never added. Themes, regions, kinds and the descriptions are the package's reading "
        f"of the chapter; \"the package's note\" says where it reads more into the text or leaves a field empty."
    )
