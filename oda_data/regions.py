"""The broad DAC region of a CRS recipient code, from ``data/crs_regions.csv`` (code ranges)."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd


@lru_cache(maxsize=1)
def region_ranges() -> pd.DataFrame:
    """The shipped table: ``first_code``, ``last_code``, ``region``, ``dac_regions``."""
    with resources.files("oda_data").joinpath("data/crs_regions.csv").open(encoding="utf-8") as stream:
        return pd.read_csv(stream)


def crs_region(codes) -> pd.Series:
    """The region of each recipient code ("Unspecified" for a missing or unknown code)."""
    codes = pd.Series(codes).astype("float64")
    regions = pd.Series("Unspecified", index=codes.index, dtype=object)
    for r in region_ranges().itertuples():
        regions[codes.between(r.first_code, r.last_code)] = r.region
    return regions
