"""The error and the warning every CRS reader raises, in one place so that each reader module can use them."""
from __future__ import annotations

from .._text import printable


class CRSFormatError(ValueError):
    """A CRS source could not be read: the message names the file, the line and the problem (control characters
    of text quoted from the file escaped)."""

    def __init__(self, message: str):
        super().__init__(printable(message))


class CRSLayoutWarning(UserWarning):
    """A reader made a documented choice the user should know about (e.g. DD over _T)."""


class CRSCacheWarning(UserWarning):
    """A cached file was damaged and is being rebuilt, or a background conversion failed."""
