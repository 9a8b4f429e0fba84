"""The check engine of the teaching walkthroughs: each exercise of ``data/exercises.yaml`` gives the pandas that answers
it, typical mistakes and what to say; the right answer is computed from that pandas at every check, never typed in."""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from string import Formatter
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import AfterValidator, ConfigDict, Field, ValidationError, create_model

import oda_data  # the package is initialised first, and imports nothing from this module

EXERCISES_FILE = Path(__file__).with_name("data") / "exercises.yaml"
#: The walkthroughs, in reading order (file stems in notebooks/teaching/).
NOTEBOOKS = ("01_reading_an_oda_figure", "02_currencies_and_constant_prices", "03_ask_your_own_question")
_ICONS = {"correct": "✅", "incorrect": "❌", "unanswered": "✏️"}


class ExerciseFileError(ValueError):
    """The exercises file is not valid: one line naming the file, the exercise and the field."""


class _BadAnswer(ValueError):
    """A learner's answer that cannot be compared (its record_id is not text): said, never raised."""


def _expression(source: str) -> str:
    try:
        return compile(source.strip(), "<exercise>", "eval") and source.strip()
    except SyntaxError as error:
        raise ValueError(f"not a valid Python expression ({error.msg}): {source.strip()!r}") from None


def _fields(template: str) -> set[str]:
    try:
        return {field for _, field, _, _ in Formatter().parse(template) if field}
    except ValueError as error:  # "Single '{' encountered in format string"
        raise ValueError(f"not a valid message template ({error}); write {{{{ for a brace") from None


_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)  # every key known, typed: a list is no id
Expression = Annotated[str, AfterValidator(_expression)]
Template = Annotated[str, AfterValidator(lambda text: (_fields(text), text.strip())[1])]
Mistake = create_model("Mistake", __config__=_STRICT, answer=(Expression, ...), feedback=(str, ...))
Exercise = create_model(
    "Exercise", __config__=_STRICT, id=(str, Field(min_length=1)), notebook=(Literal[NOTEBOOKS], ...),
    title=(str, ...), solution=(Expression, ...), hint=(str, ...), correct=(Template, ...),
    tolerance=(float, Field(0.0, ge=0, allow_inf_nan=False)), unit=(str, ""), values=(dict[str, Expression], {}),
    mistakes=(list[Mistake], Field(min_length=1)))
Messages = create_model("Messages", __config__=_STRICT, **{name: (Template, ...) for name in (
    "unanswered", "correct", "incorrect", "wrong_type", "rows", "series", "number", "extra_rows", "missing_rows",
    "wrong_groups", "wrong_values", "unit_factor", "too_high", "too_low")})
ExercisesFile = create_model("ExercisesFile", __config__=_STRICT, messages=(Messages, ...),
                             exercises=(list[Exercise], ...))


def load_exercises(path: str | Path = EXERCISES_FILE) -> tuple[Any, dict[str, Any]]:
    """``(messages, exercises by id)`` of a valid file, else one :class:`ExerciseFileError` line naming the problem."""
    path, data = Path(path), None
    try:
        raw = path.read_bytes()
        data = yaml.safe_load(raw.decode("utf-8"))
        loaded = ExercisesFile.model_validate(data)
    except OSError as error:
        problem = f"cannot read the exercises file ({error.strerror})"
    except UnicodeDecodeError as error:
        problem = f"line {raw[:error.start].count(10) + 1}: not UTF-8 text (byte 0x{raw[error.start]:02x})"
    except yaml.YAMLError as error:
        mark, what = getattr(error, "problem_mark", None), getattr(error, "problem", None) or error
        problem = (f"line {mark.line + 1}: " if mark else "") + f"not valid YAML ({what})"
    except ValidationError as error:
        first, where = error.errors(include_url=False)[0], []
        if (loc := list(first["loc"]))[:1] == ["exercises"] and len(loc) > 1:  # the exercise's id, else its number
            name = item.get("id") if isinstance(item := data["exercises"][loc[1]], dict) else None
            where, loc = [f"exercise {name!r}" if name and isinstance(name, str) else f"exercise #{loc[1]+1}"], loc[2:]
        where += ["field " + ".".join(str(p + 1) if isinstance(p, int) else str(p) for p in loc)] if loc else []
        got = "" if first["type"] in ("missing", "value_error", "extra_forbidden") else f", got {first['input']!r:.60}"
        problem = f"{': '.join(where) or 'top level'}: {first['msg'].removeprefix('Value error, ')}{got}"
    else:
        exercises = {item.id: item for item in loaded.exercises}
        problems = [f"exercise {e.id!r}: field id: duplicate id" for e in loaded.exercises if e is not exercises[e.id]]
        problems += [f"exercise {e.id!r}: field correct: names {unknown}, which 'values' does not define"
                     for e in loaded.exercises if (unknown := sorted(_fields(e.correct) - set(e.values)))]
        problem = (problems or [None])[0]
    if problem:
        raise ExerciseFileError(f"{path}: {problem}".replace("\n", " "))
    return loaded.messages, exercises


_loaded = lru_cache(maxsize=1)(load_exercises)  # the shipped file, read once


def _evaluate(source: str, where: str, **names) -> Any:
    """An expression of the file, on wp, by_id (wp indexed by record_id), pd, np and oda_data."""
    wp = oda_data.white_paper()
    try:  # names as globals: a generator inside the expression sees only globals
        return eval(source, {"wp": wp, "by_id": wp.set_index("record_id"), "pd": pd, "np": np, "oda_data": oda_data,
                             **names})  # noqa: S307 - expressions of the package's own file
    except Exception as error:  # a broken expression of the file, never the learner's answer
        raise ExerciseFileError(f"{EXERCISES_FILE}: {where}: {type(error).__name__}: {error}") from None


def exercise(exercise_id: str):
    if exercise_id not in (exercises := _loaded()[1]):
        raise ValueError(f"unknown exercise {exercise_id!r} (in {EXERCISES_FILE.name}); "
                         f"expected one of: {', '.join(exercises)}")
    return exercises[exercise_id]


def exercises(notebook: str | None = None) -> list[str]:
    if notebook is not None and notebook not in NOTEBOOKS:
        raise ValueError(f"unknown notebook {notebook!r}; expected one of: {', '.join(NOTEBOOKS)}")
    return [key for key, item in _loaded()[1].items() if notebook in (None, item.notebook)]


def expected(exercise_id: str) -> Any:
    value = _Answer(_evaluate(exercise(exercise_id).solution, f"exercise {exercise_id!r} solution"))
    if value.shape is None or (value.shape == "number" and value.number() is None):
        raise ExerciseFileError(f"{EXERCISES_FILE}: exercise {exercise_id!r} solution: gives {value.describe()}, "
                                "not a DataFrame of records, a Series or a finite number")
    return value.value


class Markdown(str):
    """Text shown as Markdown in JupyterLab and as itself (never in quotes) elsewhere."""

    __repr__ = _repr_markdown_ = str.__str__


def hint(exercise_id: str) -> Markdown:
    return Markdown(exercise(exercise_id).hint.strip())


def solution(exercise_id: str) -> Markdown:
    """The pandas the check evaluates (the notebook's folded solution cell), as a Python block."""
    return Markdown(f"```python\n{exercise(exercise_id).solution}\n```")


class Feedback(Markdown):
    """What a check says, as one line ("✅ Correct: ..."); its label in bold in JupyterLab."""

    def __new__(cls, exercise_id: str, status: str, label: str, message: str):
        self = super().__new__(cls, f"{_ICONS[status]} {label}: {message}")
        self.exercise_id, self.status, self.label, self.message = exercise_id, status, label, message
        self.correct = status == "correct"
        return self

    def _repr_markdown_(self) -> str:  # "\$": never typeset as maths in JupyterLab or on the site
        return f"{_ICONS[self.status]} **{self.label}** ({self.exercise_id}): " + self.message.replace("$", r"\$")


@dataclass(frozen=True)
class _Answer:
    """A value as an answer: its shape ("rows" with record_id, "series", "number" or None) and how it compares."""

    value: Any

    @property
    def shape(self) -> str | None:
        if isinstance(value := self.value, pd.DataFrame):
            return "rows" if "record_id" in {*value.columns, value.index.name} else None
        number = isinstance(value, (numbers.Real, np.number)) and not isinstance(value, (bool, np.bool_))
        return "series" if isinstance(value, pd.Series) else "number" if number else None

    def ids(self) -> list[str]:
        ids = self.value["record_id"] if "record_id" in self.value.columns else self.value.index
        if bad := [value for value in ids if not isinstance(value, str)]:
            raise _BadAnswer(f"The record_id of {len(bad)} row(s) is not a record's id as text "
                             f"({', '.join(map(repr, bad[:3]))}): keep whole rows of wp, with their record_id.")
        return sorted(ids)

    def labels(self) -> list[str]:
        return sorted(map(str, self.value.index))

    def number(self) -> float | None:
        value = self.value
        if isinstance(value, (pd.Series, pd.DataFrame, np.ndarray)) and np.size(value) == 1:
            value = np.asarray(value).ravel()[0]
        return float(value) if _Answer(value).shape == "number" and np.isfinite(float(value)) else None

    def same(self, target: _Answer, tolerance: float) -> bool:
        if target.shape == "rows":
            return self.shape == "rows" and self.ids() == target.ids()
        if target.shape == "series":
            if self.shape != "series" or self.labels() != target.labels():
                return False
            left, right = (pd.to_numeric(s.set_axis(s.index.map(str)).sort_index(), errors="coerce")
                           .to_numpy(dtype=float, na_value=np.nan) for s in (self.value, target.value))
            return bool(np.all((np.isnan(left) & np.isnan(right)) | _close(left, right, tolerance)))
        return (number := self.number()) is not None and bool(_close(number, target.number(), tolerance))

    def describe(self) -> str:
        if isinstance(self.value, (pd.DataFrame, pd.Series)):
            return f"a {type(self.value).__name__} of {len(self.value)} rows" + " without a record_id column" * (
                not self.shape)
        what = "the number" if self.shape == "number" else "the text" if isinstance(self.value, str) else "the value"
        return f"{what} {self.value!r:.60}" + (" (not a number)" if self.shape and self.number() is None else "")

    def differs(self, target: _Answer, item, messages) -> str:
        """What differs, when no typical mistake fits: the type, the rows, the labels, the unit, the size."""
        shape, unit = target.shape, item.unit or "the unit asked for"
        if shape == "number" and (number := self.number()) is not None:
            for factor, name in ((1e3, "thousand"), (1e6, "million"), (1e9, "billion")):
                if any(_close(number * f, target.number(), item.tolerance) for f in (factor, 1 / factor)):
                    return messages.unit_factor.format(factor=name, unit=unit)
            too = messages.too_high if number > target.number() else messages.too_low
            return too.format(given=f"{number:,.6g}", unit=unit)
        if shape != self.shape or shape == "number":
            expected = getattr(messages, shape).format(unit=unit)
            return messages.wrong_type.format(expected=expected, given=self.describe())
        if shape == "rows":
            extra, missing = sorted(set(self.ids()) - set(target.ids())), sorted(set(target.ids()) - set(self.ids()))
            return " ".join([messages.extra_rows.format(n=len(extra), ids=", ".join(extra))] * bool(extra)
                            + [messages.missing_rows.format(n=len(missing), ids=", ".join(missing))] * bool(missing))
        if self.labels() != target.labels():
            return messages.wrong_groups.format(expected=", ".join(target.labels()), given=", ".join(self.labels()))
        return messages.wrong_values


def _close(given, target, tolerance: float):  # numbers or arrays, within tolerance and rounding error
    return abs(given - target) <= tolerance + 1e-9 * np.maximum(1.0, abs(target))


def check(exercise_id: str, answer: Any) -> Feedback:
    """What is right or wrong in ``answer`` (``None``: not answered yet): a typical mistake's feedback (the
    nearest when several fit), else what differs; then the hint."""
    item, messages = exercise(exercise_id), _loaded()[0]
    if answer is None:
        return Feedback(exercise_id, "unanswered", messages.unanswered, item.hint.strip())
    given, target = _Answer(answer), _Answer(expected(exercise_id))
    try:
        if given.same(target, item.tolerance):
            values = {name: _evaluate(source, f"exercise {exercise_id!r} values.{name}", expected=target.value)
                      for name, source in item.values.items()}
            return Feedback(exercise_id, "correct", messages.correct, item.correct.format(**values))
        fits = [(abs(given.number() - wrong.number()) if wrong.shape == "number" else 0.0, number, mistake.feedback)
                for number, mistake in enumerate(item.mistakes, start=1)
                if given.same(wrong := _Answer(_evaluate(mistake.answer, f"exercise {exercise_id!r} mistake {number}")),
                              item.tolerance)]
        reason = min(fits)[2] if fits else given.differs(target, item, messages)
    except _BadAnswer as bad:
        reason = str(bad)
    return Feedback(exercise_id, "incorrect", messages.incorrect, f"{reason.strip()} Hint: {item.hint.strip()}")
