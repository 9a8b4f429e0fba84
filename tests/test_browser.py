"""The built site in a real browser (Debian's chromium, driven by Playwright), as a reader opens it.

At 1280 px every table is whole (every column in view, no cell cut) and every chart on the
screen; at 390 px every chart fits the screen and tables scroll in their own box with the
first column fixed; search for "piracy" shows snippets and ranks the maritime profile first;
every CSV link downloads a file with numbers. The demo site is built once per test session
(shared by the xdist workers). Charts drawn by ``style.svg`` keep a long legend and a long
source line inside the SVG.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
from filelock import FileLock

import browser_testlib as lib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from oda_data import style  # noqa: E402

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - the test extra pins it
    sync_playwright = None


@pytest.fixture(scope="session")
def browser():
    if sync_playwright is None:
        lib.no_browser("the python package playwright is not installed")
    with sync_playwright() as playwright:
        chromium = lib.launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The demo site, built once for the whole session: xdist workers share one build under a lock.

    ODA_BROWSER_SITE=<folder> tests an already built site instead (a developer's quick re-run).
    """
    if os.environ.get("ODA_BROWSER_SITE"):
        return Path(os.environ["ODA_BROWSER_SITE"])
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    with FileLock(str(root / "oda-demo-site.lock")):
        folder, failed = root / "oda-demo-site", root / "oda-demo-site.failed"
        if failed.exists():
            pytest.fail(failed.read_text(), pytrace=False)
        if not (folder / "index.html").is_file():
            try:
                lib.build_demo_site(folder)
            except pytest.fail.Exception as error:
                failed.write_text(str(error))
                raise
    return folder


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": lib.DESKTOP, "height": 900}, accept_downloads=True)
    page = context.new_page()
    yield page
    context.close()


def _measure(page, site: Path, width: int) -> dict[str, dict]:
    page.set_viewport_size({"width": width, "height": 900})
    measured = {}
    for path in lib.pages(site):
        page.goto(path.as_uri(), wait_until="load")
        measured[str(path.relative_to(site))] = page.evaluate(lib.MEASURE)
    return measured


def test_at_1280_px_every_table_is_whole_and_every_chart_on_the_screen(page, site):
    cut = []
    for name, found in _measure(page, site, lib.DESKTOP).items():
        for item in found["items"]:
            if item["kind"] == "table" and (item["scrolls"] or item["right"] > item["boxRight"] + 1 or item["cutCells"]):
                cut.append(f"{name}: table {item['name']!r} is {item['width']} px wide, its box ends at "
                           f"{item['boxRight']} px ({item['cutCells']} cells cut)")
            if item["kind"] == "chart" and (item["right"] > found["vw"] or item["boxScrolls"] or not item["loaded"]):
                cut.append(f"{name}: chart {item['name']!r} reaches {item['right']} px of {found['vw']}")
        if found["pageScrolls"]:
            cut.append(f"{name}: the page scrolls sideways")
    assert not cut, "cut off at 1280 px:\n" + "\n".join(cut)


def test_at_390_px_charts_fit_the_screen_and_tables_scroll_in_their_own_box(page, site):
    wrong, charts = [], 0
    for name, found in _measure(page, site, lib.PHONE).items():
        if found["pageScrolls"]:
            wrong.append(f"{name}: the page scrolls sideways")
        for index, item in enumerate(i for i in found["items"] if i["kind"] == "table"):
            if item["boxRight"] > found["vw"]:
                wrong.append(f"{name}: the box of table {item['name']!r} ends at {item['boxRight']} px of {found['vw']}")
            if item["scrolls"] and not item["firstSticky"]:
                wrong.append(f"{name}: table {item['name']!r} scrolls without its first column fixed")
        for item in (i for i in found["items"] if i["kind"] == "chart"):
            charts += 1
            if item["left"] < 0 or item["right"] > found["vw"] or item["boxScrolls"] or not item["loaded"]:
                wrong.append(f"{name}: chart {item['name']!r} spans {item['left']}-{item['right']} px of {found['vw']}")
    assert charts, "no chart found on any page: the measure no longer finds them"
    assert not wrong, "at 390 px:\n" + "\n".join(wrong)


def test_at_390_px_a_scrolled_table_keeps_its_first_column_in_view(page, site):
    page.set_viewport_size({"width": lib.PHONE, "height": 900})
    page.goto((site / "reports" / "overview-usd.html").as_uri())
    tables = page.evaluate(lib.MEASURE)["items"]
    scrolling = [index for index, item in enumerate(i for i in tables if i["kind"] == "table") if item["scrolls"]]
    assert scrolling, "no table of the overview scrolls on a phone: pick a wider one for this test"
    moved = page.evaluate(lib.FIRST_COLUMN_STAYS, scrolling[0])
    assert not moved["moved"], moved


@pytest.mark.parametrize("how", ["http", "file"])
def test_search_for_piracy_shows_snippets_and_ranks_the_maritime_profile_first(page, site, how):
    with lib.serve(site) as base:
        url = f"{base}/search.html?q=piracy" if how == "http" else (site / "search.html").as_uri() + "?q=piracy"
        page.goto(url)
        page.wait_for_selector("#search-results li", timeout=20_000)
        page.wait_for_timeout(500)  # snippets are filled in after the list
        results = page.eval_on_selector_all(
            "#search-results li", "els => els.map(li => ({href: li.querySelector('a').href, "
            "snippet: (li.querySelector('.context') || {textContent: ''}).textContent.trim()}))")
    assert results, f"search ({how}) found nothing for 'piracy'"
    assert "maritime" in results[0]["href"], f"search ({how}) ranks first {results[0]['href']}, not the maritime profile"
    snippets = [r["snippet"] for r in results]
    assert all(snippets) and all("System Settings" not in s for s in snippets), f"search ({how}) snippets: {snippets}"
    assert any("piracy" in s.lower() for s in snippets), f"no snippet ({how}) shows the word: {snippets}"


def test_every_csv_link_downloads_a_file_with_numbers(page, site, tmp_path):
    without_numbers, links = [], 0
    with lib.serve(site) as base:
        for path in lib.pages(site):
            page.goto(f"{base}/{path.relative_to(site).as_posix()}")
            for index in range(page.locator("a[href$='.csv']").count()):
                link = page.locator("a[href$='.csv']").nth(index)
                table = "csv-download" in (link.get_attribute("class") or "")  # a table's download, not a data dictionary
                links += 1
                with page.expect_download(timeout=10_000) as download:
                    link.click()
                saved = tmp_path / f"{links}.csv"
                download.value.save_as(saved)
                frame = pd.read_csv(saved)
                if frame.empty or (table and frame.select_dtypes("number").empty):
                    without_numbers.append(f"{path.name}: {link.get_attribute('href')} ({list(frame.columns)[:6]})")
    assert links, "no CSV link on any page"  # each table's download has a numeric column; every CSV has rows
    assert not without_numbers, f"{len(without_numbers)} of {links} CSV downloads have no numeric column:\n" + "\n".join(without_numbers)


def _long_legend_chart():
    with style.context():
        fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
        for n, theme in enumerate(style.THEME_COLORS):
            ax.bar([n], [10 ** (n % 4 + 1)], color=style.theme_color(theme),
                   label=f"{theme.replace('_', ' ').capitalize()}, the long name of a theme")
        ax.set_yscale("log")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        # Outside the figure, where no layout engine looks: only style.svg's crop keeps it in the picture.
        fig.text(0.99, 0.5, "A label at the very right edge", ha="left")
        style.finish(ax, title="A chart whose legend is wider than the axes",
                     source="Source: " + "a source line long enough to wrap more than once " * 4,
                     note="And a note after it")
    return fig


def _drawn(browser, svg_text: str) -> list[dict]:
    page = browser.new_page(viewport={"width": 1600, "height": 1200})
    try:
        page.set_content(f"<!doctype html><html><body style='margin:0'>{svg_text}</body></html>")
        return page.evaluate(lib.SVG_OVERFLOW)
    finally:
        page.close()


def test_a_long_legend_and_a_long_source_line_stay_inside_the_svg(browser):
    fig = _long_legend_chart()
    try:
        svg_text = style.svg(fig, alt="Bars of nine themes")
        # The check can fail: the same figure saved at its own size cuts the label off.
        plain = io.StringIO()
        with matplotlib.rc_context({"svg.fonttype": "none"}):
            fig.savefig(plain, format="svg")
    finally:
        plt.close(fig)
    assert _drawn(browser, plain.getvalue()[plain.getvalue().index("<svg"):]), "the overflow check finds nothing to cut"
    assert _drawn(browser, svg_text) == []
    assert "mathdefault" not in svg_text and ">1,000<" in svg_text


def test_a_table_reads_left_aligned_and_wrapped_in_jupyterlab(browser, tmp_path):
    """fmt.table's own styles outrank JupyterLab's (centred, right-aligned, fixed layout), as nbconvert's lab page draws it."""
    import nbformat
    from IPython.core.formatters import DisplayFormatter
    from nbconvert import HTMLExporter

    from oda_data import fmt

    frame = pd.DataFrame({"Record": ["WP-CT-01", "WP-MAR-12"], "Amount": ["approximately $6 billion", "$468 million"],
                          "What": ["Assistance for counter-terrorism and for stability in the Middle East, " * 3, "Somalia"]})
    data, metadata = DisplayFormatter().format(fmt.table(frame, caption="Pledged"))
    cell = nbformat.v4.new_code_cell("fmt.table(frame)", outputs=[nbformat.v4.new_output("display_data", data=data, metadata=metadata)])
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nbformat.v4.new_notebook(cells=[cell]))
    page = browser.new_page(viewport={"width": lib.DESKTOP, "height": 900})
    try:
        page.set_content(body)
        found = page.evaluate("""() => { const t = document.querySelector('.jp-OutputArea-output table'),
            area = t.closest('.jp-OutputArea-output').getBoundingClientRect(), r = t.getBoundingClientRect(),
            cells = [...t.querySelectorAll('th, td')], size = parseFloat(getComputedStyle(t.querySelector('td')).fontSize);
          return {gapLeft: r.left - area.left, right: r.right - area.right, widest: Math.max(...cells.map(c => c.getBoundingClientRect().width)) / size,
                  aligns: [...new Set(cells.map(c => getComputedStyle(c).textAlign))]}; }""")
    finally:
        page.close()
    assert found["gapLeft"] < 20, found  # at the left of the output, not centred
    assert found["right"] <= 0, found
    assert found["aligns"] == ["left"], found
    assert found["widest"] <= 30, found  # the long text wraps at about 28em


def test_at_1280_px_the_in_page_contents_fold_into_a_button_that_opens_them(page, site):
    page.goto((site / "reports" / "overview-usd.html").as_uri())
    assert not page.locator("div.bd-sidebar-secondary").is_visible()  # its column goes to the tables
    page.locator("button.secondary-toggle:visible").first.click()
    drawer = page.locator("dialog.bd-sidebar-secondary[open]")
    drawer.wait_for(state="visible", timeout=5_000)
    assert drawer.bounding_box()["width"] > 200 and "Money, one table per kind" in drawer.inner_text()


def test_without_a_browser_the_test_skips_here_but_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="make browser"):
        lib.no_browser("/usr/bin/chromium is missing")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="make browser"):
        lib.no_browser("/usr/bin/chromium is missing")
