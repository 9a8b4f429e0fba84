"""oda_data.fmt: the one formatting module, with the chapter's own figures."""
from __future__ import annotations

import re

import pandas as pd
import pytest

from oda_data import fmt

from notebook_testlib import read_table, unescape


@pytest.mark.parametrize(
    "amount, currency, approximate, expected",
    [
        (6e9, "USD", True, "approximately $6 billion"),
        (120e6, "USD", False, "$120 million"),
        (14e9, "JPY", True, "approximately ¥14 billion"),
        (45e9, "JPY", True, "approximately ¥45 billion"),
        (80e9, "JPY", False, "¥80 billion"),
        (15.1e6, "USD", False, "$15.1 million"),
        (4.5e6, "USD", False, "$4.5 million"),
        (468e6, "USD", True, "approximately $468 million"),
    ],
)
def test_money_shows_a_stated_figure_as_the_chapter_states_it(amount, currency, approximate, expected):
    assert fmt.money(amount, currency, approximate=approximate) == expected


def test_money_of_a_computed_figure_keeps_three_significant_figures():
    assert fmt.money(1_234_567_890) == "$1.23 billion"
    assert fmt.money(999.7e6) == "$1 billion"  # not "$1,000 million"
    assert fmt.money(442_123) == "$442,000"
    assert fmt.money(-5e6) == "-$5 million"
    assert fmt.money(0.5) == "$0.5"


def test_converted_figure_keeps_the_source_precision_and_its_approximately():
    # "approximately $6 billion" (1 significant figure) at ~110.5 yen per dollar
    source = 6e9
    converted = source * 110.53
    assert fmt.money(converted, "JPY") == "¥663 billion"  # what honest rounding forbids
    honest = fmt.money(converted, "JPY", approximate=True, sig=fmt.significant_figures(source))
    assert honest == "approximately ¥0.7 trillion"
    # $15.1 million (3 figures) stays 3 figures; $4.5 million (2) stays 2
    assert fmt.money(15.1e6 * 110.53, "JPY", sig=3) == "¥1.67 billion"
    assert fmt.money(4.5e6 * 110.53, "JPY", sig=2) == "¥0.50 billion"  # two significant figures, the zero kept
    assert fmt.money(66.3e9, "JPY", sig=1) == "¥70 billion"


@pytest.mark.parametrize(
    "amount, figures",
    [(6e9, 1), (120e6, 2), (14e9, 2), (15.1e6, 3), (468e6, 3), (2653, 4), (0, 1), (0.25, 2)],
)
def test_significant_figures_of_stated_figures(amount, figures):
    assert fmt.significant_figures(amount) == figures


@pytest.mark.parametrize("bad", [None, float("nan"), "6 billion", True, float("inf")])
def test_money_refuses_what_is_not_an_amount(bad):
    with pytest.raises(ValueError, match="fmt.money: expected"):
        fmt.money(bad)


def test_money_refuses_unknown_currency_and_bad_sig():
    with pytest.raises(ValueError, match="unknown currency 'EUR'; expected one of: USD, JPY"):
        fmt.money(1e6, "EUR")
    with pytest.raises(ValueError, match="sig must be"):
        fmt.money(1e6, sig=0)


def test_scale_picks_the_word_for_an_axis():
    assert fmt.scale(6e9) == (1e9, "billion")
    assert fmt.scale(468e6) == (1e6, "million")
    assert fmt.scale(1.2e12) == (1e12, "trillion")
    assert fmt.scale(900) == (1.0, "")


def test_count_percent_number():
    assert fmt.count(2653, "people") == "2,653 people"
    assert fmt.count(1, "people") == "1 person"
    assert fmt.count(1, "countries") == "1 country"
    assert fmt.count(1, "graduates") == "1 graduate"
    assert fmt.count(20000, "people", approximate=True) == "approximately 20,000 people"
    assert fmt.count(1326.5) == "1,327"
    assert fmt.percent(2653 / 2000) == "133%"
    assert fmt.percent(0.125) == "13%"
    assert fmt.percent(0.5, 1) == "50.0%"
    assert fmt.number(1234.5) == "1,234.5"
    assert fmt.number(386.944, 2) == "386.94"


def test_period():
    assert fmt.period(2016, 2018) == "2016-2018"
    assert fmt.period(2007, None) == "since 2007"
    assert fmt.period(2009, pd.NA) == "since 2009"
    assert fmt.period(2018, 2018) == "2018"
    assert fmt.period(None, None) == ""


def test_join():
    assert fmt.join(["Asia", "Africa", "Middle East"]) == "Asia, Africa and Middle East"
    assert fmt.join(["Asia", "Africa"], "or") == "Asia or Africa"
    assert fmt.join([]) == ""


@pytest.mark.parametrize("amount, sig, expected", [
    (4.7e10, 3, "¥47.0 billion"),  # "$468 million" has three significant figures
    (4.95e8, 2, "¥0.50 billion"),
    (6.6e11, 1, "¥0.7 trillion"),
    (1.2e8, 2, "¥0.12 billion"),  # "¥120 million" would claim three
    (1.0e9, 3, "¥1.00 billion"),
    (4.42e5, 3, "¥442,000"),
    (4.4e5, 3, "¥440,000"),
])
def test_money_keeps_significant_trailing_zeros(amount, sig, expected):
    assert fmt.money(amount, "JPY", sig=sig) == expected


def test_money_without_sig_shows_the_figure_as_stated():
    assert fmt.money(6e9) == "$6 billion" and fmt.money(4.5e6) == "$4.5 million" and fmt.money(120e6) == "$120 million"


def test_escape_keeps_dollars_out_of_mathjax_and_markup_as_text():
    text = "$120 million and $4.5 million for <script> *A_B* | x"
    escaped = fmt.escape(text)
    assert "$" not in escaped.replace(fmt.DOLLAR, "")
    assert "<script>" not in escaped and "&lt;script&gt;" in escaped
    assert "\\*A\\_B\\*" in escaped and "\\|" in escaped
    assert unescape(escaped) == text
    assert fmt.escape("1. first\nline") == "1\\. first line"
    assert fmt.markdown("**{name}** {amount}", name="A_B", amount="$6 billion") == "**A\\_B** " + fmt.DOLLAR + "6 billion"


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "figure": ["Africa <pledge>", "IMO fund"],
            "amount": [120e6, None],
            "people": pd.array([30000, pd.NA], dtype="Int64"),
            "approximate": [False, False],
        },
        index=[7, 9],
    )


def test_table_is_deterministic_mathjax_safe_and_formats_cells():
    styler = fmt.table(_frame(), formats={"amount": fmt.money}, caption="Pledges in $")
    html = styler.to_html()
    assert html == fmt.table(_frame(), formats={"amount": fmt.money}, caption="Pledges in $").to_html()
    assert 'class="tex2jax_ignore mathjax_ignore"' in html
    assert "$" not in html  # every "$" is the entity &#36;
    assert "<pledge>" not in html
    assert ">7<" not in html  # index hidden
    cells = read_table(html)
    assert cells.to_dict("records") == [
        {"figure": "Africa <pledge>", "amount": "$120 million", "people": "30,000", "approximate": "no"},
        {"figure": "IMO fund", "amount": "", "people": "", "approximate": "no"},
    ]
    assert repr(styler) == "<table Pledges in $: 2 rows x 4 columns>"


def test_table_ids_differ_between_tables_and_formats_must_name_columns():
    one = fmt.table(_frame()).to_html()
    other = fmt.table(_frame().head(1)).to_html()
    assert one.split('id="')[1][:15] != other.split('id="')[1][:15]
    assert read_table(fmt.table(pd.DataFrame({"x": [1.5, 2.0]}), formats={"x": "{:.1f}"}).to_html())["x"].tolist() == ["1.5", "2.0"]
    with pytest.raises(ValueError, match=r"formats name column\(s\) \['money'\] not in the table"):
        fmt.table(_frame(), formats={"money": fmt.money})


def test_table_output_carries_its_frame_as_csv_with_csv_only_columns_hidden_in_html():
    import pandas as pd
    from IPython.core.formatters import DisplayFormatter

    frame = pd.DataFrame({"What": ["Asia <b>"], "Amount": ["approximately $6 billion"], "usd": [6e9 + 0.125]})
    data, metadata = DisplayFormatter().format(fmt.table(frame, caption="USD: pledged", csv_only=["usd"]))
    assert data["text/csv"] == "What,Amount,usd\nAsia <b>,approximately $6 billion,6000000000.125\n"
    assert metadata["text/csv"] == {"name": "usd-pledged"}
    assert "6000000000" not in data["text/html"] and ">usd<" not in data["text/html"]
    assert data["text/plain"] == "<table USD: pledged: 1 rows x 2 columns>"


def test_table_refuses_csv_only_columns_it_does_not_have():
    import pandas as pd

    with pytest.raises(ValueError, match=r"csv_only name column\(s\) \['usd'\]"):
        fmt.table(pd.DataFrame({"a": [1]}), csv_only=["usd"])


def test_table_carries_its_own_styles_left_aligned_and_wrapping_scoped_to_its_id():
    html = fmt.table(_frame(), caption="Pledges").to_html()
    table_id = re.search(r'<table id="(T_oda_[0-9a-f]+)"', html).group(1)
    rules = {}
    for selector, props in re.findall(r"#(T_oda_[0-9a-f]+ [^{]*)\{([^}]*)\}", html):
        rules[" ".join(selector.split())] = rules.get(" ".join(selector.split()), "") + props
    cells = rules[f"{table_id} td"]
    assert "text-align: left" in cells and "max-width: 28em" in cells and "white-space: normal" in cells
    assert "margin: .5rem 0" in rules[table_id]  # at the left, not centred as JupyterLab would
    assert all(selector.startswith(table_id) for selector in rules)  # styles only this table
