"""Tables of a notebook's outputs as CSV: HTML tables (pandas Styler, DataFrame) and Markdown pipe tables.

The site offers every table of a report as a CSV file of the values as shown
(formatted text, e.g. "$6 billion"). Only the standard library is used: a
small HTML parser that understands ``colspan``/``rowspan``, and a reader of
GitHub-style pipe tables.
"""
from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser

_TABLE_TAG = re.compile(r"<(/?)table\b[^>]*>", re.IGNORECASE)
_PIPE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_MARKDOWN_EMPHASIS = re.compile(r"(\*\*|__|`)")
_FENCE = re.compile(r"^\s*(```|~~~)")


def html_tables(html: str) -> list[tuple[int, list[list[str]]]]:
    """The top-level ``<table>`` elements of ``html``: (offset just after ``</table>``, rows).

    Nested tables are part of their outer table's cells. Tables without any
    cell are left out.
    """
    found = []
    depth, start = 0, 0
    for match in _TABLE_TAG.finditer(html):
        if not match.group(1):
            if depth == 0:
                start = match.start()
            depth += 1
        elif depth:
            depth -= 1
            if depth == 0:
                rows = _parse_table(html[start:match.end()])
                if rows:
                    found.append((match.end(), rows))
    return found


def markdown_tables(text: str) -> list[tuple[int, list[list[str]]]]:
    """Pipe tables of Markdown ``text``: (index of the line after the table, rows)."""
    lines = text.split("\n")
    found, index, fenced = [], 0, False
    while index < len(lines):
        if _FENCE.match(lines[index]):
            fenced = not fenced
        elif (not fenced and "|" in lines[index] and index + 1 < len(lines)
                and _PIPE_SEPARATOR.match(lines[index + 1]) and "|" in lines[index + 1]):
            rows = [_pipe_cells(lines[index])]
            end = index + 2
            while end < len(lines) and "|" in lines[end] and lines[end].strip():
                rows.append(_pipe_cells(lines[end]))
                end += 1
            found.append((end, rows))
            index = end
            continue
        index += 1
    return found


def to_csv(rows: list[list[str]]) -> str:
    """CSV text (RFC 4180 quoting, ``\\n`` line ends) of rows padded to one width."""
    width = max(len(row) for row in rows)
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    for row in rows:
        writer.writerow(row + [""] * (width - len(row)))
    return stream.getvalue()


def _pipe_cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    cells = re.split(r"(?<!\\)\|", line)
    return [_MARKDOWN_EMPHASIS.sub("", _MARKDOWN_ESCAPE.sub(r"\1", cell.strip())) for cell in cells]


def _parse_table(html: str) -> list[list[str]]:
    parser = _TableParser()
    parser.feed(html)
    parser.close()
    return parser.rows


class _TableParser(HTMLParser):
    """Rows of one table as text, spans expanded (a spanned value repeats in each cell)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._span = (1, 1)
        self._depth = 0
        self._skip = 0  # inside <style> or <script>
        self._carried: dict[int, tuple[str, int]] = {}  # column -> (text, rows left) from rowspan

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"):
            self._skip += 1
        elif tag == "table":
            self._depth += 1
        elif self._depth != 1:
            return
        elif tag == "tr":
            self._row = []
            self._fill_carried()
        elif tag in ("td", "th") and self._row is not None:
            values = dict(attrs)
            self._cell = []
            self._span = (_span(values.get("colspan")), _span(values.get("rowspan")))
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self._skip = max(0, self._skip - 1)
        elif tag == "table":
            self._depth -= 1
        elif self._depth != 1:
            return
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            text = " ".join("".join(self._cell).split())
            columns, rows = self._span
            for _ in range(columns):
                if rows > 1:
                    self._carried[len(self._row)] = (text, rows - 1)
                self._row.append(text)
                self._fill_carried()
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row:
                self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None and not self._skip:
            self._cell.append(data)

    def _fill_carried(self) -> None:
        """Put the values of cells spanning down from earlier rows into the current row."""
        while self._row is not None and len(self._row) in self._carried:
            text, left = self._carried.pop(len(self._row))
            if left > 1:
                self._carried[len(self._row)] = (text, left - 1)
            self._row.append(text)


def _span(value: str | None) -> int:
    try:
        return max(1, min(int(value or 1), 1000))
    except ValueError:
        return 1
