"""Atomic file writes shared by the reports, the CRS cache and the downloader.

Every file the package writes for others to read goes first to a temporary
file in the *same folder* (so that :func:`os.replace` is an atomic rename,
never a copy across file systems), then is moved over its final name: readers
see the old file or the whole new one, never half of one. Temporary names are
``.<final name>.<random><suffix>`` (suffix :data:`TEMP_SUFFIX` by default),
hidden, and recognisable by the clean-ups that remove the leftovers of an
interrupted run (``oda-data cache clear``, ``oda-data reports build``).
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
    """Yield a new, empty temporary file in the folder of ``path``; remove it on exit.

    Write to it, then move it over ``path`` with :func:`publish` (or
    :func:`os.replace`) inside the ``with`` block; whatever is still there on
    exit (an exception, an unfinished write) is deleted.

    Parameters
    ----------
    path : path-like
        The final file; its folder must exist.
    suffix : str
        End of the temporary name (a tool may need one, e.g. ``.tmp.ipynb``).
    folder : path-like, optional
        Where to create it instead (same file system as ``path``): the reports
        build keeps its temporary files in a folder of its own.
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
    """Write ``data`` (text as UTF-8) to ``path`` through a temporary file and ``os.replace``.

    Readers see either the old file or the whole new one, never a partial
    write; the temporary file is removed when anything fails. ``folder``: see
    :func:`temporary_beside`.
    """
    path = Path(path)
    with temporary_beside(path, folder=folder) as temporary:
        with open(temporary, "wb") as stream:
            stream.write(data.encode("utf-8") if isinstance(data, str) else data)
            stream.flush()
            os.fsync(stream.fileno())
        publish(temporary, path)
