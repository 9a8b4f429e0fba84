"""The house chart style: ``style.use()`` once, draw, ``style.finish(ax, ...)``, then ``style.show(fig, alt=...)``,
a deterministic SVG (nbval compares it) with its alt text."""
from __future__ import annotations

import html
import io
import textwrap
from importlib import resources
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter

#: The source line for charts of the White Paper dataset.
SOURCE = "Source: Japan's ODA White Paper 2018, ch. (3) Assistance for Security and Stability"
#: One colour per kind of record, the same in every chart (Okabe-Ito palette).
KIND_COLORS = {"pledge": "#0072B2", "achievement": "#009E73", "contribution": "#E69F00",
               "disbursement": "#CC79A7", "output": "#56B4E9", "initiative": "#999999"}
#: One colour per theme (oda_data.THEMES ids), the same in every chart that shows themes:
#: Paul Tol's colour-blind-safe "muted" palette, nine colours, one each.
THEME_COLORS = {"police_capacity": "#332288", "counter_terrorism": "#CC6677",
                "transnational_organized_crime": "#DDCC77", "drug_trafficking": "#117733",
                "trafficking_in_persons": "#88CCEE", "money_laundering": "#882255", "maritime_security": "#44AA99",
                "outer_space": "#999933", "cyberspace": "#AA4499"}
_SVG_RC, _SVG_METADATA = {"svg.hashsalt": "oda_data", "svg.fonttype": "none"}, {"Date": None, "Creator": None}


def theme_color(theme_id: str) -> str:
    """The colour of ``theme_id`` in every chart; a ValueError lists the valid ids."""
    try:
        return THEME_COLORS[theme_id]
    except KeyError:
        raise ValueError(f"style.theme_color: unknown theme {theme_id!r}; "
                         f"expected one of: {', '.join(THEME_COLORS)}") from None


def path() -> Path:
    """Path of the shipped ``style.mplstyle``."""
    return Path(str(resources.files("oda_data").joinpath("style.mplstyle")))


def use() -> None:
    """Apply the house style for the rest of the session (a notebook's setup cell)."""
    plt.style.use(path())


def context():
    """The house style for the figures created inside a ``with`` block."""
    return plt.style.context(path())


class PlainLogFormatter(LogFormatter):
    """Log-axis labels as plain numbers ("10", "1,000", "0.5"): never TeX, never "1e+04"."""

    def _num_to_string(self, x, vmin, vmax):
        return f"{x:,.0f}" if x >= 1 else f"{x:.3g}"


def _plain_log_axes(fig: Figure) -> None:
    """Matplotlib's own log labels (TeX, ``$\\mathdefault{10^{1}}$``) become plain numbers; a notebook's own stay."""
    for axis in (axis for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)):
        for formatter, setter in ((axis.get_major_formatter(), axis.set_major_formatter),
                                  (axis.get_minor_formatter(), axis.set_minor_formatter)):
            if isinstance(formatter, LogFormatter) and not isinstance(formatter, PlainLogFormatter):
                setter(PlainLogFormatter(formatter._base, labelOnlyBase=formatter.labelOnlyBase,
                                         minor_thresholds=formatter.minor_thresholds, linthresh=formatter._linthresh))


def finish(ax: Axes, *, title: str | None = None, source: str | None = SOURCE, note: str | None = None) -> Axes:
    """Title the axes, write the source line (and a note) under the figure (wrapped, in a strip the layout keeps)."""
    fig = ax.figure
    if title:
        ax.set_title(title)
    text = ". ".join(part.rstrip(".") for part in (source, note) if part)
    if text:
        lines = textwrap.wrap(text + ".", width=int(fig.get_figwidth() * 14))  # 14 characters of 9 pt an inch
        engine = fig.get_layout_engine()
        if engine is not None and hasattr(engine, "set"):
            strip = (0.08 + 0.16 * len(lines)) / fig.get_figheight()
            engine.set(rect=(0, strip, 1, 1 - strip))
        fig.text(0.01, 0.01, "\n".join(lines), ha="left", va="bottom", fontsize=9, color="#555555")
    _plain_log_axes(fig)
    return ax


def svg(fig: Figure, alt: str | None = None) -> str:
    """The figure as deterministic SVG text, cropped to all it draws; ``alt`` becomes its accessible name."""
    _plain_log_axes(fig)  # also for a chart never finished, or set to log after finish
    buffer = io.StringIO()
    with mpl.rc_context(_SVG_RC):  # bbox "tight": a box around every artist, so nothing is cut
        fig.savefig(buffer, format="svg", metadata=_SVG_METADATA, bbox_inches="tight", pad_inches=0.15)
    text = buffer.getvalue()[buffer.getvalue().index("<svg"):]  # no XML prolog or DOCTYPE inside a page
    if alt:
        text = text.replace("<svg ", f'<svg role="img" aria-label="{html.escape(alt)}" ', 1)
    return text


def show(fig: Figure, alt: str) -> None:
    """Display ``fig`` as an SVG output with ``alt`` as its text, then close it (ValueError without alt)."""
    if not isinstance(alt, str) or not alt.strip():
        raise ValueError("style.show: give alt, a sentence saying what the chart shows")
    from IPython.display import display

    try:
        bundle = {"image/svg+xml": svg(fig, alt), "text/plain": alt}
    finally:
        plt.close(fig)
    display(bundle, raw=True, metadata={"image/svg+xml": {"alt": alt}})
