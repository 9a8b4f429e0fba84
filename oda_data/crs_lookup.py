"""Package tables the CRS notebooks look codes up in: broad DAC regions of recipient codes, channel names."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd
import yaml

from . import fmt


@lru_cache(maxsize=2)
def _table(name: str) -> pd.DataFrame:
    with resources.files("oda_data").joinpath(f"data/{name}").open(encoding="utf-8") as stream:
        return pd.read_csv(stream, keep_default_na=False, na_values=[""])


def channel_names() -> dict[int, str]:
    """CRS channel-of-delivery code -> name, from ``data/crs_channel_codes.csv``."""
    channels = _table("crs_channel_codes.csv")
    return dict(zip(channels["channel_code"].astype(int), channels["channel_name"]))


def crs_region(codes) -> pd.Series:
    """The region of each recipient code by ``data/crs_regions.csv`` ("Unspecified" for a missing or unknown code)."""
    codes = pd.Series(codes).astype("float64")
    regions = pd.Series("Unspecified", index=codes.index, dtype=object)
    for r in _table("crs_regions.csv").itertuples():
        regions[codes.between(r.first_code, r.last_code)] = r.region
    return regions


def white_paper_queries() -> dict:
    """``data/white_paper_crs_queries.yaml``: record_id -> its CRS counterpart (query, note, partial) or reason."""
    text = resources.files("oda_data").joinpath("data/white_paper_crs_queries.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)["records"]


_CHOSEN_BY = {"parameter": "the `crs_source` parameter", "ODA_CRS_SOURCE": "the environment variable `ODA_CRS_SOURCE`",
              "bundled demo": "default, since neither `crs_source` nor `ODA_CRS_SOURCE` names a file"}


def about_source(source) -> str:
    """Markdown: which CRS file a page reads, who chose it, and "not OECD figures" for the demonstration file."""
    if source.is_demo:
        return "**Demonstration data, not OECD figures.** " + fmt.markdown(
            "This run reads {name}, chosen by " + _CHOSEN_BY[source.origin] + ": invented activities in a real CRS "
            "layout that ship with the package. Its numbers show how the analysis works and say nothing about real "
            "aid.", name=source.name)
    return fmt.markdown("**Source:** the OECD CRS file {name}, named by " + _CHOSEN_BY[source.origin] + ".",
                        name=source.name)
