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
import pyarrow as pa

from ..errors import CRSFormatError
from ..opening import Layout, Source, encoding_error, literal_path, transcode, where_is_line
from ..schema import CANONICAL_TYPES
from ..sql import identifier, literal
from . import bulk

_LINE = re.compile(r"CSV Error on Line: (\d+)")
_CONVERT = re.compile(r'Error when converting column "(.*?)"\. Could not convert string "(.*?)" to')
_SHAPE = ("Expected Number of Columns", "unterminated quote")


def _relation(source: Source, path, quote: str, numeric: set[str], used: list[str]) -> str:
    """DuckDB's CSV reader on ``path``, the ``used`` columns under their header names (the reader
    names them ``c0``, ``c1`` ...: a header may hold empty names, quotes or control characters)."""
    position = {name: index for index, name in enumerate(source.header)}
    types = ", ".join(f"'c{index}': {literal('DOUBLE' if name in numeric else 'VARCHAR')}"
                      for index, name in enumerate(source.header))
    options = [f"delim={literal(source.delimiter)}", "header=true", "auto_detect=false", f"columns={{{types}}}",
               "strict_mode=true", "null_padding=false", f"quote={literal(quote)}", f"escape={literal(quote)}"]
    renamed = ", ".join(f"c{position[name]} AS {identifier(name)}" for name in dict.fromkeys(used))
    return f"(SELECT {renamed} FROM read_csv({literal(path)}, {', '.join(options)}))"


def read(source: Source, cursor, run, *, scratch, on_read=None, options=None):
    """``run`` the checked ``SELECT`` of the file (see the module docstring); (result, notes)."""
    with contextlib.ExitStack() as stack:
        path, starts = stack.enter_context(literal_path(source.path)), None
        if not source.duckdb_reads_directly:
            path = scratch(".utf8.txt")
            starts = transcode(source, path, on_read)
        found, de_codes = bulk.columns(source)
        numeric = {column for canonical, column in found.items() if not pa.types.is_string(CANONICAL_TYPES[canonical])}
        used = [*found.values(), *de_codes.values()]
        errors = []
        for quote in ("", '"'):
            relation = _relation(source, path, quote, numeric, used)
            sql, found = bulk.select(source, relation, bulk.Numbers())
            try:
                result = run(sql)
            except duckdb.Error as error:
                errors.append(_error(cursor, source, path, relation, found, error, starts, quote))
                continue
            if quote:
                _check_spans(source, path, starts)
            if on_read and starts is None:
                on_read(source.size)  # DuckDB read the file itself: the bar fills at the end
            return result, []
    first, second = errors
    # A field-count error that field-enclosing quotes resolve, then a real error further on: say that one.
    shaped = [any(mark in str(error) for mark in _SHAPE) for error in errors]
    raise (second if shaped[0] and not shaped[1] else first)


def _check_spans(source: Source, path, starts) -> None:
    """The quote rule: no quoted field swallows a line that is a whole record on its own."""
    width, inside, opened, swallowed = len(source.header), False, 0, None
    with open(path, encoding="utf-8-sig", newline="") as lines:
        next(lines, None)
        for number, line in enumerate(lines, start=2):
            if inside and line.count(source.delimiter) + 1 == width:
                swallowed = swallowed or number
            if line.count('"') % 2:
                if inside and swallowed:
                    raise CRSFormatError(
                        f"{where_is_line(source, opened, starts)}: a quote opens a field that closes only at line "
                        f"{number}, swallowing line {swallowed}, a whole record of {width} fields; the file "
                        f"is refused so that no record is merged (quote the field, or remove the quote)")
                inside, opened, swallowed = not inside, number, None


def _error(cursor, source: Source, path, relation: str, found, error, starts, quote: str) -> CRSFormatError:
    message = str(error)
    line = _LINE.search(message)
    where = where_is_line(source, int(line.group(1)), starts) if line else source.describe()
    reading = " (read with field-enclosing quotes)" if quote else ""
    if bulk.BAD in message:
        row, column, value, expected = bulk.locate_bad(cursor, relation, found, message, bulk.Numbers())
        return CRSFormatError(f"{where_is_line(source, _line_of_row(source, path, row, quote), starts)}: "
                              f"column {column!r}: found {value!r}; expected {expected}")
    converting = _CONVERT.search(message)
    if converting:
        column = converting.group(1)
        column = source.header[int(column[1:])] if re.fullmatch(r"c\d+", column) else column
        return CRSFormatError(f"{where}: column {column!r} must be numeric; found {converting.group(2)!r}{reading}")
    if "Invalid unicode" in message or "not utf-8" in message.lower():
        return encoding_error(source, int(line.group(1)) if line else 0)
    reason = next((part.strip() for part in message.split("\n") if any(mark in part for mark in _SHAPE)), "")
    if reason:
        return CRSFormatError(f"{where}: {reason} (the header has {len(source.header)}){reading}; no row is "
                              f"skipped, so the file is refused")
    return CRSFormatError(f"{where}: cannot read as CRS text: {message.splitlines()[0]}")


def _line_of_row(source: Source, path, row: int, quote: str) -> int:
    """The line (header = 1) where data row ``row`` (1-based) starts, quoted line breaks counted."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=source.delimiter, quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE)
        start = 1
        for number, _ in enumerate(reader):
            if number == row:
                return start
            start = reader.line_num + 1
    return start


LAYOUT = Layout("bulk_text", bulk.matches, read,
                answers_first=lambda source: source.duckdb_reads_directly and not bulk.columns(source)[1])
