"""The CRS bulk download text file ("CRS 2018 data.txt"), plain, gzipped or zipped, ``|``, ``,``, tab or ``;``
delimited: DuckDB's CSV reader in strict mode, the columns given, in parallel (non-UTF-8 text is transcoded first).
``"`` is text unless a line then has the wrong number of fields: the README's quote rule (:func:`_check_spans`)."""
from __future__ import annotations

import contextlib
import csv
import itertools
import re

import duckdb

from ..errors import CRSFormatError
from ..opening import Layout, Source, encoding_error, literal_path, transcode, where_is_line
from ..sql import identifier, literal
from . import bulk

_LINE = re.compile(r"CSV Error on Line: (\d+)")
_SHAPE = ("Expected Number of Columns", "unterminated quote")
_FIELDS = "where the header has"
csv.field_size_limit(1 << 30)  # a long description may exceed csv's default 128 KB
_NO_NULL = "oda_data:none"  # so that an empty cell reads as '' and only a missing field as NULL
# Numbers are cast once, in the relation: "<column>:bad" flags a cell that is no number, "<column>:raw" keeps it.
_TEXT = bulk.Numbers(unparsable=lambda column: identifier(column + ":bad"),
                     shown=lambda column: identifier(column + ":raw"))


def _relation(source: Source, path, quote: str, used: list[str], numeric: set[str], parallel: bool) -> str:
    """DuckDB's CSV reader on ``path``: the ``used`` columns under their header names (``c0``, ``c1`` ... in the
    reader: a header may hold any text), as text, and ``__fields_wrong``. DuckDB alone takes empty fields too many
    for trailing delimiters: one column beyond the header's tells, a missing field being NULL and an empty one ''."""
    width = len(source.header)
    position = {name: index for index, name in enumerate(source.header)}
    types = ", ".join(f"'c{index}': 'VARCHAR'" for index in range(width + 1))
    options = [f"delim={literal(source.delimiter)}", "header=true", "auto_detect=false", f"columns={{{types}}}",
               "strict_mode=true", "null_padding=true", f"nullstr={literal(_NO_NULL)}", f"quote={literal(quote)}",
               f"escape={literal(quote)}", f"parallel={str(parallel).lower()}"]
    parts = []
    for name in dict.fromkeys(used):
        cell = f"c{position[name]}"
        if name in numeric:
            number = f"TRY_CAST({cell} AS DOUBLE)"
            parts += [f"{number} AS {identifier(name)}", f"{cell} AS {identifier(name + ':raw')}",
                      f"CASE WHEN {number} IS NOT NULL THEN FALSE ELSE trim({cell}) <> '' END AS "
                      f"{identifier(name + ':bad')}"]
        else:
            parts.append(f"{cell} AS {identifier(name)}")
    return (f"(SELECT {', '.join(parts)}, c{width - 1} IS NULL OR c{width} IS NOT NULL AS __fields_wrong "
            f"FROM read_csv({literal(path)}, {', '.join(options)}))")


def read(source: Source, cursor, run, *, scratch, on_read=None, options=None):
    """``run`` the checked ``SELECT`` of the file (see the module docstring); (result, notes)."""
    with contextlib.ExitStack() as stack:
        path, starts = stack.enter_context(literal_path(source.path)), None
        if not source.duckdb_reads_directly:
            path = scratch(".utf8.txt")
            starts = transcode(source, path, on_read)
        found, de_codes = bulk.columns(source)
        used = [*found.values(), *de_codes.values()]
        numeric = {column for canonical, column in found.items() if canonical in bulk.NUMERIC}

        def reading(quote: str, parallel: bool = True) -> tuple[str, str]:
            relation = _relation(source, path, quote, used, numeric, parallel)
            return relation, bulk.select(source, relation, _TEXT, refuse="__fields_wrong")[0]

        try:
            result = run(reading("")[1])
        except duckdb.Error as unquoted:
            try:
                result = _read_quoted(source, path, starts, reading, run, cursor, found)
            except CRSFormatError as second:
                first = _error(cursor.cursor(), source, path, reading("")[0], found, unquoted, starts, "")
                # Field-enclosing quotes got past the first reading's error: the second reading's error is the real one.
                raise (second if getattr(second, "line", 0) > getattr(first, "line", 0) else first) from None
        if on_read and starts is None:
            on_read(source.size)  # DuckDB read the file itself: the bar fills at the end
        return result, []


def _read_quoted(source: Source, path, starts, reading, run, cursor, found):
    """The reading with field-enclosing quotes: in parallel; else (DuckDB's parallel reader refuses quoted line
    breaks) on one thread, once the quote rule holds, its error naming the line."""
    try:
        return run(reading('"')[1])
    except duckdb.Error:
        _check_spans(source, path, starts)
    relation, sql = reading('"', parallel=False)
    try:
        return run(sql)
    except duckdb.Error as error:
        raise _error(cursor.cursor(), source, path, relation, found, error, starts, '"') from None


def _check_spans(source: Source, path, starts) -> None:
    """The quote rule: no quoted field (from a line with an odd number of quotes to the next such line) swallows
    a line that is a whole record on its own, none stays open."""
    width, delimiter = len(source.header), source.delimiter.encode()
    with open(path, "rb") as lines:
        next(lines, None)
        odd = [number for number, line in enumerate(lines, start=2) if line.count(b'"') % 2]
        lines.seek(0)
        done = 0  # lines read so far
        for opened, closes in zip(odd[::2], odd[1::2]):
            next(itertools.islice(lines, opened - done, opened - done), None)  # skip to the line after ``opened``
            for number, line in enumerate(itertools.islice(lines, closes - opened), start=opened + 1):
                if line.count(delimiter) + 1 == width:
                    raise _at(opened, f"{where_is_line(source, opened, starts)}: a quote opens a field that closes "
                                      f"only at line {closes}, swallowing line {number}, a whole record of {width} "
                                      f"fields; no row is skipped or merged, so the file is refused")
            done = closes
    if len(odd) % 2:
        raise _at(odd[-1], f"{where_is_line(source, odd[-1], starts)}: unterminated quote: a quote opens a field "
                           f"that never closes; no row is skipped or merged, so the file is refused")


def _error(cursor, source: Source, path, relation: str, found, error, starts, quote: str) -> CRSFormatError:
    """The one-line error for DuckDB's ``error`` in this reading; its ``line`` is set where known."""
    message, reading, width = str(error), " (read with field-enclosing quotes)" if quote else "", len(source.header)
    refused = f"{reading}; no row is skipped, so the file is refused"
    found_line = _LINE.search(message)
    number = int(found_line.group(1)) if found_line else 0
    reason = next((part.strip() for part in message.split("\n") if any(mark in part for mark in _SHAPE)), "")
    if bulk.BAD + "__row:" in message:
        row = cursor.execute(f"SELECT __row FROM (SELECT row_number() OVER () AS __row, __fields_wrong FROM "
                             f"{relation}) WHERE __fields_wrong ORDER BY __row LIMIT 1").fetchone()
        if row is None:  # pragma: no cover - DuckDB read the file differently when fewer columns are asked for
            return _at(0, f"{source.describe()}: a line has a different number of fields than the header ({width})"
                          f"{refused}")
        number, fields = _line_of_row(source, path, row[0], quote)
        problem = (f"{fields} fields {_FIELDS} {width}{reading}; an unescaped {source.delimiter!r} in a text? No row "
                   f"is skipped, so the file is refused")
    elif bulk.BAD in message:
        row, problem = bulk.locate_bad(cursor, relation, found, message, _TEXT)
        number, problem = _line_of_row(source, path, row, quote)[0], problem + reading
    elif "Invalid unicode" in message or "not utf-8" in message.lower():
        return encoding_error(source, number)
    elif reason:
        problem = f"{reason} (the header has {width}){refused}"
    else:
        problem = f"cannot read as CRS text: {message.splitlines()[0]}"
    return _at(number, f"{where_is_line(source, number, starts) if number else source.describe()}: {problem}")


def _at(line: int, message: str) -> CRSFormatError:
    error = CRSFormatError(message)
    error.line = line
    return error


def _line_of_row(source: Source, path, row: int, quote: str) -> tuple[int, int]:
    """(the line (header = 1) where data row ``row`` (1-based) starts, quoted line breaks counted; its fields)."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=source.delimiter, quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE)
        start, number = 1, -1
        for fields in reader:
            number += bool(fields)  # DuckDB skips empty lines
            if number == row:
                return start, len(fields)
            start = reader.line_num + 1
    return start, 0  # pragma: no cover


LAYOUT = Layout("bulk_text", bulk.matches, read,
                answers_first=lambda source: source.duckdb_reads_directly and not bulk.columns(source)[1])
