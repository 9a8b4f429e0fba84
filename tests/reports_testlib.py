"""Tiny projects for the reports tests: notebooks written with nbformat, a schedule, a fixture."""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from oda_data.reports import manifest

# The tiny report: a parameters cell (currency, crs_source) and a cell that
# prints a marker; currency "XXX" raises, "SLEEP" runs for a minute.
REPORT_CODE = """\
import os
import time
if currency == "XXX":
    raise ValueError(f"unknown currency {currency!r} <script>")
if currency == "SLEEP":
    time.sleep(60)
print("TOTAL_IN_" + currency)
if crs_source is not None:
    with open(crs_source) as crs_file:
        print("CRS_ROWS:", crs_file.read().strip())
    print("CRS_ENV:", os.environ.get("ODA_CRS_SOURCE"))
"""

GOOD = "    notebook: notebooks/tiny.ipynb\n"


def write_notebook(path: Path, code: str = REPORT_CODE) -> Path:
    """A tiny notebook with a ``parameters`` cell (currency, crs_source), no kernel metadata."""
    parameters = nbformat.v4.new_code_cell('currency = "USD"\ncrs_source = None')
    parameters.metadata["tags"] = ["parameters"]
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# Tiny security report"), parameters,
                      nbformat.v4.new_code_cell(code)]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def write_schedule(root: Path, text: str) -> Path:
    schedule = root / "reports" / "schedule.yaml"
    schedule.parent.mkdir(parents=True, exist_ok=True)
    schedule.write_text(text, encoding="utf-8")
    return schedule


def entries(*specs: tuple[str, str]) -> str:
    """A schedule of tiny.ipynb entries: (name, currency or '' for the default)."""
    text = "reports:\n"
    for name, currency in specs:
        text += f"  - name: {name}\n" + GOOD
        if currency:
            text += f"    parameters: {{currency: {currency}}}\n"
    return text


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder (cwd) with notebooks/tiny.ipynb and no CRS source configured."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(manifest.CRS_SOURCE_ENV, raising=False)
    write_notebook(tmp_path / "notebooks" / "tiny.ipynb")
    return tmp_path


@pytest.fixture
def rendered(monkeypatch):
    """Replace the site rendering by a recorder: the manifests it was given."""
    calls: list[dict] = []
    monkeypatch.setattr("oda_data.reports.build.render",
                        lambda output, manifest, work=None: calls.append(manifest))
    return calls


def read_manifest(output: Path) -> dict:
    return json.loads((output / "manifest.json").read_text(encoding="utf-8"))


def statuses(output: Path) -> dict[str, str]:
    return {record["name"]: record["status"] for record in read_manifest(output)["reports"]}


def outputs_text(executed: Path) -> str:
    """Everything the executed notebook printed."""
    notebook = nbformat.read(executed, as_version=4)
    return "".join(output.get("text", "") for cell in notebook.cells
                   for output in cell.get("outputs", []))
