"""Run a notebook with papermill and read what it showed (shared by the notebook tests)."""
from __future__ import annotations

import re

import nbformat
import papermill

from conftest import REPO_ROOT
from oda_data.narrative import unescape_markdown

NOTEBOOKS = REPO_ROOT / "notebooks"


def run(tmp_path, name: str, **parameters) -> nbformat.NotebookNode:
    """Execute ``notebooks/<name>.ipynb`` with ``parameters``; return the executed notebook."""
    output = tmp_path / f"{name}.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"),
        str(output),
        parameters=parameters,
        kernel_name="python3",
        cwd=str(NOTEBOOKS),
        progress_bar=False,
        log_output=False,
    )
    return nbformat.read(output, as_version=4)


def said(notebook: nbformat.NotebookNode) -> str:
    """Everything the executed notebook showed a reader, as plain text."""
    pieces = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                pieces.append(output.text)
            elif "text/markdown" in output.get("data", {}):
                # Drop bold markers (not escaped asterisks from the data), then the escapes.
                unbolded = re.sub(r"(?<!\\)\*\*", "", output.data["text/markdown"])
                pieces.append(unescape_markdown(unbolded))
    return "\n".join(pieces)


def images(notebook: nbformat.NotebookNode) -> int:
    """How many PNG images the notebook shows."""
    return sum("image/png" in o.get("data", {}) for c in notebook.cells for o in c.get("outputs", []))
