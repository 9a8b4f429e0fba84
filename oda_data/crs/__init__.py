"""OECD CRS reading layer: any real layout (:mod:`.layouts`) -> one canonical frame (:mod:`.schema`) with
:func:`read_crs`, cached as Parquet (:mod:`.cache`, ``oda-data ingest`` / ``cache``) on DuckDB (:mod:`.engine`);
:func:`tag_themes` adds the White Paper security theme of each row (:mod:`.themes`)."""
from __future__ import annotations

from .errors import CRSFormatError, CRSLayoutWarning
from .codes import CRSCodeWarning
from .reader import read_crs
from .schema import CANONICAL_COLUMNS, CRS_SCHEMA
from .themes import tag_themes

__all__ = ["CANONICAL_COLUMNS", "CRS_SCHEMA", "CRSCodeWarning", "CRSFormatError", "CRSLayoutWarning", "read_crs",
           "tag_themes"]
