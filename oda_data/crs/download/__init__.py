"""Download the OECD CRS bulk files: :mod:`.locate` reads their addresses from the CRS dataflow's
annotations, :mod:`.fetch` streams one into ``<name>.part`` on urllib3's ``Retry`` (one budget of retries
and seconds, resumed with ``Range``), :mod:`.bulk_file` checks it, installs it under its
final name and ingests it; :mod:`.cli` is ``oda-data download crs``."""
from __future__ import annotations

from .bulk_file import (DOWNLOADS_ENV_VAR, DownloadResult, default_download_dir, download_crs,  # noqa: F401
                        file_stem, read_sha256_sidecar, verify_payload)
from .cli import register  # noqa: F401
from .fetch import Budget, DownloadError, fetch_part  # noqa: F401
from .locate import (BULK_URL_ENV_VAR, DATAFLOW_URL_ENV_VAR, BulkFile, fetch_bulk_files,  # noqa: F401
                     find_bulk_file, label_for, parse_bulk_files)
