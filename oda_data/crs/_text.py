"""Make text from a file or a server safe to print in a message.

A CRS file's header, a cell, a server's reply or a file name can hold control
characters: an ANSI escape (``\\x1b[2J`` clears the terminal), a carriage
return that overwrites the start of the line, a newline that forges a second
message, or a Unicode bidirectional override that reorders what is shown.
Every message that quotes such text passes it through :func:`printable`.
"""
from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the bidirectional embedding/override/isolate marks.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def printable(text) -> str:
    """``text`` (any object, via ``str``) with every control character escaped as ``\\xNN``/``\\uNNNN``.

    Ordinary letters of every script, accents and emoji are kept as they are:
    ``printable("Côte d'Ivoire\\x1b[31m")`` is ``"Côte d'Ivoire\\\\x1b[31m"``.
    """
    return _UNSAFE.sub(_escaped, str(text))
