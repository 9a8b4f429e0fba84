"""Notebook paths and globs of a schedule, confined to the project folder.

A schedule names notebooks relative to the project: no absolute paths, no
``..``, no symbolic link leading out. A glob is matched by a bounded walk of
the project (hidden folders and ``.ipynb_checkpoints`` skipped, links not
followed), so ``**`` can neither wander the file system nor run for long.
"""
from __future__ import annotations

import fnmatch
import functools
import os
import re
from pathlib import Path, PurePosixPath

#: A glob that would look at more folders than this is refused (a schedule's
#: globs cover a few folders of notebooks).
MAX_FOLDERS = 2000

_GLOB_CHARS = re.compile(r"[*?\[]")


def is_glob(text: str) -> bool:
    return bool(_GLOB_CHARS.search(text))


def path_problem(text: str) -> str | None:
    """Why ``text`` is not a project-relative notebook path or glob (None when it is)."""
    if text.startswith(("/", "\\", "~")) or re.match(r"^[A-Za-z]:", text):
        return "must be relative to the project folder (no absolute path, no ~)"
    if "\\" in text:
        return "must use '/' between folders"
    parts = PurePosixPath(text).parts
    if ".." in parts:
        return "must stay inside the project folder (no '..')"
    if "**" in text and any("**" in part and part != "**" for part in parts):
        return "uses '**' inside a name; '**' must be a whole path part (notebooks/**/*.ipynb)"
    return None


def resolve(pattern: str, folders: list[Path]) -> list[tuple[str, Path, Path]] | str:
    """(project-relative POSIX path, absolute path, project folder) of each matching notebook.

    The first folder of ``folders`` with a match wins. Returns a message (str)
    instead when a glob would visit more than :data:`MAX_FOLDERS` folders.
    """
    for folder in folders:
        root = folder.resolve()
        if not is_glob(pattern):
            candidate = root / pattern
            if candidate.is_file() and _inside(candidate.resolve(), root):
                return [(PurePosixPath(pattern).as_posix(), candidate, root)]
            continue
        found = _walk(root, PurePosixPath(pattern).parts)
        if isinstance(found, str):
            return found
        if found:
            return [(relative, root / relative, root) for relative in found]
    return []


def _walk(root: Path, parts: tuple[str, ...]) -> list[str] | str:
    # Start below the pattern's literal folders: notebooks/teaching/*.ipynb looks
    # only in notebooks/teaching.
    literal = []
    for part in parts[:-1]:
        if is_glob(part):
            break
        literal.append(part)
    start = root.joinpath(*literal)
    if not start.is_dir() or not _inside(start.resolve(), root):
        return []
    rest = parts[len(literal):]
    matches, visited = [], 0
    for folder, subfolders, files in os.walk(start, followlinks=False):
        visited += 1
        if visited > MAX_FOLDERS:
            return (f"the glob looks at more than {MAX_FOLDERS} folders; name the folder of "
                    "the notebooks (e.g. notebooks/teaching/*.ipynb)")
        subfolders[:] = sorted(d for d in subfolders
                               if not d.startswith(".") and d != "__pycache__")
        relative = Path(folder).relative_to(start).parts
        if "**" not in rest and len(relative) >= len(rest) - 1:
            subfolders[:] = []  # deeper folders cannot match a pattern without **
        for name in sorted(files):
            if name.startswith(".") or not name.endswith(".ipynb"):
                continue
            path = Path(folder) / name
            if _match(rest, (*relative, name)) and not path.is_symlink():
                matches.append(PurePosixPath(*literal, *relative, name).as_posix())
    return sorted(matches)


@functools.lru_cache(maxsize=4096)
def _match(pattern: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    """Glob match of path parts, ``**`` standing for any number of folders."""
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_match(pattern[1:], parts[skip:]) for skip in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], pattern[0]) and _match(pattern[1:],
                                                                                  parts[1:])


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents
