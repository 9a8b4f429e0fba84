"""Download the OECD CRS bulk files: locate, fetch, verify, ingest (one module each).

1. :mod:`.locate` reads the file addresses from the CRS dataflow's SDMX annotations;
2. :mod:`.fetch` streams the file into ``<name>.part`` on urllib3's ``Retry``
   (one budget of retries and seconds for the whole download), resuming with
   ``Range`` where the server allows it;
3. :mod:`.verify` checks the byte count, every zip member's CRC or the Parquet
   footer, and records ``<file>.sha256``; only then does :mod:`.bulk_file`
   move the file to its final name and hand it to :func:`oda_data.crs.cache.ingest`.

:mod:`.cli` registers ``oda-data download crs``.
"""
from __future__ import annotations

from .bulk_file import DOWNLOADS_ENV_VAR, DownloadResult, default_download_dir, download_crs, file_stem
from .cli import register
from .fetch import Budget, DownloadError, FetchResult, fetch_part
from .locate import (BULK_URL_ENV_VAR, DATAFLOW_URL_ENV_VAR, BulkFile, fetch_bulk_files, find_bulk_file,
                     label_for, parse_bulk_files)
from .verify import read_sha256_sidecar, sha256_of, verify_payload

__all__ = ["BULK_URL_ENV_VAR", "DATAFLOW_URL_ENV_VAR", "DOWNLOADS_ENV_VAR", "Budget", "BulkFile", "DownloadError",
           "DownloadResult", "FetchResult", "default_download_dir", "download_crs", "fetch_bulk_files", "fetch_part",
           "file_stem", "find_bulk_file", "label_for", "parse_bulk_files", "read_sha256_sidecar", "register",
           "sha256_of", "verify_payload"]
