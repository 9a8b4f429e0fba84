"""ONE Campaign oda_reader's Data Explorer layout, on the real file in ../shared (and its Parquet twin)."""
from __future__ import annotations

import csv

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import oda_data
from oda_data.crs import CANONICAL_COLUMNS, CRS_SCHEMA, CRSFormatError

NAME = "crs_dataexplorer_housing_2014_2023_oda_reader_layout.csv"


@pytest.fixture
def real(shared_data):
    return shared_data / "crs" / NAME


def _rows(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.shared_data
def test_every_row_of_the_real_file_in_the_right_flow_and_price_column(real):
    rows = _rows(real)
    frame = oda_data.read_crs(real)
    assert list(frame.columns) == list(CANONICAL_COLUMNS) and len(frame) == len(rows) == 4021
    CRS_SCHEMA.validate(frame)
    assert (frame["donor_code"] == 701).sum() == 399
    # Every row is a constant-price disbursement (flow_type_code D, amount_type "Constant prices").
    assert {row["flow_type_code"] for row in rows} == {"D"} and {row["amount_type"] for row in rows} == {"Constant prices"}
    assert frame["usd_disbursement_constant"].tolist() == pytest.approx([float(row["value"]) for row in rows])
    for empty in ("usd_commitment", "usd_disbursement", "usd_commitment_constant"):
        assert frame[empty].isna().all()
    # Row by row, in the file's order: codes, text and names as written.
    assert frame["year"].tolist() == [int(row["year"]) for row in rows]
    assert frame["donor_code"].tolist() == [int(row["donor_code"]) for row in rows]
    assert frame["recipient_code"].tolist() == [int(row["recipient_code"]) for row in rows]
    assert frame["purpose_code"].tolist() == [int(row["sector_code"]) for row in rows]
    assert frame["sector_code"].tolist() == [int(row["sector_code"]) // 100 for row in rows]
    assert frame["flow_code"].tolist() == [int(row["measure_code"]) for row in rows]
    assert frame["project_title"].fillna("").tolist() == [row["project_title"].strip() for row in rows]
    assert frame.loc[0, "agency_name"].startswith("Deutsche Investitions")
    japan = frame[frame["donor_code"] == 701]
    expected = sum(float(row["value"]) for row in rows if row["donor_code"] == "701")
    assert japan["usd_disbursement_constant"].sum() == pytest.approx(expected)


@pytest.mark.shared_data
def test_the_theme_tagger_marks_no_housing_row_of_the_real_file(real):
    # Purpose codes 16030/16040 (housing) only. Two rows mention security words in their long
    # description, and neither activity is about security, so neither is tagged:
    # - ADB "Financial Market Development Program (Subprogram 3)" (Bhutan, 2021): one of three
    #   reform areas revises "rules on anti-money laundering"; the activity is financial-sector
    #   reform, not assistance against money laundering;
    # - "Home for Homeless" (2015): housing for people displaced "from the zone of the anti-terrorist
    #   operations"; the words name the context, the activity is housing.
    # The rule (crs_theme_rules.yaml): off the security purpose codes, a keyword counts only in the
    # title or short description.
    frame = oda_data.read_crs(real, columns=["project_title", "long_description", "theme", "theme_rule"])
    assert frame["theme"].notna().sum() == 0
    texts = frame["long_description"].fillna("")
    assert texts.str.contains("anti-money laundering").sum() == 1 and texts.str.contains("anti-terrorist").sum() == 1


def test_a_title_keyword_still_counts_off_the_security_codes():
    frame = pd.DataFrame({"purpose_code": [16040, 16040, 15220],
                          "project_title": ["Counter-terrorism training centre", "Home for Homeless", "Peace"],
                          "long_description": ["", "people displaced from the anti-terrorist operations zone",
                                               "countering terrorism in the region"]})
    assert oda_data.tag_themes(frame)["theme"].fillna("-").tolist() == ["counter_terrorism", "-", "counter_terrorism"]


@pytest.mark.shared_data
def test_the_parquet_twin_reads_the_same(real, tmp_path):
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(real)
    twin = tmp_path / "oda_reader.parquet"
    pq.write_table(table, twin)
    pd.testing.assert_frame_equal(oda_data.read_crs(twin), oda_data.read_crs(real))


HEADER = "donor_code,recipient_code,sector_code,flow_type_code,amount_type,year,value,unit_multiplier,project_title"


@pytest.mark.parametrize("rows,expected", [
    (["JPN,PHL,15210,C,Current prices,2019,1.5,6,a", "701,755,15210,D,Constant prices,2019,2,3,b"],
     {"usd_commitment": [1.5, None], "usd_disbursement_constant": [None, 0.002]}),
])
def test_codes_flows_prices_and_multipliers(tmp_path, rows, expected):
    source = tmp_path / "small.csv"
    source.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    frame = oda_data.read_crs(source)
    assert frame["donor_code"].tolist() == [701, 701] and frame["recipient_code"].tolist() == [755, 755]
    for column, values in expected.items():
        assert [None if pd.isna(v) else v for v in frame[column].tolist()] == pytest.approx(values)


@pytest.mark.parametrize("row,message", [
    ("701,755,15210,E,Current prices,2019,1,6,x", r"column 'flow_type_code' must be one of C, D .*found 'E' at data row 2 \(line 3\)"),
    ("701,755,15210,D,,2019,1,6,x", r"column 'amount_type' must be one of V, Q .*found None at data row 2"),
    ("701,755,15210,D,Current prices,2019,lots,6,x", r"column 'value' must hold numbers; found 'lots'"),
])
def test_an_observation_the_reader_cannot_place_is_refused_with_its_line(tmp_path, row, message):
    source = tmp_path / "small.csv"
    source.write_text("\n".join([HEADER, "701,755,15210,D,Current prices,2019,1,6,ok", row]) + "\n", encoding="utf-8")
    with pytest.raises(CRSFormatError, match=message):
        oda_data.read_crs(source)
