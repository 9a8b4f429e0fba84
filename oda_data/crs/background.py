"""Conversions into the cache that run in a thread after a first read (see :mod:`oda_data.crs.cache`).

One thread per source key at a time. The threads are not daemons: a script
that ends waits for them, so the cache is there next time. :func:`wait`
(called before every look into the cache of that source) joins the source's
thread and reports its failure as a :class:`~oda_data.crs.errors.CRSCacheWarning`.
"""
from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from pathlib import Path

from .._text import printable
from .errors import CRSCacheWarning

_RUNNING: dict[str, tuple[threading.Thread, Path]] = {}  # source key prefix -> (thread, source)
_FAILED: dict[str, BaseException] = {}


def start(prefix: str, source: Path, convert: Callable[[], object]) -> None:
    """Run ``convert()`` in a thread; its exception is kept for :func:`wait`."""
    def work():
        try:
            convert()
        except BaseException as error:  # noqa: BLE001 - reported by the next wait
            _FAILED[prefix] = error

    thread = threading.Thread(target=work, name=f"oda_data: caching {source.name}")
    _RUNNING[prefix] = (thread, source)
    thread.start()


def wait(prefix: str, source: Path) -> None:
    """Join the conversion of ``prefix`` if one runs; warn if it failed."""
    thread, _ = _RUNNING.pop(prefix, (None, None))
    if thread is not None:
        thread.join()
    error = _FAILED.pop(prefix, None)
    if error is not None:
        warnings.warn(f"converting {printable(source)} into the cache in the background failed "
                      f"({printable(str(error).splitlines()[0] if str(error) else type(error).__name__)}); "
                      "the next read converts it again", CRSCacheWarning, stacklevel=4)


def wait_all() -> None:
    """Join every conversion of this process."""
    for prefix, (_, source) in list(_RUNNING.items()):
        wait(prefix, source)
