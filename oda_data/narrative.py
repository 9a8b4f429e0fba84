"""Sentences from numbers: formatting, lists, ratios, and the notebooks' paragraphs.

Two layers:

* **Plain-text formatters** (no Markdown): :func:`format_money` ("$6.0 billion",
  "¥45 billion", "USD 120 million"), :func:`format_count` ("2,653 people"),
  :func:`format_percent`, :func:`share_of` ("178% of the pledge"),
  :func:`describe_change`, :func:`join_words` ("A, B and C"),
  :func:`format_period`, :func:`format_years`, :func:`record_period`,
  :func:`rank_phrase`. Charts use these directly.
* **Markdown builders** (:func:`overview_summary`, :func:`theme_summary`,
  :func:`region_summary`, :func:`pledge_summary`, tables ...) return Markdown
  for ``IPython.display.Markdown``. Every value they insert, numbers and data
  text alike, goes through :func:`escape_markdown` (via :func:`markdown`), so a
  description containing ``*``, ``_``, ``|`` or ``<script>`` shows as typed.

Dollar signs in Markdown
------------------------
Jupyter typesets the text between two ``$`` as TeX ("$6.0 billion and $120
million" would come out as italic maths). A backslash is no cure: JupyterLab
needs two (jupyterlab#8645) and nbconvert's HTML then shows them whenever
MathJax does not load (a report opened offline). :func:`escape_markdown`
therefore writes ``$`` as :data:`DOLLAR`, the entity ``&#36;`` inside a span
that MathJax 2 (``tex2jax_ignore``, nbconvert) and MathJax 3
(``mathjax_ignore``, JupyterLab) skip: a plain "$" everywhere, and no raw
``$`` left in the source for JupyterLab's maths pre-pass to pair up.
:func:`unescape_markdown` gives back the plain text.
"""
from __future__ import annotations

import math
import re
import string
from decimal import ROUND_HALF_UP, Decimal
from typing import Callable, Iterable, Mapping

import pandas as pd

from . import analysis
from .analysis import KIND_LABELS, PEOPLE_PLEDGED, PEOPLE_TRAINED, Profile
from .params import MoneyBasis
from .themes import THEMES

__all__ = [
    "CHAPTER",
    "DOLLAR",
    "describe_change",
    "entries_table",
    "escape_markdown",
    "figure_phrase",
    "format_count",
    "format_money",
    "format_percent",
    "format_period",
    "format_years",
    "achievements_arithmetic",
    "breakdown_table",
    "gaps_list",
    "heading",
    "initiatives_list",
    "join_words",
    "largest_table",
    "markdown",
    "markdown_table",
    "method_note",
    "money_by_kind_phrase",
    "money_summary",
    "number_word",
    "overview_summary",
    "people_summary",
    "pledge_arithmetic",
    "pledge_summary",
    "pledge_table",
    "record_period",
    "rank_phrase",
    "region_summary",
    "region_themes",
    "round_half_up",
    "share_of",
    "stated_money",
    "theme_summary",
    "timeline_summary",
    "unescape_markdown",
    "unmet_pledges",
]

#: How the notebooks cite the chapter.
CHAPTER = 'Japan\'s ODA White Paper 2018, chapter "(3) Assistance for Security and Stability"'

_SYMBOLS = {"USD": "$", "JPY": "¥"}
_SCALES = ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"))
_KIND_NOUNS = {
    "pledge": "pledges",
    "achievement": "reported achievements",
    "contribution": "contributions",
    "disbursement": "disbursements",
}
_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


# --- plain-text formatting -------------------------------------------------------------


def round_half_up(value: float, decimals: int = 0) -> float:
    """Round as people expect (1,326.5 -> 1,327), not to even as ``round`` does."""
    quantum = Decimal(1).scaleb(-decimals)
    return float(Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP))


def _scaled_number(value: float) -> str:
    """A scaled amount to about three significant figures.

    Below 10 one decimal is kept ("6.0", "4.5"); from 10 to 100 one decimal
    unless it is zero ("45", "15.1"); from 100 none ("468").
    """
    if value < 10:
        rounded = round_half_up(value, 1)
        if rounded < 10:
            return f"{rounded:.1f}"
    if value < 100:
        rounded = round_half_up(value, 1)
        if rounded < 100:
            return f"{rounded:.1f}".removesuffix(".0")
    return f"{round_half_up(value):,.0f}"


def format_money(
    value: float,
    currency: str = "USD",
    *,
    style: str = "symbol",
    approximate: bool = False,
) -> str:
    """Format an amount for a sentence or a chart label.

    Parameters
    ----------
    value : float
        Amount in whole units of ``currency``.
    currency : {"USD", "JPY"}
    style : {"symbol", "code"}
        ``"symbol"``: "$6.0 billion", "¥45 billion"; ``"code"``: "USD 120 million".
    approximate : bool
        Prefix "approximately " (the chapter's word).

    Returns
    -------
    str
        Amounts of a million or more in millions/billions/trillions to about
        three significant figures; smaller ones in full to three significant
        figures with thousands separators ("$442,000"). Plain text: escape it
        (:func:`escape_markdown`) before putting it in Markdown.

    Examples
    --------
    >>> format_money(6e9), format_money(45e9, "JPY"), format_money(120e6, style="code")
    ('$6.0 billion', '¥45 billion', 'USD 120 million')
    """
    if currency not in _SYMBOLS:
        raise ValueError(f"format_money: unknown currency {currency!r}; expected one of: USD, JPY")
    if style not in ("symbol", "code"):
        raise ValueError(f"format_money: style must be 'symbol' or 'code', got {style!r}")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise ValueError("format_money: no amount to format (got a missing value)")
    sign = "-" if value < 0 else ""
    value = abs(float(value))
    text = None
    for index, (scale, word) in enumerate(_SCALES):
        number = _scaled_number(value / scale)
        if float(number.replace(",", "")) >= 1:
            # 999.7 million rounds to "1,000": say "1.0 billion" instead.
            if float(number.replace(",", "")) >= 1000 and index > 0:
                scale, word = _SCALES[index - 1]
                number = _scaled_number(value / scale)
            text = f"{number} {word}"
            break
    if text is None:
        text = f"{_significant(value):,.0f}" if value >= 1 else f"{value:.2f}"
    prefix = f"{sign}{_SYMBOLS[currency]}" if style == "symbol" else f"{sign}{currency} "
    return ("approximately " if approximate else "") + prefix + text


def _significant(value: float, digits: int = 3) -> float:
    if value == 0:
        return 0.0
    return round_half_up(value, digits - 1 - int(math.floor(math.log10(abs(value)))))


def format_count(value, noun: str = "people", singular: str | None = None, *, approximate: bool = False) -> str:
    """A whole number with thousands separators and its noun: "2,653 people".

    A fraction is rounded half up (1,326.5 people a year -> "1,327 people").
    ``singular`` is used for exactly one ("1 person" for "people").

    Examples
    --------
    >>> format_count(2653), format_count(1, "countries", "country"), format_count(2e4, approximate=True)
    ('2,653 people', '1 country', 'approximately 20,000 people')
    """
    count = int(round_half_up(float(value)))
    if count == 1:
        noun = singular or {"people": "person"}.get(noun, noun)
    return ("approximately " if approximate else "") + f"{count:,} {noun}".rstrip()


def format_percent(ratio: float, decimals: int = 0) -> str:
    """A ratio as a percentage: 1.7778 -> "178%"."""
    return f"{round_half_up(ratio * 100, decimals):,.{decimals}f}%"


def share_of(part: float, whole: float, what: str = "the pledge") -> str:
    """ "178% of the pledge": ``part / whole`` as a percentage of ``what``."""
    if not whole:
        raise ValueError("share_of: the whole is zero or missing")
    return f"{format_percent(part / whole)} of {what}"


def describe_change(before: float, after: float, *, more: str = "more", less: str = "less") -> str:
    """How ``after`` compares with ``before``: "78% more", "12% less", "the same".

    Examples
    --------
    >>> describe_change(45, 80), describe_change(80, 45)
    ('78% more', '44% less')
    """
    if not before:
        raise ValueError("describe_change: the starting value is zero or missing")
    change = after / before - 1
    if round_half_up(abs(change) * 100) == 0:
        return "the same"
    return f"{format_percent(abs(change))} {more if change > 0 else less}"


def join_words(items: Iterable, conjunction: str = "and", separator: str = ", ") -> str:
    """ "A, B and C" (no serial comma); "A and B"; "A"; "" for none.

    With ``separator="; "`` (items that hold commas themselves): "A; B; and C".
    """
    items = [str(item) for item in items]
    if len(items) <= 1:
        return "".join(items)
    last = f" {conjunction} " if separator == ", " else f"{separator}{conjunction} "
    return f"{separator.join(items[:-1])}{last}{items[-1]}"


def number_word(n: int) -> str:
    """ "three" for 3 (zero to ten in words, as in running text), else digits."""
    return _WORDS[n] if 0 <= n < len(_WORDS) else f"{n:,}"


def format_period(start, end=None, open_ended: bool = False) -> str:
    """ "2016–2018", "2018", or "since 2009" for an open period."""
    if open_ended:
        return f"since {int(start)}"
    if end is None or pd.isna(end) or int(end) == int(start):
        return f"{int(start)}"
    return f"{int(start)}–{int(end)}"


def format_years(years: Iterable, none: str = "no year") -> str:
    """The span of some years: "2016–2018", "2018", or ``none`` when there are none."""
    years = sorted(int(year) for year in years)
    return format_period(years[0], years[-1]) if years else none


def record_period(row, undated: str = "") -> str:
    """When a White Paper record (or an :func:`analysis.entries` row) happens, in words.

    "2016–2018" for its period, "since 2009" for a period without an end, else
    its year; ``undated`` when it has neither (a total "to date").
    """
    start, end = row["period_start"], row["period_end"]
    if not _missing(start):
        return format_period(start, end, open_ended=_missing(end))
    return undated if _missing(row["year"]) else format_period(row["year"])


def rank_phrase(values: pd.Series, formatter: Callable[[float], str], limit: int | None = None) -> str:
    """Name items largest first with their values: "A ($6.5 billion), B ($488 million) and C".

    Ties keep the series order (stable), zeros and missing values are left out.
    """
    values = values.loc[values.fillna(0) > 0].sort_values(ascending=False, kind="stable")
    if limit is not None:
        values = values.head(limit)
    return join_words(f"{name} ({formatter(value)})" for name, value in values.items())


# --- Markdown ----------------------------------------------------------------------------

# Characters with a meaning in Markdown or in Jupyter's TeX, escaped with a backslash.
# Parentheses are left alone on purpose: "\(" would open inline TeX.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~#])")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
#: How a "$" is written in Markdown (see the module docstring).
DOLLAR = '<span class="tex2jax_ignore mathjax_ignore">&#36;</span>'


def escape_markdown(text) -> str:
    """Make any text safe to put in Markdown (and the HTML Jupyter renders from it).

    Backslash-escapes ``\\ ` * _ [ ] | ~ #``, writes ``& < >`` as HTML
    entities (so ``<script>`` shows as text), ``$`` as :data:`DOLLAR` (not TeX,
    see the module docstring), a list or heading marker at the start as text, and
    a line break as a space (a value never breaks a paragraph or table row).

    Examples
    --------
    >>> escape_markdown("a*b_c | <b>")
    'a\\\\*b\\\\_c \\\\| &lt;b&gt;'
    """
    text = "" if text is None else str(text)
    text = re.sub(r"\s*[\r\n]+\s*", " ", text)
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    text = "".join(_HTML.get(char, char) for char in text)
    text = text.replace("$", DOLLAR)
    # A leading "-", "+" or "1." would start a list (">" is already an entity).
    text = re.sub(r"^([-+])", r"\\\1", text)
    return re.sub(r"^(\d+)([.)])", r"\1\\\2", text)


def unescape_markdown(text: str) -> str:
    """Undo :func:`escape_markdown` (and read a notebook's Markdown as plain text).

    Examples
    --------
    >>> unescape_markdown(escape_markdown("$6.0 billion for <A & B> *x*"))
    '$6.0 billion for <A & B> *x*'
    """
    text = text.replace(DOLLAR, "$")
    text = re.sub(r"\\([\\`*_\[\]|~#\-+.)])", r"\1", text)
    for char, entity in _HTML.items():
        if char != "&":
            text = text.replace(entity, char)
    return text.replace("&amp;", "&")


class _EscapingFormatter(string.Formatter):
    def format_field(self, value, format_spec):
        return escape_markdown(super().format_field(value, format_spec))


def markdown(template: str, /, *args, **fields) -> str:
    """Fill a Markdown ``template`` (trusted, ``str.format`` syntax) with escaped values.

    Examples
    --------
    >>> markdown("**{name}** pledged {amount}", name="A_B", amount="$6.0 billion")
    '**A\\\\_B** pledged <span class="tex2jax_ignore mathjax_ignore">&#36;</span>6.0 billion'
    """
    return _EscapingFormatter().format(template, *args, **fields)


def heading(text: str, level: int = 2) -> str:
    """A Markdown heading of escaped ``text``: ``heading("Asia")`` -> ``"## Asia"``."""
    return "#" * level + " " + escape_markdown(text)


def markdown_table(frame: pd.DataFrame, align: Mapping[str, str] | None = None) -> str:
    """A GitHub-flavoured Markdown table of ``frame`` (index ignored), every cell escaped.

    Parameters
    ----------
    align : mapping, optional
        Column -> ``"left"`` or ``"right"``; numbers' columns default right.
    """
    align = dict(align or {})
    header = "| " + " | ".join(escape_markdown(c) for c in frame.columns) + " |"
    marks = []
    for column in frame.columns:
        side = align.get(column, "right" if pd.api.types.is_numeric_dtype(frame[column]) else "left")
        marks.append("---:" if side == "right" else ":---")
    lines = [header, "| " + " | ".join(marks) + " |"]
    for row in frame.itertuples(index=False):
        cells = ["" if _missing(v) else escape_markdown(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _missing(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


# --- figures of the chapter --------------------------------------------------------------


def stated_money(
    amount,
    currency,
    approximate: bool,
    money: float | None = None,
    basis: MoneyBasis | None = None,
    restated: str | None = None,
) -> str:
    """An amount as the chapter states it and, if different, in ``basis``.

    "approximately ¥45 billion ($407 million at current prices)"; just
    "¥45 billion" when ``basis`` is the stated currency in current prices (or
    is not given). ``restated``: the chapter's own second figure, e.g.
    "$120 million (stated also as approximately ¥14 billion)". Plain text.
    """
    stated = format_money(amount, currency, approximate=approximate)
    notes = [f"stated also as {restated}"] if restated else []
    if basis is not None and not (currency == basis.currency and basis.prices == "current"):
        notes.append(f"{format_money(money, basis.currency)} at {basis.prices_phrase}")
    return f"{stated} ({'; '.join(notes)})" if notes else stated


def _restated(row) -> str | None:
    """The restatement of a row of :func:`analysis.entries` or ``pledge_packages``, in words."""
    amount = row.get("restated_amount")
    if _missing(amount):
        return None
    return format_money(amount, row["restated_currency"], approximate=True)


def _people_noun(description: str) -> str:
    return "graduates" if "graduate" in str(description).lower() else "people"


def _people_phrase(entry) -> str:
    """ "2,653 people", "65 graduates from 39 countries" (plain text)."""
    people = format_count(entry["people"], _people_noun(entry["description"]), approximate=entry["people_approximate"])
    if not _missing(entry["countries"]):
        people += f" from {format_count(entry['countries'], 'countries', 'country')}"
    return people


def figure_phrase(entry, basis: MoneyBasis | None = None) -> str:
    """The figures of one :func:`analysis.entries` row in words (plain text).

    "approximately $6.0 billion and approximately 20,000 people",
    "65 graduates from 39 countries", "22 countries".
    """
    parts = []
    if not _missing(entry["amount"]):
        parts.append(
            stated_money(
                entry["amount"], entry["currency"], entry["amount_approximate"], entry["money"], basis,
                restated=_restated(entry),
            )
        )
    if not _missing(entry["people"]):
        parts.append(_people_phrase(entry))
    elif not _missing(entry["countries"]):
        parts.append(format_count(entry["countries"], "countries", "country"))
    return join_words(parts)


def entries_table(frame: pd.DataFrame, basis: MoneyBasis, columns=("what", "figures", "kind", "region")) -> str:
    """Markdown table of :func:`analysis.entries` rows: what, figures (as stated), kind, region/theme.

    ``columns`` picks from "what", "figures", "money" (in ``basis``), "kind",
    "region", "theme" and "period". An empty frame gives a sentence instead.
    """
    if frame.empty:
        return "The chapter gives no figure here."
    cells = {
        "what": ("What", frame["title"]),
        "figures": ("Figures (as stated)", frame.apply(figure_phrase, axis=1)),
        "money": (
            f"Money ({basis.label})",
            frame["money"].map(lambda v: "" if _missing(v) else format_money(v, basis.currency)),
        ),
        "kind": ("Kind", frame["kind"].map(KIND_LABELS)),
        "region": ("Region", frame["region"]),
        "theme": ("Theme", frame["theme"].map(THEMES)),
        "period": ("When", frame.apply(record_period, axis=1)),
    }
    table = pd.DataFrame({cells[c][0]: cells[c][1].to_numpy() for c in columns})
    return markdown_table(table, align={cells["money"][0]: "right"})


def overview_summary(wp: pd.DataFrame, basis: MoneyBasis) -> str:
    """The opening paragraphs of the overview: records, themes, money by kind, people.

    Returns
    -------
    str
        Markdown.
    """
    records = analysis.without_restatements(wp)
    restated = len(wp) - len(records)
    has_figure = records[["amount", "people", "countries"]].notna().any(axis=1)
    money_table = analysis.money_by(wp, "theme", basis)
    money_themes = list(money_table.index)
    quiet = [label for label in THEMES.values() if label not in money_themes]
    kinds = money_by_kind_phrase(money_table.sum(), basis)
    restated_note = (
        f"; {number_word(restated)} more restate{'s' if restated == 1 else ''} an amount in a second "
        f"currency and {'is' if restated == 1 else 'are'} not counted twice"
        if restated
        else ""
    )
    first = markdown(
        "{chapter} holds {n} records{restated_note}. They cover {themes} themes and {regions} regions. "
        "{figured} of them carry a figure (an amount, a number of people or of countries); the other "
        "{plain} describe what Japan does without one.",
        chapter="The chapter " + CHAPTER.split(", chapter ")[1],
        n=f"{len(records):,}",
        restated_note=restated_note,
        themes=number_word(records["theme"].nunique()),
        regions=number_word(records["region"].nunique()),
        figured=f"{int(has_figure.sum()):,}",
        plain=f"{int((~has_figure).sum()):,}",
    )
    second = markdown(
        "In {label}, it states {kinds}. These kinds are not added together: an achievement is "
        "money delivered against a pledge. Amounts appear under {n_money} of the {n_themes} themes "
        "({money_themes}); {quiet} are described without amounts.",
        label=basis.label,
        kinds=kinds,
        n_money=number_word(len(money_themes)),
        n_themes=number_word(len(THEMES)),
        money_themes=join_words(money_themes),
        quiet=join_words(quiet),
    )
    pledged_people = records.loc[(records["kind"] == "pledge") & records["people"].notna()]
    people = people_summary(analysis.people_by_theme(wp), approximate=bool(pledged_people["approximate"].any()))
    return first + "\n\n" + second + "\n\n" + people


def money_summary(table: pd.DataFrame, basis: MoneyBasis) -> str:
    """One sentence per kind of money in a :func:`analysis.money_by` table: who has the most.

    Returns Markdown; an empty table gives a sentence saying no amount is stated.
    """
    if table.empty:
        return "The chapter states no amount here."
    by = table.index.name.lower() if table.index.name else "row"
    sentences = []
    for column in table.columns:
        values = table[column]
        present = values.loc[values > 0]
        if present.empty:
            continue
        total = format_money(present.sum(), basis.currency)
        if len(present) == 1:
            name = present.index[0]
            where = "global" if name == "Global" else f"{'under' if by == 'theme' else 'in'} {name}"
            sentences.append(markdown("{kind}: {total}, all of it {where}.", kind=column, total=total, where=where))
        else:
            sentences.append(
                markdown(
                    "{kind}: {total} in all, by {by}: {ranking}.",
                    kind=column,
                    total=total,
                    by=by,
                    ranking=rank_phrase(present, lambda v: format_money(v, basis.currency)),
                )
            )
    return markdown("Money in {label}. ", label=basis.label) + " ".join(sentences)


def people_summary(table: pd.DataFrame, approximate: bool = False) -> str:
    """Sentences about :func:`analysis.people_by_theme`: people pledged and trained (Markdown).

    ``approximate``: some pledged numbers are approximate ("approximately 20,000").
    """
    sentences = []
    for column, verb in ((PEOPLE_PLEDGED, "pledges training for"), (PEOPLE_TRAINED, "reports")):
        values = table[column].loc[lambda v: v > 0].sort_values(ascending=False, kind="stable")
        if values.empty:
            continue
        total = format_count(values.sum(), approximate=approximate and column == PEOPLE_PLEDGED)
        if column == PEOPLE_TRAINED:
            total += " trained"
        where = (
            f"all under {values.index[0]}"
            if len(values) == 1
            else join_words(f"{value:,} under {name}" for name, value in values.items())
        )
        joiner = ", " if len(values) == 1 else ": "
        sentences.append(markdown("The chapter {verb} {total}{joiner}{where}.", verb=verb, total=total, joiner=joiner, where=where))
    return " ".join(sentences) or "The chapter gives no number of people trained."


def largest_table(frame: pd.DataFrame, basis: MoneyBasis) -> str:
    """Markdown table of :func:`analysis.largest_amounts`, ranked."""
    table = pd.DataFrame(
        {
            "#": range(1, len(frame) + 1),
            "What": frame["title"],
            "Theme": frame["theme"].map(THEMES),
            "Kind": frame["kind"].map(KIND_LABELS),
            "As stated": frame.apply(lambda r: format_money(r["amount"], r["currency"], approximate=r["amount_approximate"]), axis=1),
            basis.label: frame["money"].map(lambda v: format_money(v, basis.currency)),
        }
    )
    return markdown_table(table, align={"#": "right", basis.label: "right"})


def timeline_summary(frame: pd.DataFrame) -> str:
    """A sentence on :func:`analysis.timeline`: span of the dated figures and the pledge period."""
    if frame.empty:
        return "None of these records is dated."
    first = frame.iloc[0]
    sentence = markdown(
        "The dated figures run from {start} ({title}) to {end}.",
        start=int(frame["start"].min()),
        title=first["title"],
        end=int(frame["end"].max()),
    )
    pledges = frame.loc[frame["kind"] == "pledge"]
    if len(pledges):
        periods = sorted({format_period(s, e) for s, e in zip(pledges["start"], pledges["end"])})
        sentence += markdown(
            " {n} cover{s} {periods}",
            n=f"{number_word(len(pledges)).capitalize()} pledge{'s' if len(pledges) > 1 else ''}",
            s="" if len(pledges) > 1 else "s",
            periods=join_words(periods),
        )
        achieved = frame.loc[frame["kind"] == "achievement"]
        if len(achieved):
            sentence += markdown(
                "; the chapter reports what was achieved in {periods}.",
                periods=join_words(sorted({format_period(s, e) for s, e in zip(achieved["start"], achieved["end"])})),
            )
        else:
            sentence += "."
    return sentence


# --- theme and region profiles -----------------------------------------------------------


def _in_region(region: str) -> str:
    """ "in Asia", "in the Middle East", "at global level"."""
    if region == "Global":
        return "at global level"
    return f"in the {region}" if region == "Middle East" else f"in {region}"


def _counts_phrase(counts: pd.Series) -> str:
    return join_words(f"{count:,} {_in_region(name)}" for name, count in counts.items())


def money_by_kind_phrase(money: pd.Series, basis: MoneyBasis) -> str:
    """ "pledges of $6.5 billion, reported achievements of $724 million and ..." (plain text).

    ``money`` maps kinds (ids or :data:`KIND_LABELS`) to amounts in ``basis``;
    zero and missing kinds are left out, the others named in the order of
    :data:`analysis.MONEY_KINDS`.
    """
    by_label = {KIND_LABELS.get(k, k): v for k, v in money.items()}
    return join_words(
        f"{_KIND_NOUNS[kind]} of {format_money(by_label[KIND_LABELS[kind]], basis.currency)}"
        for kind in analysis.MONEY_KINDS
        if by_label.get(KIND_LABELS[kind], 0) > 0
    )


def _profile_figures(profile: Profile) -> str:
    """Money by kind and people pledged/trained, in sentences (Markdown)."""
    entries = profile.entries
    money = entries.loc[entries["money"].notna()].groupby("kind")["money"].sum()
    if money.empty:
        sentences = ["The chapter gives no amount of money for it."]
    else:
        sentences = [
            markdown(
                "In {label}, the chapter states {kinds} (each listed in the table below).",
                label=profile.basis.label,
                kinds=money_by_kind_phrase(money, profile.basis),
            )
        ]
    pledged = entries.loc[(entries["kind"] == "pledge") & entries["people"].notna()]
    if len(pledged):
        sentences.append(
            markdown(
                "It pledges training for {n}.",
                n=format_count(pledged["people"].sum(), approximate=bool(pledged["people_approximate"].any())),
            )
        )
    trained = entries.loc[entries["kind"].isin(["achievement", "output"]) & entries["people"].notna()]
    if len(trained) == 1:
        row = trained.iloc[0]
        sentences.append(markdown("It reports {figure} trained ({title}).", figure=_people_phrase(row), title=row["title"]))
    elif len(trained) > 1:
        sentences.append(
            markdown(
                "It reports {n} trained: {items}.",
                n=format_count(trained["people"].sum()),
                items=join_words(f"{_people_phrase(row)} ({row['title']})" for _, row in trained.iterrows()),
            )
        )
    return " ".join(sentences)


def _partners_and_countries(profile: Profile) -> str:
    text = ""
    if len(profile.partners):
        text += " " + markdown("Partners named: {names}.", names=_names_phrase(profile.partners))
    if len(profile.recipients):
        text += " " + markdown("Countries named: {names}.", names=join_words(profile.recipients.index))
    return text


def theme_summary(profile: Profile) -> str:
    """Opening paragraph of a theme profile: where, how much, with whom (Markdown)."""
    records = profile.records
    by_region = records["region"].value_counts().reindex([r for r in analysis.REGIONS if r in set(records["region"])])
    figured = int(records[["amount", "people", "countries"]].notna().any(axis=1).sum())
    if len(records) == 1:
        figures = "It carries a figure." if figured else "It carries no figure."
    else:
        figures = f"{figured:,} of them carr{'ies' if figured == 1 else 'y'} a figure." if figured else "None of them carries a figure."
    text = markdown(
        "**{label}** appears in {n} record{s} of the chapter: {where}. {figures}",
        label=profile.label,
        n=f"{len(records):,}",
        s="" if len(records) == 1 else "s",
        where=_counts_phrase(by_region),
        figures=figures,
    )
    if profile.absent:
        text += " " + markdown("It has no record {absent}.", absent=join_words([_in_region(r) for r in profile.absent], "or"))
    return text + " " + _profile_figures(profile) + _partners_and_countries(profile)


def _names_phrase(names: pd.Series, limit: int = 12) -> str:
    shown = [f"{name} ({count} records)" if count > 1 else name for name, count in names.head(limit).items()]
    if len(names) > limit:
        shown.append(f"{len(names) - limit} more")
    return join_words(shown)


def initiatives_list(profile: Profile) -> str:
    """Bullet list of the profile's named initiatives (no figure), with partner and region."""
    if profile.initiatives.empty:
        return "No initiative without a figure is described."
    lines = []
    for row in profile.initiatives.itertuples():
        where = [row.region if profile.subject == "theme" else THEMES[row.theme]]
        if isinstance(row.partner, str):
            where.append(row.partner)
        lines.append(markdown("- {description} ({where})", description=row.description, where="; ".join(where)))
    return "\n".join(lines)


def gaps_list(profile: Profile) -> str:
    """What the chapter does not quantify for the profile, grouped by reason (Markdown)."""
    gaps = profile.gaps
    if gaps.empty:
        return "Every record here carries a figure."
    lines = []
    for reason, group in gaps.groupby("gap", sort=False):
        if reason.startswith("no figure"):
            lines.append(
                markdown(
                    "- {n} named initiative{s} without a figure (listed above)",
                    n=f"{len(group):,}",
                    s="" if len(group) == 1 else "s",
                )
            )
            continue
        lines.append(
            markdown(
                "- {reason}: {items}",
                reason=reason[0].upper() + reason[1:],
                items="; ".join(group["description"]),
            )
        )
    return "\n".join(lines)


def region_summary(profile: Profile) -> str:
    """Opening paragraph of a region profile: which themes, how much, with whom (Markdown)."""
    breakdown = profile.breakdown
    label = "Global" if profile.key != "Global" else "Global (records not tied to one region)"
    text = markdown(
        "**{label}** appears in {n} record{s} across {k} of the {total} themes: {themes}.",
        label=profile.label if profile.key != "Global" else label,
        n=f"{len(profile.records):,}",
        s="" if len(profile.records) == 1 else "s",
        k=number_word(len(breakdown)),
        total=number_word(len(THEMES)),
        themes=join_words(f"{theme} ({count:,})" for theme, count in breakdown["records"].items()),
    )
    if profile.absent:
        text += " " + markdown("None concerns {absent}.", absent=join_words(profile.absent, "or"))
    return text + " " + _profile_figures(profile) + _partners_and_countries(profile)


def region_themes(profile: Profile) -> str:
    """One short section per theme active in the region: each record and its figures (Markdown)."""
    sections = []
    for theme in THEMES:
        records = profile.records.loc[profile.records["theme"] == theme]
        if records.empty:
            continue
        lines = [markdown("**{label}**", label=THEMES[theme]), ""]
        for row in records.itertuples():
            figures = profile.entries.loc[profile.entries["record_ids"].str.split("; ").map(lambda ids, r=row.record_id: r in ids)]
            suffix = ""
            if len(figures) and figures.iloc[0]["record_ids"].split("; ")[0] == row.record_id:
                suffix = f" — {figure_phrase(figures.iloc[0], profile.basis)}"
            elif len(figures):
                continue  # its figure is told with the first record of the same announcement
            lines.append(markdown("- {description}{suffix}", description=row.description, suffix=suffix))
        sections.append("\n".join(lines))
    return "\n\n".join(sections)


# --- pledges ---------------------------------------------------------------------------------


def _pledge_figures(row, side: str, basis: MoneyBasis) -> list[str]:
    parts = []
    if not _missing(row[f"{side}_money"]):
        approximate = bool(row.get(f"{side}_approximate", False)) if side == "pledged" else False
        restated = _restated(row) if side == "pledged" else None
        parts.append(
            stated_money(row[f"{side}_amount"], row[f"{side}_currency"], approximate, row[f"{side}_money"], basis, restated)
        )
    if not _missing(row[f"{side}_people"]):
        approximate = bool(row.get("pledged_people_approximate", False)) if side == "pledged" else False
        parts.append(format_count(row[f"{side}_people"], approximate=approximate))
    return parts


def pledge_summary(packages: pd.DataFrame, basis: MoneyBasis) -> str:
    """Opening paragraph of the pledge tracker: how many pledges, which report an achievement (Markdown)."""
    if packages.empty:
        return "The chapter records no pledge."
    achieved = packages.loc[packages["achieved"]]
    themes = sorted({THEMES[t] for t in packages["theme"]})
    periods = sorted({format_period(s, e) for s, e in zip(packages["pledged_start"], packages["pledged_end"])})
    all_or_not = "all " if len(packages) > 1 else ""
    text = markdown(
        "The chapter records {n} pledge{s}, {all}under {themes} and {all}for {periods}: {where}. ",
        n=number_word(len(packages)),
        s="" if len(packages) == 1 else "s",
        all=all_or_not if len(themes) == 1 else "",
        themes=join_words(themes),
        periods=join_words(periods),
        where=join_words(_in_region(r) for r in packages["region"]),
    )
    if achieved.empty:
        return text + "It reports no achievement against any of them."
    return text + markdown(
        "It reports what was achieved against {k} of them, {titles}; the other {rest} {have} no reported achievement.",
        k=number_word(len(achieved)),
        titles=join_words(achieved["title"]),
        rest=number_word(len(packages) - len(achieved)),
        have="has" if len(packages) - len(achieved) == 1 else "have",
    )


def pledge_arithmetic(row, basis: MoneyBasis) -> str:
    """The arithmetic of one pledge against its achievement, spelled out (Markdown).

    Ratios (achieved / pledged), amounts per year (pledged over its years,
    achieved over its own) and money per person, each with its division shown.
    """
    money = lambda v: format_money(v, basis.currency)  # noqa: E731
    years_p, years_a = int(row["pledged_years"]), int(row["achieved_years"])
    lines = [
        markdown(
            "**{title}.** Pledged {pledged} over {yp} year{sp} ({pp}); reported {achieved} in {ya} year{sa} ({pa}).",
            title=row["title"],
            pledged=join_words(_pledge_figures(row, "pledged", basis)),
            yp=number_word(years_p),
            sp="" if years_p == 1 else "s",
            pp=format_period(row["pledged_start"], row["pledged_end"]),
            achieved=join_words(_pledge_figures(row, "achieved", basis)),
            ya=number_word(years_a),
            sa="" if years_a == 1 else "s",
            pa=format_period(row["achieved_start"], row["achieved_end"]),
        ),
        "",
    ]
    if not _missing(row["money_ratio"]):
        lines.append(
            markdown(
                "- Money: {a} / {p} = **{ratio}**, {change} than pledged, in {ya} of the {yp} years.",
                a=money(row["achieved_money"]),
                p=money(row["pledged_money"]),
                ratio=share_of(row["achieved_money"], row["pledged_money"]),
                change=describe_change(row["pledged_money"], row["achieved_money"]),
                ya=number_word(years_a),
                yp=number_word(years_p),
            )
        )
    if not _missing(row["people_ratio"]):
        lines.append(
            markdown(
                "- People: {a} / {p} = **{ratio}**.",
                a=f"{int(row['achieved_people']):,}",
                p=f"{int(row['pledged_people']):,}",
                ratio=share_of(row["achieved_people"], row["pledged_people"]),
            )
        )
    if not _missing(row["money_pace_ratio"]):
        lines.append(
            markdown(
                "- Money per year: pledged {p} / {yp} = {py} a year; achieved {a} / {ya} = {ay} a year, "
                "{pace} of the pledged pace.",
                p=money(row["pledged_money"]),
                yp=years_p,
                py=money(row["pledged_money_per_year"]),
                a=money(row["achieved_money"]),
                ya=years_a,
                ay=money(row["achieved_money_per_year"]),
                pace=format_percent(row["money_pace_ratio"]),
            )
        )
    if not _missing(row["people_pace_ratio"]):
        lines.append(
            markdown(
                "- People per year: pledged {p} / {yp} = {py} a year; achieved {a} / {ya} = {ay} a year, "
                "{pace} of the pledged pace.",
                p=f"{int(row['pledged_people']):,}",
                yp=years_p,
                py=format_count(row["pledged_people_per_year"]),
                a=f"{int(row['achieved_people']):,}",
                ya=years_a,
                ay=format_count(row["achieved_people_per_year"]),
                pace=format_percent(row["people_pace_ratio"]),
            )
        )
    if not _missing(row["achieved_money_per_person"]):
        lines.append(
            markdown(
                "- Money per person: pledged {p} / {pp} = {pv} per person; achieved {a} / {ap} = {av} per "
                "person. The money pays for more than training, so this is money per person trained, "
                "not a cost of training.",
                p=money(row["pledged_money"]),
                pp=f"{int(row['pledged_people']):,}",
                pv=money(row["pledged_money_per_person"]),
                a=money(row["achieved_money"]),
                ap=f"{int(row['achieved_people']):,}",
                av=money(row["achieved_money_per_person"]),
            )
        )
    return "\n".join(lines)


def pledge_table(packages: pd.DataFrame, basis: MoneyBasis) -> str:
    """Markdown table: one row per pledged measure (money, people) with its achievement and ratio."""
    if packages.empty:
        return "The chapter records no pledge here."
    rows = []
    for _, row in packages.iterrows():
        for measure, pledged, achieved, ratio in (
            (f"Money ({basis.label})", "pledged_money", "achieved_money", "money_ratio"),
            ("People", "pledged_people", "achieved_people", "people_ratio"),
        ):
            if _missing(row[pledged]):
                continue
            show = (lambda v: format_money(v, basis.currency)) if measure != "People" else (lambda v: f"{int(v):,}")
            rows.append(
                {
                    "Pledge": row["title"],
                    "Measure": measure,
                    "Pledged": show(row[pledged]),
                    "Period": format_period(row["pledged_start"], row["pledged_end"]),
                    "Reported achieved": "not reported" if _missing(row[achieved]) else show(row[achieved]),
                    "Achieved in": "" if _missing(row[achieved]) else format_period(row["achieved_start"], row["achieved_end"]),
                    "Achieved / pledged": "" if _missing(row[ratio]) else format_percent(row[ratio]),
                }
            )
    return markdown_table(pd.DataFrame(rows), align={"Pledged": "right", "Reported achieved": "right", "Achieved / pledged": "right"})


def unmet_pledges(packages: pd.DataFrame, basis: MoneyBasis) -> str:
    """Bullet list of pledges without a reported achievement (Markdown)."""
    open_pledges = packages.loc[~packages["achieved"]]
    if open_pledges.empty:
        return "Every pledge has a reported achievement."
    lines = [
        markdown(
            "- {title}: {figures} over {period}. {description}. No achievement is reported in the chapter.",
            title=row["title"],
            figures=join_words(_pledge_figures(row, "pledged", basis)),
            period=format_period(row["pledged_start"], row["pledged_end"]),
            description=row["description"],
        )
        for _, row in open_pledges.iterrows()
    ]
    return "\n".join(lines)


def achievements_arithmetic(packages: pd.DataFrame, basis: MoneyBasis) -> str:
    """:func:`pledge_arithmetic` for every pledge with a reported achievement (Markdown)."""
    achieved = packages.loc[packages["achieved"]]
    if achieved.empty:
        return "No pledge has a reported achievement, so there is no arithmetic to show."
    return "\n\n".join(pledge_arithmetic(row, basis) for _, row in achieved.iterrows())


def breakdown_table(profile: Profile) -> str:
    """Markdown table of ``profile.breakdown``: records, figures, people trained, partners."""
    table = profile.breakdown.reset_index()
    table.columns = [profile.other.capitalize(), "Records", "With a figure", "People trained", "Partners named"]
    table["People trained"] = table["People trained"].map(lambda v: f"{v:,}" if v else "")
    return markdown_table(table, align={"People trained": "right"})


def method_note(basis: MoneyBasis) -> str:
    """How the notebooks value money, with the numbers of the shipped DAC table (Markdown)."""
    from .params import dac_years
    from .white_paper import REPORT_YEAR

    first, last = dac_years()
    return markdown(
        "**How money is shown.** Amounts are in {label}. The chapter states them in US dollars or "
        "in yen; each is converted with the OECD DAC exchange rates and deflators for Japan that "
        "ship with the package ({first}–{last}). An amount spread over a period uses the mean rate "
        "and deflator of its years; a cumulative amount without a year (a total \"to date\") is "
        "valued at {report_year}, the year the chapter reports on. An amount the chapter restates "
        "in a second currency is counted once.",
        label=basis.label,
        first=first,
        last=last,
        report_year=REPORT_YEAR,
    )
