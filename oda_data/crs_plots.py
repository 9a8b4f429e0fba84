"""Charts of the CRS notebooks, in the house style of :mod:`oda_data.plots`.

Each chart says its unit in the axis title ("USD million, current prices")
and carries a source line naming the CRS file (by name only) and, for the
demonstration file, that the data are invented (:func:`source_line`). The
functions return the figure; end the notebook cell with ``plt.show()``.
"""
from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from .crs_analysis import UNIT, CRSSource
from .plots import house_style
from .themes import THEMES

__all__ = ["THEME_COLORS", "donor_chart", "recipients_chart", "source_line", "theme_year_chart", "white_paper_chart"]

_WIDTH = 8.0  # inches, as oda_data.plots
#: One colour per theme label, fixed (Okabe-Ito first, then greys/browns).
THEME_COLORS = dict(zip(THEMES.values(), (
    "#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#004D80", "#999999", "#8C564B",
)))
_FOCUS, _OTHER, _WP = "#0072B2", "#BBBBBB", "#E69F00"


def source_line(source: CRSSource, *, white_paper: bool = False) -> str:
    """The words under a chart: the file by name, and "invented" for the demonstration file."""
    crs = (f"demonstration data, invented (not OECD figures): {source.name}" if source.is_demo
           else f"OECD Creditor Reporting System, file {source.name}")
    prefix = "Sources: Japan's ODA White Paper 2018, ch. (3); " if white_paper else "Source: "
    return f"{prefix}{crs}; security themes by oda_data.tag_themes."


def _add_source(fig: Figure, text: str) -> None:
    """Write ``text`` under the plot, keeping a strip free for it (as :func:`oda_data.plots.add_source`)."""
    engine = fig.get_layout_engine()
    height = fig.get_figheight()
    if engine is not None and hasattr(engine, "set"):
        engine.set(rect=(0, 0.36 / height, 1, 1 - 0.36 / height))
    fig.text(0.01, 0.012, textwrap.fill(text, 130), ha="left", va="bottom", fontsize=7.5, color="#666666")


def _empty(ax, message: str) -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, message, ha="center", va="center")


def theme_year_chart(table: pd.DataFrame, unit_label: str, title: str, source: CRSSource) -> Figure:
    """Stacked bars: security ODA per year, one colour per theme.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`oda_data.crs_analysis.by_theme_year` (its ``Total`` column is ignored).
    unit_label : str
        E.g. "USD million, current prices".
    """
    years = [c for c in table.columns if c != "Total"]
    values = table[years]
    values = values.loc[values.sum(axis=1) > 0]
    with house_style():
        fig, ax = plt.subplots(figsize=(_WIDTH, 4.6), layout="constrained")
        if values.empty:
            _empty(ax, "No security activity in these years.")
        else:
            bottom = np.zeros(len(years))
            for theme, row in values.iterrows():
                ax.bar([str(y) for y in years], row.to_numpy(), bottom=bottom, color=THEME_COLORS.get(theme, "#777777"),
                       label=theme, width=0.65)
                bottom += row.to_numpy()
            for x, total in enumerate(bottom):
                ax.text(x, total, f"{total:,.1f}", ha="center", va="bottom", fontsize=8.5, color="#333333")
            ax.set_ylim(0, bottom.max() * 1.15 if bottom.max() > 0 else 1)
            ax.set_ylabel(unit_label)
            ax.set_xlabel("Year")
            ax.grid(axis="y")
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
        ax.set_title(title)
        _add_source(fig, source_line(source))
    return fig


def donor_chart(comparison: pd.DataFrame, unit_label: str, title: str, source: CRSSource) -> Figure:
    """Horizontal bars of each donor's security ODA; chosen donors in blue, share of own total as label."""
    with house_style():
        fig, ax = plt.subplots(figsize=(_WIDTH, max(2.6, 1.5 + 0.38 * len(comparison))), layout="constrained")
        if comparison.empty or comparison["security"].sum() == 0:
            _empty(ax, "No security activity in this source.")
        else:
            y = np.arange(len(comparison))
            colors = [_FOCUS if focus else _OTHER for focus in comparison["focus"]]
            ax.barh(y, comparison["security"], color=colors, height=0.7)
            largest = float(comparison["security"].max())
            for yi, value, share in zip(y, comparison["security"], comparison["security_share"]):
                label = f"{value:,.1f}" + ("" if pd.isna(share) else f"  ({share:.1f}% of its total)")
                ax.text(value + largest * 0.01, yi, label, va="center", fontsize=8.5, color="#333333")
            ax.set_yticks(y, comparison["donor"].astype(str))
            ax.set_ylim(len(comparison) - 0.5, -0.5)
            ax.set_xlim(0, largest * 1.45)
            ax.set_xlabel(unit_label)
            ax.grid(axis="x")
            ax.tick_params(axis="y", length=0)
        ax.set_title(title)
        _add_source(fig, source_line(source))
    return fig


def recipients_chart(top: pd.DataFrame, unit_label: str, title: str, source: CRSSource) -> Figure:
    """Horizontal bars of the largest recipients, largest on top."""
    with house_style():
        fig, ax = plt.subplots(figsize=(_WIDTH, max(2.6, 1.5 + 0.36 * len(top))), layout="constrained")
        if top.empty:
            _empty(ax, "No security activity to rank.")
        else:
            y = np.arange(len(top))
            ax.barh(y, top["amount"], color=_FOCUS, height=0.7)
            largest = float(top["amount"].max())
            for yi, value, share in zip(y, top["amount"], top["share"]):
                ax.text(value + largest * 0.01, yi, f"{value:,.1f} ({share:.1f}%)", va="center", fontsize=8.5)
            ax.set_yticks(y, [textwrap.shorten(str(name), 34, placeholder="…") for name in top["recipient"]])
            ax.set_ylim(len(top) - 0.5, -0.5)
            ax.set_xlim(0, largest * 1.3 if largest > 0 else 1)
            ax.set_xlabel(unit_label)
            ax.grid(axis="x")
            ax.tick_params(axis="y", length=0)
        ax.set_title(title)
        _add_source(fig, source_line(source))
    return fig


def white_paper_chart(matches: pd.DataFrame, title: str, source: CRSSource) -> Figure:
    """White Paper figure against CRS total per record, USD million on a log scale.

    Records lacking either side are left out (the table shows them). A log
    scale because the figures run from a few million to billions.
    """
    both = matches.loc[matches["wp_usd_m"].notna() & matches["crs_usd_m"].notna()].reset_index(drop=True)
    with house_style():
        fig, ax = plt.subplots(figsize=(_WIDTH, max(2.8, 1.6 + 0.55 * len(both))), layout="constrained")
        if both.empty:
            _empty(ax, "No figure has both a White Paper amount and a CRS total.")
        else:
            y = np.arange(len(both))
            floor = 0.01  # a zero CRS total still shows as a stub on the log scale
            ax.barh(y - 0.19, both["wp_usd_m"], height=0.36, color=_WP, label="White Paper figure")
            ax.barh(y + 0.19, both["crs_usd_m"].clip(lower=floor), height=0.36, color=_FOCUS, label="CRS total")
            for yi, wp, crs in zip(y, both["wp_usd_m"], both["crs_usd_m"]):
                ax.text(wp * 1.08, yi - 0.19, f"{wp:,.1f}", va="center", fontsize=8)
                ax.text(max(crs, floor) * 1.08, yi + 0.19, f"{crs:,.1f}", va="center", fontsize=8)
            ax.set_xscale("log")
            # The house style draws text, not TeX: plain tick labels ("10", "1,000").
            ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}" if value >= 1 else f"{value:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
            values = pd.concat([both["wp_usd_m"], both["crs_usd_m"].clip(lower=floor)])
            ax.set_xlim(max(values.min() / 2, floor / 2), values.max() * 4)
            ax.set_yticks(y, both["record_id"])
            ax.set_ylim(len(both) - 0.5, -0.5)
            ax.set_xlabel(f"{UNIT}, current prices (log scale)")
            ax.grid(axis="x")
            ax.tick_params(axis="y", length=0)
            ax.legend(loc="lower right")
        ax.set_title(title)
        _add_source(fig, source_line(source, white_paper=True))
    return fig
