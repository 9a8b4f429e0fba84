"""The first read of a large bulk text file: answered from the file, cached in the background.

The same query must give the same frame either way, check every row the way a
conversion does, and leave a complete cache behind.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import pandas as pd
import pytest

import oda_data
from oda_data.crs import CRSFormatError, cache

from crs_testlib import FIXTURES, answer_first

BULK = FIXTURES / "bulk_2018_pipe_utf8.txt"
HEADER = "Year|DonorCode|RecipientCode|PurposeCode|ProjectTitle|LongDescription|USD_Disbursement"
PURPOSES = [15210, 16063, 21040, 22040, 15130]


@pytest.fixture
def large(monkeypatch):
    """Every text file counts as large; background conversions are joined and must succeed."""
    with answer_first(monkeypatch):
        yield


def write_rows(path, rows):
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def many_rows(count):
    """Rows over several Parquet row groups and DuckDB batches, codes cycling so every filter keeps some."""
    donors, purposes = [701, 4, 12, 302], [*PURPOSES, 11110, 12220]
    return [f"{2012 + n % 11}|{donors[n % 4]}|{[755, 645, 238][n % 3]}|{purposes[n % 7]}|Project {n}|"
            f"Description {n}{' coast guard patrol' if n % 13 == 0 else ''}|{n % 97}.25" for n in range(count)]


@pytest.mark.parametrize("query", [
    {},
    {"donors": [701]},
    {"donors": [701], "purpose_codes": [15210, 16063, 21040, 22040, 15130]},
    {"years": [2018, 2019], "recipients": [755]},
    {"themes": ["maritime_security", "counter_terrorism"]},
    {"donors": [701], "themes": "police_capacity", "columns": ["year", "theme_rule", "usd_disbursement"]},
    {"donors": []},
])
def test_the_answer_from_the_file_is_the_cached_answer(query, large):
    before = cache.STATE.stats["background"]
    answered = oda_data.read_crs(BULK, **query)
    assert cache.STATE.stats["background"] == before + 1  # answered from the file
    cache.wait_for_background()
    hits = cache.STATE.stats["hits"]
    cached = oda_data.read_crs(BULK, **query)
    assert cache.STATE.stats["hits"] > hits and cache.STATE.stats["background"] == before + 1
    pd.testing.assert_frame_equal(answered, cached)


@pytest.mark.parametrize("first", ["convert first", "answer first"])
def test_rows_keep_the_file_order_across_row_groups_and_in_lists(tmp_path, monkeypatch, first):
    # 150,000 rows: two Parquet row groups. DuckDB 2.0 runs an IN list of 5 codes as a join,
    # which returned these rows out of order until the query ordered them by file row number.
    rows = many_rows(150_000)
    source = write_rows(tmp_path / "crs.txt", rows)
    expected = [f"Project {n}" for n, row in enumerate(rows)
                if row.split("|")[1] in ("701", "4") and int(row.split("|")[3]) in PURPOSES]
    with answer_first(monkeypatch, first == "answer first"):
        for _ in range(2):  # the first read, then the cached one
            frame = oda_data.read_crs(source, donors=[701, 4], purpose_codes=PURPOSES)
            assert frame["project_title"].tolist() == expected
            cache.wait_for_background()


@pytest.mark.parametrize("row,message", [
    ("3000|4|755|11110|T|D|1", r"crs.txt line 1502: column 'Year': found '3000'; expected a year in 1960-2100"),
    ("2019|4|755|11110|T|D|1e309", r"crs.txt line 1502: column 'USD_Disbursement': found '1e309'; expected a finite"),
    ("2019|4|x|11110|T|D|1", r"crs.txt line 1502: column 'RecipientCode' must be numeric; found 'x'"),
    ("2019|4|755|11110|T|D|1|2", r"crs.txt line 1502: 8 fields where the header has 7"),
])
def test_every_row_is_checked_even_those_the_query_leaves_out(tmp_path, large, row, message):
    rows = many_rows(3000)
    rows[1500] = row  # donor 4, while the query asks for Japan
    with pytest.raises(CRSFormatError, match=message):
        oda_data.read_crs(write_rows(tmp_path / "crs.txt", rows), donors=[701])
    folder = cache.cache_dir()  # a fresh folder per test (conftest)
    assert not list(folder.glob("*.parquet")) and not list(folder.glob("*.tmp"))


def test_invalid_utf8_in_a_description_the_query_leaves_out_is_an_error(tmp_path, large):
    source = write_rows(tmp_path / "crs.txt", many_rows(3000))
    data = source.read_bytes().replace(b"Description 1500|", b"Descr\xe9ption 1500|")
    source.write_bytes(data)
    with pytest.raises(CRSFormatError, match=r"crs.txt: line 1502 is not UTF-8 text.*encoding='latin-1'"):
        oda_data.read_crs(source, donors=[701])


def test_an_unbalanced_quote_is_read_as_text_on_the_answer_and_on_every_cached_read(tmp_path, large):
    rows = many_rows(3000)
    rows[20] = '2019|701|755|21040|Project 20|"unbalanced: the OECD writes quotes as text|2.5'
    source = write_rows(tmp_path / "crs.txt", rows)
    for _ in range(2):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # '"' is an ordinary character in the OECD's files: nothing to note
            frame = oda_data.read_crs(source, donors=[701])
        assert '"unbalanced: the OECD writes quotes as text' in frame["long_description"].tolist()
        cache.wait_for_background()


def test_a_small_file_is_converted_first():
    before = cache.STATE.stats["background"]
    oda_data.read_crs(BULK, donors=[701])
    assert cache.STATE.stats["background"] == before


def test_a_code_missing_from_the_code_tables_goes_through_the_cache(large):
    # Checking such a code against the file needs the whole file's codes: the cache answers.
    before = cache.STATE.stats["background"]
    with pytest.raises(ValueError, match="99999"):
        oda_data.read_crs(BULK, purpose_codes=[99999])
    assert cache.STATE.stats["background"] == before


def test_a_failed_background_conversion_is_reported_and_tried_again(monkeypatch, large):
    real = cache._convert
    monkeypatch.setattr(cache, "_convert", lambda *args, **kwargs: (_ for _ in ()).throw(OSError("disk full")))
    oda_data.read_crs(BULK, donors=[701])
    with pytest.warns(cache.CRSCacheWarning, match=r"in the background failed \(disk full\); the next read converts it again"):
        cache.wait_for_background()
    monkeypatch.setattr(cache, "_convert", real)
    assert cache.first_read(BULK) is not None  # nothing cached
    frame = oda_data.read_crs(BULK, donors=[701])  # answered from the file again, converted again
    cache.wait_for_background()
    assert cache.first_read(BULK) is None and len(frame)


def test_a_script_that_ends_leaves_a_complete_cache():
    # The conversion thread is not a daemon: the interpreter waits for it at exit.
    script = textwrap.dedent(f"""
        from oda_data.crs import cache
        import oda_data
        cache.ANSWER_FIRST_BYTES = 0
        print(len(oda_data.read_crs({str(BULK)!r}, donors=[701])), cache.STATE.stats["background"])
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split()[1] == "1"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache.first_read(BULK) is None  # cached, and the cache checks out
    [entry] = cache.list_cache()
    assert entry.rows > 0 and entry.path.is_file()
