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
from oda_data import teaching

REPO = Path(__file__).resolve().parents[1]
TEACHING_DIR = REPO / "notebooks" / "teaching"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (oda_data)", "language": "python"}


@pytest.fixture(scope="module")
def wp() -> pd.DataFrame:
    return oda_data.white_paper()


def by_id(wp: pd.DataFrame, record_id: str) -> pd.Series:
    return wp.set_index("record_id").loc[record_id]


def dac_mean(column: str, start: int, end: int) -> float:
    table = pd.read_csv(REPO / "oda_data" / "data" / "dac_japan_rates.csv", index_col="year")
    return float(table.loc[start:end, column].mean())


# Right answers, written as a learner might (pandas, not the YAML's solution line).
RIGHT = {
    "01-select-pledges": lambda wp: wp.query("kind == 'pledge'"),
    "01-people-side-by-side": lambda wp: wp[(wp.theme == "counter_terrorism") & (wp.kind == "pledge")
                                            & wp.people.notna()].set_index("region")["people"],
    "01-asean-exceeded": lambda wp: round((80e9 / 45e9 - 1) * 100),
    "01-money-once": lambda wp: wp.dropna(subset=["amount"]).query("equivalent_of.isna()", engine="python"),
    "02-africa-pledge-yen": lambda wp: round(120e6 * dac_mean("jpy_per_usd", 2016, 2018) / 1e9, 1),
    "02-implied-rate": lambda wp: by_id(wp, "WP-CT-04")["amount"] / by_id(wp, "WP-CT-03")["amount"],
    "02-pledge-constant": lambda wp: round(120e6 / (dac_mean("deflator_2022", 2016, 2018) / 100) / 1e6),
    "02-money-in-dollars": lambda wp: oda_data.convert(
        wp.dropna(subset=["amount"])[lambda d: d.equivalent_of.isna()], to="USD", default_year=2018
    ).set_index("record_id")["amount_usd_current"].div(1e6),
    "03-maritime-africa": lambda wp: wp.query("theme == 'maritime_security' and region == 'Africa'"),
    "03-no-figure": lambda wp: int((~wp[["amount", "people", "countries"]].notna().any(axis=1)).sum()),
    "03-records-by-theme": lambda wp: wp["theme"].value_counts(),
    "03-africa-side-by-side": lambda wp: oda_data.convert(
        wp[(wp.region == "Africa") & wp.amount.notna() & wp.equivalent_of.isna()], to="USD", default_year=2018
    ).set_index("record_id")["amount_usd_current"] / 1e6,
}

# Typical wrong answers and a piece of the feedback each must get.
WRONG = {
    "01-select-pledges": [
        (lambda wp: wp[wp.kind.isin(["pledge", "achievement"])], "You kept achievements too"),
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
        (lambda wp: 120e6 * dac_mean("jpy_per_usd", 2016, 2018), "a factor of one billion"),
        (lambda wp: 10.0, "10 is too low."),
    ],
    "02-implied-rate": [(lambda wp: 120e6 / 14e9, "That is dollars per yen")],
    "02-pledge-constant": [
        (lambda wp: 120, "That is the amount in current prices"),
        (lambda wp: 120 * dac_mean("deflator_2022", 2016, 2018) / 100, "You multiplied by the deflator"),
        (lambda wp: 120e6 / (dac_mean("deflator_2022", 2016, 2018) / 100), "a factor of one million"),
    ],
    "02-money-in-dollars": [
        (lambda wp: wp[wp.amount.notna() & wp.equivalent_of.isna()].set_index("record_id")["amount"] / 1e6,
         "yen and dollars mixed"),
        (lambda wp: oda_data.convert(wp[wp.amount.notna()], to="USD", default_year=2018)
         .set_index("record_id")["amount_usd_current"] / 1e6, "You kept the restatement"),
        (lambda wp: oda_data.convert(wp[wp.amount.notna() & wp.equivalent_of.isna()], to="USD", default_year=2018)
         .set_index("record_id")["amount_usd_current"], "Those are dollars; give millions"),
        (lambda wp: 7_739.0, "Expected a Series: one value per label, got the number 7739.0."),
    ],
    "03-maritime-africa": [
        (lambda wp: wp[wp.theme == "maritime_security"], "maritime security records of every region"),
        (lambda wp: wp[wp.region == "Africa"], "all the records in Africa"),
        (lambda wp: wp[(wp.theme == "maritime_security") | (wp.region == "Africa")], '| means "or"'),
        (lambda wp: len(wp[(wp.theme == "maritime_security") & (wp.region == "Africa")]),
         "Expected a DataFrame of records (rows of wp, with their record_id), got the number 5."),
    ],
    "03-no-figure": [
        (lambda wp: int(wp.amount.isna().sum()), "counts records without an amount"),
        (lambda wp: int((wp.amount.isna() & wp.people.isna() & wp.countries.isna()
                         & (wp.kind == "initiative")).sum()), "counts initiatives only"),
    ],
    "03-records-by-theme": [
        (lambda wp: wp.groupby("theme")["amount"].count(), "counts only the rows where it is present"),
        (lambda wp: wp.groupby("region").size(), "That groups by region"),
    ],
    "03-africa-side-by-side": [
        (lambda wp: 120 + 15.1 + 4.5 + 468, "adds a pledge, a disbursement since 2007 and contributions"),
        (lambda wp: 120 + 15.1 + 4.5 + 468 + 14e9 / 1e6 / dac_mean("jpy_per_usd", 2016, 2018),
         "counts the Africa pledge\n          twice".replace("\n          ", " ")),
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
    people = teaching.expected("01-people-side-by-side")
    assert people.to_dict() == {"Middle East": 20_000, "Africa": 30_000, "Asia": 2_000}
    assert teaching.expected("01-asean-exceeded") == pytest.approx((80 / 45 - 1) * 100)  # ¥80bn against ¥45bn
    once = set(teaching.expected("01-money-once")["record_id"])
    assert "WP-CT-03" in once and "WP-CT-04" not in once  # the ¥14bn restatement of $120m
    assert teaching.expected("02-africa-pledge-yen") == pytest.approx(120e6 * dac_mean("jpy_per_usd", 2016, 2018) / 1e9)
    assert round(teaching.expected("02-africa-pledge-yen"), 1) == 13.3
    assert teaching.expected("02-implied-rate") == pytest.approx(14e9 / 120e6)
    assert teaching.expected("02-pledge-constant") == pytest.approx(120 / (dac_mean("deflator_2022", 2016, 2018) / 100))
    dollars = teaching.expected("02-money-in-dollars")
    assert dollars["WP-CT-03"] == pytest.approx(120) and dollars["WP-MAR-09"] == pytest.approx(15.1)
    assert "WP-CT-04" not in dollars.index
    assert {"WP-MAR-09", "WP-MAR-10"} <= set(teaching.expected("03-maritime-africa")["record_id"])
    no_figure = wp["amount"].isna() & wp["people"].isna() & wp["countries"].isna()
    assert teaching.expected("03-no-figure") == int(no_figure.sum()) > 0
    by_theme = teaching.expected("03-records-by-theme")
    assert by_theme.sum() == len(wp) and by_theme["counter_terrorism"] == (wp["theme"] == "counter_terrorism").sum()
    africa = teaching.expected("03-africa-side-by-side")
    assert africa["WP-CT-03"] == pytest.approx(120) and africa["WP-MAR-10"] == pytest.approx(4.5)


@pytest.mark.parametrize("exercise_id", list(RIGHT))
def test_right_pandas_answer_passes(wp, exercise_id):
    result = teaching.check(exercise_id, RIGHT[exercise_id](wp))
    assert result.correct, result
    assert str(result).startswith("✅ Correct: ") and "{" not in result.message


@pytest.mark.parametrize("exercise_id", list(RIGHT))
def test_unanswered_shows_the_hint(exercise_id):
    result = teaching.check(exercise_id, None)
    assert result.status == "unanswered"
    assert str(result) == f"✏️ Not answered yet: {teaching.hint(exercise_id)}"


@pytest.mark.parametrize("exercise_id", list(WRONG))
def test_typical_wrong_answers_get_their_feedback(wp, exercise_id):
    for wrong, feedback in WRONG[exercise_id]:
        result = teaching.check(exercise_id, wrong(wp))
        assert result.status == "incorrect"
        assert feedback in result.message, result.message
        assert result.message.endswith(f"Hint: {teaching.hint(exercise_id).strip()}")


@pytest.mark.parametrize("exercise_id", list(RIGHT))
def test_every_mistake_of_the_file_gets_its_own_feedback(exercise_id):
    item = teaching.exercise(exercise_id)
    assert item["mistakes"], "every exercise names at least one typical mistake"
    for test, code, feedback in item["mistakes"]:
        if test == "answer":
            result = teaching.check(exercise_id, teaching._evaluate(code))
            assert result.status == "incorrect" and result.message.startswith(feedback.strip())


def test_answers_in_other_forms(wp):
    assert teaching.check("03-no-figure", np.int64(teaching.expected("03-no-figure"))).correct
    assert teaching.check("03-no-figure", pd.Series([teaching.expected("03-no-figure")])).correct
    assert teaching.check("01-select-pledges", wp[wp.kind == "pledge"].set_index("record_id")).correct
    assert teaching.check("02-africa-pledge-yen", round(teaching.expected("02-africa-pledge-yen"), 1)).correct
    assert not teaching.check("02-africa-pledge-yen", round(teaching.expected("02-africa-pledge-yen"))).correct
    assert "got a dict" in teaching.check("03-no-figure", {}).message
    assert "got the text 'many'" in teaching.check("03-no-figure", "many").message
    assert "without a record_id column" in teaching.check("01-select-pledges", wp[["kind"]]).message


def test_solution_is_the_pandas_line_the_check_evaluates(wp):
    code = teaching.solution("01-select-pledges")
    assert str(code) == 'wp[wp["kind"] == "pledge"]'
    assert code._repr_markdown_() == '```python\nwp[wp["kind"] == "pledge"]\n```'
    namespace = {"wp": wp, "pd": pd, "np": np, "oda_data": oda_data}
    for exercise_id in teaching.exercises():
        assert teaching.check(exercise_id, eval(str(teaching.solution(exercise_id)), namespace)).correct


def test_feedback_html_is_escaped_and_never_typeset_as_maths():
    result = teaching.Feedback("x", "incorrect", "Not quite", "<b>$120 million</b> and $15.1 million")
    shown = result._repr_html_()
    assert "<b>" not in shown and "&lt;b&gt;" in shown and "$" not in shown.replace("&#36;", "")
    assert shown.count("mathjax_ignore") == 2 and "oda-check-incorrect" in shown
    assert repr(result) == str(result) == "❌ Not quite: <b>$120 million</b> and $15.1 million"


def test_unknown_exercise_and_notebook_name_the_file_and_the_choices():
    with pytest.raises(ValueError, match=r"unknown exercise '01-nope' \(in exercises.yaml\); "
                                         r"expected one of: 01-select-pledges, "):
        teaching.check("01-nope", 1)
    with pytest.raises(ValueError, match="unknown notebook '04_missing'"):
        teaching.exercises("04_missing")


# ---------------------------------------------------------------------------
# The exercises file is validated
# ---------------------------------------------------------------------------

GOOD = teaching.EXERCISES_FILE.read_text(encoding="utf-8")


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "exercises.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_file_loads():
    messages, exercises = teaching.load_exercises()
    assert messages["unanswered"] == "Not answered yet" and len(exercises) == 12


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("  - id: 01-money-once\n", "  - id: 01-money-once\n   bad: [\n"), r"line \d+: not valid YAML"),
    (lambda t: t.replace("    title: Select the pledges\n", "    titel: Select the pledges\n"),
     r"exercise '01-select-pledges': missing key\(s\) \['title'\]"),
    (lambda t: t.replace("    title: Select the pledges\n", "    title: Select the pledges\n    colour: red\n"),
     r"exercise '01-select-pledges': unknown key\(s\) \['colour'\]"),
    (lambda t: t.replace('solution: wp[wp["kind"] == "pledge"]', 'solution: wp[wp["kind"] == ]'),
     r"exercise '01-select-pledges' solution: not a valid Python expression"),
    (lambda t: t.replace("notebook: 03_ask_your_own_question", "notebook: 03_ask", 1),
     r"exercise '03-maritime-africa': unknown notebook '03_ask'; expected one of: 01_reading"),
    (lambda t: t.replace("  - id: 01-money-once", "  - id: 01-select-pledges"),
     r"exercise '01-select-pledges': duplicate id"),
    (lambda t: t.replace("      - when: len(extra) > 0 and (extra[\"kind\"]", "      - whenn: len(extra) > 0 and (extra[\"kind\"]"),
     r"exercise '01-select-pledges' mistake 1: expected 'feedback' and exactly one of 'answer' or 'when'"),
    (lambda t: t.replace("  too_low:", "  too_lo:"), r"messages: expected exactly the keys"),
    (lambda t: t.replace('correct: "{n} records: {ids}."', 'correct: "{n} records: {idz}."'),
     r"exercise '03-maritime-africa': 'correct' names \['idz'\], which 'values' does not define"),
    (lambda t: t.replace("    tolerance: 0.1\n", "    tolerance: -1\n", 1),
     r"exercise '02-africa-pledge-yen': tolerance must be a number >= 0, got -1"),
    (lambda t: "- just a list\n", r"top level: expected a mapping"),
])
def test_bad_exercise_files_get_a_clear_error(tmp_path, edit, message):
    path = write(tmp_path, edit(GOOD))
    with pytest.raises(teaching.ExerciseFileError, match=re.escape(str(path)) + ": " + message):
        teaching.load_exercises(path)


def test_an_expression_that_fails_on_the_data_names_the_exercise(tmp_path, monkeypatch):
    path = write(tmp_path, GOOD.replace('solution: wp[wp["kind"] == "pledge"]', 'solution: wp[wp["knd"] == "pledge"]'))
    monkeypatch.setattr(teaching, "_loaded", lambda: teaching.load_exercises(path))
    with pytest.raises(teaching.ExerciseFileError, match=r"exercises.yaml: exercise '01-select-pledges' solution: "
                                                          r"KeyError: 'knd'"):
        teaching.check("01-select-pledges", 1)


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
    solutions = tagged(nb, "solution")
    assert [c.source.split("  #")[0] for c in solutions] == [f'teaching.solution("{i}")' for i in ids]
    assert all(c.metadata["jupyter"]["outputs_hidden"] for c in solutions)
    text = nbformat.writes(nb)
    for cell in nb.cells:
        assert "execution" not in cell.metadata
        if cell.cell_type == "code":
            assert all(o.get("output_type") != "error" for o in cell.outputs)
    # Learners see pandas, not helper functions that hide it.
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "wp[" in code and not re.search(r"teaching\.(select|compact|amounts_in|drop_restatements)", code)
    assert "/work/" not in text and " at 0x" not in text
    for cell in nb.cells:
        if cell.cell_type == "markdown":  # a bare "$" pair would be typeset as maths in JupyterLab
            assert not re.search(r"(?<!\\)\$", re.sub(r"`[^`]*`", "", cell.source)), cell.source[:80]


def test_worked_example_lists_africas_money_side_by_side():
    nb = notebook("03_ask_your_own_question")
    shown = "\n".join(plain_text(c) for c in nb.cells)
    assert "608" not in shown and "together" not in shown
    sentence = next(line for line in shown.splitlines() if line.startswith("The chapter has"))
    for figure in ("WP-CT-03, pledge (2016-2018): $120 million", "WP-MAR-12, disbursement (since 2007): "
                   "approximately $468 million", "WP-MAR-09, contribution (to date): $15.1 million"):
        assert figure in sentence


def _inject(nb, answers: dict[int, str]) -> nbformat.NotebookNode:
    nb = copy.deepcopy(nb)
    for number, cell in enumerate(tagged(nb, "exercise"), start=1):
        if number in answers:
            cell.source = cell.source.replace(f"answer_{number} = None", f"answer_{number} = {answers[number]}")
    return nb


# Per notebook: answer source for each exercise, and the start of what the check must say.
INJECTED = {
    "01_reading_an_oda_figure": {
        1: ('wp[wp["kind"] == "pledge"]', "✅ Correct: "),
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
        3: ('wp["theme"].value_counts()', "✅ Correct: maritime_security has the most records"),
        4: ('converted["amount_usd_current"].sum() / 1e6', "❌ Not quite: That adds a pledge, a disbursement"),
    },
}


@pytest.mark.notebooks
@pytest.mark.parametrize("name", teaching.NOTEBOOKS)
def test_notebook_checks_answers_written_in_the_exercise_cells(name):
    from nbclient import NotebookClient

    nb = _inject(notebook(name), {n: source for n, (source, _) in INJECTED[name].items()})
    NotebookClient(nb, kernel_name="python3", timeout=300,
                   resources={"metadata": {"path": str(TEACHING_DIR)}}).execute()
    for number, cell in enumerate(tagged(nb, "exercise"), start=1):
        said = plain_text(cell)
        assert said.startswith(INJECTED[name][number][1]), (number, said)
        html = next(o for o in cell.outputs if "data" in o).data["text/html"]
        assert ("oda-check-correct" if said.startswith("✅") else "oda-check-incorrect") in html
    solution = tagged(nb, "solution")[0]
    assert plain_text(solution) == str(teaching.solution(teaching.exercises(name)[0]))
