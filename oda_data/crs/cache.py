"""Parquet cache of CRS sources (work in progress: signatures first).

``cache_dir()`` is the folder holding converted sources; ``ingest(path)``
converts one source to Parquet once and returns the cached file.
"""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

#: Environment variable that overrides the cache folder.
CACHE_ENV_VAR = "ODA_DATA_CACHE"


def cache_dir() -> Path:
    """Return the cache folder (created if missing).

    ``$ODA_DATA_CACHE`` when set, otherwise the platform's user cache folder
    for ``oda_data`` (``platformdirs.user_cache_dir``), sub-folder ``crs``.
    """
    override = os.environ.get(CACHE_ENV_VAR)
    base = Path(override).expanduser() if override else Path(
        platformdirs.user_cache_dir("oda_data", appauthor=False)
    ) / "crs"
    base.mkdir(parents=True, exist_ok=True)
    return base


def ingest(path, *, progress: bool = True) -> Path:
    """Convert the CRS source at ``path`` to Parquet in :func:`cache_dir` once.

    Returns the path of the cached Parquet file (the existing one when the
    source's resolved path, size and modification time are unchanged).
    """
    raise NotImplementedError("ingest is being implemented")
