"""Exchange rates, deflators and conversions give the DAC figures."""
from __future__ import annotations

import importlib.util
from pathlib import Path

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
        # The table covers Japan 1960-2023 (it was 2000-2023: 1999 and 1990 were refused then).
        (lambda: oda_data.exchange_rate(1959), r"no DAC exchange rate or deflator for year 1959.*1960-2023"),
        (lambda: oda_data.exchange_rate(2024), r"2024.*1960-2023"),
        (lambda: oda_data.deflator(2018, base_year=1959), r"base_year 1959"),
        # EUR converts now: an unknown currency is one the DAC table does not have.
        (lambda: oda_data.exchange_rate(2018, currency="XYZ"), r"unknown currency 'XYZ'; expected one of: USD, JPY, "),
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
        {"record_id": ["X-1"], "amount": [1.0], "currency": ["USD"], "year": [1959]}
    )
    with pytest.raises(ValueError, match=r"cannot convert X-1: no DAC exchange rate.*1959"):
        oda_data.convert(frame)
    with pytest.raises(ValueError, match=r"cannot convert WP-CT-08: an amount needs a year"):
        oda_data.convert(oda_data.white_paper())
    with pytest.raises(KeyError, match="needs column"):
        oda_data.convert(frame.drop(columns="currency"))


def test_money_label():
    assert oda_data.money_label("USD", "current") == "USD, current prices"
    assert oda_data.money_label("JPY", "constant", 2018) == "JPY, constant 2018 prices"


@pytest.mark.shared_data
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
    assert oda_data.stated_in(wp, "EUR")["stated_amount"].isna().all()  # the chapter states no euros
    with pytest.raises(ValueError, match="unknown currency 'XYZ'"):
        oda_data.stated_in(wp, "XYZ")


# --------------------------------------------------------------------------- every DAC provider

RATES_PARQUET = "dac_exchange_deflator_2024-12-02.parquet"
DATA = Path(oda_data.__file__).parent / "data"


def _generator():
    spec = importlib.util.spec_from_file_location(
        "make_rates_table", Path(__file__).parent / "fixtures" / "make_rates_table.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    return generator


@pytest.mark.shared_data
def test_shipped_tables_are_what_the_generator_derives(shared_data):
    derived = _generator().derive_tables(shared_data / "rates" / RATES_PARQUET,
                                         shared_data / "codelists" / "provider_codelist_5.json")
    assert sorted(derived) == ["dac_rates.csv"]
    for name, text in derived.items():
        assert (DATA / name).read_text(encoding="utf-8") == text, f"{name}: run tests/fixtures/make_rates_table.py"


@pytest.mark.shared_data
def test_table_repeats_every_row_of_the_oecd_file(shared_data):
    """Every row of the release is in the table: rates to its 6 decimals (less its noise), deflators to 2."""
    real = pd.read_parquet(shared_data / "rates" / RATES_PARQUET).astype({"pydeflate_DAC_DEFLATOR": "float64"})
    table = oda_data.dac_rates().set_index(["donor_code", "year"])
    assert len(table) == len(real) == 2508 and table.index.is_unique
    joined = real.join(table, on=["pydeflate_entity_code", "pydeflate_year"], how="left")
    placeholder = joined["exchange_rate"].isna()
    # a blank rate is only ever the source's 1.0 for a currency other than the dollar
    assert (joined.loc[placeholder, "pydeflate_EXCHANGE"] == 1.0).all()
    assert (joined.loc[placeholder, "currency"] != "USD").all() and placeholder.sum() == 168
    assert (joined["exchange_rate"] - joined["pydeflate_EXCHANGE"]).abs().max() <= 1e-6 + 1e-12
    assert ((joined["deflator"] - joined["pydeflate_DAC_DEFLATOR"]).abs().dropna() <= 0.005 + 1e-9).all()
    assert joined["deflator"].isna().equals(joined["pydeflate_DAC_DEFLATOR"].isna())  # Poland 1990-1991


def test_table_covers_every_provider_of_the_release():
    table = oda_data.dac_rates()
    donors = table.drop_duplicates("donor_code").set_index("donor_code")
    assert len(donors) == 59 and table["year"].min() == 1960 and table["year"].max() == 2023
    providers = pd.read_csv(DATA / "crs_donor_codes.csv").set_index("donor_code")["donor_name"]
    listed = donors[donors.index < 20000]
    assert len(listed) == 51 and (listed["donor_name"] == providers.reindex(listed.index)).all()
    assert set(donors.index[donors.index >= 20000]) == {20000, 20001, 20002, 20003, 20004, 20006, 20007, 20011}
    assert donors.at[701, "currency"] == "JPY" and donors.at[302, "currency"] == "USD"
    assert set(table.loc[table["donor_code"] == 62, "currency"]) == {"HRK", "EUR"}  # Croatia joined the euro in 2023
    assert table["currency"].str.fullmatch(r"[A-Z]{3}").all()


def test_japan_rows_equal_the_japan_table():
    """The Japan table (2000-2023) is the Japan rows of the full table, not a second file; the earlier figures."""
    japan = oda_data.dac_rates().query("donor_code == 701 and 2000 <= year <= 2023").set_index("year")
    table = rates_table()
    assert list(table.index) == list(japan.index)
    assert (table["jpy_per_usd"] == japan["exchange_rate"]).all()
    assert (table["deflator_2022"] == japan["deflator"]).all()
    # the release says 103.500001 for 2008: its noise of 0.000001 is taken off (see dac_rates.md)
    assert table.at[2008, "jpy_per_usd"] == 103.5
    assert oda_data.exchange_rate(1979) == 219.2  # the release: 219.199999
    assert sorted(path.name for path in DATA.glob("dac_*.csv")) == ["dac_rates.csv"]  # a restated table ships once


@pytest.mark.parametrize("donor, year, currency, rate, deflator_2022", [
    (5, 2018, "EUR", 0.8473, 99.46), (5, 1990, "EUR", 0.826197, 67.41), (302, 2018, "USD", 1.0, 86.71),
    (76, 2016, "PLN", 3.944098, 87.87), (62, 2018, "HRK", 6.62809, 96.08), (62, 2023, "EUR", 0.924773, 104.35),
    (918, 2016, "EUR", 0.9043, 92.41), (701, 1970, "JPY", 358.199996, None), (742, 2022, "KRW", 1291.4085, 100.0),
    (75, 2022, "HUF", 372.57431, 100.0),
])
def test_any_donor_in_its_currency(donor, year, currency, rate, deflator_2022):
    assert oda_data.exchange_rate(year, currency, donor=donor) == pytest.approx(rate, rel=1e-12)
    assert oda_data.exchange_rate(year, "USD", donor=donor) == 1.0
    if deflator_2022 is not None:
        assert oda_data.deflator(year, donor=donor) == pytest.approx(deflator_2022, rel=1e-12)
    base = oda_data.deflator(2016, donor=donor)
    assert oda_data.deflator(year, base_year=2016, donor=donor) == pytest.approx(
        oda_data.deflator(year, donor=donor) / base * 100)


def test_a_currency_without_donor_is_its_providers_rate():
    assert oda_data.exchange_rate(2018, "EUR") == 0.8473  # EU Institutions (918)
    assert oda_data.exchange_rate(1990, "EUR") == 0.7877  # not Germany's 0.826197: pass donor=5 for that
    assert oda_data.exchange_rate(2018, "CHF") == oda_data.exchange_rate(2018, "CHF", donor=11)
    assert oda_data.exchange_rate(2018, "KRW") == oda_data.exchange_rate(2018, "KRW", donor=742)


def test_conversions_for_another_donor():
    # a German amount in euros: current dollars at Germany's rate, constant at Germany's deflator
    assert convert_amount(0.8473e6, "EUR", year=2018, donor=5) == pytest.approx(1e6)
    assert convert_amount(1e6, "USD", year=2018, prices="constant", donor=5) == pytest.approx(1e6 / 0.9946)
    # constant euros of 2022: constant dollars at Germany's 2022 rate
    assert convert_amount(1e6, "USD", year=2018, to="EUR", prices="constant", donor=5) == pytest.approx(
        1e6 / 0.9946 * 0.9509)
    # yen for a German amount: Japan's rate (the donor does not report in yen)
    assert convert_amount(1e6, "USD", year=2018, to="JPY", donor=5) == pytest.approx(110.4378e6)
    # no donor: Japan's deflator, as before
    assert convert_amount(1e6, "USD", year=2018, prices="constant") == pytest.approx(1e6 / 1.1709)


@pytest.mark.parametrize("call, message", [
    (lambda: oda_data.exchange_rate(2018, donor=5), r"Germany \(5\) has DAC exchange rates in EUR in 2018, not JPY: "
                                                    r"ask exchange_rate\(2018, 'EUR', donor=5\)"),
    (lambda: oda_data.exchange_rate(2018, "jpy"), r"unknown currency 'jpy'.*\(did you mean JPY\?\)"),
    (lambda: oda_data.deflator(2018, donor="Japan"), r"unknown donor 'Japan'; expected one of: 1 Austria, .*"
                                                     r"701 Japan.*\(did you mean 701 Japan\?\)"),
    (lambda: oda_data.deflator(2018, donor="DEU"), r"did you mean 5 Germany\?"),
    (lambda: oda_data.deflator(2018, donor=9999), r"unknown donor 9999; expected one of: .*302 United States"),
    (lambda: oda_data.deflator(2018, donor=True), r"unknown donor True"),
    (lambda: oda_data.exchange_rate(1980, "PLN", donor=76),
     r"no PLN exchange rate for Poland \(76\) in 1980: its figures for that year are in US dollars only"),
    (lambda: oda_data.deflator(1990, donor=76), r"no deflator for Poland \(76\) in 1990"),
    (lambda: oda_data.deflator(1995, donor=561), r"year 1995 of Qatar \(561\): the shipped table covers 1973-1990, "),
    (lambda: oda_data.exchange_rate(1965, "EUR"), r"EU Institutions \(918\).*1970-2023"),
])
def test_bad_donor_currency_or_year_says_what_is_valid(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("call", [
    lambda: oda_data.exchange_rate(2018.5), lambda: oda_data.exchange_rate(True),
    lambda: oda_data.deflator(2018.5), lambda: oda_data.deflator(2018, base_year=2018.5),
    lambda: oda_data.deflator(2018, base_year=False, donor=5),
    lambda: convert_amount(1.0, "USD", year=2018.5), lambda: convert_amount(1.0, "USD", year=True),
    lambda: convert_amount(1.0, "USD", period_start=2016.5, period_end=2018),
    lambda: convert_amount(1.0, "USD", period_start=2016, period_end=2018.5),
    lambda: convert_amount(1.0, "USD", year=2018, prices="constant", base_year=2018.5),
    lambda: oda_data.convert(pd.DataFrame({"amount": [1.0], "currency": ["USD"], "year": [2018.5]})),
    lambda: oda_data.convert(pd.DataFrame({"amount": [1.0], "currency": ["USD"], "year": [2018]}), base_year=2018.5),
    lambda: oda_data.convert(pd.DataFrame({"amount": [1.0], "currency": ["USD"], "period_start": [2016.5],
                                           "period_end": [2018]})),
    lambda: oda_data.convert(pd.DataFrame({"amount": [1.0], "currency": ["USD"]}), default_year=2018.5),
    lambda: oda_data.convert(pd.DataFrame({"amount": [1.0], "currency": ["USD"], "period_start": [2016]}),
                             default_year=2018.5),
])
def test_a_fractional_or_bool_year_is_refused_everywhere(call):
    with pytest.raises(ValueError, match=r"must be an integer year, got (2018\.5|2016\.5|True|False)"):
        call()


def test_a_whole_float_year_is_a_year():
    # a year column with a missing value is float: 2018.0 is 2018
    assert convert_amount(1e6, "USD", year=2018.0, to="JPY") == convert_amount(1e6, "USD", year=2018, to="JPY")


def _crs_frame():
    """CRS-shaped: two donors, USD millions in current prices, pyarrow dtypes as read_crs returns."""
    return pd.DataFrame({
        "year": pd.array([2016, 2018, 2018, 2016], dtype="int32[pyarrow]"),
        "donor_code": pd.array([701, 701, 5, 5], dtype="int32[pyarrow]"),
        "usd_disbursement": pd.array([10.0, 20.0, 30.0, None], dtype="double[pyarrow]"),
        "usd_commitment": pd.array([12.0, None, 33.0, 40.0], dtype="double[pyarrow]"),
    })


def test_crs_frame_in_constant_prices_and_yen_by_donor():
    crs = _crs_frame()
    out = oda_data.convert(crs, amount=["usd_disbursement", "usd_commitment"], currency="USD",
                           donor="donor_code", prices="constant", base_year=2022)
    assert out["usd_disbursement_usd_constant"].tolist()[:3] == pytest.approx(
        [10.0 / 1.1893, 20.0 / 1.1709, 30.0 / 0.9946])  # each row's own donor's deflator
    assert pd.isna(out.at[3, "usd_disbursement_usd_constant"])  # no amount stays no amount
    assert out.at[3, "usd_commitment_usd_constant"] == pytest.approx(40.0 / 0.9000)
    assert "usd_disbursement_usd_constant" not in crs.columns  # the input is untouched
    yen = oda_data.convert(crs, amount="usd_disbursement", currency="USD", donor="donor_code", to="JPY",
                           prices="constant", base_year=2022)
    assert yen["usd_disbursement_jpy_constant"].tolist()[:3] == pytest.approx(
        [10.0 / 1.1893 * 131.4283, 20.0 / 1.1709 * 131.4283, 30.0 / 0.9946 * 131.4283])
    current = oda_data.convert(crs, amount="usd_disbursement", currency="USD", donor="donor_code", to="JPY")
    assert current["usd_disbursement_jpy_current"].tolist()[:3] == pytest.approx(
        [10.0 * 108.8027, 20.0 * 110.4378, 30.0 * 110.4378])
    # the frame function and the scalar one agree to the last bit
    assert out.at[2, "usd_disbursement_usd_constant"] == convert_amount(
        30.0, "USD", year=2018, prices="constant", donor=5)


def test_crs_frame_donor_the_table_lacks_is_an_error_or_the_chosen_fallback():
    crs = _crs_frame()
    crs["donor_code"] = pd.array([701, 901, 5, None], dtype="int32[pyarrow]")
    with pytest.raises(ValueError, match=r"cannot convert row 1: unknown donor 901.*pass fallback_donor="):
        oda_data.convert(crs, amount="usd_disbursement", currency="USD", donor="donor_code", prices="constant")
    out = oda_data.convert(crs, amount="usd_disbursement", currency="USD", donor="donor_code", prices="constant",
                           fallback_donor=20002)
    assert out.at[1, "usd_disbursement_usd_constant"] == pytest.approx(20.0 / 1.0124)  # Multilaterals, 2018
    # a missing donor code is never taken for Japan, the default donor
    crs.loc[3, "usd_disbursement"] = 1.0
    with pytest.raises(ValueError, match=r"cannot convert row 3: unknown donor <NA>"):
        oda_data.convert(crs.drop(index=1), amount="usd_disbursement", currency="USD", donor="donor_code")
    with pytest.raises(KeyError, match=r"needs column\(s\) \['donor'\]"):
        oda_data.convert(crs, amount="usd_disbursement", currency="USD", donor="donor")


def test_crs_frame_read_by_pandas_with_float_codes_and_a_currency_column():
    # pandas reads a code column with a blank as float: 5.0 is donor 5, a blank has no amount here
    frame = pd.DataFrame({"year": [2018.0, None], "donor_code": [5.0, None], "amount": [0.8473, None],
                          "currency": ["EUR", None]})
    out = oda_data.convert(frame, donor="donor_code")
    assert out.at[0, "amount_usd_current"] == pytest.approx(1.0) and pd.isna(out.at[1, "amount_usd_current"])
    frame.loc[1, ["amount", "currency", "year", "donor_code"]] = [1.0, "XYZ", 2018.0, 5.0]
    with pytest.raises(ValueError, match=r"cannot convert row 1: unknown currency 'XYZ'"):
        oda_data.convert(frame, donor="donor_code")
    with pytest.raises(KeyError, match="needs column"):
        oda_data.convert(frame, amount=[])
    empty = oda_data.convert(_crs_frame().iloc[:0], amount="usd_disbursement", currency="USD", donor="donor_code")
    assert list(empty.columns)[-1] == "usd_disbursement_usd_current" and empty.empty
