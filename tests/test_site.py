"""The reports site (oda_data.reports.site): Sphinx + MyST-NB over executed notebooks.

One site is built per module from a small manifest and synthetic executed
notebooks that carry the outputs the notebooks produce: a Styler HTML table,
a Markdown pipe table, an SVG chart with alt text (oda_data.style.show's
contract), stderr noise, papermill's injected parameters.
"""
from __future__ import annotations

import csv
import io
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

pytest.importorskip("sphinx")
pytest.importorskip("myst_nb")

from oda_data.reports import site  # noqa: E402
from oda_data.reports.tables import html_tables, markdown_tables, to_csv  # noqa: E402

SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="400" height="200" viewBox="0 0 400 200">'
       '<rect x="10" y="10" width="120" height="180" fill="#1a4f9c"/>'
       '<text x="150" y="100" font-size="14">Police capacity</text></svg>')
CHART_ALT = "Bar chart: police capacity records by region, Asia highest with 5"
STYLER_TABLE = (
    '<style type="text/css">#T_fixed th {text-align: left;}</style>'
    '<table id="T_fixed"><thead><tr><th class="col_heading level0 col0">Region</th>'
    '<th class="col_heading level0 col1">Amount</th></tr></thead><tbody>'
    '<tr><td id="T_fixed_row0_col0" class="data row0 col0">Asia</td>'
    '<td class="data row0 col1">$6 billion</td></tr>'
    '<tr><td class="data row1 col0">Africa, "East"</td><td class="data row1 col1">'
    'approximately ¥14 billion</td></tr></tbody></table>'
)
MARKDOWN_TABLE = "Pledges:\n\n| pledge | amount |\n|---|---|\n| Police | \\$15.1 million |\n| Cyber | none |\n"


def _cell(kind, source, outputs=None, tags=None):
    cell = {"cell_type": kind, "metadata": {"tags": tags or []}, "source": source}
    if kind == "code":
        cell.update(outputs=outputs or [], execution_count=1)
    return cell


def _notebook(first_heading="# Theme profile"):
    return {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (oda_data)",
                                    "language": "python"},
                     "language_info": {"name": "python"}},
        "cells": [
            _cell("markdown", f"{first_heading}\n\nOne theme of the chapter in depth."),
            _cell("code", 'theme = "maritime_security"', tags=["parameters"]),
            _cell("code", 'theme = "police_capacity"', tags=["injected-parameters"]),
            _cell("code", "summary_table", outputs=[
                {"output_type": "execute_result", "execution_count": 1, "metadata": {},
                 "data": {"text/html": STYLER_TABLE, "text/plain": "<Styler>"}},
                {"output_type": "stream", "name": "stderr", "text": "UserWarning: build noise\n"},
            ]),
            _cell("markdown", "## Pledges"),
            _cell("code", "display(Markdown(pledges))", outputs=[
                {"output_type": "display_data", "metadata": {},
                 "data": {"text/markdown": MARKDOWN_TABLE, "text/plain": "<Markdown>"}}]),
            _cell("code", "style.show(fig, alt=...)", outputs=[
                {"output_type": "display_data", "metadata": {"image/svg+xml": {"alt": CHART_ALT}},
                 "data": {"image/svg+xml": SVG, "text/plain": CHART_ALT}}]),
            _cell("code", "answer_1 = None  # exercise 1\nteaching.check_answer('1.1', answer_1)",
                  outputs=[{"output_type": "stream", "name": "stdout", "text": "Not answered yet\n"}]),
        ],
    }


WHITE_PAPER = {"label": "White Paper 2018, chapter 'Assistance for Security and Stability'",
               "file": "white_paper_2018_security.csv", "checksum": "a" * 64, "rows": 128,
               "date": "2019-03"}
RATES = {"label": "DAC exchange rates and deflators 2000-2023", "file": "dac_rates.csv",
         "checksum": "b" * 64, "rows": 24, "date": None}


def _record(name, group, status="ok", *, teaching=False, error=None, executed=True, **extra):
    return {
        "name": name, "title": extra.pop("title", name.replace("-", " ").title()),
        "description": extra.pop("description", f"What {name} shows, in one line."),
        "group": group, "notebook": extra.pop("notebook", "notebooks/theme_profile.ipynb"),
        "parameters": extra.pop("parameters", {"theme": "police_capacity", "currency": "USD"}),
        "status": status, "error": error, "reason": extra.pop("reason", None),
        "data": extra.pop("data", [WHITE_PAPER, RATES]), "package_version": "0.1.0",
        "git_commit": "0123456789abcdef0123", "built_at": "2026-11-29T12:00:00+00:00",
        "executed": f"_executed/{name}.ipynb" if executed else None, "teaching": teaching,
        **extra,
    }


def make_site(out: Path) -> dict:
    """Write executed notebooks and a manifest into ``out`` as the build does; return the manifest."""
    records = [
        _record("overview-usd", "overview", title="Security overview in US dollars"),
        _record("theme-police_capacity", "themes", title="Police capacity"),
        _record("theme-cyberspace", "themes", "stale", title="Cyberspace",
                error="KeyError: 'cyber' <not a tag>"),
        _record("region-asia", "regions", "failed", executed=False, title="Asia",
                error="ValueError: no region 'Asai'"),
        _record("pledge-tracker", "pledges", title="Pledge tracker"),
        _record("crs-security-trends", "crs", "skipped", executed=False,
                title="CRS security trends",
                reason="needs OECD CRS data: run .venv/bin/oda-data download crs --reduced"),
        _record("teaching-01_reading", "teaching", teaching=True, title="Reading an ODA figure",
                notebook="notebooks/teaching/01_reading.ipynb", parameters={"answer_1": None}),
    ]
    (out / "_executed").mkdir(parents=True, exist_ok=True)
    for record in records:
        if record["executed"]:
            notebook = _notebook()
            (out / record["executed"]).write_text(json.dumps(notebook), encoding="utf-8")
    manifest = {"manifest_format": 2, "reports": records}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    manifest = make_site(out)
    site.render(out, manifest)
    return out, manifest


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, str, str]] = []  # (tag, attribute, url)
        self.images: list[dict] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        for attribute in ("href", "src"):
            if values.get(attribute):
                self.links.append((tag, attribute, values[attribute]))
        if tag == "img":
            self.images.append(values)


def _parse(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def _pages(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*.html")
                  if not p.relative_to(out).parts[0].startswith((".", "_")))


def _report_pages(out: Path) -> list[Path]:
    return sorted((out / "reports").glob("*.html"))


# --------------------------------------------------------------------------- the site


def test_home_page_lists_titles_grouped_with_problems_first(built):
    out, _ = built
    home = (out / "index.html").read_text(encoding="utf-8")
    assert (out / "manifest.json").is_file()
    headings = re.findall(r"<h2>([^<]*)<a class=\"headerlink", home)
    assert headings == ["Needs attention", "Overview", "Themes", "Regions", "Pledges", "CRS",
                            "Teaching"]
    attention = home.split('<section id="needs-attention">', 1)[1].split("</section>", 1)[0]
    assert "Cyberspace" in attention and "Asia" in attention and "Police capacity" not in attention
    assert "What pledge-tracker shows, in one line." in home
    assert "ValueError: no region &#x27;Asai&#x27;" in home
    assert "needs OECD CRS data: run .venv/bin/oda-data download crs --reduced" in home
    # a failed entry without a last good page is not linked; a skipped one neither
    assert 'href="reports/region-asia.html"' not in home
    assert 'href="reports/crs-security-trends.html"' not in home
    assert not (out / "reports" / "region-asia.html").exists()


def test_pages_have_human_titles_and_sidebar_navigation(built):
    out, _ = built
    page = (out / "reports" / "theme-police_capacity.html").read_text(encoding="utf-8")
    assert re.search(r"<title>Police capacity\b", page)
    assert "<h1>Police capacity" in page
    assert "Theme profile" not in page  # the notebook's generic heading is replaced
    assert 'class="bd-sidebar-primary' in page and "Reading an ODA figure" in page
    assert "prev-next" in page  # previous / next links
    assert "search" in page and (out / "search.html").is_file() and (out / "searchindex.js").is_file()
    assert 'name="viewport"' in page


def test_every_internal_link_and_asset_resolves(built):
    out, _ = built
    checked = 0
    for page in _pages(out):
        for tag, attribute, url in _parse(page).links:
            parts = urlsplit(url)
            if parts.scheme or url.startswith(("#", "//", "mailto:", "javascript:")):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            assert target.is_relative_to(out.resolve()), (page, url)
            assert target.exists(), f"{page.relative_to(out)}: <{tag} {attribute}={url!r}> is missing"
            checked += 1
    assert checked > 100


def test_every_page_links_to_the_home_page(built):
    out, _ = built
    home = (out / "index.html").resolve()
    for page in _pages(out):
        if page.resolve() == home:
            continue
        targets = {(page.parent / urlsplit(url).path).resolve()
                   for _, attribute, url in _parse(page).links
                   if attribute == "href" and urlsplit(url).path and not urlsplit(url).scheme}
        assert home in targets, f"{page.relative_to(out)} has no link to the home page"


def test_no_external_assets(built):
    out, _ = built
    for page in _pages(out):
        for tag, attribute, url in _parse(page).links:
            if tag in ("script", "img", "link", "iframe", "source") or attribute == "src":
                assert not re.match(r"(https?:)?//", url), f"{page.name}: external asset {url}"
    for css in out.rglob("*.css"):
        assert not re.search(r"url\(\s*['\"]?(https?:)?//", css.read_text(errors="replace")), css.name


def test_every_report_page_links_home_and_has_its_provenance(built):
    out, manifest = built
    pages = _report_pages(out)
    assert [p.stem for p in pages] == sorted(
        r["name"] for r in manifest["reports"] if r["status"] in ("ok", "stale"))
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert '<a href="../index.html">&larr; All reports</a>' in text, page.name
        box = text.split('<aside class="provenance"', 1)[1].split("</aside>", 1)[0]
        assert ("<code>theme = &quot;police_capacity&quot;</code>" in box
                or "<code>answer_1 = None</code>" in box), box
        assert "White Paper 2018, chapter" in box and "a" * 64 in box and "128 rows" in box
        assert "DAC exchange rates and deflators 2000-2023" in box and "b" * 64 in box
        assert "oda_data 0.1.0" in box and "<code>0123456789ab</code>" in box
        assert "2026-11-29T12:00:00+00:00" in box
        assert "notebooks/" in box and "make lab" in box
        assert f'href="../downloads/{page.stem}.ipynb"' in box


def test_tables_download_as_csv(built):
    out, _ = built
    page = out / "reports" / "overview-usd.html"
    links = [url for _, _, url in _parse(page).links if url.endswith(".csv")]
    assert links == ["../downloads/overview-usd/table-1.csv", "../downloads/overview-usd/table-2.csv"]
    styler = list(csv.reader(io.StringIO((page.parent / links[0]).read_text(encoding="utf-8"))))
    assert styler == [["Region", "Amount"], ["Asia", "$6 billion"],
                      ['Africa, "East"', "approximately ¥14 billion"]]
    markdown = list(csv.reader(io.StringIO((page.parent / links[1]).read_text(encoding="utf-8"))))
    assert markdown == [["pledge", "amount"], ["Police", "$15.1 million"], ["Cyber", "none"]]


def test_charts_carry_their_alt_text_and_are_svg(built):
    out, _ = built
    page = out / "reports" / "overview-usd.html"
    charts = [image for image in _parse(page).images if "chart-image" in image.get("class", "")]
    assert [image["alt"] for image in charts] == [CHART_ALT]
    assert charts[0]["src"].endswith(".svg")
    assert (page.parent / charts[0]["src"]).read_text(encoding="utf-8") == SVG
    for any_page in _report_pages(out):
        for image in _parse(any_page).images:
            # docutils' fallback alt is the file name: that is no alt text
            assert image.get("alt") and not re.search(r"\.(svg|png|jpe?g)$", image["alt"]), \
                f"{any_page.name}: image without alt text {image}"


def test_teaching_pages_show_code_other_pages_do_not(built):
    out, _ = built
    teaching = (out / "reports" / "teaching-01_reading.html").read_text(encoding="utf-8")
    report = (out / "reports" / "theme-police_capacity.html").read_text(encoding="utf-8")
    assert "cell_input" in teaching and "check_answer" in teaching and "answer_1" in teaching
    assert "Not answered yet" in teaching
    assert '<span class="s2">"maritime_security"</span>' in teaching  # the notebook's parameters cell
    assert "cell_input" not in report and "check_answer" not in report
    for text in (teaching, report):
        after_box = text.split("</aside>", 1)[1]
        assert "injected-parameters" not in text and 'police_capacity"</span>' not in after_box
        assert "build noise" not in text  # stderr stays in the build


def test_stale_page_shows_the_error_banner(built):
    out, _ = built
    stale = (out / "reports" / "theme-cyberspace.html").read_text(encoding="utf-8")
    banner = stale.split('<div class="stale-banner" role="alert">', 1)[1].split("</div>", 1)[0]
    assert "last good page" in banner
    assert "KeyError: &#x27;cyber&#x27; &lt;not a tag&gt;" in banner  # escaped, shown as HTML text
    fresh = (out / "reports" / "theme-police_capacity.html").read_text(encoding="utf-8")
    assert "stale-banner" not in fresh


# --------------------------------------------------------------------------- rebuilds


def test_unchanged_rebuild_does_not_run_sphinx(built, monkeypatch):
    out, manifest = built
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}

    def no_sphinx(*args, **kwargs):
        raise AssertionError("Sphinx ran although nothing changed")

    monkeypatch.setattr(site, "_run_sphinx", no_sphinx)
    site.render(out, json.loads(json.dumps(manifest)))
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before


def test_a_changed_report_is_rebuilt_and_a_removed_one_unpublished(tmp_path):
    out = tmp_path / "site"
    manifest = make_site(out)
    site.render(out, manifest)
    keep = (out / "reports" / "overview-usd.html").read_bytes()
    manifest["reports"] = [r for r in manifest["reports"] if r["name"] != "pledge-tracker"]
    changed = next(r for r in manifest["reports"] if r["name"] == "theme-police_capacity")
    changed["title"] = "Police capacity building"
    user_file = out / "notes.txt"
    user_file.write_text("mine")
    site.render(out, manifest)
    assert not (out / "reports" / "pledge-tracker.html").exists()
    assert not (out / "downloads" / "pledge-tracker").exists()
    assert "<h1>Police capacity building" in (out / "reports" / "theme-police_capacity.html").read_text()
    assert "pledge-tracker" not in (out / "index.html").read_text()
    assert user_file.read_text() == "mine" and (out / "manifest.json").is_file()
    assert (out / "_executed" / "pledge-tracker.ipynb").is_file()  # the build's file, not ours
    assert b"Police capacity building" in (out / "reports" / "overview-usd.html").read_bytes()  # nav
    assert keep != b""


def test_one_changed_notebook_rebuilds_its_page_and_keeps_the_others(tmp_path):
    out = tmp_path / "site"
    manifest = make_site(out)
    site.render(out, manifest)
    others = {p: p.read_bytes() for p in _report_pages(out) if p.stem != "pledge-tracker"}
    executed = out / "_executed" / "pledge-tracker.ipynb"
    notebook = json.loads(executed.read_text())
    notebook["cells"][0]["source"] += "\n\nA sentence added by the new run."
    executed.write_text(json.dumps(notebook))
    site.render(out, manifest)
    assert "A sentence added by the new run." in (out / "reports" / "pledge-tracker.html").read_text()
    assert {p: p.read_bytes() for p in _report_pages(out) if p.stem != "pledge-tracker"} == others
    assert (out / "downloads" / "overview-usd" / "table-1.csv").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["site"]  # nothing written beside it


def test_failed_sphinx_build_leaves_the_published_site(tmp_path, monkeypatch):
    out = tmp_path / "site"
    manifest = make_site(out)
    site.render(out, manifest)
    def published_site():
        return {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and ".sphinx" not in p.parts}

    published = published_site()
    manifest["reports"][0]["title"] = "Changed"
    broken_conf = tmp_path / "conf"
    shutil.copytree(site._CONF_DIR, broken_conf)
    (broken_conf / "conf.py").write_text("raise RuntimeError('broken configuration')\n")
    monkeypatch.setattr(site, "_CONF_DIR", broken_conf)
    with pytest.raises(site.SiteError, match="Sphinx could not build the site"):
        site.render(out, manifest)
    assert published_site() == published


def test_a_link_out_of_the_output_folder_is_not_written_through(tmp_path):
    out = tmp_path / "site"
    manifest = make_site(out)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "reports").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(site.SiteError, match="a link leading out of the output folder"):
        site.render(out, manifest)
    assert list(elsewhere.iterdir()) == []
    assert not (out / "index.html").exists() and not (out / "_static").exists()  # nothing half-published


def test_a_records_notebook_path_is_never_followed_and_an_unreadable_notebook_gets_no_page(tmp_path):
    out = tmp_path / "site"
    manifest = make_site(out)
    secret = tmp_path / "secret.ipynb"
    secret.write_text(json.dumps(_notebook("# Secret")))
    manifest["reports"][0]["executed"] = "../secret.ipynb"  # a hand-edited record
    (out / manifest["reports"][1]["executed"]).write_text("{not json")
    site.render(out, manifest)
    assert not (out / "reports" / manifest["reports"][1]["name"]).with_suffix(".html").exists()
    assert "is not a readable notebook" in (out / "index.html").read_text()
    # The page is the notebook the build wrote for that name, _executed/overview-usd.ipynb.
    assert (out / "reports" / "overview-usd.html").exists()
    assert not any("Secret" in p.read_text(errors="replace") for p in out.rglob("*.html"))


# --------------------------------------------------------------------------- tables


def test_html_tables_expand_spans_and_skip_style():
    text = ('<style>td{}</style><table><thead><tr><th colspan="2">Money</th></tr></thead>'
            '<tbody><tr><th rowspan="2">Asia</th><td>1</td></tr><tr><td>2</td></tr>'
            "</tbody></table><p>after</p>")
    ((end, rows),) = html_tables(text)
    assert text[end:] == "<p>after</p>"
    assert rows == [["Money", "Money"], ["Asia", "1"], ["Asia", "2"]]
    assert to_csv([["a", "b,c"], ["d"]]) == 'a,"b,c"\nd,\n'


def test_markdown_tables_ignore_code_fences():
    text = "```\n| a | b |\n|---|---|\n```\n\n| x | y |\n|:--|--:|\n| 1 | `2` |\n\nend"
    ((end, rows),) = markdown_tables(text)
    assert rows == [["x", "y"], ["1", "2"]]
    assert text.split("\n")[end] == ""


def test_pandas_styler_and_dataframe_tables_become_their_rows():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({("Money", "USD"): ["$1.5 million", "$2 million"], ("People", ""): [5, 6]},
                         index=pd.MultiIndex.from_tuples([("Asia", "police"), ("Asia", "cyber")]))
    expected = [["", "", "Money", "People"], ["", "", "USD", ""],
                ["Asia", "police", "$1.5 million", "5"], ["Asia", "cyber", "$2 million", "6"]]
    for html in (frame.style.set_uuid("fixed").to_html(), frame.to_html()):
        assert [rows for _, rows in html_tables(html)] == [expected]
    styled = frame.reset_index(drop=True).style.hide(axis="index").set_caption("Money").to_html()
    assert [rows for _, rows in html_tables(styled)] == [[row[2:] for row in expected]]
