"""Smoke test of benchmarks/make_crs_files.py: a small file in the real layout that read_crs reads."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

import oda_data

REPO_ROOT = Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location("make_crs_files", REPO_ROOT / "benchmarks" / "make_crs_files.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Seeding from the fixtures reads the SDMX fixture, whose DD/_T mix warns by design.
@pytest.mark.filterwarnings("ignore::oda_data.crs.CRSLayoutWarning")
@pytest.mark.parametrize("seed_source", ["shared", "fixtures"])
def test_generated_file_has_the_2018_header_and_reads_back(tmp_path, seed_source):
    generator = _generator()
    if seed_source == "fixtures":
        # What a clone without ../shared uses: the project's own CRS fixtures.
        generator.SHARED_SAMPLE = tmp_path / "absent.csv"
    elif not generator.SHARED_SAMPLE.is_file():
        pytest.skip("../shared/data absent: the real CRS sample seeds this variant")
    try:
        seeds, _ = generator.load_seed_rows()
    except FileNotFoundError as error:
        pytest.skip(f"../shared/data absent and no tests/fixtures/crs: {error}")
    path = generator.make_crs_file(tmp_path / "crs_1000.txt", 1000, seed=1)

    with open(path, encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n")
    assert header.split("|") == generator.CRS_BULK_COLUMNS
    assert header.startswith("Year|DonorCode|DonorName|AgencyCode|AgencyName|CRSid|ProjectNumber|")
    assert "|RMNCH|BudgetIdent|CapitalExpend|DRR|" in header
    assert len(generator.CRS_2018_COLUMNS) == 86 and len(generator.CRS_BULK_COLUMNS) == 94

    raw = pd.read_csv(path, sep="|", quoting=3)  # unquoted, as the OECD writes it: '"' is text
    assert raw.shape == (1000, 94)
    assert raw["Year"].between(2012, 2022).all()
    assert set(raw["DonorCode"]) <= set(seeds["donor_code"].to_pylist())
    # Security rows are injected so that theme queries select something.
    assert raw["PurposeCode"].isin([21040, 15210, 15220, 16063, 15130, 22040, 15113, 15190]).sum() >= 20

    crs = oda_data.read_crs(path)
    assert len(crs) == 1000
    assert (crs["donor_code"] == 701).sum() == (raw["DonorCode"] == 701).sum()
    assert crs["usd_disbursement"].sum() == pytest.approx(raw["USD_Disbursement"].sum(), rel=1e-9)
    # Unquoted as the OECD writes it: a "|" inside a text becomes "/", quotes stay text.
    assert crs["long_description"].str.contains("rehabilitated / 3,400", regex=False).sum() == (
        raw["LongDescription"].str.contains("rehabilitated / 3,400", regex=False).sum()
    ) > 0

    # Same seed, same file: benchmark runs are comparable.
    again = generator.make_crs_file(tmp_path / "again.txt", 1000, seed=1)
    assert again.read_bytes() == path.read_bytes()
