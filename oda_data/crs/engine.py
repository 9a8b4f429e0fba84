"""DuckDB: convert a CRS source into the Parquet cache, tagging themes in the same pass; query it.

**Conversion** (:func:`convert`) is one ``COPY (SELECT ...) TO 'file.parquet'``:

* bulk text is read by DuckDB's parallel CSV reader in strict mode, with the
  column names and types given (no sniffing): numbers as ``DOUBLE``, the rest
  as text. Quotes are read as the OECD writes them: a field that starts with
  ``"`` is quoted (``""`` inside it is one ``"``); a file whose only quotes
  are unbalanced text (a description that starts with ``"``) is read again
  with quote processing off. A line with the wrong number of fields, a cell
  that is not a number, or bytes that are not UTF-8 stop the conversion with
  the file and the line: no row is ever dropped;
* zip members, UTF-16 and named encodings are first streamed to a temporary
  UTF-8 file (:func:`oda_data.crs.opening.transcode`); gzip is read as is;
* bulk Parquet goes through the same ``SELECT``, from ``read_parquet``;
* Data Explorer and summary files are read by :mod:`oda_data.crs.sdmx` and
  handed to DuckDB as an Arrow table;
* every number is checked in SQL: amounts must be finite, codes whole and
  within :data:`~oda_data.crs.schema.VALID_RANGES` / ``CODE_RANGE``; a bad
  value aborts the ``COPY`` and :func:`_bad_value` finds its line;
* ``theme``/``theme_rule`` come from :func:`oda_data.crs.themes.theme_sql`.

Rows keep the source's order. **Queries** (:func:`query`) are one ``SELECT``
on the cached file with the filters and columns pushed down to DuckDB's
Parquet reader (row-group statistics skip what cannot match), ordered by file
row number. **Answers** (:func:`answer`) are the same query on bulk text,
straight from the file, with every row checked.
"""
from __future__ import annotations

import csv
import gzip
import re
import threading
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa

from . import codes
from .._text import printable
from .schema import (AMOUNT_COLUMNS, CACHE_ARROW_SCHEMA, CANONICAL_TYPES, CODE_RANGE, RAW_COLUMNS,
                     TEXT_COLUMNS, THEME_COLUMNS, VALID_RANGES)
from .sdmx import read_table
from .errors import CRSFormatError
from .opening import encoding_error, transcode, where_is_line
from .sources import Source, bulk_columns
from .themes import tagged_sql

#: Rows per Parquet row group of the cache (DuckDB's default).
ROW_GROUP_SIZE = 122_880
#: DuckDB's memory during a conversion: its parallel CSV reader and ordered
#: Parquet writer stay within it (about 1 GB without a limit on a 1 GB file; a
#: lower limit spills more to disk and is slower).
MEMORY_LIMIT = "900MB"
_BAD = "oda_data:bad-value:"


def quiet(connection) -> None:
    """No DuckDB progress bar in a terminal's or a notebook's output.

    In Jupyter DuckDB refuses to change the setting without ``ipywidgets``
    (and draws no bar there without it): that refusal is ignored.
    """
    try:
        connection.execute("SET enable_progress_bar = false")
    except duckdb.Error:
        pass
_local = threading.local()


def _literal(text) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def connection() -> duckdb.DuckDBPyConnection:
    """This thread's in-memory DuckDB connection for queries (connections are not shared across threads)."""
    if getattr(_local, "connection", None) is None:
        _local.connection = duckdb.connect()
        quiet(_local.connection)
    return _local.connection


# --------------------------------------------------------------------------- SQL of a bulk source
def _number_sql(canonical: str, column: str) -> str:
    """A checked numeric column: a bad value raises ``error()`` naming the column and the value."""
    raw = _identifier(column)
    bad = f"error({_literal(_BAD + column + ':')} || CAST({raw} AS VARCHAR))"
    if canonical in AMOUNT_COLUMNS:
        return f"CASE WHEN {raw} IS NULL OR isfinite({raw}) THEN {raw} ELSE {bad} END"
    low, high = VALID_RANGES.get(canonical, CODE_RANGE)
    return (f"CASE WHEN {raw} IS NULL THEN NULL WHEN {raw} = trunc({raw}) AND {raw} BETWEEN {low} AND {high} "
            f"THEN CAST({raw} AS INTEGER) ELSE {bad} END")


def _bad_condition(canonical: str, column: str) -> str:
    raw = _identifier(column)
    if canonical in AMOUNT_COLUMNS:
        return f"{raw} IS NOT NULL AND NOT isfinite({raw})"
    low, high = VALID_RANGES.get(canonical, CODE_RANGE)
    return f"{raw} IS NOT NULL AND NOT ({raw} = trunc({raw}) AND {raw} BETWEEN {low} AND {high})"


def _de_code_sql(canonical: str, column: str) -> tuple[str, str]:
    """(DAC code, raw code) SQL for a Data Explorer code column of a dotStat bulk file."""
    mapping = codes.donor_de_to_dac() if canonical == "donor_code" else codes.recipient_de_to_dac()
    literal = "MAP {" + ", ".join(f"{_literal(key)}: {int(value)}" for key, value in mapping.items()) + "}"
    text = f"upper(trim(CAST({_identifier(column)} AS VARCHAR)))"
    code = f"coalesce(map_extract_value({literal}, {text}), TRY_CAST({text} AS INTEGER))"
    raw = f"CASE WHEN ({code}) IS NULL AND nullif({text}, '') NOT IN ('_T', '_Z') THEN {text} END"
    return code, raw


def _bulk_select(source: Source, relation: str) -> tuple[str, dict[str, str], dict[str, str]]:
    found, de_codes = bulk_columns(source)
    parts = []
    for canonical, kind in CANONICAL_TYPES.items():
        if canonical in found:
            column = found[canonical]
            if pa.types.is_string(kind):
                # Empty cells are NULL; text is kept as written (trimming would copy every description).
                parts.append(f"nullif(CAST({_identifier(column)} AS VARCHAR), '') AS {canonical}")
            else:
                parts.append(f"{_number_sql(canonical, column)} AS {canonical}")
        elif canonical in de_codes:
            parts.append(f"{_de_code_sql(canonical, de_codes[canonical])[0]} AS {canonical}")
        elif canonical == "sector_code" and "purpose_code" in found:
            parts.append(f"CAST(({_number_sql('purpose_code', found['purpose_code'])}) // 100 AS INTEGER)"
                         " AS sector_code")
        else:
            parts.append(f"CAST(NULL AS {'VARCHAR' if pa.types.is_string(kind) else 'INTEGER' if pa.types.is_integer(kind) else 'DOUBLE'}) AS {canonical}")
    for kind in ("donor", "recipient", "purpose"):
        canonical = f"{kind}_code"
        raw = _de_code_sql(canonical, de_codes[canonical])[1] if canonical in de_codes else "NULL"
        parts.append(f"CAST({raw} AS VARCHAR) AS {kind}_raw")
    # A line with no year, donor, purpose or amount is blank (trailing "|||" lines): skipped.
    used = [found[name] for name in ("year", "donor_code", "purpose_code", *AMOUNT_COLUMNS) if name in found]
    used += [de_codes[name] for name in de_codes]
    blank = " AND ".join(f"{_identifier(column)} IS NULL" for column in used)
    year = _identifier(found["year"])
    parts[0] = (f"CASE WHEN {year} IS NULL THEN error({_literal(_BAD + found['year'] + ':')} || 'empty') "
                f"ELSE {_number_sql('year', found['year'])} END AS year")
    return f"SELECT {', '.join(parts)} FROM {relation} WHERE NOT ({blank})", found, de_codes


def _csv_relation(source: Source, path: Path, quote: str, numeric: set[str], used: list[str]) -> str:
    """DuckDB's CSV reader on ``path``, the ``used`` columns under their header names.

    The reader itself names the columns ``c0``, ``c1`` ...: a header may hold
    empty names (a trailing ``|``), quotes or control characters.
    """
    position = {name: index for index, name in enumerate(source.header)}
    types = ", ".join(f"'c{index}': {_literal('DOUBLE' if name in numeric else 'VARCHAR')}"
                      for index, name in enumerate(source.header))
    options = [f"delim={_literal(source.delimiter)}", "header=true", "auto_detect=false",
               f"columns={{{types}}}", "strict_mode=true", "null_padding=false",
               f"quote={_literal(quote)}", f"escape={_literal(quote)}"]
    if source.compression == "gzip" and path == source.path:
        options.append("compression='gzip'")
    renamed = ", ".join(f"c{position[name]} AS {_identifier(name)}" for name in dict.fromkeys(used))
    return f"(SELECT {renamed} FROM read_csv({_literal(path)}, {', '.join(options)}))"


# --------------------------------------------------------------------------- conversion
class Conversion:
    """What :func:`convert` wrote: row count and the notes (warnings) to repeat on cache hits."""

    def __init__(self, rows: int, notes: list[str], raw_columns: list[str]):
        self.rows, self.notes, self.raw_columns = rows, notes, raw_columns


def convert(source: Source, target: Path, *, scratch: Callable[[str], Path],
            on_read: Callable[[int], None] | None = None, sdmx_rows: str = "auto",
            spill: Path | None = None) -> Conversion:
    """Convert ``source`` into the Parquet file ``target`` (canonical, raw code and theme columns).

    ``scratch(suffix)`` gives a temporary path in the cache folder, for a
    transcoded copy of the text; the caller removes it. DuckDB runs with
    :data:`MEMORY_LIMIT` and spills to ``spill`` beyond it. Raises
    :class:`CRSFormatError` naming the file and line of the first bad row.
    """
    config = {"memory_limit": MEMORY_LIMIT, **({"temp_directory": str(spill)} if spill else {})}
    with duckdb.connect(config=config) as cursor:
        quiet(cursor)
        return _convert(cursor, source, target, scratch, on_read, sdmx_rows)


def _convert(cursor, source: Source, target: Path, scratch, on_read, sdmx_rows: str) -> Conversion:
    notes: list[str] = []
    if source.kind in ("sdmx_csv", "purpose_summary"):
        table = read_table(source, on_read=on_read, sdmx_rows=sdmx_rows)
        cursor.register("__source_table", table)
        inner = "SELECT * FROM __source_table"
        rows = _copy(cursor, inner, target)
        return Conversion(rows, notes, _raw_columns(cursor, target))
    if source.kind == "bulk_parquet":
        relation = f"read_parquet({_literal(source.path)})"
        inner, found, _ = _bulk_select(source, relation)
        try:
            rows = _copy(cursor, inner, target)
        except duckdb.Error as error:
            raise _parquet_error(cursor, source, relation, found, error) from None
        if on_read:
            on_read(source.size)
        return Conversion(rows, notes, _raw_columns(cursor, target))
    path, starts = source.path, None
    if not source.duckdb_reads_directly:
        path = scratch(".utf8.txt")
        starts = transcode(source, path, on_read)
    rows, notes = _bulk_text(cursor, source, path, starts, lambda inner: _copy(cursor, inner, target))
    if on_read and starts is None:
        on_read(source.size)  # DuckDB read the file itself: the bar fills at the end
    return Conversion(rows, notes, _raw_columns(cursor, target))


def _bulk_text(cursor, source: Source, path: Path, starts, run: Callable[[str], object]) -> tuple[object, list[str]]:
    """``run(inner)`` on the checked ``SELECT`` of the text at ``path``; (its result, the notes).

    Quotes first as the OECD writes them, then, when only an unbalanced quote
    stopped the reader, with quote processing off (and a note saying so).
    """
    found, de_codes = bulk_columns(source)
    numeric = {column for canonical, column in found.items() if not pa.types.is_string(CANONICAL_TYPES[canonical])}
    first_error = None
    for quote in ('"', ""):
        relation = _csv_relation(source, path, quote, numeric, [*found.values(), *de_codes.values()])
        inner, found, _ = _bulk_select(source, relation)
        try:
            result = run(inner)
        except duckdb.Error as error:
            translated = _csv_error(cursor, source, path, relation, found, error, starts, quote)
            # Only a quoting problem is worth a second reading without quote processing.
            if quote and translated.args[0].endswith(_QUOTE_HINT):
                first_error = translated
                continue
            raise (first_error or translated) from None
        notes = [] if quote else [
            f"{printable(first_error.where)}: an unbalanced quote, so the file was read with "
            "'\"' as an ordinary character (the OECD writes quotes as text); every row was read"]
        return result, notes
    raise first_error  # pragma: no cover - the loop returns or raises


def _copy(cursor, inner: str, target: Path) -> int:
    columns = list(CACHE_ARROW_SCHEMA.names)
    sql = tagged_sql(inner, [name for name in columns if name not in THEME_COLUMNS])
    cursor.execute(f"COPY ({sql}) TO {_literal(target)} (FORMAT parquet, COMPRESSION zstd, "
                   f"ROW_GROUP_SIZE {ROW_GROUP_SIZE})")
    return int(cursor.fetchone()[0])


def _raw_columns(cursor, target: Path) -> list[str]:
    """The raw code columns of ``target`` that hold a value (shown by ``read_crs``)."""
    counts = cursor.execute(
        "SELECT " + ", ".join(f"count({name})" for name in RAW_COLUMNS) + f" FROM read_parquet({_literal(target)})"
    ).fetchone()
    return [name for name, count in zip(RAW_COLUMNS, counts) if count]


# --------------------------------------------------------------------------- errors
_QUOTE_HINT = "(an unbalanced quote?)"
_LINE = re.compile(r"CSV Error on Line: (\d+)")
_CONVERT = re.compile(r'Error when converting column "(.*?)"\. Could not convert string "(.*?)" to')


def _csv_error(cursor, source: Source, path: Path, relation: str, found: dict[str, str],
               error: duckdb.Error, starts, quote: str) -> CRSFormatError:
    message = str(error)
    line = _LINE.search(message)
    where = where_is_line(source, int(line.group(1)), starts) if line else source.describe()
    if _BAD in message:
        return _bad_value(cursor, source, path, relation, found, message, starts, quote)
    converting = _CONVERT.search(message)
    if converting:
        column = converting.group(1)
        column = source.header[int(column[1:])] if re.fullmatch(r"c\d+", column) else column
        return CRSFormatError(f"{where}: column {column!r} must be numeric; found {converting.group(2)!r}")
    if "Invalid unicode" in message or "not utf-8" in message.lower():
        return encoding_error(source, int(line.group(1)) if line else 0)
    if "unterminated quote" in message.lower() or "Expected Number of Columns" in message:
        detail = message.split("\n")
        reason = next((part for part in detail if "unterminated" in part or "Expected Number" in part), "")
        hint = f" {_QUOTE_HINT}" if quote else ""
        error = CRSFormatError(f"{where}: {reason.strip() or 'malformed line'}; no row is skipped, so the "
                               f"file is refused{hint}")
        error.where = where
        return error
    return CRSFormatError(f"{where}: cannot read as CRS text: {message.splitlines()[0]}")


def _bad_value(cursor, source, path, relation, found, message, starts, quote) -> CRSFormatError:
    """Find the first row with a value the checks refuse, and name its line."""
    column = message.split(_BAD, 1)[1].split(":", 1)[0]
    canonical = next((name for name, value in found.items() if value == column), "year")
    condition = ("{} IS NULL".format(_identifier(column)) if message.split(_BAD, 1)[1].startswith(column + ":empty")
                 else _bad_condition(canonical, column))
    row, value = cursor.execute(
        f"SELECT __row, CAST({_identifier(column)} AS VARCHAR) FROM (SELECT row_number() OVER () AS __row, * "
        f"FROM {relation}) WHERE {condition} LIMIT 1").fetchone()
    line = _line_of_row(source, path, row, quote)
    where = where_is_line(source, line, starts)
    if condition.endswith("IS NULL"):
        return CRSFormatError(f"{where}: a row without a value in column {column!r} (the year); "
                              "every row needs one")
    expected = ("a finite amount" if canonical in AMOUNT_COLUMNS
                else "a year in {}-{}".format(*VALID_RANGES["year"]) if canonical == "year"
                else "a whole code in {}-{}".format(*VALID_RANGES.get(canonical, CODE_RANGE)))
    return CRSFormatError(f"{where}: column {column!r}: found {value!r}; expected {expected}")


def _line_of_row(source: Source, path: Path, row: int, quote: str) -> int:
    """The line (header = 1) where data row ``row`` (1-based) starts, quoted line breaks counted."""
    if source.compression == "gzip" and path == source.path:
        handle = gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    else:
        handle = open(path, encoding="utf-8-sig", newline="")
    with handle:
        reader = csv.reader(handle, delimiter=source.delimiter,
                            quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE)
        start = 1
        for number, _ in enumerate(reader):
            if number == row:
                return start
            start = reader.line_num + 1
    return start


def _parquet_error(cursor, source: Source, relation: str, found: dict[str, str], error) -> CRSFormatError:
    message = str(error)
    if _BAD not in message:
        return CRSFormatError(f"{source.path}: cannot read the bulk Parquet file: {message.splitlines()[0]}")
    column = message.split(_BAD, 1)[1].split(":", 1)[0]
    canonical = next((name for name, value in found.items() if value == column), "year")
    condition = (f"{_identifier(column)} IS NULL" if message.split(_BAD, 1)[1].startswith(column + ":empty")
                 else _bad_condition(canonical, column))
    row, value = cursor.execute(
        f"SELECT file_row_number + 1, CAST({_identifier(column)} AS VARCHAR) FROM "
        f"read_parquet({_literal(source.path)}, file_row_number=true) WHERE {condition} LIMIT 1").fetchone()
    return CRSFormatError(f"{source.path}: row {row}: column {column!r}: found {value!r}; expected "
                          + ("a finite amount" if canonical in AMOUNT_COLUMNS else
                             "a value" if condition.endswith("IS NULL") else
                             "a whole code in {}-{}".format(*VALID_RANGES.get(canonical, CODE_RANGE))))


# --------------------------------------------------------------------------- queries
def _where(filters: dict[str, list]) -> str:
    """``column IN (values) AND ...`` ("" without filters; an empty list is FALSE)."""
    return " AND ".join(
        f"{name} IN ({', '.join(_literal(v) if isinstance(v, str) else str(int(v)) for v in values)})"
        if values else "FALSE" for name, values in filters.items())


def query(cached: Path, columns: list[str], filters: dict[str, list]) -> pa.Table:
    """``SELECT columns FROM cached WHERE column IN (values) AND ...`` as an Arrow table (file order)."""
    where = _where(filters)
    select = ", ".join(_identifier(name) for name in columns) or "NULL AS __none"
    # Ordered by the row's position: DuckDB may run an IN list as a join, which does not keep file order.
    sql = (f"SELECT {select} FROM read_parquet({_literal(cached)}, file_row_number=true)"
           + (f" WHERE {where}" if where else "") + " ORDER BY file_row_number")
    table = connection().sql(sql).to_arrow_table()
    return _as_cached(table.drop_columns(["__none"]) if not columns else table, columns)


def _as_cached(table: pa.Table, columns: list[str]) -> pa.Table:
    """``columns`` of ``table`` with the cache's types."""
    return table.select(columns).cast(pa.schema([CACHE_ARROW_SCHEMA.field(name) for name in columns]))


def distinct(cached: Path, column: str, filters: dict[str, list]) -> list[int]:
    """Distinct values of ``column`` in the rows passing ``filters`` (for the unknown-code check)."""
    table = query(cached, [column], filters)
    return sorted({value for value in table[column].to_pylist() if value is not None})


def answer(source: Source, columns: list[str], filters: dict[str, list]) -> tuple[pa.Table, list[str]]:
    """The rows of bulk text that DuckDB reads directly, answered from the file itself; (table, notes).

    What :func:`query` would return once :func:`convert` has cached the file,
    in one scan: every line, every value check and every quote rule of the
    conversion apply to every row (filter pushdown is off on this connection,
    so the checked ``SELECT`` runs on all rows before the filters; errors name
    the line as a conversion's do), and the themes are tagged on the rows the
    code and year filters keep. For the first read of a large file, whose
    conversion then runs in the background (:mod:`oda_data.crs.cache`).
    """
    codes_years = _where({name: values for name, values in filters.items() if name != "theme"}) or "TRUE"
    themes = _where({"theme": filters["theme"]}) if "theme" in filters else "TRUE"
    names = list(CACHE_ARROW_SCHEMA.names)
    with duckdb.connect(config={"memory_limit": MEMORY_LIMIT}) as cursor:
        quiet(cursor)
        # in_clause: DuckDB would run an IN list as a join, which loses the file's row order.
        cursor.execute("SET disabled_optimizers = 'filter_pushdown,in_clause'")

        def run(inner: str) -> pa.Table:
            # Every column stays in the result, so no check is pruned as unused.
            tagged = tagged_sql(f"SELECT * FROM ({inner}) WHERE {codes_years}",
                                [name for name in names if name not in THEME_COLUMNS])
            return cursor.sql(f"SELECT * FROM ({tagged}) WHERE {themes}").to_arrow_table()

        table, notes = _bulk_text(cursor, source, source.path, None, run)
    return _as_cached(table, columns), notes
