"""The pandas side of the narrative notebooks: tables computed from the White Paper.

Every function takes the White Paper frame (:func:`oda_data.white_paper`) and,
where money is involved, a :class:`~oda_data.params.MoneyBasis` (currency,
prices, base year). They return small frames or dataclasses that
:mod:`oda_data.narrative` turns into sentences and :mod:`oda_data.plots` into
charts, so that a notebook cell is one call.

Rules that keep totals honest
-----------------------------
* A record with ``equivalent_of`` restates another record in a second currency
  (the Africa pledge is "$120 million (approximately ¥14 billion)"). It is
  never added to a total: :func:`without_restatements` drops it.
* Pledges, reported achievements, contributions and disbursements are
  different things (an achievement is money delivered *against* a pledge), so
  money is always broken down by ``kind`` and never summed across kinds.
* An amount without a year or period (a cumulative total "to date") is valued
  at :data:`oda_data.white_paper.REPORT_YEAR` (see :func:`oda_data.convert`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .money import convert
from .params import MoneyBasis, check_region, check_theme
from .schema import REGIONS
from .themes import THEMES
from .white_paper import REPORT_YEAR

__all__ = [
    "KIND_LABELS",
    "MONEY_KINDS",
    "Profile",
    "entries",
    "largest_amounts",
    "money_by",
    "people_by_theme",
    "pledge_packages",
    "region_profile",
    "split_names",
    "theme_profile",
    "timeline",
    "with_money",
    "without_restatements",
]

#: Kinds that carry money, in the order tables and charts show them.
MONEY_KINDS = ("pledge", "achievement", "contribution", "disbursement")
#: Column / legend labels of each kind.
KIND_LABELS = {
    "pledge": "Pledged",
    "achievement": "Reported achieved",
    "contribution": "Contributed",
    "disbursement": "Disbursed",
    "output": "Output",
    "initiative": "Initiative",
}
#: Column labels of :func:`people_by_theme`.
PEOPLE_PLEDGED = "Pledged to train"
PEOPLE_TRAINED = "Reported trained"
#: Kinds whose ``people`` are people trained (graduates, personnel trained).
#: A contribution's people are staff Japan sends (ReCAAP-ISC's director), not trainees.
_TRAINED_KINDS = ("achievement", "output")


def without_restatements(wp: pd.DataFrame) -> pd.DataFrame:
    """Drop records that restate another record in a second currency (``equivalent_of``)."""
    return wp.loc[wp["equivalent_of"].isna()]


def with_money(wp: pd.DataFrame, basis: MoneyBasis) -> pd.DataFrame:
    """Return ``wp`` with a ``money`` column in ``basis`` (NaN where no amount).

    Cumulative amounts without a year are valued at ``REPORT_YEAR`` (2018).
    """
    return convert(
        wp,
        to=basis.currency,
        prices=basis.prices,
        base_year=basis.base_year,
        column="money",
        default_year=REPORT_YEAR,
    )


def _labelled(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    """Order rows as the chapter does (THEMES or REGIONS) and show labels, not ids."""
    order = list(THEMES) if by == "theme" else list(REGIONS)
    frame = frame.reindex([key for key in order if key in frame.index])
    if by == "theme":
        frame.index = [THEMES[key] for key in frame.index]
    frame.index.name = by.capitalize()
    return frame


def money_by(wp: pd.DataFrame, by: str, basis: MoneyBasis) -> pd.DataFrame:
    """Money stated by the chapter, by theme or region and kind, in one basis.

    Parameters
    ----------
    wp : DataFrame
        The White Paper (or a subset of it).
    by : {"theme", "region"}
    basis : MoneyBasis

    Returns
    -------
    DataFrame
        Index: theme labels (chapter order) or regions, only those with money.
        Columns: :data:`KIND_LABELS` of the money kinds present (Pledged,
        Reported achieved, Contributed, Disbursed); 0.0 where a row has none of
        a kind. Restatements are excluded; kinds are never added together.
    """
    if by not in ("theme", "region"):
        raise ValueError(f"money_by(by={by!r}): expected 'theme' or 'region'")
    money = with_money(without_restatements(wp), basis)
    money = money.loc[money["money"].notna()]
    table = money.pivot_table(index=by, columns="kind", values="money", aggfunc="sum", fill_value=0.0)
    table = table.reindex(columns=[k for k in MONEY_KINDS if k in table.columns])
    table.columns = [KIND_LABELS[k] for k in table.columns]
    table.columns.name = None
    return _labelled(table, by)


def people_by_theme(wp: pd.DataFrame) -> pd.DataFrame:
    """People pledged to be trained and people reported trained, by theme.

    Returns
    -------
    DataFrame
        Index: theme labels (only themes with people); columns
        ``"Pledged to train"`` (people in pledges) and ``"Reported trained"``
        (people in achievements and outputs such as graduates), as ints.
    """
    people = without_restatements(wp)
    people = people.loc[people["people"].notna()]
    pledged = people.loc[people["kind"] == "pledge"].groupby("theme")["people"].sum()
    trained = people.loc[people["kind"].isin(_TRAINED_KINDS)].groupby("theme")["people"].sum()
    table = pd.DataFrame({PEOPLE_PLEDGED: pledged, PEOPLE_TRAINED: trained}).fillna(0).astype("int64")
    return _labelled(table, "theme")


def split_names(values: pd.Series) -> pd.Series:
    """Count the names in a ``"; "``-separated column (partners, recipients).

    Returns
    -------
    Series
        Name -> number of records naming it, most named first, ties in the
        order of first appearance (deterministic).
    """
    names = values.dropna().str.split("; ").explode().str.strip()
    names = names.loc[names != ""]
    counts = names.value_counts(sort=False)
    first_seen = {name: position for position, name in enumerate(dict.fromkeys(names))}
    order = sorted(counts.index, key=lambda name: (-counts[name], first_seen[name]))
    return counts.reindex(order).rename("records")


# --- entries: one announcement or record with a figure --------------------------------

_ENTRY_COLUMNS = [
    "entry_id", "title", "kind", "theme", "region", "recipients", "partner", "event",
    "description", "period_start", "period_end", "year", "money", "amount", "currency",
    "amount_approximate", "restated_amount", "restated_currency", "people",
    "people_approximate", "countries", "record_ids",
]


def _cut(text: str, limit: int = 70) -> str:
    """Shorten a description to its first clause, at most ``limit`` characters."""
    head = re.split(r":|, | \(", text, maxsplit=1)[0].strip()
    if len(head) <= limit:
        return head
    space = head.rfind(" ", 0, limit - 1)
    # No space to break at (one very long word): cut the word itself.
    return head[: space if space > 0 else limit - 1].rstrip(" ,;") + "…"


def _package_keys(wp: pd.DataFrame) -> pd.Series:
    """The entry each record belongs to.

    Pledge records announced together (same theme, region, event and period:
    the money and the people of one announcement) form one entry, named after
    the first of them; an achievement joins the entry of its pledge with its
    own kind; any other record is an entry on its own.
    """
    keys = pd.Series(wp["record_id"].to_numpy(), index=wp.index, dtype=object)
    pledges = wp.loc[wp["kind"] == "pledge"]
    group_cols = ["theme", "region", "event", "period_start", "period_end"]
    first = pledges.groupby(group_cols, dropna=False, sort=False)["record_id"].transform("first")
    keys.loc[pledges.index] = first
    pledge_entry = dict(zip(pledges["record_id"], first))
    achieved = wp["kind"] == "achievement"
    keys.loc[achieved] = wp.loc[achieved, "pledge_id"].map(pledge_entry) + "/achieved"
    return keys


def entries(wp: pd.DataFrame, basis: MoneyBasis) -> pd.DataFrame:
    """One row per announcement or record that carries a figure.

    The money and the people of one pledge (e.g. "approximately $6 billion,
    including human resources development for approximately 20,000 people")
    become one entry; so do an achievement's money and people. Restatements
    are not entries: their amount is kept as ``restated_amount`` /
    ``restated_currency`` of the entry they restate.

    Returns
    -------
    DataFrame
        Columns ``entry_id`` (the first record's id, ``/achieved`` appended for
        achievements), ``title`` (event and region for pledges and
        achievements ("Japan-ASEAN Summit Meeting, Asia"), else the
        description's first clause), ``kind``,
        ``theme``, ``region``, ``recipients``, ``partner``, ``event``,
        ``description``, ``period_start``, ``period_end``, ``year``, ``money``
        (in ``basis``), ``amount``/``currency``/``amount_approximate`` (as
        stated), ``restated_amount``/``restated_currency``, ``people``,
        ``people_approximate``, ``countries`` and ``record_ids``; in the
        chapter's order.
    """
    frame = with_money(wp, basis)
    restated = frame.loc[frame["equivalent_of"].notna()].set_index("equivalent_of")
    frame = without_restatements(frame)
    frame = frame.loc[frame[["amount", "people", "countries"]].notna().any(axis=1)]
    frame = frame.assign(entry_id=_package_keys(frame))
    pledge_events = wp.set_index("record_id")["event"]
    rows = []
    for entry_id, group in frame.groupby("entry_id", sort=False):
        first = group.iloc[0]
        with_amount = group.loc[group["amount"].notna()]
        with_people = group.loc[group["people"].notna()]
        money_row = with_amount.iloc[0] if len(with_amount) else None
        event = first["event"]
        if first["kind"] == "achievement":
            event = pledge_events.get(first["pledge_id"])
        if first["kind"] in ("pledge", "achievement") and isinstance(event, str):
            title = f"{event}, {first['region']}"
        else:
            title = _cut(first["description"])
        record_id = money_row["record_id"] if money_row is not None else None
        rows.append(
            {
                "entry_id": entry_id,
                "title": title,
                "kind": first["kind"],
                "theme": first["theme"],
                "region": first["region"],
                "recipients": first["recipients"],
                "partner": first["partner"],
                "event": event,
                "description": (money_row if money_row is not None else first)["description"],
                "period_start": first["period_start"],
                "period_end": first["period_end"],
                "year": first["year"],
                "money": with_amount["money"].sum() if len(with_amount) else np.nan,
                "amount": money_row["amount"] if money_row is not None else np.nan,
                "currency": money_row["currency"] if money_row is not None else None,
                "amount_approximate": bool(money_row["approximate"]) if money_row is not None else False,
                "restated_amount": restated["amount"].get(record_id, np.nan) if record_id else np.nan,
                "restated_currency": restated["currency"].get(record_id) if record_id else None,
                "people": with_people["people"].sum() if len(with_people) else pd.NA,
                "people_approximate": bool(with_people["approximate"].any()) if len(with_people) else False,
                "countries": group["countries"].dropna().iloc[0] if group["countries"].notna().any() else pd.NA,
                "record_ids": "; ".join(group["record_id"]),
            }
        )
    out = pd.DataFrame(rows, columns=_ENTRY_COLUMNS)
    for column in ("people", "countries", "period_start", "period_end", "year"):
        out[column] = out[column].astype("Int64")
    return out


def largest_amounts(wp: pd.DataFrame, basis: MoneyBasis, n: int = 5) -> pd.DataFrame:
    """The ``n`` entries with the largest money in ``basis``, largest first.

    Ties (none in the chapter) keep the chapter's order, so the result is stable.
    """
    money = entries(wp, basis)
    money = money.loc[money["money"].notna()]
    return money.sort_values("money", ascending=False, kind="stable").head(n).reset_index(drop=True)


def timeline(wp: pd.DataFrame, basis: MoneyBasis, figures_only: bool = True) -> pd.DataFrame:
    """Entries placed in time: a period (start-end), an open period or one year.

    Parameters
    ----------
    figures_only : bool
        Keep only entries with money or people (the default; what the overview
        charts). ``False`` also places dated records without a figure.

    Returns
    -------
    DataFrame
        The columns of :func:`entries` plus ``start`` and ``end`` (inclusive
        years) and ``open_ended`` (a period "since" a year, drawn up to
        ``REPORT_YEAR``), ordered by start year then the chapter's order.
    """
    if figures_only:
        frame = entries(wp, basis)
        frame = frame.loc[frame["money"].notna() | frame["people"].notna()]
    else:
        dated = without_restatements(with_money(wp, basis))
        frame = entries(wp, basis)
        extra = dated.loc[~dated["record_id"].isin(frame["record_ids"].str.split("; ").explode())]
        extra = extra.assign(
            entry_id=extra["record_id"], title=extra["description"].map(_cut), record_ids=extra["record_id"],
            amount_approximate=False, people_approximate=False,
        ).reindex(columns=_ENTRY_COLUMNS)
        frame = pd.concat([frame, extra], ignore_index=True)
    start = frame["period_start"].fillna(frame["year"])
    frame = frame.assign(
        start=start,
        end=frame["period_end"].fillna(frame["year"].where(frame["period_start"].isna())),
    )
    frame = frame.loc[frame["start"].notna()]
    open_ended = frame["end"].isna()
    frame = frame.assign(end=frame["end"].fillna(REPORT_YEAR), open_ended=open_ended)
    frame = frame.astype({"start": "int64", "end": "int64"})
    return frame.sort_values("start", kind="stable").reset_index(drop=True)


# --- pledges and achievements ----------------------------------------------------------


def _years(start, end) -> int:
    return int(end) - int(start) + 1


def _ratio(numerator, denominator) -> float:
    if pd.isna(numerator) or pd.isna(denominator) or denominator == 0:
        return np.nan
    return float(numerator) / float(denominator)


def pledge_packages(wp: pd.DataFrame, basis: MoneyBasis) -> pd.DataFrame:
    """Each pledge announcement against what the chapter reports achieved.

    Returns
    -------
    DataFrame
        One row per pledge entry (see :func:`entries`), in the chapter's
        order, with columns

        * ``entry_id``, ``title``, ``theme``, ``region``, ``event``,
          ``description``, ``record_ids``;
        * pledge: ``pledged_money`` (in ``basis``), ``pledged_amount``,
          ``pledged_currency``, ``pledged_approximate`` (as stated),
          ``restated_amount``/``restated_currency``, ``pledged_people``,
          ``pledged_people_approximate``, ``pledged_start``, ``pledged_end``,
          ``pledged_years``;
        * achievement: ``achieved`` (bool), ``achieved_money``,
          ``achieved_amount``, ``achieved_currency``, ``achieved_people``,
          ``achieved_start``, ``achieved_end``, ``achieved_years``;
        * arithmetic: ``money_ratio`` and ``people_ratio`` (achieved /
          pledged), ``pledged_money_per_year``, ``achieved_money_per_year``,
          ``money_pace_ratio``, ``pledged_people_per_year``,
          ``achieved_people_per_year``, ``people_pace_ratio``,
          ``pledged_money_per_person``, ``achieved_money_per_person``.

        NaN where a figure is not stated (e.g. no achievement reported).

    Examples
    --------
    The Asia counter-terrorism pledge (¥45 billion and 2,000 people over
    2016-2018) against ¥80 billion and 2,653 people in 2016-2017:

    >>> from oda_data import white_paper
    >>> from oda_data.params import MoneyBasis
    >>> asia = pledge_packages(white_paper(), MoneyBasis("JPY")).query("region == 'Asia'").iloc[0]
    >>> print(f"{asia.money_ratio:.0%} of the money, {asia.people_ratio:.0%} of the people")
    178% of the money, 133% of the people
    """
    table = entries(wp, basis)
    pledges = table.loc[table["kind"] == "pledge"]
    achieved = table.loc[table["kind"] == "achievement"].set_index("entry_id")
    rows = []
    for pledge in pledges.itertuples(index=False):
        got = achieved.loc[f"{pledge.entry_id}/achieved"] if f"{pledge.entry_id}/achieved" in achieved.index else None
        pledged_years = _years(pledge.period_start, pledge.period_end)
        row = {
            "entry_id": pledge.entry_id,
            "title": pledge.title,
            "theme": pledge.theme,
            "region": pledge.region,
            "event": pledge.event,
            "description": pledge.description,
            "record_ids": pledge.record_ids,
            "pledged_money": pledge.money,
            "pledged_amount": pledge.amount,
            "pledged_currency": pledge.currency,
            "pledged_approximate": pledge.amount_approximate,
            "restated_amount": pledge.restated_amount,
            "restated_currency": pledge.restated_currency,
            "pledged_people": pledge.people,
            "pledged_people_approximate": pledge.people_approximate,
            "pledged_start": pledge.period_start,
            "pledged_end": pledge.period_end,
            "pledged_years": pledged_years,
            "achieved": got is not None,
        }
        if got is not None:
            achieved_years = _years(got["period_start"], got["period_end"])
            row.update(
                achieved_money=got["money"],
                achieved_amount=got["amount"],
                achieved_currency=got["currency"],
                achieved_people=got["people"],
                achieved_start=got["period_start"],
                achieved_end=got["period_end"],
                achieved_years=achieved_years,
                record_ids=f"{pledge.record_ids}; {got['record_ids']}",
            )
        rows.append(row)
    out = pd.DataFrame(rows)
    for column in ("achieved_money", "achieved_amount", "achieved_people", "achieved_start",
                   "achieved_end", "achieved_years", "achieved_currency"):
        if column not in out:
            out[column] = np.nan
    for column in ("pledged_people", "achieved_people", "pledged_start", "pledged_end",
                   "achieved_start", "achieved_end", "achieved_years"):
        out[column] = pd.array(out[column], dtype="Float64").astype("Int64")
    ratio = np.vectorize(_ratio, otypes=[float])
    people = lambda column: out[column].astype("Float64").to_numpy(dtype=float, na_value=np.nan)  # noqa: E731
    out["money_ratio"] = ratio(out["achieved_money"], out["pledged_money"])
    out["people_ratio"] = ratio(people("achieved_people"), people("pledged_people"))
    pledged_years = out["pledged_years"].to_numpy(dtype=float)
    achieved_years = people("achieved_years")
    out["pledged_money_per_year"] = out["pledged_money"] / pledged_years
    out["achieved_money_per_year"] = out["achieved_money"] / achieved_years
    out["money_pace_ratio"] = ratio(out["achieved_money_per_year"], out["pledged_money_per_year"])
    out["pledged_people_per_year"] = people("pledged_people") / pledged_years
    out["achieved_people_per_year"] = people("achieved_people") / achieved_years
    out["people_pace_ratio"] = ratio(out["achieved_people_per_year"], out["pledged_people_per_year"])
    out["pledged_money_per_person"] = ratio(out["pledged_money"], people("pledged_people"))
    out["achieved_money_per_person"] = ratio(out["achieved_money"], people("achieved_people"))
    return out


# --- profiles ----------------------------------------------------------------------------


@dataclass
class Profile:
    """Everything the chapter says about one theme or one region.

    Attributes
    ----------
    subject : {"theme", "region"}
    key : str
        The theme id or the region.
    label : str
        The theme's label or the region.
    basis : MoneyBasis
    records : DataFrame
        The subject's records (restatements excluded) with a ``money`` column.
    entries : DataFrame
        Its figures, as :func:`entries` (money and people of one pledge together).
    money : DataFrame
        :func:`money_by` over the other dimension (regions of a theme, themes
        of a region); empty when the chapter gives no amount.
    breakdown : DataFrame
        Per region (theme profile) or theme (region profile): ``records``,
        ``with_figures``, ``people_trained`` and ``partners`` (names joined by
        "; ").
    partners, recipients : Series
        Names (split on "; ") -> number of records, most named first.
    initiatives : DataFrame
        Records of kind ``initiative`` (named programmes without a figure).
    gaps : DataFrame
        What the chapter does not quantify: ``record_id``, ``kind``,
        ``description`` and ``gap`` (a short phrase such as "amount not stated").
    pledges : DataFrame
        :func:`pledge_packages` rows of this subject.
    absent : list of str
        Regions (theme profile) or theme labels (region profile) with no record.
    """

    subject: str
    key: str
    label: str
    basis: MoneyBasis
    records: pd.DataFrame
    entries: pd.DataFrame
    money: pd.DataFrame
    breakdown: pd.DataFrame
    partners: pd.Series
    recipients: pd.Series
    initiatives: pd.DataFrame
    gaps: pd.DataFrame
    pledges: pd.DataFrame
    absent: list = field(default_factory=list)

    @property
    def other(self) -> str:
        """The dimension the profile breaks down by: "region" or "theme"."""
        return "region" if self.subject == "theme" else "theme"


def _gaps(records: pd.DataFrame, pledges: pd.DataFrame) -> pd.DataFrame:
    """Records whose size the chapter does not give, with the reason in a phrase."""
    gap = pd.Series(pd.NA, index=records.index, dtype="str")
    no_amount = records["amount"].isna()
    no_people = records["people"].isna() & records["countries"].isna()
    gap[records["kind"].isin(["contribution", "disbursement"]) & no_amount] = "amount not stated"
    gap[(records["kind"] == "output") & no_people] = "number of people not stated"
    no_figure = records[["amount", "people", "countries"]].isna().all(axis=1)
    gap[(records["kind"] == "initiative") & no_figure] = "no figure (a named initiative)"
    unmet = pledges.loc[~pledges["achieved"], "record_ids"].str.split("; ").explode()
    gap[records["record_id"].isin(unmet)] = "no achievement reported"
    out = records.assign(gap=gap).loc[lambda f: f["gap"].notna()]
    return out[["record_id", "kind", "region", "theme", "description", "gap"]].reset_index(drop=True)


def _breakdown(records: pd.DataFrame, by: str) -> pd.DataFrame:
    has_figure = records[["amount", "people", "countries"]].notna().any(axis=1)
    trained = records["people"].where(records["kind"].isin(_TRAINED_KINDS))
    grouped = records.assign(with_figures=has_figure, people_trained=trained).groupby(by)
    table = pd.DataFrame(
        {
            "records": grouped.size(),
            "with_figures": grouped["with_figures"].sum(),
            "people_trained": grouped["people_trained"].sum().astype("int64"),
            "partners": grouped["partner"].agg(lambda s: "; ".join(split_names(s).index)),
        }
    )
    return _labelled(table, by)


def _profile(wp: pd.DataFrame, subject: str, key: str, label: str, basis: MoneyBasis) -> Profile:
    other = "region" if subject == "theme" else "theme"
    mine = wp.loc[wp[subject] == key]
    records = with_money(without_restatements(mine), basis).reset_index(drop=True)
    pledges = pledge_packages(wp, basis)
    pledges = pledges.loc[pledges[subject] == key].reset_index(drop=True)
    everyone = list(REGIONS) if other == "region" else list(THEMES)
    present = set(records[other])
    absent = [THEMES.get(k, k) if other == "theme" else k for k in everyone if k not in present]
    return Profile(
        subject=subject,
        key=key,
        label=label,
        basis=basis,
        records=records,
        entries=entries(mine, basis),
        money=money_by(mine, other, basis),
        breakdown=_breakdown(records, other),
        partners=split_names(records["partner"]),
        recipients=split_names(records["recipients"]),
        initiatives=records.loc[records["kind"] == "initiative"].reset_index(drop=True),
        gaps=_gaps(records, pledges),
        pledges=pledges,
        absent=absent,
    )


def theme_profile(wp: pd.DataFrame, theme: str, basis: MoneyBasis) -> Profile:
    """Everything the chapter says about one theme (an id of :data:`oda_data.THEMES`)."""
    theme = check_theme(theme)
    return _profile(wp, "theme", theme, THEMES[theme], basis)


def region_profile(wp: pd.DataFrame, region: str, basis: MoneyBasis) -> Profile:
    """Everything the chapter says about one region (one of :data:`oda_data.REGIONS`)."""
    region = check_region(region)
    return _profile(wp, "region", region, region, basis)
