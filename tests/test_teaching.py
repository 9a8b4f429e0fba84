"""Teaching walkthroughs: the exercise checks, the helpers, and the notebooks themselves.

Unit tests check every exercise (right, wrong, unanswered, tolerance, typical
mistakes) and that the expected answers are what the data says, computed here
independently of :mod:`oda_data.teaching`. The notebook tests run each
walkthrough with papermill three times (default answers, correct answers,
wrong answers) and read the feedback from the executed notebook's outputs.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

import oda_data
from oda_data import teaching
from oda_data.money import convert_amount
from oda_data.narrative import DOLLAR, unescape_markdown
from oda_data.teaching import EXERCISES, CheckResult, check_answer, expected_answer

REPO = Path(__file__).resolve().parents[1]
TEACHING_DIR = REPO / "notebooks" / "teaching"


@pytest.fixture(scope="module")
def wp() -> pd.DataFrame:
    return oda_data.white_paper()


def row(wp: pd.DataFrame, record_id: str) -> pd.Series:
    rows = wp[wp["record_id"] == record_id]
    assert len(rows) == 1, record_id
    return rows.iloc[0]


# ---------------------------------------------------------------------------
# Expected answers are what the data says
# ---------------------------------------------------------------------------


def test_expected_answers_follow_the_data(wp):
    """Each expected answer recomputed here from the dataset and the DAC table."""
    somalia = row(wp, "WP-MAR-12")
    assert somalia["kind"] == "disbursement" and somalia["period_end"] > somalia["period_start"]
    assert expected_answer("1.1") == "c"

    pledge, achieved = row(wp, "WP-CT-06"), row(wp, "WP-CT-08")
    assert achieved["pledge_id"] == "WP-CT-06" and achieved["currency"] == pledge["currency"]
    assert expected_answer("1.2") == pytest.approx((achieved["amount"] / pledge["amount"] - 1) * 100)

    ct_pledges = wp[(wp["theme"] == "counter_terrorism") & (wp["kind"] == "pledge")]
    assert expected_answer("1.3") == int(ct_pledges["people"].sum())

    africa = ct_pledges[(ct_pledges["region"] == "Africa") & ct_pledges["amount"].notna()]
    originals = africa[africa["equivalent_of"].isna()]
    assert set(africa["record_id"]) - set(originals["record_id"]) == {"WP-CT-04"}
    assert (originals["currency"] == "USD").all()
    assert expected_answer("1.4") == pytest.approx(originals["amount"].sum() / 1e6)

    usd = row(wp, "WP-CT-03")
    mean = np.mean([oda_data.exchange_rate(y) for y in range(usd["period_start"], usd["period_end"] + 1)])
    assert expected_answer("2.1") == pytest.approx(usd["amount"] * mean / 1e9)
    assert expected_answer("2.2") == pytest.approx(row(wp, "WP-CT-04")["amount"] / usd["amount"])

    years = range(somalia["period_start"], somalia["period_end"] + 1)
    mean_deflator = np.mean([oda_data.deflator(y, 2022) for y in years])
    assert expected_answer("2.3") == pytest.approx(somalia["amount"] / (mean_deflator / 100) / 1e6)
    assert expected_answer("2.4") == pytest.approx(oda_data.deflator(2018) / oda_data.deflator(2016) * 100)

    maritime_africa = wp[(wp["theme"] == "maritime_security") & (wp["region"] == "Africa")]
    assert expected_answer("3.1") == len(maritime_africa)
    no_figure = wp["amount"].isna() & wp["people"].isna() & wp["countries"].isna()
    assert expected_answer("3.2") == int(no_figure.sum())

    money = wp[wp["amount"].notna() & wp["equivalent_of"].isna()]
    usd_values = oda_data.convert(money, to="USD", default_year=2018)
    ranked = usd_values.sort_values("amount_usd_current", ascending=False)["record_id"].tolist()
    assert expected_answer("3.3") == ranked[1]
    assert expected_answer("3.4") == money["region"].value_counts().idxmax()


def test_expected_answers_match_the_chapter_text():
    """Anchors from the chapter and the brief, so that a broken dataset shows here too."""
    assert expected_answer("1.3") == 20_000 + 30_000 + 2_000
    assert expected_answer("1.4") == pytest.approx(120)  # "$120 million (approximately ¥14 billion)"
    assert expected_answer("1.2") == pytest.approx((80 / 45 - 1) * 100)  # ¥80bn against ¥45bn
    assert round(expected_answer("2.1"), 1) == 13.3  # the 2016-2018 mean DAC rate
    assert expected_answer("2.2") == pytest.approx(14e9 / 120e6)


# ---------------------------------------------------------------------------
# The checks: right, wrong, unanswered, tolerance, normalisation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("exercise_id", list(EXERCISES))
def test_each_exercise_right_unanswered_and_its_mistakes(exercise_id):
    exercise = EXERCISES[exercise_id]
    right = check_answer(exercise_id, expected_answer(exercise_id))
    assert right.correct and str(right).startswith("✅ Correct: ")

    unanswered = check_answer(exercise_id, None)
    assert unanswered.status == "unanswered"
    assert str(unanswered) == f"✏️ Not answered yet: {exercise.hint}"

    assert exercise.mistakes, "every exercise names at least one typical mistake"
    for mistake in exercise.mistakes:
        wrong_value = mistake.value()
        if wrong_value is None:
            continue
        wrong = check_answer(exercise_id, wrong_value)
        assert wrong.status == "incorrect", wrong_value
        assert str(wrong) == f"❌ Not quite: {mistake.feedback} Hint: {exercise.hint}"


@pytest.mark.parametrize("exercise_id", [e for e, x in EXERCISES.items() if x.answer_type == "number"])
def test_numeric_tolerance(exercise_id):
    exercise = EXERCISES[exercise_id]
    expected = float(expected_answer(exercise_id))
    if exercise.tolerance:
        assert check_answer(exercise_id, expected + 0.9 * exercise.tolerance).correct
        assert check_answer(exercise_id, expected - 0.9 * exercise.tolerance).correct
    step = max(exercise.tolerance, 1.0) * 1.5
    outside = check_answer(exercise_id, expected + step)
    assert outside.status == "incorrect" and exercise.hint in outside.message


def test_rounded_answers_are_accepted_as_the_questions_ask():
    assert check_answer("2.1", round(expected_answer("2.1"), 1)).correct  # one decimal
    assert check_answer("1.2", round(expected_answer("1.2"))).correct  # whole percent
    assert check_answer("2.3", round(expected_answer("2.3"))).correct  # nearest million
    assert not check_answer("2.1", round(expected_answer("2.1"))).correct  # 13 is too coarse


def test_numbers_given_in_other_forms():
    people = expected_answer("1.3")
    assert check_answer("1.3", f"{people:,}").correct  # "52,000"
    assert check_answer("1.3", np.int64(people)).correct
    assert check_answer("1.3", pd.Series([people])).correct  # a one-value result of pandas
    too_many = check_answer("1.3", pd.Series([people, 1]))
    assert too_many.status == "incorrect" and "got 2 values" in too_many.message
    assert "such as 12.5, got 'many'" in check_answer("1.3", "many").message
    assert "got True" in check_answer("1.3", True).message
    assert "finite" in check_answer("1.3", float("nan")).message
    assert "got a dict" in check_answer("1.3", {}).message


def test_wrong_number_says_high_or_low_and_spots_the_unit():
    expected = expected_answer("2.1")
    assert "is too high" in check_answer("2.1", expected * 2).message
    assert "is too low" in check_answer("2.1", expected / 2).message
    unit = check_answer("2.1", expected * 1e9)  # yen, not billions of yen
    assert "a factor of one billion" in unit.message and "billions of yen" in unit.message


def test_text_and_choice_normalisation():
    assert check_answer("3.4", f"  {expected_answer('3.4').upper()}. ").correct
    assert check_answer("3.3", expected_answer("3.3").lower()).correct
    assert check_answer("3.3", f'"{expected_answer("3.3")}"').correct
    assert check_answer("1.1", "(C)").correct and check_answer("1.1", "c)").correct
    choice_text = EXERCISES["1.1"].choices[expected_answer("1.1")]
    assert check_answer("1.1", choice_text.upper()).correct
    bad = check_answer("1.1", "e")
    assert bad.status == "incorrect" and "'a', 'b', 'c', 'd'" in bad.message
    assert "Expected text" in check_answer("3.4", 3).message


def test_closest_typical_mistake_wins():
    fraction, ratio = expected_answer("1.2") / 100, expected_answer("1.2") / 100 + 1
    assert "fraction" in check_answer("1.2", round(fraction, 2)).message
    assert "ratio" in check_answer("1.2", round(ratio, 2)).message


def test_unknown_exercise_lists_the_valid_ids():
    with pytest.raises(ValueError, match=r"unknown exercise '9\.9'.*1\.1, 1\.2"):
        check_answer("9.9", 1)


def test_result_reprs_are_escaped_and_deterministic():
    result = CheckResult("1.1", "incorrect", "<script>alert(1)</script> a*b_c [x]")
    html = result._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html and "❌ Not quite" in html
    markdown = result._repr_markdown_()
    assert "<script>" not in markdown and r"a\*b\_c \[x\]" in markdown
    assert repr(result) == str(result) == "❌ Not quite: <script>alert(1)</script> a*b_c [x]"
    assert repr(check_answer("1.4", None)) == repr(check_answer("1.4", None))
    assert " at 0x" not in repr(check_answer("1.4", 1))
    with pytest.raises(ValueError, match="unknown status 'maybe'"):
        CheckResult("1.1", "maybe", "")


def test_result_reprs_never_leave_two_dollars_for_tex():
    # Exercise 1.4's feedback quotes "$120 million ... ($247 million)": raw, the
    # two "$" would be typeset as TeX in JupyterLab and nbconvert's HTML.
    result = check_answer("1.4", expected_answer("1.4"))
    assert result.correct and result.message.count("$") == 2
    for shown in (result._repr_markdown_(), result._repr_html_()):
        assert "$" not in shown.replace(DOLLAR, "")
        assert shown.count(DOLLAR) == 2
    assert unescape_markdown(result._repr_markdown_()).endswith(result.message)


def test_exercises_per_notebook():
    for notebook in teaching.NOTEBOOKS:
        found = teaching.exercises(notebook)
        assert 3 <= len(found) <= 4
        assert [e.answer_variable for e in found] == [f"answer_{n}" for n in range(1, len(found) + 1)]
    assert len(teaching.exercises()) == len(EXERCISES)
    with pytest.raises(ValueError, match="unknown notebook"):
        teaching.exercises("04_missing")


# ---------------------------------------------------------------------------
# Helpers the notebooks call
# ---------------------------------------------------------------------------


def test_select_filters_and_explains_bad_values(wp):
    africa_ct = teaching.select(wp, theme="counter_terrorism", region="Africa")
    assert set(africa_ct["theme"]) == {"counter_terrorism"} and set(africa_ct["region"]) == {"Africa"}
    both = teaching.select(wp, kind=["pledge", "achievement"])
    assert len(both) == int(wp["kind"].isin(["pledge", "achievement"]).sum())
    with pytest.raises(ValueError, match=r"unknown theme 'maritime' \(did you mean 'maritime_security'\?\); "
                                         r"expected one of: police_capacity"):
        teaching.select(wp, theme="maritime")
    with pytest.raises(ValueError, match="unknown region 'Europe'; expected one of: Asia, Middle East"):
        teaching.select(wp, region="Europe")
    with pytest.raises(ValueError, match="unknown record_id 'WP-CT-99'"):
        teaching.record("WP-CT-99", wp)


def test_drop_restatements_and_amounts_in(wp):
    kept = teaching.drop_restatements(wp)
    assert len(kept) == len(wp) - int(wp["equivalent_of"].notna().sum())
    assert "WP-CT-04" not in set(kept["record_id"])
    usd = teaching.amounts_in(wp)
    assert usd["rank"].tolist() == list(range(1, len(usd) + 1))
    assert usd["usd_current_millions"].is_monotonic_decreasing
    assert usd.loc["WP-CT-08", "usd_current_millions"] == pytest.approx(
        convert_amount(80e9, "JPY", period_start=2016, period_end=2017) / 1e6
    )
    # A total "to date" (no year) is valued in the report year.
    assert usd.loc["WP-MAR-09", "usd_current_millions"] == pytest.approx(15.1)
    constant = teaching.amounts_in(wp, to="JPY", prices="constant", base_year=2022)
    assert constant.loc["WP-MAR-09", "jpy_constant_2022_millions"] == pytest.approx(
        15.1 / (oda_data.deflator(2018) / 100) * oda_data.exchange_rate(2022)
    )


def test_price_bases_labels_and_values(wp):
    table = teaching.price_bases(wp, base_year=2022)
    assert list(table.columns) == [
        "stated_millions", "currency", "period", "USD, current prices (millions)",
        "USD, constant 2022 prices (millions)", "JPY, constant 2022 prices (millions)",
    ]
    assert table.loc["WP-MAR-09", "period"] == "to date (valued in 2018)"
    assert table.loc["WP-MAR-12", "USD, constant 2022 prices (millions)"] == pytest.approx(
        expected_answer("2.3"), abs=0.05
    )


def test_figure_flags_and_summary(wp):
    flags = teaching.with_figure_flags(wp)
    assert flags["has_figure"].sum() == int((wp["amount"].notna() | wp["people"].notna()
                                             | wp["countries"].notna()).sum())
    summary = teaching.figure_summary(wp, by="theme")
    assert list(summary.index) == [t for t in oda_data.THEMES if t in set(wp["theme"])]
    assert summary["records"].sum() == len(wp)
    assert summary["without_figure"].sum() == expected_answer("3.2")
    with pytest.raises(ValueError, match="unknown grouping column 'partner'"):
        teaching.figure_summary(wp, by="partner")


def test_compact_and_amount_words(wp):
    view = teaching.compact(wp[wp["record_id"].isin(["WP-CT-01", "WP-CT-02", "WP-MAR-09"])])
    assert view.loc["WP-CT-01", "amount"] == "6 billion"
    assert view.loc["WP-MAR-09", "amount"] == "15.1 million"
    assert view.loc["WP-CT-02", "amount"] == "" and view.loc["WP-CT-02", "people"] == 20000
    assert all(len(text) <= 70 for text in view["description"])
    assert teaching.amount_words(468e6) == "468 million" and teaching.amount_words(999) == "999"
    # Never scientific notation: "1e+03 million" was what 999.7 million gave.
    assert teaching.amount_words(999.7e6) == "1,000 million" and teaching.amount_words(999.4e6) == "999 million"
    assert teaching.amount_words(-2e15) == "-2,000 trillion" and teaching.amount_words(-4.5e6) == "-4.5 million"
    with pytest.raises(KeyError, match="no column"):
        teaching.compact(wp, columns=["nope"])


def test_pledge_progress(wp):
    progress = teaching.pledge_progress(wp)
    assert set(progress.index) == set(wp.loc[wp["pledge_id"].notna(), "record_id"])
    people = progress[progress["measure"] == "people"].iloc[0]
    pledged = row(wp, people["pledge_id"])["people"]
    assert people["pledged"] == pledged
    assert people["percent_of_pledge"] == pytest.approx(people["achieved"] / pledged * 100, abs=0.05)


def test_restatement_table_and_rounding_window(wp):
    table = teaching.restatement_table("WP-CT-04", wp)
    implied = table.loc["implied by the chapter's two figures"]
    assert implied["rate"] == pytest.approx(14e9 / 120e6, abs=1e-4) and implied["matches_statement"]
    package = table.loc["DAC mean 2016–2018 (package rule)"]
    assert package["converted_billions"] == pytest.approx(expected_answer("2.1"), abs=0.005)
    assert package["rounds_to_billions"] == 13 and not package["matches_statement"]
    assert table.loc["DAC 2016 (year announced)", "converted_billions"] == pytest.approx(
        120e6 * oda_data.exchange_rate(2016) / 1e9, abs=0.005
    )
    low, high = teaching.rounding_window(120e6, 14e9, 1e9)
    assert (low, high) == pytest.approx((112.5, 14.5e9 / 120e6))
    years = teaching.dac_years_with_rate(low, high)
    assert years and all(low <= oda_data.exchange_rate(y) < high for y in years)
    assert not set(years) & {2016, 2017, 2018}
    with pytest.raises(ValueError, match="has no equivalent_of"):
        teaching.restatement_table("WP-CT-03", wp)


def test_dac_table_mean_rate_and_plot():
    table = teaching.dac_table(2016, 2018, base_year=2016)
    assert table.loc[2016, "deflator"] == 100
    assert teaching.mean_rate(2016, 2018) == pytest.approx(table["jpy_per_usd"].mean())
    figure = teaching.plot_rate_and_deflator(2000, 2023, highlight=(2016, 2018))
    top, bottom = figure.axes
    assert "Yen per US dollar" in top.get_ylabel() and "2022 = 100" in bottom.get_ylabel()
    assert len(top.lines[0].get_xdata()) == 24
    assert any("Source: OECD DAC" in text.get_text() for text in figure.texts)


# ---------------------------------------------------------------------------
# The notebooks
# ---------------------------------------------------------------------------


def notebook_path(name: str) -> Path:
    return TEACHING_DIR / f"{name}.ipynb"


def check_cells(notebook) -> list:
    return [cell for cell in notebook.cells if "check" in cell.metadata.get("tags", [])]


def plain_text(cell) -> str:
    texts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            texts.append(output["text"])
        elif "data" in output:
            texts.append(output["data"].get("text/plain", ""))
    return "".join(texts)


@pytest.mark.parametrize("name", teaching.NOTEBOOKS)
def test_stored_notebook_structure(name):
    notebook = nbformat.read(notebook_path(name), as_version=4)
    assert notebook.metadata.kernelspec == {"name": "python3", "display_name": "Python 3", "language": "python"}
    assert "papermill" not in notebook.metadata
    parameters = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1
    exercises = teaching.exercises(name)
    assigned = re.findall(r"^(answer_\d+) = None\b", parameters[0].source, flags=re.M)
    assert assigned == [e.answer_variable for e in exercises]
    checks = check_cells(notebook)
    assert [c.source for c in checks] == [
        f'teaching.check_answer("{e.exercise_id}", {e.answer_variable})' for e in exercises
    ]
    for cell in notebook.cells:
        assert "execution" not in cell.metadata and "papermill" not in cell.metadata
        if cell.cell_type == "code":
            assert cell.source.count("\n") < 15, "code cells stay thin"
            assert all(o.get("output_type") != "error" for o in cell.outputs)
    # Outputs are stored from the default parameters.
    assert all(plain_text(c).startswith("✏️ Not answered yet: ") for c in checks)
    text = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert "Learning goals" in text and "<summary>" in text and "## Solutions" in text
    assert "/work/" not in nbformat.writes(notebook) and " at 0x" not in nbformat.writes(notebook)


def test_notebook_1_lists_the_checked_choices():
    text = nbformat.read(notebook_path(teaching.NOTEBOOKS[0]), as_version=4)
    markdown = "\n".join(c.source for c in text.cells if c.cell_type == "markdown")
    for letter, choice in EXERCISES["1.1"].choices.items():
        assert f"({letter}) {choice}" in markdown


def _plain(value):
    """A parameter papermill can write as a Python literal."""
    if isinstance(value, (np.integer, int)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value)
    return value


def _wrong_answer(exercise):
    expected = exercise.expected_answer()
    if exercise.answer_type == "number":
        return _plain(float(expected) * 3 + 7)
    if exercise.answer_type == "choice":
        return next(letter for letter in exercise.choices if letter != expected)
    return "Nowhere"


SCENARIOS = {
    "default": lambda exercise: None,
    "correct": lambda exercise: _plain(exercise.expected_answer()),
    "wrong": _wrong_answer,
}


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Run a teaching notebook with papermill once per (notebook, scenario)."""
    import papermill as pm

    cache: dict = {}

    def run(name: str, scenario: str):
        if (name, scenario) not in cache:
            parameters = {e.answer_variable: SCENARIOS[scenario](e) for e in teaching.exercises(name)}
            output = tmp_path_factory.mktemp("teaching") / f"{name}-{scenario}.ipynb"
            pm.execute_notebook(
                str(notebook_path(name)), str(output), parameters=parameters,
                kernel_name="python3", cwd=str(TEACHING_DIR), progress_bar=False,
            )
            cache[name, scenario] = nbformat.read(output, as_version=4)
        return cache[name, scenario]

    return run


@pytest.mark.notebooks
@pytest.mark.parametrize("name", teaching.NOTEBOOKS)
def test_notebook_default_parameters_say_not_answered(executed, name):
    notebook = executed(name, "default")
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert all(o.get("output_type") != "error" for o in cell.outputs), cell.source
    for cell, exercise in zip(check_cells(notebook), teaching.exercises(name), strict=True):
        assert plain_text(cell) == f"✏️ Not answered yet: {exercise.hint}"
        html = next(o for o in cell.outputs if "data" in o).data["text/html"]
        assert "oda-check-unanswered" in html


@pytest.mark.notebooks
@pytest.mark.parametrize("name", teaching.NOTEBOOKS)
def test_notebook_correct_answers_say_correct(executed, name):
    notebook = executed(name, "correct")
    for cell, exercise in zip(check_cells(notebook), teaching.exercises(name), strict=True):
        text = plain_text(cell)
        assert text.startswith("✅ Correct: "), (exercise.exercise_id, text)
        assert text == str(exercise.check(exercise.expected_answer()))


@pytest.mark.notebooks
@pytest.mark.parametrize("name", teaching.NOTEBOOKS)
def test_notebook_wrong_answers_say_not_quite_with_hint(executed, name):
    notebook = executed(name, "wrong")
    for cell, exercise in zip(check_cells(notebook), teaching.exercises(name), strict=True):
        text = plain_text(cell)
        assert text.startswith("❌ Not quite: "), (exercise.exercise_id, text)
        assert text.endswith(f"Hint: {exercise.hint}")


def test_wrong_answers_used_above_are_really_wrong():
    for exercise in EXERCISES.values():
        answer = _wrong_answer(exercise)
        assert not exercise.check(answer).correct, exercise.exercise_id
