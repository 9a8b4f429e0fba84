"""The reports website: Sphinx + MyST-NB over the notebooks papermill executed.

Contract with the build (:mod:`oda_data.reports.build`)
-------------------------------------------------------
The build executes each schedule entry with papermill into the output folder
``out`` (``out/_executed/<name>.ipynb``), writes
``out/manifest.json`` and then calls ``render(out, manifest)`` with the
manifest as a dict. ``manifest["reports"]`` lists one record per entry::

    {name, title, description,
     group: overview | themes | regions | pledges | crs | teaching,
     notebook: project-relative path of the source notebook,
     parameters: {...} (defaults included),
     status: ok | failed | skipped | stale   ("unchanged" is read as ok),
     error: one-line text or null, reason: why skipped (or null),
     data: [{label, file, checksum, rows, date}],
     package_version, git_commit, built_at,
     executed: ``_executed/<name>.ipynb`` or null when there is none (the site
               reads only whether it is set: the path comes from the name),
     teaching: bool, demo: bool (built on the demonstration CRS file)}

Other fields (durations, skip keys, ``unchanged``...) are ignored: they do not
make the site rebuild.

``stale`` means: this build failed (``error``), ``executed`` is the last good
executed notebook. ``render`` then builds the whole site into ``out``:
``out/index.html`` is the home page (manifest.json stays beside it), report
pages are ``out/reports/<name>.html``, CSV files and executed notebooks are
under ``out/downloads/``, chart images under ``out/figures/``.

Guarantees
----------
* Only writes inside ``out``: Sphinx works in ``out/.sphinx/`` (sources,
  doctree cache, staging HTML) and the finished site is then copied into
  ``out`` file by file through temporary files and ``os.replace``, index.html
  last. A failed Sphinx build raises :class:`SiteError` and leaves the
  published site as it was.
* Only removes files the previous render published (listed in
  ``out/.sphinx/state.json``), never the build's own files.
* Incremental: Sphinx keeps its doctree cache; only changed sources are
  rewritten (so only their pages are read again), and when neither the
  manifest's records, the executed notebooks nor this code changed, Sphinx
  is not run at all.
* Executed notebooks named by the manifest are read only from inside ``out``.
"""
from __future__ import annotations

import hashlib
import html
import io
import json
import re
import shutil
import warnings
from importlib.metadata import version
from pathlib import Path

from .._files import atomic_write, publish, temporary_beside
from .manifest import EXECUTED_DIR
from .report_page import PAGES, markdown_escape, prepare, status_word

#: Sphinx's working folder inside the output folder.
WORK_DIR = ".sphinx"
#: Home page sections, in order: manifest group -> heading.
GROUPS = {"overview": "Overview", "themes": "Themes", "regions": "Regions",
          "pledges": "Pledges", "crs": "CRS", "teaching": "Teaching"}
#: Statuses that have a page (``stale``: the last good one).
PAGE_STATUSES = ("ok", "unchanged", "stale")
_PROBLEMS = ("failed", "stale")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_CONF_DIR = Path(__file__).with_name("sphinx")
_CODE = [Path(__file__), Path(__file__).with_name("report_page.py"), Path(__file__).with_name("tables.py")]
_PROTECTED = {"manifest.json", ".build.lock", EXECUTED_DIR}
# What the pages show of a record (build bookkeeping such as durations and skip keys is left out,
# so that an unchanged rebuild finds the same site key and skips Sphinx).
_SHOWN_FIELDS = ("name", "title", "description", "group", "notebook", "parameters", "status",
                 "error", "reason", "message", "package_version", "git_commit", "built_at",
                 "executed", "teaching", "demo")
_SHOWN_DATA_FIELDS = ("label", "file", "checksum", "rows", "date", "demo")


class SiteError(RuntimeError):
    """The site could not be built; the published site is unchanged."""


def render(out_dir: Path, manifest: dict) -> None:
    """Build the reports site into ``out_dir`` from ``manifest`` (see the module docstring)."""
    out_dir = Path(out_dir).resolve()
    work = out_dir / WORK_DIR
    work.mkdir(parents=True, exist_ok=True)
    records = [r for r in manifest.get("reports", []) if isinstance(r, dict)]
    pages, notes = _pages(out_dir, records)
    key = _site_key(records, pages)
    state = _read_state(work)
    if state.get("key") == key and (out_dir / "index.html").is_file():
        return
    src, staging, doctrees = work / "src", work / "html", work / "doctrees"
    _write_sources(src, records, pages, notes)
    # Sphinx copies the extra files afresh each time, but rewrites only outdated pages: keep
    # the staged pages, except those of reports that are gone.
    for folder in ("downloads", "figures"):
        shutil.rmtree(staging / folder, ignore_errors=True)
    for page in (staging / PAGES).glob("*.html"):
        if page.stem not in pages:
            page.unlink()
    _run_sphinx(src, staging, doctrees, work)
    published = _publish(staging, out_dir, previous=state.get("files", []))
    atomic_write(work / "state.json", json.dumps({"key": key, "files": published}, indent=1))


def _pages(out_dir: Path, records: list[dict]) -> tuple[dict[str, bytes], dict[str, str]]:
    """Executed notebook bytes of the entries that get a page; why others have none."""
    pages, notes = {}, {}
    for record in records:
        name = str(record.get("name", ""))
        if not _SAFE_NAME.match(name):
            continue
        if record.get("status") not in PAGE_STATUSES:
            continue
        # The path comes from the name (where the build writes it), never from the record.
        executed = f"{EXECUTED_DIR}/{name}.ipynb" if record.get("executed") else None
        path = (out_dir / executed).resolve() if executed else None
        if path is None or not path.is_relative_to(out_dir) or WORK_DIR in path.relative_to(out_dir).parts:
            notes[name] = "no executed notebook inside the output folder"
        elif not path.is_file():
            notes[name] = f"executed notebook {executed} is missing"
        else:
            content = path.read_bytes()
            try:
                json.loads(content)
            except ValueError as error:
                notes[name] = f"executed notebook {executed} is not a readable notebook ({error})"
            else:
                pages[name] = content
    return pages, notes


def _site_key(records: list[dict], pages: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    shown = [{**{key: record.get(key) for key in _SHOWN_FIELDS},
              "data": [{key: item.get(key) for key in _SHOWN_DATA_FIELDS}
                       for item in record.get("data") or [] if isinstance(item, dict)]}
             for record in records]
    digest.update(json.dumps(shown, sort_keys=True, default=str).encode())
    for name in sorted(pages):
        digest.update(name.encode() + hashlib.sha256(pages[name]).digest())
    for path in [*_CODE, *sorted(p for p in _CONF_DIR.rglob("*")
                                  if p.is_file() and "__pycache__" not in p.parts)]:
        digest.update(path.name.encode() + path.read_bytes())
    for package in ("sphinx", "myst-nb", "sphinx-book-theme"):
        digest.update(version(package).encode())
    return digest.hexdigest()


def _read_state(work: Path) -> dict:
    try:
        state = json.loads((work / "state.json").read_text(encoding="utf-8"))
        return state if isinstance(state, dict) else {}
    except (OSError, ValueError):
        return {}


# --------------------------------------------------------------------------- sources


def _write_sources(src: Path, records: list[dict], pages: dict[str, bytes], notes: dict) -> None:
    """Write Sphinx's sources, touching only files whose content changed (keeps Sphinx incremental)."""
    wanted: dict[str, bytes] = {}
    for path in _CONF_DIR.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            wanted[path.relative_to(_CONF_DIR).as_posix()] = path.read_bytes()
    by_name = {str(r.get("name")): r for r in records}
    for name, executed_bytes in pages.items():
        page = prepare(by_name[name], json.loads(executed_bytes), executed_bytes)
        wanted[f"{PAGES}/{name}.ipynb"] = json.dumps(page.notebook, indent=1).encode()
        for path, content in page.files.items():
            wanted[f"_extra/{path}"] = content
    wanted["index.md"] = home_page(records, set(pages), notes).encode()
    for relative, content in wanted.items():
        target = src / relative
        if target.is_file() and target.read_bytes() == content:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    for path in sorted(src.rglob("*"), reverse=True):
        relative = path.relative_to(src).as_posix()
        if path.is_file() and relative not in wanted and "__pycache__" not in path.parts:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def home_page(records: list[dict], with_page: set[str], notes: dict[str, str]) -> str:
    """The home page (MyST Markdown): problems first, then every group, and the toctrees."""
    words = [status_word(str(record.get("status"))) for record in records]
    order = ["up to date", "stale", "failed", "not built"]
    summary = ", ".join(f"{words.count(word)} {word}"
                        for word in dict.fromkeys(order + words) if word in words)
    summary = f"{len(records)} reports: {summary}." if records else "No reports yet."
    lines = ["# All reports", "",
             "Analyses of Japan's Official Development Assistance for security and stability "
             "(police, counter-terrorism, organized crime, maritime security, outer space, "
             "cyberspace), from the notebooks of the `oda_data` project.", "",
             f'<p class="site-summary">{html.escape(summary)}</p>', ""]
    problems = [r for r in records if r.get("status") in _PROBLEMS]
    if problems:
        lines += ["## Needs attention", "", '<ul class="report-list">']
        lines += [_home_item(r, with_page, notes) for r in problems] + ["</ul>", ""]
    groups = list(GROUPS) + sorted({str(r.get("group")) for r in records} - set(GROUPS))
    for group in groups:
        members = [r for r in records if str(r.get("group")) == group]
        if not members:
            continue
        heading = GROUPS.get(group, group.capitalize())
        lines += [f"## {markdown_escape(heading)}", "", '<ul class="report-list">']
        lines += [_home_item(r, with_page, notes) for r in members] + ["</ul>", ""]
        documents = [f"{PAGES}/{r['name']}" for r in members if r.get("name") in with_page]
        if documents:
            lines += ["```{toctree}", ":hidden:", f":caption: {heading}", "", *documents, "```", ""]
    return "\n".join(lines)


def _home_item(record: dict, with_page: set[str], notes: dict[str, str]) -> str:
    esc = html.escape
    name = str(record.get("name"))
    title = esc(str(record.get("title") or name))
    status = str(record.get("status"))
    link = f'<a href="{PAGES}/{esc(name)}.html">{title}</a>' if name in with_page else title
    parts = [f'<li>{link} <span class="report-status status-{esc(status)}">'
             f"{esc(status_word(status))}</span>"]
    if record.get("demo"):
        parts.append(' <span class="report-status status-demo">demonstration data</span>')
    if record.get("description"):
        parts.append(f'<span class="description">{_one_line(record["description"])}</span>')
    if status in _PROBLEMS and record.get("error"):
        # no blank line: it would end the Markdown HTML block
        error = "\n".join(line for line in str(record["error"]).splitlines() if line.strip())
        parts.append(f'<pre class="build-error">{esc(error)}</pre>')
    elif status == "skipped" and (record.get("reason") or record.get("message")):
        parts.append(f'<span class="reason">{_one_line(record.get("reason") or record["message"])}</span>')
    elif name in notes:
        parts.append(f'<span class="reason">No page: {esc(notes[name])}.</span>')
    return "".join(parts) + "</li>"


def _one_line(text) -> str:
    return html.escape(" ".join(str(text).split()))


# --------------------------------------------------------------------------- Sphinx


def _run_sphinx(src: Path, staging: Path, doctrees: Path, work: Path) -> None:
    """Run Sphinx in this process (the build has imported nbformat already: a second
    process would pay about 3 s of imports), one core, its docutils state restored after."""
    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace, patch_docutils

    log = io.StringIO()
    try:
        with patch_docutils(src), docutils_namespace(), warnings.catch_warnings():
            # the theme's and extensions' deprecation notices are for their authors, not readers
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            app = Sphinx(str(src), str(src), str(staging), str(doctrees), "html", status=None,
                         warning=log, freshenv=False, parallel=1)
            app.build()
        failure = None if app.statuscode == 0 else f"exit status {app.statuscode}"
    except Exception as error:  # a broken configuration, theme or notebook
        failure = f"{type(error).__name__}: {' '.join(str(error).split())}"
    atomic_write(work / "warnings.log", log.getvalue())
    if failure is not None:
        # The caches may be half-written: start clean next time.
        shutil.rmtree(doctrees, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)
        raise SiteError(f"Sphinx could not build the site: {failure} (see {work / 'warnings.log'})")


def _publish(staging: Path, out_dir: Path, previous: list[str]) -> list[str]:
    """Copy the finished site into ``out_dir`` (changed files only, index.html last)."""
    files = sorted((p.relative_to(staging).as_posix() for p in staging.rglob("*")
                    if p.is_file() and not p.name.startswith(".")),
                   key=lambda name: (name == "index.html", name))
    changed = []
    for relative in files:
        if relative.split("/")[0] in _PROTECTED:
            continue
        source, target = staging / relative, out_dir / relative
        if target.is_symlink() or not target.parent.resolve().is_relative_to(out_dir):
            # checked for every file before any is written: no half-published site
            raise SiteError(f"{target}: a link leading out of the output folder {out_dir}; "
                            "remove it (the site is only written inside the output folder)")
        if not (target.is_file() and _same(source, target)):
            changed.append((source, target))
    for source, target in changed:
        target.parent.mkdir(parents=True, exist_ok=True)
        with temporary_beside(target) as temporary:
            shutil.copyfile(source, temporary)
            publish(temporary, target)
    kept = set(files)
    for relative in previous:
        target = out_dir / relative
        if relative in kept or relative.split("/")[0] in _PROTECTED:
            continue
        if target.is_file() and not target.is_symlink() and target.resolve().is_relative_to(out_dir):
            target.unlink()
            with_parent = target.parent
            while with_parent != out_dir and not any(with_parent.iterdir()):
                with_parent.rmdir()
                with_parent = with_parent.parent
    return files


def _same(a: Path, b: Path) -> bool:
    return a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()
