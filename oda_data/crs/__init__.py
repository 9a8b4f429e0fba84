"""OECD CRS reading layer: any real layout -> one canonical frame, cached as Parquet, on DuckDB.

* :func:`read_crs` reads a CRS source (layouts: :mod:`oda_data.crs.sources`)
  into the canonical frame (:data:`CANONICAL_COLUMNS`, documented in
  :mod:`oda_data.crs.schema`), filtering by DAC codes, years and themes.
* :func:`tag_themes` adds the White Paper security theme of each row
  (mapping documented in :mod:`oda_data.crs.themes`).
* :mod:`oda_data.crs.engine` converts a source with DuckDB and queries it;
  :mod:`oda_data.crs.cache` keeps the Parquet files (``ingest``,
  ``cache_dir``); ``oda-data ingest`` / ``oda-data cache``.
"""
from __future__ import annotations

from .errors import CRSFormatError, CRSLayoutWarning
from .codes import CRSCodeWarning
from .reader import read_crs
from .schema import CANONICAL_COLUMNS, CRS_SCHEMA
from .themes import tag_themes

__all__ = [
    "CANONICAL_COLUMNS",
    "CRS_SCHEMA",
    "CRSCodeWarning",
    "CRSFormatError",
    "CRSLayoutWarning",
    "read_crs",
    "tag_themes",
]
