"""oda_data.style: the house style and the SVG output contract of style.show."""
from __future__ import annotations

import re

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from oda_data import style  # noqa: E402


def _chart():
    with style.context():
        fig, ax = plt.subplots()
        ax.barh(["Counter-terrorism", "Maritime security"], [6e9, 468e6], color=style.KIND_COLORS["pledge"])
        style.finish(ax, title="Money $ by theme", note="Amounts as the chapter states them.")
    return fig


def test_style_file_is_shipped_and_legible_on_a_phone():
    params = matplotlib.rc_params_from_file(style.path(), use_default_template=False)
    assert params["figure.figsize"] == [6.4, 4.0]
    assert min(params[key] for key in ("font.size", "xtick.labelsize", "ytick.labelsize", "legend.fontsize", "axes.labelsize")) >= 10
    assert params["text.parse_math"] is False
    assert params["svg.hashsalt"] == "oda_data"


def test_svg_is_deterministic_and_carries_no_date_or_version():
    fig = _chart()
    first, second = style.svg(fig, "alt"), style.svg(fig, "alt")
    plt.close(fig)
    assert first == second
    assert first.startswith('<svg role="img" aria-label="alt" ')
    assert "<dc:date>" not in first and "Matplotlib v" not in first
    assert "Money $ by theme" in first  # text stays text (svg.fonttype none), not TeX


def test_show_displays_svg_with_alt_text_and_closes_the_figure(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *args, **kwargs: shown.append((args, kwargs)))
    fig = _chart()
    alt = "Horizontal bars: counter-terrorism $6 billion, maritime security $468 million"
    style.show(fig, alt=alt)
    (bundle,), kwargs = shown[0]
    assert set(bundle) == {"image/svg+xml", "text/plain"}
    assert bundle["text/plain"] == alt
    assert bundle["image/svg+xml"].startswith("<svg ")
    assert kwargs == {"raw": True, "metadata": {"image/svg+xml": {"alt": alt}}}
    assert not plt.fignum_exists(fig.number)


def test_show_needs_alt_text():
    fig = _chart()
    with pytest.raises(ValueError, match="give alt"):
        style.show(fig, alt=" ")
    plt.close(fig)


def test_finish_writes_the_source_line_and_title():
    fig = _chart()
    texts = [" ".join(text.get_text().split()) for text in fig.texts]
    assert texts == [style.SOURCE + ". Amounts as the chapter states them."]
    assert fig.axes[0].get_title(loc="left") == "Money $ by theme"
    plt.close(fig)


def test_every_theme_has_one_distinct_colour():
    from oda_data import THEMES

    assert list(style.THEME_COLORS) == list(THEMES)
    assert len(set(style.THEME_COLORS.values())) == len(THEMES)
    with pytest.raises(ValueError, match="expected one of: police_capacity"):
        style.theme_color("piracy")


def _log_chart(**legend):
    with style.context():
        fig, ax = plt.subplots(layout="constrained")
        ax.barh(["Maritime security", "Counter-terrorism"], [4.5, 6000], label="Amount, USD million")
        ax.set_xscale("log")
        if legend:
            ax.legend(**legend)
    return fig


def test_log_axes_read_plain_numbers_not_tex():
    fig = _log_chart()
    text = style.svg(fig)  # never finished: svg() does it too
    plt.close(fig)
    labels = re.findall(r"<text\b[^>]*>([^<]*)</text>", text)
    assert "mathdefault" not in text and "10^" not in text
    assert {"10", "100", "1,000"} <= set(labels)


def test_a_notebooks_own_log_axis_labels_are_kept():
    fig = _log_chart()
    fig.axes[0].xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"${v:g}m"))
    style.finish(fig.axes[0])
    assert isinstance(fig.axes[0].xaxis.get_major_formatter(), matplotlib.ticker.FuncFormatter)
    assert "$1000m" in style.svg(fig)
    plt.close(fig)


def test_plain_log_labels_of_small_and_large_values():
    formatter = style.PlainLogFormatter()
    assert formatter._num_to_string(1e6, 1, 1e7) == "1,000,000"
    assert formatter._num_to_string(0.05, 0.01, 1) == "0.05"


def test_svg_is_cropped_to_what_it_draws_so_a_legend_beside_the_axes_is_kept():
    fig = _log_chart(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    text = style.svg(fig)
    plt.close(fig)
    width = float(re.search(r'viewBox="0 0 ([\d.]+) ', text).group(1))
    assert width > 6.4 * 72  # wider than the figure: the legend to the right of the axes is in the picture
    assert "Amount, USD million" in text
