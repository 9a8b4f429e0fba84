"""Helpers for the CRS tests: fixture paths and totals computed *without* read_crs."""
from __future__ import annotations

import contextlib
import csv
import io
import warnings
import zipfile
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import zipfile_deflate64  # noqa: F401  (lets zipfile read the Deflate64 fixture)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "crs"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REAL_SUMMARY = SHARED_DATA / "crs" / "crs_bilateral_by_purpose_2018_2020_sample.csv"

# Every bulk fixture holds the same 24 activities.
BULK_FIXTURES = (
    "bulk_2018_pipe_utf8.txt", "bulk_2018_pipe_utf8bom.txt", "bulk_2019_utf16.txt",
    "bulk_comma.csv", "bulk_2019_utf16.zip", "bulk_deflate64.zip", "bulk_dotstat_2024.txt",
    "bulk_full.parquet", "bulk_reduced.parquet",
)
SDMX_FIXTURES = ("sdmx_labels.csv", "sdmx_codes.csv")
# Data Explorer code -> DAC code, written out here on purpose (independent of oda_data).
DE_DONORS = {"JPN": 701, "FRA": 4, "USA": 302, "GBR": 12, "AUS": 801, "KOR": 742, "DEU": 5, "CAN": 301}


def _number(text: str) -> float:
    return float(text) if text.strip() else 0.0


def bulk_text_rows(name: str) -> list[dict[str, str]]:
    """Rows of a bulk text fixture, parsed by the csv module (keys lower-cased)."""
    path = FIXTURES / name
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            raw = archive.read(archive.namelist()[0])
    else:
        raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = raw.decode("utf-16")
    else:
        text = raw.decode("utf-8-sig")
    delimiter = "," if name.endswith(".csv") else "|"
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    return [{key.lower(): value for key, value in row.items()} for row in reader]


def expected_bulk_totals(name: str, amount: str = "usd_disbursement") -> dict[tuple[int, int], float]:
    """(donor, purpose) -> sum of ``amount`` in the fixture, by csv / raw parquet."""
    totals: dict[tuple[int, int], float] = defaultdict(float)
    if name.endswith(".parquet"):
        table = pq.read_table(FIXTURES / name).to_pylist()
        for row in table:
            row = {k.lower(): v for k, v in row.items()}
            totals[(row["donorcode"], row["purposecode"])] += row[amount] or 0.0
        return dict(totals)
    for row in bulk_text_rows(name):
        donor = row.get("donorcode") or str(DE_DONORS.get(row.get("dedonorcode"), -1))
        totals[(int(donor), int(row["purposecode"]))] += _number(row[amount])
    return dict(totals)


def expected_sdmx_totals(name: str, flow_type: str = "D", price_base: str = "V",
                         md_dim: str = "DD") -> dict[tuple[int, int], float]:
    """(donor, purpose) -> sum of OBS_VALUE (scaled to millions) of one series."""
    totals: dict[tuple[int, int], float] = defaultdict(float)
    with open(FIXTURES / name, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["MD_DIM"] != md_dim or row["FLOW_TYPE"] != flow_type or row["PRICE_BASE"] != price_base:
                continue
            scale = 10.0 ** (int(row["UNIT_MULT"]) - 6)
            totals[(DE_DONORS[row["DONOR"]], int(row["SECTOR"]))] += float(row["OBS_VALUE"]) * scale
    return dict(totals)


def totals_of(frame, amount: str = "usd_disbursement") -> dict[tuple[int, int], float]:
    grouped = frame.groupby(["donor_code", "purpose_code"])[amount].sum()
    return {(int(d), int(p)): float(v) for (d, p), v in grouped.items()}


def assert_totals_equal(actual: dict, expected: dict) -> None:
    assert set(actual) == set(expected)
    for key, value in expected.items():
        assert abs(actual[key] - value) < 1e-9, (key, actual[key], value)


def run_in_two_processes(target, *args) -> list:
    """Start ``target(*args, barrier, queue)`` in two spawned processes at once; return what each queued.

    The barrier lines both up so they race for the same new cache entry.
    """
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    barrier, queue = context.Barrier(2), context.Queue()
    processes = [context.Process(target=target, args=(*args, barrier, queue)) for _ in range(2)]
    for process in processes:
        process.start()
    results = [queue.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    return results


@contextlib.contextmanager
def answer_first(monkeypatch, enabled: bool = True):
    """With ``enabled``, every bulk text DuckDB reads directly counts as large: its first read is
    answered from the file and converted in the background (joined, and its outcome checked, at the end)."""
    from oda_data.crs import cache

    if enabled:
        monkeypatch.setattr(cache, "ANSWER_FIRST_BYTES", 0)
    try:
        yield
    finally:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cache.wait_for_background()
        failures = [str(w.message) for w in caught if issubclass(w.category, cache.CRSCacheWarning)]
        assert not failures, failures
