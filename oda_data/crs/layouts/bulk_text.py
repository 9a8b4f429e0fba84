"""The CRS bulk download text file ("CRS 2018 data.txt"): plain, gzipped or zipped; DuckDB reads it.

``|``, ``,``, tab or ``;`` delimited; UTF-8 (BOM or not) or UTF-16, else a
named encoding. DuckDB's parallel CSV reader runs in strict mode with the
column names and types given (no sniffing). Zip members, gzip, UTF-16 and
named encodings are first streamed into a UTF-8 file
(:func:`~oda_data.crs.opening.transcode`).

**Quotes** (the rule the README states): the OECD writes these files
unquoted, so the file is first read with ``"`` as an ordinary character. When
every line then has the header's number of fields, that is the reading: no
quote can merge records. Otherwise the file is read with field-enclosing
quotes (``""`` inside one is a ``"``); a quoted field may then span lines only
when none of the lines it spans has the header's number of fields on its own,
else the read fails naming the lines where the quote opens and closes. A line
with the wrong number of fields in both readings fails naming its line.
"""
from __future__ import annotations

import contextlib
import csv
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


def _relation(source: Source, path, quote: str, used: list[str], numeric: set[str]) -> str:
    """DuckDB's CSV reader on ``path``: the ``used`` columns under their header names.

    The reader names the columns ``c0``, ``c1`` ... (a header may hold empty
    names, quotes or control characters), all text, plus one column beyond
    the header's: DuckDB takes one empty field too many as a trailing
    delimiter, so a line with too many fields shows as a value there, one
    with too few as a NULL in the last column (missing fields are padded with
    NULL, empty ones are '').
    """
    width = len(source.header)
    position = {name: index for index, name in enumerate(source.header)}
    types = ", ".join(f"'c{index}': 'VARCHAR'" for index in range(width + 1))
    options = [f"delim={literal(source.delimiter)}", "header=true", "auto_detect=false", f"columns={{{types}}}",
               "strict_mode=true", "null_padding=true", f"nullstr={literal(_NO_NULL)}", f"quote={literal(quote)}",
               f"escape={literal(quote)}", *(["parallel=false"] if quote else [])]
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
        errors = []
        for quote in ("", '"'):
            relation = _relation(source, path, quote, used, numeric)
            sql, found = bulk.select(source, relation, _TEXT, refuse="__fields_wrong")
            try:
                result = run(sql)
            except duckdb.Error as error:
                errors.append(_error(cursor.cursor(), source, path, relation, found, error, starts, quote))
                continue
            if quote:
                _check_spans(source, path, starts)
            if on_read and starts is None:
                on_read(source.size)  # DuckDB read the file itself: the bar fills at the end
            return result, []
    first, second = errors
    # Field-enclosing quotes got past the first reading's error: the second reading's error is the real one.
    raise second if getattr(second, "line", 0) > getattr(first, "line", 0) else first


def _check_spans(source: Source, path, starts) -> None:
    """The quote rule: no quoted field swallows a line that is a whole record on its own, none stays open."""
    width, inside, opened, swallowed = len(source.header), False, 0, None
    with open(path, encoding="utf-8-sig", newline="") as lines:
        next(lines, None)
        for number, line in enumerate(lines, start=2):
            if inside and line.count(source.delimiter) + 1 == width:
                swallowed = swallowed or number
            if line.count('"') % 2:
                if inside and swallowed:
                    raise _at(opened, f"{where_is_line(source, opened, starts)}: a quote opens a field that closes "
                                      f"only at line {number}, swallowing line {swallowed}, a whole record of {width} "
                                      f"fields; no row is skipped or merged, so the file is refused")
                inside, opened, swallowed = not inside, number, None
    if inside:
        raise _at(opened, f"{where_is_line(source, opened, starts)}: unterminated quote: a quote opens a field that "
                          f"never closes; no row is skipped or merged, so the file is refused")


def _error(cursor, source: Source, path, relation: str, found, error, starts, quote: str) -> CRSFormatError:
    message = str(error)
    line = _LINE.search(message)
    where = where_is_line(source, int(line.group(1)), starts) if line else source.describe()
    reading = " (read with field-enclosing quotes)" if quote else ""
    if bulk.BAD + "__row:" in message:
        row = cursor.execute(f"SELECT __row FROM (SELECT row_number() OVER () AS __row, __fields_wrong FROM "
                             f"{relation}) WHERE __fields_wrong ORDER BY __row LIMIT 1").fetchone()
        if row is None:  # DuckDB reads an open quote differently when fewer columns are asked for
            _check_spans(source, path, starts)
            return _at(0, f"{source.describe()}: a line has a different number of fields than the header "
                          f"({len(source.header)}){reading}; no row is skipped, so the file is refused")
        number = _line_of_row(source, path, row[0], quote)
        return _at(number, f"{where_is_line(source, number, starts)}: {_fields_on(path, number, source, quote)} "
                           f"{_FIELDS} {len(source.header)}{reading}; an unescaped {source.delimiter!r} in a text? "
                           f"No row is skipped, so the file is refused")
    if bulk.BAD in message:
        row, problem = bulk.locate_bad(cursor, relation, found, message, _TEXT)
        number = _line_of_row(source, path, row, quote)
        return _at(number, f"{where_is_line(source, number, starts)}: {problem}{reading}")
    if "Invalid unicode" in message or "not utf-8" in message.lower():
        return encoding_error(source, int(line.group(1)) if line else 0)
    reason = next((part.strip() for part in message.split("\n") if any(mark in part for mark in _SHAPE)), "")
    if reason:
        return _at(int(line.group(1)) if line else 0, f"{where}: {reason} (the header has {len(source.header)})"
                   f"{reading}; no row is skipped, so the file is refused")
    return CRSFormatError(f"{where}: cannot read as CRS text: {message.splitlines()[0]}")


def _at(line: int, message: str) -> CRSFormatError:
    error = CRSFormatError(message)
    error.line = line
    return error


def _fields_on(path, number: int, source: Source, quote: str) -> str:
    """"N fields" on line ``number`` of ``path`` (as the reading counts them)."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        for index, line in enumerate(handle, start=1):
            if index == number:
                fields = next(csv.reader([line], delimiter=source.delimiter,
                                         quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE), [])
                return f"{len(fields)} fields"
    return "a different number of fields"  # pragma: no cover


def _line_of_row(source: Source, path, row: int, quote: str) -> int:
    """The line (header = 1) where data row ``row`` (1-based) starts, quoted line breaks counted."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=source.delimiter, quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE)
        start, number = 1, -1
        for fields in reader:
            number += bool(fields)  # DuckDB skips empty lines
            if number == row:
                return start
            start = reader.line_num + 1
    return start


LAYOUT = Layout("bulk_text", bulk.matches, read,
                answers_first=lambda source: source.duckdb_reads_directly and not bulk.columns(source)[1])
