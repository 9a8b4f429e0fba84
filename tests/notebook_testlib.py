"""Run a notebook with papermill and read what it showed (shared by the notebook tests).

:func:`run` executes a notebook; :func:`said` is everything it showed a reader as plain
text (Markdown, table cells, chart alt texts and the text inside SVG charts);
:func:`tables` are its HTML tables as DataFrames of text. :func:`money_figures` and
:func:`people_figures` find the figures in that text, for the honesty checks.
"""
from __future__ import annotations

import html
import re

import nbformat
import pandas as pd
import papermill

from conftest import REPO_ROOT
from oda_data import fmt

NOTEBOOKS = REPO_ROOT / "notebooks"

#: "approximately $6 billion", "¥0.7 trillion", "$15.1 million", "$442,000".
MONEY = re.compile(r"(?:approximately )?[$¥]\d[\d,]*(?:\.\d+)?(?: (?:million|billion|trillion))?")
#: "approximately 20,000 people", "65 graduates", "2,653 personnel".
PEOPLE = re.compile(r"(approximately )?(\d[\d,]*) (?:people|persons|personnel|graduates|trainees)\b")


def unescape(text: str) -> str:
    """Undo ``fmt.escape`` (read a notebook's Markdown output as plain text)."""
    text = text.replace(fmt.DOLLAR, "$")
    text = re.sub(r"\\([\\`*_\[\]|~#\-+.)])", r"\1", text)
    for char, entity in (("<", "&lt;"), (">", "&gt;")):
        text = text.replace(entity, char)
    return text.replace("&amp;", "&")


def read_table(html_text: str) -> pd.DataFrame:
    """The cells of the first table of ``fmt.table``'s HTML, as text."""
    table_html = re.search(r"<table\b.*?</table>", html_text, flags=re.S)
    rows = [
        [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<t[dh]\b[^>]*>(.*?)</t[dh]>", row, flags=re.S)]
        for row in re.findall(r"<tr\b[^>]*>(.*?)</tr>", table_html.group(0) if table_html else "", flags=re.S)
    ]
    if not rows:
        raise ValueError("read_table: no <table> rows in the given HTML")
    return pd.DataFrame(rows[1:], columns=rows[0])


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


def _outputs(notebook: nbformat.NotebookNode):
    for cell in notebook.cells:
        yield from cell.get("outputs", [])


def _html_text(markup: str) -> str:
    """The text of HTML or SVG markup: styles dropped, tags to spaces, entities decoded."""
    markup = re.sub(r"<style.*?</style>", " ", markup, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


def pieces(notebook: nbformat.NotebookNode) -> list[str]:
    """Each output's text as a reader sees it, one string per output (and per table row)."""
    found = []
    for output in _outputs(notebook):
        if output.output_type == "stream":
            found.append(output.text)
            continue
        data = output.get("data", {})
        if "text/markdown" in data:
            # Drop bold markers (not escaped asterisks from the data), then the escapes.
            found.append(unescape(re.sub(r"(?<!\\)\*\*", "", data["text/markdown"])))
        elif "text/html" in data:
            # One piece per table row, so that what a row says stays together.
            rows = re.findall(r"<tr.*?</tr>", data["text/html"], flags=re.S) or [data["text/html"]]
            found.extend(" | ".join(_html_text(cell).strip() for cell in re.findall(r"<t[dh].*?</t[dh]>", row, flags=re.S))
                         or _html_text(row) for row in rows)
        if "image/svg+xml" in data:
            found.append(data.get("text/plain", ""))
            found.append(" ".join(t.strip() for t in re.findall(r"<text[^>]*>(.*?)</text>", data["image/svg+xml"], flags=re.S)))
    return found


def said(notebook: nbformat.NotebookNode) -> str:
    """Everything the executed notebook showed a reader, as plain text."""
    return "\n".join(pieces(notebook))


def tables(notebook: nbformat.NotebookNode) -> list[pd.DataFrame]:
    """Every HTML table the notebook shows, as a DataFrame of cell texts."""
    return [
        read_table(output.data["text/html"])
        for output in _outputs(notebook)
        if "<table" in output.get("data", {}).get("text/html", "")
    ]


def charts(notebook: nbformat.NotebookNode) -> list[dict]:
    """The SVG chart outputs (``style.show``): their data bundles."""
    return [o.data for o in _outputs(notebook) if "image/svg+xml" in o.get("data", {})]


def images(notebook: nbformat.NotebookNode) -> int:
    """How many images (SVG or PNG) the notebook shows."""
    return sum(bool({"image/svg+xml", "image/png"} & set(o.get("data", {}))) for o in _outputs(notebook))


def money_figures(text: str) -> list[str]:
    """Every amount of money in ``text``, with its "approximately" where it has one."""
    return MONEY.findall(text.replace("Approximately ", "approximately "))  # a sentence may start with it


def people_figures(text: str) -> list[tuple[bool, int]]:
    """Every number of people in ``text``: (said approximately?, number)."""
    return [(bool(approx), int(number.replace(",", ""))) for approx, number in PEOPLE.findall(text)]
