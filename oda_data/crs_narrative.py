"""Markdown for the CRS notebooks: source notes, summaries and tables from the numbers.

Every function returns Markdown for ``IPython.display.Markdown``. Every value
inserted, numbers and data text alike (donor, recipient and project names from
a CRS file contain anything), goes through :func:`oda_data.narrative.escape_markdown`
(via :func:`~oda_data.narrative.markdown` and
:func:`~oda_data.narrative.markdown_table`).

Numbers: CRS amounts are shown in **USD million** with two decimals
(:func:`format_usd_m`, "1,234.57"), shares with one decimal (:func:`format_share`,
"25.6%"); a missing value shows as an en dash.
"""
from __future__ import annotations

import math
import re

import pandas as pd

from . import crs_analysis
from .crs_analysis import UNIT, CRSSource, SecurityTrends, WhitePaperComparison
from .narrative import (
    CHAPTER,
    describe_change,
    escape_markdown,
    format_count,
    format_years,
    join_words,
    markdown,
    markdown_table,
)
from .themes import theme_label

__all__ = [
    "code_span",
    "comparison_summary",
    "comparison_table",
    "donor_summary",
    "donor_table",
    "format_share",
    "format_usd_m",
    "usd_m",
    "method_note",
    "readings",
    "recipients_table",
    "region_table",
    "source_note",
    "theme_mix_table",
    "theme_year_table",
    "trends_summary",
    "unmatched_table",
    "units_note",
]

_DASH = "–"
_ORDINALS = {1: "st", 2: "nd", 3: "rd"}


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def format_usd_m(value) -> str:
    """An amount already in USD million, two decimals: 1234.567 -> "1,234.57"; NaN -> "–"."""
    return _DASH if _missing(value) else f"{float(value):,.2f}"


def usd_m(value) -> str:
    """An amount in USD million for a sentence: 386.94 -> "USD 386.94 million"."""
    return f"USD {format_usd_m(value)} million"


def format_share(value) -> str:
    """A percentage (already x100), one decimal: 25.61 -> "25.6%"; NaN -> "–"."""
    return _DASH if _missing(value) else f"{float(value):,.1f}%"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else _ORDINALS.get(n % 10, "th")
    return f"{n}{suffix}"


# --------------------------------------------------------------------------- source


def code_span(text) -> str:
    """``text`` as a Markdown code span, shown exactly as typed.

    Backslash escapes do not work inside a code span (they would show), so the
    text goes in raw; a fence longer than any run of backticks in it keeps it
    closed, and line breaks become spaces.

    Examples
    --------
    >>> code_span("crs_2018.txt"), code_span("a`b")
    ('`crs_2018.txt`', '``a`b``')
    """
    text = " ".join(str(text).split())
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def source_note(source: CRSSource, notes=()) -> str:
    """Where the numbers come from; a bold warning when they are the demonstration data.

    Parameters
    ----------
    source : CRSSource
    notes : iterable of str
        The reader's notes (from :func:`oda_data.crs_analysis.read_source`).
    """
    env = code_span(crs_analysis.SOURCE_ENV_VAR)
    if source.is_demo:
        text = (
            "**Demonstration data, not OECD figures.** No CRS source was configured (parameter `crs_source` "
            f"or environment variable {env}), so this run reads {code_span(source.name)}: invented activities "
            "in a real CRS layout that ship with the package so the notebook runs in any clone. Its numbers "
            "show how the analysis works and say nothing about real aid. Set `crs_source` or "
            f"{env} to an OECD CRS file (`oda-data download crs --reduced` fetches one) for real figures."
        )
    else:
        origin = "the `crs_source` parameter" if source.origin == "parameter" else f"the environment variable {env}"
        text = f"**Source:** the OECD CRS file {code_span(source.name)}, named by {origin}."
    if notes:
        text += "\n\nThe CRS reader noted:\n\n" + "\n".join(f"- {escape_markdown(note)}" for note in notes)
    return text


# --------------------------------------------------------------------------- trends


def _who(trends: SecurityTrends) -> str:
    names = trends.focus_names
    return names[0] if len(names) == 1 else join_words(names) + " together"


def trends_summary(trends: SecurityTrends) -> str:
    """The opening paragraph of the trends notebook: total, change, themes, recipients, regions."""
    query = trends.query
    focus = trends.focus
    who = _who(trends)
    period = format_years(trends.years)
    theme_words = ("the chapter's nine security themes" if len(query.themes) == 9
                   else join_words(theme_label(t) for t in query.themes))
    if focus.empty or focus["amount"].sum() == 0:
        return markdown(
            "{who} reported no security and stability activity ({themes}) with {flow} in this source for "
            "{period}.", who=who, themes=theme_words, flow=query.flow_phrase, period=period)
    total = focus["amount"].sum()
    recipients = focus["recipient"].nunique()
    parts = [markdown(
        "Over {period}, {who} reported **{total}** of {flow} ({prices}) for security and stability "
        "({themes}) in this source: {n} in {k}.",
        period=period, who=who, total=usd_m(total), flow=query.flow_phrase,
        prices=query.prices_phrase, themes=theme_words,
        n=format_count(len(focus), "activities", "activity"),
        k=format_count(recipients, "recipient countries and regions", "recipient country or region"))]
    yearly = crs_analysis.yearly_totals(focus, trends.years)
    if len(yearly) > 1:
        first_year, last_year = yearly.index[0], yearly.index[-1]
        first, last = yearly.iloc[0], yearly.iloc[-1]
        if first > 0:
            change = describe_change(first, last)
            change = "unchanged" if change == "the same" else change
            parts.append(markdown(
                "The yearly amount went from {first} in {y0} to {last} in {y1} ({change}); "
                "the largest year was {peak} ({peak_value}).",
                first=usd_m(first), y0=first_year, last=usd_m(last), y1=last_year,
                change=change, peak=int(yearly.idxmax()), peak_value=usd_m(yearly.max())))
        else:
            parts.append(markdown("Nothing was reported in {y0}; {last} in {y1}.",
                                  y0=first_year, last=usd_m(last), y1=last_year))
    themes = focus.groupby("theme_label")["amount"].sum().sort_values(ascending=False, kind="stable")
    themes = themes.loc[themes > 0]
    ranked = [f"{name} ({usd_m(value)}, {format_share(value / total * 100)})"
              for name, value in themes.head(3).items()]
    parts.append(markdown("The largest theme{s} {verb} {themes}.", s="s" if len(ranked) > 1 else "",
                          verb="were" if len(ranked) > 1 else "was", themes=join_words(ranked, separator="; ")))
    top = crs_analysis.top_recipients(focus, n=3)
    regions = crs_analysis.by_region(focus)
    parts.append(markdown(
        "The largest recipient was {name} ({value}, {share} of the total); by region, {region} "
        "received the most ({region_share}).",
        name=top.iloc[0]["recipient"], value=usd_m(top.iloc[0]["amount"]),
        share=format_share(top.iloc[0]["share"]), region=regions.iloc[0]["region"],
        region_share=format_share(regions.iloc[0]["share"])))
    return " ".join(parts)


def theme_year_table(table: pd.DataFrame) -> str:
    """Markdown of :func:`oda_data.crs_analysis.by_theme_year`, with a total row."""
    shown = table.copy()
    shown.loc["All themes"] = shown.sum()
    out = pd.DataFrame({"Theme": shown.index})
    for column in shown.columns:
        out[str(column)] = [format_usd_m(v) for v in shown[column]]
    return markdown_table(out, align={str(c): "right" for c in shown.columns})


def region_table(regions: pd.DataFrame) -> str:
    """Markdown of :func:`oda_data.crs_analysis.by_region`."""
    if regions.empty:
        return "No security activity to break down."
    out = pd.DataFrame({
        "Region (DAC, from the recipient code)": regions["region"],
        f"{UNIT}": [format_usd_m(v) for v in regions["amount"]],
        "Share": [format_share(v) for v in regions["share"]],
    })
    return markdown_table(out, align={UNIT: "right", "Share": "right"})


def recipients_table(top: pd.DataFrame) -> str:
    """Markdown of :func:`oda_data.crs_analysis.top_recipients`."""
    if top.empty:
        return "No security activity to rank."
    out = pd.DataFrame({
        "Rank": top["rank"].astype(str),
        "Recipient": top["recipient"],
        "Region": top["region"],
        UNIT: [format_usd_m(v) for v in top["amount"]],
        "Share of the total": [format_share(v) for v in top["share"]],
        "Activities": top["activities"].map(lambda n: f"{int(n):,}"),
    })
    return markdown_table(out, align={"Rank": "right", UNIT: "right", "Share of the total": "right", "Activities": "right"})


def donor_summary(comparison: pd.DataFrame, trends: SecurityTrends) -> str:
    """How the chosen donors compare with the others in the source (Markdown)."""
    query = trends.query
    n = len(comparison)
    sentences = []
    others = comparison.loc[~comparison["focus"]]
    for row in comparison.loc[comparison["focus"]].itertuples():
        sentences.append(markdown(
            "{donor} ranks {rank} of {n} donors in this source with {security} of security {flow}, "
            "{share_all} of all the donors' security ODA here; security is {share_own} of {donor}'s own total "
            "({total}, every purpose).",
            donor=row.donor, rank=_ordinal(int(row.rank)), n=n, security=usd_m(row.security),
            flow=query.flow_phrase, share_all=format_share(row.share_of_all), share_own=format_share(row.security_share),
            total=usd_m(row.total)))
    shares = others["security_share"].dropna()
    if len(shares):
        leader = others.loc[others["security_share"] == shares.max()].iloc[0]
        sentences.append(markdown(
            "For the other {k} donors the security share of their total ranges from {low} to {high} "
            "({leader} has the highest).", k=len(others), low=format_share(shares.min()),
            high=format_share(shares.max()), leader=leader["donor"]))
    return " ".join(sentences)


def donor_table(comparison: pd.DataFrame) -> str:
    """Markdown of :func:`oda_data.crs_analysis.donor_comparison` (the chosen donors marked)."""
    out = pd.DataFrame({
        "Rank": comparison["rank"].astype(str),
        "Donor": comparison["donor"],
        "Chosen": comparison["focus"].map({True: "yes", False: ""}),
        f"Security ({UNIT})": [format_usd_m(v) for v in comparison["security"]],
        f"Total, every purpose ({UNIT})": [format_usd_m(v) for v in comparison["total"]],
        "Security in % of the donor's total": [format_share(v) for v in comparison["security_share"]],
        "Share of all donors' security ODA": [format_share(v) for v in comparison["share_of_all"]],
    })
    return markdown_table(out, align={c: "right" for c in out.columns if c not in ("Donor", "Chosen")})


def theme_mix_table(mix: pd.DataFrame) -> str:
    """Markdown of :func:`oda_data.crs_analysis.theme_mix` (each row sums to 100%)."""
    if mix.empty:
        return "No donor reported security activity here."
    columns = [c for c in mix.columns if mix[c].sum() > 0]
    out = pd.DataFrame({"Donor": mix.index})
    for column in columns:
        out[column] = [format_share(v) for v in mix[column]]
    return markdown_table(out, align={c: "right" for c in columns})


def method_note(trends: SecurityTrends) -> str:
    """How rows become "security" and how regions are found (Markdown)."""
    text = markdown(
        "**Method.** A CRS activity counts as security and stability ODA when `oda_data.tag_themes` gives it "
        "one of the chapter's themes (theme rules version {version}: purpose codes 15210 and 16063 alone, "
        "other security-related purpose codes with a keyword in the title or description, a few unambiguous "
        "keywords anywhere). The donor totals are every activity of the donor in the source for the same "
        "years, flow and prices. Regions are the broad DAC regions of the recipient codes. Amounts are "
        "{unit} as the CRS reports them.",
        version=crs_analysis.theme_rules_version(), unit=UNIT)
    if not trends.text_available:
        text += " " + markdown(
            "This source has no project titles or descriptions (an aggregated export), so only the "
            "purpose-code rules can apply and keyword-tagged themes are missing.")
    return text


# --------------------------------------------------------------------------- White Paper vs CRS


def units_note() -> str:
    """The units of both sides, said once (Markdown)."""
    return markdown(
        "**Units.** The White Paper states whole US dollars or yen; each figure is converted to {unit}, "
        "current prices, with `oda_data.convert` (OECD DAC exchange rates for Japan; a multi-year amount at "
        "the mean rate of its period, a total \"to date\" at {year}). The CRS reports {unit}; the totals "
        "below are in current prices, as the chapter's figures are. The gap is the White Paper figure minus "
        "the CRS total.", unit=UNIT, year=crs_analysis.REPORT_YEAR)


def comparison_summary(comparison: WhitePaperComparison) -> str:
    """Opening paragraph: how many figures, how many found, the overall picture (Markdown)."""
    matches, unmatched = comparison.matches, comparison.unmatched
    computed = matches.loc[matches["crs_usd_m"].notna()]
    with_both = computed.loc[computed["wp_usd_m"].notna()]
    text = markdown(
        "{chapter} gives {n} figures (amounts, people or countries) that this notebook looks for in the CRS. "
        "{k} have a CRS counterpart, defined as a query in `oda_data/data/white_paper_crs_queries.yaml`; "
        "{m} cannot be found in the CRS by nature (below). The source covers {years}.",
        chapter="The chapter " + CHAPTER.split(", chapter ")[1], n=len(matches) + len(unmatched), k=len(matches),
        m=len(unmatched), years=format_years(comparison.source_years))
    # A restatement (the same pledge in a second currency) beside its original
    # would count one amount twice in the count and the median.
    twice = with_both["restates"].isin(with_both["record_id"])
    counted = with_both.loc[~twice]
    if len(counted):
        below = int((counted["crs_usd_m"] < counted["wp_usd_m"]).sum())
        median = counted["crs_share"].median()
        text += " " + markdown(
            "Of the {n} amounts with a CRS total, the chapter's figure is the larger in {below}; the CRS "
            "total is a median {median} of the chapter's figure.",
            n=len(counted), below=below, median=format_share(median))
        restated = [f"{row.record_id} (the same amount as {row.restates} in a second currency)"
                    for row in with_both.loc[twice].itertuples()]
        if restated:
            text += " " + markdown("Not counted twice: {items}.", items=join_words(restated))
    missing = matches.loc[matches["crs_usd_m"].isna(), "record_id"].tolist()
    if missing:
        text += " " + markdown("No CRS total could be computed for {ids} (see the readings).", ids=join_words(missing))
    return text


def comparison_table(comparison: WhitePaperComparison) -> str:
    """The side-by-side table: figure as stated, both amounts in USD million, gap (Markdown)."""
    m = comparison.matches
    out = pd.DataFrame({
        "Record": m["record_id"],
        "Kind": m["kind"],
        "As stated": m["stated"] + " (" + m["wp_period"] + ")",
        f"White Paper ({UNIT})": [format_usd_m(v) for v in m["wp_usd_m"]],
        "CRS years (of query)": m["covered"] + " (" + m["period"] + ")",
        "Activities": m["activities"].map(lambda n: f"{int(n):,}"),
        f"CRS ({UNIT})": [format_usd_m(v) for v in m["crs_usd_m"]],
        f"Gap ({UNIT})": [format_usd_m(v) for v in m["gap_usd_m"]],
        "CRS in % of WP": [format_share(v) for v in m["crs_share"]],
    })
    return markdown_table(out, align={c: "right" for c in out.columns[3:]})


def readings(comparison: WhitePaperComparison) -> str:
    """One paragraph per figure: the query in words, its note and why the two can differ (Markdown)."""
    blocks = []
    for row in comparison.matches.itertuples():
        block = [markdown("**{id}** · {stated} · CRS query: {query}.", id=row.record_id, stated=row.stated,
                          query=row.query)]
        if row.note:
            block.append(markdown("*Why this query:* {note}", note=row.note))
        block.append("\n".join(f"- {escape_markdown(reason)}" for reason in row.reasons))
        blocks.append("\n\n".join(block))
    return "\n\n".join(blocks)


def unmatched_table(comparison: WhitePaperComparison) -> str:
    """Figures without a CRS counterpart and why (Markdown)."""
    u = comparison.unmatched
    if u.empty:
        return "Every figure of the chapter has a CRS counterpart."
    out = pd.DataFrame({"Record": u["record_id"], "Kind": u["kind"], "Figure": u["figure"], "Why not in the CRS": u["reason"]})
    return markdown_table(out)
