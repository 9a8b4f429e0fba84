"""What the schedule needs from a notebook: its first heading and its declared parameters."""
from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import logging
import os
import re
from pathlib import Path
from typing import Any

from .._files import atomic_write

#: Bump when what is remembered changes.
_CACHE_FORMAT = 1


def _cache_file() -> Path:
    """``$ODA_DATA_CACHE/reports-notebooks.json``, else the user cache folder of oda_data."""
    override = os.environ.get("ODA_DATA_CACHE")
    if override:
        return Path(override).expanduser() / f"reports-notebooks-{_CACHE_FORMAT}.json"
    import platformdirs

    return (Path(platformdirs.user_cache_dir("oda_data", appauthor=False)) / "reports"
            / f"notebooks-{_CACHE_FORMAT}.json")


def _read_cache() -> dict:
    try:
        cache = json.loads(_cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return cache if isinstance(cache, dict) else {}


def notebook_facts(path: Path) -> tuple[str, dict]:
    """A notebook's first ``#`` heading and declared parameters (with defaults).

    Remembered by the SHA-256 of the notebook's bytes in a small cache file
    (see :func:`_cache_file`): an unchanged schedule is checked without
    importing papermill and nbformat (about 3 s).
    """
    content = path.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    cache = _read_cache()
    if isinstance(cache.get(digest), list) and len(cache[digest]) == 2:
        heading, declared = cache[digest]
        if isinstance(heading, str) and isinstance(declared, dict):
            return heading, declared
    facts = _read_facts(path, json.loads(content.decode("utf-8"))["cells"])
    cache[digest] = list(facts)
    with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
        _cache_file().parent.mkdir(parents=True, exist_ok=True)
        atomic_write(_cache_file(), json.dumps(dict(list(cache.items())[-200:])))
    return facts


def _read_facts(path: Path, cells: list) -> tuple[str, dict]:
    heading = ""
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            match = re.search(r"^#\s+(.+)$", "".join(cell.get("source", "")), re.MULTILINE)
            if match:
                heading = match.group(1).strip()
                break
    # As JSON keeps it (the manifest and the cache): a tuple default becomes a list.
    return heading, json.loads(json.dumps(declared_parameters(path, cells), default=repr))


def declared_parameters(path: Path, cells: list | None = None) -> dict[str, Any]:
    """The parameters a notebook declares, with their default values, in order.

    papermill's ``inspect_notebook`` reads the ``parameters`` cell; names it
    cannot parse (it trips on some comments) are taken from the cell's Python
    syntax tree. A default that is not a plain literal stays source text.
    """
    from papermill import inspect_notebook

    logger = logging.getLogger("papermill")
    level, logger.level = logger.level, logging.ERROR  # "Unable to parse line ..." noise
    try:
        inspected = inspect_notebook(str(path))
    except Exception:  # papermill could not read it: the syntax tree below still can
        inspected = {}
    finally:
        logger.setLevel(level)
    declared = {name: _literal(info.get("default")) for name, info in inspected.items()}
    if cells is None:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            try:
                tree = ast.parse("".join(cell.get("source", "")))
            except SyntaxError:
                break
            for statement in tree.body:
                targets = (statement.targets if isinstance(statement, ast.Assign)
                           else [statement.target] if isinstance(statement, ast.AnnAssign) else [])
                for target in targets:
                    if isinstance(target, ast.Name) and target.id not in declared:
                        value = getattr(statement, "value", None)
                        declared[target.id] = _literal(ast.unparse(value) if value else None)
            break
    return declared


def _literal(source: str | None) -> Any:
    if source is None:
        return None
    try:
        return ast.literal_eval(source)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return source
