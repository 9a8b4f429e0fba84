"""The one place that turns numbers into words (money, counts, percent, periods) and frames into tables.

A figure never shows more precision than its source; a "$" is never TeX (:data:`DOLLAR`, ``&#36;`` in tables)."""
from __future__ import annotations

import hashlib
import html
import math
import re
import string
from decimal import ROUND_HALF_UP, Decimal
from numbers import Real
from typing import Callable, Iterable, Mapping

import pandas as pd
from pandas.io.formats.style import Styler

#: Currency symbols used in prose, charts and tables.
SYMBOLS = {"USD": "$", "JPY": "¥"}
#: CSS classes that MathJax 2 and MathJax 3 leave untypeset.
MATHJAX_IGNORE = "tex2jax_ignore mathjax_ignore"
#: How a "$" is written in Markdown: an entity in a span that MathJax 2 and 3 skip.
DOLLAR = f'<span class="{MATHJAX_IGNORE}">&#36;</span>'

_SCALES = ((Decimal("1e12"), "trillion"), (Decimal("1e9"), "billion"), (Decimal("1e6"), "million"))
#: Significant figures shown when the caller does not say (a computed figure).
_DEFAULT_SIG = 3
_SINGULAR = {"people": "person", "countries": "country", "activities": "activity", "staff": "staff"}


def _decimal(value, what: str) -> Decimal:
    """``value`` as a finite Decimal, or a ValueError naming ``what`` was expected."""
    if isinstance(value, bool) or not isinstance(value, (Real, Decimal)) or pd.isna(value):
        raise ValueError(f"fmt.{what}: expected a number, got {value!r}")
    if isinstance(value, float) and math.isinf(value):
        raise ValueError(f"fmt.{what}: expected a finite number, got {value!r}")
    # repr() gives the shortest decimal that round-trips: 15.1e6 -> "15100000.0".
    return Decimal(repr(float(value))) if not isinstance(value, (int, Decimal)) else Decimal(value)


def round_half_up(value: float, decimals: int = 0) -> float:
    """Round as people expect (1,326.5 -> 1,327), not to even as ``round`` does."""
    quantum = Decimal(1).scaleb(-decimals)
    return float(_decimal(value, "round_half_up").quantize(quantum, rounding=ROUND_HALF_UP))


def _round_sig(value: Decimal, sig: int) -> Decimal:
    if value == 0:
        return value
    exponent = value.adjusted() - sig + 1
    return value.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP)


def _plain(value: Decimal) -> str:
    """Decimal without exponent or trailing fractional zeros, thousands separated."""
    text = f"{value:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def significant_figures(amount) -> int:
    """Significant figures of a figure as stated; a whole number's trailing zeros are not (120e6 -> 2, 15.1e6 -> 3)."""
    value = abs(_decimal(amount, "significant_figures"))
    return 1 if value == 0 else len(value.normalize().as_tuple().digits)


def number(value, decimals: int | None = None) -> str:
    """A number with thousands separators: 1234.5 -> "1,234.5"; ``decimals`` fixes the places."""
    value_d = _decimal(value, "number")
    if decimals is not None:
        return f"{value_d.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP):,f}"
    return _plain(value_d)


def money(amount, currency: str = "USD", *, approximate: bool = False, sig: int | None = None) -> str:
    """An amount of ``currency`` in words; ``sig``: the source's significant figures, zeros kept ("¥0.50 billion"),
    one scale up rather than digits it has not ("¥0.7 trillion"); default up to three, a stated figure as stated."""
    if currency not in SYMBOLS:
        raise ValueError(f"fmt.money: unknown currency {currency!r}; expected one of: {', '.join(SYMBOLS)}")
    if sig is not None and (isinstance(sig, bool) or not isinstance(sig, int) or sig < 1):
        raise ValueError(f"fmt.money: sig must be a whole number of at least 1, got {sig!r}")
    value = _decimal(amount, "money")
    sign = "-" if value < 0 else ""
    rounded = _round_sig(abs(value), sig or _DEFAULT_SIG)
    # With ``sig`` the significant zeros stay: 4.95e8 at two figures is "0.50 billion", not "0.5".
    last_place = rounded.as_tuple().exponent if rounded else 0

    def shown(number: Decimal, size: Decimal = Decimal(1)) -> str:
        if sig is None:
            return _plain(number / size)
        places = max(0, size.adjusted() - last_place)
        return f"{(number / size).quantize(Decimal(1).scaleb(-places)):,f}"

    text = shown(rounded)
    for index, (size, word) in enumerate(_SCALES):
        if rounded >= size:
            if sig is not None and sig < 3 and rounded / size >= 100 and index > 0:
                size, word = _SCALES[index - 1]
            text = f"{shown(rounded, size)} {word}"
            break
    return ("approximately " if approximate else "") + f"{sign}{SYMBOLS[currency]}{text}"


def scale(largest) -> tuple[float, str]:
    """Divisor and word for an axis or a table column of money up to ``largest``: 6e9 -> (1e9, "billion")."""
    largest = abs(_decimal(largest, "scale"))
    for size, word in _SCALES:
        if largest >= size:
            return float(size), word
    return 1.0, ""


def count(n, noun: str | None = None, *, approximate: bool = False) -> str:
    """A whole number with thousands separators and its (plural) noun: "2,653 people", "1 person"."""
    value = int(round_half_up(float(_decimal(n, "count"))))
    text = f"{value:,}"
    if noun:
        if value == 1:
            noun = _SINGULAR.get(noun) or (noun[:-3] + "y" if noun.endswith("ies") else noun.removesuffix("s"))
        text += f" {noun}"
    return ("approximately " if approximate else "") + text


def percent(x, digits: int = 0) -> str:
    """A ratio as a percentage, rounded half up: 1.7778 -> "178%", 0.125 -> "13%"."""
    return f"{number(_decimal(x, 'percent') * 100, digits)}%"


def _year(value) -> int | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return int(value)


def period(start, end=None) -> str:
    """A period in words: "2016-2018", "2018" (one year), "since 2007" (no end), "" (none)."""
    start, end = _year(start), _year(end)
    if start is None:
        return "" if end is None else f"until {end}"
    if end is None:
        return f"since {start}"
    return f"{start}" if start == end else f"{start}-{end}"


def join(items: Iterable, conjunction: str = "and") -> str:
    """ "A, B and C"; "A and B"; "A"; "" for none."""
    items = [str(item) for item in items]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


# Backslash-escaped; parentheses are left alone on purpose: "\(" would open inline TeX.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~#])")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def escape(text) -> str:
    """Any text made safe for Markdown: ``\\ ` * _ [ ] | ~ #`` escaped, ``& < >`` as entities, ``$`` as
    :data:`DOLLAR`, a leading list marker as text and a line break as a space."""
    text = "" if text is None else str(text)
    text = re.sub(r"\s*[\r\n]+\s*", " ", text)
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    text = "".join(_HTML.get(char, char) for char in text)
    text = text.replace("$", DOLLAR)
    text = re.sub(r"^([-+])", r"\\\1", text)
    return re.sub(r"^(\d+)([.)])", r"\1\\\2", text)


class _EscapingFormatter(string.Formatter):
    def format_field(self, value, format_spec):
        return escape(super().format_field(value, format_spec))


def markdown(template: str, /, *args, **fields) -> str:
    """Fill a trusted Markdown ``template`` (``str.format`` syntax) with escaped values."""
    return _EscapingFormatter().format(template, *args, **fields)


# --- tables ------------------------------------------------------------------------------

#: How every table reads, in JupyterLab and on the site: the Styler's own CSS (``#T_<id> ...``) travels
#: with the output and outranks JupyterLab's centred, right-aligned tables: at the left, text wrapping at 28em.
TABLE_STYLES = [{"selector": s, "props": p} for s, p in (
    ("", "margin: .5rem 0; border-collapse: collapse; table-layout: auto; width: auto;"),
    ("caption", "text-align: left; caption-side: top; font-weight: 600; padding: .2rem 0;"),
    ("th, td", "text-align: left; vertical-align: top; white-space: normal; max-width: 28em; overflow-wrap: break-word;"
               " padding: .25em .45em; font-variant-numeric: tabular-nums;"),
    ("thead th", "vertical-align: bottom; border-bottom: 2px solid #888;"), ("td", "border-bottom: 1px solid #ddd;"))]


def _html(text) -> str:
    """Cell text for HTML: entities for ``& < > "`` and ``$`` (no raw "$" for MathJax to pair)."""
    return html.escape(str(text)).replace("$", "&#36;")


def _default_format(series: pd.Series) -> Callable:
    if pd.api.types.is_bool_dtype(series):
        return lambda v: "yes" if v else "no"
    if pd.api.types.is_integer_dtype(series):
        return lambda v: f"{int(v):,}"
    if pd.api.types.is_float_dtype(series):
        return lambda v: number(v, 2) if float(v) % 1 else number(v, 0)
    return str


def _cell(formatter: str | Callable) -> Callable:
    return lambda value: _html(formatter.format(value) if isinstance(formatter, str) else formatter(value))


class Table(Styler):
    """A Styler with a stable plain text; its output also carries the frame as ``text/csv`` (every column,
    ``csv_only`` ones too, full precision; metadata ``{"text/csv": {"name": <caption slug>}}``) for the site's CSV."""

    plain_caption: str | None = None

    def __repr__(self) -> str:
        caption = f"{self.plain_caption}: " if self.plain_caption else ""
        shown = len(self.data.columns) - len(self.hidden_columns)
        return f"<table {caption}{len(self.data)} rows x {shown} columns>"

    def _repr_mimebundle_(self, include=None, exclude=None):
        name = re.sub(r"[^a-z0-9]+", "-", (self.plain_caption or "table").lower()).strip("-") or "table"
        return {"text/csv": self.data.to_csv(index=False)}, {"text/csv": {"name": name}}


def table(df: pd.DataFrame, formats: Mapping[str, str | Callable] | None = None, caption: str | None = None, *,
          csv_only: Iterable[str] = ()) -> Table:
    """``df`` as a deterministic, HTML-escaped :class:`Table`; ``formats``: column -> format string or function
    (others: thousands separators, at most two decimals); ``csv_only`` columns are in the CSV only."""
    formats, csv_only = dict(formats or {}), list(csv_only)
    for what, names in (("formats", formats), ("csv_only", csv_only)):
        unknown = [column for column in names if column not in df.columns]
        if unknown:
            raise ValueError(f"fmt.table: {what} name column(s) {unknown} not in the table; "
                             f"columns: {list(df.columns)}")
    content = df.to_csv(index=False) + "\n" + repr(sorted(map(str, formats))) + repr(csv_only) + "\n" + (caption or "")
    uuid = "oda_" + hashlib.sha256(content.encode()).hexdigest()[:10]
    styler = Table(df, uuid=uuid, cell_ids=False)
    styler.hide(axis="index")
    if csv_only:
        styler.hide(subset=csv_only, axis="columns")
    for position, column in enumerate(df.columns):
        formatter = formats.get(column) or _default_format(df[column])
        styler.format(_cell(formatter), subset=df.columns[[position]], na_rep="")
    styler.format_index(_html, axis=1)
    styler.set_table_attributes(f'class="{MATHJAX_IGNORE}"')
    styler.set_table_styles(TABLE_STYLES)
    if caption:
        styler.set_caption(_html(caption))
        styler.plain_caption = caption
    return styler
