# Sphinx configuration of the reports site (oda_data.reports.site writes the pages beside it).
import html
import os

project = "ODA security and stability reports"
html_title = project
extensions = ["myst_nb"]
exclude_patterns = ["_extra", "**/.ipynb_checkpoints"]
root_doc = "index"
suppress_warnings = ["myst.header"]  # the notebooks' heading levels are theirs to choose
nb_execution_mode = "off"  # papermill executed the notebooks
nb_output_stderr = "remove"  # warnings belong to the build, not to the page
nb_merge_streams = True
# Markdown outputs (narrative tables) may hold pipe tables: parse them as MyST, not CommonMark.
nb_render_markdown_format = "myst"
# No MathJax (it would come from a CDN): LaTeX outputs fall back to their text.
nb_mime_priority_overrides = [("html", "text/latex", None)]
# Raw HTML in Markdown is shown as text; the site's own HTML comes from its templates.
myst_disable_syntax = ["html_block", "html_inline"]
# Only cells tagged "solution" are folded (oda_data.reports.page tags them hide-cell).
nb_code_prompt_show = "Show the solution"
nb_code_prompt_hide = "Hide the solution"

html_theme = "sphinx_book_theme"
html_static_path = ["_static"]
html_css_files = ["site.css"]
html_extra_path = ["_extra"]  # CSV files, chart images, executed notebooks, data sets
html_copy_source = False
html_show_sourcelink = False
# Snippets come from each page's text (oda-page-text.js), which also works from file://.
html_show_search_summary = False
html_search_scorer = os.path.join(os.path.dirname(__file__), "_static", "oda-scorer.js")
html_theme_options = {
    "home_page_in_toc": True,
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "search_bar_text": "Search the reports...",
    "navbar_persistent": [],  # one search box: the sidebar's
    "footer_content_items": [],
}
html_sidebars = {"**": ["navbar-logo", "search-button-field", "sbt-sidebar-nav.html"]}


def _page_context(app, pagename, templatename, context, doctree):
    # sphinx-book-theme writes the title's plain text, unescaped, into the print <h1>.
    if "pagetitle" in context:
        context["pagetitle"] = html.escape(str(context["pagetitle"]))
    if pagename == "search":
        app.add_js_file("oda-page-text.js")
        app.add_js_file("oda-search.js")


def setup(app):
    app.connect("html-page-context", _page_context, priority=900)
