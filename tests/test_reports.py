"""Scheduled reports: schedule validation, the build (pages, index, manifest), skips, failures.

The build tests execute tiny notebooks written here with nbformat (a kernel
start-up each, about 2 s); the rest needs no kernel.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path

import nbformat
import pytest

import oda_data
import oda_data._files
from oda_data import reports
from oda_data.cli import main
from oda_data.reports import EntryResult, ScheduleError, build_reports, entry_key, load_schedule
from oda_data.white_paper import data_checksum

REPO = Path(__file__).resolve().parents[1]

# The tiny report: a markdown title, a parameters cell, and a cell that prints
# a marker (its output must reach the page while its source must not).
_REPORT_CODE = """\
if currency == "XXX":
    raise ValueError(f"unknown currency {currency!r} <script>")
print("TOTAL_IN_" + currency)
if crs_source is not None:
    with open(crs_source) as crs_file:
        print("CRS_ROWS:", crs_file.read().strip())
"""


def write_notebook(path: Path, code: str = _REPORT_CODE) -> Path:
    """A tiny notebook with a ``parameters`` cell (currency, crs_source), no kernel metadata."""
    parameters = nbformat.v4.new_code_cell('currency = "USD"\ncrs_source = None')
    parameters.metadata["tags"] = ["parameters"]
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# Tiny security report"), parameters,
                      nbformat.v4.new_code_cell(code)]
    # No kernelspec metadata on purpose: the build must not depend on it.
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def write_schedule(root: Path, text: str) -> Path:
    schedule = root / "reports" / "schedule.yaml"
    schedule.parent.mkdir(parents=True, exist_ok=True)
    schedule.write_text(text, encoding="utf-8")
    return schedule


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder (cwd) with notebooks/tiny.ipynb and no CRS source configured."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(reports.CRS_SOURCE_ENV, raising=False)
    write_notebook(tmp_path / "notebooks" / "tiny.ipynb")
    return tmp_path


def read_manifest(output: Path) -> dict:
    return json.loads((output / "manifest.json").read_text(encoding="utf-8"))


def statuses(output: Path) -> dict[str, str]:
    return {record["name"]: record["status"] for record in read_manifest(output)["reports"]}


def leftover_temp_files(output: Path) -> list[str]:
    return sorted(p.name for p in output.iterdir()
                  if (p.name.startswith(".") or ".tmp" in p.name) and p.name != reports.LOCK_NAME)


# --------------------------------------------------------------------------- default schedule


def _notebooks_on_disk() -> set[str]:
    return {
        path.relative_to(REPO).as_posix()
        for path in (REPO / "notebooks").rglob("*.ipynb")
        if ".ipynb_checkpoints" not in path.parts
    }


def test_default_schedule_covers_every_notebook_theme_and_region(monkeypatch):
    monkeypatch.chdir(REPO)
    schedule = load_schedule(REPO / "reports" / "schedule.yaml", check_files=False)
    scheduled = {entry.notebook for entry in schedule}
    assert _notebooks_on_disk() <= scheduled, "notebooks missing from reports/schedule.yaml"

    themes = [e.parameters["theme"] for e in schedule if e.notebook.endswith("theme_profile.ipynb")]
    assert sorted(themes) == sorted(oda_data.THEMES)
    regions = [e.parameters["region"] for e in schedule
               if e.notebook.endswith("region_profile.ipynb")]
    assert sorted(regions) == sorted(oda_data.REGIONS)

    by_name = {entry.name: entry for entry in schedule}
    assert by_name["overview-usd"].parameters == {"currency": "USD", "prices": "current"}
    assert by_name["overview-jpy-constant"].parameters == {
        "currency": "JPY", "prices": "constant", "base_year": 2022}
    assert by_name["pledge-tracker"].notebook == "notebooks/pledge_tracker.ipynb"
    crs_entries = {e.notebook for e in schedule if e.requires == ("crs",)}
    assert crs_entries == {"notebooks/crs_security_trends.ipynb",
                           "notebooks/white_paper_vs_crs.ipynb"}


def test_default_schedule_names_only_existing_notebooks(monkeypatch):
    # Fails (listing each missing notebook) while a scheduled notebook is absent:
    # `make reports` would refuse the schedule then.
    monkeypatch.chdir(REPO)
    schedule = load_schedule(REPO / "reports" / "schedule.yaml")
    teaching = [e for e in schedule if e.notebook.startswith("notebooks/teaching/")]
    assert teaching and all(e.name.startswith("teaching-") for e in teaching)


# --------------------------------------------------------------------------- validation

_GOOD = "    notebook: notebooks/tiny.ipynb\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("reports:\n  - name: a\n" + _GOOD + "    params: {currency: USD}\n",
         ["reports[0] ('a')", "unknown field(s) ['params']", "valid: ['name', 'notebook'"]),
        ("reports:\n  - name: a\n    notebook: notebooks/missing.ipynb\n",
         ["reports[0] ('a')", "field 'notebook'", "'notebooks/missing.ipynb' not found"]),
        ("reports:\n  - name: a\n" + _GOOD + "  - name: A\n" + _GOOD,
         ["reports[1] ('A')", "field 'name'", "duplicate name", "reports[0] ('a')"]),
        ("reports:\n  - name: ../evil\n" + _GOOD,
         ["reports[0] ('../evil')", "field 'name'", "not a safe file name"]),
        ("reports:\n  - name: index\n" + _GOOD, ["'index' is not a safe file name"]),
        ("reports:\n  - notebook: notebooks/tiny.ipynb\n",
         ["reports[0] (no name)", "field 'name': expected a text name"]),
        ("reports:\n  - name: a\n" + _GOOD + "    parameters: [USD, current]\n",
         ["reports[0] ('a')", "field 'parameters': expected a mapping", "got a list"]),
        ("reports:\n  - name: a\n" + _GOOD + "    parameters: {start: 2022-01-01}\n",
         ["parameter 'start'", "got date", "quote it"]),
        ("reports:\n  - name: a\n" + _GOOD + "    parameters: {base-year: 2022}\n",
         ["field 'parameters': name 'base-year' is not a valid Python variable name"]),
        ("reports:\n  - name: a\n" + _GOOD + "    requires: gpu\n",
         ["field 'requires': unknown requirement 'gpu'", "valid: ['crs']"]),
        ("reports: {name: a}\n", ["field 'reports': expected a non-empty list"]),
        ("- name: a\n", ["expected a mapping with a 'reports' list"]),
        ("reports:\n  - name: a\n    notebook: [unclosed\n", ["not valid YAML"]),
    ],
    ids=["unknown-key", "missing-notebook", "duplicate-name", "unsafe-name", "reserved-name",
         "no-name", "parameters-list", "parameter-date", "parameter-name", "unknown-requirement",
         "reports-not-list", "top-not-mapping", "yaml-syntax"],
)
def test_schedule_errors_name_file_entry_and_field(project, text, expected):
    schedule = write_schedule(project, text)
    with pytest.raises(ScheduleError) as caught:
        load_schedule(schedule)
    message = str(caught.value)
    assert message.startswith(str(schedule))
    for fragment in expected:
        assert fragment in message


def test_schedule_lists_every_problem_at_once(project):
    schedule = write_schedule(project, "reports:\n  - name: a b\n" + _GOOD
                              + "  - name: c\n    notebook: nope.ipynb\n")
    with pytest.raises(ScheduleError) as caught:
        load_schedule(schedule)
    assert "reports[0] ('a b')" in str(caught.value)
    assert "reports[1] ('c')" in str(caught.value)


def test_glob_entry_becomes_one_report_per_notebook(project):
    for stem in ("02_money", "01_intro"):
        write_notebook(project / "notebooks" / "teaching" / f"{stem}.ipynb")
    write_notebook(project / "notebooks" / "teaching" / ".ipynb_checkpoints"
                   / "01_intro-checkpoint.ipynb")
    schedule = load_schedule(write_schedule(
        project, "reports:\n  - name: teaching\n    notebook: notebooks/teaching/*.ipynb\n"))
    assert [(e.name, e.notebook) for e in schedule] == [
        ("teaching-01_intro", "notebooks/teaching/01_intro.ipynb"),
        ("teaching-02_money", "notebooks/teaching/02_money.ipynb"),
    ]
    assert schedule.entries[0].path == project / "notebooks" / "teaching" / "01_intro.ipynb"


def test_notebook_paths_resolve_from_cwd_then_project_root(tmp_path, monkeypatch):
    root, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    write_notebook(root / "notebooks" / "tiny.ipynb")
    schedule = write_schedule(root, "reports:\n  - name: a\n" + _GOOD)
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_schedule(schedule).entries[0].path == root / "notebooks" / "tiny.ipynb"
    # The current folder comes first when it holds the path too.
    write_notebook(elsewhere / "notebooks" / "tiny.ipynb")
    assert load_schedule(schedule).entries[0].path == elsewhere / "notebooks" / "tiny.ipynb"


def test_cli_without_schedule_exits_2_with_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["reports", "build", "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert "reports/schedule.yaml" in error and "--schedule FILE" in error
    assert not (tmp_path / "reports" / "build").exists()


def test_cli_invalid_schedule_runs_nothing(project, capsys):
    write_schedule(project, "reports:\n  - name: a\n    notebook: notebooks/missing.ipynb\n")
    assert main(["reports", "build", "--no-progress"]) == 2
    assert "'notebooks/missing.ipynb' not found" in capsys.readouterr().err
    assert not (project / "reports" / "build" / "index.html").exists()


def test_cli_rejects_zero_jobs(project, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["reports", "build", "--jobs", "0"])
    assert caught.value.code == 2
    assert "expected a whole number >= 1, got '0'" in capsys.readouterr().err


# --------------------------------------------------------------------------- keys, files, index


def test_entry_key_changes_with_each_input(tmp_path):
    notebook = write_notebook(tmp_path / "a.ipynb")
    base = dict(data_checksum="d" * 64, package_version="1.0", crs_fingerprint=None)
    key = entry_key(notebook, {"currency": "USD", "base_year": 2022}, **base)
    # Same inputs, parameters in another order: same key.
    assert entry_key(notebook, {"base_year": 2022, "currency": "USD"}, **base) == key
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    changed = [
        entry_key(notebook, {"currency": "JPY", "base_year": 2022}, **base),
        entry_key(notebook, {"currency": "USD", "base_year": 2022}, **{**base, "data_checksum": "e" * 64}),
        entry_key(notebook, {"currency": "USD", "base_year": 2022}, **{**base, "package_version": "1.1"}),
        entry_key(notebook, {"currency": "USD", "base_year": 2022},
                  **{**base, "crs_fingerprint": {"path": "/x", "size": 1, "mtime_ns": 2}}),
    ]
    write_notebook(notebook, code="print('changed')")
    changed.append(entry_key(notebook, {"currency": "USD", "base_year": 2022}, **base))
    assert key not in changed and len(set(changed)) == len(changed)


def test_atomic_write_keeps_the_old_file_when_replacing_fails(tmp_path, monkeypatch):
    page = tmp_path / "page.html"
    reports.atomic_write(page, "old page")

    def fail_replace(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(oda_data._files.os, "replace", fail_replace)
    with pytest.raises(OSError, match="disk full"):
        reports.atomic_write(page, "new page " * 1000)
    assert page.read_text() == "old page"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]


def test_index_escapes_everything_from_schedule_and_errors():
    entries = [
        EntryResult(name="a<b", notebook="notebooks/<x>.ipynb", parameters={"theme": "<i>&"},
                    status="ok", html="a<b.html", duration_s=2.25),
        EntryResult(name="c", notebook="n.ipynb", parameters={"year": 2022, "on": True},
                    status="failed", error='ValueError: bad "<script>alert(1)</script>"',
                    executed_notebook="c.ipynb", duration_s=75.0),
    ]
    page = reports.render_index(entries, context={"package_version": "1", "data_checksum": "ab"})
    assert "<script" not in page and "<i>" not in page and "<x>" not in page
    assert "theme=&lt;i&gt;&amp;" in page
    assert "ValueError: bad &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;" in page
    assert '<a href="a&lt;b.html">a&lt;b</a>' in page
    assert "year=2022" in page and "on=true" in page
    assert "2.2 s" in page and "1 min 15 s" in page
    assert 'href="c.ipynb"' in page
    # Self-contained: no external stylesheet, script or image.
    assert "<link" not in page and "src=" not in page and "http" not in page
    assert page.index("a&lt;b") < page.index(">c<")


def test_second_build_into_the_same_folder_is_refused(project, capsys):
    import filelock

    write_schedule(project, "reports:\n  - name: a\n" + _GOOD)
    output = project / "out"
    output.mkdir()
    with filelock.FileLock(output / reports.LOCK_NAME):  # a build in progress
        assert main(["reports", "build", "--output", "out", "--no-progress"]) == 2
    assert "another build is writing here" in capsys.readouterr().err
    assert not (output / "manifest.json").exists()


def test_crs_entry_with_missing_source_fails_without_running(project, monkeypatch):
    monkeypatch.setenv(reports.CRS_SOURCE_ENV, str(project / "no-such-crs.zip"))
    schedule = write_schedule(project, "reports:\n  - name: crs\n" + _GOOD + "    requires: crs\n")
    result = build_reports(schedule, project / "out", progress=False)
    assert result.exit_code == 1
    assert "no-such-crs.zip" in result["crs"].error and "$ODA_CRS_SOURCE" in result["crs"].error
    assert not (project / "out" / "crs.ipynb").exists()


# --------------------------------------------------------------------------- builds (kernels)


@pytest.mark.notebooks
def test_build_writes_pages_index_manifest_and_survives_a_failure(project, capsys):
    write_schedule(project, """\
reports:
  - name: usd
    notebook: notebooks/tiny.ipynb
    parameters: {currency: USD}
  - name: boom
    notebook: notebooks/tiny.ipynb
    parameters: {currency: XXX}
  - name: crs-trends
    notebook: notebooks/tiny.ipynb
    requires: crs
""")
    code = main(["reports", "build", "--jobs", "2", "--output", "site"])
    output = project / "site"

    assert code == 1  # boom failed; the skipped CRS entry alone would not fail the build
    summary = capsys.readouterr().out
    assert "FAILED  boom: ValueError: unknown currency 'XXX' <script>" in summary
    assert "1 ok, 1 failed, 1 skipped" in summary

    page = (output / "usd.html").read_text(encoding="utf-8")
    assert "TOTAL_IN_USD" in page and "Tiny security report" in page
    assert "raise ValueError" not in page and "print(" not in page  # no code cells
    assert 'currency = "USD"' not in page and "In&nbsp;[" not in page
    # Self-contained: reports open offline, so no script or stylesheet from a CDN.
    assert not re.search(r'(src|href)="https?://', page)
    assert nbformat.read(output / "usd.ipynb", as_version=4).metadata.papermill.parameters == {
        "currency": "USD"}

    assert not (output / "boom.html").exists()
    executed = nbformat.read(output / "boom.ipynb", as_version=4)
    errors = [out for cell in executed.cells for out in cell.get("outputs", [])
              if out.output_type == "error"]
    assert [(e.ename, e.evalue) for e in errors] == [
        ("ValueError", "unknown currency 'XXX' <script>")]

    manifest = read_manifest(output)
    assert manifest["complete"] is True
    assert manifest["counts"] == {"ok": 1, "failed": 1, "skipped": 1}
    usd, boom, crs = manifest["reports"]
    assert [usd["name"], boom["name"], crs["name"]] == ["usd", "boom", "crs-trends"]
    assert usd["notebook"] == "notebooks/tiny.ipynb" and usd["parameters"] == {"currency": "USD"}
    assert usd["status"] == "ok" and usd["duration_s"] > 0 and usd["error"] is None
    assert usd["html"] == "usd.html" and usd["executed_notebook"] == "usd.ipynb"
    assert usd["data_checksum"] == data_checksum() == manifest["data_checksum"]
    assert usd["package_version"] == oda_data.__version__
    assert re.fullmatch(r"[0-9a-f]{64}", usd["key"])
    dt.datetime.fromisoformat(usd["built_at"])
    assert boom["status"] == "failed" and boom["html"] is None
    assert boom["error"] == "ValueError: unknown currency 'XXX' <script>"
    assert boom["executed_notebook"] == "boom.ipynb"
    assert crs["status"] == "skipped" and crs["requires"] == ["crs"]
    assert "oda-data download crs --reduced" in crs["message"]
    assert "ODA_CRS_SOURCE=<path> oda-data reports build" in crs["message"]

    index = (output / "index.html").read_text(encoding="utf-8")
    assert '<a href="usd.html">usd</a>' in index
    assert "ValueError: unknown currency &#x27;XXX&#x27; &lt;script&gt;" in index
    assert "<script" not in index and 'href="boom.html"' not in index
    assert "currency=XXX" in index and "oda-data download crs --reduced" in index
    assert index.index(">usd<") < index.index(">boom") < index.index(">crs-trends<")
    assert leftover_temp_files(output) == []


@pytest.mark.notebooks
def test_rebuild_skips_unchanged_reruns_changed_and_forced(project, monkeypatch):
    entries = """\
reports:
  - name: a
    notebook: notebooks/tiny.ipynb
    parameters: {currency: USD}
  - name: b
    notebook: notebooks/tiny.ipynb
    parameters: {currency: %s}
  - name: crs-trends
    notebook: notebooks/tiny.ipynb
    requires: crs
"""
    schedule = write_schedule(project, entries % "JPY")
    output = project / "out"

    first = build_reports(schedule, output, jobs=1, progress=False)
    assert first.exit_code == 0  # the CRS entry is skipped, not failed
    assert statuses(output) == {"a": "ok", "b": "ok", "crs-trends": "skipped"}
    pages_before = {name: (output / f"{name}.html").stat().st_mtime_ns for name in "ab"}

    second = build_reports(schedule, output, jobs=2, progress=False)
    assert second.exit_code == 0
    assert statuses(output) == {"a": "unchanged", "b": "unchanged", "crs-trends": "skipped"}
    for name in "ab":  # earlier duration and pages kept, pages not rewritten
        assert second[name].duration_s == first[name].duration_s
        assert second[name].built_at == first[name].built_at
        assert second[name].message.startswith("skipped (unchanged since")
        assert (output / f"{name}.html").stat().st_mtime_ns == pages_before[name]
    assert '<a href="a.html">a</a>' in (output / "index.html").read_text(encoding="utf-8")

    # A new parameter for b and a CRS source: only b and the CRS entry run.
    write_schedule(project, entries % "EUR")
    crs_file = project / "crs.csv"
    crs_file.write_text("42 rows\n", encoding="utf-8")
    monkeypatch.setenv(reports.CRS_SOURCE_ENV, "crs.csv")  # relative to the current folder
    third = build_reports(schedule, output, jobs=2, progress=False)
    assert statuses(output) == {"a": "unchanged", "b": "ok", "crs-trends": "ok"}
    assert "TOTAL_IN_EUR" in (output / "b.html").read_text(encoding="utf-8")
    assert "CRS_ROWS: 42 rows" in (output / "crs-trends.html").read_text(encoding="utf-8")
    assert third["crs-trends"].parameters == {"crs_source": str(crs_file)}
    assert third["crs-trends"].crs_source["size"] == crs_file.stat().st_size

    forced = build_reports(schedule, output, jobs=2, force=True, progress=False)
    assert [entry.status for entry in forced] == ["ok", "ok", "ok"]
    assert forced["a"].built_at is not None and forced["a"].key == third["a"].key
    assert leftover_temp_files(output) == []


@pytest.mark.notebooks
def test_html_export_failure_leaves_no_page(project, monkeypatch):
    schedule = write_schedule(project, "reports:\n  - name: usd\n" + _GOOD)
    output = project / "out"
    output.mkdir()
    (output / "usd.html").write_text("an old page from an earlier build")
    # A temporary file an interrupted build left behind is cleaned up.
    (output / ".usd.html.abc123.tmp").write_text("<html><body>half a pa")

    def broken_export(nb, *, title):
        raise RuntimeError("template exploded")

    monkeypatch.setattr(reports.worker, "export_html", broken_export)
    result = build_reports(schedule, output, jobs=1, progress=False)

    assert result.exit_code == 1
    assert result["usd"].error == "HTML export failed: RuntimeError: template exploded"
    assert not (output / "usd.html").exists()  # neither a partial nor a stale page
    assert result["usd"].executed_notebook == "usd.ipynb" and (output / "usd.ipynb").is_file()
    assert leftover_temp_files(output) == []
    assert statuses(output) == {"usd": "failed"}


@pytest.mark.notebooks
def test_kernels_run_over_ipc_and_are_stopped(project, capfd):
    """A build prints no kernel noise: no TCP warning (IPC sockets), no orphan kernel."""
    schedule = write_schedule(project, "reports:\n  - name: usd\n" + _GOOD)
    result = build_reports(schedule, project / "out", jobs=1, progress=False)
    assert result.exit_code == 0
    errors = capfd.readouterr().err
    assert "Kernel is running over TCP" not in errors
    assert "Parent appears to have exited" not in errors
