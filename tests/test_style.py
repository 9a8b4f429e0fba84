"""oda_data.style: the house style and the SVG output contract of style.show."""
from __future__ import annotations

import matplotlib

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
