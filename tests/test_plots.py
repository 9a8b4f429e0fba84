"""oda_data.plots: the house style and the charts, checked through the artists they draw."""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import oda_data  # noqa: E402
from oda_data import analysis, plots  # noqa: E402
from oda_data.params import MoneyBasis  # noqa: E402

USD = MoneyBasis("USD")


@pytest.fixture(scope="module")
def wp() -> pd.DataFrame:
    return oda_data.white_paper()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _texts(fig) -> list[str]:
    """Every piece of text drawn in the figure (titles, labels, annotations, legend)."""
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]


def _bars(ax) -> list:
    return [p for p in ax.patches if isinstance(p, matplotlib.patches.Rectangle) and p.get_width() > 0]


def test_style_file_ships_with_the_package():
    assert plots.style_path().is_file()
    with plots.house_style():
        assert matplotlib.rcParams["text.parse_math"] is False
        assert matplotlib.rcParams["axes.spines.top"] is False
    assert matplotlib.rcParams["text.parse_math"] is True  # the context restores


def test_money_scale():
    assert plots.money_scale(6.5e9) == (1e9, "billion")
    assert plots.money_scale(468e6) == (1e6, "million")
    assert plots.money_scale(5e3) == (1e3, "thousand")


def test_money_bars_by_theme(wp):
    table = analysis.money_by(wp, "theme", USD)
    fig = plots.money_bars(table, USD, "Money by theme")
    ax = fig.axes[0]
    assert ax.get_title(loc="left") == "Money by theme"  # the house style puts titles left
    assert ax.get_xlabel() == "USD billion, current prices"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Counter-terrorism", "Maritime security and piracy"]
    assert len(_bars(ax)) == 4  # one bar per non-zero cell: no empty slots
    texts = _texts(fig)
    for label in ("$6.5 billion", "$724 million", "$19.6 million", "$468 million", "Pledged", "Disbursed"):
        assert label in texts
    assert any(t.startswith(plots.SOURCE) for t in texts)
    assert tuple(fig.get_size_inches()) == (8.0, pytest.approx(3.18))


def test_money_bars_use_the_kind_colours(wp):
    fig = plots.money_bars(analysis.money_by(wp, "region", USD), USD, "Money by region")
    colours = {matplotlib.colors.to_hex(bar.get_facecolor()).upper() for bar in _bars(fig.axes[0])}
    assert colours == {plots.KIND_COLORS[k].upper() for k in ("pledge", "achievement", "contribution", "disbursement")}


def test_money_bars_in_constant_yen(wp):
    basis = MoneyBasis("JPY", "constant", 2015)
    fig = plots.money_bars(analysis.money_by(wp, "theme", basis), basis, "Money")
    assert fig.axes[0].get_xlabel() == "JPY billion, constant 2015 prices"
    assert "¥718 billion" in _texts(fig)


def test_empty_money_table_says_so():
    empty = pd.DataFrame(columns=["Pledged"], dtype=float)
    fig = plots.money_bars(empty, USD, "Nothing")
    assert "The chapter states no amount here." in _texts(fig)


def test_people_bars(wp):
    fig = plots.people_bars(analysis.people_by_theme(wp), "People")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "People"
    assert {"52,000", "2,653", "149"} <= set(_texts(fig))


def test_timeline_chart(wp):
    frame = analysis.timeline(wp, USD)
    fig = plots.timeline_chart(frame, USD, "Timeline")
    ax = fig.axes[0]
    labels = [t.get_text().replace("\n", " ") for t in ax.get_yticklabels()]
    assert labels[0] == "GEBCO training at the University of New Hampshire"
    assert labels.count("Japan-ASEAN Summit Meeting, Asia") == 1  # pledge and achievement share a row
    assert ax.get_xlim() == (2003.5, 2019.5)
    joined = " ".join(_texts(fig)).replace("\n", " ")
    assert "Pledged 2016–2018: ≈¥45 billion and 2,000 people" in joined
    assert "Reported achieved 2016–2017: ¥80 billion and 2,653 people" in joined
    assert "Output since 2009: 65 graduates from 39 countries" in joined


def test_pledge_chart(wp):
    basis = MoneyBasis("JPY")
    fig = plots.pledge_chart(analysis.pledge_packages(wp, basis), basis, "Pledged against achieved")
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["Money", "People trained"]
    assert fig.axes[0].get_ylabel() == "JPY billion, current prices"
    texts = _texts(fig)
    for label in ("178% of the pledge", "133% of the pledge", "¥45 billion", "¥80 billion", "2,000", "2,653"):
        assert label in texts


def test_charts_are_deterministic(wp):
    """Same data, same PNG bytes: stored notebook outputs do not churn."""
    def render() -> bytes:
        buffer = io.BytesIO()
        fig = plots.timeline_chart(analysis.timeline(wp, USD), USD, "Timeline")
        fig.savefig(buffer, format="png")
        plt.close(fig)
        return buffer.getvalue()

    assert render() == render()
