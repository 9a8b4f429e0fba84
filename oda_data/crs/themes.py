"""The White Paper's security themes in CRS terms (``oda_data/data/crs_theme_rules.yaml``, whose header says
how a row gets its theme), as one SQL expression (:func:`theme_sql`): it tags the cache while a source is
converted and the frames given to :func:`tag_themes`, so both always agree."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

import duckdb
import pandas as pd
import pyarrow as pa
import yaml

from ..themes import THEMES
from .schema import TEXT_COLUMNS
from .sql import connect, literal

RULES_FILE = "crs_theme_rules.yaml"
PURPOSE_KINDS = ("specific", "broad")
# Case-insensitive, with letter/digit boundaries on both sides of the keyword.
_KEYWORD_PREFIX = r"(?i)(?:^|[^\pL\pN])(?P<kw>"
_KEYWORD_SUFFIX = r")(?:$|[^\pL\pN])"


@dataclass(frozen=True)
class KeywordRule:
    theme: str
    keywords: tuple[str, ...]
    anywhere: bool

    @property
    def alternatives(self) -> str:
        """The keywords as one RE2 alternation: longest first (RE2 takes the first alternative that matches, and
        "cyber security" says more than "cyber"); a space means "some spaces" (descriptions wrap lines)."""
        return "|".join(keyword.replace(" ?", r"\s*").replace(" ", r"\s+")
                        for keyword in sorted(self.keywords, key=len, reverse=True))

    @property
    def pattern(self) -> str:
        return _KEYWORD_PREFIX + self.alternatives + _KEYWORD_SUFFIX


@dataclass(frozen=True)
class ThemeRules:
    version: int
    specific: dict[int, str]  # purpose code -> theme
    broad: frozenset[int]
    keyword_rules: tuple[KeywordRule, ...]

    @property
    def security_codes(self) -> frozenset[int]:
        return frozenset(self.specific) | self.broad

    @property
    def union_pattern(self) -> str:
        """One pattern matching exactly where some rule's does (each is the same prefix and suffix around its own
        alternation)."""
        inner = "|".join(rule.alternatives for rule in self.keyword_rules)
        return _KEYWORD_PREFIX + inner + _KEYWORD_SUFFIX


def _rules_error(problem: str) -> ValueError:
    return ValueError(f"oda_data/data/{RULES_FILE}: {problem}")


@lru_cache(maxsize=None)
def load_rules() -> ThemeRules:
    """Read and validate ``crs_theme_rules.yaml`` (safe_load)."""
    raw = yaml.safe_load(files("oda_data").joinpath("data", RULES_FILE).read_text(encoding="utf-8"))
    specific: dict[int, str] = {}
    broad: set[int] = set()
    for code, entry in (raw.get("purpose_codes") or {}).items():
        kind = entry.get("kind")
        if kind not in PURPOSE_KINDS:
            raise _rules_error(f"purpose code {code}: kind {kind!r}; expected one of {PURPOSE_KINDS}")
        if kind == "specific":
            theme = entry.get("theme")
            if theme not in THEMES:
                raise _rules_error(f"purpose code {code}: theme {theme!r}; expected one of: {', '.join(THEMES)}")
            specific[int(code)] = theme
        else:
            broad.add(int(code))
    rules, checker = [], connect()
    for position, entry in enumerate(raw.get("keyword_rules") or [], start=1):
        if entry.get("theme") not in THEMES:
            raise _rules_error(f"keyword rule {position}: theme {entry.get('theme')!r}; "
                               f"expected one of: {', '.join(THEMES)}")
        rule = KeywordRule(entry["theme"], tuple(str(k) for k in entry["keywords"]), bool(entry.get("anywhere")))
        try:
            checker.execute("SELECT regexp_matches('x', ?)", [rule.pattern])
        except duckdb.Error as error:
            raise _rules_error(f"keyword rule {position} ({rule.theme}): bad pattern: {error}") from None
        rules.append(rule)
    return ThemeRules(int(raw["version"]), specific, frozenset(broad), tuple(rules))


#: Version of the shipped mapping (``version`` in the YAML file).
RULES_VERSION = load_rules().version


@lru_cache(maxsize=None)
def rules_fingerprint() -> str:
    """``<version>-<digest of the YAML file>``, part of the cache key: an edited rule invalidates cached themes."""
    digest = hashlib.sha256(files("oda_data").joinpath("data", RULES_FILE).read_bytes()).hexdigest()
    return f"{RULES_VERSION}-{digest[:12]}"


def _codes(codes) -> str:
    return ", ".join(str(int(code)) for code in sorted(codes))


def theme_sql(purpose: str = "purpose_code", text: str = "__text", head: str = "__head", *,
              prefilter: bool = True) -> tuple[str, str, str]:
    """SQL ``(__hit, theme, theme_rule)``: ``__hit`` numbers the rule that tags the row (keyword rules in order,
    then the specific purpose codes) or is NULL; ``theme`` and ``theme_rule`` read it from a column ``__hit``.
    ``prefilter`` first tests :attr:`ThemeRules.union_pattern`, so that few rows reach the ordered ``CASE``."""
    rules = load_rules()
    security = f"{purpose} IN ({_codes(rules.security_codes)})"
    specific = f"{purpose} IN ({_codes(rules.specific)})" if rules.specific else "FALSE"
    branches = []
    for number, rule in enumerate(rules.keyword_rules, start=1):
        condition = f"coalesce({security}, FALSE) AND regexp_matches({text}, {literal(rule.pattern)})"
        if rule.anywhere:  # off the security codes, only what the activity is named counts
            condition = f"({condition}) OR regexp_matches({head}, {literal(rule.pattern)})"
        branches.append((condition, number))
    for number, (code, _) in enumerate(sorted(rules.specific.items()), start=len(rules.keyword_rules) + 1):
        branches.append((f"{purpose} = {code}", number))
    ordered = " ".join(f"WHEN {condition} THEN {number}" for condition, number in branches)
    if prefilter:
        # One pass of one regular expression decides most rows (measured: splitting it by rule kind is no
        # faster, RE2's cost is per byte, not per keyword).
        hit = (f"CASE WHEN NOT (coalesce({specific}, FALSE) OR regexp_matches({text}, "
               f"{literal(rules.union_pattern)})) THEN NULL {ordered} END")
    else:
        hit = f"CASE {ordered} END"
    themes = [rule.theme for rule in rules.keyword_rules] + [theme for _, theme in sorted(rules.specific.items())]
    theme = "CASE __hit " + " ".join(f"WHEN {n} THEN {literal(t)}" for n, t in enumerate(themes, 1)) + " END"
    suffix = f"coalesce('+purpose:' || CAST({purpose} AS VARCHAR), '')"
    matched = " ".join(f"WHEN {number} THEN regexp_extract({text}, {literal(rule.pattern)}, 1)"
                       for number, rule in enumerate(rules.keyword_rules, start=1))
    rule_sql = (f"CASE WHEN __hit <= {len(rules.keyword_rules)} THEN 'keyword:' || "
                f"regexp_replace(lower(CASE __hit {matched} END), '\\s+', ' ', 'g') || {suffix} "
                f"WHEN __hit IS NOT NULL THEN 'purpose:' || CAST({purpose} AS VARCHAR) END")
    return hit, theme, rule_sql


def text_sql(columns) -> str:
    """The searched text of a row: its title and descriptions, NULLs as empty, joined by " \\n "."""
    parts = [f"coalesce(\"{column}\", '')" for column in columns] or ["''"]
    return " || ' \n ' || ".join(parts)


def tagged_sql(inner: str, columns: list[str], purpose: str = "purpose_code",
               texts=TEXT_COLUMNS, *, prefilter: bool = True) -> str:
    """``SELECT columns, theme, theme_rule`` over the query ``inner`` (which has ``purpose`` and ``texts``)."""
    hit, theme, rule = theme_sql(purpose, prefilter=prefilter)
    keep = ", ".join(f'"{name}"' for name in columns)
    return (f"SELECT {keep}{', ' if keep else ''}{theme} AS theme, {rule} AS theme_rule FROM ("
            f"SELECT *, {hit} AS __hit FROM (SELECT *, {text_sql(texts)} AS __text, "
            f"{text_sql([name for name in texts if name != 'long_description'])} AS __head FROM ({inner})))")


def _arrow(series: pd.Series, kind: pa.DataType) -> pa.Array:
    if len(series) == 0:
        return pa.array([], kind)
    try:
        return pa.array(series, from_pandas=True).cast(kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        values = series.astype("object").where(series.notna(), None)
        if pa.types.is_integer(kind):
            values = pd.to_numeric(values, errors="coerce").astype("Int64")
        return pa.array(values, kind, from_pandas=True)


def tag_themes(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of the CRS frame ``df`` with ``theme`` (an id of :data:`oda_data.THEMES` or NA) and ``theme_rule``
    (why: ``purpose:16063``, ``keyword:coast guard+purpose:21040``), the values the cache stores.

    Needs ``purpose_code`` (else ValueError); searches whichever text columns ``df`` has.
    """
    if "purpose_code" not in df.columns:
        raise ValueError("tag_themes needs a 'purpose_code' column (a canonical CRS frame from oda_data.read_crs); "
                         f"got columns: {', '.join(map(str, df.columns))}")
    texts = [name for name in TEXT_COLUMNS if name in df.columns]
    inputs = pa.table({"purpose_code": _arrow(df["purpose_code"], pa.int64()),
                       **{name: _arrow(df[name], pa.string()) for name in texts}})
    with connect() as connection:
        connection.register("tag_input", inputs)
        tagged = connection.sql(tagged_sql("SELECT * FROM tag_input", [], texts=texts)).to_arrow_table()
    result = df.copy()
    for name in ("theme", "theme_rule"):
        result[name] = pd.Series(pd.arrays.ArrowExtensionArray(tagged[name].cast(pa.string())), index=df.index)
    return result
