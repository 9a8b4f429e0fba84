"""The browser test's tools: Debian's chromium under Playwright, the demo site built once, what a page measures.

Playwright's own browser builds cannot be downloaded here (nor on CI): the test drives
Debian's ``/usr/bin/chromium`` (``make browser`` installs it). Without it the browser
tests skip on a developer's machine and FAIL under CI=true: CI never passes silently
without a browser.
"""
from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import REPO_ROOT

CHROMIUM = Path(os.environ.get("ODA_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DESKTOP, PHONE = 1280, 390
ODA_DATA = Path(sys.executable).with_name("oda-data")


def no_browser(reason: str):
    """Skip on a developer's machine; fail under CI (CI=true), naming what is missing."""
    message = f"browser test: {reason}; run `make browser` (apt-get install chromium) and `make venv`"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def launch(playwright):
    if not CHROMIUM.is_file():
        no_browser(f"{CHROMIUM} is missing")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def build_demo_site(output: Path) -> Path:
    """``oda-data reports build --demo --output OUTPUT`` (about a minute); the site's folder."""
    env = dict(os.environ, ODA_DATA_CACHE=str(output.parent / "cache"))
    env.pop("ODA_CRS_SOURCE", None)
    done = subprocess.run([str(ODA_DATA), "reports", "build", "--demo", "--output", str(output)], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0 or not (output / "index.html").is_file():
        pytest.fail(f"the demo site did not build (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}",
                    pytrace=False)
    return output


def pages(site: Path) -> list[Path]:
    """Every page a reader opens: the home page and the reports (not Sphinx's index or search pages)."""
    return sorted(path for path in site.rglob("*.html") if path.name not in ("genindex.html", "search.html")
                  and not any(part == "_static" or part.startswith(".") for part in path.relative_to(site).parts))


@contextmanager
def serve(folder: Path):
    """The folder over http on 127.0.0.1 (a free port), for as long as the block runs; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


# What a reader would call "cut off", measured in the page. A table's box is the nearest
# ancestor that clips or scrolls sideways; a chart is an <img> or <svg> of a cell output.
MEASURE = """() => {
  const vw = document.documentElement.clientWidth, found = [];
  const round = (x) => Math.round(x);
  const boxOf = (el) => { let box = el.tagName === 'TABLE' ? el : el.parentElement;
    while (box && box !== document.body && getComputedStyle(box).overflowX === 'visible') box = box.parentElement;
    return box; };
  const name = (t) => (t.caption ? t.caption.textContent : (t.querySelector('th') || t).textContent).trim().slice(0, 60);
  document.querySelectorAll('.bd-article table').forEach((t) => {
    const r = t.getBoundingClientRect(), box = boxOf(t), b = box.getBoundingClientRect();
    const first = t.querySelector('tr > :first-child');
    const cutCells = [...t.querySelectorAll('th, td')].filter((c) => c.scrollWidth > c.clientWidth + 1).length;
    found.push({kind: 'table', name: name(t), width: round(r.width), right: round(r.right), boxRight: round(b.right),
                scrolls: box.scrollWidth > box.clientWidth + 1, cutCells,
                firstSticky: first ? getComputedStyle(first).position === 'sticky' : false});
  });
  document.querySelectorAll('.bd-article .cell_output img, .bd-article .cell_output svg, .bd-article figure img')
    .forEach((c) => { if (c.closest('table')) return; const r = c.getBoundingClientRect(), box = boxOf(c);
      found.push({kind: 'chart', name: (c.getAttribute('alt') || c.getAttribute('aria-label') || '').slice(0, 60),
                  width: round(r.width), left: round(r.left), right: round(r.right), loaded: c.tagName !== 'IMG' || c.naturalWidth > 0,
                  boxScrolls: box.scrollWidth > box.clientWidth + 1}); });
  return {vw, pageScrolls: document.scrollingElement.scrollWidth > vw + 1, items: found};
}"""

# Scrolls a table's box sideways and says whether the first column stayed at the box's left edge.
FIRST_COLUMN_STAYS = """(index) => {
  const t = document.querySelectorAll('.bd-article table')[index];
  let box = t; while (getComputedStyle(box).overflowX === 'visible') box = box.parentElement;
  const cell = t.querySelector('tbody tr > :first-child') || t.querySelector('tr > :first-child');
  const before = cell.getBoundingClientRect().left; box.scrollLeft = 200;
  const after = cell.getBoundingClientRect().left; box.scrollLeft = 0;
  return {moved: box.scrollLeft !== 0 || Math.abs(after - before) > 1, before, after};
}"""

# Every text and legend of an inline SVG inside the SVG's own box (its viewBox, as drawn).
SVG_OVERFLOW = """() => {
  const svg = document.querySelector('svg'), s = svg.getBoundingClientRect(), out = [];
  svg.querySelectorAll('text, g[id^="legend"], g[id^="text"]').forEach((el) => { const r = el.getBoundingClientRect();
    if (r.width && (r.left < s.left - 0.5 || r.top < s.top - 0.5 || r.right > s.right + 0.5 || r.bottom > s.bottom + 0.5))
      out.push({id: el.id || el.tagName, text: el.textContent.trim().slice(0, 50), left: r.left - s.left,
                right: r.right - s.right, top: r.top - s.top, bottom: r.bottom - s.bottom}); });
  return out;
}"""
