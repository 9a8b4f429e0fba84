"""Atomic file writes shared by the reports, the CRS cache and the downloader.

A file goes first to a hidden temporary file in the same folder (``.<name>.<random><suffix>``,
:data:`TEMP_SUFFIX`), then :func:`os.replace` moves it over its name: readers see the old file or
the whole new one; the clean-ups (``oda-data cache clear``, ``reports build``) find the leftovers.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from os import PathLike
from pathlib import Path

#: Suffix of every temporary file written here (``.*.tmp`` finds the leftovers).
TEMP_SUFFIX = ".tmp"


@contextlib.contextmanager
def temporary_beside(path: str | PathLike, *, suffix: str = TEMP_SUFFIX,
                     folder: str | PathLike | None = None) -> Iterator[Path]:
    """Yield a new, empty temporary file beside ``path`` (or in ``folder``, same file system); remove it on exit.

    Move it over ``path`` with :func:`publish` inside the ``with`` block; whatever is left on exit
    (an exception, an unfinished write) is deleted. ``suffix``: the name's end (``.tmp.ipynb``).
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=folder or path.parent, prefix=f".{path.name}.",
                                         suffix=suffix)
    os.close(handle)
    try:
        yield Path(temporary)
    finally:
        Path(temporary).unlink(missing_ok=True)


def publish(temporary: str | PathLike, target: str | PathLike) -> None:
    """Make ``temporary`` readable by all (mkstemp makes it private) and move it over ``target``."""
    os.chmod(temporary, 0o644)
    os.replace(temporary, target)


def atomic_write(path: str | PathLike, data: str | bytes, *,
                 folder: str | PathLike | None = None) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` through a temporary file and ``os.replace``."""
    path = Path(path)
    with temporary_beside(path, folder=folder) as temporary:
        with open(temporary, "wb") as stream:
            stream.write(data.encode("utf-8") if isinstance(data, str) else data)
            stream.flush()
            os.fsync(stream.fileno())
        publish(temporary, path)
