"""The White Paper dataset (``data/white_paper.csv``, curated by hand): every figure of the chapter, one record each,
typed and validated against :data:`oda_data.schema.WHITE_PAPER_SCHEMA`."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from os import PathLike
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from .schema import WHITE_PAPER_SCHEMA

#: The year the chapter reports on (the exchange rate of a total "to date" at current prices).
REPORT_YEAR = 2018

_FLOAT_COLUMNS = ("amount",)
_INT_COLUMNS = ("people", "countries", "period_start", "period_end", "year")
_BOOL_VALUES = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}


class DataFileError(ValueError):
    """A data file does not match its schema; the message names file, row and column."""


def default_path() -> Path:
    """Path of the dataset that ships with the package."""
    return Path(str(resources.files("oda_data").joinpath("data/white_paper.csv")))


def white_paper(path: str | PathLike | None = None) -> pd.DataFrame:
    """A fresh copy of the dataset (``path``: a CSV in its layout); a :class:`DataFileError` names the file, the line,
    the ``record_id`` and the column of each problem."""
    path = Path(path) if path is not None else default_path()
    return _load(str(path.resolve()), path.stat().st_mtime_ns).copy()


@lru_cache(maxsize=4)
def _load(path: str, _mtime_ns: int) -> pd.DataFrame:
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataFileError(f"{path}: not a readable CSV file ({error})") from None
    expected = list(WHITE_PAPER_SCHEMA.columns)
    missing = [c for c in expected if c not in raw.columns]
    unexpected = [c for c in raw.columns if c not in expected]
    if missing or unexpected:
        raise DataFileError(f"{path}: missing column(s) {missing}, unexpected column(s) {unexpected}; "
                            f"expected the columns {expected}")
    problems: list[str] = []
    frame = _parse_types(raw, problems)
    if problems:
        raise DataFileError(f"{path}: " + "; ".join(problems))
    try:
        return WHITE_PAPER_SCHEMA.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as error:
        raise DataFileError(f"{path}: " + _describe(error, frame)) from None


def _line(index) -> str:
    # +2: one for the header line, one because CSV lines count from 1.
    return f"line {int(index) + 2}"


def _parse_types(raw: pd.DataFrame, problems: list[str]) -> pd.DataFrame:
    frame = raw.copy()
    ids = raw.get("record_id", pd.Series(index=raw.index, dtype=str))
    for column in _FLOAT_COLUMNS + _INT_COLUMNS:
        if column not in frame:
            continue
        parsed = pd.to_numeric(raw[column], errors="coerce")
        bad = raw[column].notna() & parsed.isna()
        if column in _INT_COLUMNS:
            bad |= parsed.notna() & (parsed % 1 != 0)
        for index in raw.index[bad]:
            problems.append(f"{_line(index)} ({ids[index]}), column {column!r}: expected a "
                            f"{'whole number' if column in _INT_COLUMNS else 'number'}, got {raw.at[index, column]!r}")
        frame[column] = parsed.astype("Int64" if column in _INT_COLUMNS else "float64")
    if "approximate" in frame:
        lowered = raw["approximate"].fillna("false").str.strip().str.lower()
        for index in raw.index[~lowered.isin(_BOOL_VALUES)]:
            problems.append(f"{_line(index)} ({ids[index]}), column 'approximate': expected true or false, "
                            f"got {raw.at[index, 'approximate']!r}")
        frame["approximate"] = lowered.map(_BOOL_VALUES).fillna(False).astype(bool)
    return frame


def _describe(error: pa.errors.SchemaErrors, frame: pd.DataFrame) -> str:
    """One line per (row, column, check); a row-wide check is named once per row."""
    messages = []
    for case in error.failure_cases.itertuples(index=False):
        index, where = case.index, ""
        if index is not None and not pd.isna(index) and index in frame.index:
            where = f"{_line(index)} ({frame.at[index, 'record_id']}), "
        if case.schema_context == "DataFrameSchema" and where:
            # A cross-column check reports every column of the row: say it once.
            messages.append(f"{where}failed check: {case.check}")
        elif case.schema_context == "DataFrameSchema":
            messages.append(f"{case.check}: {case.failure_case!r}")
        else:
            messages.append(f"{where}column {case.column!r}: failed check {case.check} (value {case.failure_case!r})")
    return "; ".join(dict.fromkeys(messages))
