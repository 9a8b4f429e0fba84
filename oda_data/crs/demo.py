"""Which CRS file the CRS notebooks read: the ``crs_source`` parameter, else ``$ODA_CRS_SOURCE``, else the bundled
demonstration file (invented activities in a real layout, ``data/crs_demo.md``); :attr:`CRSSource.is_demo` says
whether the file *is* that file (or a copy), so that a notebook never shows demonstration numbers as OECD figures."""
from __future__ import annotations

import filecmp
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEMO_PATH", "ENV_VAR", "CRSSource", "CRSSourceError", "choose_source"]

ENV_VAR = "ODA_CRS_SOURCE"
#: The bundled demonstration file (made by ``tests/fixtures/crs/make_demo_crs.py``).
DEMO_PATH = Path(__file__).resolve().parent.parent / "data" / "crs_demo_security_2016_2020.csv"


class CRSSourceError(OSError):
    """The chosen CRS source is missing or cannot be read."""


@dataclass(frozen=True)
class CRSSource:
    """A CRS file, where it came from (``"parameter"``, ``"ODA_CRS_SOURCE"``, ``"bundled demo"``), whether it is
    the demonstration file. Outputs show ``name``, never ``path`` (they hold no absolute paths)."""

    path: Path
    origin: str
    is_demo: bool

    @property
    def name(self) -> str:
        return self.path.name


def _is_demo(path: Path) -> bool:
    # A copy of the demonstration file under another name is still invented data.
    return path == DEMO_PATH or filecmp.cmp(path, DEMO_PATH, shallow=False)


def choose_source(crs_source=None) -> CRSSource:
    """The CRS file to read: ``crs_source`` (None or "" is not given; relative to the current folder), else
    ``$ODA_CRS_SOURCE``, else the demonstration file. CRSSourceError naming the path and where it came from."""
    from_env = os.environ.get(ENV_VAR, "").strip()
    if crs_source is not None and str(crs_source).strip():
        given, origin, named_by = str(crs_source).strip(), "parameter", "the crs_source parameter"
    elif from_env:
        given, origin, named_by = from_env, ENV_VAR, f"the environment variable {ENV_VAR}"
    else:
        return CRSSource(DEMO_PATH, "bundled demo", True)
    path = Path(given).expanduser().resolve()
    problem = None
    if not path.exists():
        problem = "does not exist"
    elif not path.is_file():
        problem = "is not a file"
    elif not os.access(path, os.R_OK):
        problem = "cannot be read"
    if problem:
        raise CRSSourceError(f"CRS source {given!r} (from {named_by}) {problem}; give the path of an OECD CRS file, "
                             f"or unset crs_source and {ENV_VAR} to use the bundled demonstration data")
    if origin == "parameter" and from_env and _names(from_env, path):
        origin = ENV_VAR  # `oda-data reports build` passes $ODA_CRS_SOURCE on as the parameter
    return CRSSource(path, origin, _is_demo(path))


def _names(given: str, path: Path) -> bool:
    """Whether ``given`` (a path, maybe relative to the current folder) is the file ``path``."""
    candidate = Path(given).expanduser()
    return candidate.is_file() and os.path.samefile(candidate, path)
