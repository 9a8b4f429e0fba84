"""oda_data.analysis: tables of the White Paper, checked against the chapter's own figures."""
from __future__ import annotations

import pandas as pd
import pytest

import oda_data
from oda_data import analysis
from oda_data.params import MoneyBasis, ParameterError

USD = MoneyBasis("USD")
JPY = MoneyBasis("JPY")


@pytest.fixture(scope="module")
def wp() -> pd.DataFrame:
    return oda_data.white_paper()


def test_restatements_are_dropped(wp):
    kept = analysis.without_restatements(wp)
    assert len(wp) == 50 and len(kept) == 49
    assert "WP-CT-04" not in set(kept["record_id"])  # "approximately ¥14 billion" restates WP-CT-03


def test_with_money_keeps_yen_in_current_yen_and_values_undated_totals_at_report_year(wp):
    money = analysis.with_money(wp, JPY).set_index("record_id")["money"]
    assert money["WP-CT-06"] == pytest.approx(45e9)  # same currency, current prices: unchanged
    assert money["WP-CT-08"] == pytest.approx(80e9)
    # $15.1 million "to date": valued at the 2018 rate, 110.4378 yen per dollar
    assert money["WP-MAR-09"] == pytest.approx(15.1e6 * 110.4378)
    assert pd.isna(money["WP-POL-01"])


def test_money_by_theme_in_usd(wp):
    table = analysis.money_by(wp, "theme", USD)
    assert list(table.index) == ["Counter-terrorism", "Maritime security and piracy"]
    assert list(table.columns) == ["Pledged", "Reported achieved", "Contributed", "Disbursed"]
    ct = table.loc["Counter-terrorism"]
    # $6 billion + $120 million + ¥45 billion at the 2016-2018 mean rate; the ¥14 billion restatement is not added
    mean_rate = (108.8027 + 112.1831 + 110.4378) / 3
    assert ct["Pledged"] == pytest.approx(6e9 + 120e6 + 45e9 / mean_rate)
    assert ct["Reported achieved"] == pytest.approx(80e9 / ((108.8027 + 112.1831) / 2))
    maritime = table.loc["Maritime security and piracy"]
    assert maritime["Contributed"] == pytest.approx(15.1e6 + 4.5e6)
    assert maritime["Disbursed"] == pytest.approx(468e6)
    assert maritime["Pledged"] == 0


def test_money_by_region_orders_regions_as_the_schema(wp):
    table = analysis.money_by(wp, "region", USD)
    assert list(table.index) == ["Asia", "Middle East", "Africa"]
    assert table.loc["Middle East", "Pledged"] == pytest.approx(6e9)
    assert table.loc["Africa", "Pledged"] == pytest.approx(120e6)


def test_money_by_refuses_another_dimension(wp):
    with pytest.raises(ValueError, match="expected 'theme' or 'region'"):
        analysis.money_by(wp, "partner", USD)


def test_constant_prices_change_the_amounts(wp):
    current = analysis.money_by(wp, "theme", JPY).loc["Counter-terrorism", "Pledged"]
    constant = analysis.money_by(wp, "theme", MoneyBasis("JPY", "constant", 2015)).loc["Counter-terrorism", "Pledged"]
    assert constant != pytest.approx(current, rel=1e-3)


def test_people_by_theme(wp):
    table = analysis.people_by_theme(wp)
    assert table.to_dict("index") == {
        "Counter-terrorism": {"Pledged to train": 20_000 + 30_000 + 2_000, "Reported trained": 2_653},
        # 65 + 84 graduates; ReCAAP-ISC's 2 seconded staff are not trainees
        "Maritime security and piracy": {"Pledged to train": 0, "Reported trained": 65 + 84},
    }


def test_split_names_counts_each_partner(wp):
    maritime = wp.loc[wp["theme"] == "maritime_security", "partner"]
    counts = analysis.split_names(maritime)
    assert counts["IHO"] == 3 and counts["The Nippon Foundation"] == 2 and counts["IMO"] == 1
    assert list(counts.index[:3]) == ["ReCAAP-ISC", "Japan Coast Guard", "IHO"]  # ties: first seen first


def test_entries_join_money_and_people_of_one_announcement(wp):
    table = analysis.entries(wp, USD).set_index("entry_id")
    middle_east = table.loc["WP-CT-01"]
    assert middle_east["record_ids"] == "WP-CT-01; WP-CT-02"
    assert middle_east["money"] == pytest.approx(6e9) and middle_east["people"] == 20_000
    assert middle_east["title"] == '"Golden mean" policy, Middle East'
    africa = table.loc["WP-CT-03"]
    assert africa["restated_amount"] == 14e9 and africa["restated_currency"] == "JPY"
    achieved = table.loc["WP-CT-06/achieved"]
    assert achieved["kind"] == "achievement" and achieved["people"] == 2_653
    assert achieved["title"] == "Japan-ASEAN Summit Meeting, Asia"
    assert table.loc["WP-MAR-14", ["people", "countries"]].tolist() == [65, 39]


def test_largest_amounts_in_order(wp):
    largest = analysis.largest_amounts(wp, USD, n=3)
    assert largest["entry_id"].tolist() == ["WP-CT-01", "WP-CT-06/achieved", "WP-MAR-12"]


def test_timeline_places_pledges_and_open_periods(wp):
    rows = analysis.timeline(wp, USD).set_index("entry_id")
    assert rows.loc["WP-CT-06", ["start", "end"]].tolist() == [2016, 2018]
    assert rows.loc["WP-CT-06/achieved", ["start", "end"]].tolist() == [2016, 2017]
    assert rows.loc["WP-MAR-15", ["start", "end", "open_ended"]].tolist() == [2004, 2018, True]
    assert rows["start"].is_monotonic_increasing
    everything = analysis.timeline(wp, USD, figures_only=False)
    assert {"WP-ML-01", "WP-CYB-04"} <= set(everything["entry_id"])  # dated records without a figure
    assert everything.loc[everything["entry_id"] == "WP-ML-01", "start"].item() == 1989


def test_pledge_packages_asia_arithmetic(wp):
    packages = analysis.pledge_packages(wp, JPY)
    assert packages["region"].tolist() == ["Middle East", "Africa", "Asia"]
    assert packages["achieved"].tolist() == [False, False, True]
    asia = packages.iloc[2]
    assert asia["pledged_money"] == pytest.approx(45e9) and asia["achieved_money"] == pytest.approx(80e9)
    assert asia["money_ratio"] == pytest.approx(80 / 45)  # 178%
    assert asia["people_ratio"] == pytest.approx(2653 / 2000)  # 133%
    assert (asia["pledged_years"], asia["achieved_years"]) == (3, 2)
    assert asia["pledged_money_per_year"] == pytest.approx(15e9)
    assert asia["achieved_money_per_year"] == pytest.approx(40e9)
    assert asia["money_pace_ratio"] == pytest.approx(40 / 15)
    assert asia["achieved_people_per_year"] == pytest.approx(1326.5)
    assert asia["pledged_money_per_person"] == pytest.approx(45e9 / 2000)
    assert asia["achieved_money_per_person"] == pytest.approx(80e9 / 2653)
    middle_east = packages.iloc[0]
    assert pd.isna(middle_east["money_ratio"]) and pd.isna(middle_east["achieved_people"])
    assert middle_east["pledged_people"] == 20_000 and middle_east["pledged_people_approximate"]


def test_ratio_barely_moves_with_currency(wp):
    """Pledge and achievement are converted over their own years: 178% in yen, dollars or constant prices."""
    for basis in (USD, MoneyBasis("USD", "constant", 2010)):
        ratio = analysis.pledge_packages(wp, basis).iloc[2]["money_ratio"]
        assert round(ratio * 100) == 178


def test_theme_profile_maritime(wp):
    profile = analysis.theme_profile(wp, "maritime_security", USD)
    assert profile.label == "Maritime security and piracy" and profile.other == "region"
    assert len(profile.records) == 16
    assert profile.breakdown["records"].to_dict() == {"Asia": 8, "Africa": 5, "Global": 3}
    assert profile.absent == ["Middle East", "Latin America"]
    assert profile.money.loc["Africa", "Disbursed"] == pytest.approx(468e6)
    assert profile.partners["IHO"] == 3
    assert "Somalia" in profile.recipients.index
    assert len(profile.initiatives) == 8
    gaps = profile.gaps.set_index("record_id")["gap"]
    assert gaps["WP-MAR-11"] == "number of people not stated"
    assert gaps["WP-MAR-02"] == "amount not stated"
    assert "WP-MAR-01" not in gaps  # an initiative with a figure (20 countries) is quantified
    assert profile.pledges.empty


def test_region_profile_latin_america_and_unknowns(wp):
    profile = analysis.region_profile(wp, "Latin America", USD)
    assert profile.records["record_id"].tolist() == ["WP-POL-02"]
    assert profile.money.empty
    assert "Counter-terrorism" in profile.absent and len(profile.absent) == 8
    with pytest.raises(ParameterError, match="choose one of: Asia, Middle East"):
        analysis.region_profile(wp, "Europe", USD)


def test_counter_terrorism_profile_lists_unmet_pledges(wp):
    profile = analysis.theme_profile(wp, "counter_terrorism", USD)
    gaps = profile.gaps.set_index("record_id")["gap"]
    assert gaps[["WP-CT-01", "WP-CT-02", "WP-CT-03", "WP-CT-05"]].eq("no achievement reported").all()
    assert "WP-CT-06" not in gaps


def test_cut_shortens_at_a_space_or_inside_one_long_word():
    from oda_data.analysis import _cut

    assert _cut("Short description: with a clause") == "Short description"
    long_words = "word " * 30
    assert _cut(long_words) == ("word " * 13).rstrip() + "…"
    assert len(_cut("x" * 200)) == 70 and _cut("x" * 200).endswith("…")
