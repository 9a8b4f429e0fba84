"""Plain HTML pages and index, used only while the Sphinx site (:mod:`.site`) is absent.

Each page is the executed notebook without code (nbconvert); the index lists
the reports by group. Links point only at pages written here, named after
the report (never at a path read from the manifest).
"""
from __future__ import annotations

import html
from pathlib import Path

from .._files import atomic_write
from .manifest import EXECUTED_DIR

_CSS = ("body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;"
        "line-height:1.4}li{margin:.4rem 0}.status{font-weight:600}.error{color:#a50e0e}")


def render(output: Path, manifest: dict) -> None:
    """Write ``<name>.html`` for each report with an executed notebook, and ``index.html``."""
    esc = html.escape
    items: dict[str, list[str]] = {}
    for record in manifest["reports"]:
        name = record["name"]
        executed = output / EXECUTED_DIR / f"{name}.ipynb"
        page = output / f"{name}.html"
        linked = esc(record["title"])
        if record["status"] in ("ok", "stale") and executed.is_file():
            if not page.is_file() or page.stat().st_mtime_ns < executed.stat().st_mtime_ns:
                atomic_write(page, export_html(executed, title=record["title"]))
            linked = f'<a href="{esc(page.name)}">{linked}</a>'
        note = record.get("error") or record.get("reason") or record.get("description") or ""
        items.setdefault(record["group"], []).append(
            f'<li>{linked} <span class="status">{esc(record["status"])}</span> '
            f'<span class="{"error" if record.get("error") else "note"}">{esc(note)}</span></li>')
    body = "".join(f"<h2>{esc(group.title())}</h2><ul>{''.join(lines)}</ul>"
                   for group, lines in items.items())
    atomic_write(output / "index.html",
                 '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
                 '<meta name="viewport" content="width=device-width, initial-scale=1">'
                 f"<title>ODA security reports</title><style>{_CSS}</style></head><body>"
                 f"<h1>ODA security and stability reports</h1>{body}</body></html>\n")


def export_html(executed: Path, *, title: str) -> str:
    """The page of an executed notebook: outputs and markdown, no code, no prompts."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, template_name="report",
                            extra_template_basedirs=[str(Path(__file__).parents[1] / "templates")])
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4),
                                          resources={"metadata": {"name": title}})
    return body
