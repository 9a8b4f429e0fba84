"""The copy of an executed notebook that Sphinx reads for one report page (:func:`prepare`)."""
from __future__ import annotations

import base64
import copy
import csv
import functools
import hashlib
import io
import json
import posixpath
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .manifest import PROBLEMS

#: Folders of the site (relative to its root) for the files pages link to, and for the pages.
DOWNLOADS, FIGURES, PAGES = "downloads", "figures", "reports"
#: The column (and its value) that CSV files of demonstration-data pages carry first.
DEMO_COLUMN, DEMO_VALUE = "data_source", "demonstration data (invented activities), not OECD figures"
#: A parameter shown only when another parameter has a value (or is not declared).
SHOWN_ONLY_WITH = {"base_year": ("prices", "constant")}
TEMPLATES = Path(__file__).with_name("templates")

_H1 = re.compile(r"\A(?:[ \t]*\n)*#[ \t]+\S[^\n]*\n*")  # a first line that is a top heading
_IMAGE_SUFFIXES = {"image/svg+xml": ".svg", "image/png": ".png", "image/jpeg": ".jpg"}
_NOTEBOOK_LINK = re.compile(r"(\[[^\]\n]*\])\(<?([^()\s<>#]+\.ipynb)>?(#[^()\s]*)?\)")
# fmt.DOLLAR: a "$" MathJax leaves alone; as Markdown text it is "\$" (raw HTML is text here).
_DOLLAR = '<span class="tex2jax_ignore mathjax_ignore">&#36;</span>'


@dataclass
class PageFiles:
    """The notebook Sphinx reads, the files its page links to, its ``findings`` cell's Markdown."""

    notebook: dict
    files: dict[str, bytes] = field(default_factory=dict)
    findings: str | None = None


@functools.lru_cache(maxsize=1)
def templates():
    """The site's Jinja2 templates: every value escaped, backquotes too (a line of them would
    end the Markdown fence around raw HTML)."""
    import jinja2
    from markupsafe import Markup, escape

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True,
        lstrip_blocks=True, keep_trailing_newline=True,
        finalize=lambda value: Markup(escape("" if value is None else value)).replace(
            "`", Markup("&#96;")))
    environment.globals.update(PAGES=PAGES, PROBLEMS=PROBLEMS)
    return environment


def parts():
    return templates().get_template("parts.html").module


def prepare(entry: dict, executed: dict, executed_bytes: bytes, pages: dict[str, str]) -> PageFiles:
    """The page of ``entry`` (a manifest record): its title as the only top heading, the provenance box, code on
    teaching pages only, solutions folded, charts as files, CSV downloads. ``pages``: notebook path -> page name."""
    name, teaching = entry["name"], bool(entry.get("teaching"))
    notebook = copy.deepcopy(executed)
    page = PageFiles(notebook=notebook)
    page.files[f"{DOWNLOADS}/{name}.ipynb"] = executed_bytes
    folder = posixpath.dirname(str(entry.get("notebook") or ""))
    csv_names: Counter = Counter()
    cells = []
    for cell in notebook.get("cells", []):
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if "injected-parameters" in tags or ("parameters" in tags and not teaching):
            continue  # the parameters are in the provenance box
        if cell.get("cell_type") == "markdown":
            cell["source"] = _markdown(_text(cell["source"]), folder, pages)
        elif cell.get("cell_type") == "code":
            if not teaching:
                tags.append("remove-input")
            if "solution" in tags:
                tags.append("hide-cell")  # folded: a learner opens it
            for output in cell.get("outputs", []):
                _output(output, entry, folder, pages, csv_names, page)
            if "findings" in tags:
                page.findings = next((_text(o["data"]["text/markdown"]) for o in cell.get("outputs", [])
                                      if "text/markdown" in (o.get("data") or {})), None)
        cells.append(cell)
    _drop_first_heading(cells)
    title = entry.get("title") or name
    data = [item for item in entry.get("data") or [] if isinstance(item, dict)]
    header = parts().header(entry, title, shown_parameters(entry), data, f"../{DOWNLOADS}/{name}.ipynb",
                            "../index.html")
    head = [{"cell_type": "markdown", "metadata": {}, "source": f"# {markdown_escape(title)}"},
            {"cell_type": "raw", "metadata": {"format": "text/html"}, "source": str(header)}]
    notebook["cells"] = head + cells
    if (notebook.get("nbformat"), notebook.get("nbformat_minor", 0)) >= (4, 5):
        for index, cell in enumerate(notebook["cells"]):
            cell.setdefault("id", f"oda-data-site-{index}")  # nbformat 4.5 wants cell ids
    # Pages carry no kernel to run; MyST-NB only needs the language for highlighting.
    notebook.setdefault("metadata", {}).setdefault("language_info", {"name": "python"})
    return page


def shown_parameters(entry: dict) -> list[tuple[str, str]]:
    """The parameters the page uses, as the reader would type them in the notebook."""
    parameters = entry.get("parameters") or {}
    shown = []
    for key, value in parameters.items():
        other, needed = SHOWN_ONLY_WITH.get(key, (None, None))
        if other in parameters and parameters[other] != needed:
            continue
        if key == "crs_source" and entry.get("demo"):
            continue  # the demonstration line says where the data came from
        shown.append((str(key), json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)))
    return shown


def markdown_escape(text: str) -> str:
    """``text`` as literal Markdown (every ASCII punctuation character backslash-escaped)."""
    return re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", " ".join(str(text).split()))


def _text(source) -> str:
    return "".join(source) if isinstance(source, list) else str(source or "")


def _markdown(text: str, folder: str, pages: dict[str, str]) -> str:
    """Markdown of a cell or output: links to notebooks lead to their pages (or are dropped when the notebook has no
    page); fmt's "$" span becomes an escaped "$"."""
    def link(match: re.Match) -> str:
        target = posixpath.normpath(posixpath.join(folder, match.group(2)))
        if target in pages:  # MyST resolves a link to a document of the site
            return f"{match.group(1)}({pages[target]}.ipynb{match.group(3) or ''})"
        return match.group(1)[1:-1]
    return _NOTEBOOK_LINK.sub(link, text.replace(_DOLLAR, "\\$"))


def _drop_first_heading(cells: list[dict]) -> None:
    """Remove the notebook's top heading: the report's title replaces it."""
    for cell in cells:
        if cell.get("cell_type") == "markdown" and _text(cell["source"]).strip():
            cell["source"] = _H1.sub("", _text(cell["source"]))
            return
        if cell.get("cell_type") == "code" and cell.get("outputs"):
            return


def _output(output: dict, entry: dict, folder: str, pages: dict, csv_names: Counter, page: PageFiles) -> None:
    data = output.get("data") or {}
    if "text/markdown" in data:
        data["text/markdown"] = _markdown(_text(data["text/markdown"]), folder, pages)
    if "text/csv" in data:
        _csv_download(output, entry, csv_names, page)
        return
    for mime, suffix in _IMAGE_SUFFIXES.items():
        alt = ((output.get("metadata") or {}).get(mime) or {}).get("alt")
        if mime in data and alt:  # without alt text MyST-NB renders the image as it is
            content = _text(data[mime])
            raw = content.encode("utf-8") if suffix == ".svg" else base64.b64decode(content)
            path = f"{FIGURES}/{hashlib.sha256(raw).hexdigest()[:20]}{suffix}"
            page.files[path] = raw
            output["data"] = {"text/html": str(parts().chart(f"../{path}", " ".join(str(alt).split()))),
                              "text/plain": _text(data.get("text/plain", alt))}
            output["metadata"] = {}
            return


def _csv_download(output: dict, entry: dict, csv_names: Counter, page: PageFiles) -> None:
    """The table's CSV file (its frame, as ``fmt.table`` wrote it), linked under the table."""
    data = output["data"]
    text = _text(data.pop("text/csv"))
    meta = (output.get("metadata") or {}).pop("text/csv", None) or {}
    slug = re.sub(r"[^a-z0-9]+", "-", str(meta.get("name") or "").lower()).strip("-")[:80] or "table"
    csv_names[slug] += 1
    slug += f"-{csv_names[slug]}" if csv_names[slug] > 1 else ""
    demo = bool(entry.get("demo"))
    if demo:
        rows = list(csv.reader(io.StringIO(text)))
        stream = io.StringIO()
        csv.writer(stream, lineterminator="\n").writerows(
            [[DEMO_COLUMN, *rows[0]]] + [[DEMO_VALUE, *row] for row in rows[1:]] if rows else [])
        text, slug = stream.getvalue(), f"{slug}--demonstration-data"
    filename = f"{entry['name']}--{slug}.csv"
    page.files[f"{DOWNLOADS}/{filename}"] = text.encode("utf-8")
    link = str(parts().csv_link(f"../{DOWNLOADS}/{filename}", filename, demo))
    data["text/html"] = _text(data.get("text/html", "")) + link
