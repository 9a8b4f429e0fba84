"""Small text helpers shared by the reports modules."""
from __future__ import annotations

import datetime as dt
import re

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def one_line(text: str) -> str:
    """One line of plain text (no colour codes), at most 500 characters."""
    text = " ".join(_ANSI.sub("", text).split())
    return text if len(text) <= 500 else text[:497] + "..."


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def os_error_line(error: OSError) -> str:
    """``<path>: <reason>`` on one line (the path first, as the shell does)."""
    paths = [str(p) for p in (error.filename, error.filename2) if p is not None]
    reason = error.strerror or str(error)
    return f"{' -> '.join(paths)}: {reason}" if paths else one_line(reason)
