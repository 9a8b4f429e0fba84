"""Building the reports: manifest, skips, failures, and the build faults of issue 8.

Tests marked ``notebooks`` execute tiny notebooks (a kernel start-up each,
a few seconds); the site rendering is replaced by a recorder (``rendered``)
except in the one test that checks the rendered home page.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import oda_data
from oda_data.cli import main
from oda_data.reports import build as build_module
from oda_data.reports import build_reports, entry_key, work_folder
from oda_data.reports import manifest as manifest_module
from reports_testlib import (GOOD, entries, outputs_text, project, read_manifest,  # noqa: F401
                             rendered, statuses, write_notebook, write_schedule)

REPO = Path(__file__).resolve().parents[1]


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# --------------------------------------------------------------------------- refused before running


@pytest.mark.parametrize("output", ["notebooks", "notebooks/site", ".", "notebooks/../notebooks"])
def test_output_folder_may_not_be_in_or_hold_the_notebooks(project, capsys, output):
    write_schedule(project, entries(("tiny", "")))
    before = (project / "notebooks" / "tiny.ipynb").read_bytes()
    assert main(["reports", "build", "--output", output, "--no-progress"]) == 2
    line = error_line(capsys)
    assert "the output folder may not be, lie inside or contain" in line
    assert str(project / "notebooks") in line
    assert (project / "notebooks" / "tiny.ipynb").read_bytes() == before
    assert sorted(p.name for p in (project / "notebooks").iterdir()) == ["tiny.ipynb"]


def test_output_that_is_a_file_is_one_line_with_exit_1(project, capsys):
    write_schedule(project, entries(("tiny", "")))
    (project / "site").write_text("a file, not a folder")
    assert main(["reports", "build", "--output", "site", "--no-progress"]) == 1
    assert re.fullmatch(r"error: \S*site: (File exists|Not a directory)", error_line(capsys))
    assert (project / "site").read_text() == "a file, not a folder"


def test_unwritable_output_is_one_line_with_exit_1(project, capsys):
    write_schedule(project, entries(("tiny", "")))
    if os.geteuid() == 0:  # root writes anywhere: use a folder no one may create
        target = "/proc/oda-reports-test/site"
    else:
        (project / "locked").mkdir(mode=0o555)
        target = "locked/site"
    assert main(["reports", "build", "--output", target, "--no-progress"]) == 1
    line = error_line(capsys)
    assert line.startswith("error: /proc/oda-reports-test" if os.geteuid() == 0 else "error: ")
    assert line.endswith(("No such file or directory", "Permission denied"))


def test_unknown_only_name_lists_the_valid_names(project, capsys):
    write_schedule(project, entries(("usd", "USD"), ("jpy", "JPY")))
    assert main(["reports", "build", "--only", "usd", "eur", "--no-progress"]) == 2
    line = error_line(capsys)
    assert "no report named 'eur'; valid names: usd, jpy" in line
    assert not (project / "reports" / "build").exists()


def test_cli_without_schedule_exits_2_with_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["reports", "build", "--no-progress"]) == 2
    line = error_line(capsys)
    assert "reports/schedule.yaml" in line and "--schedule FILE" in line
    assert not (tmp_path / "reports" / "build").exists()


def test_cli_rejects_zero_jobs(project, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["reports", "build", "--jobs", "0"])
    assert caught.value.code == 2
    assert "expected a whole number >= 1, got '0'" in capsys.readouterr().err


def test_second_build_into_the_same_folder_is_refused(project, capsys):
    import filelock

    write_schedule(project, entries(("a", "")))
    work_folder(project / "out").mkdir(parents=True)
    with filelock.FileLock(work_folder(project / "out") / build_module.LOCK_NAME):  # a build runs
        assert main(["reports", "build", "--output", "out", "--no-progress"]) == 2
    assert "another build is writing here" in error_line(capsys)
    assert not (project / "out" / "manifest.json").exists()


# --------------------------------------------------------------------------- keys, files, messages


def test_entry_key_changes_with_each_input(tmp_path):
    notebook = write_notebook(tmp_path / "a.ipynb")
    base = dict(package="p" * 64, data=["d" * 64], crs_fingerprint=None)
    key = entry_key(notebook, {"currency": "USD", "base_year": 2022}, **base)
    assert entry_key(notebook, {"base_year": 2022, "currency": "USD"}, **base) == key
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    parameters = {"currency": "USD", "base_year": 2022}
    changed = [
        entry_key(notebook, {"currency": "JPY", "base_year": 2022}, **base),
        entry_key(notebook, parameters, **{**base, "data": ["e" * 64]}),
        entry_key(notebook, parameters, **{**base, "package": "q" * 64}),
        entry_key(notebook, parameters, **{**base, "crs_fingerprint": {"path": "/x", "size": 1}}),
    ]
    write_notebook(notebook, code="print('changed')")
    changed.append(entry_key(notebook, parameters, **base))
    assert key not in changed and len(set(changed)) == len(changed)


def test_package_checksum_covers_code_and_data(tmp_path, monkeypatch):
    package = tmp_path / "oda_data"
    (package / "data").mkdir(parents=True)
    (package / "fmt.py").write_text("A = 1\n")
    (package / "data" / "rates.csv").write_text("year\n2020\n")
    monkeypatch.setattr(manifest_module, "_PACKAGE", package)
    first = manifest_module.package_checksum()
    (package / "fmt.py").write_text("A = 2\n")
    second = manifest_module.package_checksum()
    (package / "data" / "rates.csv").write_text("year\n2021\n")
    third = manifest_module.package_checksum()
    (package / "notes.txt").write_text("not code")
    (package / "reports").mkdir()
    (package / "reports" / "site.py").write_text("# renders pages: the site's own key\n")
    assert len({first, second, third}) == 3
    assert manifest_module.package_checksum() == third


def test_crs_skip_message_names_the_venv_command(monkeypatch, project, rendered):
    monkeypatch.chdir(REPO)
    monkeypatch.setattr(sys, "argv", [str(REPO / ".venv" / "bin" / "oda-data")])
    assert build_module.command_name() == ".venv/bin/oda-data"
    monkeypatch.chdir(project)
    schedule = write_schedule(project, "reports:\n  - name: crs\n" + GOOD + "    requires: crs\n")
    result = build_reports(schedule, project / "out", progress=False)
    reason = result["crs"].reason
    assert f"`{REPO}/.venv/bin/oda-data download crs --reduced`" in reason
    assert f"`ODA_CRS_SOURCE=<path> {REPO}/.venv/bin/oda-data reports build`" in reason
    assert "reports build --demo" in reason
    assert result.exit_code == 0 and result["crs"].status == "skipped"


def test_crs_entry_with_missing_source_fails_without_running(project, monkeypatch, rendered):
    monkeypatch.setenv(manifest_module.CRS_SOURCE_ENV, str(project / "no-such-crs.zip"))
    schedule = write_schedule(project, "reports:\n  - name: crs\n" + GOOD + "    requires: crs\n")
    result = build_reports(schedule, project / "out", progress=False)
    assert result.exit_code == 1
    assert "no-such-crs.zip" in result["crs"].error and "$ODA_CRS_SOURCE" in result["crs"].error
    assert not (work_folder(project / "out") / "_executed").exists()


def test_a_killed_builds_temporary_files_are_removed_and_the_users_kept(project, rendered):
    schedule = write_schedule(project, "reports:\n  - name: crs\n" + GOOD + "    requires: crs\n")
    output = project / "out"
    work = work_folder(output)
    (work / "tmp").mkdir(parents=True)
    (work / "tmp" / ".a.ipynb.x.ipynb").write_text("half")  # what a killed build left
    user_files = [".notes.tmp", ".draft.tmp.ipynb", ".usd.html.abc123.tmp", "keep.tmp"]
    output.mkdir()
    for name in user_files:
        (output / name).write_text("the user's")
    build_reports(schedule, output, progress=False)
    assert sorted(p.name for p in output.iterdir()) == sorted([*user_files, "manifest.json"])
    assert sorted(p.name for p in work.iterdir()) == ["build.lock"]
    assert all((output / name).read_text() == "the user's" for name in user_files)


# --------------------------------------------------------------------------- builds (kernels)


@pytest.mark.notebooks
def test_build_records_provenance_and_isolates_a_failure(project, capsys, rendered):
    write_schedule(project, """\
reports:
  - name: usd
    title: "US dollars"
    description: "The tiny report in dollars."
    group: themes
    notebook: notebooks/tiny.ipynb
    parameters: {currency: USD}
  - name: boom
    notebook: notebooks/tiny.ipynb
    parameters: {currency: XXX}
  - name: crs-trends
    notebook: notebooks/tiny.ipynb
    requires: crs
""")
    code = main(["reports", "build", "--jobs", "2", "--output", "site", "--no-progress"])
    output = project / "site"
    assert code == 1  # boom failed; the skipped CRS entry alone would not fail the build
    summary = capsys.readouterr().out
    assert "FAILED  boom: ValueError: unknown currency 'XXX' <script>" in summary
    assert "1 ok, 1 failed, 1 skipped" in summary

    manifest = read_manifest(output)
    assert rendered == [manifest]  # the site is rendered once, from the final manifest
    assert manifest["complete"] is True and manifest["counts"] == {"ok": 1, "failed": 1,
                                                                    "skipped": 1}
    assert manifest["package_version"] == oda_data.__version__
    usd, boom, crs = manifest["reports"]
    assert (usd["name"], usd["title"], usd["description"], usd["group"], usd["teaching"]) == (
        "usd", "US dollars", "The tiny report in dollars.", "themes", False)
    assert usd["notebook"] == "notebooks/tiny.ipynb"
    assert usd["parameters"] == {"currency": "USD", "crs_source": None}  # defaults included
    assert usd["status"] == "ok" and usd["error"] is None and usd["executed"] == (
        "_executed/usd.ipynb")
    assert "TOTAL_IN_USD" in outputs_text(work_folder(output) / usd["executed"])
    assert [d["file"] for d in usd["data"]] == ["oda_data/data/white_paper.csv",
                                               "oda_data/data/dac_rates.csv"]
    assert usd["data"][0]["rows"] == 49 and usd["data"][1]["label"].endswith("every DAC provider, 1960-2023")
    assert all(re.fullmatch(r"[0-9a-f]{64}", d["checksum"]) for d in usd["data"])
    assert usd["git_commit"] is None  # the project is not a git clone
    assert boom["title"] == "Tiny security report" and boom["status"] == "failed"
    assert boom["error"] == "ValueError: unknown currency 'XXX' <script>"
    assert boom["executed"] is None and boom["failed_executed"] == "_executed/_failed/boom.ipynb"
    assert "unknown currency" in json.dumps(json.loads(
        (work_folder(output) / boom["failed_executed"]).read_text())["cells"])
    assert crs["status"] == "skipped" and "download crs --reduced" in crs["reason"]
    assert not [p.name for p in output.iterdir() if p.name.startswith(".")]  # the site only


@pytest.mark.notebooks
def test_rebuild_skips_unchanged_and_reruns_what_changed(project, monkeypatch, rendered):
    text = entries(("a", "USD"), ("b", "%s")) + "  - name: crs-trends\n" + GOOD + \
        "    requires: crs\n"
    schedule = write_schedule(project, text % "JPY")
    output = project / "out"
    first = build_reports(schedule, output, jobs=1, progress=False)
    assert statuses(output) == {"a": "ok", "b": "ok", "crs-trends": "skipped"}
    stamps = {name: (work_folder(output) / "_executed" / f"{name}.ipynb").stat().st_mtime_ns for name in "ab"}

    second = build_reports(schedule, output, jobs=2, progress=False)
    assert statuses(output) == {"a": "ok", "b": "ok", "crs-trends": "skipped"}
    for name in "ab":  # not run again: same build time and executed notebook
        assert second[name].unchanged and second[name].built_at == first[name].built_at
        assert (work_folder(output) / "_executed" / f"{name}.ipynb").stat().st_mtime_ns == stamps[name]

    # A new parameter for b and a CRS source: only b and the CRS entry run.
    write_schedule(project, text % "EUR")
    (project / "crs.csv").write_text("42 rows\n", encoding="utf-8")
    monkeypatch.setenv(manifest_module.CRS_SOURCE_ENV, "crs.csv")  # relative to the current folder
    third = build_reports(schedule, output, jobs=2, progress=False)
    assert [third[n].unchanged for n in ("a", "b", "crs-trends")] == [True, False, False]
    assert "TOTAL_IN_EUR" in outputs_text(work_folder(output) / "_executed" / "b.ipynb")
    assert "CRS_ROWS: 42 rows" in outputs_text(work_folder(output) / "_executed" / "crs-trends.ipynb")
    # The kernel runs in notebooks/: it sees the variable made absolute, as the parameter is.
    assert f"CRS_ENV: {project / 'crs.csv'}" in outputs_text(work_folder(output) / "_executed" / "crs-trends.ipynb")
    crs_data = third["crs-trends"].data[-1]
    # not a CRS file read_crs can read: the row count is unknown, not a count of its lines
    assert (crs_data["file"], crs_data["rows"], crs_data["demo"]) == ("crs.csv", None, False)

    # Editing the package's code rebuilds everything, without --force.
    monkeypatch.setattr(build_module, "package_checksum", lambda: "0" * 64)
    fourth = build_reports(schedule, output, jobs=2, progress=False)
    assert [entry.unchanged for entry in fourth] == [False, False, False]
    forced = build_reports(schedule, output, jobs=2, force=True, progress=False)
    assert [entry.unchanged for entry in forced] == [False, False, False]


@pytest.mark.notebooks
def test_a_failed_rebuild_keeps_the_last_good_page_as_stale(project, capsys, rendered):
    schedule = write_schedule(project, entries(("usd", "USD")))
    output = project / "out"
    good = build_reports(schedule, output, jobs=1, progress=False)
    write_schedule(project, entries(("usd", "XXX")))
    assert main(["reports", "build", "--output", "out", "--jobs", "1", "--no-progress"]) == 1
    assert "(the last good page is kept)" in capsys.readouterr().out
    record, = read_manifest(output)["reports"]
    assert record["status"] == "stale"
    assert record["error"] == "ValueError: unknown currency 'XXX' <script>"
    assert record["executed"] == "_executed/usd.ipynb"
    assert "TOTAL_IN_USD" in outputs_text(work_folder(output) / record["executed"])
    assert record["built_at"] == good["usd"].built_at  # the page's own build
    assert record["parameters"]["currency"] == "USD"  # what the kept page shows
    assert record["failed_executed"] == "_executed/_failed/usd.ipynb"
    # Fixed again: a good page, and the old failure is gone.
    write_schedule(project, entries(("usd", "EUR")))
    assert build_reports(schedule, output, jobs=1, progress=False)["usd"].status == "ok"
    assert not (work_folder(output) / "_executed" / "_failed" / "usd.ipynb").exists()


@pytest.mark.notebooks
def test_a_hand_edited_manifest_cannot_redirect_links(project, rendered):
    schedule = write_schedule(project, entries(("usd", "USD"), ("eur", "EUR")))
    output = project / "out"
    build_reports(schedule, output, jobs=1, progress=False)
    manifest = read_manifest(output)
    for record in manifest["reports"]:
        record.update(html="/etc/passwd", executed="/etc/passwd", failed_executed="../../x")
    manifest["reports"][1].update(key="f" * 64)  # eur's key no longer matches: rebuilt
    (output / "manifest.json").write_text(json.dumps(manifest))
    result = build_reports(schedule, output, jobs=1, progress=False)
    assert [(e.name, e.unchanged) for e in result] == [("usd", True), ("eur", False)]
    for record in read_manifest(output)["reports"]:
        assert record["executed"] == f"_executed/{record['name']}.ipynb"
        assert record["failed_executed"] is None and "html" not in record
    assert "/etc/passwd" not in json.dumps(rendered[-1])


@pytest.mark.notebooks
def test_only_builds_the_named_reports_and_keeps_the_others(project, rendered):
    schedule = write_schedule(project, entries(("usd", "USD"), ("jpy", "JPY")))
    output = project / "out"
    first = build_reports(schedule, output, jobs=1, progress=False, only=["usd"])
    assert statuses(output) == {"usd": "ok", "jpy": "skipped"}
    assert first["jpy"].reason == "not built yet (not selected with --only)"
    build_reports(schedule, output, jobs=1, progress=False, only=["jpy"])
    assert statuses(output) == {"usd": "ok", "jpy": "ok"}
    assert read_manifest(output)["reports"][0]["built_at"] == first["usd"].built_at


@pytest.mark.notebooks
def test_demo_builds_the_crs_reports_on_the_demonstration_file(monkeypatch, tmp_path, rendered):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv(manifest_module.CRS_SOURCE_ENV, str(tmp_path / "not-used.zip"))
    result = build_reports(REPO / "reports" / "schedule.yaml", tmp_path / "out", jobs=1,
                           progress=False, only=["crs-security-trends"], demo=True)
    entry = result["crs-security-trends"]
    assert entry.status == "ok" and entry.demo
    crs = entry.data[-1]
    assert crs["demo"] is True and crs["file"] == "oda_data/data/crs_demo_security_2016_2020.csv"
    assert crs["label"] == "CRS demonstration file: invented activities, not OECD figures"
    assert crs["rows"] == 397  # pandas.read_csv agrees
    assert entry.parameters["crs_source"] is None  # the notebook chose (and labelled) the demo
    executed = json.dumps(json.loads((work_folder(tmp_path / "out") / entry.executed).read_text())["cells"])
    assert "Demonstration data, not OECD figures" in executed


def _descendants(pid: int) -> set[int]:
    children: dict[int, set[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), set()).add(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.notebooks
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_workers_and_kernels_stop_when_the_build_is_killed_or_interrupted(project, stop):
    write_schedule(project, entries(("one", "SLEEP"), ("two", "SLEEP")))
    build = subprocess.Popen([sys.executable, "-m", "oda_data.cli", "reports", "build",
                              "--jobs", "2", "--no-progress", "--output", "out"], cwd=project,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        kernels: set[int] = set()
        while time.monotonic() < deadline and len(kernels) < 2:  # wait for both kernels
            time.sleep(0.5)
            family = _descendants(build.pid)
            kernels = {pid for pid in family
                       if b"ipykernel" in Path(f"/proc/{pid}/cmdline").read_bytes()}
        assert len(kernels) == 2, "the kernels did not start"
        family = _descendants(build.pid)
        build.send_signal(stop)
        assert build.wait(timeout=30) == (130 if stop == signal.SIGINT else -signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(map(_alive, family)):
            time.sleep(0.2)
        assert not [pid for pid in family if _alive(pid)], "workers or kernels outlived the build"
    finally:
        build.kill()
    assert not (work_folder(project / "out") / "_executed").exists()  # nothing half-written was published


@pytest.mark.notebooks
def test_the_build_renders_a_home_page_in_the_output_folder(project):
    schedule = write_schedule(project, entries(("usd", "USD")))
    result = build_reports(schedule, project / "out", jobs=1, progress=False)
    assert result.exit_code == 0 and result.index_path == project / "out" / "index.html"
    home = result.index_path.read_text(encoding="utf-8")
    assert "Tiny security report" in home
    for link in re.findall(r'href="([^"#]+)', home):
        if not re.match(r"[a-z]+:", link):
            assert (result.index_path.parent / link).resolve().is_relative_to(project / "out")


@pytest.mark.notebooks
def test_kernels_run_over_ipc_and_are_stopped(project, capfd, rendered):
    """A build prints no kernel noise: no TCP warning (IPC sockets), no orphan kernel."""
    schedule = write_schedule(project, entries(("usd", "USD")))
    assert build_reports(schedule, project / "out", jobs=1, progress=False).exit_code == 0
    errors = capfd.readouterr().err
    assert "Kernel is running over TCP" not in errors
    assert "Parent appears to have exited" not in errors


def test_a_notebook_in_the_project_root_still_allows_reports_build(project, rendered):
    write_notebook(project / "root.ipynb")
    schedule = write_schedule(project, "reports:\n  - name: crs\n    notebook: root.ipynb\n"
                              "    requires: crs\n")
    assert build_reports(schedule, project / "reports" / "build", progress=False).exit_code == 0
    with pytest.raises(build_module.OutputFolderError, match="may not be, lie inside or contain"):
        build_reports(schedule, project, progress=False)


def test_a_crs_file_is_dated_by_its_file_time_but_the_demonstration_file_is_not(tmp_path):
    # The demonstration file's file time is only when the project was cloned.
    from oda_data.crs.demo import DEMO_PATH
    from oda_data.reports.manifest import crs_dataset

    demo = crs_dataset(DEMO_PATH, demo=True)
    assert demo["date"] is None and demo["demo"] and "invented" in demo["label"]
    real = tmp_path / "crs.csv"
    real.write_bytes(DEMO_PATH.read_bytes()[:2000].rsplit(b"\n", 1)[0] + b"\n")
    os.utime(real, (0, 1_699_963_200))  # 2023-11-14 12:00 UTC: the same date in any time zone within 11 h
    assert crs_dataset(real, demo=False)["date"] == "2023-11-14"


@pytest.mark.shared_data
def test_crs_rows_are_counted_as_read_crs_reads_them(shared_data, tmp_path, monkeypatch):
    from oda_data.reports.manifest import crs_dataset

    monkeypatch.setenv("ODA_DATA_CACHE", str(tmp_path / "cache"))
    sample = shared_data / "crs" / "crs_bilateral_by_purpose_2018_2020_sample.csv"
    lines = sample.read_bytes().count(b"\n")
    rows = crs_dataset(sample, demo=False)["rows"]
    assert rows == len(oda_data.read_crs(sample)) and rows != lines - 1


@pytest.mark.notebooks
def test_a_report_past_its_timeout_is_stopped_and_the_site_still_renders(project, capsys):
    schedule = ("reports:\n  - name: kept\n" + GOOD + "    parameters: {currency: USD}\n"
                "  - name: fresh\n" + GOOD + "    parameters: {currency: SLEEP}\n"
                "    timeout: 3\n")
    write_schedule(project, schedule)
    assert main(["reports", "build", "--output", "out", "--no-progress", "--only", "kept"]) == 0
    kept_page = (project / "out" / "reports" / "kept.html").read_text(encoding="utf-8")
    write_schedule(project, schedule.replace("{currency: USD}", "{currency: SLEEP}"))
    # --timeout sets the limit of an entry without its own "timeout:" key
    code = main(["reports", "build", "--output", "out", "--no-progress", "--jobs", "2",
                 "--timeout", "4"])
    assert code == 1
    output = capsys.readouterr().out
    assert "FAILED  fresh: timed out after 3 s" in output
    assert "FAILED  kept: timed out after 4 s (the last good page is kept)" in output
    manifest = read_manifest(project / "out")
    assert manifest["complete"] is True
    assert statuses(project / "out") == {"kept": "stale", "fresh": "failed"}
    home = (project / "out" / "index.html").read_text(encoding="utf-8")
    assert "timed out after 3 s" in home and "timed out after 4 s" in home
    page = (project / "out" / "reports" / "kept.html").read_text(encoding="utf-8")
    assert "TOTAL_IN_USD" in page and "TOTAL_IN_USD" in kept_page and "stale-banner" in page


def test_an_unchanged_rebuild_says_nothing_changed(project, capsys, monkeypatch, rendered):
    write_schedule(project, entries(("a", ""), ("b", "EUR")))
    monkeypatch.setattr(build_module, "execute", lambda tasks, jobs, record: [
        record(task, {"status": "ok", "error": None, "duration_s": 0.1, "failed_executed": False})
        or Path(task["executed"]).parent.mkdir(parents=True, exist_ok=True)
        or Path(task["executed"]).write_text("{}") for task in tasks])
    assert main(["reports", "build", "--output", "out", "--no-progress"]) == 0
    assert "2 ok" in capsys.readouterr().out
    assert main(["reports", "build", "--output", "out", "--no-progress"]) == 0
    assert capsys.readouterr().out.startswith("nothing changed: 2 reports up to date")
