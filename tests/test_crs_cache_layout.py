"""The sorted, tagged cache layout: same answers as reading everything, fewer row groups read.

The cache stores each source as sorted runs (tagged rows first, by donor,
theme and year) plus a companion file with ``source_row`` and the themes. These
tests check that this changes nothing a caller can see -- rows, order, dtypes,
themes -- and that queries really skip row groups.
"""
from __future__ import annotations

import csv
import os
import shutil

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import oda_data
from oda_data.cli import main
from oda_data.crs import CANONICAL_COLUMNS, cache, layouts
from oda_data.crs import themes as crs_themes

from crs_testlib import FIXTURES, bulk_text_rows, run_in_two_processes

DONORS = (701, 4, 302, 12, 801)
TAGGED_AND_ALL = [*CANONICAL_COLUMNS, "theme", "theme_rule"]


def write_many_rows(path, copies: int = 100) -> list[dict[str, str]]:
    """A bulk text file of ``copies`` x the 24 fixture rows, with donors, years and titles varied.

    Returns the rows written (csv dicts), in file order.
    """
    source = FIXTURES / "bulk_2018_pipe_utf8.txt"
    with open(source, encoding="utf-8", newline="") as handle:
        reader_ = csv.DictReader(handle, delimiter="|")
        header, rows = reader_.fieldnames, list(reader_)
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


@pytest.fixture(autouse=True)
def tmp_cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("ODA_DATA_CACHE", str(folder))
    return folder


@pytest.fixture
def small_layout(monkeypatch):
    """Runs and row groups small enough that 2,400 rows make many of each."""
    monkeypatch.setattr(cache, "RUN_ROWS", 700)
    monkeypatch.setattr(cache, "ROW_GROUP_SIZE", 64)
    monkeypatch.setattr(cache, "THEMED_ROW_GROUP_SIZE", 16)


@pytest.fixture
def many(tmp_path, small_layout):
    path = tmp_path / "many.txt"
    rows = write_many_rows(path)
    return path, rows


def full_tagged(path) -> pd.DataFrame:
    """Every row, tagged by tag_themes after the read (the reference the cache must equal)."""
    return oda_data.tag_themes(oda_data.read_crs(path))


# ------------------------------------------------------------------ same answers
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
    titles = [row["ProjectTitle"] or None for row in rows]
    assert [None if pd.isna(t) else t for t in frame["project_title"]] == titles
    assert frame["donor_code"].tolist() == [int(row["DonorCode"]) for row in rows]
    assert frame["year"].tolist() == [int(row["Year"]) for row in rows]
    # and the cache really was reordered (else the test above proves nothing)
    stored = pq.read_table(cache.cached_path(path), columns=["donor_code"])["donor_code"].to_pylist()
    assert stored != frame["donor_code"].tolist()


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
def test_pruned_reads_equal_reading_everything_then_filtering(many, query):
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


def test_empty_result_keeps_columns_and_dtypes(many):
    path, _ = many
    empty = oda_data.read_crs(path, donors=[701], years=[2030], themes=["outer_space"])
    full = oda_data.read_crs(path, themes=["outer_space"])
    assert len(empty) == 0 and list(empty.columns) == list(full.columns)
    assert empty.dtypes.tolist() == full.dtypes.tolist()


def test_unknown_code_check_looks_at_the_rows_the_code_filters_keep(many):
    path, _ = many
    # 11110 is not in the package's purpose table but is in the file: fine, with or without themes.
    assert len(oda_data.read_crs(path, purpose_codes=[11110])) == 100
    assert len(oda_data.read_crs(path, purpose_codes=[11110], themes=["cyberspace"])) == 0
    with pytest.raises(ValueError, match=r"purpose_codes: unknown purpose code\(s\) \[12345\]"):
        oda_data.read_crs(path, purpose_codes=[12345], themes=["cyberspace"])


# ------------------------------------------------------------------ the layout itself
def test_layout_sorted_runs_with_aligned_companion(many):
    path, _ = many
    cached = cache.ingest(path, progress=False)
    main_file, companion = pq.ParquetFile(cached), pq.ParquetFile(cache.companion_path(cached))
    assert main_file.schema_arrow.names == list(CANONICAL_COLUMNS)  # any Parquet tool sees the canonical table
    assert companion.schema_arrow == cache.COMPANION_SCHEMA
    groups = main_file.metadata.num_row_groups
    assert groups == companion.metadata.num_row_groups > 20
    runs = cache.row_groups_per_run(main_file.metadata)
    assert sum(runs) == groups and len(runs) == 4  # 2,400 rows in runs of 700
    start = 0
    for count in runs:
        run_groups = range(start, start + count)
        start += count
        extra = companion.read_row_groups(list(run_groups))
        main_rows = main_file.read_row_groups(list(run_groups), columns=["donor_code", "year"])
        source_rows = sorted(extra["source_row"].to_pylist())
        assert source_rows == list(range(source_rows[0], source_rows[0] + len(source_rows)))  # a contiguous run
        tagged = pc.is_valid(extra["theme"]).to_pylist()
        assert tagged == sorted(tagged, reverse=True)  # tagged rows first
        keys = list(zip(tagged, main_rows["donor_code"].to_pylist(), extra["theme"].to_pylist(),
                        main_rows["year"].to_pylist()))
        assert keys == sorted(keys, key=lambda k: (not k[0], k[1], k[2] or "", k[3]))
    for group in range(groups):  # a row group never mixes tagged and untagged rows
        assert main_file.metadata.row_group(group).num_rows == companion.metadata.row_group(group).num_rows
        theme = companion.read_row_group(group, columns=["theme"])["theme"]
        assert theme.null_count in (0, len(theme))


def test_a_theme_query_materialises_only_row_groups_with_matching_rows(many, monkeypatch):
    path, _ = many
    cached = cache.ingest(path, progress=False)
    main_file, companion = pq.ParquetFile(cached), pq.ParquetFile(cache.companion_path(cached))
    matching = set()
    for group in range(main_file.metadata.num_row_groups):
        donors = main_file.read_row_group(group, columns=["donor_code"])["donor_code"].to_pylist()
        themes = companion.read_row_group(group, columns=["theme"])["theme"].to_pylist()
        if any(d == 701 and t == "maritime_security" for d, t in zip(donors, themes)):
            matching.add(group)
    assert matching
    wide_reads: list[int] = []
    probed: list[int] = []
    original = pq.ParquetFile.read_row_groups

    def spy(self, row_groups, columns=None, **kwargs):
        if columns is not None and "project_title" in columns:
            wide_reads.extend(row_groups)
        elif columns is not None and "donor_code" in columns:
            probed.extend(row_groups)
        return original(self, row_groups, columns=columns, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", spy)
    frame = oda_data.read_crs(path, donors=[701], themes=["maritime_security"])
    assert len(frame) > 0
    assert set(wide_reads) == matching  # the text columns of no other row group are read
    # statistics alone ruled out most row groups: other donors, untagged rows
    assert len(probed) < main_file.metadata.num_row_groups / 4


# ------------------------------------------------------------------ invalidation and safety
def test_a_cache_format_change_converts_again_and_removes_the_old_files(many, tmp_cache, monkeypatch):
    path, _ = many
    old = cache.ingest(path, progress=False)
    conversions = cache.CACHE_STATS["conversions"]
    monkeypatch.setattr(cache, "CACHE_FORMAT", "crs-canonical-test")
    new = cache.ingest(path, progress=False)
    assert new != old and cache.CACHE_STATS["conversions"] == conversions + 1
    assert not old.exists() and not cache.companion_path(old).exists()
    assert sorted(p.name for p in tmp_cache.iterdir() if not p.name.endswith(".lock")) == sorted(
        [new.name, cache.companion_path(new).name])


def test_edited_theme_rules_invalidate_the_stored_themes(many, monkeypatch):
    path, _ = many
    old = cache.ingest(path, progress=False)
    assert cache.read_metadata(old)["theme_rules"] == crs_themes.rules_fingerprint()
    monkeypatch.setattr(cache, "rules_fingerprint", lambda: "1-edited")
    new = cache.ingest(path, progress=False)
    assert new != old and cache.read_metadata(new)["theme_rules"] == "1-edited"


def test_the_rules_fingerprint_follows_the_yaml_text():
    fingerprint = crs_themes.rules_fingerprint()
    assert fingerprint.startswith(f"{crs_themes.RULES_VERSION}-") and len(fingerprint.split("-")[1]) == 12


def test_a_file_of_an_older_cache_format_is_removed(tmp_path, tmp_cache):
    source = tmp_path / "CRS 2018 data.txt"
    shutil.copy(FIXTURES / "bulk_2018_pipe_utf8.txt", source)
    current = cache.cached_path(source)
    tmp_cache.mkdir(parents=True, exist_ok=True)
    older = current.with_name(current.name.rsplit("-", 1)[0] + "-0123456789abcdef.parquet")
    shutil.copy(FIXTURES / "bulk_full.parquet", older)  # e.g. a crs-canonical-1 file: no companion
    assert len(oda_data.read_crs(source)) == 24
    assert not older.exists() and current.exists()


def test_a_cached_file_without_its_companion_is_converted_again(tmp_path):
    source = tmp_path / "crs.txt"
    shutil.copy(FIXTURES / "bulk_2018_pipe_utf8.txt", source)
    first = oda_data.read_crs(source, themes=["cyberspace"])
    cached = cache.cached_path(source)
    cache.companion_path(cached).unlink()
    conversions = cache.CACHE_STATS["conversions"]
    again = oda_data.read_crs(source, themes=["cyberspace"])
    assert cache.CACHE_STATS["conversions"] == conversions + 1
    pd.testing.assert_frame_equal(again, first)


def test_a_companion_that_does_not_match_is_a_clear_error(tmp_path, many):
    path, _ = many
    cached = cache.ingest(path, progress=False)
    other = tmp_path / "other.txt"
    shutil.copy(FIXTURES / "bulk_2018_pipe_utf8.txt", other)
    shutil.copy(cache.companion_path(cache.ingest(other, progress=False)), cache.companion_path(cached))
    with pytest.raises(RuntimeError, match="do not match row group for row group.*oda-data cache clear"):
        oda_data.read_crs(path)


def test_cache_list_and_clear_count_conversions_not_files(many, tmp_cache, capsys):
    path, _ = many
    cached = cache.ingest(path, progress=False)
    (entry,) = cache.list_cache()
    assert entry.rows == 2400
    assert entry.size_bytes == cached.stat().st_size + cache.companion_path(cached).stat().st_size
    assert main(["cache", "clear"]) == 0
    assert "removed 1 cached file(s)" in capsys.readouterr().out
    assert not [p for p in tmp_cache.iterdir() if not p.name.endswith(".lock")]


def test_a_failed_conversion_leaves_neither_file(tmp_path, tmp_cache):
    source = tmp_path / "late_error.txt"
    lines = (FIXTURES / "bulk_2018_pipe_utf8.txt").read_text(encoding="utf-8").splitlines()
    source.write_text("\n".join([lines[0], *lines[1:] * 40, lines[1].replace("|12.5|", "|n/a|")]) + "\n",
                      encoding="utf-8")
    with pytest.raises(layouts.CRSFormatError, match=r"must be numeric; found 'n/a' at data row 961 \(line 962\)"):
        oda_data.read_crs(source)
    assert [p.name for p in tmp_cache.iterdir() if not p.name.endswith(".lock")] == []


def _read_in_process(path, cache_folder, barrier, queue):
    os.environ["ODA_DATA_CACHE"] = cache_folder
    import oda_data as process_oda_data
    from oda_data.crs import cache as process_cache

    barrier.wait()  # both processes meet the new source together
    frame = process_oda_data.read_crs(path, donors=[701], themes=["maritime_security", "counter_terrorism"])
    queue.put((frame.to_json(), process_cache.CACHE_STATS["conversions"]))


def test_two_processes_querying_a_new_source(tmp_path, tmp_cache):
    source = tmp_path / "many.txt"
    write_many_rows(source, copies=30)
    results = run_in_two_processes(_read_in_process, str(source), str(tmp_cache))
    assert sorted(count for _, count in results) == [0, 1]  # converted once, the other waited
    expected = oda_data.read_crs(source, donors=[701], themes=["maritime_security", "counter_terrorism"])
    assert len(expected) > 0
    for frame_json, _ in results:
        assert frame_json == expected.to_json()
    assert not list(tmp_cache.glob("*.tmp")) and not list(tmp_cache.glob(".*.tmp"))
    assert len(list(tmp_cache.glob("*.parquet"))) == 1 and len(list(tmp_cache.glob("*.rows"))) == 1


# ------------------------------------------------------------------ theme prefilter
def test_union_prefilter_gives_the_same_themes_as_every_rule_on_every_row():
    titles = [row["projecttitle"] or None for row in bulk_text_rows("bulk_2018_pipe_utf8.txt")]
    longs = [row["longdescription"] or None for row in bulk_text_rows("bulk_2018_pipe_utf8.txt")]
    purposes = [int(row["purposecode"]) for row in bulk_text_rows("bulk_2018_pipe_utf8.txt")]
    # tricky rows: a keyword across two columns, keywords of two rules, nothing, nulls
    titles += ["Vessels for the coast", "Police and piracy", "Ferry terminal", None, "cybernetics"]
    longs += ["guard of Viet Nam", None, "Rural roads", None, "CYBER resilience"]
    purposes += [21040, 15130, 21040, 16063, 22040]
    purpose = pa.array(purposes, pa.int64())
    texts = [pa.array(titles, pa.string()), pa.array(longs, pa.string())]
    theme, rule = crs_themes.theme_arrays(purpose, texts)
    joined = pc.binary_join_element_wise(*texts, " \n ", null_handling="replace", null_replacement="")
    every_theme, every_rule = crs_themes._ordered_rules(purpose, joined, crs_themes.load_rules())
    assert theme.equals(every_theme) and rule.equals(every_rule)
    assert rule.to_pylist()[-5:] == ["keyword:coast guard+purpose:21040", "keyword:piracy+purpose:15130", None,
                                     "purpose:16063", "keyword:cyber resilience+purpose:22040"]


def test_union_pattern_matches_exactly_where_one_rule_matches():
    rules = crs_themes.load_rules()
    samples = pa.array(["the coast guard", "money-laundering", "policing", "space debris", "nothing here",
                        "cyberneticscyber", "", "counter terrorism", "TERRORISTES"])
    union = pc.match_substring_regex(samples, rules.union_pattern).to_pylist()
    each = [any(pc.match_substring_regex(samples, rule.pattern).to_pylist()[i] for rule in rules.keyword_rules)
            for i in range(len(samples))]
    assert union == each == [True, True, True, True, False, False, False, True, True]


# ------------------------------------------------------------------ Arrow's number parsing, and its fallback
def _bulk(lines: list[str]) -> str:
    return "Year|DonorCode|RecipientCode|PurposeCode|USD_Disbursement\n" + "\n".join(lines) + "\n"


def test_padded_and_blank_numbers_are_read_like_the_checked_path(tmp_path):
    source = tmp_path / "padded.txt"
    # "   " (spaces only) is refused by Arrow's parser: the file is read again as text.
    source.write_text(_bulk(["2019|701|755|21040|1.5", "2019| 701 |755|21040|  12.5 ", "2019|701|755|21040|",
                             "2019|701|755|21040|   "]), encoding="utf-8")
    frame = oda_data.read_crs(source)
    assert frame["donor_code"].tolist() == [701] * 4
    assert frame["usd_disbursement"].tolist()[:2] == [1.5, 12.5]
    assert frame["usd_disbursement"].iloc[2:].isna().all()


@pytest.mark.parametrize("cell,column,message", [
    ("nan", "USD_Disbursement", "must be numeric; found 'nan'"),
    ("inf", "USD_Disbursement", "must be numeric; found 'inf'"),
    ("n/a", "USD_Disbursement", "must be numeric; found 'n/a'"),
    ("0x10", "DonorCode", "must be numeric; found '0x10'"),
    ("701.5", "DonorCode", "must hold whole codes; found 701.5"),
])
def test_cells_arrow_would_read_differently_are_still_errors(tmp_path, cell, column, message):
    good = "2019|701|755|21040|1.5"
    bad = good.replace("|701|", f"|{cell}|") if column == "DonorCode" else good.replace("|1.5", f"|{cell}")
    source = tmp_path / "bad.txt"
    source.write_text(_bulk([good, good, bad]), encoding="utf-8")
    with pytest.raises(layouts.CRSFormatError, match=rf"{column}.*{message}.* at data row 3 \(line 4\)"):
        oda_data.read_crs(source)


def test_a_late_refused_cell_reads_the_rest_again_once_and_reports_every_byte(tmp_path, monkeypatch):
    monkeypatch.setattr(layouts, "_BLOCK_SIZE", 1024)  # many batches before the padded cell
    monkeypatch.setattr(layouts, "_BLOCKS_PER_BATCH", 2)
    lines = [f"{2010 + i % 10}|701|755|21040|{i}.25" for i in range(3000)]
    lines[2500] = "2019|701|755|21040|   "  # spaces only: refused by Arrow, null for the checked path
    source = tmp_path / "late.txt"
    source.write_text(_bulk(lines), encoding="utf-8")
    fast_calls = []
    original = layouts._native_number
    monkeypatch.setattr(layouts, "_native_number", lambda *a: fast_calls.append(1) or original(*a))
    reported = []
    tables = list(layouts.read_canonical_batches(layouts.detect_layout(source), on_read=reported.append))
    assert len(tables) > 3 and fast_calls  # the fast path yielded batches before the refusal
    amounts = pa.concat_tables(tables)["usd_disbursement"].to_pylist()
    assert amounts == [None if i == 2500 else i + 0.25 for i in range(3000)]
    assert sum(reported) == source.stat().st_size


def test_reading_as_text_again_keeps_the_malformed_line_warning_single(tmp_path):
    lines = [f"2019|701|755|21040|{i}" for i in range(50)]
    lines[3] = "2019|701|755"  # wrong number of fields: skipped, with a warning
    lines[40] = "2019|701|755|21040|  "  # refused by the fast path
    source = tmp_path / "ragged.txt"
    source.write_text(_bulk(lines), encoding="utf-8")
    with pytest.warns(layouts.CRSLayoutWarning, match=r"skipped 1 malformed line\(s\)") as caught:
        frame = oda_data.read_crs(source)
    assert len([w for w in caught if "malformed" in str(w.message)]) == 1
    assert len(frame) == 49 and pd.isna(frame["usd_disbursement"].iloc[39])
