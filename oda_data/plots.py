"""The house style and the few chart types the narrative notebooks use.

Every chart:

* is drawn with the object API (``fig, ax = plt.subplots(...)``), so it works
  under Agg and in a kernel alike, at a size fixed by the data shown (no
  randomness, no dependence on the screen);
* uses :data:`KIND_COLORS` for pledges, achievements, contributions ... so a
  colour means the same in every notebook;
* says its unit in the axis title ("USD billion, current prices") and carries
  a source line under the plot (:func:`add_source`).

In a notebook call :func:`use_house_style` once (the notebooks do it in their
setup cell): it applies the style for drawing too and makes the inline backend
emit PNG only, so the stored outputs are an image plus a fixed
``<Figure size ...>`` text. The chart functions return the figure; end the
cell with ``plt.show()`` to display it exactly once.
"""
from __future__ import annotations

import textwrap
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .analysis import KIND_LABELS, PEOPLE_PLEDGED, PEOPLE_TRAINED
from .narrative import figure_phrase, format_count, format_money, format_percent, format_period
from .params import MoneyBasis
from .white_paper import REPORT_YEAR

__all__ = [
    "KIND_COLORS",
    "SOURCE",
    "add_source",
    "house_style",
    "money_bars",
    "money_scale",
    "people_bars",
    "pledge_chart",
    "style_path",
    "timeline_chart",
    "use_house_style",
]

#: The source line printed under every chart.
SOURCE = "Source: Japan's ODA White Paper 2018, ch. (3) Assistance for Security and Stability"
#: Extra words for charts whose money is converted.
CONVERSION_NOTE = "amounts converted where needed with OECD DAC exchange rates and deflators for Japan"
#: One colour per kind of record, the same in every chart (Okabe-Ito palette).
KIND_COLORS = {
    "pledge": "#0072B2",
    "achievement": "#009E73",
    "contribution": "#E69F00",
    "disbursement": "#CC79A7",
    "output": "#56B4E9",
    "initiative": "#999999",
}
_LABEL_KINDS = {label: kind for kind, label in KIND_LABELS.items()}
_PEOPLE_KINDS = {PEOPLE_PLEDGED: "pledge", PEOPLE_TRAINED: "achievement"}
_WIDTH = 8.0  # inches: fits a JupyterLab cell and an A4 report page at 100 dpi


def style_path() -> Path:
    """Path of the shipped ``plots.mplstyle``."""
    return Path(str(resources.files("oda_data").joinpath("plots.mplstyle")))


@contextmanager
def house_style():
    """Context manager: the house style for the figures created inside it."""
    with plt.style.context(style_path()):
        yield


def use_house_style() -> None:
    """Apply the house style for the rest of the session; in IPython, emit PNG only.

    PNG only keeps stored notebook outputs small and stable (nbval does not
    compare images, and no SVG with generated ids is stored).
    """
    plt.style.use(style_path())
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # plain Python: nothing to configure
        return
    if get_ipython() is not None:
        set_matplotlib_formats("png")


def add_source(fig: Figure, note: str | None = None) -> None:
    """Write the source line (and an optional note) under the plot, left-aligned.

    The layout engine keeps a strip at the bottom for it, so it never overlaps
    tick labels.
    """
    # About 150 characters of 7.5 pt text fit on a line of an 8-inch figure.
    lines = textwrap.wrap(SOURCE + (f"; {note}" if note else "") + ".", width=int(fig.get_figwidth() * 18))
    engine = fig.get_layout_engine()
    if engine is not None and hasattr(engine, "set"):
        strip = (0.1 + 0.14 * len(lines)) / fig.get_figheight()
        engine.set(rect=(0, strip, 1, 1 - strip))
    fig.text(0.01, 0.015, "\n".join(lines), ha="left", va="bottom", fontsize=7.5, color="#666666")


def money_scale(largest: float) -> tuple[float, str]:
    """Divisor and word for an axis of money up to ``largest``: (1e9, "billion")."""
    for divisor, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"), (1e3, "thousand")):
        if largest >= divisor:
            return divisor, word
    return 1.0, ""


def _new_figure(n_rows: int, per_row: float = 0.42, minimum: float = 2.6) -> tuple[Figure, plt.Axes]:
    height = max(minimum, 1.5 + per_row * n_rows)
    fig, ax = plt.subplots(figsize=(_WIDTH, round(height, 2)), layout="constrained")
    return fig, ax


def _packed_hbars(ax, table: pd.DataFrame, colors: dict, label) -> int:
    """Horizontal bars, one per non-zero cell, packed within each row's band.

    A row with two kinds gets two bars, one with a single kind gets one
    centred bar: no empty slots for kinds a row does not have. Returns the
    number of bars drawn.
    """
    per_row = max(int((table > 0).sum(axis=1).max()), 1)
    height = 0.8 / per_row
    largest = float(table.to_numpy().max())
    drawn = 0
    for position, (_, values) in enumerate(table.iterrows()):
        present = values.loc[values > 0]
        offsets = (np.arange(len(present)) - (len(present) - 1) / 2) * height
        for offset, (column, value) in zip(offsets, present.items()):
            y = position + offset
            ax.barh(y, value, height=height * 0.9, color=colors[column])
            ax.text(value + largest * 0.01, y, label(value), va="center", ha="left", fontsize=8.5, color="#333333")
            drawn += 1
    ax.set_yticks(range(len(table)), [str(i) for i in table.index])
    ax.set_ylim(len(table) - 0.5, -0.5)  # first row on top, as in the table
    ax.set_xlim(0, largest * 1.22)
    ax.grid(axis="x")
    ax.tick_params(axis="y", length=0)
    handles = [Patch(color=colors[c], label=c) for c in table.columns if (table[c] > 0).any()]
    # Top right, beside the title and outside the plot: never over a bar or a label.
    ax.figure.legend(handles=handles, loc="outside upper right", ncols=min(len(handles), 4))
    return drawn


def money_bars(table: pd.DataFrame, basis: MoneyBasis, title: str) -> Figure:
    """Horizontal bars of a :func:`oda_data.analysis.money_by` table, one colour per kind.

    Parameters
    ----------
    table : DataFrame
        Rows (themes or regions) by kind labels (Pledged, Reported achieved, ...).
    basis : MoneyBasis
        For the axis title ("USD billion, current prices") and value labels.
    title : str

    Returns
    -------
    Figure
    """
    with house_style():
        n_bars = int((table > 0).to_numpy().sum())
        fig, ax = _new_figure(max(n_bars, len(table)))
        if table.empty:
            ax.set_axis_off()
            ax.text(0.5, 0.5, "The chapter states no amount here.", ha="center", va="center")
        else:
            divisor, word = money_scale(float(table.to_numpy().max()))
            colors = {c: KIND_COLORS[_LABEL_KINDS[c]] for c in table.columns}
            _packed_hbars(ax, table / divisor, colors, lambda v: format_money(v * divisor, basis.currency))
            ax.set_xlabel(f"{basis.currency} {word}, {basis.prices_phrase}".replace("  ", " "))
        ax.set_title(title)
        add_source(fig, note=CONVERSION_NOTE)
    return fig


def people_bars(table: pd.DataFrame, title: str) -> Figure:
    """Horizontal bars of :func:`oda_data.analysis.people_by_theme`: pledged vs trained."""
    with house_style():
        n_bars = int((table > 0).to_numpy().sum())
        fig, ax = _new_figure(max(n_bars, len(table)))
        colors = {c: KIND_COLORS[_PEOPLE_KINDS[c]] for c in table.columns}
        _packed_hbars(ax, table.astype(float), colors, lambda v: f"{int(round(v)):,}")
        ax.set_xlabel("People")
        ax.xaxis.set_major_formatter(lambda value, _: f"{value:,.0f}")
        ax.set_title(title)
        add_source(fig)
    return fig


def _compact(text: str) -> str:
    return text.replace("approximately ", "≈")


def timeline_chart(frame: pd.DataFrame, basis: MoneyBasis, title: str) -> Figure:
    """Periods of :func:`oda_data.analysis.timeline` entries, one row per title.

    A pledge and the achievement reported against it share a row: the pledge
    is the wide pale bar, the achievement the narrow dark bar over it. An
    open period ("since 2009") fades out at the report year. Each row is
    labelled with its figures as the chapter states them.
    """
    with house_style():
        titles = list(dict.fromkeys(frame["title"]))
        fig, ax = _new_figure(len(titles), per_row=0.62)
        notes: dict[str, list[str]] = {t: [] for t in titles}
        for row in frame.itertuples(index=False):
            y = titles.index(row.title)
            kind = row.kind
            color = KIND_COLORS.get(kind, "#999999")
            achievement = kind == "achievement"
            ax.barh(
                y,
                row.end - row.start + 1,
                left=row.start,
                height=0.28 if achievement else 0.6,
                color=color,
                hatch="///" if row.open_ended else None,
                edgecolor="white" if row.open_ended else color,
                linewidth=0,
            )
            period = format_period(row.start, None if row.open_ended else row.end, open_ended=row.open_ended)
            notes[row.title].append(f"{KIND_LABELS[kind]} {period}: {_compact(figure_phrase(row._asdict()))}")
        for y, title_text in enumerate(titles):
            ax.annotate(
                "\n".join(textwrap.fill(note, 34) for note in notes[title_text]),
                xy=(1.01, y),
                xycoords=("axes fraction", "data"),
                va="center",
                ha="left",
                fontsize=8,
                color="#333333",
                annotation_clip=False,
            )
        first = int(frame["start"].min())
        ax.set_xlim(first - 0.5, REPORT_YEAR + 1.5)
        ax.set_ylim(len(titles) - 0.5, -0.5)
        ax.set_yticks(range(len(titles)), [textwrap.fill(t, 30) for t in titles], fontsize=9)
        ax.tick_params(axis="y", length=0)
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.grid(axis="x")
        ax.set_xlabel("Year (bars cover whole years)")
        ax.set_title(title)
        kinds = [k for k in KIND_LABELS if k in set(frame["kind"])]
        handles = [Patch(color=KIND_COLORS[k], label=KIND_LABELS[k]) for k in kinds]
        if frame["open_ended"].any():
            handles.append(Patch(facecolor="#bbbbbb", hatch="///", edgecolor="white", label=f"ongoing (shown to {REPORT_YEAR})"))
        fig.legend(handles=handles, loc="outside upper right", ncols=min(len(handles), 3))
        add_source(fig)
    return fig


def pledge_chart(packages: pd.DataFrame, basis: MoneyBasis, title: str) -> Figure:
    """Pledged against reported achieved, money and people side by side.

    Only pledges with a reported achievement are drawn (the others have
    nothing to compare). Each panel shows the pledged and achieved bars of
    every such pledge, with achieved / pledged written over the achieved bar.
    """
    achieved = packages.loc[packages["achieved"]].reset_index(drop=True)
    with house_style():
        panels = [("money", "pledged_money", "achieved_money", "money_ratio"),
                  ("people", "pledged_people", "achieved_people", "people_ratio")]
        panels = [p for p in panels if achieved[p[2]].notna().any()] if len(achieved) else []
        fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(_WIDTH, 3.9), layout="constrained", squeeze=False)
        axes = axes[0]
        if not panels:
            axes[0].set_axis_off()
            axes[0].text(0.5, 0.5, "No pledge has a reported achievement.", ha="center", va="center")
        for ax, (measure, pledged, got, ratio) in zip(axes, panels):
            pledged_values = achieved[pledged].astype(float).to_numpy()
            got_values = achieved[got].astype(float).to_numpy()
            largest = float(np.nanmax(np.concatenate([pledged_values, got_values])))
            if measure == "money":
                divisor, word = money_scale(largest)
                show = lambda v: format_money(v, basis.currency)  # noqa: E731
                ax.set_ylabel(f"{basis.currency} {word}, {basis.prices_phrase}")
                ax.set_title("Money")
            else:
                divisor, word = 1.0, ""
                show = lambda v: format_count(v, "")  # noqa: E731
                ax.set_ylabel("People")
                ax.set_title("People trained")
            x = np.arange(len(achieved))
            width = 0.38
            for offset, values, kind in ((-width / 2, pledged_values, "pledge"), (width / 2, got_values, "achievement")):
                ax.bar(x + offset, values / divisor, width=width * 0.92, color=KIND_COLORS[kind], label=KIND_LABELS[kind])
                for xi, value in zip(x + offset, values):
                    if not np.isnan(value):
                        ax.text(xi, value / divisor, show(value), ha="center", va="bottom", fontsize=8.5)
            for xi, value, share in zip(x, got_values, achieved[ratio]):
                if not np.isnan(value):
                    ax.annotate(
                        f"{format_percent(share)} of the pledge",
                        xy=(xi + width / 2, value / divisor),
                        xytext=(0, 14),
                        textcoords="offset points",
                        ha="center",
                        fontsize=9,
                        fontweight="bold",
                        color=KIND_COLORS["achievement"],
                    )
            labels = [
                f"{row.title}\npledged {format_period(row.pledged_start, row.pledged_end)}, "
                f"achieved {format_period(row.achieved_start, row.achieved_end)}"
                for row in achieved.itertuples()
            ]
            ax.set_xticks(x, labels, fontsize=8)
            ax.set_ylim(0, largest / divisor * 1.3)
            ax.grid(axis="y")
            if measure == "people":
                ax.yaxis.set_major_formatter(lambda value, _: f"{value:,.0f}")
        if panels:
            fig.legend(*axes[0].get_legend_handles_labels(), loc="outside upper right", ncols=2)
        fig.suptitle(title, x=0.01, ha="left", fontsize=12, fontweight="bold")
        add_source(fig, note=CONVERSION_NOTE)
    return fig
