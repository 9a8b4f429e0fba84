"""The copy of an executed notebook that Sphinx reads for one report page.

The user's notebook and the executed notebook are never changed; this module
returns a new notebook dict with:

* the report's title as the only top heading (the notebook's own first
  heading, often generic like "Theme profile", is dropped);
* a link back to the home page, the stale banner (when the entry failed and
  this is its last good page) and the provenance box, as raw HTML cells;
* code shown on teaching pages and removed elsewhere (MyST-NB cell tags);
* every table followed by a link to its CSV file, which is returned too;
* every chart with alt text as an ``<img alt=...>`` of its own file, linked to
  the full-size image (legible when opened on a phone).
"""
from __future__ import annotations

import base64
import copy
import hashlib
import html
import json
import re
from dataclasses import dataclass, field

from . import tables

#: Folders of the site (relative to the site root) for files the pages link to.
DOWNLOADS = "downloads"
FIGURES = "figures"
#: Where the report pages live, relative to the site root.
PAGES = "reports"

_H1 = re.compile(r"^#\s+\S")
_IMAGE_SUFFIXES = {"image/svg+xml": ".svg", "image/png": ".png", "image/jpeg": ".jpg"}
_STATUS_WORDS = {"ok": "up to date", "unchanged": "up to date", "stale": "stale",
                 "failed": "failed", "skipped": "not built", "pending": "pending"}


@dataclass
class PageFiles:
    """The notebook Sphinx reads and the files its page links to (site-relative path -> bytes)."""

    notebook: dict
    files: dict[str, bytes] = field(default_factory=dict)


def status_word(status: str) -> str:
    """How the site names a manifest status."""
    return _STATUS_WORDS.get(status, status)


def prepare(entry: dict, executed: dict, executed_bytes: bytes) -> PageFiles:
    """The notebook copy for ``entry`` (a manifest record) from its executed notebook."""
    name = entry["name"]
    notebook = copy.deepcopy(executed)
    page = PageFiles(notebook=notebook)
    page.files[f"{DOWNLOADS}/{name}.ipynb"] = executed_bytes
    teaching = bool(entry.get("teaching"))

    cells = []
    for cell in notebook.get("cells", []):
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if "injected-parameters" in tags:
            continue  # the parameters are in the provenance box
        if cell.get("cell_type") == "code":
            if not teaching:
                tags.append("remove-input")
                if "parameters" in tags:
                    continue
            for output in cell.get("outputs", []):
                _charts_with_alt(output, page)
        cells.append(cell)
    _drop_first_heading(cells)
    counter = iter(range(1, 10_000))
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            cell["source"] = _with_markdown_csv_links(_text(cell["source"]), name, counter, page)
        for output in cell.get("outputs", []):
            _tables_with_csv_links(output, name, counter, page)

    title = entry.get("title") or name
    head = [
        {"cell_type": "markdown", "metadata": {}, "source": f"# {markdown_escape(title)}"},
        {"cell_type": "raw", "metadata": {"format": "text/html"}, "source": header_html(entry)},
    ]
    notebook["cells"] = head + cells
    if (notebook.get("nbformat"), notebook.get("nbformat_minor", 0)) >= (4, 5):
        for index, cell in enumerate(notebook["cells"]):
            cell.setdefault("id", f"oda-data-site-{index}")  # nbformat 4.5 wants cell ids
    # Pages carry no kernel to run; MyST-NB only needs the language for highlighting.
    notebook.setdefault("metadata", {}).setdefault("language_info", {"name": "python"})
    return page


def header_html(entry: dict) -> str:
    """Back link, stale banner and provenance box at the top of a report page."""
    esc = html.escape
    parts = ['<p class="back-home"><a href="../index.html">&larr; All reports</a></p>']
    if entry.get("status") in ("stale", "failed"):
        error = entry.get("error") or "unknown error"
        built = entry.get("built_at") or "an earlier build"
        parts.append(
            '<div class="stale-banner" role="alert"><p><strong>Stale page.</strong> The latest '
            f"build of this report failed; this is the last good page, built {esc(built)}.</p>"
            f'<pre class="build-error">{esc(error)}</pre></div>'
        )
    rows = [("Report", f"<strong>{esc(entry.get('title') or entry['name'])}</strong> "
             f'<span class="report-status status-{esc(entry.get("status", ""))}">'
             f"{esc(status_word(entry.get('status', '')))}</span>")]
    if entry.get("demo"):
        rows.append(("Demonstration", "Built on the bundled demonstration CRS file: invented "
                     "activities that show how the report works, not OECD figures."))
    parameters = entry.get("parameters") or {}
    if parameters:
        rows.append(("Parameters", "<ul>" + "".join(
            f"<li><code>{esc(str(key))} = {esc(_value_text(value))}</code></li>"
            for key, value in parameters.items()) + "</ul>"))
    data = entry.get("data") or []
    if data:
        rows.append(("Data", "<ul>" + "".join(_data_item(item) for item in data) + "</ul>"))
    software = [f"oda_data {esc(str(entry['package_version']))}"] if entry.get("package_version") else []
    if entry.get("git_commit"):
        software.append(f"git commit <code>{esc(str(entry['git_commit'])[:12])}</code>")
    if software:
        rows.append(("Software", ", ".join(software)))
    if entry.get("built_at"):
        rows.append(("Built", esc(str(entry["built_at"]))))
    notebook = esc(str(entry.get("notebook") or ""))
    rows.append(("Notebook", (
        f"<code>{notebook}</code>: open it in JupyterLab (<code>make lab</code>) and run it "
        f"with the parameters above; "
        f'<a href="../{DOWNLOADS}/{esc(entry["name"])}.ipynb" download>executed notebook</a>')))
    body = "".join(f'<dt>{label}</dt><dd class="{label.lower()}">{value}</dd>' for label, value in rows)
    parts.append(f'<aside class="provenance" aria-label="About this report"><dl>{body}</dl></aside>')
    return "\n".join(parts)


def markdown_escape(text: str) -> str:
    """``text`` as literal Markdown (every ASCII punctuation character backslash-escaped)."""
    return re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", " ".join(str(text).split()))


def _data_item(item: dict) -> str:
    esc = html.escape
    facts = [esc(str(item["file"]))] if item.get("file") else []
    if item.get("rows") is not None:
        facts.append(f"{item['rows']:,} rows" if isinstance(item["rows"], int) else esc(str(item["rows"])))
    if item.get("date"):
        facts.append(f"dated {esc(str(item['date']))}")
    checksum = (f' <span class="checksum">checksum <code title="{esc(str(item["checksum"]))}">'
                f'{esc(str(item["checksum"]))}</code></span>' if item.get("checksum") else "")
    label = esc(str(item.get("label") or item.get("file") or "data"))
    return f"<li>{label}" + (f" ({', '.join(facts)})" if facts else "") + f"{checksum}</li>"


def _value_text(value) -> str:
    """A parameter as the reader would type it in the notebook (Python, not YAML or JSON)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # "text", as Python writes it too
    return repr(value)


def _text(source) -> str:
    return "".join(source) if isinstance(source, list) else str(source or "")


def _drop_first_heading(cells: list[dict]) -> None:
    """Remove the notebook's first-level heading at the top; the report's title replaces it."""
    for cell in cells:
        if cell.get("cell_type") != "markdown":
            if cell.get("cell_type") == "code" and cell.get("outputs"):
                return
            continue
        lines = _text(cell["source"]).split("\n")
        for index, line in enumerate(lines):
            if line.strip():
                if _H1.match(line):
                    cell["source"] = "\n".join(lines[:index] + lines[index + 1:]).strip("\n")
                return
        continue


def _charts_with_alt(output: dict, page: PageFiles) -> None:
    """Replace an image output that has alt text by ``<img alt>`` of a file of its own."""
    data = output.get("data") or {}
    metadata = output.get("metadata") or {}
    for mime, suffix in _IMAGE_SUFFIXES.items():
        if mime not in data:
            continue
        alt = (metadata.get(mime) or {}).get("alt")
        if not alt:
            return  # no alt text from the notebook: MyST-NB renders the image as it is
        content = data[mime]
        raw = (_text(content).encode("utf-8") if mime == "image/svg+xml"
               else base64.b64decode(_text(content)))
        path = f"{FIGURES}/{hashlib.sha256(raw).hexdigest()[:20]}{suffix}"
        page.files[path] = raw
        alt = html.escape(" ".join(str(alt).split()))
        output["data"] = {
            "text/html": (f'<figure class="chart"><a href="../{path}" title="Open the chart full size">'
                          f'<img src="../{path}" alt="{alt}" class="chart-image"></a></figure>'),
            "text/plain": _text(data.get("text/plain", alt)),
        }
        output["metadata"] = {}
        return


def _tables_with_csv_links(output: dict, name: str, counter, page: PageFiles) -> None:
    data = output.get("data") or {}
    if "text/html" in data:
        text = _text(data["text/html"])
        pieces, last = [], 0
        for end, rows in tables.html_tables(text):
            pieces += [text[last:end], _csv_link(rows, name, counter, page)]
            last = end
        if pieces:
            data["text/html"] = "".join(pieces) + text[last:]
    elif "text/markdown" in data:
        data["text/markdown"] = _with_markdown_csv_links(_text(data["text/markdown"]), name, counter, page)


def _with_markdown_csv_links(text: str, name: str, counter, page: PageFiles) -> str:
    found = tables.markdown_tables(text)
    if not found:
        return text
    lines = text.split("\n")
    for end, rows in reversed(found):
        lines[end:end] = ["", _csv_link(rows, name, counter, page), ""]
    return "\n".join(lines)


def _csv_link(rows: list[list[str]], name: str, counter, page: PageFiles) -> str:
    number = next(counter)
    path = f"{DOWNLOADS}/{name}/table-{number}.csv"
    page.files[path] = tables.to_csv(rows).encode("utf-8")
    return (f'<a class="csv-download" href="../{path}" download>'
            f"Download table {number} as CSV</a>")
