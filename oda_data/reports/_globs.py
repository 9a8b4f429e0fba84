"""Notebook paths and globs of a schedule, confined to the project folder.

A glob is matched by a bounded walk of the project (hidden folders skipped, links not
followed), so ``**`` can neither wander the file system nor run for long.
"""
from __future__ import annotations

import fnmatch
import functools
import os
import re
from pathlib import Path, PurePosixPath

#: A glob that would look at more folders than this is refused (a schedule's cover a few).
MAX_FOLDERS = 2000


def is_glob(text: str) -> bool:
    return bool(re.search(r"[*?\[]", text))


def path_problem(text: str) -> str | None:
    """Why ``text`` is not a project-relative notebook path or glob (None when it is)."""
    if text.startswith(("/", "\\", "~")) or re.match(r"^[A-Za-z]:", text):
        return "must be relative to the project folder (no absolute path, no ~)"
    if "\\" in text:
        return "must use '/' between folders"
    parts = PurePosixPath(text).parts
    if ".." in parts:
        return "must stay inside the project folder (no '..')"
    if any("**" in part and part != "**" for part in parts):
        return "uses '**' inside a name; '**' must be a whole path part (notebooks/**/*.ipynb)"
    return None


def resolve(pattern: str, folders: list[Path]) -> list[tuple[str, Path, Path]] | str:
    """(project-relative POSIX path, absolute path, project folder) of each matching notebook,
    from the first folder with a match; a message instead when a glob would look too far."""
    for folder in folders:
        root = folder.resolve()
        if not is_glob(pattern):
            candidate = root / pattern
            if candidate.is_file() and candidate.resolve().is_relative_to(root):
                return [(PurePosixPath(pattern).as_posix(), candidate, root)]
            continue
        found = _walk(root, PurePosixPath(pattern).parts)
        if isinstance(found, str) or found:
            return found if isinstance(found, str) else [(rel, root / rel, root) for rel in found]
    return []


def _walk(root: Path, parts: tuple[str, ...]) -> list[str] | str:
    # Start below the pattern's literal folders: notebooks/teaching/*.ipynb looks only there.
    literal = []
    for part in parts[:-1]:
        if is_glob(part):
            break
        literal.append(part)
    start = root.joinpath(*literal)
    if not start.is_dir() or not start.resolve().is_relative_to(root):
        return []
    rest = parts[len(literal):]
    matches = []
    for visited, (folder, subfolders, files) in enumerate(os.walk(start, followlinks=False), 1):
        if visited > MAX_FOLDERS:
            return (f"the glob looks at more than {MAX_FOLDERS} folders; name the folder of "
                    "the notebooks (e.g. notebooks/teaching/*.ipynb)")
        relative = Path(folder).relative_to(start).parts
        deeper = "**" in rest or len(relative) < len(rest) - 1  # else no deeper folder can match
        subfolders[:] = sorted(d for d in subfolders if deeper and not d.startswith(".")
                               and d != "__pycache__")
        for name in files:
            if not name.startswith(".") and name.endswith(".ipynb") and _match(
                    rest, (*relative, name)) and not (Path(folder) / name).is_symlink():
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
