"""Atomic file writes (reports, CRS cache, downloads): a hidden temporary file beside the target, then
:func:`os.replace`, so a reader sees the old file or the whole new one, never half of it."""
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
    """A new, empty temporary file beside ``path`` (or in ``folder``, same file system) for :func:`publish`; whatever
    is left of it on exit (an exception, an unfinished write) is deleted."""
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


def atomic_write(path: str | PathLike, data: str | bytes, *, folder: str | PathLike | None = None) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` through a temporary file and ``os.replace``."""
    path = Path(path)
    with temporary_beside(path, folder=folder) as temporary:
        with open(temporary, "wb") as stream:
            stream.write(data.encode("utf-8") if isinstance(data, str) else data)
            stream.flush()
            os.fsync(stream.fileno())
        publish(temporary, path)
