"""crs_analysis and crs_narrative: sources, security trends, shares, the White Paper queries.

Expected numbers are computed here another way: donor totals with pandas
straight from the demo CSV (no oda_data reader), theme totals with
``read_crs`` + ``tag_themes`` + a plain groupby, query totals by filtering
that frame with masks written out in this file.
"""
from __future__ import annotations

import dataclasses

import json
import re
import warnings
import xml.etree.ElementTree as ET

import pandas as pd
import pytest
import yaml

import oda_data
from oda_data import crs_analysis as ca
from oda_data import crs_narrative as cn
from oda_data.narrative import unescape_markdown
from oda_data.params import ParameterError

from crs_testlib import FIXTURES, REAL_SUMMARY

DEMO = ca.demo_source_path()
QUERIES_YAML = DEMO.parent / ca.QUERIES_FILE
AMOUNTS = {("disbursements", "current"): "USD_Disbursement", ("commitments", "current"): "USD_Commitment",
           ("disbursements", "constant"): "USD_Disbursement_Defl", ("commitments", "constant"): "USD_Commitment_Defl"}
# Broad DAC regions by recipient code, written out here (the package reads crs_regions.csv).
REGION_RANGES = {"Africa": [(100, 299), (1027, 1030)], "Middle East": [(500, 599)], "Asia": [(600, 799)],
                 "America": [(300, 499), (1031, 1032)], "Europe": [(1, 99)], "Oceania": [(800, 899), (1033, 1035)]}


@pytest.fixture(scope="module")
def raw_demo() -> pd.DataFrame:
    """The demo CSV read by pandas alone (not by oda_data)."""
    return pd.read_csv(DEMO, dtype={"ProjectTitle": str}, keep_default_na=False, na_values=[""])


@pytest.fixture(scope="module")
def tagged_demo(tmp_path_factory) -> pd.DataFrame:
    """read_crs + tag_themes of the demo file (own cache folder)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ODA_DATA_CACHE", str(tmp_path_factory.mktemp("tagged-cache")))
        return oda_data.tag_themes(oda_data.read_crs(DEMO))


@pytest.fixture(scope="module")
def demo_trends(tmp_path_factory) -> ca.SecurityTrends:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ODA_DATA_CACHE", str(tmp_path_factory.mktemp("trends-cache")))
        patch.delenv(ca.SOURCE_ENV_VAR, raising=False)
        return ca.load_trends(ca.check_trends_parameters())


def in_region(codes: pd.Series, region: str) -> pd.Series:
    mask = pd.Series(False, index=codes.index)
    for first, last in REGION_RANGES[region]:
        mask |= codes.between(first, last).fillna(False).astype(bool)
    return mask


# --- sources ---------------------------------------------------------------------------------------


def test_demo_file_is_small_deterministic_and_varied(raw_demo):
    assert DEMO.stat().st_size < 200_000
    assert 200 <= len(raw_demo) <= 500
    assert set(raw_demo["Year"]) == {2016, 2017, 2018, 2019, 2020}
    assert 701 in set(raw_demo["DonorCode"]) and raw_demo["DonorCode"].nunique() >= 5


def test_demo_generator_reproduces_the_shipped_file():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_demo_crs", FIXTURES / "make_demo_crs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.demo_text(module.demo_rows()).encode("utf-8") == DEMO.read_bytes()


def test_demo_file_exercises_every_theme(tagged_demo):
    japan = tagged_demo.loc[tagged_demo["donor_code"] == 701, "theme"].dropna()
    assert set(japan) == set(oda_data.THEMES)
    assert tagged_demo["theme"].isna().sum() > 100  # development activities stay untagged


def test_resolution_order_parameter_then_environment_then_demo(tmp_path):
    mine, theirs = tmp_path / "mine.txt", tmp_path / "theirs.txt"
    mine.write_text("x"), theirs.write_text("x")
    env = {ca.SOURCE_ENV_VAR: str(theirs)}
    assert ca.resolve_source(mine, environ=env) == ca.CRSSource(mine.resolve(), "parameter")
    assert ca.resolve_source(None, environ=env) == ca.CRSSource(theirs.resolve(), "environment")
    assert ca.resolve_source("", environ=env).origin == "environment"
    demo = ca.resolve_source(None, environ={ca.SOURCE_ENV_VAR: "  "})
    assert demo.is_demo and demo.path == DEMO and demo.name == ca.DEMO_FILE


def test_relative_source_is_taken_from_the_current_folder(tmp_path, monkeypatch):
    (tmp_path / "crs.txt").write_text("x")
    monkeypatch.chdir(tmp_path)
    assert ca.resolve_source("crs.txt", environ={}).path == tmp_path / "crs.txt"


@pytest.mark.parametrize("origin", ["parameter", "environment"])
def test_missing_source_names_the_file_and_where_it_came_from(origin):
    parameter, env = ("nowhere/crs.txt", {}) if origin == "parameter" else (None, {ca.SOURCE_ENV_VAR: "nowhere/crs.txt"})
    with pytest.raises(FileNotFoundError, match=r"nowhere/crs\.txt") as error:
        ca.resolve_source(parameter, environ=env)
    assert ("crs_source parameter" if origin == "parameter" else "$ODA_CRS_SOURCE") in str(error.value)


def test_reader_notes_are_collected_the_same_cold_and_warm(tmp_path, monkeypatch):
    monkeypatch.setenv("ODA_DATA_CACHE", str(tmp_path / "cache"))
    source = ca.CRSSource((FIXTURES / "sdmx_labels.csv").resolve(), "parameter")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may leak as a warning
        _, cold = ca.read_source(source)
        _, warm = ca.read_source(source)
    assert cold == warm and len(cold) == 1 and "kept the DD rows only" in cold[0]
    assert str(FIXTURES) not in cold[0] and cold[0].startswith("sdmx_labels.csv")


# --- parameters ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("arguments,words", [
    ({"flow": "grants"}, ["'flow'", "disbursements, commitments"]),
    ({"prices": "real"}, ["'prices'", "current, constant"]),
    ({"themes": ["piracy"]}, ["'themes'", ", ".join(oda_data.THEMES)]),
    ({"themes": "cyber"}, ["'themes'", "cyberspace"]),
    ({"themes": []}, ["'themes' is empty"]),
    ({"donors": "JPN"}, ["'donors'", "[701]"]),
    ({"donors": [701, "302"]}, ["'donors'"]),
    ({"years": [2018, 1850]}, ["'years'", "1850"]),
    ({"years": 2018.5}, ["'years'"]),
])
def test_bad_parameters_name_the_parameter_and_the_choices(arguments, words):
    with pytest.raises(ParameterError) as error:
        ca.check_trends_parameters(**arguments)
    for word in words:
        assert word in str(error.value)


def test_amount_column_switches():
    assert {key: ca.amount_column(*key) for key in AMOUNTS} == {
        ("disbursements", "current"): "usd_disbursement", ("commitments", "current"): "usd_commitment",
        ("disbursements", "constant"): "usd_disbursement_constant",
        ("commitments", "constant"): "usd_commitment_constant"}


def test_unknown_donor_lists_the_donors_of_the_source():
    query = ca.check_trends_parameters(donors=[701, 999])
    with pytest.raises(ParameterError, match=r"\[999\] not in the CRS source crs_demo_security_2016_2020\.csv") as error:
        ca.load_trends(query)
    assert "701 (Japan)" in str(error.value) and "918 (EU Institutions)" in str(error.value)


def test_years_absent_from_the_source_say_which_years_it_has():
    with pytest.raises(ParameterError, match="covers 2016–2020"):
        ca.load_trends(ca.check_trends_parameters(years=[2030, 2031]))
    trends = ca.load_trends(ca.check_trends_parameters(years=[2020, 2021]))
    assert trends.years == (2020,)
    assert any("2021" in note for note in trends.notes)


def test_a_flow_the_source_lacks_lists_what_it_has():
    # The reduced bulk Parquet carries current commitments and disbursements only.
    query = ca.check_trends_parameters(FIXTURES / "bulk_reduced.parquet", prices="constant")
    with pytest.raises(ParameterError) as error:
        ca.load_trends(query)
    message = str(error.value)
    assert "usd_disbursement_constant is empty" in message
    assert "flow='disbursements', prices='current'; flow='commitments', prices='current'" in message


# --- trends -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flow,prices", list(AMOUNTS))
def test_donor_totals_match_pandas_on_the_raw_file(raw_demo, flow, prices):
    trends = ca.load_trends(ca.check_trends_parameters(flow=flow, prices=prices))
    expected = raw_demo.groupby("DonorCode")[AMOUNTS[(flow, prices)]].sum()
    got = trends.totals.set_index("donor_code")["total"]
    assert sorted(got.index.astype(int)) == sorted(expected.index)
    for code, value in expected.items():
        assert got[code] == pytest.approx(value, abs=1e-9)


def test_security_by_donor_theme_year_matches_a_plain_groupby(demo_trends, tagged_demo):
    security = tagged_demo.loc[tagged_demo["theme"].notna()]
    expected = security.groupby(["donor_code", "theme", "year"])["usd_disbursement"].sum()
    got = demo_trends.security.groupby(["donor_code", "theme", "year"])["amount"].sum()
    assert len(got) == len(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-9)


def test_by_theme_year_table(demo_trends, tagged_demo):
    table = ca.by_theme_year(demo_trends.focus, demo_trends.query.themes, demo_trends.years)
    assert list(table.index) == list(oda_data.THEMES.values())
    assert list(table.columns) == [2016, 2017, 2018, 2019, 2020, "Total"]
    japan = tagged_demo.loc[(tagged_demo["donor_code"] == 701) & tagged_demo["theme"].notna()]
    expected = japan.groupby(["theme", "year"])["usd_disbursement"].sum()
    for (theme, year), value in expected.items():
        assert table.loc[oda_data.THEMES[theme], year] == pytest.approx(value)
    assert table["Total"].sum() == pytest.approx(japan["usd_disbursement"].sum())


def test_themes_and_years_filters(tagged_demo):
    trends = ca.load_trends(ca.check_trends_parameters(themes=["maritime_security", "cyberspace"], years=[2018, 2019]))
    assert set(trends.security["theme"]) == {"maritime_security", "cyberspace"}
    assert set(trends.security["year"]) == {2018, 2019}
    mask = tagged_demo["theme"].isin(["maritime_security", "cyberspace"]) & tagged_demo["year"].isin([2018, 2019])
    assert trends.security["amount"].sum() == pytest.approx(tagged_demo.loc[mask, "usd_disbursement"].sum())
    table = ca.by_theme_year(trends.focus, trends.query.themes, trends.years)
    assert list(table.index) == ["Maritime security and piracy", "Cyberspace"]


def test_commitments_constant_prices(tagged_demo):
    trends = ca.load_trends(ca.check_trends_parameters(flow="commitments", prices="constant"))
    japan = tagged_demo.loc[(tagged_demo["donor_code"] == 701) & tagged_demo["theme"].notna()]
    assert trends.focus["amount"].sum() == pytest.approx(japan["usd_commitment_constant"].sum())
    assert trends.query.unit_label == "USD million, constant prices (the CRS release's base year)"


def test_shares_sum_to_100(demo_trends):
    comparison = ca.donor_comparison(demo_trends.security, demo_trends.totals, [701])
    assert comparison["share_of_all"].sum() == pytest.approx(100.0)
    assert list(comparison["rank"]) == list(range(1, len(comparison) + 1))
    assert comparison["security"].is_monotonic_decreasing
    japan = comparison.loc[comparison["donor_code"] == 701].iloc[0]
    assert bool(japan["focus"]) and comparison["focus"].sum() == 1
    assert japan["security_share"] == pytest.approx(japan["security"] / japan["total"] * 100)
    mix = ca.theme_mix(demo_trends.security)
    assert mix.sum(axis=1).to_numpy() == pytest.approx([100.0] * len(mix))
    assert list(mix.index) == list(comparison.loc[comparison["security"] > 0, "donor"])
    regions = ca.by_region(demo_trends.focus)
    assert regions["share"].sum() == pytest.approx(100.0)
    assert set(regions["region"]) <= set(ca.REGIONS)


def test_regions_match_the_codes(demo_trends):
    for region in ("Africa", "Asia", "Middle East"):
        focus = demo_trends.focus
        expected = focus.loc[in_region(focus["recipient_code"].astype("float64"), region), "amount"].sum()
        regions = ca.by_region(focus).set_index("region")["amount"]
        assert regions[region] == pytest.approx(expected)


def test_top_recipients_order_and_ties():
    frame = pd.DataFrame({
        "recipient_code": [755, 769, 738, 755, 273, 248],
        "recipient": ["Philippines", "Viet Nam", "Indonesia", "Philippines", "Somalia", "Kenya"],
        "region": ["Asia", "Asia", "Asia", "Asia", "Africa", "Africa"],
        "amount": [2.0, 5.0, 3.0, 3.0, 1.0, 5.0],
    })
    top = ca.top_recipients(frame, n=3)
    assert list(top["recipient"]) == ["Kenya", "Philippines", "Viet Nam"]  # 5 (K before P before V), 5, 5
    assert list(top["rank"]) == [1, 2, 3]
    assert list(top["activities"]) == [1, 2, 1]
    assert top["share"].tolist() == pytest.approx([5 / 19 * 100] * 3)
    with pytest.raises(ValueError, match="at least 1"):
        ca.top_recipients(frame, n=0)


def test_top_recipients_of_the_demo(demo_trends, tagged_demo):
    japan = tagged_demo.loc[(tagged_demo["donor_code"] == 701) & tagged_demo["theme"].notna()]
    expected = japan.groupby("recipient_name")["usd_disbursement"].sum().sort_values(ascending=False)
    top = ca.top_recipients(demo_trends.focus, n=5)
    assert list(top["recipient"]) == list(expected.index[:5])
    assert top["amount"].tolist() == pytest.approx(expected.iloc[:5].tolist())


@pytest.mark.shared_data
def test_real_summary_file(shared_data):
    raw = pd.read_csv(REAL_SUMMARY, encoding="utf-8-sig").dropna(how="all")
    trends = ca.load_trends(ca.check_trends_parameters(REAL_SUMMARY))
    assert trends.years == (2018, 2019, 2020)
    assert not trends.text_available
    japan_total = raw.loc[raw["donor_code"] == 701, "value"].sum()
    assert trends.totals.set_index("donor_code").loc[701, "total"] == pytest.approx(japan_total)
    # Without titles only the specific purpose codes tag a row.
    specific = raw.loc[raw["purpose_code"].isin([15210, 16063])]
    assert trends.security["amount"].sum() == pytest.approx(specific["value"].sum())
    with pytest.raises(ParameterError, match="flow='disbursements', prices='current'"):
        ca.load_trends(ca.check_trends_parameters(REAL_SUMMARY, flow="commitments"))


# --- regions and channels against the official lists --------------------------------------------------


def test_region_of():
    assert ca.region_of([273, 755, 543, 998, 1027, 89, 437, 862]).tolist() == [
        "Africa", "Asia", "Middle East", "Unspecified", "Africa", "Europe", "America", "Oceania"]
    assert ca.region_of(pd.Series([None, 5000], dtype="Int64")).tolist() == ["Unspecified", "Unspecified"]


@pytest.mark.shared_data
def test_regions_agree_with_the_official_recipient_list(shared_data):
    broad = {"Europe": "Europe", "North of Sahara": "Africa", "South of Sahara": "Africa", "Africa": "Africa",
             "Southern Africa": "Africa", "Middle Africa": "Africa", "Eastern Africa": "Africa",
             "Western Africa": "Africa", "Caribbean": "America", "Central America": "America",
             "Caribbean & Central America": "America", "South America": "America", "America": "America",
             "Middle East": "Middle East", "South & Central Asia": "Asia", "Far East Asia": "Asia",
             "Asia": "Asia", "Polynesia": "Oceania", "Melanesia": "Oceania", "Micronesia": "Oceania",
             "Oceania": "Oceania"}
    items = json.loads((shared_data / "codelists" / "recipient_codelist_13.json").read_text())
    items = items["codelists"]["codelist"][0]["codelist-items"]["codelist-item"]
    codes, expected = [], []
    for item in items:
        region = item.get("region") or {}
        name = (region.get("name") or {}).get("narrative", [None])[0]
        codes.append(int(item["code"]))
        expected.append(broad.get(name, "Unspecified"))
    assert ca.region_of(codes).tolist() == expected


@pytest.mark.shared_data
def test_channel_table_matches_the_official_list(shared_data):
    root = ET.parse(shared_data / "codelists" / "crs_codelists_2022-09-06.xml").getroot()
    official = {}
    for item in root.iter("codelist-item"):
        code = item.findtext("code")
        if item.get("status") == "active" and code and code.isdigit():
            official.setdefault(int(code), (item.find("name").findtext("narrative") or "").strip())
    for row in ca.channel_table().itertuples():
        assert official[row.channel_code] == row.channel_name


# --- the White Paper query table -----------------------------------------------------------------------


def test_query_table_is_valid_and_complete():
    queries, none = ca.load_queries()
    wp = oda_data.white_paper()
    ids = set(wp["record_id"])
    assert set(queries) <= ids and set(none) <= ids and not set(queries) & set(none)
    with_figure = wp.loc[wp[["amount", "people", "countries"]].notna().any(axis=1), "record_id"]
    assert set(with_figure) <= set(queries) | set(none)
    with_amount = set(wp.loc[wp["amount"].notna(), "record_id"])
    assert with_amount <= set(queries)  # every amount has a CRS counterpart
    assert {"WP-MAR-12", "WP-CT-03", "WP-CT-06", "WP-CT-08", "WP-MAR-09", "WP-MAR-02"} <= set(queries)
    somalia = queries["WP-MAR-12"]
    assert (somalia.recipients, somalia.years, somalia.flow, somalia.donors) == ((273,), (2007, 2018), "disbursements", (701,))
    assert queries["WP-CT-08"].years == (2016, 2017) and queries["WP-CT-08"].themes == queries["WP-CT-06"].themes
    for query in queries.values():
        assert query.note
        assert set(query.donors) <= oda_data.crs.codes.known_codes("donor")
        assert set(query.recipients or ()) <= oda_data.crs.codes.known_codes("recipient")
        assert set(query.purpose_codes or ()) <= oda_data.crs.codes.known_codes("purpose")
        assert set(query.channels or ()) <= set(ca.channel_table()["channel_code"])
        assert set(query.themes or ()) <= set(oda_data.THEMES)
        assert set(query.recipient_regions or ()) <= set(ca.REGIONS)


@pytest.mark.shared_data
def test_query_codes_are_official_codes(shared_data):
    items = json.loads((shared_data / "codelists" / "recipient_codelist_13.json").read_text())
    recipients = {int(i["code"]) for i in items["codelists"]["codelist"][0]["codelist-items"]["codelist-item"]}
    queries, _ = ca.load_queries()
    for query in queries.values():
        assert set(query.recipients or ()) <= recipients


def _write_queries(tmp_path, record_id: str, entry: dict):
    path = tmp_path / "queries.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "records": {record_id: entry}}), encoding="utf-8")
    return path


@pytest.mark.parametrize("record_id,entry,words", [
    ("WP-XX-99", {"counterpart": "none", "reason": "x"}, ["WP-XX-99", "no such record_id"]),
    ("WP-MAR-12", {"counterpart": "crs", "query": {"years": [2007, 2018], "flow": "disbursements", "recipients": [99999]}},
     ["WP-MAR-12", "recipients [99999]"]),
    ("WP-MAR-12", {"counterpart": "crs", "query": {"years": [2007, 2018], "flow": "disbursements", "themes": ["piracy"]}},
     ["themes ['piracy']", "maritime_security"]),
    ("WP-MAR-12", {"counterpart": "crs", "query": {"years": [2018, 2007], "flow": "disbursements"}}, ["years must be"]),
    ("WP-MAR-12", {"counterpart": "crs", "query": {"years": [2007, 2018], "flow": "grants"}}, ["flow 'grants'", "commitments"]),
    ("WP-MAR-12", {"counterpart": "crs", "query": {"years": [2007, 2018], "flow": "disbursements", "donor": [701]}},
     ["unknown query field(s) ['donor']"]),
    ("WP-MAR-12", {"counterpart": "crs", "query": {"years": [2007, 2018], "flow": "disbursements", "channels": [41999]}},
     ["channels [41999]"]),
    ("WP-MAR-12", {"counterpart": "maybe"}, ["counterpart 'maybe'"]),
    ("WP-MAR-12", {"counterpart": "none"}, ["needs a 'reason'"]),
])
def test_bad_query_tables_are_named(tmp_path, record_id, entry, words):
    path = _write_queries(tmp_path, record_id, entry)
    with pytest.raises(ValueError) as error:
        ca.load_queries(path)
    assert str(error.value).startswith("queries.yaml")
    for word in words:
        assert word in str(error.value)


def expected_query_total(tagged: pd.DataFrame, entry: dict) -> float:
    """A query of the YAML evaluated with plain pandas masks (no crs_analysis)."""
    query = entry["query"]
    first, last = query["years"]
    mask = tagged["donor_code"].isin(query.get("donors", [701])) & tagged["year"].between(first, last)
    if "recipients" in query:
        mask &= tagged["recipient_code"].isin(query["recipients"])
    for region in query.get("recipient_regions", []):
        mask &= in_region(tagged["recipient_code"].astype("float64"), region)
    if "themes" in query:
        mask &= tagged["theme"].isin(query["themes"]).fillna(False).astype(bool)
    if "channels" in query:
        mask &= tagged["channel_code"].isin(query["channels"])
    column = "usd_disbursement" if query["flow"] == "disbursements" else "usd_commitment"
    return float(tagged.loc[mask.fillna(False).astype(bool), column].fillna(0).sum())


def test_white_paper_comparison_on_the_demo(tagged_demo):
    raw = yaml.safe_load(QUERIES_YAML.read_text(encoding="utf-8"))["records"]
    comparison = ca.compare_white_paper(ca.CRSSource(DEMO, "demo"))
    matches = comparison.matches.set_index("record_id")
    assert list(matches.index) == [r for r, e in raw.items() if e["counterpart"] == "crs"]
    assert list(comparison.unmatched["record_id"]) == [r for r, e in raw.items() if e["counterpart"] == "none"]
    for record_id, row in matches.iterrows():
        assert row["crs_usd_m"] == pytest.approx(expected_query_total(tagged_demo, raw[record_id])), record_id
    assert matches.loc["WP-MAR-12", "crs_usd_m"] > 0 and matches.loc["WP-CT-03", "crs_usd_m"] > 0
    # White Paper side in USD million: dollars as stated, yen at the mean DAC rate of the period.
    assert matches.loc["WP-MAR-12", "wp_usd_m"] == pytest.approx(468.0)
    mean_rate = sum(oda_data.exchange_rate(y) for y in (2016, 2017, 2018)) / 3
    assert matches.loc["WP-CT-06", "wp_usd_m"] == pytest.approx(45e9 / mean_rate / 1e6)
    assert matches.loc["WP-MAR-09", "wp_usd_m"] == pytest.approx(15.1)
    assert pd.isna(matches.loc["WP-MAR-02", "wp_usd_m"]) and pd.isna(matches.loc["WP-MAR-02", "gap_usd_m"])
    gap = matches["wp_usd_m"] - matches["crs_usd_m"]
    assert matches["gap_usd_m"].dropna().tolist() == pytest.approx(gap.dropna().tolist())
    # Readings: coverage, pledge vs flow, channels, yen.
    somalia = " ".join(matches.loc["WP-MAR-12", "reasons"])
    assert "covers only 2016–2018 of 2007–2018" in somalia and "9 years" in somalia
    assert "core contributions" in " ".join(matches.loc["WP-MAR-09", "reasons"])
    assert "pledge announces" in " ".join(matches.loc["WP-CT-03", "reasons"])
    assert "states yen" in " ".join(matches.loc["WP-CT-06", "reasons"])
    assert "fiscal years" in somalia


def test_comparison_summary_counts_a_restated_amount_once():
    comparison = ca.compare_white_paper(ca.CRSSource(DEMO, "demo"))
    matches = comparison.matches.set_index("record_id")
    # WP-CT-04 is WP-CT-03's $120 million stated in yen: one pledge, one CRS total.
    assert matches.loc["WP-CT-04", "restates"] == "WP-CT-03"
    assert matches.drop(index="WP-CT-04")["restates"].isna().all()
    assert matches.loc["WP-CT-04", "crs_usd_m"] == matches.loc["WP-CT-03", "crs_usd_m"]
    both = matches.loc[matches["wp_usd_m"].notna() & matches["crs_usd_m"].notna()].drop(index="WP-CT-04")
    text = unescape_markdown(cn.comparison_summary(comparison))
    larger = int((both["wp_usd_m"] > both["crs_usd_m"]).sum())
    assert (f"Of the {len(both)} amounts with a CRS total, the chapter's figure is the larger in {larger}; "
            f"the CRS total is a median {both['crs_share'].median():.1f}% of the chapter's figure.") in text
    assert "Not counted twice: WP-CT-04 (the same amount as WP-CT-03 in a second currency)." in text


def test_white_paper_comparison_when_years_are_not_covered():
    # The 24-activity fixture covers 2018-2020: WP-CT-08 (2016-2017) has no CRS total.
    comparison = ca.compare_white_paper(ca.CRSSource((FIXTURES / "bulk_2018_pipe_utf8.txt").resolve(), "parameter"))
    row = comparison.matches.set_index("record_id").loc["WP-CT-08"]
    assert row["covered"] == "none" and pd.isna(row["crs_usd_m"]) and row["activities"] == 0
    assert "holds none of the years 2016–2017" in " ".join(row["reasons"])


@pytest.mark.shared_data
def test_white_paper_comparison_on_the_real_summary_file(shared_data):
    raw = pd.read_csv(REAL_SUMMARY, encoding="utf-8-sig").dropna(how="all")
    comparison = ca.compare_white_paper(ca.CRSSource(REAL_SUMMARY.resolve(), "parameter"))
    matches = comparison.matches.set_index("record_id")
    somalia = raw.loc[(raw["donor_code"] == 701) & (raw["recipient_code"] == 273) & raw["year"].between(2007, 2018)]
    assert matches.loc["WP-MAR-12", "crs_usd_m"] == pytest.approx(somalia["value"].sum())
    assert matches.loc["WP-MAR-12", "covered"] == "2018"
    # The aggregated export has no commitments: no CRS total for the commitment queries.
    assert pd.isna(matches.loc["WP-CT-01", "crs_usd_m"])
    assert "no commitments amounts" in " ".join(matches.loc["WP-CT-01", "reasons"])
    assert "no project titles" in " ".join(matches.loc["WP-CT-03", "reasons"])


# --- narrative -------------------------------------------------------------------------------------------


def test_numbers_and_code_spans():
    assert cn.format_usd_m(1234.567) == "1,234.57" and cn.format_usd_m(float("nan")) == "–"
    assert cn.format_share(25.61) == "25.6%" and cn.usd_m(0.5) == "USD 0.50 million"
    assert cn.code_span("crs_2018.txt") == "`crs_2018.txt`"
    assert cn.code_span("a`b") == "``a`b``"


def test_source_note_says_demo_and_shows_no_path(demo_trends):
    note = cn.source_note(demo_trends.query.source, demo_trends.notes)
    assert note.startswith("**Demonstration data, not OECD figures.**")
    assert "`crs_demo_security_2016_2020.csv`" in note and str(DEMO.parent) not in note
    real = cn.source_note(ca.CRSSource((FIXTURES / "bulk_comma.csv").resolve(), "environment"), ("a *note*",))
    assert "`bulk_comma.csv`, named by the environment variable `ODA_CRS_SOURCE`" in real
    assert str(FIXTURES) not in real and "- a \\*note\\*" in real


def test_data_text_is_escaped():
    frame = pd.DataFrame({
        "recipient_code": [1, 2], "recipient": ["<script>alert(1)</script>", "A | B *x* _y_ $5"],
        "region": ["Asia", "Asia"], "amount": [2.0, 1.0]})
    table = cn.recipients_table(ca.top_recipients(frame))
    assert "<script>" not in table and "&lt;script&gt;" in table
    assert "A \\| B \\*x\\* \\_y\\_ " in table and "*x*" not in table
    assert "| A | B *x* _y_ $5 | Asia |" in unescape_markdown(table)


def test_trends_summary_numbers(demo_trends, tagged_demo):
    text = unescape_markdown(cn.trends_summary(demo_trends).replace("**", ""))
    japan = tagged_demo.loc[(tagged_demo["donor_code"] == 701) & tagged_demo["theme"].notna()]
    assert f"Japan reported USD {japan['usd_disbursement'].sum():,.2f} million of gross disbursements" in text
    first, last = (japan.loc[japan["year"] == y, "usd_disbursement"].sum() for y in (2016, 2020))
    assert f"from USD {first:,.2f} million in 2016 to USD {last:,.2f} million in 2020" in text
    assert f"{len(japan)} activities" in text


def test_summary_when_the_donor_has_no_security_activity(tmp_path):
    trends = ca.load_trends(ca.check_trends_parameters(FIXTURES / "bulk_2018_pipe_utf8.txt", donors=[5], themes=["cyberspace"]))
    assert trends.focus.empty
    assert "Germany reported no security and stability activity (Cyberspace)" in cn.trends_summary(trends)
    assert re.search(r"Germany \| ", cn.donor_table(ca.donor_comparison(trends.security, trends.totals, [5])))


def test_trends_summary_counts_one_activity_in_the_singular():
    """A source with a single matching activity reads "1 activity in 1 recipient country or region"."""
    trends = ca.load_trends(ca.check_trends_parameters())
    one = dataclasses.replace(trends, security=trends.focus.iloc[[0]])
    assert "1 activity in 1 recipient country or region." in unescape_markdown(cn.trends_summary(one))
    assert f"{len(trends.focus):,} activities in " in unescape_markdown(cn.trends_summary(trends))
