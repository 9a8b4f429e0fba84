"""Download the OECD CRS bulk files: locate, fetch with progress, verify, ingest.

The OECD publishes the Creditor Reporting System as bulk files (one zip per
year, and the whole CRS as one Parquet file, full or reduced). Their download
addresses are not fixed: they are listed in the annotations of the CRS
dataflow's SDMX structure message, so a download has four steps, one module
each:

1. **locate** (:mod:`.locate`) -- fetch the dataflow XML
   (:data:`DEFAULT_DATAFLOW_URL`) and map each annotation's label
   (``"CRS-Parquet"``, ``"CRS-reduced-parquet"``, ``"CRS 2018 (dotStat
   format)"``) to its URL (:func:`parse_bulk_files`);
2. **fetch** (:mod:`.fetch`) -- stream the file into ``<name>.part`` with a
   progress bar, resuming with an HTTP ``Range`` request where the server
   allows it and retrying connection errors and 5xx answers with a bounded
   backoff (:func:`fetch_to_part`);
3. **verify** (:mod:`.verify`) -- the OECD publishes no checksum, so check
   what can be checked (the byte count against ``Content-Length``, every zip
   member's CRC, the Parquet footer), then record a SHA-256 sidecar
   (``<file>.sha256``, the ``sha256sum`` format) and a provenance sidecar
   (``<file>.json``). Only then is the file moved to its final name with
   :func:`os.replace`, so a half file never sits under the final name;
4. **ingest** -- hand the file to :func:`oda_data.crs.cache.ingest`.

:func:`download_crs` (:mod:`.bulk_file`) runs the four steps; :mod:`.cli`
registers the command line::

    oda-data download crs (--year YYYY | --full | --reduced | --url URL | --list)
                          [--dest DIR] [--no-ingest] [--force] [--quiet]
                          [--dataflow-url URL] [--base-url URL] [--retries N]

``$ODA_OECD_DATAFLOW_URL`` and ``$ODA_OECD_BULK_URL`` override the dataflow
address and the bulk-file address prefix (tests point them at a local
server; a mirror can use them too). Text from a server (labels, status
reasons, headers) is escaped of control characters before it reaches a
message (:func:`oda_data._text.printable`).
"""
from __future__ import annotations

from .bulk_file import DownloadResult, default_download_dir, download_crs, file_stem
from .cli import register
from .fetch import (
    CHUNK_SIZE, DEFAULT_BACKOFF_S, DEFAULT_RETRIES, DEFAULT_TIMEOUT, MAX_BACKOFF_S,
    DownloadError, FetchResult, discard_part, fetch_to_part,
)
from .locate import (
    BULK_URL_ENV_VAR, DATAFLOW_URL_ENV_VAR, DEFAULT_BULK_URL, DEFAULT_DATAFLOW_URL,
    FULL_PARQUET_LABEL, REDUCED_PARQUET_LABEL, YEAR_LABEL_TEMPLATE,
    BulkFile, fetch_bulk_files, find_bulk_file, label_for, parse_bulk_files,
)
from .verify import read_sha256_sidecar, sha256_of, verify_payload

__all__ = [
    "BULK_URL_ENV_VAR", "CHUNK_SIZE", "DATAFLOW_URL_ENV_VAR", "DEFAULT_BACKOFF_S", "DEFAULT_BULK_URL",
    "DEFAULT_DATAFLOW_URL", "DEFAULT_RETRIES", "DEFAULT_TIMEOUT", "FULL_PARQUET_LABEL", "MAX_BACKOFF_S",
    "REDUCED_PARQUET_LABEL", "YEAR_LABEL_TEMPLATE", "BulkFile", "DownloadError", "DownloadResult",
    "FetchResult", "default_download_dir", "discard_part", "download_crs", "fetch_bulk_files",
    "fetch_to_part", "file_stem", "find_bulk_file", "label_for", "parse_bulk_files",
    "read_sha256_sidecar", "register", "sha256_of", "verify_payload",
]
