"""oda_data: ODA for security and stability, from Japan's White Paper and the OECD CRS (the analysis: the notebooks).

Not PyPI's ``oda-data`` (ONE Campaign), which also imports as ``oda_data``: do not install both."""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version as _version

from . import fmt, style
from .crs import read_crs, tag_themes
from .money import convert, convert_amount, dac_rates, deflator, exchange_rate, money_label, stated_in
from .schema import KINDS, REGIONS
from .themes import THEMES, theme_label
from .white_paper import REPORT_YEAR, DataFileError, white_paper

try:
    __version__ = _version("oda-security-notebooks")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["KINDS", "REPORT_YEAR", "REGIONS", "THEMES", "DataFileError", "__version__", "convert", "convert_amount",
           "dac_rates", "deflator", "exchange_rate", "fmt", "money_label", "read_crs", "stated_in", "style",
           "tag_themes", "theme_label", "white_paper"]
