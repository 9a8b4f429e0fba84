"""oda_data.crs.demo (which CRS file the notebooks read) and the CRS notebooks' data files.

The data files checked here: the demonstration CSV, the region and channel
tables and the White Paper -> CRS query table. Codes are checked against the
package's code tables and, when ``../shared/data`` is present, the official lists.
"""
from __future__ import annotations

import importlib.util
import json
import shutil
import xml.etree.ElementTree as ET

import pandas as pd
import pytest
import yaml

import oda_data
from oda_data.crs import codes as crs_codes
from oda_data.crs.demo import DEMO_PATH, ENV_VAR, CRSSourceError, choose_source

from crs_testlib import FIXTURES

DATA = DEMO_PATH.parent
QUERIES_YAML = DATA / "white_paper_crs_queries.yaml"
BROAD_REGIONS = ("Africa", "America", "Asia", "Europe", "Middle East", "Oceania", "Unspecified")


# --- choose_source ---------------------------------------------------------------------------------


def test_parameter_then_environment_then_demo(tmp_path, monkeypatch):
    mine, theirs = tmp_path / "mine.txt", tmp_path / "theirs.txt"
    mine.write_text("x"), theirs.write_text("y")
    monkeypatch.setenv(ENV_VAR, str(theirs))
    assert choose_source(mine) == (chosen := choose_source(str(mine)))
    assert (chosen.path, chosen.origin, chosen.is_demo, chosen.name) == (mine, "parameter", False, "mine.txt")
    for unset in (None, "", "  "):
        assert (choose_source(unset).path, choose_source(unset).origin) == (theirs, "ODA_CRS_SOURCE")
    monkeypatch.setenv(ENV_VAR, " ")
    demo = choose_source()
    assert (demo.path, demo.origin, demo.is_demo, demo.name) == (
        DEMO_PATH, "bundled demo", True, "crs_demo_security_2016_2020.csv")


def test_a_parameter_naming_the_variable_s_file_comes_from_the_variable(tmp_path, monkeypatch):
    # `oda-data reports build` passes $ODA_CRS_SOURCE on to the notebook as its crs_source parameter.
    crs, other = tmp_path / "crs.txt", tmp_path / "other.txt"
    crs.write_text("x"), other.write_text("y")
    monkeypatch.setenv(ENV_VAR, str(crs))
    assert choose_source(str(crs)).origin == "ODA_CRS_SOURCE"
    assert choose_source(str(other)).origin == "parameter"
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing.txt"))
    assert choose_source(str(crs)).origin == "parameter"


def test_the_demo_file_is_demo_however_chosen(tmp_path, monkeypatch):
    copy = tmp_path / "renamed.csv"
    shutil.copyfile(DEMO_PATH, copy)
    monkeypatch.chdir(DATA)
    assert choose_source(DEMO_PATH).is_demo and choose_source(DEMO_PATH.name).is_demo
    assert choose_source(copy).is_demo  # a copy under another name is still invented data
    monkeypatch.setenv(ENV_VAR, str(copy))
    assert (choose_source().origin, choose_source().is_demo) == ("ODA_CRS_SOURCE", True)
    changed = tmp_path / "changed.csv"
    changed.write_bytes(DEMO_PATH.read_bytes().replace(b"Japan", b"Japon", 1))
    assert not choose_source(changed).is_demo


def test_relative_source_is_taken_from_the_current_folder(tmp_path, monkeypatch):
    (tmp_path / "crs.txt").write_text("x")
    monkeypatch.chdir(tmp_path)
    assert choose_source("crs.txt").path == tmp_path / "crs.txt"


@pytest.mark.parametrize("origin", ["parameter", "environment"])
@pytest.mark.parametrize("kind", ["missing", "folder"])
def test_bad_source_names_the_path_and_where_it_came_from(tmp_path, monkeypatch, origin, kind):
    given = str(tmp_path / "nowhere.txt") if kind == "missing" else str(tmp_path)
    if origin == "environment":
        monkeypatch.setenv(ENV_VAR, given)
    with pytest.raises(CRSSourceError) as error:
        choose_source(given if origin == "parameter" else None)
    message = str(error.value)
    assert given in message and ("does not exist" if kind == "missing" else "is not a file") in message
    assert ("crs_source parameter" if origin == "parameter" else "environment variable ODA_CRS_SOURCE") in message
    assert "\n" not in message


# --- the demonstration file ------------------------------------------------------------------------------


def test_demo_file_is_small_and_varied():
    raw = pd.read_csv(DEMO_PATH)
    assert DEMO_PATH.stat().st_size < 200_000 and 200 <= len(raw) <= 500
    assert set(raw["Year"]) == {2016, 2017, 2018, 2019, 2020}
    assert 701 in set(raw["DonorCode"]) and raw["DonorCode"].nunique() >= 5


def test_demo_generator_reproduces_the_shipped_file():
    spec = importlib.util.spec_from_file_location("make_demo_crs", FIXTURES / "make_demo_crs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.demo_text(module.demo_rows()).encode("utf-8") == DEMO_PATH.read_bytes()


def test_demo_file_exercises_every_theme():
    tagged = oda_data.tag_themes(oda_data.read_crs(DEMO_PATH, progress=False))
    assert set(tagged.loc[tagged["donor_code"] == 701, "theme"].dropna()) == set(oda_data.THEMES)
    assert tagged["theme"].isna().sum() > 100  # development activities stay untagged


# --- region and channel tables ---------------------------------------------------------------------------


def region_of(codes) -> list[str]:
    """Broad region of each code from crs_regions.csv, the way the notebooks look it up."""
    ranges = pd.read_csv(DATA / "crs_regions.csv")
    lookup = pd.concat(pd.Series(row.region, index=range(row.first_code, row.last_code + 1))
                       for row in ranges.itertuples())
    return pd.Series(codes, dtype="float64").map(lookup).fillna("Unspecified").tolist()


def test_region_ranges_do_not_overlap():
    ranges = pd.read_csv(DATA / "crs_regions.csv").sort_values("first_code")
    assert (ranges["first_code"] <= ranges["last_code"]).all()
    assert (ranges["first_code"].iloc[1:].to_numpy() > ranges["last_code"].iloc[:-1].to_numpy()).all()
    assert set(ranges["region"]) <= set(BROAD_REGIONS)
    assert region_of([273, 755, 543, 998, 1027, 89, 437, 862, None]) == [
        "Africa", "Asia", "Middle East", "Unspecified", "Africa", "Europe", "America", "Oceania", "Unspecified"]


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
    codes = [int(item["code"]) for item in items]
    expected = [broad.get(((item.get("region") or {}).get("name") or {}).get("narrative", [None])[0], "Unspecified")
                for item in items]
    assert region_of(codes) == expected


@pytest.mark.shared_data
def test_channel_table_matches_the_official_list(shared_data):
    root = ET.parse(shared_data / "codelists" / "crs_codelists_2022-09-06.xml").getroot()
    official = {}
    for item in root.iter("codelist-item"):
        code = item.findtext("code")
        if item.get("status") == "active" and code and code.isdigit():
            official.setdefault(int(code), (item.find("name").findtext("narrative") or "").strip())
    for row in pd.read_csv(DATA / "crs_channel_codes.csv", keep_default_na=False).itertuples():
        assert official[row.channel_code] == row.channel_name


# --- the White Paper -> CRS query table ------------------------------------------------------------------

QUERY_FIELDS = {"donors", "years", "flow", "recipients", "recipient_regions", "themes", "purpose_codes", "channels"}


def test_query_table_lists_every_figure_once():
    """One entry per figure of the chapter, counted as the overview counts them.

    A figure is a record with an amount, people or countries; a record that
    restates another's amount in a second currency (``equivalent_of``) is the
    same figure and has no entry of its own.
    """
    records = yaml.safe_load(QUERIES_YAML.read_text(encoding="utf-8"))["records"]
    wp = oda_data.white_paper()
    figures = wp.loc[wp[["amount", "people", "countries"]].notna().any(axis=1) & wp["equivalent_of"].isna()]
    assert list(records) == [r for r in wp["record_id"] if r in set(figures["record_id"])]
    assert {entry["counterpart"] for entry in records.values()} == {"crs", "none"}
    with_amount = set(figures.loc[figures["amount"].notna(), "record_id"])
    assert with_amount <= {r for r, e in records.items() if e["counterpart"] == "crs"}


def test_queries_are_valid():
    records = yaml.safe_load(QUERIES_YAML.read_text(encoding="utf-8"))["records"]
    channels = set(pd.read_csv(DATA / "crs_channel_codes.csv")["channel_code"])
    for record_id, entry in records.items():
        if entry["counterpart"] == "none":
            assert entry["reason"].strip(), record_id
            continue
        query = entry["query"]
        assert set(query) <= QUERY_FIELDS and entry["note"].strip(), record_id
        first, last = query["years"]
        assert 1960 <= first <= last <= 2100 and query["flow"] in ("disbursements", "commitments")
        assert set(query.get("donors", [701])) <= crs_codes.known_codes("donor")
        assert set(query.get("recipients", [])) <= crs_codes.known_codes("recipient")
        assert set(query.get("purpose_codes", [])) <= crs_codes.known_codes("purpose")
        assert set(query.get("channels", [])) <= channels
        assert set(query.get("themes", [])) <= set(oda_data.THEMES)
        assert set(query.get("recipient_regions", [])) <= set(BROAD_REGIONS)
    somalia = records["WP-MAR-12"]["query"]
    assert (somalia["recipients"], somalia["years"], somalia["flow"]) == ([273], [2007, 2018], "disbursements")
    assert records["WP-CT-08"]["query"]["themes"] == records["WP-CT-06"]["query"]["themes"]


@pytest.mark.shared_data
def test_query_recipients_are_official_codes(shared_data):
    items = json.loads((shared_data / "codelists" / "recipient_codelist_13.json").read_text())
    official = {int(i["code"]) for i in items["codelists"]["codelist"][0]["codelist-items"]["codelist-item"]}
    records = yaml.safe_load(QUERIES_YAML.read_text(encoding="utf-8"))["records"]
    for entry in records.values():
        assert set(entry.get("query", {}).get("recipients", [])) <= official
