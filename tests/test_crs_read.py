"""read_crs: every real layout -> the same canonical frame and the totals the source states."""
from __future__ import annotations

import csv
import shutil
import warnings
from collections import defaultdict

import pandas as pd
import pyarrow as pa
import pytest

import oda_data
from oda_data.crs import CANONICAL_COLUMNS, CRS_SCHEMA, CRSLayoutWarning
from oda_data.crs.layouts import detect as detect_layout

from crs_testlib import (BULK_FIXTURES, FIXTURES, REAL_SUMMARY, SDMX_FIXTURES, assert_totals_equal,
                         expected_bulk_totals, expected_sdmx_totals, totals_of)


pytestmark = pytest.mark.usefixtures("tmp_cache")  # every test with its own cache folder (conftest.py)


def read_quietly(path, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CRSLayoutWarning)
        return oda_data.read_crs(path, **kwargs)


@pytest.mark.parametrize("name,kind", [
    ("bulk_2018_pipe_utf8.txt", ("bulk_text", "utf-8", "|")),
    ("bulk_2018_pipe_utf8bom.txt", ("bulk_text", "utf-8-sig", "|")),
    ("bulk_2019_utf16.txt", ("bulk_text", "utf-16", "|")),
    ("bulk_comma.csv", ("bulk_text", "utf-8", ",")),
    ("bulk_2019_utf16.zip", ("bulk_text", "utf-16", "|")),
    ("bulk_deflate64.zip", ("bulk_text", "utf-8", "|")),
    ("bulk_full.parquet", ("bulk_parquet", None, None)),
    ("sdmx_labels.csv", ("sdmx_csv", "utf-8", ",")),
    ("sdmx_codes.csv", ("sdmx_csv", "utf-8", ",")),
])
def test_detect_layout(name, kind):
    layout = detect_layout(FIXTURES / name)
    assert (layout.kind, layout.encoding, layout.delimiter) == kind


def test_deflate64_fixture_really_uses_method_9():
    import zipfile

    with zipfile.ZipFile(FIXTURES / "bulk_deflate64.zip") as archive:
        assert archive.infolist()[0].compress_type == 9


@pytest.mark.parametrize("name", BULK_FIXTURES)
@pytest.mark.parametrize("amount", ["usd_disbursement", "usd_commitment"])
def test_bulk_totals_match_the_source(name, amount):
    frame = oda_data.read_crs(FIXTURES / name)
    assert len(frame) == 24
    assert_totals_equal(totals_of(frame, amount), expected_bulk_totals(name, amount))


@pytest.mark.parametrize("name", [n for n in BULK_FIXTURES if n != "bulk_reduced.parquet"])
def test_bulk_constant_prices_come_from_defl_columns(name):
    frame = oda_data.read_crs(FIXTURES / name)
    assert_totals_equal(totals_of(frame, "usd_disbursement_constant"),
                        expected_bulk_totals(name, "usd_disbursement_defl"))


def test_reduced_parquet_has_no_constant_prices():
    frame = oda_data.read_crs(FIXTURES / "bulk_reduced.parquet")
    assert frame["usd_disbursement_constant"].isna().all()
    assert frame["project_title"].isna().all()


@pytest.mark.parametrize("name", [*BULK_FIXTURES, *SDMX_FIXTURES])
def test_canonical_schema_holds_for_every_layout(name):
    frame = read_quietly(FIXTURES / name)
    assert tuple(frame.columns) == CANONICAL_COLUMNS
    CRS_SCHEMA.validate(frame)
    assert all(isinstance(dtype, pd.ArrowDtype) for dtype in frame.dtypes)
    assert frame["year"].dtype == pd.ArrowDtype(pa.int32())
    assert frame["usd_disbursement"].dtype == pd.ArrowDtype(pa.float64())
    japan = frame[frame["donor_code"] == 701]
    assert len(japan) == 16
    assert set(japan["donor_name"]) == {"Japan"}


def test_text_layouts_agree_cell_by_cell():
    reference = oda_data.read_crs(FIXTURES / "bulk_2018_pipe_utf8.txt")
    assert reference.loc[0, "project_title"].startswith("Maritime Safety Capability Improvement")
    assert reference.loc[0, "recipient_code"] == 755 and reference.loc[0, "region_name"] == "Far East Asia"
    assert reference.loc[4, "long_description"].endswith('"Koban" model, pipes | escaped')
    for name in ("bulk_2018_pipe_utf8bom.txt", "bulk_2019_utf16.txt", "bulk_comma.csv",
                 "bulk_2019_utf16.zip", "bulk_deflate64.zip", "bulk_dotstat_2024.txt", "bulk_full.parquet"):
        pd.testing.assert_frame_equal(oda_data.read_crs(FIXTURES / name), reference, obj=name)


def test_dotstat_codes_become_dac_numeric_codes():
    frame = oda_data.read_crs(FIXTURES / "bulk_dotstat_2024.txt")
    first = frame.iloc[0]
    assert (first["donor_code"], first["recipient_code"]) == (701, 755)
    assert set(frame["donor_code"]) == {701, 4, 302, 12, 801, 742, 5, 301}


@pytest.mark.parametrize("name", SDMX_FIXTURES)
@pytest.mark.parametrize("series", [("D", "V", "usd_disbursement"), ("C", "V", "usd_commitment"),
                                    ("D", "Q", "usd_disbursement_constant"),
                                    ("C", "Q", "usd_commitment_constant")])
def test_sdmx_totals_match_the_source(name, series):
    flow_type, price_base, column = series
    frame = read_quietly(FIXTURES / name)
    assert_totals_equal(totals_of(frame, column), expected_sdmx_totals(name, flow_type, price_base))


def test_sdmx_pivots_one_row_per_activity_and_maps_jpn():
    frame = read_quietly(FIXTURES / "sdmx_labels.csv")
    assert len(frame) == 16  # the 16 Japanese activities, not 62 observations
    vessel = frame[frame["project_title"].str.contains("Philippine Coast Guard", na=False)].iloc[0]
    assert vessel["donor_code"] == 701 and vessel["recipient_code"] == 755
    assert vessel["recipient_name"] == "Philippines" and vessel["agency_name"].startswith("Japanese International")
    assert vessel["usd_commitment"] == pytest.approx(150.25)
    assert vessel["usd_disbursement"] == pytest.approx(12.5)
    assert vessel["sector_code"] == 210 and vessel["finance_type"] == 421


def test_sdmx_dd_is_chosen_over_totals_and_says_so():
    with pytest.warns(CRSLayoutWarning, match="kept the DD rows only"):
        frame = oda_data.read_crs(FIXTURES / "sdmx_labels.csv")
    with pytest.warns(CRSLayoutWarning, match="kept the DD rows only"):  # cache hit says it again
        oda_data.read_crs(FIXTURES / "sdmx_labels.csv")
    totals = oda_data.read_crs(FIXTURES / "sdmx_labels.csv", sdmx_rows="_T")
    # The aggregates hold the same money as the activities: never added together.
    assert totals["usd_disbursement"].sum() == pytest.approx(frame["usd_disbursement"].sum())
    assert totals["usd_disbursement"].sum() == pytest.approx(
        sum(expected_sdmx_totals("sdmx_labels.csv", md_dim="_T").values()))
    assert totals["project_title"].isna().all()


def test_sdmx_rows_must_be_a_known_choice():
    with pytest.raises(ValueError, match="sdmx_rows='total'.*auto, DD, _T"):
        oda_data.read_crs(FIXTURES / "sdmx_labels.csv", sdmx_rows="total")


@pytest.mark.shared_data
def test_real_purpose_summary_file_totals():
    if not REAL_SUMMARY.exists():
        pytest.skip("../shared/data absent: crs/crs_bilateral_by_purpose_2018_2020_sample.csv")
    expected: dict[tuple[int, int], float] = defaultdict(float)
    rows = 0
    with open(REAL_SUMMARY, encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            if not row["donor_code"]:
                continue  # the file's trailing ",,,," lines
            rows += 1
            expected[(int(row["donor_code"]), int(row["purpose_code"]))] += float(row["value"])
    frame = oda_data.read_crs(REAL_SUMMARY)
    assert len(frame) == rows == 1000
    CRS_SCHEMA.validate(frame)
    assert_totals_equal(totals_of(frame), dict(expected))
    assert frame["usd_commitment"].isna().all()
    japan = oda_data.read_crs(REAL_SUMMARY, donors=[701])
    assert len(japan) == 72
    assert set(japan["donor_name"]) == {"Japan"}


def test_unknown_columns_are_ignored_and_names_are_case_insensitive(tmp_path):
    source = tmp_path / "crs.txt"
    source.write_text(
        "YEAR|donorCODE|RecipientCode|PURPOSECODE|usd_DISBURSEMENT|BrandNewColumn\n"
        "2021|701|755|21040|1.5|x\n", encoding="utf-8")
    frame = oda_data.read_crs(source)
    assert frame.loc[0, ["year", "donor_code", "recipient_code", "purpose_code"]].tolist() == [2021, 701, 755, 21040]
    assert frame.loc[0, "usd_disbursement"] == 1.5
    assert pd.isna(frame.loc[0, "usd_commitment"])


def test_a_large_file_keeps_every_row(tmp_path):
    source = tmp_path / "many.txt"
    shutil.copy(FIXTURES / "bulk_2018_pipe_utf8.txt", source)
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    source.write_text(lines[0] + "".join(lines[1:]) * 2000, encoding="utf-8")
    frame = oda_data.read_crs(source)
    assert len(frame) == 24 * 2000
    expected = expected_bulk_totals("bulk_2018_pipe_utf8.txt")
    assert_totals_equal(totals_of(frame), {key: value * 2000 for key, value in expected.items()})
    # rows keep the file's order
    assert frame["project_title"].iloc[24:48].tolist() == frame["project_title"].iloc[:24].tolist()


def test_sdmx_rows_with_codes_the_tables_lack_are_kept_with_their_raw_code(tmp_path):
    header = ("DONOR,RECIPIENT,SECTOR,MEASURE,FLOW_TYPE,PRICE_BASE,MD_DIM,TIME_PERIOD,OBS_VALUE,UNIT_MULT,"
              "PROJECT_TITLE")
    rows = [f"JPN,{recipient},15210,100,D,V,DD,2020,{value},6,Police training"
            for recipient, value in (("PHL", 1.0), ("XX1_X", 2.0), ("XX2_X", 4.0), ("COK", 8.0))]
    source = tmp_path / "sdmx.csv"
    source.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    with pytest.warns(oda_data.crs.CRSCodeWarning, match=r"2 row\(s\) with 2 Data Explorer recipient code"):
        frame = oda_data.read_crs(source)
    # Two activities alike but for an unknown recipient stay two rows (none merged, none lost).
    assert len(frame) == 4 and frame["usd_disbursement"].sum() == pytest.approx(15.0)
    unknown = frame[frame["recipient_code"].isna()]
    assert sorted(unknown["recipient_raw"]) == ["XX1_X", "XX2_X"]
    assert frame.loc[frame["usd_disbursement"] == 8.0, "recipient_code"].iloc[0] == 831  # Cook Islands
