"""The cache is a plain Parquet dataset: any tool reads it, themes inline, same answers as reading everything."""
from __future__ import annotations

import csv
import os

import duckdb
import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import oda_data
from oda_data.crs import CANONICAL_COLUMNS, cache

from crs_testlib import FIXTURES, run_in_two_processes

DONORS = (701, 4, 302, 12, 801)
TAGGED_AND_ALL = [*CANONICAL_COLUMNS, "theme", "theme_rule"]


def write_many_rows(path, copies: int = 100) -> list[dict[str, str]]:
    """A bulk text file of ``copies`` x the 24 fixture rows, with donors, years and titles varied."""
    with open(FIXTURES / "bulk_2018_pipe_utf8.txt", encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="|")
        header, rows = reader.fieldnames, list(reader)
    written = []
    for copy in range(copies):
        for position, row in enumerate(rows):
            row = dict(row)
            row["DonorCode"] = str(DONORS[(copy + position) % len(DONORS)])
            row["Year"] = str(2012 + (copy * 7 + position) % 11)
            if row["ProjectTitle"] and copy % 5:
                row["ProjectTitle"] = f"{row['ProjectTitle']} [{copy}]"
            written.append(row)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, delimiter="|", lineterminator="\n")
        writer.writeheader()
        writer.writerows(written)
    return written


pytestmark = pytest.mark.usefixtures("tmp_cache")  # every test with its own cache folder (conftest.py)


@pytest.fixture
def many(tmp_path):
    path = tmp_path / "many.txt"
    return path, write_many_rows(path)


def full_tagged(path) -> pd.DataFrame:
    """Every row, tagged by tag_themes after the read (the reference the cache must equal)."""
    return oda_data.tag_themes(oda_data.read_crs(path))


def test_cached_themes_equal_tag_themes_on_the_same_rows(many):
    path, _ = many
    stored = oda_data.read_crs(path, columns=TAGGED_AND_ALL)
    pd.testing.assert_frame_equal(stored, full_tagged(path))
    counts = stored["theme"].value_counts()
    assert len(counts) >= 5 and stored["theme"].isna().sum() > 0  # a real mix, not all one thing


def test_rows_come_back_in_source_order(many):
    path, rows = many
    frame = oda_data.read_crs(path)
    assert len(frame) == len(rows) == 2400
    assert [None if pd.isna(t) else t for t in frame["project_title"]] == [r["ProjectTitle"] or None for r in rows]
    assert frame["donor_code"].tolist() == [int(row["DonorCode"]) for row in rows]
    japan = oda_data.read_crs(path, donors=[701])
    assert japan["year"].tolist() == [int(r["Year"]) for r in rows if r["DonorCode"] == "701"]


def test_the_cache_is_plain_parquet_that_other_tools_read(many):
    path, rows = many
    expected = oda_data.read_crs(path, columns=TAGGED_AND_ALL)
    cached = cache.ingest(path, progress=False)
    # pyarrow.dataset and DuckDB read the file as it is: same rows, themes inline.
    dataset = ds.dataset(cached, format="parquet").to_table(filter=ds.field("donor_code") == 701)
    assert dataset.num_rows == (expected["donor_code"] == 701).sum()
    themes = duckdb.sql(f"SELECT theme, count(*) FROM read_parquet('{cached}') WHERE theme IS NOT NULL "
                        "GROUP BY theme").fetchall()
    assert dict(themes) == expected["theme"].value_counts().to_dict()
    metadata = pq.read_metadata(cached)
    assert metadata.num_rows == len(rows)
    statistics = metadata.row_group(0).column(metadata.schema.names.index("donor_code")).statistics
    assert statistics.has_min_max and (statistics.min, statistics.max) == (4, 801)


@pytest.mark.parametrize("query", [
    {"donors": [701]},
    {"donors": [701, 12], "years": [2014, 2015, 2016]},
    {"themes": ["maritime_security"]},
    {"donors": [701], "themes": ["maritime_security", "counter_terrorism"]},
    {"donors": [302], "themes": ["cyberspace"], "years": [2013, 2020]},
    {"recipients": [755, 769]},
    {"purpose_codes": [15210, 16063], "themes": ["police_capacity", "drug_trafficking"]},
    {"years": 2018},
    {"donors": [8]},  # a known donor without rows
    {"donors": [701], "columns": ["usd_commitment", "theme", "year"]},
    {"themes": ["outer_space"], "columns": ["theme_rule"]},
])
def test_filtered_reads_equal_reading_everything_then_filtering(many, query):
    path, _ = many
    query = dict(query)
    columns = query.pop("columns", None)
    got = oda_data.read_crs(path, columns=columns, **query)
    everything = full_tagged(path)
    keep = pd.Series(True, index=everything.index)
    for parameter, column in (("donors", "donor_code"), ("recipients", "recipient_code"),
                              ("purpose_codes", "purpose_code"), ("years", "year"), ("themes", "theme")):
        if parameter in query:
            values = query[parameter] if isinstance(query[parameter], list) else [query[parameter]]
            keep &= everything[column].isin(values).fillna(False).astype(bool)
    expected = everything[keep].reset_index(drop=True)
    if columns is not None:
        expected = expected[columns]
    elif "themes" not in query:
        expected = expected[list(CANONICAL_COLUMNS)]
    pd.testing.assert_frame_equal(got, expected)
    assert "donors" not in query or query["donors"] == [8] or len(got) > 0


@pytest.mark.parametrize("empty", ["donors", "recipients", "purpose_codes", "years", "themes"])
def test_an_empty_filter_list_selects_nothing_for_every_filter(many, empty):
    path, _ = many
    frame = oda_data.read_crs(path, **{empty: []})
    full = oda_data.read_crs(path, **({"themes": ["outer_space"]} if empty == "themes" else {}))
    assert len(frame) == 0
    assert list(frame.columns) == list(full.columns) and frame.dtypes.tolist() == full.dtypes.tolist()


def test_empty_result_keeps_columns_and_dtypes(many):
    path, _ = many
    empty = oda_data.read_crs(path, donors=[701], years=[2030], themes=["outer_space"])
    full = oda_data.read_crs(path, themes=["outer_space"])
    assert len(empty) == 0 and list(empty.columns) == list(full.columns)
    assert empty.dtypes.tolist() == full.dtypes.tolist()


def test_edited_theme_rules_invalidate_the_stored_themes(many, monkeypatch):
    path, _ = many
    first = cache.ingest(path, progress=False)
    monkeypatch.setattr(cache, "rules_fingerprint", lambda: "999-edited")
    second = cache.ingest(path, progress=False)
    assert first != second and second.exists() and not first.exists()


def test_a_cache_format_change_converts_again_and_removes_the_old_file(many, tmp_cache, monkeypatch):
    path, _ = many
    old = cache.ingest(path, progress=False)
    monkeypatch.setattr(cache, "CACHE_FORMAT", "crs-duckdb-test")
    new = cache.ingest(path, progress=False)
    assert new != old and not old.exists()
    assert [p.name for p in tmp_cache.glob("*.parquet")] == [new.name]


def _query_in_process(path, cache_folder, barrier, queue):
    os.environ["ODA_DATA_CACHE"] = cache_folder
    import oda_data as process_oda
    from oda_data.crs import cache as process_cache

    barrier.wait()  # both processes read the new source together
    frame = process_oda.read_crs(path, donors=[701], themes=["maritime_security"])
    queue.put((len(frame), process_cache.STATE.stats["conversions"]))


def test_two_processes_querying_a_new_source(tmp_path, tmp_cache):
    path = tmp_path / "many.txt"
    write_many_rows(path, copies=20)
    results = run_in_two_processes(_query_in_process, str(path), str(tmp_cache))
    assert len({rows for rows, _ in results}) == 1
    assert sorted(conversions for _, conversions in results) == [0, 1]
    assert len(list(tmp_cache.glob("*.parquet"))) == 1 and [p.name for p in tmp_cache.glob(".*")] == [".work"]
