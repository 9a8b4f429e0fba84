"""The check engine of the teaching walkthroughs (``notebooks/teaching/``).

The exercises are data: ``oda_data/data/exercises.yaml``. Each one gives the
pandas expression that answers it (its ``solution``), the typical wrong answers
(pandas expressions too, or a test on the rows a learner kept or missed) and
what to tell the learner. This module loads and validates that file, evaluates
the expressions on the White Paper frame and compares a learner's answer with
the result, so no expected number is ever typed in by hand.

>>> from oda_data import teaching
>>> teaching.check("01-select-pledges", None)  # doctest: +ELLIPSIS
✏️ Not answered yet: ...
"""
from __future__ import annotations

import builtins
import html
import numbers
import re
from dataclasses import dataclass
from string import Formatter
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

#: Where the exercises live.
EXERCISES_FILE = Path(__file__).with_name("data") / "exercises.yaml"
#: The walkthroughs, in reading order (file stems in notebooks/teaching/).
NOTEBOOKS = ("01_reading_an_oda_figure", "02_currencies_and_constant_prices", "03_ask_your_own_question")

_REQUIRED = {"id", "notebook", "title", "solution", "hint", "correct"}
_OPTIONAL = {"tolerance", "unit", "values", "mistakes"}
_MISTAKE_KEYS = {"answer", "when", "feedback"}
_MESSAGES = {"unanswered", "correct", "incorrect", "wrong_type", "extra_rows", "missing_rows",
             "wrong_groups", "wrong_values", "wrong_text", "unit_factor", "too_high", "too_low", "kinds"}
# Names an expression of the exercise file may use besides wp, pd, np and oda_data.
_BUILTINS = {name: getattr(builtins, name) for name in
             ("len", "int", "float", "round", "abs", "min", "max", "sum", "range", "sorted", "list", "str")}
_ICONS = {"correct": "✅", "incorrect": "❌", "unanswered": "✏️"}
_COLOURS = {"correct": "#2e7d32", "incorrect": "#c62828", "unanswered": "#6d6d6d"}
# "$" written so that MathJax in JupyterLab and the reports site never typesets it.
_DOLLAR = '<span class="tex2jax_ignore mathjax_ignore">&#36;</span>'


class ExerciseFileError(ValueError):
    """The exercises file is not valid: the message names the file, the exercise and the problem."""


@dataclass(frozen=True)
class Feedback:
    """What a check says; shows as one coloured line in a notebook, plain text elsewhere."""

    exercise_id: str
    status: str  # "correct", "incorrect" or "unanswered"
    label: str
    message: str

    @property
    def correct(self) -> bool:
        return self.status == "correct"

    def __str__(self) -> str:
        return f"{_ICONS[self.status]} {self.label}: {self.message}"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        colour, text = _COLOURS[self.status], html.escape(self.message, quote=False).replace("$", _DOLLAR)
        return (f'<div class="oda-check oda-check-{self.status}" style="border-left: 4px solid {colour}; '
                f'padding: 0.4em 0.8em;"><strong style="color: {colour};">{_ICONS[self.status]} '
                f"{html.escape(self.label)}</strong> <small>({html.escape(self.exercise_id)})</small>: {text}</div>")


@dataclass(frozen=True)
class Code:
    """A pandas line to read: plain text, or a highlighted Python block in JupyterLab."""

    source: str

    def __str__(self) -> str:
        return self.source

    __repr__ = __str__

    def _repr_markdown_(self) -> str:
        return f"```python\n{self.source}\n```"


def _fail(path: Path, where: str, problem: str) -> ExerciseFileError:
    return ExerciseFileError(f"{path}: {where}: {problem}")


def _compile(path: Path, where: str, source: Any):
    if not isinstance(source, str) or not source.strip():
        raise _fail(path, where, f"expected a pandas expression as text, got {source!r}")
    try:
        return compile(source.strip(), f"<{where}>", "eval")
    except SyntaxError as error:
        raise _fail(path, where, f"not a valid Python expression ({error.msg}): {source.strip()!r}") from None


def load_exercises(path: str | Path = EXERCISES_FILE) -> tuple[dict[str, str], dict[str, dict]]:
    """Read and validate an exercises file; return ``(messages, exercises by id)``.

    Raises :class:`ExerciseFileError` naming the file, the exercise and what was
    expected: bad YAML (with its line), a missing or unknown key, a duplicate id,
    an unknown notebook, an expression that is not valid Python.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ExerciseFileError(f"{path}: cannot read the exercises file ({error.strerror})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f"line {mark.line + 1}" if mark is not None else "YAML"
        raise _fail(path, line, f"not valid YAML ({getattr(error, 'problem', None) or error})") from None
    if not isinstance(data, dict) or set(data) != {"messages", "exercises"}:
        raise _fail(path, "top level", "expected a mapping with exactly the keys 'messages' and 'exercises'")
    messages = data["messages"]
    if not isinstance(messages, dict) or set(messages) != _MESSAGES:
        raise _fail(path, "messages", f"expected exactly the keys {', '.join(sorted(_MESSAGES))}")
    exercises: dict[str, dict] = {}
    for number, item in enumerate(data["exercises"] or [], start=1):
        where = f"exercise {item.get('id')!r}" if isinstance(item, dict) and item.get("id") else f"exercise #{number}"
        if not isinstance(item, dict):
            raise _fail(path, where, "expected a mapping of keys")
        missing, unknown = _REQUIRED - set(item), set(item) - _REQUIRED - _OPTIONAL
        if missing or unknown:
            problem = f"missing key(s) {sorted(missing)}" if missing else f"unknown key(s) {sorted(unknown)}"
            raise _fail(path, where, f"{problem}; expected {sorted(_REQUIRED)} and optionally {sorted(_OPTIONAL)}")
        if item["id"] in exercises:
            raise _fail(path, where, "duplicate id")
        if item["notebook"] not in NOTEBOOKS:
            raise _fail(path, where, f"unknown notebook {item['notebook']!r}; expected one of: {', '.join(NOTEBOOKS)}")
        if not isinstance(item.get("tolerance", 0), (int, float)) or item.get("tolerance", 0) < 0:
            raise _fail(path, where, f"tolerance must be a number >= 0, got {item['tolerance']!r}")
        exercise = dict(item, tolerance=float(item.get("tolerance", 0)), unit=item.get("unit", ""),
                        solution_code=_compile(path, f"{where} solution", item["solution"]))
        exercise["values"] = {name: _compile(path, f"{where} values.{name}", source)
                              for name, source in (item.get("values") or {}).items()}
        unknown = {field for _, field, _, _ in Formatter().parse(item["correct"]) if field} - set(exercise["values"])
        if unknown:
            raise _fail(path, where, f"'correct' names {sorted(unknown)}, which 'values' does not define")
        exercise["mistakes"] = []
        for index, mistake in enumerate(item.get("mistakes") or [], start=1):
            inner = f"{where} mistake {index}"
            if not isinstance(mistake, dict) or "feedback" not in mistake or set(mistake) - _MISTAKE_KEYS \
                    or len(set(mistake) & {"answer", "when"}) != 1:
                raise _fail(path, inner, "expected 'feedback' and exactly one of 'answer' or 'when'")
            test = "answer" if "answer" in mistake else "when"
            exercise["mistakes"].append((test, _compile(path, inner, mistake[test]), mistake["feedback"]))
        exercises[item["id"]] = exercise
    return messages, exercises


@lru_cache(maxsize=1)
def _loaded() -> tuple[dict[str, str], dict[str, dict]]:
    return load_exercises()


def _names() -> dict[str, Any]:
    import oda_data  # here, not at import: oda_data imports nothing from this module

    return {"wp": oda_data.white_paper(), "pd": pd, "np": np, "oda_data": oda_data}


def _evaluate(code, **names) -> Any:
    namespace = {"__builtins__": _BUILTINS, **_names(), **names}  # globals: generators see only globals
    try:
        return eval(code, namespace)  # noqa: S307 - expressions of the package's own file
    except Exception as error:  # a broken expression of the file, never the learner's answer
        where = code.co_filename.strip("<>")
        raise ExerciseFileError(f"{EXERCISES_FILE}: {where}: {type(error).__name__}: {error}") from None


def exercise(exercise_id: str) -> dict:
    """The exercise ``exercise_id`` as loaded from the file; a ValueError lists the valid ids."""
    exercises = _loaded()[1]
    if exercise_id not in exercises:
        raise ValueError(f"unknown exercise {exercise_id!r} (in {EXERCISES_FILE.name}); "
                         f"expected one of: {', '.join(exercises)}")
    return exercises[exercise_id]


def exercises(notebook: str | None = None) -> list[str]:
    """Ids of the exercises of one notebook (a file stem of :data:`NOTEBOOKS`), or of all."""
    if notebook is not None and notebook not in NOTEBOOKS:
        raise ValueError(f"unknown notebook {notebook!r}; expected one of: {', '.join(NOTEBOOKS)}")
    return [key for key, item in _loaded()[1].items() if notebook in (None, item["notebook"])]


def expected(exercise_id: str) -> Any:
    """The right answer, computed now from the exercise's pandas solution."""
    return _evaluate(exercise(exercise_id)["solution_code"])


def hint(exercise_id: str) -> str:
    return exercise(exercise_id)["hint"].strip()


def solution(exercise_id: str) -> Code:
    """The worked solution: the pandas expression the check itself evaluates."""
    return Code(exercise(exercise_id)["solution"].strip())


# -- comparing answers ---------------------------------------------------------


def _shape(value: Any) -> str | None:
    """What a value is as an answer: "rows", "series", "number", "text", or None."""
    if isinstance(value, pd.DataFrame):
        return "rows" if "record_id" in value.columns or value.index.name == "record_id" else None
    if isinstance(value, pd.Series):
        return "series"
    if isinstance(value, (numbers.Real, np.number)) and not isinstance(value, (bool, np.bool_)):
        return "number"
    return "text" if isinstance(value, str) else None


def _ids(frame: pd.DataFrame) -> list[str]:
    return sorted(frame["record_id"] if "record_id" in frame.columns else frame.index)


def _labels(series: pd.Series) -> list[str]:
    return sorted(map(str, series.index))


def _number(value: Any) -> float | None:
    if isinstance(value, (pd.Series, pd.DataFrame, np.ndarray)) and np.size(value) == 1:
        value = np.asarray(value).ravel()[0]
    return float(value) if _shape(value) == "number" and np.isfinite(float(value)) else None


def _close(given: float, target: float, tolerance: float) -> bool:
    return abs(given - target) <= tolerance + 1e-9 * max(1.0, abs(target))


def _same(given: Any, target: Any, tolerance: float) -> bool:
    shape = _shape(target)
    if shape == "rows":
        return _shape(given) == "rows" and _ids(given) == _ids(target)
    if shape == "series":
        if _shape(given) != "series" or _labels(given) != _labels(target):
            return False
        left, right = (pd.to_numeric(s.set_axis(s.index.map(str)).sort_index(), errors="coerce")
                       .to_numpy(dtype=float, na_value=np.nan) for s in (given, target))
        return bool(np.all((np.isnan(left) & np.isnan(right)) | (abs(left - right) <= tolerance + 1e-9 * abs(right))))
    if shape == "number":
        number = _number(given)
        return number is not None and _close(number, float(target), tolerance)
    return isinstance(given, str) and _normal(given) == _normal(target)


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().strip("\"'“”‘’").strip().rstrip(".")).casefold()


def _describe(value: Any) -> str:
    if isinstance(value, pd.DataFrame):
        return f"a DataFrame of {len(value)} rows without a record_id column" if _shape(value) is None \
            else f"a DataFrame of {len(value)} rows"
    if isinstance(value, pd.Series):
        return f"a Series of {len(value)} values"
    return {"number": f"the number {value!r}", "text": f"the text {value!r}"}.get(_shape(value), f"a {type(value).__name__}")


def _generic(item: dict, messages: dict, given: Any, target: Any) -> str:
    shape, fill = _shape(target), {"unit": item["unit"] or "the unit asked for"}
    if shape == "number" and _number(given) is not None:
        given = _number(given)
        for power, name in ((3, "thousand"), (6, "million"), (9, "billion")):
            if any(_close(given * factor, float(target), item["tolerance"]) for factor in (10.0**power, 10.0**-power)):
                return messages["unit_factor"].format(factor=name, **fill)
        return messages["too_high" if given > target else "too_low"].format(given=f"{given:,.6g}", **fill)
    if shape != _shape(given):
        return messages["wrong_type"].format(expected=messages["kinds"][shape].format(**fill), given=_describe(given))
    if shape == "rows":
        extra, missing = sorted(set(_ids(given)) - set(_ids(target))), sorted(set(_ids(target)) - set(_ids(given)))
        parts = [messages["extra_rows"].format(n=len(extra), ids=", ".join(extra))] if extra else []
        parts += [messages["missing_rows"].format(n=len(missing), ids=", ".join(missing))] if missing else []
        return " ".join(parts)
    if shape == "series" and _labels(given) != _labels(target):
        return messages["wrong_groups"].format(expected=", ".join(_labels(target)), given=", ".join(_labels(given)))
    if shape == "series":
        return messages["wrong_values"]
    return messages["wrong_text"].format(given=given)


def _mistake(item: dict, given: Any, target: Any) -> str | None:
    """The feedback of the typical mistake that fits ``given``: the nearest one when several do."""
    found = []
    rows = _shape(given) == "rows" and _shape(target) == "rows"
    for test, code, feedback in item["mistakes"]:
        if test == "answer":
            wrong = _evaluate(code)
            if _same(given, wrong, item["tolerance"]):
                distance = abs(_number(given) - float(wrong)) if _shape(wrong) == "number" else 0.0
                found.append((distance, len(found), feedback))
        elif rows:
            wp = _names()["wp"]
            extra = wp[wp["record_id"].isin(set(_ids(given)) - set(_ids(target)))]
            missing = wp[wp["record_id"].isin(set(_ids(target)) - set(_ids(given)))]
            if (len(extra) or len(missing)) and bool(_evaluate(code, extra=extra, missing=missing, answer=given)):
                found.append((0.0, len(found), feedback))
    return min(found)[2] if found else None


def check(exercise_id: str, answer: Any) -> Feedback:
    """Compare a learner's ``answer`` with the exercise's solution and say what is right or wrong.

    ``None`` means not answered yet (never an error). A wrong answer gets the
    feedback of the typical mistake it matches, else what differs (type, rows,
    groups, unit, too high or low), then the hint.
    """
    item, messages = exercise(exercise_id), _loaded()[0]
    if answer is None:
        return Feedback(exercise_id, "unanswered", messages["unanswered"], item["hint"])
    target = expected(exercise_id)
    if _same(answer, target, item["tolerance"]):
        values = {name: _evaluate(code, expected=target) for name, code in item["values"].items()}
        return Feedback(exercise_id, "correct", messages["correct"], item["correct"].strip().format(**values))
    reason = _mistake(item, answer, target) or _generic(item, messages, answer, target)
    return Feedback(exercise_id, "incorrect", messages["incorrect"],
                    f"{reason.strip()} Hint: {item['hint'].strip()}")


__all__ = ["EXERCISES_FILE", "NOTEBOOKS", "Code", "ExerciseFileError", "Feedback", "check", "exercise",
           "exercises", "expected", "hint", "load_exercises", "solution"]
