"""Teaching walkthroughs: the exercises file, the check engine, and the notebooks.

The right answers are written here with pandas, independently of the
solutions in ``oda_data/data/exercises.yaml`` (often another way to say the
same thing), and anchored on figures of the chapter. Typical wrong answers
must get their targeted feedback. One nbclient run per notebook puts right and
wrong pandas into the exercise cells and reads what the checks said.
"""
from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

import oda_data
from oda_data import figures, teaching

REPO = Path(__file__).resolve().parents[1]
TEACHING_DIR = REPO / "notebooks" / "teaching"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (oda_data)", "language": "python"}


@pytest.fixture(scope="module")
def wp() -> pd.DataFrame:
    return oda_data.white_paper()


def by_id(wp: pd.DataFrame, record_id: str) -> pd.Series:
    return wp.set_index("record_id").loc[record_id]


def dac_mean(column: str, start: int, end: int) -> float:
    """Japan's mean DAC ``exchange_rate`` or ``deflator`` over the years, read from the shipped table itself."""
    table = pd.read_csv(REPO / "oda_data" / "data" / "dac_rates.csv").query("donor_code == 701").set_index("year")
    return float(table.loc[start:end, column].mean())


# Right answers, written as a learner might (pandas, not the YAML's solution line).
RIGHT = {
    "01-select-pledges": lambda wp: wp.query("kind == 'pledge' and equivalent_of.isna()", engine="python"),
    "01-people-side-by-side": lambda wp: wp[(wp.theme == "counter_terrorism") & (wp.kind == "pledge")
                                            & wp.people.notna()].set_index("region")["people"],
    "01-asean-exceeded": lambda wp: (80e9 / 45e9 - 1) * 100,
    "01-money-once": lambda wp: wp.dropna(subset=["amount"]).query("equivalent_of.isna()", engine="python"),
    "02-africa-pledge-yen": lambda wp: round(120e6 * dac_mean("exchange_rate", 2016, 2018) / 1e9, 1),
    "02-implied-rate": lambda wp: by_id(wp, "WP-CT-04")["amount"] / by_id(wp, "WP-CT-03")["amount"],
    "02-pledge-constant": lambda wp: 120e6 / (dac_mean("deflator", 2016, 2018) / 100) / 1e6,
    "02-money-in-dollars": lambda wp: oda_data.convert(
        wp.dropna(subset=["amount"])[lambda d: d.equivalent_of.isna()], to="USD", default_year=2018
    ).set_index("record_id")["amount_usd_current"].div(1e6),
    "03-maritime-africa": lambda wp: wp.query("theme == 'maritime_security' and region == 'Africa'"),
    "03-no-figure": lambda wp: int((~wp[["amount", "people", "countries"]].notna().any(axis=1)).sum()),
    "03-records-by-theme": lambda wp: wp[wp.equivalent_of.isna()]["theme"].value_counts(),
    "03-africa-side-by-side": lambda wp: oda_data.convert(
        wp[(wp.region == "Africa") & wp.amount.notna() & wp.equivalent_of.isna()], to="USD", default_year=2018
    ).set_index("record_id")["amount_usd_current"] / 1e6,
}

# Typical wrong answers and a piece of the feedback each must get.
WRONG = {
    "01-select-pledges": [
        (lambda wp: wp[wp.kind == "pledge"], "You kept a restatement"),
        (lambda wp: wp[wp.kind.isin(["pledge", "achievement"]) & wp.equivalent_of.isna()], "You kept achievements too"),
        (lambda wp: wp[wp.kind == "pledge"]["amount"], "Expected a DataFrame of records"),
        (lambda wp: wp[(wp.kind == "pledge") & ~wp.approximate], "You dropped the approximate pledges"),
        (lambda wp: wp[(wp.kind == "pledge") & (wp.theme == "counter_terrorism") & (wp.region == "Asia")],
         "row(s) missing: WP-CT-01"),
    ],
    "01-people-side-by-side": [
        (lambda wp: wp[(wp.theme == "counter_terrorism") & (wp.kind == "pledge")]["people"].sum(),
         "adds three pledges into one total the chapter never states"),
        (lambda wp: 20_000 + 30_000 + 2_000 + 2_653, "people promised and people already trained"),
        (lambda wp: wp[(wp.theme == "counter_terrorism") & (wp.kind == "pledge")].set_index("region")["people"],
         "Some pledges state money, not people"),
        (lambda wp: pd.Series({"Middle East": 20_000, "Africa": 30_000}), "The labels should be"),
    ],
    "01-asean-exceeded": [
        (lambda wp: 178, "as a percentage of the pledge"),
        (lambda wp: 0.78, "That is a fraction"),
        (lambda wp: 1.78, "That is the ratio achieved / pledged"),
        (lambda wp: 90, "90 is too high."),
    ],
    "01-money-once": [
        (lambda wp: wp[wp.amount.notna()], "You forgot to drop the restatements"),
        (lambda wp: wp[wp.equivalent_of.isna()], "You kept records without an amount"),
    ],
    "02-africa-pledge-yen": [
        (lambda wp: 14, "the chapter's own rounded yen figure"),
        (lambda wp: 120e6 * oda_data.exchange_rate(2016) / 1e9, "the year of the announcement alone"),
        (lambda wp: 120e6 * dac_mean("exchange_rate", 2016, 2018), "a factor of one billion"),
        (lambda wp: 10.0, "10 is too low."),
    ],
    "02-implied-rate": [(lambda wp: 120e6 / 14e9, "That is dollars per yen")],
    "02-pledge-constant": [
        (lambda wp: 120, "That is the amount in current prices"),
        (lambda wp: 120 * dac_mean("deflator", 2016, 2018) / 100, "You multiplied by the deflator"),
        (lambda wp: 120e6 / (dac_mean("deflator", 2016, 2018) / 100), "a factor of one million"),
    ],
    "02-money-in-dollars": [
        (lambda wp: wp[wp.amount.notna() & wp.equivalent_of.isna()].set_index("record_id")["amount"] / 1e6,
         "yen and dollars mixed"),
        (lambda wp: oda_data.convert(wp[wp.amount.notna()], to="USD", default_year=2018)
         .set_index("record_id")["amount_usd_current"] / 1e6, "You kept a restatement"),
        (lambda wp: oda_data.convert(wp[wp.amount.notna() & wp.equivalent_of.isna()], to="USD", default_year=2018)
         .set_index("record_id")["amount_usd_current"], "Those are dollars; give millions"),
        (lambda wp: 7_739.0, "Expected a Series: one value per label, got the number 7739.0."),
    ],
    "03-maritime-africa": [
        (lambda wp: wp[wp.theme == "maritime_security"], "maritime security records of every region"),
        (lambda wp: wp[wp.region == "Africa"], "all the records in Africa"),
        (lambda wp: wp[(wp.theme == "maritime_security") | (wp.region == "Africa")], '`|` means "or"'),
        (lambda wp: len(wp[(wp.theme == "maritime_security") & (wp.region == "Africa")]),
         "Expected a DataFrame of records (rows of wp, with their record_id), got the number 5."),
    ],
    "03-no-figure": [
        (lambda wp: int(wp.amount.isna().sum()), "counts records without an amount"),
        (lambda wp: int((wp.amount.isna() & wp.people.isna() & wp.countries.isna()
                         & (wp.kind == "initiative")).sum()), "counts initiatives only"),
    ],
    "03-records-by-theme": [
        (lambda wp: wp["theme"].value_counts(), "counts a restatement as a record of its own"),
        (lambda wp: wp[wp.equivalent_of.isna()].groupby("theme")["amount"].count(),
         "counts only the rows where it is present"),
        (lambda wp: wp[wp.equivalent_of.isna()].groupby("region").size(), "That groups by region"),
    ],
    "03-africa-side-by-side": [
        (lambda wp: 120 + 15.1 + 4.5 + 468, "adds a pledge, a disbursement since 2007 and contributions"),
        (lambda wp: 120 + 15.1 + 4.5 + 468 + 14e9 / 1e6 / dac_mean("exchange_rate", 2016, 2018),
         "counts the Africa pledge twice"),
    ],
}


def test_every_exercise_has_a_right_answer_and_typical_mistakes_here():
    assert set(RIGHT) == set(WRONG) == set(teaching.exercises())
    for notebook in teaching.NOTEBOOKS:
        assert len(teaching.exercises(notebook)) == 4


def test_expected_answers_are_the_chapters_figures(wp):
    """Anchors from the chapter text and the DAC table, so that a broken dataset or solution shows here."""
    pledges = teaching.expected("01-select-pledges")
    assert {"WP-CT-01", "WP-CT-03", "WP-CT-06"} <= set(pledges["record_id"]) and (pledges["kind"] == "pledge").all()
    assert "WP-CT-04" not in set(pledges["record_id"])  # "$120 million (approximately ¥14 billion)" is one pledge
    people = teaching.expected("01-people-side-by-side")
    assert people.to_dict() == {"Middle East": 20_000, "Africa": 30_000, "Asia": 2_000}
    assert teaching.expected("01-asean-exceeded") == round((80 / 45 - 1) * 100)  # ¥80bn against ¥45bn
    once = set(teaching.expected("01-money-once")["record_id"])
    assert "WP-CT-03" in once and "WP-CT-04" not in once  # the ¥14bn restatement of $120m
    assert teaching.expected("02-africa-pledge-yen") == round(120e6 * dac_mean("exchange_rate", 2016, 2018) / 1e9, 1)
    assert teaching.expected("02-africa-pledge-yen") == 13.3
    assert teaching.expected("02-implied-rate") == round(14e9 / 120e6, 1)
    assert teaching.expected("02-pledge-constant") == round(120 / (dac_mean("deflator", 2016, 2018) / 100))
    dollars = teaching.expected("02-money-in-dollars")
    assert dollars["WP-CT-03"] == pytest.approx(120) and dollars["WP-MAR-09"] == pytest.approx(15.1)
    assert "WP-CT-04" not in dollars.index
    assert {"WP-MAR-09", "WP-MAR-10"} <= set(teaching.expected("03-maritime-africa")["record_id"])
    no_figure = wp["amount"].isna() & wp["people"].isna() & wp["countries"].isna()
    assert teaching.expected("03-no-figure") == int(no_figure.sum()) > 0
    by_theme = teaching.expected("03-records-by-theme")
    assert by_theme.sum() == len(wp) - wp["equivalent_of"].notna().sum()
    assert by_theme["counter_terrorism"] == ((wp["theme"] == "counter_terrorism") & wp["equivalent_of"].isna()).sum()
    africa = teaching.expected("03-africa-side-by-side")
    assert africa["WP-CT-03"] == pytest.approx(120) and africa["WP-MAR-10"] == pytest.approx(4.5)


def test_pledges_are_counted_as_the_pledge_tracker_counts_them(wp):
    """A restatement is never a second pledge or record: the same rule as figures.split_restatements."""
    records, restatements = figures.split_restatements(wp)
    pledges = teaching.expected("01-select-pledges")
    assert sorted(pledges["record_id"]) == sorted(records.loc[records["kind"] == "pledge", "record_id"])
    said = teaching.check("01-select-pledges", pledges).message
    assert said.startswith(f"{len(pledges)} pledges: ") and "WP-CT-04 is not one more: it restates WP-CT-03" in said
    assert "restatement" in teaching.check("01-select-pledges", wp[wp["kind"] == "pledge"]).message
    assert teaching.expected("03-records-by-theme").sum() == len(records)


@pytest.mark.parametrize("exercise_id", list(RIGHT))
def test_right_pandas_answer_passes(wp, exercise_id):
    result = teaching.check(exercise_id, RIGHT[exercise_id](wp))
    assert result.correct, result
    assert str(result).startswith("✅ Correct: ") and "{" not in result.message


@pytest.mark.parametrize("exercise_id", list(RIGHT))
def test_unanswered_shows_the_hint(exercise_id):
    result = teaching.check(exercise_id, None)
    assert result.status == "unanswered" and not result.correct
    assert str(result) == f"✏️ Not answered yet: {teaching.hint(exercise_id)}"


@pytest.mark.parametrize("exercise_id", list(WRONG))
def test_typical_wrong_answers_get_their_feedback(wp, exercise_id):
    for wrong, feedback in WRONG[exercise_id]:
        result = teaching.check(exercise_id, wrong(wp))
        assert result.status == "incorrect"
        assert feedback in re.sub(r"\s+", " ", result.message), result.message
        assert result.message.endswith(f"Hint: {teaching.hint(exercise_id).strip()}")


@pytest.mark.parametrize("exercise_id", list(RIGHT))
def test_every_mistake_of_the_file_gets_its_own_feedback(exercise_id):
    item = teaching.exercise(exercise_id)
    assert item.mistakes, "every exercise names at least one typical mistake"
    for number, mistake in enumerate(item.mistakes, start=1):
        result = teaching.check(exercise_id, teaching._evaluate(mistake.answer, f"mistake {number}"))
        assert result.status == "incorrect" and result.message.startswith(mistake.feedback.strip()), (number, result)


def test_answers_in_other_forms(wp):
    assert teaching.check("03-no-figure", np.int64(teaching.expected("03-no-figure"))).correct
    assert teaching.check("03-no-figure", pd.Series([teaching.expected("03-no-figure")])).correct
    pledges = wp[(wp.kind == "pledge") & wp.equivalent_of.isna()]
    assert teaching.check("01-select-pledges", pledges.set_index("record_id")).correct
    assert teaching.check("02-africa-pledge-yen", teaching.expected("02-africa-pledge-yen")).correct
    assert not teaching.check("02-africa-pledge-yen", round(teaching.expected("02-africa-pledge-yen"))).correct
    assert "got the value {}" in teaching.check("03-no-figure", {}).message
    assert "got the text 'many'" in teaching.check("03-no-figure", "many").message
    assert "without a record_id column" in teaching.check("01-select-pledges", wp[["kind"]]).message


@pytest.mark.parametrize("answer, said", [
    (float("nan"), "Expected one number, in percent, got the number nan (not a number)."),
    (np.float64("nan"), "(not a number)"),
    (pd.Series([np.nan]), "Expected one number"),
    (np.inf, "(not a number)"),
    (True, "got the value True"),
])
def test_an_answer_that_is_not_a_number_is_said_in_one_line(answer, said):
    result = teaching.check("01-asean-exceeded", answer)
    assert result.status == "incorrect" and said in result.message and "\n" not in str(result)


@pytest.mark.parametrize("edit", [
    lambda rows: rows.assign(record_id=[np.nan] + list(rows["record_id"][1:])),
    lambda rows: rows.assign(record_id=[7] + list(rows["record_id"][1:])),
    lambda rows: rows.assign(record_id=rows["record_id"].astype(object).where(rows.index != rows.index[1], None)),
    lambda rows: rows.set_index(pd.Index([1.5] + list(rows["record_id"][1:]), name="record_id"))
                     .drop(columns="record_id"),
])
def test_an_answer_whose_record_id_is_not_text_is_said_not_raised(wp, edit):
    rows = edit(wp[(wp.kind == "pledge") & wp.equivalent_of.isna()].copy())
    for exercise_id in ("01-select-pledges", "01-money-once", "03-maritime-africa"):
        result = teaching.check(exercise_id, rows)
        assert result.status == "incorrect"
        assert result.message.startswith("The record_id of 1 row(s) is not a record's id as text ("), result.message


def test_hint_and_solution_display_markdown():
    from IPython.core.formatters import DisplayFormatter

    for exercise_id in teaching.exercises():
        for shown, text in ((teaching.hint(exercise_id), teaching.exercise(exercise_id).hint.strip()),
                            (teaching.solution(exercise_id), f"```python\n{teaching.exercise(exercise_id).solution}\n```")):
            data, _ = DisplayFormatter().format(shown)
            assert data["text/markdown"] == data["text/plain"] == text  # never a quoted 'string'
            assert not re.search(r"(?<![\\`])\$", re.sub(r"`[^`]*`", "", text))  # no bare "$" to typeset
        assert "`" in teaching.hint(exercise_id)  # code in a hint is Markdown code


def test_solution_is_the_pandas_the_check_evaluates(wp):
    code = teaching.solution("01-select-pledges")
    assert str(code) == '```python\nwp[(wp["kind"] == "pledge") & wp["equivalent_of"].isna()]\n```'
    namespace = {"wp": wp, "by_id": wp.set_index("record_id"), "pd": pd, "np": np, "oda_data": oda_data}
    for exercise_id in teaching.exercises():
        assert teaching.check(exercise_id, eval(teaching.exercise(exercise_id).solution, namespace)).correct


def test_feedback_is_markdown_never_typeset_as_maths():
    result = teaching.Feedback("x", "incorrect", "Not quite", "$120 million and `$15.1 million`")
    assert result._repr_markdown_() == r"❌ **Not quite** (x): \$120 million and `\$15.1 million`"
    assert repr(result) == str(result) == "❌ Not quite: $120 million and `$15.1 million`"
    assert not result.correct and teaching.Feedback("x", "correct", "Correct", "").correct


def test_unknown_exercise_and_notebook_name_the_file_and_the_choices():
    with pytest.raises(ValueError, match=r"unknown exercise '01-nope' \(in exercises.yaml\); "
                                         r"expected one of: 01-select-pledges, "):
        teaching.check("01-nope", 1)
    with pytest.raises(ValueError, match="unknown notebook '04_missing'"):
        teaching.exercises("04_missing")


# ---------------------------------------------------------------------------
# The exercises file is validated: every problem is one line naming the file, exercise and field
# ---------------------------------------------------------------------------

GOOD = teaching.EXERCISES_FILE.read_text(encoding="utf-8")


def write(tmp_path, text: str | bytes) -> Path:
    path = tmp_path / "exercises.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_the_shipped_file_loads():
    messages, exercises = teaching.load_exercises()
    assert messages.unanswered == "Not answered yet" and len(exercises) == 12


SELECT = "  - id: 01-select-pledges\n"


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.split("exercises:\n")[0] + "exercises: 5\n", r"field exercises: Input should be a valid list, got 5"),
    (lambda t: t.replace(SELECT, "  - id: [01-select, pledges]\n"),
     r"exercise #1: field id: Input should be a valid string, got \['01-select', 'pledges'\]"),
    (lambda t: t.replace(SELECT, "  - id: 2016\n"), r"exercise #1: field id: Input should be a valid string, got 2016"),
    (lambda t: t.replace('correct: "{n} records: {ids}."', "correct: '{'"),
     r"exercise '03-maritime-africa': field correct: not a valid message template \(Single '\{' encountered"),
    (lambda t: t.replace("    tolerance: 0.1\n", "    tolerance: .nan\n", 1),
     r"exercise '02-africa-pledge-yen': field tolerance: Input should be a finite number, got nan"),
    (lambda t: t.replace("    tolerance: 0.1\n", "    tolerance: -1\n", 1),
     r"exercise '02-africa-pledge-yen': field tolerance: Input should be greater than or equal to 0, got -1"),
    (lambda t: t.replace("    tolerance: 0.1\n", "    tolerance: a tenth\n", 1),
     r"exercise '02-africa-pledge-yen': field tolerance: Input should be a valid number, got 'a tenth'"),
    (lambda t: t.replace("    tolerance: 0.1\n", "    tolerance: true\n", 1),
     r"exercise '02-africa-pledge-yen': field tolerance: Input should be a valid number, got True"),
    (lambda t: t.replace("  - id: 01-money-once\n", "  - id: 01-money-once\n   bad: [\n"), r"line \d+: not valid YAML"),
    (lambda t: t.replace("    title: Select the pledges, each once\n", "    titel: Select the pledges\n"),
     r"exercise '01-select-pledges': field title: Field required"),
    (lambda t: t.replace("    title: Select the pledges, each once\n", "    title: Pledges\n    colour: red\n"),
     r"exercise '01-select-pledges': field colour: Extra inputs are not permitted"),
    (lambda t: t.replace('solution: wp[(wp["kind"] == "pledge")', 'solution: wp[(wp["kind"] == )'),
     r"exercise '01-select-pledges': field solution: not a valid Python expression"),
    (lambda t: t.replace("notebook: 03_ask_your_own_question", "notebook: 03_ask", 1),
     r"exercise '03-maritime-africa': field notebook: Input should be '01_reading_an_oda_figure', "),
    (lambda t: t.replace("  - id: 01-money-once", "  - id: 01-select-pledges"),
     r"exercise '01-select-pledges': field id: duplicate id"),
    (lambda t: t.replace("      - answer: wp[wp[\"kind\"] == \"pledge\"]\n", "      - when: wp\n", 1),
     r"exercise '01-select-pledges': field mistakes.1.answer: Field required"),
    (lambda t: t.replace("  too_low:", "  too_lo:"), r"field messages.too_low: Field required"),
    (lambda t: t.replace('correct: "{n} records: {ids}."', 'correct: "{n} records: {idz}."'),
     r"exercise '03-maritime-africa': field correct: names \['idz'\], which 'values' does not define"),
    (lambda t: "- just a list\n", r"top level: Input should be a valid dictionary"),
    (lambda t: "", r"top level: Input should be a valid dictionary"),
    (lambda t: t.replace("exercises:\n", "exercises:\n  - just text\n", 1),
     r"exercise #1: Input should be a valid dictionary or instance of Exercise, got 'just text'"),
    (lambda t: t.encode("utf-8").replace("¥".encode(), b"\xa5", 1), r"line \d+: not UTF-8 text \(byte 0xa5\)"),
])
def test_bad_exercise_files_get_one_clear_line(tmp_path, edit, message):
    path = write(tmp_path, edit(GOOD))
    with pytest.raises(teaching.ExerciseFileError, match="^" + re.escape(str(path)) + ": " + message) as error:
        teaching.load_exercises(path)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("old, new, exercise_id, message", [
    ('solution: wp[(wp["kind"] == "pledge")', 'solution: wp[(wp["knd"] == "pledge")', "01-select-pledges",
     r"exercises.yaml: exercise '01-select-pledges' solution: KeyError: 'knd'"),
    ("solution: int((wp", "solution: float('nan') + int((wp", "03-no-figure",
     r"exercise '03-no-figure' solution: gives the number nan \(not a number\), not a DataFrame of records"),
])
def test_a_solution_that_fails_or_gives_no_answer_names_the_exercise(tmp_path, monkeypatch, old, new, exercise_id,
                                                                     message):
    path = write(tmp_path, GOOD.replace(old, new))
    monkeypatch.setattr(teaching, "_loaded", lambda: teaching.load_exercises(path))
    with pytest.raises(teaching.ExerciseFileError, match=message):
        teaching.check(exercise_id, 1)


def test_missing_exercise_file(tmp_path):
    with pytest.raises(teaching.ExerciseFileError, match="cannot read the exercises file"):
        teaching.load_exercises(tmp_path / "nope.yaml")


# ---------------------------------------------------------------------------
# The notebooks
# ---------------------------------------------------------------------------


def notebook(name: str) -> nbformat.NotebookNode:
    return nbformat.read(TEACHING_DIR / f"{name}.ipynb", as_version=4)


def tagged(nb, tag: str) -> list:
    return [cell for cell in nb.cells if tag in cell.metadata.get("tags", [])]


def plain_text(cell) -> str:
    return "".join(o["text"] if o.get("output_type") == "stream" else o.get("data", {}).get("text/plain", "")
                   for o in cell.get("outputs", []))


def shown(nb) -> str:
    """Everything the stored notebook shows a reader: Markdown and plain-text outputs."""
    return "\n".join(c.source if c.cell_type == "markdown" else plain_text(c) for c in nb.cells)


def test_the_notebooks_are_the_walkthroughs():
    assert sorted(p.stem for p in TEACHING_DIR.glob("*.ipynb")) == list(teaching.NOTEBOOKS)


@pytest.mark.parametrize("name", teaching.NOTEBOOKS)
def test_stored_notebook_is_what_a_learner_first_sees(name):
    nb = notebook(name)
    assert nb.metadata.kernelspec == KERNELSPEC
    assert "papermill" not in nb.metadata and len(tagged(nb, "parameters")) == 1
    ids = teaching.exercises(name)
    cells = tagged(nb, "exercise")
    assert len(cells) == len(ids)
    for number, (cell, exercise_id) in enumerate(zip(cells, ids), start=1):
        assert f"\nanswer_{number} = None\n" in cell.source
        assert cell.source.endswith(f'teaching.check("{exercise_id}", answer_{number})')
        assert plain_text(cell) == f"✏️ Not answered yet: {teaching.hint(exercise_id)}"
    text = nbformat.writes(nb)
    for cell in nb.cells:
        assert "execution" not in cell.metadata
        if cell.cell_type == "code":
            assert all(o.get("output_type") != "error" for o in cell.outputs)
    # Learners see pandas, not helper functions that hide it.
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "wp[" in code and not re.search(r"teaching\.(select|compact|amounts_in|drop_restatements|solution)", code)
    assert "/work/" not in text and " at 0x" not in text
    for cell in nb.cells:
        if cell.cell_type == "markdown":  # a bare "$" pair would be typeset as maths in JupyterLab
            assert not re.search(r"(?<!\\)\$", re.sub(r"`[^`]*`", "", cell.source)), cell.source[:80]


@pytest.mark.parametrize("name", teaching.NOTEBOOKS)
def test_each_solution_cell_holds_the_pandas_of_the_exercise_folded(name):
    nb, ids = notebook(name), teaching.exercises(name)
    solutions = tagged(nb, "solution")
    assert len(solutions) == len(ids)
    for number, (cell, exercise_id) in enumerate(zip(solutions, ids), start=1):
        comment, _, pandas = cell.source.partition("\n")
        assert comment == f"# Exercise {number}: {teaching.exercise(exercise_id).title}"
        assert pandas == teaching.exercise(exercise_id).solution  # the same pandas the check evaluates
        assert cell.metadata["jupyter"] == {"source_hidden": True, "outputs_hidden": True}  # folded in JupyterLab
        assert cell.outputs, "the solution's result is stored, folded"


@pytest.mark.parametrize("name", teaching.NOTEBOOKS)
def test_references_to_notebooks_are_links_that_resolve(name):
    for cell in notebook(name).cells:
        if cell.cell_type != "markdown":
            continue
        links = re.findall(r"\]\(([^)\s]+\.ipynb)\)", cell.source)
        for target in links:
            assert (TEACHING_DIR / target).resolve().is_file(), target
        bare = re.sub(r"\]\([^)\s]+\.ipynb\)", "](LINK)", cell.source)
        assert ".ipynb" not in bare, cell.source[:120]  # every mention of a notebook is a link


def test_lesson_01_states_only_what_the_chapter_or_a_named_source_says():
    nb = notebook("01_reading_an_oda_figure")
    text = shown(nb)
    assert "a year on average" not in text and "not to maritime security" not in text
    assert "three counter-terrorism pledges" not in text and "its announcement is not dated" in text
    assert "improvement of security maintenance capability" in text  # the Somalia figure in the chapter's words
    assert "High Level Meeting Communiqué*, 19 February 2016" in text and "DCD/DAC(2017)22/FINAL" in text
    records, restatements = figures.split_restatements(oda_data.white_paper())
    counts = next(plain_text(c) for c in nb.cells if c.cell_type == "code" and c.source == 'records["kind"].value_counts()')
    assert re.search(rf"\npledge\s+{(records['kind'] == 'pledge').sum()}\n", counts)
    assert f"{len(records)} records and {len(restatements)} restatement(s) of them" in text


def test_lesson_02_says_what_its_own_table_shows():
    nb = notebook("02_currencies_and_constant_prices")
    text = shown(nb)
    above = [year for year in range(2015, 2019) if 120e6 * oda_data.exchange_rate(year) > 14e9]
    assert above == [2015]  # ¥14.52 billion at the 2015 rate
    assert "more than the chapter's ¥14 billion at the 2015 rate, less at the others" in text
    assert "less than ¥14 billion" not in text
    # Converted amounts are quoted as the source allows, never at full precision.
    assert "approximately ¥0.7 trillion" in text and "662,847" not in text
    outputs = [plain_text(c) for c in nb.cells if c.cell_type == "code" and "solution" not in c.metadata.get("tags", [])]
    assert not any(re.search(r"\d,\d{3},\d{3}(,\d{3})*\.\d", out) for out in outputs)


def test_worked_example_counts_each_record_once_and_lists_africas_money_side_by_side():
    nb = notebook("03_ask_your_own_question")
    text = shown(nb)
    assert "608" not in text and "together" not in text
    records, _ = figures.split_restatements(oda_data.white_paper())
    sentence = next(line for line in text.splitlines() if line.startswith("The dataset files"))
    assert sentence.startswith(f"The dataset files {(records['region'] == 'Africa').sum()} records under Africa (not "
                               "counting WP-CT-04, which restates WP-CT-03 in another currency)")
    for figure in ("WP-CT-03, pledge (2016-2018): $120 million", "WP-MAR-12, disbursement (since 2007): "
                   "approximately $468 million", "WP-MAR-09, contribution (no year given): $15.1 million"):
        assert figure in sentence


def _inject(nb, answers: dict[int, str]) -> nbformat.NotebookNode:
    """Answers written in the exercise cells, and after each solution cell a check of what it gave."""
    nb = copy.deepcopy(nb)
    for number, cell in enumerate(tagged(nb, "exercise"), start=1):
        if number in answers:
            cell.source = cell.source.replace(f"answer_{number} = None", f"answer_{number} = {answers[number]}")
    for exercise_id, cell in zip(teaching.exercises(nb.metadata["name"]), tagged(nb, "solution")):
        nb.cells.insert(nb.cells.index(cell) + 1, nbformat.v4.new_code_cell(
            f'print("solution gives:", teaching.check("{exercise_id}", _).status)', metadata={"tags": ["probe"]}))
    return nb


# Per notebook: answer source for each exercise, and the start of what the check must say.
INJECTED = {
    "01_reading_an_oda_figure": {
        1: ('wp[wp["kind"] == "pledge"]', "❌ Not quite: You kept a restatement."),
        2: ('wp[(wp["theme"] == "counter_terrorism") & (wp["kind"] == "pledge")]["people"].sum()',
            "❌ Not quite: That adds three pledges into one total"),
        3: ('(by_id.loc["WP-CT-08", "amount"] / by_id.loc["WP-CT-06", "amount"] - 1) * 100', "✅ Correct: 78% more"),
        4: ('wp[wp["amount"].notna()]', "❌ Not quite: You forgot to drop the restatements"),
    },
    "02_currencies_and_constant_prices": {
        1: ('by_id.loc["WP-CT-04", "amount"] / 1e9', "❌ Not quite: That is the chapter's own rounded yen figure"),
        2: ('by_id.loc["WP-CT-04", "amount"] / by_id.loc["WP-CT-03", "amount"]', "✅ Correct: About ¥117 per dollar"),
        3: ('by_id.loc["WP-CT-03", "amount"] / 1e6', "❌ Not quite: That is the amount in current prices"),
        4: ('oda_data.convert(money, to="USD", default_year=oda_data.REPORT_YEAR)'
            '.set_index("record_id")["amount_usd_current"] / 1e6', "✅ Correct: "),
    },
    "03_ask_your_own_question": {
        1: ('wp[(wp["theme"] == "maritime_security") & (wp["region"] == "Africa")]', "✅ Correct: "),
        2: ('int(wp["amount"].isna().sum())', "❌ Not quite: That counts records without an amount"),
        3: ('records["theme"].value_counts()', "✅ Correct: maritime_security has the most records"),
        4: ('converted["amount_usd_current"].sum() / 1e6', "❌ Not quite: That adds a pledge, a disbursement"),
    },
}


@pytest.mark.notebooks
@pytest.mark.parametrize("name", teaching.NOTEBOOKS)
def test_notebook_checks_answers_and_its_solutions_give_the_right_answer(name):
    from nbclient import NotebookClient

    nb = notebook(name)
    nb.metadata["name"] = name
    nb = _inject(nb, {n: source for n, (source, _) in INJECTED[name].items()})
    NotebookClient(nb, kernel_name="python3", timeout=300,
                   resources={"metadata": {"path": str(TEACHING_DIR)}}).execute()
    for number, cell in enumerate(tagged(nb, "exercise"), start=1):
        said = plain_text(cell)
        assert said.startswith(INJECTED[name][number][1]), (number, said)
        markdown = next(o for o in cell.outputs if "data" in o).data["text/markdown"]
        assert markdown.startswith("✅ **Correct**" if said.startswith("✅") else "❌ **Not quite**")
    probes = [plain_text(cell) for cell in tagged(nb, "probe")]
    assert probes == ["solution gives: correct\n"] * len(teaching.exercises(name))


@pytest.mark.notebooks
@pytest.mark.parametrize("name, parameters, message", [
    ("01_reading_an_oda_figure", {"theme": "piracy"},
     "parameter 'theme' = 'piracy' is not valid; choose one of: police_capacity, counter_terrorism"),
    ("01_reading_an_oda_figure", {"theme": "counter_terorism"}, "(did you mean 'counter_terrorism'?)"),
    ("02_currencies_and_constant_prices", {"base_year": 1990}, "parameter 'base_year' = 1990 is not valid; choose a year"),
    ("03_ask_your_own_question", {"region": "africa"}, "(did you mean 'Africa'?)"),
])
def test_a_bad_parameter_stops_the_notebook_naming_the_valid_choices(tmp_path, name, parameters, message):
    import papermill

    with pytest.raises(papermill.PapermillExecutionError) as error:
        papermill.execute_notebook(str(TEACHING_DIR / f"{name}.ipynb"), str(tmp_path / "out.ipynb"),
                                   parameters=parameters, kernel_name="python3", cwd=str(TEACHING_DIR),
                                   progress_bar=False)
    assert error.value.ename == "ParameterError" and message in error.value.evalue
