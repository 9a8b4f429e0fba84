"""read_crs filters: DAC codes, years, themes, columns; unknown values are clear errors."""
from __future__ import annotations

import numpy as np
import pytest

import oda_data

from crs_testlib import FIXTURES, answer_first, bulk_text_rows

BULK = FIXTURES / "bulk_2018_pipe_utf8.txt"


@pytest.fixture(autouse=True, params=["convert first", "answer first"])
def tmp_cache(request, tmp_path, monkeypatch):
    """Every test twice: a first read that converts, then answers; and one answered from the file."""
    monkeypatch.setenv("ODA_DATA_CACHE", str(tmp_path / "cache"))
    with answer_first(monkeypatch, request.param == "answer first"):
        yield


def expected_rows(**conditions):
    rows = bulk_text_rows(BULK.name)
    return [row for row in rows if all(row[key] in values for key, values in conditions.items())]


def test_donor_filter_keeps_japan_only():
    frame = oda_data.read_crs(BULK, donors=[701])
    assert len(frame) == len(expected_rows(donorcode={"701"})) == 16
    assert set(frame["donor_code"]) == {701}
    assert oda_data.read_crs(BULK, donors=701).equals(frame)


def test_numpy_integers_are_codes_and_years():
    # Codes and years taken from a frame are numpy integers: the same filter as Python ints.
    frame = oda_data.read_crs(BULK, donors=[701], years=[2018])
    assert len(frame) > 0
    assert oda_data.read_crs(BULK, donors=np.array([701]), years=np.array([2018])).equals(frame)
    assert oda_data.read_crs(BULK, donors=np.int64(701), years=np.int32(2018)).equals(frame)


def test_recipient_year_and_purpose_filters_combine():
    frame = oda_data.read_crs(BULK, recipients=[755, 769], years=[2018, 2019], purpose_codes=[21040])
    expected = expected_rows(recipientcode={"755", "769"}, year={"2018", "2019"}, purposecode={"21040"})
    assert sorted(frame["project_title"]) == sorted(row["projecttitle"] for row in expected)
    assert len(frame) == 3


def test_known_code_without_rows_selects_nothing():
    assert len(oda_data.read_crs(BULK, donors=[8])) == 0  # Norway: a real donor, absent here


def test_code_absent_from_the_table_but_present_in_the_file_is_fine():
    # 862 Papua New Guinea is in the file; 11110 is not in the purpose table (security codes only).
    assert len(oda_data.read_crs(BULK, purpose_codes=[11110])) == 1


@pytest.mark.parametrize("kwargs,message", [
    ({"donors": [7010]}, r"donors: unknown donor code\(s\) \[7010\].*701 \(Japan\)"),
    ({"recipients": [99999]}, r"recipients: unknown recipient code\(s\) \[99999\]"),
    ({"purpose_codes": [12345]}, r"purpose_codes: unknown purpose code\(s\) \[12345\]"),
    ({"donors": ["JPN"]}, r"donors: 'JPN' is not a DAC numeric code.*did you mean 701\?"),
    ({"recipients": ["PHL"]}, r"did you mean 755\?"),
    ({"years": ["last year"]}, r"years: 'last year' is not a year"),
    ({"years": [1850]}, r"years: 1850 is outside"),
    ({"years": 2018.5}, r"years: 2018.5 is not a year"),
    ({"donors": 701.0}, r"donors: 701.0 is not a DAC numeric code"),
    ({"donors": [True]}, r"donors: True is not a DAC numeric code"),
    ({"themes": ["piracy"]}, r"unknown theme 'piracy'; expected one of: police_capacity"),
    ({"columns": ["amount"]}, r"columns: unknown column\(s\) \['amount'\]; expected some of: year"),
])
def test_unknown_filter_values_are_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        oda_data.read_crs(BULK, **kwargs)


def test_columns_are_pushed_down_and_ordered_as_asked():
    frame = oda_data.read_crs(BULK, columns=["usd_disbursement", "year"], donors=[701], years=2020)
    assert list(frame.columns) == ["usd_disbursement", "year"]
    expected = sum(float(r["usd_disbursement"] or 0) for r in expected_rows(donorcode={"701"}, year={"2020"}))
    assert frame["usd_disbursement"].sum() == pytest.approx(expected)


def test_themes_filter_tags_and_keeps_matching_rows():
    frame = oda_data.read_crs(BULK, themes=["maritime_security"], donors=[701])
    assert sorted(frame["theme_rule"]) == [
        "keyword:coast guard+purpose:15210",
        "keyword:coast guard+purpose:21040",
        "keyword:patrol vessels+purpose:21040",  # the first keyword in the text
    ]
    assert set(frame["theme"]) == {"maritime_security"}
    assert frame["usd_commitment"].sum() == pytest.approx(150.25 + 4.8 + 0.95)


def test_several_themes_and_theme_columns_on_request():
    frame = oda_data.read_crs(BULK, themes=["drug_trafficking", "cyberspace"])
    assert dict(frame["theme"].value_counts()) == {"drug_trafficking": 2, "cyberspace": 2}
    tagged = oda_data.read_crs(BULK, columns=["purpose_code", "theme"])
    assert list(tagged.columns) == ["purpose_code", "theme"]
    assert tagged["theme"].notna().sum() == 19


def test_every_official_purpose_code_is_accepted():
    # Governance codes absent from the old 16-code table: valid, so no error (and no rows here).
    codes = [15111, 15131, 15150, 15151, 15152, 15153, 15160, 15170, 15185, 15196]
    assert len(oda_data.read_crs(BULK, purpose_codes=codes)) == 0


@pytest.mark.parametrize("parameter", ["donors", "recipients", "purpose_codes", "years", "themes"])
def test_an_empty_list_selects_nothing(parameter):
    assert len(oda_data.read_crs(BULK, **{parameter: []})) == 0
