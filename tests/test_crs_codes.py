"""The shipped code tables agree with the official OECD code lists (when present)."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from oda_data.crs import codes

from crs_testlib import SHARED_DATA

CODELISTS = SHARED_DATA / "codelists"


def _official(name: str) -> dict[str, dict]:
    path = CODELISTS / name
    if not path.exists():
        pytest.skip(f"../shared/data absent: codelists/{name}")
    items = json.loads(path.read_text(encoding="utf-8"))["codelists"]["codelist"][0]["codelist-items"]["codelist-item"]
    return {item["code"]: item for item in items}


def _english(item: dict) -> str:
    narrative = item["name"]["narrative"]
    return narrative[0] if isinstance(narrative, list) else narrative


def test_japan_is_701():
    assert codes.donor_de_to_dac()["JPN"] == 701
    assert codes.recipient_de_to_dac()["PHL"] == 755
    assert codes.recipient_de_to_dac()["VNM"] == 769


@pytest.mark.shared_data
def test_donor_table_matches_the_provider_list():
    official = _official("provider_codelist_5.json")
    table = codes.donor_table()
    assert len(table) >= 35
    for row in table.itertuples():
        item = official[str(row.donor_code)]
        assert (row.de_code, row.donor_name, row.donor_type) == (
            item["dotstatcode"], _english(item), item["type"]), row


@pytest.mark.shared_data
def test_recipient_table_matches_the_recipient_list():
    official = _official("recipient_codelist_13.json")
    table = codes.recipient_table()
    assert len(table) >= 100
    for row in table.itertuples():
        item = official[str(row.recipient_code)]
        assert (row.de_code, row.recipient_name) == (item["dotstatcode"], _english(item)), row


@pytest.mark.shared_data
def test_purpose_table_matches_the_sector_list():
    path = CODELISTS / "crs_codelists_2022-09-06.xml"
    if not path.exists():
        pytest.skip("../shared/data absent: codelists/crs_codelists_2022-09-06.xml")
    names = {}
    for codelist in ET.parse(path).getroot():
        if codelist.get("name") == "Sector":
            for item in codelist.iter("codelist-item"):
                names[int(item.findtext("code"))] = item.find("name").findall("narrative")[0].text
    table = codes.purpose_table()
    for row in table.itertuples():
        assert names[row.purpose_code] == row.purpose_name


def test_unmapped_data_explorer_codes_warn(tmp_path, monkeypatch):
    import oda_data
    from oda_data.crs import CRSCodeWarning

    monkeypatch.setenv("ODA_DATA_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "sdmx.csv"
    source.write_text(
        "DATAFLOW,DONOR,RECIPIENT,SECTOR,FLOW_TYPE,PRICE_BASE,MD_DIM,MD_ID,TIME_PERIOD,OBS_VALUE\n"
        "X,JPN,PHL,21040,D,V,DD,1,2019,1.5\nX,ZZZ,PHL,21040,D,V,DD,2,2019,2.5\n", encoding="utf-8")
    with pytest.warns(CRSCodeWarning, match="donor code.*ZZZ"):
        frame = oda_data.read_crs(source)
    assert frame["donor_code"].tolist()[0] == 701
    assert frame["donor_code"].isna().sum() == 1
