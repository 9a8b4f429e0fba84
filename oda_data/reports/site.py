"""The reports website: Sphinx + MyST-NB over the notebooks papermill executed.

Sphinx works in ``work/sphinx``; the finished site is published into ``out`` file by file (index.html last), so a
failed build leaves the old site. Paths come from report names, never from the manifest.
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import warnings
from importlib.metadata import version
from pathlib import Path

from .._files import atomic_write, publish, temporary_beside
from .manifest import EXECUTED_DIR, MANIFEST_NAME, PAGE_STATUSES, work_folder
from .page import DOWNLOADS, PAGES, TEMPLATES, prepare, templates
from .schedule import GROUPS, SAFE_NAME

#: Where the data sets go in the site.
DATA_DIR = "data"
_CONF_DIR = Path(__file__).with_name("sphinx")
_DATA = Path(__file__).resolve().parents[1] / "data"
#: The Data page's files, as the package ships them: name -> what it holds.
_DATA_FILES = {"white_paper.csv": "every figure and named initiative of the chapter, one record each",
              "white_paper_dictionary.csv": "what each column of white_paper.csv holds",
              "dac_rates.csv": "OECD DAC annual exchange rates (national currency per US dollar) and deflators "
                               "(2022 = 100) of every DAC provider, 1960-2023, as the package ships them"}
_CODE = [Path(__file__), Path(__file__).with_name("page.py"), *sorted(TEMPLATES.glob("*"))]
# Build bookkeeping the pages do not show: an unchanged rebuild finds the same site key.
_BOOKKEEPING = ("duration_s", "key", "unchanged", "failed_executed")


class SiteError(RuntimeError):
    """The site could not be built; the published site is unchanged."""


def render(out_dir: Path, manifest: dict, work: Path | None = None) -> None:
    """Build the site into ``out_dir`` from ``manifest``; nothing runs when nothing changed."""
    out_dir = Path(out_dir).resolve()
    work = Path(work or work_folder(out_dir))
    sphinx = work / "sphinx"
    sphinx.mkdir(parents=True, exist_ok=True)
    records = [r for r in manifest.get("reports", []) if isinstance(r, dict)
               and SAFE_NAME.match(str(r.get("name", "")))]
    pages, notes = _pages(work, records)
    key = _site_key(records, pages)
    try:
        state = dict(json.loads((sphinx / "state.json").read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        state = {}
    if state.get("key") == key and (out_dir / "index.html").is_file():
        return
    src, staging, doctrees = sphinx / "src", sphinx / "html", sphinx / "doctrees"
    for folder in (src, staging, doctrees):  # a full build is a few seconds: no stale page can survive
        shutil.rmtree(folder, ignore_errors=True)
    _write_sources(src, records, pages, notes)
    ledes = {f"{PAGES}/{r['name']}": f"{r.get('title') or ''} {r.get('description') or ''}"
             for r in records if r["name"] in pages}
    _run_sphinx(src, staging, doctrees, sphinx, ledes)
    published = _publish(staging, out_dir, previous=state.get("files", []))
    atomic_write(sphinx / "state.json", json.dumps({"key": key, "files": published}, indent=1))


def _pages(work: Path, records: list[dict]) -> tuple[dict[str, bytes], dict[str, str]]:
    """Executed notebook bytes of the entries that get a page; why others have none."""
    pages, notes = {}, {}
    for record in (r for r in records if r.get("status") in PAGE_STATUSES):
        name, executed = record["name"], f"{EXECUTED_DIR}/{record['name']}.ipynb"  # never the record's
        if not record.get("executed") or not (work / executed).is_file():
            notes[name] = f"executed notebook {executed} is missing"
            continue
        pages[name] = (work / executed).read_bytes()
        try:
            json.loads(pages[name])["cells"]
        except (ValueError, KeyError, TypeError) as error:
            notes[name] = f"executed notebook {executed} is not a readable notebook ({error})"
            del pages[name]
    return pages, notes


def _site_key(records: list[dict], pages: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    shown = [{k: v for k, v in record.items() if k not in _BOOKKEEPING} for record in records]
    digest.update(json.dumps(shown, sort_keys=True, default=str).encode())
    for name in sorted(pages):
        digest.update(name.encode() + hashlib.sha256(pages[name]).digest())
    code = [*_CODE, *sorted(p for p in _CONF_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts),
            *(_DATA / n for n in _DATA_FILES)]
    for path in code:
        digest.update(path.name.encode() + (path.read_bytes() if path.is_file() else b""))
    for package in ("sphinx", "myst-nb", "sphinx-book-theme"):
        digest.update(version(package).encode())
    return digest.hexdigest()


def _write_sources(src: Path, records: list[dict], pages: dict[str, bytes], notes: dict) -> None:
    """Write Sphinx's sources: configuration, report pages and their files, home and data pages."""
    shutil.copytree(_CONF_DIR, src, ignore=shutil.ignore_patterns("__pycache__"))
    wanted: dict[str, bytes] = {}
    by_name = {r["name"]: r for r in records}
    # A notebook's page, for links between notebooks: its entry with default parameters first.
    by_notebook: dict[str, str] = {}
    for record in sorted((by_name[n] for n in pages), key=lambda r: bool(r.get("given"))):
        by_notebook.setdefault(str(record.get("notebook")), record["name"])
    findings = {}
    for name, executed_bytes in pages.items():
        page = prepare(by_name[name], json.loads(executed_bytes), executed_bytes, by_notebook)
        wanted[f"{PAGES}/{name}.ipynb"] = json.dumps(page.notebook, indent=1).encode()
        for path, content in page.files.items():
            wanted[f"_extra/{path}"] = content
        if page.findings and not by_name[name].get("teaching"):
            findings[name] = page.findings
    wanted["index.md"] = home_page(records, set(pages), notes, findings).encode()
    data_page, files = _data_page()
    wanted["data.md"] = data_page.encode()
    wanted.update({f"_extra/{DATA_DIR}/{name}": content for name, content in files.items()})
    for relative, content in wanted.items():
        (src / relative).parent.mkdir(parents=True, exist_ok=True)
        (src / relative).write_bytes(content)


def home_page(records: list[dict], with_page: set[str], notes: dict[str, str],
              findings: dict[str, str]) -> str:
    """The home page's MyST Markdown; ``templates/index.md`` words it."""
    from markdown_it import MarkdownIt
    from markupsafe import Markup

    blocks, seen = [], set()
    markdown = MarkdownIt("commonmark", {"html": False})
    for record in records:  # a few figures: the first bullets of one page per notebook
        text = findings.get(record["name"])
        if text and record.get("notebook") not in seen:
            seen.add(record.get("notebook"))
            bullets = "\n".join(re.findall(r"^[-*] .*$", text, re.MULTILINE)[:3]) or text
            blocks.append({"record": record, "html": Markup(markdown.render(bullets))})
    groups = list(GROUPS) + sorted({str(r.get("group")) for r in records} - set(GROUPS))
    versions = {item["checksum"]: item for record in records for item in record.get("data") or []
                if isinstance(item, dict) and item.get("checksum")}
    return templates().get_template("index.md").render(
        records=records, with_page=with_page, notes=notes, findings=blocks, versions=list(versions.values()),
        groups={GROUPS.get(g, g.capitalize()): [r for r in records if str(r.get("group")) == g] for g in groups})


def _data_page() -> tuple[str, dict[str, bytes]]:
    """The data page and its files: the chapter dataset, its dictionary, the DAC rates."""
    import csv

    files = {name: (_DATA / name).read_bytes() for name in _DATA_FILES}
    header, *rows = csv.reader(io.StringIO(files["white_paper_dictionary.csv"].decode("utf-8")))
    listed = [{"name": name, "href": f"{DATA_DIR}/{name}", "what": what, "rows": files[name].count(b"\n") - 1}
              for name, what in _DATA_FILES.items()]
    return templates().get_template("data.md").render(files=listed, header=header, rows=rows), files


def _run_sphinx(src: Path, staging: Path, doctrees: Path, work: Path, ledes: dict) -> None:
    """Run Sphinx in this process (a second would pay 3 s of imports); write each page's text for the search page's
    snippets and ranking (``_static/oda-page-text.js``)."""
    from docutils import nodes
    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace, patch_docutils

    log = io.StringIO()
    try:
        with patch_docutils(src), docutils_namespace(), warnings.catch_warnings():
            # the theme's and extensions' deprecation notices are for their authors, not readers
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            app = Sphinx(str(src), str(src), str(staging), str(doctrees), "html", status=None, warning=log,
                         freshenv=True, parallel=1)
            app.build()
            texts = {}
            for docname in sorted(app.env.found_docs):
                doctree = app.env.get_doctree(docname)
                words = " ".join(t.astext() for t in doctree.findall(nodes.Text) if _shown(t))
                texts[docname] = " ".join(words.split())
        failure = None if app.statuscode == 0 else f"exit status {app.statuscode}"
    except Exception as error:  # a broken configuration, theme or notebook
        failure = f"{type(error).__name__}: {' '.join(str(error).split())}"
    atomic_write(work / "warnings.log", log.getvalue())
    if failure is not None:
        raise SiteError(f"Sphinx could not build the site: {failure} (see {work / 'warnings.log'})")
    atomic_write(staging / "_static" / "oda-page-text.js",
                 "window.ODA_PAGE_TEXT = " + json.dumps(texts, ensure_ascii=True) + ";\n"
                 "window.ODA_PAGE_LEDE = " + json.dumps(ledes, ensure_ascii=True) + ";\n")


def _shown(text) -> bool:
    """Whether the page shows a doctree text (not raw HTML, not a richer output's text/plain)."""
    from docutils import nodes

    node = text.parent
    while node is not None:
        if isinstance(node, (nodes.raw, nodes.comment)) or (
                node.get("mime_type") == "text/plain" and len(node.parent.children) > 1):
            return False
        node = node.parent
    return True


def _publish(staging: Path, out_dir: Path, previous: list[str]) -> list[str]:
    """Copy the finished site into ``out_dir`` file by file (index.html last); remove the files of the previous site
    that this one no longer has."""
    files = sorted((p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file()
                    and not p.name.startswith(".") and p != staging / MANIFEST_NAME),
                   key=lambda name: (name == "index.html", name))
    for relative in files:  # checked for every file before any is written: no half-published site
        target = out_dir / relative
        if target.is_symlink() or not target.parent.resolve().is_relative_to(out_dir):
            raise SiteError(f"{target}: a link leading out of the output folder {out_dir}; remove it (the site is only "
                            "written inside the output folder)")
    for relative in files:
        target = out_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        with temporary_beside(target) as temporary:
            shutil.copyfile(staging / relative, temporary)
            publish(temporary, target)
    for relative in sorted(set(previous) - set(files) - {MANIFEST_NAME}):
        target = out_dir / relative
        if target.is_file() and not target.is_symlink() and target.resolve().is_relative_to(out_dir):
            target.unlink()
            parent = target.parent
            while parent != out_dir and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent
    return files
