"""oda_data.narrative: numbers in words, escaping, and the paragraphs the notebooks show."""
from __future__ import annotations


import pandas as pd
import pytest

import oda_data
from oda_data import analysis, narrative
from oda_data.narrative import (
    describe_change,
    escape_markdown,
    format_count,
    format_money,
    format_percent,
    format_period,
    join_words,
    markdown,
    markdown_table,
    rank_phrase,
    round_half_up,
    share_of,
    unescape_markdown,
)
from oda_data.params import MoneyBasis

USD = MoneyBasis("USD")
JPY = MoneyBasis("JPY")


@pytest.fixture(scope="module")
def wp() -> pd.DataFrame:
    return oda_data.white_paper()


def plain(text: str) -> str:
    """What a reader sees: the Markdown without its escapes."""
    return unescape_markdown(text)


# --- formatting ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "currency", "style", "expected"),
    [
        (6e9, "USD", "symbol", "$6.0 billion"),
        (45e9, "JPY", "symbol", "¥45 billion"),
        (120e6, "USD", "code", "USD 120 million"),
        (468e6, "USD", "symbol", "$468 million"),
        (15.1e6, "USD", "symbol", "$15.1 million"),
        (4.5e6, "USD", "symbol", "$4.5 million"),
        (13_256_944_000, "JPY", "symbol", "¥13.3 billion"),
        (662_847_200_000, "JPY", "code", "JPY 663 billion"),
        (999.7e6, "USD", "symbol", "$1.0 billion"),  # not "$1,000 million"
        (1.5e12, "JPY", "symbol", "¥1.5 trillion"),
        (441_898.13, "USD", "symbol", "$442,000"),
        (-2.5e6, "USD", "symbol", "-$2.5 million"),
    ],
)
def test_format_money(value, currency, style, expected):
    assert format_money(value, currency, style=style) == expected


def test_format_money_approximate_and_errors():
    assert format_money(6e9, approximate=True) == "approximately $6.0 billion"
    with pytest.raises(ValueError, match="unknown currency 'EUR'"):
        format_money(1e6, "EUR")
    with pytest.raises(ValueError, match="no amount"):
        format_money(float("nan"))


def test_format_count_and_rounding():
    assert format_count(2653) == "2,653 people"
    assert format_count(1) == "1 person"
    assert format_count(1326.5) == "1,327 people"  # half up, not to even
    assert format_count(39, "countries", "country") == "39 countries"
    assert format_count(20_000, approximate=True) == "approximately 20,000 people"
    assert round_half_up(2.5) == 3 and round_half_up(0.125, 2) == 0.13


def test_percent_share_and_change():
    assert format_percent(80 / 45) == "178%"
    assert format_percent(2653 / 2000) == "133%"
    assert share_of(80, 45) == "178% of the pledge"
    assert share_of(1, 4, "the total") == "25% of the total"
    assert describe_change(45, 80) == "78% more"
    assert describe_change(80, 45) == "44% less"
    assert describe_change(100, 100.2) == "the same"
    with pytest.raises(ValueError):
        share_of(1, 0)


def test_join_words_and_periods():
    assert join_words(["A", "B", "C"]) == "A, B and C"
    assert join_words(["A", "B"], "or") == "A or B"
    assert join_words(["A"]) == "A" and join_words([]) == ""
    assert join_words(["a, b", "c", "d"], separator="; ") == "a, b; c; and d"
    assert format_period(2016, 2018) == "2016–2018"
    assert format_period(2018, 2018) == "2018"
    assert format_period(2009, None, open_ended=True) == "since 2009"


def test_year_spans_and_record_periods(wp):
    assert narrative.format_years([2018, 2016, 2017]) == "2016–2018"
    assert narrative.format_years((2018,)) == "2018"
    assert narrative.format_years([]) == "no year" and narrative.format_years([], none="none") == "none"
    by_id = wp.set_index("record_id", drop=False)
    assert narrative.record_period(by_id.loc["WP-MAR-12"]) == "2007–2018"  # a period
    assert narrative.record_period(by_id.loc["WP-TIP-01"]) == "since 2014"  # a start, no end
    # WP-MAR-09 is a total "to date": no period, no year.
    assert narrative.record_period(by_id.loc["WP-MAR-09"]) == ""
    assert narrative.record_period(by_id.loc["WP-MAR-09"], undated="to date") == "to date"
    dated = wp.loc[wp["period_start"].isna() & wp["year"].notna()].iloc[0]
    assert narrative.record_period(dated) == str(int(dated["year"]))


def test_rank_phrase_orders_and_skips_zeros():
    values = pd.Series({"Asia": 407e6, "Middle East": 6e9, "Latin America": 0.0, "Africa": 120e6})
    assert rank_phrase(values, lambda v: format_money(v)) == (
        "Middle East ($6.0 billion), Asia ($407 million) and Africa ($120 million)"
    )


# --- escaping -------------------------------------------------------------------------------

MALICIOUS = '<script>alert("x")</script> *bold* _it_ `code` [link](http://x) a|b #tag ~s~ $5 & $6 \\ end'


def test_escape_markdown_neutralises_markup_and_html():
    escaped = escape_markdown(MALICIOUS)
    assert "<script>" not in escaped and "&lt;script&gt;" in escaped
    for raw in ("*bold*", "_it_", "`code`", "[link]", "a|b", "~s~"):
        assert raw not in escaped
    for markup in (r"\*bold\*", r"\_it\_", r"\`code\`", r"\[link\]", r"a\|b", r"\#tag", r"\~s\~"):
        assert markup in escaped
    # no raw "$" is left for Jupyter's TeX: each is an entity in a span MathJax skips
    assert "$" not in escaped
    assert escaped.count('<span class="tex2jax_ignore mathjax_ignore">&#36;</span>') == 2
    assert "&amp;" in escaped
    assert plain(escaped) == MALICIOUS


def test_escape_markdown_keeps_parentheses_and_quotes():
    # "\(" would open inline TeX in Jupyter; quotes are plain text in Markdown.
    assert escape_markdown('"Golden mean" policy (Middle East)') == '"Golden mean" policy (Middle East)'


def test_escape_markdown_block_markers_and_line_breaks():
    assert escape_markdown("- not a list") == r"\- not a list"
    assert escape_markdown("2016. not a list") == r"2016\. not a list"
    assert escape_markdown("# not a heading") == r"\# not a heading"
    assert escape_markdown("one\n\ntwo") == "one two"
    assert escape_markdown(None) == ""


def test_markdown_template_escapes_values_not_the_template():
    text = markdown("**{name}** pledged {amount}", name="A_B*", amount="$6.0 billion")
    assert text == r"**A\_B\*** pledged " + narrative.DOLLAR + "6.0 billion"


def test_markdown_table_escapes_cells():
    frame = pd.DataFrame({"Partner": ["a|b", "<b>x</b>"], "Records": [2, 1]})
    lines = markdown_table(frame).splitlines()
    assert lines[0] == "| Partner | Records |"
    assert lines[1] == "| :--- | ---: |"
    assert lines[2] == r"| a\|b | 2 |"
    assert lines[3] == "| &lt;b&gt;x&lt;/b&gt; | 1 |"
    assert all(line.count("|") - line.count(r"\|") == 3 for line in lines)


def test_data_text_is_escaped_in_profiles(wp):
    odd = wp.copy()
    row = odd.index[odd["record_id"] == "WP-CYB-02"][0]
    odd.loc[row, "description"] = "CYDER <script>alert(1)</script> *exercise* | for_ASEAN"
    odd.loc[row, "partner"] = "MIC; Evil_Partner|<b>"
    profile = analysis.theme_profile(odd, "cyberspace", USD)
    for text in (narrative.initiatives_list(profile), narrative.theme_summary(profile), narrative.breakdown_table(profile)):
        assert "<script>" not in text and "<b>" not in text
        assert "*exercise*" not in text and "Evil_Partner" not in text
    assert r"Evil\_Partner\|&lt;b&gt;" in narrative.breakdown_table(profile)


# --- paragraphs -------------------------------------------------------------------------------


def test_overview_summary_usd(wp):
    text = plain(narrative.overview_summary(wp, USD))
    assert "holds 49 records; one more restates an amount in a second currency" in text
    assert "pledges of $6.5 billion, reported achievements of $724 million, contributions of $19.6 million and disbursements of $468 million" in text
    assert "under two of the nine themes (Counter-terrorism and Maritime security and piracy)" in text
    assert "pledges training for approximately 52,000 people" in text
    assert "reports 2,802 people trained: 2,653 under Counter-terrorism and 149 under Maritime security and piracy" in text


def test_overview_summary_jpy_constant(wp):
    text = plain(narrative.overview_summary(wp, MoneyBasis("JPY", "constant", 2015)))
    assert "In JPY, constant 2015 prices, it states pledges of ¥718 billion" in text
    assert "$" not in text


def test_money_summary_by_region(wp):
    text = plain(narrative.money_summary(analysis.money_by(wp, "region", USD), USD))
    assert "Pledged: $6.5 billion in all, by region: Middle East ($6.0 billion), Asia ($407 million) and Africa ($120 million)." in text
    assert "Disbursed: $468 million, all of it in Africa." in text


def test_theme_summary_maritime(wp):
    profile = analysis.theme_profile(wp, "maritime_security", USD)
    text = plain(narrative.theme_summary(profile))
    assert text.startswith("**Maritime security and piracy** appears in 16 records of the chapter: 8 in Asia, 5 in Africa and 3 at global level.")
    assert "contributions of $19.6 million and disbursements of $468 million" in text
    assert "65 graduates from 39 countries" in text and "84 graduates from 37 countries" in text
    table = plain(narrative.entries_table(profile.entries, USD, ("what", "figures", "money", "period")))
    assert "| approximately $468 million | $468 million | 2007–2018 |" in table
    assert "| since 2009 |" in table


def test_theme_summary_without_figures(wp):
    profile = analysis.theme_profile(wp, "police_capacity", USD)
    text = plain(narrative.theme_summary(profile))
    assert "appears in 2 records of the chapter: 1 in Asia and 1 in Latin America. None of them carries a figure." in text
    assert "The chapter gives no amount of money for it." in text
    assert narrative.entries_table(profile.entries, USD) == "The chapter gives no figure here."


def test_region_summary_middle_east(wp):
    profile = analysis.region_profile(wp, "Middle East", USD)
    text = plain(narrative.region_summary(profile))
    assert text.startswith("**Middle East** appears in 3 records across two of the nine themes: Counter-terrorism (2) and Money laundering and terrorist financing (1).")
    assert "pledges of $6.0 billion" in text and "approximately 20,000 people" in text
    assert "Countries named: Iran." in text


def test_pledge_arithmetic_in_yen(wp):
    packages = analysis.pledge_packages(wp, JPY)
    text = plain(narrative.achievements_arithmetic(packages, JPY))
    assert "Pledged approximately ¥45 billion and 2,000 people over three years (2016–2018)" in text
    assert "reported ¥80 billion and 2,653 people in two years (2016–2017)" in text
    assert "¥80 billion / ¥45 billion = **178% of the pledge**, 78% more than pledged" in text
    assert "2,653 / 2,000 = **133% of the pledge**" in text
    assert "pledged ¥45 billion / 3 = ¥15 billion a year; achieved ¥80 billion / 2 = ¥40 billion a year, 267% of the pledged pace" in text
    assert "achieved 2,653 / 2 = 1,327 people a year" in text
    assert "¥45 billion / 2,000 = ¥22.5 million per person" in text
    assert "¥80 billion / 2,653 = ¥30.2 million per person" in text


def test_pledge_texts_in_usd(wp):
    packages = analysis.pledge_packages(wp, USD)
    summary = plain(narrative.pledge_summary(packages, USD))
    assert summary.startswith("The chapter records three pledges, all under Counter-terrorism and all for 2016–2018")
    assert "against one of them, Japan-ASEAN Summit Meeting, Asia; the other two have no reported achievement" in summary
    table = plain(narrative.pledge_table(packages, USD))
    assert "| Japan-ASEAN Summit Meeting, Asia | Money (USD, current prices) | $407 million | 2016–2018 | $724 million | 2016–2017 | 178% |" in table
    assert "| Japan-ASEAN Summit Meeting, Asia | People | 2,000 | 2016–2018 | 2,653 | 2016–2017 | 133% |" in table
    unmet = plain(narrative.unmet_pledges(packages, USD))
    assert "$120 million (stated also as approximately ¥14 billion) and 30,000 people over 2016–2018" in unmet
    assert unmet.count("No achievement is reported in the chapter.") == 2


def test_method_note_names_the_basis_and_report_year():
    text = plain(narrative.method_note(MoneyBasis("JPY", "constant", 2020)))
    assert "Amounts are in JPY, constant 2020 prices." in text
    assert "(2000–2023)" in text and "valued at 2018" in text
