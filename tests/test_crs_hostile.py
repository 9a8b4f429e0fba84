"""Issue 14: the inputs written to break read_crs, each exact or refused in one line naming file and line."""
from __future__ import annotations

import gzip
import shutil
import zipfile
from decimal import Decimal

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import oda_data
from oda_data.cli import main
from oda_data.crs import CRSFormatError, cache
from oda_data.crs.schema import BULK_2018_COLUMNS

HEADER = "Year|DonorCode|RecipientCode|PurposeCode|ProjectTitle|LongDescription|USD_Disbursement"


def write_rows(path, rows, header=HEADER):
    path.write_bytes(("\n".join([header, *rows]) + "\n").encode("utf-8"))
    return path


def rows(count, year=2019):
    return [f"{year}|701|755|21040|Project {n}|Description {n}|{n % 7}.5" for n in range(count)]


def total(count):
    return sum(n % 7 + 0.5 for n in range(count))


# --------------------------------------------------------------------------- quotes
@pytest.mark.parametrize("count,second", [(5000, 4000), (300, 13)])
def test_stray_quotes_never_merge_records(tmp_path, count, second):
    lines = rows(count)
    lines[10] = '2019|701|755|21040|Project 10|"Truncated descr|0.5'  # line 12: opens a quote
    lines[second] = f'2019|701|755|21040|Project {second}|Water pipes of 12"|{second % 7}.5'  # an inch mark
    frame = oda_data.read_crs(write_rows(tmp_path / "crs.txt", lines))
    assert len(frame) == count and frame["usd_disbursement"].sum() == pytest.approx(total(count) - 10 % 7)
    assert frame.loc[10, "long_description"] == '"Truncated descr'


def test_a_quote_that_would_swallow_whole_records_is_refused_naming_both_lines(tmp_path):
    lines = rows(30)
    lines[2] = '2019|701|755|21040|"A title with | a pipe"|quoted|1'  # field-enclosing quotes in use
    lines[10] = '2019|701|755|21040|T|"opens here|1'
    lines[14] = '2019|701|755|21040|T|closes here"|1'
    with pytest.raises(CRSFormatError, match=r"crs.txt line 12: a quote opens a field that closes only at line 16, "
                                             r"swallowing line 13"):
        oda_data.read_crs(write_rows(tmp_path / "crs.txt", lines))


def test_quoted_fields_and_an_inch_mark_inside_an_unquoted_field_read_every_row(tmp_path):
    lines = rows(3000)
    lines[2] = '2019|701|755|21040|"A title with | a pipe"|"a ""quoted"" text"|1'  # field-enclosing quotes in use
    lines[2500] = '2019|701|755|21040|Project 2500|Water pipes of 12" diameter|1'  # a quote inside a field is text
    frame = oda_data.read_crs(write_rows(tmp_path / "crs.txt", lines))
    assert len(frame) == 3000 and frame.loc[2, "long_description"] == 'a "quoted" text'
    assert frame.loc[2500, "long_description"] == 'Water pipes of 12" diameter'


def test_a_control_byte_in_a_text_is_read_as_text(tmp_path):
    lines = rows(300)
    lines[40] = "2019|701|755|21040|Project 40|Control \x01 byte|5.5"  # the byte the reader keeps lines whole with
    frame = oda_data.read_crs(write_rows(tmp_path / "crs.txt", lines))
    assert len(frame) == 300 and frame.loc[40, "long_description"] == "Control \x01 byte"
    assert frame["usd_disbursement"].sum() == pytest.approx(total(300))


# --------------------------------------------------------------------------- a path is a path
@pytest.mark.parametrize("name,other", [("CRS 2018 [v2].txt", "CRS 2018 2.txt"), ("CRS?.txt", "CRS1.txt"),
                                        ("CRS*.txt", "CRSx.txt"), ("CRS {a,b}.txt", "CRS a.txt")])
@pytest.mark.parametrize("kind", ["text", "gzip", "parquet"])
def test_a_path_is_never_a_pattern(tmp_path, name, other, kind):
    write_rows(tmp_path / "real.txt", rows(3))
    write_rows(tmp_path / "decoy.txt", rows(400, year=2001))
    if kind == "gzip":
        name, other = name + ".gz", other + ".gz"
        for path, source in ((name, "real.txt"), (other, "decoy.txt")):
            (tmp_path / path).write_bytes(gzip.compress((tmp_path / source).read_bytes()))
    elif kind == "parquet":
        name, other = name.replace(".txt", ".parquet"), other.replace(".txt", ".parquet")
        for path, count, year in ((name, 3, 2019), (other, 400, 2001)):
            pq.write_table(pa.table({"Year": [year] * count, "DonorCode": [701] * count, "RecipientCode": [755] * count,
                                     "PurposeCode": [21040] * count, "USD_Disbursement": [1.0] * count}), tmp_path / path)
    else:
        shutil.copy(tmp_path / "real.txt", tmp_path / name)
        shutil.copy(tmp_path / "decoy.txt", tmp_path / other)
    frame = oda_data.read_crs(tmp_path / name)
    assert len(frame) == 3 and set(frame["year"]) == {2019}
    assert len(oda_data.read_crs(tmp_path / other)) == 400  # and the other file keeps its own cache


# --------------------------------------------------------------------------- field counts
def _bulk_line(**cells):
    values = {"Year": "2019", "DonorCode": "701", "RecipientCode": "755", "PurposeCode": "15210",
              "USD_Disbursement": "1.5", "ChannelName": "UNODC", "LongDescription": "Counter-terrorism training",
              "CompletionDate": "31/12/2019", **cells}
    return "|".join(values.get(name, "") for name in BULK_2018_COLUMNS)


@pytest.mark.parametrize("column,text", [("ChannelName", "UNODC | United Nations Office on Drugs and Crime"),
                                         ("LongDescription", "Counter-terrorism | training")])
def test_an_unescaped_delimiter_is_an_error_naming_its_line(tmp_path, column, text):
    lines = [_bulk_line() for _ in range(20)]
    lines[6] = _bulk_line(**{column: text})
    source = write_rows(tmp_path / "crs.txt", lines, header="|".join(BULK_2018_COLUMNS))
    with pytest.raises(CRSFormatError, match=rf"crs.txt line 8: {len(BULK_2018_COLUMNS) + 1} fields where the header "
                                             rf"has {len(BULK_2018_COLUMNS)}"):
        oda_data.read_crs(source)


# --------------------------------------------------------------------------- compressed streams
def test_a_flipped_digit_in_a_gzip_file_fails_its_crc(tmp_path):
    data = bytearray(gzip.compress(("\n".join([HEADER, *rows(50)]) + "\n").encode(), compresslevel=0))
    position = data.index(b"Project 11|Description 11|4.5") + len("Project 11|Description 11|")
    data[position] = ord("9")  # 4.5 -> 9.5, stored (uncompressed) so the deflate stream stays valid
    source = tmp_path / "crs.txt.gz"
    source.write_bytes(bytes(data))
    with pytest.raises(CRSFormatError, match=r"crs.txt.gz: not a readable gzip file .*CRC"):
        oda_data.read_crs(source)


@pytest.mark.parametrize("layout", ["bulk", "sdmx"])
def test_a_truncated_gzip_is_one_line_from_read_crs_and_ingest(tmp_path, layout, capsys):
    text = ("\n".join([HEADER, *rows(3000)]) if layout == "bulk" else (
        "DATAFLOW,DONOR,RECIPIENT,SECTOR,FLOW_TYPE,TIME_PERIOD,OBS_VALUE\n"
        + "\n".join(f"DSD_CRS@DF_CRS,JPN,PHL,15210,D,2019,{n}" for n in range(3000)))) + "\n"
    data = gzip.compress(text.encode())
    source = tmp_path / "crs.csv.gz"
    source.write_bytes(data[: len(data) // 2])
    with pytest.raises(CRSFormatError, match=r"crs.csv.gz: not a readable gzip file \(truncated"):
        oda_data.read_crs(source)
    assert main(["ingest", str(source), "--quiet"]) == 1
    captured = capsys.readouterr()
    assert len(captured.err.strip().splitlines()) == 1 and "Traceback" not in captured.err


@pytest.mark.parametrize("order", [("utf-8", "utf-16"), ("utf-16", "utf-8")])
def test_zip_members_of_different_encodings_name_both(tmp_path, order):
    source = tmp_path / "two.zip"
    with zipfile.ZipFile(source, "w") as archive:
        for name, encoding in zip(("a.txt", "b.txt"), order):
            archive.writestr(name, ("\n".join([HEADER, *rows(5)]) + "\n").encode(encoding))
    with pytest.raises(CRSFormatError, match=rf"two.zip: zip member 'a.txt' is {order[0]}.* member 'b.txt' is "
                                             rf"{order[1]}"):
        oda_data.read_crs(source)


# --------------------------------------------------------------------------- Data Explorer
SDMX = "DATAFLOW,DONOR,RECIPIENT,SECTOR,FLOW_TYPE,PRICE_BASE,MD_DIM,TIME_PERIOD,OBS_VALUE"


@pytest.mark.parametrize("row,message", [
    ("DSD_CRS@DF_CRS,JPN,PHL,15210,D,,_T,2019,1000", r"column 'PRICE_BASE' must be one of V, Q .*found None at data row 51 \(line 52\)"),
    ("DSD_CRS@DF_CRS,JPN,PHL,15210,E,V,_T,2019,1000", r"column 'FLOW_TYPE' must be one of C, D .*found 'E' at data row 51"),
    ("DSD_CRS@DF_CRS,JPN,PHL,15210,D,V,,2019,1000", r"column 'MD_DIM' must be one of DD, _T .*found None at data row 51"),
])
def test_no_data_explorer_observation_vanishes(tmp_path, row, message):
    lines = [f"DSD_CRS@DF_CRS,JPN,PHL,15210,D,V,_T,{2000 + n % 20},1" for n in range(50)]
    source = tmp_path / "de.csv"
    source.write_text("\n".join([SDMX, *lines, row]) + "\n", encoding="utf-8")
    with pytest.raises(CRSFormatError, match=message):
        oda_data.read_crs(source)


# --------------------------------------------------------------------------- bulk Parquet types
def _parquet(tmp_path, **columns):
    base = {"Year": pa.array([2019, 2019, 2019], pa.int64()), "DonorCode": pa.array([701] * 3, pa.int32()),
            "RecipientCode": pa.array([755] * 3, pa.int16()), "PurposeCode": pa.array([15210] * 3, pa.int64()),
            "USD_Disbursement": pa.array([1.0, 2.0, 3.0])}
    path = tmp_path / "crs.parquet"
    pq.write_table(pa.table({**base, **columns}), path)
    return path


@pytest.mark.parametrize("name,array,expected", [
    ("ChannelCode", pa.array(["", "", "41116"]), [None, None, 41116]),
    ("ChannelCode", pa.array(["41116", " 41116 ", None]).dictionary_encode(), [41116, 41116, None]),
    ("ChannelCode", pa.nulls(3), [None, None, None]),
    ("ChannelCode", pa.array([41116.0, float("nan"), None]), [41116, None, None]),
    ("USD_Disbursement", pa.array([1.5, float("nan"), 2.0]), [1.5, None, 2.0]),
    ("USD_Disbursement", pa.array(["1.5", "", "2"]), [1.5, None, 2.0]),
    ("USD_Disbursement", pa.array([Decimal("1.50"), Decimal("0"), Decimal("2.00")], pa.decimal128(10, 2)), [1.5, 0.0, 2.0]),
    ("Year", pa.array(["2019", "2020", "2021"]), [2019, 2020, 2021]),
])
def test_bulk_parquet_columns_of_any_physical_type(tmp_path, name, array, expected):
    column = {"ChannelCode": "channel_code", "USD_Disbursement": "usd_disbursement", "Year": "year"}[name]
    frame = oda_data.read_crs(_parquet(tmp_path, **{name: array}))
    got = [None if value is None or value != value else value
           for value in frame[column].astype(object).where(frame[column].notna(), None)]
    assert [None if value is None else pytest.approx(value) for value in got] == expected


def test_a_text_that_is_no_number_names_column_and_row(tmp_path, capsys):
    source = _parquet(tmp_path, ChannelCode=pa.array(["41116", "UNODC", ""]))
    with pytest.raises(CRSFormatError, match=r"crs.parquet: row 2: column 'ChannelCode' must be numeric; found 'UNODC'"):
        oda_data.read_crs(source)
    assert main(["ingest", str(source), "--quiet"]) == 1
    assert "Traceback" not in capsys.readouterr().err


# --------------------------------------------------------------------------- smaller cases
def test_a_row_with_a_title_and_recipient_only_is_kept_in_bulk_and_summary(tmp_path):
    lines = rows(29) + ["||755||A title and a recipient, nothing else||"]
    frame = oda_data.read_crs(write_rows(tmp_path / "crs.txt", lines))
    assert len(frame) == 30 and frame.loc[29, "project_title"] == "A title and a recipient, nothing else"
    assert frame["year"].isna().sum() == 1
    summary = tmp_path / "summary.csv"
    summary.write_text("year,donor_code,recipient_code,purpose_code,project_title,value\n"
                       + "".join(f"2019,701,755,15210,p{n},1\n" for n in range(29)) + ",,755,,a title,\n,,,,,\n",
                       encoding="utf-8")
    assert len(oda_data.read_crs(summary)) == 30  # the all-empty line is no row


def test_one_cache_file_per_source_whatever_the_encoding_named(tmp_path):
    source = write_rows(tmp_path / "crs.txt", rows(479))
    for encoding in (None, "utf-8", "UTF8", "utf-8-sig"):
        oda_data.read_crs(source, encoding=encoding)
    folder = cache.cache_dir()
    assert len(list(folder.glob("*.parquet"))) == 1
    count = duckdb.sql(f"SELECT count(*) FROM read_parquet('{folder}/*.parquet') WHERE donor_code = 701").fetchall()
    assert count == [(479,)]


def test_the_cache_folder_is_a_parquet_dataset(tmp_path):
    oda_data.read_crs(write_rows(tmp_path / "a.txt", rows(5)))
    oda_data.read_crs(write_rows(tmp_path / "b.txt", rows(7)))
    table = ds.dataset(cache.cache_dir(), format="parquet").to_table(filter=ds.field("donor_code") == 701)
    assert table.num_rows == 12


def test_columns_empty_means_no_columns(tmp_path):
    source = write_rows(tmp_path / "crs.txt", rows(9))
    frame = oda_data.read_crs(source, columns=[])
    assert frame.shape == (9, 0)
    assert oda_data.read_crs(source, donors=[]).shape[0] == 0


def test_a_killed_conversion_leaves_nothing_behind(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    source = write_rows(tmp_path / "crs.txt", rows(400_000))
    folder = cache.cache_dir()
    child = subprocess.Popen([sys.executable, "-m", "oda_data.cli", "ingest", str(source), "--quiet"],
                             env={**os.environ, "ODA_DATA_CACHE": str(folder)})
    deadline = time.monotonic() + 60
    while child.poll() is None and time.monotonic() < deadline and not list((folder / ".work").glob("*.tmp")):
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    frame = oda_data.read_crs(source, donors=[701])
    assert len(frame) == 400_000
    names = [p.name for p in folder.iterdir() if p.name != ".work"]
    assert all(n.endswith(".parquet") or n.startswith("_") for n in names), names
    assert cache.clear_cache() == 1
    assert [p.name for p in folder.iterdir()] == [".work"] and all(
        p.name.endswith(".lock") for p in (folder / ".work").iterdir())
