"""Text from a file, a server or a failed notebook made safe to print: its control characters (ANSI escapes, carriage
returns, bidirectional overrides) could clear, forge or reorder what a message shows."""
from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the bidirectional embedding/override/isolate marks.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def printable(text) -> str:
    """``str(text)`` with every control character escaped (``\\xNN``, ``\\uNNNN``); letters of every script kept."""
    return _UNSAFE.sub(_escaped, str(text))


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def one_line(text: str) -> str:
    """One printable line (colour codes dropped, other controls escaped), at most 500 characters."""
    text = printable(" ".join(_ANSI.sub("", text).split()))
    return text if len(text) <= 500 else text[:497] + "..."


def os_error_line(error: OSError) -> str:
    """``<path>: <reason>`` on one line (the path first, as the shell does)."""
    paths = [printable(p) for p in (error.filename, error.filename2) if p is not None]
    reason = error.strerror or str(error)
    return f"{' -> '.join(paths)}: {reason}" if paths else one_line(reason)
