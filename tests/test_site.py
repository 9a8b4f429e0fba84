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

from oda_data import fmt  # noqa: E402
from oda_data.reports import site, work_folder  # noqa: E402

SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="400" height="200" viewBox="0 0 400 200">'
       '<rect x="10" y="10" width="120" height="180" fill="#1a4f9c"/>'
       '<text x="150" y="100" font-size="14">Police capacity</text></svg>')
CHART_ALT = "Bar chart: police capacity records by region, Asia highest with 5"
FINDINGS = ("- Japan pledged " + fmt.DOLLAR + "6 billion to the Middle East.\n"
            "- Police training reached 1,234 officers.\n- A third finding.\n- A fourth finding.")


def _table_output(caption="Pledged"):
    """An output as IPython displays ``fmt.table`` (contract 1: text/csv with its name)."""
    import pandas as pd

    frame = pd.DataFrame({"Region": ["Asia", 'Africa, "East"'], "Amount": ["$6 billion",
                          "approximately ¥14 billion"], "amount_usd": [6e9, 123456789.123456789]})
    table = fmt.table(frame, caption=caption, csv_only=["amount_usd"])
    data, metadata = table._repr_mimebundle_()
    return {"output_type": "display_data", "metadata": metadata,
            "data": {"text/html": table.to_html(), "text/plain": repr(table), **data}}


def _cell(kind, source, outputs=None, tags=None):
    cell = {"cell_type": kind, "metadata": {"tags": tags or []}, "source": source}
    if kind == "code":
        cell.update(outputs=outputs or [], execution_count=1)
    return cell


def _notebook(first_heading="# Theme profile", *, findings=True, words=""):
    cells = [
        _cell("markdown", f"{first_heading}\n\nOne theme of the chapter in depth. {words}"),
        _cell("code", 'theme = "maritime_security"', tags=["parameters"]),
        _cell("code", 'theme = "police_capacity"', tags=["injected-parameters"]),
        _cell("markdown", "## What this page finds"),
        _cell("code", "display(Markdown(findings))", tags=["findings"], outputs=[
            {"output_type": "display_data", "metadata": {},
             "data": {"text/markdown": FINDINGS, "text/plain": "<Markdown>"}}]),
        _cell("code", "summary_table", outputs=[
            _table_output(), _table_output(),
            {"output_type": "stream", "name": "stderr", "text": "UserWarning: build noise\n"}]),
        _cell("markdown", "## Pledges <img src=x onerror=alert(9)>\n\nNext: "
                          "[Lesson 02](02_money.ipynb), see [the trends](../crs_trends.ipynb) and "
                          "[a missing one](nowhere.ipynb)."),
        _cell("code", "style.show(fig, alt=...)", outputs=[
            {"output_type": "display_data", "metadata": {"image/svg+xml": {"alt": CHART_ALT}},
             "data": {"image/svg+xml": SVG, "text/plain": CHART_ALT}}]),
        _cell("code", "answer_1 = None  # exercise 1\nteaching.check_answer('1.1', answer_1)",
              outputs=[{"output_type": "stream", "name": "stdout", "text": "Not answered yet\n"}]),
        _cell("code", "solution_1 = records.groupby('theme').size()", tags=["solution"],
              outputs=[{"output_type": "stream", "name": "stdout", "text": "SOLUTION OUTPUT\n"}]),
    ]
    if not findings:
        cells = [c for c in cells if "findings" not in c["metadata"]["tags"]]
    return {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (oda_data)",
                                    "language": "python"},
                     "language_info": {"name": "python"}},
        "cells": cells,
    }


WHITE_PAPER = {"label": "White Paper 2018, chapter 'Assistance for Security and Stability'",
               "file": "white_paper_2018_security.csv", "checksum": "a" * 64, "rows": 128,
               "date": "2019-03"}
RATES = {"label": "DAC exchange rates and deflators 2000-2023", "file": "dac_rates.csv",
         "checksum": "b" * 64, "rows": 24, "date": None}


def _record(name, group, status="ok", *, teaching=False, error=None, executed=True, **extra):
    parameters = extra.pop("parameters", {"theme": "police_capacity", "currency": "USD",
                                          "prices": "current", "base_year": 2022})
    return {
        "name": name, "title": extra.pop("title", name.replace("-", " ").title()),
        "titled": extra.pop("titled", True),
        "description": extra.pop("description", f"What {name} shows, in one line."),
        "group": group, "notebook": extra.pop("notebook", "notebooks/theme_profile.ipynb"),
        "parameters": parameters, "given": extra.pop("given", {"theme": "police_capacity"}),
        "status": status, "error": error, "reason": extra.pop("reason", None),
        "data": extra.pop("data", [WHITE_PAPER, RATES]), "package_version": "0.1.0",
        "git_commit": "0123456789abcdef0123", "built_at": "2026-11-29T12:00:00+00:00",
        "executed": f"_executed/{name}.ipynb" if executed else None, "teaching": teaching,
        **extra,
    }


HOSTILE_TITLE = "<script>alert(1)</script> Cyber"
HOSTILE_HEADING = "# Report <img src=x onerror=alert(9)>"


def make_site(out: Path) -> dict:
    """Write executed notebooks (into the work folder) and a manifest (into ``out``) as the build
    does; return the manifest."""
    records = [
        _record("overview-usd", "overview", title="Security overview in US dollars"),
        _record("overview-jpy", "overview", title="Security overview in yen",
                parameters={"currency": "JPY", "prices": "constant", "base_year": 2015}),
        _record("theme-police_capacity", "themes", title="Police capacity"),
        _record("theme-maritime_security", "themes", title="Maritime security"),
        _record("theme-cyberspace", "themes", "stale", title=HOSTILE_TITLE,
                description="<b>bold</b> ``` description", error="KeyError: 'cyber' <not a tag>"),
        _record("region-asia", "regions", "failed", executed=False, title="Theme profile",
                titled=False, given={"region": "Asia"}, error="ValueError: no region 'Asai'"),
        _record("pledge-tracker", "pledges", title="Pledge tracker"),
        _record("crs-security-trends", "crs", "skipped", executed=False,
                title="CRS security trends", notebook="notebooks/crs_trends.ipynb",
                reason="needs OECD CRS data: run .venv/bin/oda-data download crs --reduced"),
        _record("crs-demo", "crs", title="CRS on demonstration data", demo=True,
                notebook="notebooks/crs_trends.ipynb", given={}),
        _record("teaching-01_reading", "teaching", teaching=True, title="Reading an ODA figure",
                notebook="notebooks/teaching/01_reading.ipynb", parameters={"answer_1": None}),
        _record("teaching-02_money", "teaching", teaching=True, titled=False,
                title=HOSTILE_HEADING[2:], notebook="notebooks/teaching/02_money.ipynb",
                parameters={}, given={}),
    ]
    executed_dir = work_folder(out) / "_executed"
    executed_dir.mkdir(parents=True, exist_ok=True)
    for record in records:
        if record["executed"]:
            words = "Piracy piracy piracy off Somalia." if "maritime" in record["name"] else (
                "One mention of piracy." if record["name"] == "overview-usd" else "")
            notebook = _notebook(HOSTILE_HEADING if record["name"] == "teaching-02_money" else
                                 "# Theme profile", findings=record["group"] != "regions",
                                 words=words)
            (executed_dir / f"{record['name']}.ipynb").write_text(json.dumps(notebook),
                                                                  encoding="utf-8")
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"manifest_format": 2, "reports": records}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "build"
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


def _home(out):
    return (out / "index.html").read_text(encoding="utf-8")


def test_home_page_lists_titles_grouped_with_problems_first(built):
    out, _ = built
    home = _home(out)
    assert (out / "manifest.json").is_file()
    headings = re.findall(r"<h2>([^<]*)<a class=\"headerlink", home)
    assert headings == ["Needs attention", "Key findings", "Overview", "Themes", "Regions",
                        "Pledges", "CRS", "Teaching", "Sources and data versions",
                        "How the figures are made"]
    attention = home.split('<section id="needs-attention">', 1)[1].split("</section>", 1)[0]
    assert "Cyber" in attention and "Police capacity" not in attention
    # an untitled entry is named by its schedule name and parameters, not the notebook heading
    assert "region-asia (region=Asia)" in attention and "Theme profile" not in attention
    assert "failed: no page" in attention and "the latest build failed" in attention
    assert "What pledge-tracker shows, in one line." in home
    assert "ValueError: no region &#39;Asai&#39;" in home
    assert "needs OECD CRS data: run .venv/bin/oda-data download crs --reduced" in home
    assert "up to date" not in home  # build jargon
    # a failed entry without a last good page is not linked; a skipped one neither
    assert 'href="reports/region-asia.html"' not in home
    assert 'href="reports/crs-security-trends.html"' not in home
    assert not (out / "reports" / "region-asia.html").exists()


def test_home_page_has_findings_build_date_versions_sources_and_one_search_box(built):
    out, _ = built
    home = _home(out)
    findings = home.split('<section id="key-findings">', 1)[1].split("</section>\n</section>", 1)[0]
    # one block per notebook, the first three bullets of its findings cell, as written there
    assert findings.count("Japan pledged $6 billion to the Middle East.") == 2
    assert "A third finding." in findings and "A fourth finding." not in findings
    assert 'href="reports/overview-usd.html"' in findings
    assert "Reports last built 2026-11-29T12:00:00+00:00, oda_data 0.1.0" in home
    assert "a" * 64 in home and "b" * 64 in home  # data versions
    assert 'href="https://www.mofa.go.jp/' in home and 'href="https://data-explorer.oecd.org/"' in home
    assert "How the figures are made" in home and "never added into one" in home
    assert home.count('type="search"') == 1
    assert 'href="data.html"' in home


def test_no_findings_section_when_no_notebook_has_findings(tmp_path):
    text = site.home_page([_record("region-asia", "regions")], {"region-asia"}, {}, {})
    assert "Key findings" not in text and "region-asia" in text


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


def test_the_published_folder_is_the_site_only(built):
    out, _ = built
    top = {p.name for p in out.iterdir()}
    assert not top & {".sphinx", ".build.lock", "_executed", ".cache"}, top
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]
    assert (work_folder(out) / "sphinx" / "state.json").is_file()
    assert not work_folder(out).is_relative_to(out)


def test_every_report_page_links_home_and_has_its_provenance(built):
    out, manifest = built
    pages = _report_pages(out)
    assert [p.stem for p in pages] == sorted(
        r["name"] for r in manifest["reports"] if r["status"] in ("ok", "stale"))
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert '<a href="../index.html">&larr; All reports</a>' in text, page.name
        box = text.split('<aside class="provenance"', 1)[1].split("</aside>", 1)[0]
        assert "White Paper 2018, chapter" in box and "a" * 12 in box and "128 rows" in box
        assert "DAC exchange rates and deflators 2000-2023" in box and "b" * 12 in box
        assert "oda_data 0.1.0" in box and "<code>0123456789ab</code>" in box
        assert "2026-11-29T12:00:00+00:00" in box
        assert "notebooks/" in box and "make lab" in box
        assert f'href="../downloads/{page.stem}.ipynb"' in box


def test_provenance_lists_only_the_parameters_a_page_uses(built):
    out, _ = built
    def box(name):
        text = (out / "reports" / f"{name}.html").read_text(encoding="utf-8")
        return text.split('<aside class="provenance"', 1)[1].split("</aside>", 1)[0]
    current = box("overview-usd")
    assert "<code>theme = &#34;police_capacity&#34;</code>" in current
    assert "prices = &#34;current&#34;" in current and "base_year" not in current
    assert "<code>base_year = 2015</code>" in box("overview-jpy")
    assert "<code>answer_1 = None</code>" in box("teaching-01_reading")


def test_tables_download_as_csv_from_their_frame(built):
    out, _ = built
    page = out / "reports" / "overview-usd.html"
    links = [url for _, _, url in _parse(page).links if url.endswith(".csv")]
    assert links == ["../downloads/overview-usd--pledged.csv",
                     "../downloads/overview-usd--pledged-2.csv"]
    rows = list(csv.reader(io.StringIO((page.parent / links[0]).read_text(encoding="utf-8"))))
    assert rows == [["Region", "Amount", "amount_usd"], ["Asia", "$6 billion", "6000000000.0"],
                    ['Africa, "East"', "approximately ¥14 billion", "123456789.12345679"]]
    assert "amount_usd" not in page.read_text(encoding="utf-8")  # a csv_only column


def test_demonstration_pages_csv_say_so_in_a_column_and_the_name(built):
    out, _ = built
    page = out / "reports" / "crs-demo.html"
    links = [url for _, _, url in _parse(page).links if url.endswith(".csv")]
    assert links[0] == "../downloads/crs-demo--pledged--demonstration-data.csv"
    rows = list(csv.reader(io.StringIO((page.parent / links[0]).read_text(encoding="utf-8"))))
    assert rows[0] == ["data_source", "Region", "Amount", "amount_usd"]
    assert {row[0] for row in rows[1:]} == {"demonstration data (invented activities), not OECD figures"}


def test_data_page_offers_the_dataset_its_dictionary_and_the_dac_rates(built):
    import pandas as pd

    from oda_data import money, white_paper

    out, _ = built
    page = (out / "data.html").read_text(encoding="utf-8")
    for name in ("white_paper.csv", "dac_rates.csv"):
        assert f'href="data/{name}"' in page
    assert len(pd.read_csv(out / "data" / "white_paper.csv")) == len(white_paper())
    # The full shipped table (every provider, 1960-2023), not a Japan-only extract.
    shipped = Path(money.__file__).with_name("data") / "dac_rates.csv"
    assert (out / "data" / "dac_rates.csv").read_bytes() == shipped.read_bytes()
    assert "every DAC provider, 1960-2023" in page
    dictionary = pd.read_csv(out / "data" / "white_paper_dictionary.csv")
    assert list(dictionary["column"]) == list(white_paper().columns)
    assert '<td>record_id</td>' in page and '<td>period_end</td>' in page


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


def test_teaching_pages_show_code_and_fold_solutions(built):
    out, _ = built
    teaching = (out / "reports" / "teaching-01_reading.html").read_text(encoding="utf-8")
    report = (out / "reports" / "theme-police_capacity.html").read_text(encoding="utf-8")
    assert "cell_input" in teaching and "check_answer" in teaching and "answer_1" in teaching
    assert "Not answered yet" in teaching
    assert '<span class="s2">"maritime_security"</span>' in teaching  # the notebook's parameters cell
    details = re.findall(r"<details.*?</details>", teaching, flags=re.S)
    assert any("solution_1" in d and "Show the solution" in d for d in details)
    assert "solution_1" not in re.sub(r"<details.*?</details>", "", teaching, flags=re.S)
    assert "cell_input" not in report and "check_answer" not in report
    for text in (teaching, report):
        after_box = text.split("</aside>", 1)[1]
        assert "injected-parameters" not in text and 'police_capacity"</span>' not in after_box
        assert "build noise" not in text  # stderr stays in the build


def test_links_to_other_notebooks_lead_to_their_pages(built):
    out, _ = built
    page = out / "reports" / "teaching-01_reading.html"
    links = {url for _, _, url in _parse(page).links}
    assert "teaching-02_money.html" in links  # [Lesson 02](02_money.ipynb)
    assert "crs-demo.html" in links  # ../crs_trends.ipynb: its default-parameter entry
    text = page.read_text(encoding="utf-8")
    assert "a missing one" in text and "nowhere.ipynb" not in text


def test_markup_in_titles_descriptions_headings_and_errors_is_text(built):
    out, _ = built
    for page in _pages(out):
        text = page.read_text(encoding="utf-8")
        assert "<script>alert" not in text, page.name
        assert not re.search(r"<img[^>]*onerror", text), page.name
        assert "<b>bold</b>" not in text, page.name
    home = _home(out)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Cyber" in home
    assert "&lt;b&gt;bold&lt;/b&gt; &#96;&#96;&#96; description" in home
    heading = (out / "reports" / "teaching-02_money.html").read_text(encoding="utf-8")
    assert "Report &lt;img src=x onerror=alert(9)&gt;" in heading
    stale = (out / "reports" / "theme-cyberspace.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Cyber" in stale
    assert "Pledges &lt;img src=x onerror=alert(9)&gt;" in stale


def test_stale_page_shows_the_error_banner(built):
    out, _ = built
    stale = (out / "reports" / "theme-cyberspace.html").read_text(encoding="utf-8")
    banner = stale.split('<div class="stale-banner" role="alert">', 1)[1].split("</div>", 1)[0]
    assert "last good page" in banner
    assert "KeyError: &#39;cyber&#39; &lt;not a tag&gt;" in banner  # escaped, shown as HTML text
    fresh = (out / "reports" / "theme-police_capacity.html").read_text(encoding="utf-8")
    assert "stale-banner" not in fresh


def test_search_page_text_gives_real_snippets(built):
    out, _ = built
    text = (out / "_static" / "oda-page-text.js").read_text(encoding="utf-8")
    texts = json.loads(text.splitlines()[0].split("=", 1)[1].rstrip().rstrip(";"))
    ledes = json.loads(text.splitlines()[1].split("=", 1)[1].rstrip().rstrip(";"))
    assert ledes["reports/theme-maritime_security"].startswith("Maritime security What")
    assert "Piracy piracy piracy off Somalia." in texts["reports/theme-maritime_security"]
    assert not any("System Settings" in value or re.search(r"<(div|span|p|table)\b", value)
                   for value in texts.values())
    search = (out / "search.html").read_text(encoding="utf-8")
    assert "oda-page-text.js" in search and "oda-search.js" in search
    assert "ODA_PAGE_TEXT" in (out / "_static" / "language_data.js").read_text(encoding="utf-8")


def _search_in_chromium(url: str) -> str:
    import subprocess

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("no chromium on this machine")
    done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                           "--virtual-time-budget=8000", "--dump-dom", url],
                          capture_output=True, text=True, timeout=120)
    return done.stdout


@pytest.mark.parametrize("scheme", ["file", "http"])
def test_search_ranks_and_shows_snippets_in_a_browser(built, scheme):
    import functools
    import http.server
    import threading

    out, _ = built
    if scheme == "file":
        dom = _search_in_chromium((out / "search.html").as_uri() + "?q=piracy")
    else:
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
        handler.log_message = lambda *args: None
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            dom = _search_in_chromium(f"http://127.0.0.1:{server.server_port}/search.html?q=piracy")
        finally:
            server.shutdown()
    results = dom.split('id="search-results"', 1)[1]
    hrefs = re.findall(r'<li[^>]*>\s*<a href="([^"]+)"', results)
    assert hrefs and hrefs[0].startswith("reports/theme-maritime_security.html"), hrefs
    snippets = re.findall(r'<p class="context">([^<]*)</p>', results)
    assert snippets and "piracy" in snippets[0].lower() and "System Settings" not in results


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
    manifest["reports"] = [r for r in manifest["reports"] if r["name"] != "pledge-tracker"]
    changed = next(r for r in manifest["reports"] if r["name"] == "theme-police_capacity")
    changed["title"] = "Police capacity building"
    user_file = out / "notes.txt"
    user_file.write_text("mine")
    site.render(out, manifest)
    assert not (out / "reports" / "pledge-tracker.html").exists()
    assert not list((out / "downloads").glob("pledge-tracker*"))
    assert "<h1>Police capacity building" in (out / "reports" / "theme-police_capacity.html").read_text()
    assert "pledge-tracker" not in (out / "index.html").read_text()
    assert user_file.read_text() == "mine" and (out / "manifest.json").is_file()
    assert (work_folder(out) / "_executed" / "pledge-tracker.ipynb").is_file()  # the build's file
    assert b"Police capacity building" in (out / "reports" / "overview-usd.html").read_bytes()  # nav


def test_one_changed_notebook_rebuilds_its_page_and_keeps_the_others(tmp_path):
    out = tmp_path / "site"
    manifest = make_site(out)
    site.render(out, manifest)
    others = {p: p.read_bytes() for p in _report_pages(out) if p.stem != "pledge-tracker"}
    executed = work_folder(out) / "_executed" / "pledge-tracker.ipynb"
    notebook = json.loads(executed.read_text())
    notebook["cells"][0]["source"] += "\n\nA sentence added by the new run."
    executed.write_text(json.dumps(notebook))
    site.render(out, manifest)
    assert "A sentence added by the new run." in (out / "reports" / "pledge-tracker.html").read_text()
    assert {p: p.read_bytes() for p in _report_pages(out) if p.stem != "pledge-tracker"} == others
    assert (out / "downloads" / "overview-usd--pledged.csv").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".cache", "site"]


def test_failed_sphinx_build_leaves_the_published_site(tmp_path, monkeypatch):
    out = tmp_path / "site"
    manifest = make_site(out)
    site.render(out, manifest)
    def published_site():
        return {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

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
    manifest["reports"][0]["executed"] = "../../secret.ipynb"  # a hand-edited record
    (work_folder(out) / manifest["reports"][1]["executed"]).write_text("{not json")
    site.render(out, manifest)
    assert not (out / "reports" / manifest["reports"][1]["name"]).with_suffix(".html").exists()
    assert "is not a readable notebook" in (out / "index.html").read_text()
    # The page is the notebook the build wrote for that name, _executed/overview-usd.ipynb.
    assert (out / "reports" / "overview-usd.html").exists()
    assert not any("Secret" in p.read_text(errors="replace") for p in out.rglob("*.html"))
