"""Bad input gets a CRSFormatError naming the file and what was wrong."""
from __future__ import annotations

import os
import re
import warnings
import zipfile

import pytest

import oda_data
from oda_data.crs import CRSFormatError

from crs_testlib import FIXTURES, answer_first


@pytest.fixture(autouse=True, params=["convert first", "answer first"])
def tmp_cache(request, tmp_path, monkeypatch):
    """Every test twice: a first read that converts, then answers; and one answered from the file."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("ODA_DATA_CACHE", str(folder))
    with answer_first(monkeypatch, request.param == "answer first"):
        yield folder


def test_error_is_a_value_error():
    assert issubclass(CRSFormatError, ValueError)


@pytest.mark.parametrize("name,message", [
    ("bad_empty.txt", r"bad_empty\.txt: the file is empty"),
    ("bad_not_crs.csv", r"bad_not_crs\.csv: not a CRS file.*found: name, age, city"),
    ("bad_missing_purpose.txt", r"bad_missing_purpose\.txt: missing required column\(s\) PurposeCode"),
    ("bad_amount.txt", r"bad_amount\.txt line 8: column 'USD_Disbursement' must be numeric; found 'n/a'"),
    ("bad_truncated.zip", r"bad_truncated\.zip: not a readable zip archive \(truncated or corrupt"),
])
def test_bad_files(name, message, tmp_cache):
    with pytest.raises(CRSFormatError, match=message):
        oda_data.read_crs(FIXTURES / name)
    # never a half-written cache file
    assert not list(tmp_cache.glob("*.parquet")) and not list(tmp_cache.glob("*.tmp"))


def test_bad_amount_line_is_the_real_line():
    lines = (FIXTURES / "bad_amount.txt").read_text(encoding="utf-8").splitlines()
    assert "|n/a|" in lines[8 - 1]


def test_zip_whose_member_data_is_truncated(tmp_path):
    # Keep the central directory, cut the compressed data: the zip opens but cannot be read.
    source = FIXTURES / "bulk_2019_utf16.zip"
    with zipfile.ZipFile(source) as archive:
        info = archive.infolist()[0]
    data = bytearray(source.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + 200:start + info.compress_size] = b"\0" * (info.compress_size - 200)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(bytes(data))
    with pytest.raises(CRSFormatError, match=re.escape(str(broken))):
        oda_data.read_crs(broken)


def test_zip_without_a_data_file(tmp_path):
    source = tmp_path / "readme_only.zip"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr("readme.pdf", b"%PDF")
    with pytest.raises(CRSFormatError, match=r"no \.txt or \.csv CRS file; members: \['readme.pdf'\]"):
        oda_data.read_crs(source)


def test_non_numeric_code(tmp_path):
    source = tmp_path / "crs.txt"
    source.write_text("Year|DonorCode|RecipientCode|PurposeCode|USD_Disbursement\n"
                      "2019|701|755|21040|1.0\n2019|JAPAN|755|21040|2.0\n", encoding="utf-8")
    with pytest.raises(CRSFormatError, match=r"crs.txt line 3: column 'DonorCode' must be numeric; found 'JAPAN'"):
        oda_data.read_crs(source)


def test_missing_amount_columns(tmp_path):
    source = tmp_path / "crs.txt"
    source.write_text("Year|DonorCode|RecipientCode|PurposeCode\n2019|701|755|21040\n", encoding="utf-8")
    with pytest.raises(CRSFormatError, match="missing required amount column: none of USD_Commitment"):
        oda_data.read_crs(source)


def test_sdmx_without_obs_value(tmp_path):
    source = tmp_path / "sdmx.csv"
    lines = (FIXTURES / "sdmx_codes.csv").read_text(encoding="utf-8").splitlines()
    source.write_text("\n".join(lines).replace("OBS_VALUE", "VALUE"), encoding="utf-8")
    with pytest.raises(CRSFormatError, match=r"sdmx.csv: missing required column\(s\) OBS_VALUE for the Data Explorer"):
        oda_data.read_crs(source)


def test_header_only_file_gives_an_empty_frame(tmp_path):
    source = tmp_path / "crs.txt"
    source.write_text("Year|DonorCode|RecipientCode|PurposeCode|USD_Disbursement\n", encoding="utf-8")
    assert len(oda_data.read_crs(source)) == 0


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.txt"):
        oda_data.read_crs(tmp_path / "nowhere.txt")


def test_unparseable_parquet(tmp_path):
    source = tmp_path / "cut.parquet"
    data = (FIXTURES / "bulk_full.parquet").read_bytes()
    source.write_bytes(data[: len(data) // 2])
    with pytest.raises(CRSFormatError, match="cut.parquet: unreadable Parquet file"):
        oda_data.read_crs(source)
    assert os.path.exists(source)


# --------------------------------------------------------------------------- no row is ever lost
HEADER = "Year|DonorCode|RecipientCode|PurposeCode|ProjectTitle|LongDescription|USD_Disbursement"


def write_rows(path, rows, header=HEADER, encoding="utf-8"):
    path.write_bytes(("\n".join([header, *rows]) + "\n").encode(encoding))
    return path


def many_rows(count=2000):
    return [f"2019|701|755|21040|Project {n}|Description {n}|{n % 7}.5" for n in range(count)]


def test_an_unbalanced_quote_at_the_start_of_a_description_loses_no_row(tmp_path):
    rows = many_rows()
    rows[18] = '2019|701|755|21040|Project 18|"Koban" police boxes and "community policing|1.5'
    rows[19] = '2019|701|755|21040|Project 19|"unbalanced: the OECD writes quotes as text|2.5'
    source = write_rows(tmp_path / "crs.txt", rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the OECD's way of writing quotes needs no note
        frame = oda_data.read_crs(source)
    assert len(frame) == 2000
    assert frame.loc[19, "long_description"] == '"unbalanced: the OECD writes quotes as text'
    expected = sum(n % 7 + 0.5 for n in range(2000) if n not in (18, 19)) + 1.5 + 2.5
    assert frame["usd_disbursement"].sum() == pytest.approx(expected)


def test_a_file_mixing_real_quoting_and_an_unbalanced_quote_is_refused_with_its_line(tmp_path):
    rows = many_rows(50)
    rows[3] = '2019|701|755|21040|"Title with | a pipe"|quoted properly|1'
    rows[9] = '2019|701|755|21040|Title|"unbalanced|1'
    source = write_rows(tmp_path / "crs.txt", rows)
    with pytest.raises(CRSFormatError, match=r"crs.txt line 11: .*(unterminated|Expected Number).*no row is skipped"):
        oda_data.read_crs(source)


@pytest.mark.parametrize("extra", ["extra|1|2", "extra|1|", "extra||"])
def test_a_line_with_too_many_fields_is_an_error_with_its_line(tmp_path, extra):
    # DuckDB alone takes one empty field too many for a trailing delimiter: "|" at the end is checked too.
    rows = many_rows(30)
    rows[24] = f"2019|701|755|21040|Title|{extra}"
    with pytest.raises(CRSFormatError, match=r"crs.txt line 26: 8 fields where the header has 7; an unescaped '\|'"):
        oda_data.read_crs(write_rows(tmp_path / "crs.txt", rows))


def test_a_line_with_too_few_fields_is_an_error_with_its_line(tmp_path):
    rows = many_rows(30)
    rows[7] = "2019|701|755|21040|Title|1"
    with pytest.raises(CRSFormatError, match=r"crs.txt line 9: 6 fields where the header has 7"):
        oda_data.read_crs(write_rows(tmp_path / "crs.txt", rows))


def test_every_data_member_of_a_zip_is_read(tmp_path):
    source = tmp_path / "two.zip"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr("CRS 2019 data.txt", "\n".join([HEADER, *many_rows(10)]) + "\n")
        archive.writestr("readme.pdf", b"%PDF")
        archive.writestr("CRS 2020 data.txt", "\n".join([HEADER, *many_rows(5)]).replace("2019|", "2020|"))
    frame = oda_data.read_crs(source)
    assert frame["year"].value_counts().to_dict() == {2019: 10, 2020: 5}


def test_a_zip_whose_data_members_differ_names_them(tmp_path):
    source = tmp_path / "two.zip"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr("a.txt", "\n".join([HEADER, *many_rows(3)]))
        archive.writestr("b.txt", "Year|DonorCode|RecipientCode|PurposeCode|USD_Commitment\n2019|701|755|21040|1\n")
    with pytest.raises(CRSFormatError, match=r"2 data files with different columns \('a.txt': .*'b.txt'"):
        oda_data.read_crs(source)


def test_a_bad_value_in_the_second_zip_member_names_that_member_and_line(tmp_path):
    source = tmp_path / "two.zip"
    bad = many_rows(6)
    bad[3] = "2019|701|755|21040|x|y|n/a"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr("a.txt", "\n".join([HEADER, *many_rows(10)]) + "\n")
        archive.writestr("b.txt", "\n".join([HEADER, *bad]) + "\n")
    with pytest.raises(CRSFormatError, match=r"two.zip \(member 'b.txt'\) line 5: column 'USD_Disbursement'"):
        oda_data.read_crs(source)


def test_duplicated_columns_are_an_error(tmp_path):
    source = write_rows(tmp_path / "crs.txt", ["2019|701|755|21040|t|d|1|2"], header=HEADER + "|usd_disbursement")
    with pytest.raises(CRSFormatError, match=r"crs.txt: line 1 \(header\): column 'USD_Disbursement' appears 2 "
                                             r"times \(columns 7, 8"):
        oda_data.read_crs(source)


@pytest.mark.parametrize("cell,column,expected", [
    ("2019|701|755|21040|t|d|1e309", "USD_Disbursement", "a finite amount"),
    ("2019|701|755|21040|t|d|inf", "USD_Disbursement", "a finite amount"),
    ("2019|701|755|21040|t|d|NaN", "USD_Disbursement", "a finite amount"),
    ("0|701|755|21040|t|d|1", "Year", "a year in 1960-2100"),
    ("3000|701|755|21040|t|d|1", "Year", "a year in 1960-2100"),
    ("2019|701.5|755|21040|t|d|1", "DonorCode", "a whole code"),
    ("2019|701|-755|21040|t|d|1", "RecipientCode", "a whole code"),
    ("2019|701|755|2104000|t|d|1", "PurposeCode", "a whole code in 10000-99999"),
])
def test_out_of_range_values_name_column_and_line(tmp_path, cell, column, expected, tmp_cache):
    rows = many_rows(40)
    rows[30] = cell
    with pytest.raises(CRSFormatError, match=rf"crs.txt line 32: column '{column}': found .*; expected {expected}"):
        oda_data.read_crs(write_rows(tmp_path / "crs.txt", rows))
    assert not [p for p in tmp_cache.iterdir() if p.name != ".work"]


def test_the_line_counts_line_breaks_inside_quoted_descriptions(tmp_path):
    rows = many_rows(10)
    rows[2] = '2019|701|755|21040|t|"two\nlines"|1'
    rows[6] = "2019|701|755|21040|t|d|inf"
    with pytest.raises(CRSFormatError, match=r"crs.txt line 9: column 'USD_Disbursement'"):
        oda_data.read_crs(write_rows(tmp_path / "crs.txt", rows))


@pytest.mark.parametrize("value", [float("inf"), float("-inf")])
def test_non_finite_amounts_in_parquet_are_errors(tmp_path, value):  # NaN is NA (test_crs_hostile.py)
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = tmp_path / "crs.parquet"
    pq.write_table(pa.table({"Year": [2019, 2019, 2019], "DonorCode": [701] * 3, "RecipientCode": [755] * 3,
                             "PurposeCode": [21040] * 3, "USD_Disbursement": [1.0, value, 2.0]}), source)
    with pytest.raises(CRSFormatError, match=r"crs.parquet: row 2: column 'USD_Disbursement': found .*finite"):
        oda_data.read_crs(source)


def test_latin1_bytes_name_the_line_and_the_encoding_to_pass(tmp_path):
    rows = many_rows(20)
    rows[11] = "2019|701|755|21040|Côte d'Ivoire: sécurité|d|1"
    source = write_rows(tmp_path / "crs.txt", rows, encoding="latin-1")
    with pytest.raises(CRSFormatError, match=r"crs.txt: line 13 is not UTF-8 text.*encoding='latin-1'"):
        oda_data.read_crs(source)
    frame = oda_data.read_crs(source, encoding="latin-1")
    assert frame.loc[11, "project_title"] == "Côte d'Ivoire: sécurité" and len(frame) == 20


def test_an_unknown_encoding_name_is_a_clear_error(tmp_path):
    source = write_rows(tmp_path / "crs.txt", many_rows(2))
    with pytest.raises(ValueError, match=r"encoding='klingon': not a known text encoding"):
        oda_data.read_crs(source, encoding="klingon")


@pytest.mark.parametrize("name", ["crs.txt.gz", "crs.gzip"])
def test_gzip_is_read(tmp_path, name):
    import gzip

    text = "\n".join([HEADER, *many_rows(100)]) + "\n"
    source = tmp_path / name
    source.write_bytes(gzip.compress(text.encode("utf-8")))
    frame = oda_data.read_crs(source)
    assert len(frame) == 100 and frame.loc[99, "project_title"] == "Project 99"


def test_gzip_utf16_is_read(tmp_path):
    import gzip

    source = tmp_path / "crs.txt.gz"
    source.write_bytes(gzip.compress(("\n".join([HEADER, *many_rows(7)]) + "\n").encode("utf-16")))
    assert len(oda_data.read_crs(source)) == 7


def test_ansi_escapes_in_a_header_are_escaped_in_the_message(tmp_path):
    source = tmp_path / "crs.txt"
    source.write_text("name\x1b[2J\x1b[31m|age\u202eforged\n1|2\n", encoding="utf-8")
    with pytest.raises(CRSFormatError) as error:
        oda_data.read_crs(source)
    message = str(error.value)
    assert "\x1b" not in message and "\u202e" not in message
    assert "name\\x1b[2J\\x1b[31m" in message and "age\\u202eforged" in message


def test_a_trailing_delimiter_on_every_line_is_read(tmp_path):
    rows = [row + "|" for row in many_rows(12)]
    frame = oda_data.read_crs(write_rows(tmp_path / "crs.txt", rows, header=HEADER + "|"))
    assert len(frame) == 12 and frame.loc[11, "usd_disbursement"] == 11 % 7 + 0.5


@pytest.mark.parametrize("cell,message", [
    ("3000", r"column 'year' must hold values in 1960-2100; found '3000' at data row 2 \(line 3\)"),
    ("inf", r"column 'year' must hold numbers; found 'inf'"),
])
def test_summary_files_check_their_values_too(tmp_path, cell, message):
    source = tmp_path / "summary.csv"
    source.write_text("year,donor_code,recipient_code,purpose_code,value\n2019,701,755,15210,1.5\n"
                      f"{cell},701,755,15210,2.5\n", encoding="utf-8")
    with pytest.raises(CRSFormatError, match=message):
        oda_data.read_crs(source)


def test_ingest_of_an_unbalanced_quote_reads_every_row(tmp_path, capsys):
    from oda_data.cli import main

    rows = many_rows(2000)
    rows[19] = '2019|701|755|21040|Project 19|"unbalanced|2.5'
    source = write_rows(tmp_path / "crs.txt", rows)
    assert main(["ingest", str(source), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "(2000 rows, layout bulk_text)" in captured.out and captured.err == ""
