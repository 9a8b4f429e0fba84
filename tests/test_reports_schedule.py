"""The reports schedule: the default schedule, validation, and the schedule faults of issue 8.

No kernel runs here: papermill only reads the notebooks' parameters cells.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

import oda_data
from oda_data.cli import main
from oda_data.reports import ScheduleError, load_schedule
from reports_testlib import GOOD, project, write_notebook, write_schedule  # noqa: F401

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- the default schedule


def test_default_schedule_covers_every_notebook_theme_and_region(monkeypatch):
    monkeypatch.chdir(REPO)
    schedule = load_schedule(REPO / "reports" / "schedule.yaml")
    on_disk = {path.relative_to(REPO).as_posix() for path in (REPO / "notebooks").rglob("*.ipynb")
               if ".ipynb_checkpoints" not in path.parts}
    assert on_disk <= {entry.notebook for entry in schedule}

    profiles = [e for e in schedule if e.notebook.endswith("profile.ipynb")]
    themes = [e.parameters["theme"] for e in profiles if not e.parameters.get("region")]
    assert sorted(themes) == sorted(oda_data.THEMES)
    regions = [e.parameters["region"] for e in profiles if e.parameters.get("theme") is None]
    assert sorted(regions) == sorted(oda_data.REGIONS)

    by_name = {entry.name: entry for entry in schedule}
    usd = by_name["overview-usd"]
    assert usd.parameters == {"currency": "USD", "prices": "current"}
    assert usd.defaults == {"currency": "USD", "prices": "current", "base_year": 2022}
    assert usd.title == "Security and stability ODA at a glance (US dollars, current prices)"
    assert by_name["theme-maritime_security"].title == "Maritime security: theme profile"
    assert {e.group for e in schedule} == {"overview", "themes", "regions", "pledges", "crs",
                                           "teaching"}
    assert all(entry.description for entry in schedule)
    teaching = [e for e in schedule if e.notebook.startswith("notebooks/teaching/")]
    assert teaching and all(e.name.startswith("teaching-") and e.group == "teaching" for e in teaching)
    # A glob entry is titled by each notebook's first heading.
    assert by_name["teaching-01_reading_an_oda_figure"].title == "Reading an ODA figure"
    assert {e.notebook for e in schedule if e.requires == ["crs"]} == {
        "notebooks/crs_security_trends.ipynb", "notebooks/white_paper_vs_crs.ipynb"}


def test_reports_list_prints_every_name_and_title(monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    assert main(["reports", "list"]) == 0
    out = capsys.readouterr().out
    assert "theme-maritime_security" in out and "Maritime security: theme profile" in out
    assert "crs-security-trends" in out and "[needs crs]" in out
    assert "notebooks/security_overview.ipynb (currency=USD, prices=current)" in out


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("reports:\n  - name: a\n" + GOOD + "    params: {currency: USD}\n",
         ["reports[0] ('a')", "unknown field(s) ['params']", "valid: ['name', 'notebook'"]),
        ("reports:\n  - name: a\n    notebook: notebooks/missing.ipynb\n",
         ["reports[0] ('a')", "field 'notebook'", "'notebooks/missing.ipynb' not found"]),
        ("reports:\n  - name: a\n" + GOOD + "  - name: A\n" + GOOD,
         ["reports[1] ('A')", "field 'name'", "duplicate name", "reports[0] ('a')"]),
        ("reports:\n  - name: ../evil\n" + GOOD,
         ["reports[0] ('../evil')", "field 'name'", "not a safe file name"]),
        ("reports:\n  - name: index\n" + GOOD, ["'index' is not a safe file name"]),
        ("reports:\n  - notebook: notebooks/tiny.ipynb\n",
         ["reports[0] (no name)", "field 'name': expected a text name"]),
        ("reports:\n  - name: a\n" + GOOD + "    parameters: [USD, current]\n",
         ["reports[0] ('a')", "field 'parameters': expected a mapping", "got a list"]),
        ("reports:\n  - name: a\n" + GOOD + "    parameters: {currency: 2022-01-01}\n",
         ["parameter 'currency'", "got date", "quote it"]),
        ("reports:\n  - name: a\n" + GOOD + "    parameters: {base-year: 2022}\n",
         ["field 'parameters': name 'base-year' is not a valid Python variable name"]),
        ("reports:\n  - name: a\n" + GOOD + "    requires: gpu\n",
         ["field 'requires': unknown requires 'gpu'", "valid: ['crs']"]),
        ("reports:\n  - name: a\n" + GOOD + "    group: misc\n",
         ["field 'group': unknown group 'misc'", "'overview', 'themes'"]),
        ("reports: {name: a}\n", ["field 'reports': expected a non-empty list"]),
        ("- name: a\n", ["expected a mapping with a 'reports' list"]),
        ("reports:\n  - name: a\n    notebook: [unclosed\n", ["not valid YAML"]),
    ],
    ids=["unknown-key", "missing-notebook", "duplicate-name", "unsafe-name", "reserved-name",
         "no-name", "parameters-list", "parameter-date", "parameter-name", "unknown-requirement",
         "unknown-group", "reports-not-list", "top-not-mapping", "yaml-syntax"],
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
    schedule = write_schedule(project, "reports:\n  - name: a b\n" + GOOD
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
    assert [(e.name, e.notebook, e.group, e.title) for e in schedule] == [
        ("teaching-01_intro", "notebooks/teaching/01_intro.ipynb", "teaching",
         "Tiny security report"),
        ("teaching-02_money", "notebooks/teaching/02_money.ipynb", "teaching",
         "Tiny security report"),
    ]
    assert schedule.entries[0].path == project / "notebooks" / "teaching" / "01_intro.ipynb"
    assert schedule.entries[0].project == project


def test_notebook_paths_resolve_from_cwd_then_project_root(tmp_path, monkeypatch):
    root, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    write_notebook(root / "notebooks" / "tiny.ipynb")
    schedule = write_schedule(root, "reports:\n  - name: a\n" + GOOD)
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_schedule(schedule).entries[0].path == root / "notebooks" / "tiny.ipynb"
    write_notebook(elsewhere / "notebooks" / "tiny.ipynb")  # the current folder comes first
    assert load_schedule(schedule).entries[0].path == elsewhere / "notebooks" / "tiny.ipynb"


def test_title_falls_back_to_the_notebooks_heading(project):
    entry, = load_schedule(write_schedule(project, "reports:\n  - name: a\n" + GOOD))
    assert (entry.title, entry.group, entry.description) == ("Tiny security report", "overview", "")


# --------------------------------------------------------------------------- faults (issue 8)


def test_misspelt_parameter_is_an_error_with_a_suggestion(project):
    schedule = write_schedule(project, "reports:\n  - name: jpy\n" + GOOD
                              + "    parameters: {currncy: JPY}\n")
    with pytest.raises(ScheduleError) as caught:
        load_schedule(schedule)
    message = str(caught.value)
    assert "reports[0] ('jpy'), field 'parameters'" in message
    assert "declares no parameter 'currncy' (did you mean 'currency'?)" in message
    assert "valid: ['crs_source', 'currency']" in message


def test_parameter_for_a_notebook_without_parameters_cell_is_an_error(project):
    import nbformat

    bare = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    nbformat.write(bare, project / "notebooks" / "bare.ipynb")
    schedule = write_schedule(project, "reports:\n  - name: a\n    notebook: notebooks/bare.ipynb\n"
                              "    parameters: {currency: JPY}\n")
    with pytest.raises(ScheduleError, match=r"the notebook declares none \(no cell tagged"):
        load_schedule(schedule)


@pytest.mark.parametrize("name", ["class", "lambda", "None", "2x", "a.b"])
def test_keyword_or_non_identifier_parameter_is_refused(project, name):
    schedule = write_schedule(project, "reports:\n  - name: a\n" + GOOD
                              + f"    parameters: {{'{name}': 1}}\n")
    with pytest.raises(ScheduleError, match=f"name '{name}' is not a valid Python variable name"):
        load_schedule(schedule)


def test_duplicate_key_in_an_entry_is_an_error(project):
    schedule = write_schedule(project, "reports:\n  - name: a\n" + GOOD
                              + "    parameters: {currency: USD}\n    parameters: {currency: JPY}\n")
    with pytest.raises(ScheduleError, match=r"duplicate key 'parameters' \(first at line 4\)"):
        load_schedule(schedule)


def test_duplicate_parameter_is_an_error(project):
    schedule = write_schedule(project, "reports:\n  - name: a\n" + GOOD
                              + "    parameters: {currency: USD, currency: JPY}\n")
    with pytest.raises(ScheduleError, match="duplicate key 'currency'"):
        load_schedule(schedule)


@pytest.mark.parametrize("text", [
    # an alias bomb: nine levels of nine aliases
    "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi")) + "reports: *i\n",
    "reports: &r [*r]\n",  # recursive
    "reports:\n  - &e {name: a, notebook: notebooks/tiny.ipynb}\n  - *e\n",
], ids=["alias-bomb", "recursive-alias", "plain-alias"])
def test_yaml_anchors_and_aliases_are_refused_at_once(project, text):
    schedule = write_schedule(project, text)
    started = time.perf_counter()
    with pytest.raises(ScheduleError) as caught:
        load_schedule(schedule)
    assert "anchors and aliases (&name, *name) are not allowed" in str(caught.value)
    assert "line 1" in str(caught.value) or "line 2" in str(caught.value)
    assert time.perf_counter() - started < 30  # refused while parsing, not after expanding


@pytest.mark.parametrize(("notebook", "expected"), [
    ("/**/*.ipynb", "must be relative to the project folder"),
    ("/etc/passwd", "must be relative to the project folder"),
    ("~/x.ipynb", "must be relative to the project folder"),
    ("../elsewhere/*.ipynb", "must stay inside the project folder (no '..')"),
    ("notebooks/../../x.ipynb", "must stay inside the project folder (no '..')"),
    ("notebooks/a**/*.ipynb", "uses '**' inside a name; '**' must be a whole path part"),
])
def test_notebook_paths_and_globs_stay_inside_the_project(project, notebook, expected):
    schedule = write_schedule(project, f"reports:\n  - name: a\n    notebook: '{notebook}'\n")
    with pytest.raises(ScheduleError) as caught:
        load_schedule(schedule)
    assert f"field 'notebook': {notebook!r} {expected}" in str(caught.value)


def test_recursive_glob_matches_inside_the_project_only(project):
    (project / "notebooks" / "deep" / "er").mkdir(parents=True)
    write_notebook(project / "notebooks" / "deep" / "er" / "x.ipynb")
    # A link out of the project is not followed.
    outside = project.parent / f"{project.name}-outside"
    write_notebook(outside / "secret.ipynb")
    (project / "notebooks" / "link").symlink_to(outside, target_is_directory=True)
    schedule = load_schedule(write_schedule(project, "reports:\n  - name: all\n"
                                            "    notebook: '**/*.ipynb'\n"))
    assert [e.notebook for e in schedule] == ["notebooks/deep/er/x.ipynb", "notebooks/tiny.ipynb"]


def test_a_glob_over_link_loops_ends_and_skips_hidden_folders(project):
    for name in ("up1", "up2", "up3"):  # followed, three links to the parents would never end
        (project / "notebooks" / name).symlink_to("..", target_is_directory=True)
    for hidden in (".ipynb_checkpoints", "__pycache__"):
        write_notebook(project / "notebooks" / hidden / "copy.ipynb")
    write_notebook(project / "notebooks" / ".hidden.ipynb")
    started = time.perf_counter()
    schedule = load_schedule(write_schedule(project, "reports:\n  - name: all\n"
                                            "    notebook: '**/*.ipynb'\n"))
    assert [e.notebook for e in schedule] == ["notebooks/tiny.ipynb"]
    assert time.perf_counter() - started < 30
