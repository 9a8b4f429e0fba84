"""The Parquet cache: hits, invalidation, ODA_DATA_CACHE, two processes, CLI."""
from __future__ import annotations

import multiprocessing
import os
import shutil
import zlib

import pandas as pd
import pyarrow.parquet as pq
import pytest

import oda_data
from oda_data.cli import main
from oda_data.crs import cache, integrity
from oda_data.crs.errors import CRSFormatError

from crs_testlib import FIXTURES, run_in_two_processes


pytestmark = pytest.mark.usefixtures("tmp_cache")  # every test with its own cache folder (conftest.py)


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "CRS 2018 data.txt"
    shutil.copy(FIXTURES / "bulk_2018_pipe_utf8.txt", path)
    return path


def test_cache_dir_respects_the_environment(tmp_cache):
    assert cache.cache_dir() == tmp_cache
    assert tmp_cache.is_dir()


def test_cache_dir_defaults_to_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("ODA_DATA_CACHE")
    monkeypatch.setattr(cache.platformdirs, "user_cache_dir", lambda *a, **k: str(tmp_path / "user"))
    assert cache.cache_dir() == tmp_path / "user" / "crs"


def test_ingest_writes_canonical_parquet_with_metadata(source, tmp_cache):
    cached = cache.ingest(source, progress=False)
    assert cached.parent == tmp_cache and cached.suffix == ".parquet"
    assert pq.read_schema(cached).names == [*oda_data.crs.CANONICAL_COLUMNS, "donor_raw", "recipient_raw",
                                            "purpose_raw", "theme", "theme_rule"]
    meta = cache.read_metadata(cached)
    assert meta["source"] == str(source.resolve())
    assert meta["rows"] == 24 == pq.read_metadata(cached).num_rows and meta["layout"] == "bulk_text"
    assert meta["source_stat"][0] == source.stat().st_size
    data = source.read_bytes()
    assert meta["fingerprint"] == f"crc32:{len(data)}:{zlib.crc32(data):08x}"
    assert meta["checksum"] == cache.file_checksum(cached) and meta["checksum"].startswith("crc32:")


def test_second_read_is_a_cache_hit(source, monkeypatch):
    first = oda_data.read_crs(source)
    cached = cache.cached_path(source)
    mtime = cached.stat().st_mtime_ns

    def no_conversion(*args, **kwargs):
        raise AssertionError("the source was converted again")

    monkeypatch.setattr(cache, "_convert", no_conversion)
    hits = cache.STATE.stats["hits"]
    second = oda_data.read_crs(source)
    assert cache.STATE.stats["hits"] == hits + 1
    assert cached.stat().st_mtime_ns == mtime
    assert second.equals(first)


def test_a_changed_source_is_converted_again(source, tmp_cache):
    before = oda_data.read_crs(source, donors=[701], columns=["usd_disbursement"])
    old_cached = cache.cached_path(source)
    text = source.read_text(encoding="utf-8").replace("|12.5|", "|112.5|")
    source.write_text(text, encoding="utf-8")
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    after = oda_data.read_crs(source, donors=[701], columns=["usd_disbursement"])
    assert after["usd_disbursement"].sum() == pytest.approx(before["usd_disbursement"].sum() + 100)
    assert not old_cached.exists()  # the stale conversion was removed
    assert len(list(tmp_cache.glob("*.parquet"))) == 1


def test_progress_bar_reports_bytes(source, capsys):
    cache.ingest(source, progress=True)
    assert f"ingest {source.name}" in capsys.readouterr().err


def test_sdmx_choice_is_part_of_the_key(tmp_cache):
    dd = cache.ingest(FIXTURES / "sdmx_codes.csv", progress=False)
    totals = cache.ingest(FIXTURES / "sdmx_codes.csv", progress=False, sdmx_rows="DD")
    assert dd != totals


def _ingest_in_process(path, cache_folder, barrier, queue):
    os.environ["ODA_DATA_CACHE"] = cache_folder
    from oda_data.crs import cache as process_cache

    barrier.wait()  # both processes start converting the new source together
    cached = process_cache.ingest(path, progress=False)
    queue.put((str(cached), process_cache.STATE.stats["conversions"]))


def test_two_processes_reading_a_new_source(source, tmp_cache):
    results = run_in_two_processes(_ingest_in_process, str(source), str(tmp_cache))
    paths = {path for path, _ in results}
    assert len(paths) == 1
    assert sorted(count for _, count in results) == [0, 1]  # converted once, the other waited
    assert pq.read_metadata(paths.pop()).num_rows == 24
    assert not list(tmp_cache.glob("*.tmp")) and not list(tmp_cache.glob(".*.tmp"))


def test_a_failed_conversion_leaves_nothing(tmp_cache):
    with pytest.raises(CRSFormatError):
        cache.ingest(FIXTURES / "bad_amount.txt", progress=False)
    assert [p.name for p in tmp_cache.iterdir() if p.name != ".work"] == []


# --------------------------------------------------------------------------- CLI
def test_cli_ingest_list_clear(source, tmp_cache, capsys):
    assert main(["ingest", str(source), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "24 rows, layout bulk_text" in out
    assert main(["cache", "list"]) == 0
    listing = capsys.readouterr().out
    assert str(source.resolve()) in listing and "24" in listing and str(tmp_cache) in listing
    assert main(["cache", "clear"]) == 0
    assert "removed 1 cached file(s)" in capsys.readouterr().out
    assert main(["cache", "list"]) == 0
    assert "(empty)" in capsys.readouterr().out
    assert not list(tmp_cache.glob("*.parquet"))


def test_cli_ingest_bad_file(capsys):
    assert main(["ingest", str(FIXTURES / "bad_not_crs.csv"), "--quiet"]) == 1
    assert "bad_not_crs.csv: not a CRS file" in capsys.readouterr().err


def test_cli_ingest_unusable_cache_folder_is_an_error_not_a_traceback(source, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ODA_DATA_CACHE", str(blocker / "cache"))
    assert main(["ingest", str(source), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("oda-data ingest: ") and str(blocker) in err


def test_cli_ingest_shows_progress(source, capsys):
    assert main(["ingest", str(source)]) == 0
    assert "ingest CRS 2018 data.txt" in capsys.readouterr().err


def test_cli_cache_without_action_prints_help(capsys):
    assert main(["cache"]) == 2
    assert "list" in capsys.readouterr().out


def test_clear_leaves_a_conversion_running_in_another_process_alone(source, tmp_cache):
    """`cache clear` deletes a source's files under its lock and skips a held lock."""
    from filelock import FileLock

    cached = cache.ingest(source, progress=False)
    other = cache.ingest(FIXTURES / "bulk_2018_pipe_utf8bom.txt", progress=False)
    in_progress = tmp_cache / f".{other.name}.abc123.tmp"
    in_progress.write_text("half a conversion")
    # Another process holds the second source's lock: it is converting right now.
    held = FileLock(str(tmp_cache / ".work" / f"{other.name.rsplit('-', 1)[0]}.lock"))
    with held:
        assert _clear_in_another_process() == 1
    assert not cached.exists() and not cached.with_name("_" + cached.name.rsplit("-", 1)[0] + ".json").exists()
    assert other.exists() and in_progress.exists()
    assert cache.clear_cache() == 1  # lock free again: now it goes
    assert not other.exists() and not in_progress.exists()


def _clear_in_another_process() -> int:
    # filelock is re-entrant within a process, so the check needs a second process.
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(cache.clear_cache)


# --------------------------------------------------------------------------- integrity
def _damage(path, how):
    data = bytearray(path.read_bytes())
    stat = path.stat()
    if how == "truncated":
        data = data[: len(data) // 2]
    else:  # flip one byte in the middle of the column data, keep the size
        data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.mark.parametrize("how", ["truncated", "flipped"])
def test_a_damaged_cache_file_is_rebuilt_on_open(source, how):
    expected = oda_data.read_crs(source)
    cached = cache.cached_path(source)
    _damage(cached, how)
    with pytest.warns(cache.CRSCacheWarning, match=rf"{cached.name}: .*(truncated|checksum differs).*converting .* again"):
        again = oda_data.read_crs(source)
    pd.testing.assert_frame_equal(again, expected)
    assert cache.read_metadata(cached)["checksum"] == f"crc32:{cached.stat().st_size}:{zlib.crc32(cached.read_bytes()):08x}"


def test_a_damaged_file_is_seen_in_the_same_process_too(source):
    oda_data.read_crs(source)
    cached = cache.cached_path(source)
    _damage(cached, "flipped")  # the write changes the file's ctime: checked again
    with pytest.warns(cache.CRSCacheWarning):
        oda_data.read_crs(source)


def test_an_edit_keeping_size_and_mtime_is_seen(source):
    before = oda_data.read_crs(source, donors=[701])
    stat = source.stat()
    data = source.read_bytes()
    assert b"|12.5|" in data
    source.write_bytes(data.replace(b"|12.5|", b"|13.5|", 1))
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (source.stat().st_size, source.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    after = oda_data.read_crs(source, donors=[701])
    assert after["usd_disbursement"].sum() == pytest.approx(before["usd_disbursement"].sum() + 1)


def test_touching_the_source_keeps_the_cache(source, monkeypatch):
    oda_data.read_crs(source)
    os.utime(source)
    monkeypatch.setattr(cache, "_convert", lambda *a, **k: pytest.fail("converted again"))
    assert len(oda_data.read_crs(source)) == 24


def test_leftovers_of_a_killed_conversion_are_removed(source, tmp_cache):
    cached = cache.ingest(source, progress=False)
    prefix = cached.name.rsplit("-", 1)[0]
    work = tmp_cache / ".work"
    leftovers = [work / f"{prefix}.1a2b3c4d.parquet.tmp", work / f"{prefix}.a1b2c3d4.utf8.txt.tmp",
                 work / f"tmp_{prefix}.1a2b3c4d.parquet.tmp",  # DuckDB's own temporary file
                 tmp_cache / f".{prefix}-0123.parquet.x1y2.tmp", tmp_cache / f"tmp_.{prefix}.parquet.x1.tmp"]
    for leftover in leftovers:
        leftover.write_text("half a conversion")
    (work / f"{prefix}.spill.tmp").mkdir()
    source.write_bytes(source.read_bytes() + b"\r\n")  # a new conversion of the same source
    cache.ingest(source, progress=False)
    assert_only_cache_files(tmp_cache)
    for leftover in leftovers[:3]:
        leftover.write_text("half a conversion")
    assert cache.clear_cache() == 1
    assert_only_cache_files(tmp_cache) and not list(tmp_cache.glob("*.parquet"))


def assert_only_cache_files(folder) -> bool:
    """Parquet files and their manifests; locks alone in .work/."""
    names = sorted(p.name for p in folder.iterdir() if p.name != ".work")
    assert all(n.endswith(".parquet") or (n.startswith("_") and n.endswith(".json")) for n in names), names
    assert all(p.name.endswith(".lock") for p in (folder / ".work").iterdir()), list((folder / ".work").iterdir())
    return True


@pytest.mark.parametrize("command", [["cache", "list"], ["cache", "clear"], ["ingest", "SOURCE", "--quiet"]])
def test_every_cache_command_fails_in_one_line_naming_the_path(command, source, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file")
    monkeypatch.setenv("ODA_DATA_CACHE", str(blocker))
    assert main([str(source) if part == "SOURCE" else part for part in command]) == 1
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and str(blocker) in err and "is a file, not a folder" in err
    assert "Traceback" not in captured.err + captured.out


def test_cache_list_shows_each_cached_files_path(source, capsys):
    cached = cache.ingest(source, progress=False)
    assert main(["cache", "list"]) == 0
    out = capsys.readouterr().out
    assert str(cached) in out and str(source.resolve()) in out and "24 rows" in out
