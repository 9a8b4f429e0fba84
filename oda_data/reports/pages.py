"""The report pages and index as hand-written HTML (until the Sphinx site replaces them)."""
from __future__ import annotations

import html
import json
from collections import Counter
from pathlib import Path
from typing import Any

from ._text import now as _now
from .manifest import _BUILT_STATUSES, STATUSES, EntryResult


def export_html(nb, *, title: str) -> str:
    """The report page of an executed notebook: outputs and markdown, no code, no prompts."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, template_name="report",
                            extra_template_basedirs=[str(Path(__file__).parents[1] / "templates")])
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    return body


_STATUS_COLOURS = {
    "ok": ("#e6f4ea", "#1e6b34"),
    "unchanged": ("#e8f0fe", "#1a4f9c"),
    "skipped": ("#fef7e0", "#7a5a00"),
    "failed": ("#fce8e6", "#a50e0e"),
    "pending": ("#f1f3f4", "#5f6368"),
}

_INDEX_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:72rem;padding:0 1rem;color:#202124;line-height:1.4}
h1{font-size:1.5rem;margin-bottom:.25rem}
p.meta{color:#5f6368;font-size:.85rem;margin-top:0}
table{border-collapse:collapse;width:100%;font-size:.9rem;table-layout:fixed}
td{overflow-wrap:anywhere}
th,td{text-align:left;vertical-align:top;padding:.45rem .6rem;border-bottom:1px solid #e0e0e0}
th{background:#f8f9fa;font-weight:600}
td.num{text-align:right;white-space:nowrap}
code{font-size:.85em;background:#f1f3f4;padding:0 .2em;border-radius:3px}
ul.params{list-style:none;margin:0;padding:0}
.status{display:inline-block;padding:.1rem .5rem;border-radius:1rem;font-weight:600;
font-size:.8rem;white-space:nowrap;overflow-wrap:normal}
td.error{color:#a50e0e;max-width:28rem;overflow-wrap:anywhere}
td.note{max-width:28rem;overflow-wrap:anywhere}
a{color:#1a4f9c}
"""


def render_index(entries: list[EntryResult], *, context: dict, complete: bool = True) -> str:
    """The self-contained ``index.html`` (inline CSS, no external assets) of a build.

    Every text that comes from the schedule or an error is HTML-escaped.
    """
    esc = html.escape
    counts = Counter(entry.status for entry in entries)
    summary = ", ".join(f"{counts[s]} {s}" for s in (*STATUSES, "pending") if counts[s])
    rows = []
    for entry in entries:
        name = esc(entry.name)
        if entry.html and entry.status in _BUILT_STATUSES:
            name = f'<a href="{esc(entry.html)}">{name}</a>'
        extra = ""
        if entry.status == "failed" and entry.executed_notebook:
            extra = (f'<br><a href="{esc(entry.executed_notebook)}">executed notebook '
                     "(with the error)</a>")
        parameters = "".join(
            f"<li><code>{esc(str(key))}={esc(_parameter_text(value))}</code></li>"
            for key, value in entry.parameters.items()
        )
        background, colour = _STATUS_COLOURS.get(entry.status, _STATUS_COLOURS["pending"])
        note = entry.error or entry.message or ""
        rows.append(
            "<tr>"
            f"<td>{name}{extra}</td>"
            # <wbr>: let long paths break after a folder, not mid-name
            f"<td><code>{esc(entry.notebook).replace('/', '/<wbr>')}</code></td>"
            f'<td><ul class="params">{parameters}</ul></td>'
            f'<td><span class="status" style="background:{background};color:{colour}">'
            f"{esc(entry.status)}</span></td>"
            f'<td class="num">{esc(_duration_text(entry.duration_s))}</td>'
            f'<td class="{"error" if entry.error else "note"}">{esc(note)}</td>'
            "</tr>"
        )
    state = "" if complete else " (build in progress)"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>ODA security reports{esc(state)}</title>\n<style>{_INDEX_CSS}</style>\n"
        "</head>\n<body>\n"
        f"<h1>ODA security and stability reports{esc(state)}</h1>\n"
        f'<p class="meta">{esc(summary)} &middot; package '
        f"{esc(str(context.get('package_version')))} &middot; data checksum "
        f"<code>{esc(str(context.get('data_checksum'))[:12])}</code> &middot; built "
        f"{esc(_now())}</p>\n"
        "<table>\n<colgroup><col style=\"width:19%\"><col style=\"width:23%\">"
        "<col style=\"width:20%\"><col style=\"width:10%\"><col style=\"width:7%\">"
        "<col style=\"width:21%\"></colgroup>\n<thead><tr><th>Report</th><th>Notebook</th><th>Parameters</th>"
        "<th>Status</th><th>Duration</th><th>Message</th></tr></thead>\n<tbody>\n"
        + "\n".join(rows)
        + "\n</tbody>\n</table>\n</body>\n</html>\n"
    )


def _parameter_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _duration_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"
