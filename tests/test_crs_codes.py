"""The shipped code tables are complete, agree with the official OECD lists, and no valid code is refused."""
from __future__ import annotations

import csv
import importlib.util
import io
import json
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

import oda_data
from oda_data.crs import CRSCodeWarning, codes

from crs_testlib import FIXTURES, SHARED_DATA

CODELISTS = SHARED_DATA / "codelists"
DATA = Path(oda_data.__file__).parent / "data"
BULK = FIXTURES / "bulk_2018_pipe_utf8.txt"
ISSUE_PURPOSE_CODES = [15111, 15131, 15150, 15151, 15152, 15153, 15160]


pytestmark = pytest.mark.usefixtures("tmp_cache")  # every test with its own cache folder (conftest.py)


def _shared(name: str) -> Path:
    path = CODELISTS / name
    if not path.exists():
        pytest.skip(f"../shared/data absent: codelists/{name} (a fresh clone has no ../shared)")
    return path


def _official_json(name: str) -> dict[str, dict]:
    items = json.loads(_shared(name).read_text(encoding="utf-8"))["codelists"]["codelist"][0]
    return {item["code"]: item for item in items["codelist-items"]["codelist-item"]}


def _english(item: dict) -> str:
    narrative = item["name"]["narrative"]
    return narrative[0] if isinstance(narrative, list) else narrative


# --------------------------------------------------------------------------- shipped values


def test_donor_table_names_japan_and_every_kind_of_provider():
    table = codes.donor_table().set_index("donor_code")
    assert len(table) == 213
    assert tuple(table.loc[701, ["de_code", "donor_name", "donor_type", "oecd_type"]]) == (
        "JPN", "Japan", "bilateral", "DAC member")
    assert tuple(table.loc[905, ["de_code", "donor_type"]]) == ("5WB002", "multilateral")  # IDA
    assert tuple(table.loc[1601, ["donor_name", "donor_type"]]) == ("Gates Foundation", "private")
    assert dict(table["donor_type"].value_counts()) == {"multilateral": 95, "bilateral": 70, "private": 48}
    assert codes.donor_de_to_dac()["JPN"] == 701
    assert codes.donor_de_to_dac()["4EU001"] == 918
    assert "" not in codes.donor_de_to_dac()  # 31 providers have no Data Explorer code
    assert codes.donor_names()[302] == "United States"


def test_recipient_table_holds_countries_regional_and_unspecified_codes():
    table = codes.recipient_table().set_index("recipient_code")
    assert len(table) == 178
    assert dict(table["recipient_type"].value_counts()) == {"country": 151, "regional": 24, "unspecified": 3}
    assert tuple(table.loc[755, ["de_code", "recipient_name", "region_name"]]) == (
        "PHL", "Philippines", "Far East Asia")
    mapping = codes.recipient_de_to_dac()
    assert {de: mapping[de] for de in ("COK", "DMA", "FSM", "A_X", "F3_X", "S97_X", "DPGC_X")} == {
        "COK": 831, "DMA": 378, "FSM": 860, "A_X": 498, "F3_X": 1027, "S97_X": 789, "DPGC_X": 998}
    assert codes.recipient_names()[1027] == "Eastern Africa, regional"
    assert codes.recipient_names()[380] == "West Indies, regional"  # from the Region list only
    assert codes.recipient_names()[999] == "Global"


def test_purpose_table_holds_active_and_withdrawn_codes():
    table = codes.purpose_table().set_index("purpose_code")
    assert len(table) == 325
    assert dict(table["status"].value_counts()) == {"active": 295, "withdrawn": 30}
    assert tuple(table.loc[15210]) == (
        "Security system management and reform", 152, "Conflict, Peace & Security", "active")
    assert tuple(table.loc[16063, ["purpose_name", "category_code"]]) == ("Narcotics control", 160)
    assert tuple(table.loc[15161, ["purpose_name", "status"]]) == ("Elections", "withdrawn")
    assert table.loc[23010, "status"] == "withdrawn"
    assert set(ISSUE_PURPOSE_CODES) <= codes.known_codes("purpose")


# --------------------------------------------------------------------------- against the official lists


@pytest.mark.shared_data
def test_shipped_tables_are_what_the_generator_derives():
    _shared("purpose_codes_Sector.xml")
    spec = importlib.util.spec_from_file_location(
        "make_code_tables", Path(__file__).parent / "fixtures" / "make_code_tables.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    derived = generator.derive_tables(CODELISTS)
    assert sorted(derived) == ["crs_donor_codes.csv", "crs_purpose_codes.csv", "crs_recipient_codes.csv"]
    for name, text in derived.items():
        assert (DATA / name).read_text(encoding="utf-8") == text, f"{name}: run tests/fixtures/make_code_tables.py"


@pytest.mark.shared_data
def test_every_provider_is_in_the_donor_table():
    official = _official_json("provider_codelist_5.json")
    table = codes.donor_table().set_index("donor_code")
    assert sorted(int(code) for code in official) == sorted(table.index)
    for code, item in official.items():
        row = table.loc[int(code)]
        assert (row.de_code, row.donor_name, row.oecd_type) == (
            item.get("dotstatcode") or "", _english(item), item.get("type", "")), code


@pytest.mark.shared_data
def test_every_recipient_and_regional_code_maps():
    official = _official_json("recipient_codelist_13.json")
    table = codes.recipient_table().set_index("recipient_code")
    mapping = codes.recipient_de_to_dac()
    for code, item in official.items():
        assert table.loc[int(code), "recipient_name"] == _english(item)
        if item.get("dotstatcode"):
            assert mapping[item["dotstatcode"]] == int(code)
    regions = [int(item.findtext("code")) for item in ET.parse(_shared("Region.xml")).iter("codelist-item")]
    assert len(regions) == 26 and set(regions) <= set(table.index)
    assert set(table.index) == {int(code) for code in official} | set(regions)


@pytest.mark.shared_data
def test_every_purpose_code_active_and_withdrawn_is_in_the_table():
    statuses = {int(item.findtext("code")): item.get("status")
                for item in ET.parse(_shared("purpose_codes_Sector.xml")).iter("codelist-item")}
    table = codes.purpose_table()
    assert dict(zip(table["purpose_code"], table["status"])) == statuses
    # The OECD's own 2022 list: every code there is in the table, with the same name.
    for codelist in ET.parse(_shared("crs_codelists_2022-09-06.xml")).getroot():
        if codelist.get("name") == "Sector":
            for item in codelist.iter("codelist-item"):
                name = " ".join(item.find("name").findall("narrative")[0].text.split())
                assert codes.purpose_table().set_index("purpose_code").loc[
                    int(item.findtext("code")), "purpose_name"] == name


# --------------------------------------------------------------------------- filters and readers


def test_valid_purpose_codes_are_never_refused():
    frame = oda_data.read_crs(BULK, purpose_codes=ISSUE_PURPOSE_CODES)
    assert len(frame) == 0  # valid codes, absent from this file: nothing selected, no error
    assert len(oda_data.read_crs(BULK, purpose_codes=[*ISSUE_PURPOSE_CODES, 15210])) > 0
    assert len(oda_data.read_crs(BULK, donors=[1601], recipients=[1027])) == 0


def test_a_typo_is_still_an_error():
    with pytest.raises(ValueError, match=r"purpose_codes: unknown purpose code\(s\) \[99999\]"):
        oda_data.read_crs(BULK, purpose_codes=[99999])


def test_empty_filter_lists_are_kept_and_select_nothing():
    assert codes.normalise_filter_codes([], "donors") == []
    assert codes.normalise_filter_years([]) == []
    assert codes.filter_values(()) == []
    assert codes.normalise_filter_codes(None, "donors") is None
    assert codes.selects_nothing(None, [701], []) is True
    assert codes.selects_nothing(None, [701], [2018]) is False


@pytest.mark.parametrize("parameter", ["donors", "recipients", "purpose_codes", "years", "themes"])
def test_an_empty_list_selects_nothing_for_every_filter(parameter):
    assert len(oda_data.read_crs(BULK, **{parameter: []})) == 0


def _sdmx_with_recipients(tmp_path, recipients: list[str]) -> tuple[Path, int]:
    """The codes-only SDMX fixture with each of its recipients replaced by one of ``recipients``."""
    with (FIXTURES / "sdmx_codes.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    originals = sorted({row["RECIPIENT"] for row in rows})
    replace = {code: recipients[index % len(recipients)] for index, code in enumerate(originals)}
    for row in rows:
        row["RECIPIENT"] = replace[row["RECIPIENT"]]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / "sdmx_pacific.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path, len(rows)


def test_data_explorer_pacific_caribbean_and_regional_codes_map(tmp_path):
    source, rows = _sdmx_with_recipients(tmp_path, ["COK", "DMA", "FSM", "A_X", "F3_X"])
    reference = oda_data.read_crs(FIXTURES / "sdmx_codes.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error", CRSCodeWarning)
        frame = oda_data.read_crs(source)
    assert len(frame) == len(reference) == 16  # 62 observations, 16 activities
    assert frame["recipient_code"].isna().sum() == 0
    assert set(frame["recipient_code"]) == {831, 378, 860, 498, 1027}
    names = dict(zip(frame["recipient_code"], frame["recipient_name"]))
    assert names[831] == "Cook Islands" and names[1027] == "Eastern Africa, regional"
    assert rows == 62


def test_unmapped_data_explorer_codes_warn_once_with_escaped_codes():
    with pytest.warns(CRSCodeWarning) as caught:
        codes.warn_unmapped("recipient", ["ZZZ", "\x1b[2JXX", "ZZZ"], "file.csv", rows=3)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert message == ("file.csv: 3 row(s) with 2 Data Explorer recipient code(s) not in oda_data's "
                       "recipient table (ZZZ, \\x1b[2JXX): kept with recipient_code NA and the code as "
                       "read in column recipient_raw")
    assert "\x1b" not in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        codes.warn_unmapped("donor", [], "file.csv", rows=0)  # nothing unmapped: no warning


def test_an_unknown_data_explorer_code_is_kept_raw_with_one_warning(tmp_path):
    source = tmp_path / "sdmx.csv"
    source.write_text(
        "DATAFLOW,DONOR,RECIPIENT,SECTOR,FLOW_TYPE,PRICE_BASE,MD_DIM,MD_ID,TIME_PERIOD,OBS_VALUE\n"
        "X,JPN,PHL,21040,D,V,DD,1,2019,1.5\nX,ZZZ,PHL,21040,D,V,DD,2,2019,2.5\n"
        "X,ZZZ,COK,21040,D,V,DD,3,2019,0.5\n", encoding="utf-8")
    with pytest.warns(CRSCodeWarning, match=r"2 row\(s\) with 1 Data Explorer donor code.*ZZZ.*donor_raw") as caught:
        frame = oda_data.read_crs(source)
    assert len([w for w in caught if issubclass(w.category, CRSCodeWarning)]) == 1
    assert len(frame) == 3
    assert frame["donor_code"].tolist()[0] == 701 and frame["donor_code"].isna().sum() == 2
    # NA where donor_code holds the code; the code as read where it could not be converted.
    assert frame["donor_raw"].isna().tolist() == [True, False, False]
    assert frame["donor_raw"].tolist()[1:] == ["ZZZ", "ZZZ"]
    assert frame["recipient_code"].tolist() == [755, 755, 831]
