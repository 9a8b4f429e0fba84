"""Download the OECD CRS bulk files: :mod:`.locate` finds them in the CRS dataflow, :mod:`.fetch` streams one
on urllib3's ``Retry``, :mod:`.bulk_file` checks, installs and ingests it; :mod:`.cli` is the command."""
from __future__ import annotations

from .bulk_file import DOWNLOADS_ENV_VAR, DownloadResult, default_download_dir, download_crs  # noqa: F401
from .cli import register  # noqa: F401
from .fetch import DownloadError  # noqa: F401
from .locate import (BULK_URL_ENV_VAR, DATAFLOW_URL_ENV_VAR, BulkFile, fetch_bulk_files, find_bulk_file,  # noqa: F401
                     label_for, parse_bulk_files)
