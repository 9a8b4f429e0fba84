"""Bad input gets a CRSFormatError naming the file and what was wrong."""
from __future__ import annotations

import os
import re
import zipfile

import pytest

import oda_data
from oda_data.crs import CRSFormatError

from crs_testlib import FIXTURES


@pytest.fixture(autouse=True)
def tmp_cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("ODA_DATA_CACHE", str(folder))
    return folder


def test_error_is_a_value_error():
    assert issubclass(CRSFormatError, ValueError)


@pytest.mark.parametrize("name,message", [
    ("bad_empty.txt", r"bad_empty\.txt: the file is empty"),
    ("bad_not_crs.csv", r"bad_not_crs\.csv: not a CRS file.*found: name, age, city"),
    ("bad_missing_purpose.txt", r"bad_missing_purpose\.txt: missing required column\(s\) PurposeCode"),
    ("bad_amount.txt", r"bad_amount\.txt: column 'USD_Disbursement' must be numeric; found 'n/a' "
                       r"at data row 7 \(line 8\)"),
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
    with pytest.raises(CRSFormatError, match=r"column 'DonorCode' must be numeric; found 'JAPAN' at data row 2 \(line 3\)"):
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
