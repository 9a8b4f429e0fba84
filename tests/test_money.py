"""Exchange rates, deflators and conversions give the DAC figures."""
from __future__ import annotations

import pandas as pd
import pytest

import oda_data
from oda_data.money import convert_amount, rates_table
from oda_data.white_paper import REPORT_YEAR

# (year, JPY per USD, deflator 2022=100): the OECD DAC figures for Japan.
DAC_JAPAN = [
    (2000, 107.8, 132.63), (2005, 110.1, 121.75), (2009, 93.4, 139.20),
    (2012, 79.8136, 156.05), (2015, 121.0023, 106.50), (2016, 108.8027, 118.93),
    (2017, 112.1831, 115.27), (2018, 110.4378, 117.09), (2022, 131.4283, 100.00),
    (2023, 140.5061, 96.82),
]


@pytest.mark.parametrize("year, rate, deflator", DAC_JAPAN)
def test_dac_rates_and_deflators(year, rate, deflator):
    assert oda_data.exchange_rate(year) == pytest.approx(rate)
    assert oda_data.exchange_rate(year, currency="JPY") == pytest.approx(rate)
    assert oda_data.exchange_rate(year, currency="USD") == 1.0
    assert oda_data.deflator(year) == pytest.approx(deflator)


def test_table_is_complete_2000_2023():
    assert list(rates_table().index) == list(range(2000, 2024))


def test_deflator_rebased():
    assert oda_data.deflator(2018, base_year=2018) == 100.0
    assert oda_data.deflator(2022, base_year=2018) == pytest.approx(100.0 / 117.09 * 100)
    assert oda_data.deflator(2016, base_year=2018) == pytest.approx(118.93 / 117.09 * 100)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: oda_data.exchange_rate(1999), r"no DAC exchange rate or deflator for year 1999.*2000-2023"),
        (lambda: oda_data.exchange_rate(2024), r"2024.*2000-2023"),
        (lambda: oda_data.deflator(2018, base_year=1990), r"1990"),
        (lambda: oda_data.exchange_rate(2018, currency="EUR"), r"unknown currency 'EUR'; expected one of: USD, JPY"),
        (lambda: oda_data.exchange_rate("last year"), r"year must be an integer"),
        (lambda: convert_amount(1.0, "USD", year=2018, prices="real"), r"unknown prices 'real'.*current, constant"),
        (lambda: convert_amount(1.0, "USD"), r"needs a year or a period"),
    ],
)
def test_clear_errors_never_nan(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_single_year_conversions():
    assert convert_amount(110.4378e6, "JPY", year=2018, to="USD") == pytest.approx(1e6)
    assert convert_amount(1e6, "USD", year=2018, to="JPY") == pytest.approx(110.4378e6)
    # constant 2022 USD = current USD / (deflator / 100)
    assert convert_amount(1e6, "USD", year=2018, prices="constant") == pytest.approx(1e6 / 1.1709)
    # constant yen: constant dollars at the base year's rate
    assert convert_amount(1e6, "USD", year=2018, to="JPY", prices="constant") == pytest.approx(
        1e6 / 1.1709 * 131.4283
    )
    # same currency, current prices: unchanged
    assert convert_amount(5e9, "JPY", year=2010, to="JPY") == pytest.approx(5e9)


def test_period_amounts_use_the_mean_rate_of_the_period():
    mean_rate = (108.8027 + 112.1831 + 110.4378) / 3
    mean_deflator = (118.93 + 115.27 + 117.09) / 3
    yen = convert_amount(120e6, "USD", period_start=2016, period_end=2018, to="JPY")
    assert yen == pytest.approx(120e6 * mean_rate)
    # "$120 million (approximately ¥14 billion)": the chapter's rounding of ~¥13.3 billion
    assert 13e9 < yen < 14e9
    constant = convert_amount(120e6, "USD", period_start=2016, period_end=2018, prices="constant")
    assert constant == pytest.approx(120e6 / (mean_deflator / 100))
    with pytest.raises(ValueError, match="before its start"):
        convert_amount(1.0, "USD", period_start=2018, period_end=2016)


def test_convert_frame_white_paper():
    wp = oda_data.white_paper()
    out = oda_data.convert(wp, to="USD", prices="current", default_year=REPORT_YEAR)
    by_id = out.set_index("record_id")["amount_usd_current"]
    assert by_id["WP-CT-01"] == pytest.approx(6e9)
    # "in the past two years": no years in the chapter, valued in the report year
    assert by_id["WP-CT-08"] == pytest.approx(80e9 / 110.4378)
    assert by_id["WP-CT-06"] == pytest.approx(45e9 / 108.8027)  # announced in 2016
    # "since 2007": an open period runs to the report year
    jpy_current = oda_data.convert(wp, to="JPY", default_year=REPORT_YEAR).set_index("record_id")
    mean_rate = oda_data.money.rates_table().loc[2007:2018, "jpy_per_usd"].mean()
    assert jpy_current.at["WP-MAR-12", "amount_jpy_current"] == pytest.approx(468e6 * mean_rate)
    assert by_id["WP-MAR-09"] == pytest.approx(15.1e6)  # no year: valued in the report year
    assert pd.isna(by_id["WP-POL-01"])  # an initiative has no amount
    assert "amount_usd_current" not in wp.columns  # the input frame is untouched

    jpy = oda_data.convert(wp, to="JPY", prices="constant", base_year=2018, default_year=REPORT_YEAR)
    assert jpy.set_index("record_id").at["WP-MAR-09", "amount_jpy_constant"] == pytest.approx(
        15.1e6 * 110.4378
    )


def test_convert_names_the_row_it_cannot_convert():
    frame = pd.DataFrame(
        {"record_id": ["X-1"], "amount": [1.0], "currency": ["USD"], "year": [1995]}
    )
    with pytest.raises(ValueError, match=r"cannot convert X-1: no DAC exchange rate.*1995"):
        oda_data.convert(frame)
    with pytest.raises(ValueError, match=r"cannot convert WP-CT-08: an amount needs a year"):
        oda_data.convert(oda_data.white_paper())
    with pytest.raises(KeyError, match="needs column"):
        oda_data.convert(frame.drop(columns="currency"))


def test_money_label():
    assert oda_data.money_label("USD", "current") == "USD, current prices"
    assert oda_data.money_label("JPY", "constant", 2018) == "JPY, constant 2018 prices"


def test_table_agrees_with_the_real_oecd_file(shared_data):
    """The shipped table repeats the OECD DAC release in ../shared/data (rounded)."""
    real = pd.read_parquet(shared_data / "rates" / "dac_exchange_deflator_2024-12-02.parquet")
    japan = real[real["pydeflate_entity_code"] == 701].set_index("pydeflate_year")
    for year, row in rates_table().iterrows():
        assert row["jpy_per_usd"] == pytest.approx(japan.at[year, "pydeflate_EXCHANGE"], rel=1e-6)
        assert row["deflator_2022"] == pytest.approx(japan.at[year, "pydeflate_DAC_DEFLATOR"], abs=0.006)


def test_stated_in_uses_the_chapters_own_figure_in_the_other_currency():
    wp = oda_data.white_paper()
    yen = oda_data.stated_in(wp, "JPY").set_index(wp["record_id"])
    # "$120 million (approximately ¥14 billion)": the chapter's yen, not a conversion (¥13.3 billion)
    assert yen.loc["WP-CT-03"].tolist() == [14e9, True]
    assert yen.loc["WP-CT-06"].tolist() == [45e9, True]
    assert pd.isna(yen.at["WP-CT-01", "stated_amount"])  # no yen figure for the $6 billion
    assert pd.isna(yen.at["WP-POL-01", "stated_amount"])  # no money at all
    dollars = oda_data.stated_in(wp, "USD").set_index(wp["record_id"])
    assert dollars.loc["WP-CT-04"].tolist() == [120e6, False]
    assert dollars.loc["WP-CT-01"].tolist() == [6e9, True]
    with pytest.raises(ValueError, match="unknown currency 'EUR'"):
        oda_data.stated_in(wp, "EUR")
