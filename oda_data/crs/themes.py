"""The White Paper's security themes in CRS terms, and :func:`tag_themes`.

The mapping is data, not code: ``oda_data/data/crs_theme_rules.yaml``
(versioned; ``version`` is stamped into :data:`RULES_VERSION`). Summary:

===============================  =====================================================
theme                            how a CRS row gets it
===============================  =====================================================
``drug_trafficking``             purpose 16063 Narcotics control (alone); keywords
                                 narcotics, drug trafficking, illicit drugs, stupéfiants
``police_capacity``              purpose 15210 Security system management and reform
                                 (alone); keywords police, policing, law enforcement,
                                 gendarmerie with a security purpose code
``maritime_security``            keywords piracy, coast guard, patrol vessel, maritime
                                 security, garde-côtes, piraterie (any purpose code;
                                 typically 21040 Water transport)
``counter_terrorism``            keywords terrorism, counter-terrorism, violent
                                 extremism, terrorisme (any purpose code)
``cyberspace``                   keywords cyber, cybersecurity, cybercrime,
                                 cybersécurité (any purpose code; typically 22040 ICT)
``money_laundering``             keywords money laundering, terrorist financing,
                                 financial intelligence unit, blanchiment
``trafficking_in_persons``       keywords trafficking in persons, human trafficking,
                                 traite des personnes (typically 15190, 15180)
``transnational_organized_crime``  keywords organised crime, small arms, trafficking,
                                 smuggling with a security purpose code
``outer_space``                  keywords outer space, space law, space debris
===============================  =====================================================

Security purpose codes: *specific* codes (16063, 15210) count alone; *broad*
codes (15130 justice, 15113 anti-corruption, 15136 immigration, 15180, 15190
migration, 15220 peace-building, 15240 SALW, 21040 water transport, 22010
communications policy, 22040 ICT, 33120 trade facilitation) count only with a
keyword. 15230 peacekeeping, 15250 mine action and 15261 child soldiers are not
among the chapter's themes and stay NA.

Precedence, one theme per row: keyword rules in file order (specific phrases
first: money laundering, maritime, counter-terrorism, cyber, space, drugs,
trafficking in persons, organised crime, police) beat the default theme of a
specific purpose code; rows matching nothing get NA. ``theme_rule`` says why:
``keyword:coast guard+purpose:21040`` (the text as matched, lower-cased) or
``purpose:16063``.

Keywords are matched case-insensitively over ``project_title``,
``short_description`` and ``long_description`` with letter/digit boundaries
(RE2 via ``pyarrow.compute``, vectorised; no Python loop per row).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from ..themes import THEMES
from .schema import TEXT_COLUMNS

RULES_FILE = "crs_theme_rules.yaml"
PURPOSE_KINDS = ("specific", "broad")
# Case-insensitive, with letter/digit boundaries on both sides of the keyword.
_KEYWORD_PREFIX = r"(?i)(?:^|[^\pL\pN])(?P<kw>"
_KEYWORD_SUFFIX = r")(?:$|[^\pL\pN])"


@dataclass(frozen=True)
class KeywordRule:
    """One ordered keyword rule of the mapping."""

    theme: str
    keywords: tuple[str, ...]
    anywhere: bool

    @property
    def alternatives(self) -> str:
        """The keywords as one RE2 alternation (no group, no boundaries)."""
        parts = []
        # Longest first: RE2 alternation takes the first alternative that matches,
        # and "cyber security" says more than "cyber".
        for keyword in sorted(self.keywords, key=len, reverse=True):
            # Real descriptions wrap lines and double spaces: a space means "some spaces".
            parts.append(keyword.replace(" ?", r"\s*").replace(" ", r"\s+"))
        return "|".join(parts)

    @property
    def pattern(self) -> str:
        """RE2 pattern with a named group ``kw`` around the alternatives."""
        return _KEYWORD_PREFIX + self.alternatives + _KEYWORD_SUFFIX


@dataclass(frozen=True)
class ThemeRules:
    """The parsed, validated mapping."""

    version: int
    specific: dict[int, str]  # purpose code -> theme
    broad: frozenset[int]
    keyword_rules: tuple[KeywordRule, ...]

    @property
    def security_codes(self) -> frozenset[int]:
        return frozenset(self.specific) | self.broad

    @property
    def union_pattern(self) -> str:
        """One pattern that matches a text exactly when some keyword rule's pattern does.

        Every rule pattern is the same prefix and suffix around its own
        alternation, so the alternation of all of them, between that prefix
        and suffix, matches wherever one of them matches (and nowhere else).
        """
        inner = "|".join(rule.alternatives for rule in self.keyword_rules)
        return _KEYWORD_PREFIX + inner + _KEYWORD_SUFFIX


def _rules_error(problem: str) -> ValueError:
    return ValueError(f"oda_data/data/{RULES_FILE}: {problem}")


@lru_cache(maxsize=None)
def load_rules() -> ThemeRules:
    """Read and validate ``crs_theme_rules.yaml`` (safe_load)."""
    text = files("oda_data").joinpath("data", RULES_FILE).read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
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
    rules = []
    for position, entry in enumerate(raw.get("keyword_rules") or [], start=1):
        if entry.get("theme") not in THEMES:
            raise _rules_error(
                f"keyword rule {position}: theme {entry.get('theme')!r}; expected one of: {', '.join(THEMES)}"
            )
        rule = KeywordRule(entry["theme"], tuple(str(k) for k in entry["keywords"]), bool(entry.get("anywhere")))
        try:
            pc.extract_regex(pa.array(["x"]), pattern=rule.pattern)
        except pa.ArrowInvalid as error:
            raise _rules_error(f"keyword rule {position} ({rule.theme}): bad pattern: {error}") from None
        rules.append(rule)
    return ThemeRules(int(raw["version"]), specific, frozenset(broad), tuple(rules))


#: Version of the shipped mapping (``version`` in the YAML file).
RULES_VERSION = load_rules().version


@lru_cache(maxsize=None)
def rules_fingerprint() -> str:
    """``<version>-<digest of the YAML text>``: part of the cache key of stored themes.

    The digest covers the whole file, so an edited rule invalidates cached
    themes even if ``version`` was not bumped.
    """
    text = files("oda_data").joinpath("data", RULES_FILE).read_bytes()
    return f"{RULES_VERSION}-{hashlib.sha256(text).hexdigest()[:12]}"


def _as_array(column, length: int, kind: pa.DataType) -> pa.Array:
    if column is None:
        return pa.nulls(length, kind)
    if isinstance(column, pd.Series):
        column = pa.array(column, from_pandas=True)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return pc.cast(column, kind)


def theme_arrays(purpose_code, texts) -> tuple[pa.Array, pa.Array]:
    """Compute ``theme`` and ``theme_rule`` arrays (vectorised).

    Parameters
    ----------
    purpose_code : pyarrow.Array
        Purpose codes (int).
    texts : list of pyarrow.Array
        The text columns to search (titles, descriptions); nulls allowed.

    Notes
    -----
    Few rows of a real file can match any rule (a few percent), so one pass
    of :attr:`ThemeRules.union_pattern` over every row first picks the
    *candidates*: rows some keyword rule matches, or with a specific purpose
    code. The ordered rules then run on the candidates only, and their
    results are scattered back; the other rows are NA. The result is the
    same as running every rule on every row.
    """
    rules = load_rules()
    purpose = _as_array(purpose_code, 0, pa.int64())
    length = len(purpose)
    texts = [_as_array(text, length, pa.string()) for text in texts] or [pa.nulls(length, pa.string())]
    text = pc.binary_join_element_wise(*texts, " \n ", null_handling="replace", null_replacement="")
    specific_codes = pa.array(sorted(rules.specific), pa.int64())
    candidate = pc.or_(
        pc.match_substring_regex(text, rules.union_pattern),
        pc.fill_null(pc.is_in(purpose, value_set=specific_codes), False),
    )
    count = pc.sum(candidate).as_py() or 0
    if count == length:
        return _ordered_rules(purpose, text, rules)
    none = pa.nulls(length, pa.string())
    if count == 0:
        return none, none
    rows = pc.indices_nonzero(candidate)
    theme, rule = _ordered_rules(pc.take(purpose, rows), pc.take(text, rows), rules)
    return pc.replace_with_mask(none, candidate, theme), pc.replace_with_mask(none, candidate, rule)


def _ordered_rules(purpose: pa.Array, text: pa.Array, rules: ThemeRules) -> tuple[pa.Array, pa.Array]:
    """The documented precedence on every row given: keyword rules in order, then purpose codes."""
    purpose, text = (a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a for a in (purpose, text))
    length = len(purpose)
    security = pc.fill_null(pc.is_in(purpose, value_set=pa.array(sorted(rules.security_codes), pa.int64())), False)
    purpose_suffix = pc.fill_null(
        pc.binary_join_element_wise("+purpose:", pc.cast(purpose, pa.string()), ""), ""
    )
    theme = pa.nulls(length, pa.string())
    rule = pa.nulls(length, pa.string())
    for keyword_rule in rules.keyword_rules:
        candidate = pc.is_null(theme)
        if not keyword_rule.anywhere:
            candidate = pc.and_(candidate, security)
        if not pc.any(candidate).as_py():
            continue
        # Search only the rows this rule may still tag (untagged, right purpose), and
        # extract the matched text (slow in RE2: captures) only where it matches.
        rows = pc.indices_nonzero(candidate)
        matches = pc.match_substring_regex(pc.take(text, rows), pattern=keyword_rule.pattern)
        if not pc.any(matches).as_py():
            continue
        rows = pc.filter(rows, matches)
        found = pc.struct_field(pc.extract_regex(pc.take(text, rows), pattern=keyword_rule.pattern), "kw")
        # normalise the matched text: lower case, one space between words
        matched = pc.replace_substring_regex(pc.utf8_lower(found), r"\s+", " ")
        label = pc.binary_join_element_wise("keyword:", matched, pc.take(purpose_suffix, rows), "")
        hit = np.zeros(length, dtype=bool)
        hit[rows.to_numpy()] = True
        hit = pa.array(hit)
        theme = pc.if_else(hit, pa.scalar(keyword_rule.theme), theme)
        rule = pc.replace_with_mask(rule, hit, label)
    codes = pa.array(list(rules.specific), pa.int64())
    defaults = pc.take(pa.array(list(rules.specific.values()), pa.string()), pc.index_in(purpose, value_set=codes))
    by_purpose = pc.and_(pc.is_null(theme), pc.is_valid(defaults))
    theme = pc.if_else(by_purpose, defaults, theme)
    rule = pc.if_else(by_purpose, pc.binary_join_element_wise("purpose:", pc.cast(purpose, pa.string()), ""), rule)
    return theme, rule


def tag_themes(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``df`` with ``theme`` and ``theme_rule`` columns added.

    Parameters
    ----------
    df : pandas.DataFrame
        A canonical CRS frame (from :func:`oda_data.read_crs`); needs
        ``purpose_code``; uses whichever of ``project_title``,
        ``short_description`` and ``long_description`` it has.

    Returns
    -------
    pandas.DataFrame
        ``theme``: an id of :data:`oda_data.THEMES` or NA; ``theme_rule``: why
        (``purpose:16063``, ``keyword:coast guard+purpose:21040``). Both
        ``string[pyarrow]``. See the module docstring for the mapping.

    Raises
    ------
    ValueError
        When ``purpose_code`` is missing.
    """
    if "purpose_code" not in df.columns:
        raise ValueError(
            "tag_themes needs a 'purpose_code' column (a canonical CRS frame from "
            f"oda_data.read_crs); got columns: {', '.join(map(str, df.columns))}"
        )
    texts = [df[name] for name in TEXT_COLUMNS if name in df.columns]
    theme, rule = theme_arrays(df["purpose_code"], texts)
    result = df.copy()
    dtype = pd.ArrowDtype(pa.string())
    result["theme"] = pd.Series(theme, index=df.index, dtype=dtype) if len(df) else pd.Series([], dtype=dtype)
    result["theme_rule"] = pd.Series(rule, index=df.index, dtype=dtype) if len(df) else pd.Series([], dtype=dtype)
    return result
