"""oda_data.figures: the chapter's records as stated and in a money basis, on the real White Paper data."""
from __future__ import annotations

import pytest

import oda_data
from oda_data import figures
from oda_data.params import check_money_basis


def _table(currency="USD", prices="current", base_year=2022):
    basis = check_money_basis(currency, prices, base_year)
    wp = oda_data.convert(oda_data.white_paper(), to=basis.currency, prices=basis.prices,
                          base_year=basis.base_year, column="value", default_year=oda_data.REPORT_YEAR)
    records, restatements = figures.split_restatements(wp)
    return wp, records, restatements, basis


def _row(frame, record_id):
    return frame.set_index("record_id").loc[record_id]


def test_a_restatement_is_no_record_of_its_own():
    wp, records, restatements, _ = _table()
    assert list(restatements.index) == ["WP-CT-03"]
    assert restatements.at["WP-CT-03", "record_id"] == "WP-CT-04"
    assert "WP-CT-04" not in set(records["record_id"])
    assert len(records) == len(wp) - 1 and list(records.index) == list(range(len(records)))


def test_stated_gives_the_restatement_once():
    _, records, restatements, _ = _table()
    by_id = records.set_index("record_id", drop=False)
    assert figures.stated(by_id.loc["WP-CT-03"], restatements) == "$120 million (approximately ¥14 billion)"
    assert figures.stated(by_id.loc["WP-CT-01"], restatements) == "approximately $6 billion"
    assert figures.stated(by_id.loc["WP-MAR-09"], restatements) == "$15.1 million"


def test_in_basis_keeps_the_chapters_precision_and_approximately():
    _, records, restatements, basis = _table("JPY")
    by_id = records.set_index("record_id", drop=False)
    # $6 billion has one significant figure: not "¥663 billion".
    assert figures.in_basis(by_id.loc["WP-CT-01"], restatements, basis) == "approximately ¥0.7 trillion"
    # The chapter gives the yen itself: its figure, not "¥13.3 billion" converted from $120 million.
    assert figures.in_basis(by_id.loc["WP-CT-03"], restatements, basis) == "approximately ¥14 billion"
    assert figures.in_basis(by_id.loc["WP-CT-06"], restatements, basis) == "approximately ¥45 billion"
    assert figures.in_basis(by_id.loc["WP-MAR-09"], restatements, basis) == "¥1.67 billion"


def test_in_basis_in_the_chapters_currency_is_the_chapters_figure():
    _, records, restatements, basis = _table("USD")
    by_id = records.set_index("record_id", drop=False)
    assert figures.in_basis(by_id.loc["WP-CT-03"], restatements, basis) == "$120 million"
    assert figures.in_basis(by_id.loc["WP-CT-06"], restatements, basis) == "approximately $0.41 billion"


def test_in_basis_at_constant_prices_converts_even_the_chapters_currency():
    _, records, restatements, basis = _table("JPY", "constant", 2015)
    by_id = records.set_index("record_id", drop=False)
    assert figures.in_basis(by_id.loc["WP-CT-01"], restatements, basis) == "approximately ¥0.7 trillion"
    assert figures.in_basis(by_id.loc["WP-MAR-12"], restatements, basis) == "approximately ¥47.0 billion"  # zero kept


def test_a_total_without_years_is_never_deflated():
    _, records, restatements, basis = _table("JPY", "constant", 2015)
    table = figures.figure_columns(records, restatements, basis).set_index("record_id")
    for record_id in ("WP-MAR-09", "WP-MAR-10", "WP-CT-08"):  # "a total", "in the past two years": no year
        assert table.at[record_id, "shown"] == figures.UNDATED
        assert table["value"].isna()[record_id], "no number to chart"
    current = figures.figure_columns(*_table("JPY")[1:3], check_money_basis("JPY")).set_index("record_id")
    assert current.at["WP-MAR-09", "shown"] == "¥1.67 billion"  # current prices: converted at the report year


def test_people_text_names_the_measure_and_the_countries():
    _, records, _, _ = _table()
    by_id = records.set_index("record_id", drop=False)
    assert figures.people_text(by_id.loc["WP-MAR-14"]) == "65 graduates from 39 countries"
    # "including human resources development for approximately 20,000 people": not people to be trained
    assert figures.people_text(by_id.loc["WP-CT-02"]) == "human resources development for approximately 20,000 people"
    assert figures.people_text(by_id.loc["WP-CT-07"]) == "2,000 personnel to be trained"
    assert figures.people_text(by_id.loc["WP-CT-09"]) == "2,653 personnel trained"


def test_figure_columns_on_the_real_records():
    _, records, restatements, basis = _table("JPY")
    table = figures.figure_columns(records, restatements, basis)
    assert list(table.index) == list(records.index)
    pledge = _row(table, "WP-CT-03")
    assert (pledge.stated, pledge.shown, pledge.value) == (
        "$120 million (approximately ¥14 billion)", "approximately ¥14 billion", 14e9)
    middle_east = _row(table, "WP-CT-01")
    assert middle_east.shown == "approximately ¥0.7 trillion"
    assert middle_east.value == pytest.approx(662.8e9, rel=1e-3)  # the conversion, kept for the chart
    assert (middle_east.period, middle_east.year) == ("2016-2018", "")
    trained = _row(table, "WP-CT-09")
    assert (trained.people_text, trained.measure, trained.stated) == ("2,653 personnel trained", "Reported trained", "")
    assert _row(table, "WP-CT-02").measure == _row(table, "WP-CT-05").measure == "Human resources development (pledged)"
    assert _row(table, "WP-CT-07").measure == "To be trained (pledged)"
    graduates = _row(table, "WP-MAR-14")
    assert (graduates.people_text, graduates.measure, graduates.period) == (
        "65 graduates from 39 countries", "Graduates", "since 2009")
    assert _row(table, "WP-MAR-01").people_text == "20 countries"  # countries alone
    # The restated amount appears once in the whole table: beside the pledge it restates.
    text = " ".join(table["stated"]) + " " + " ".join(table["shown"])
    assert text.count("¥14 billion") == 2  # as stated (in brackets) and as the figure in yen
    assert " ".join(table["stated"]).count("¥14 billion") == 1


def test_headings_name_the_basis():
    basis = check_money_basis("JPY", "constant", 2015)
    headings = figures.headings(basis)
    assert headings["shown"] == "JPY, constant 2015 prices"
    assert headings["record_id"] == "Record" and headings["stated"] == "Amount as the chapter states it"


def test_method_note_names_the_basis_and_the_rate_years():
    first, last = oda_data.params.dac_years()
    note = figures.method_note(check_money_basis("JPY", "constant", 2015))
    assert note.startswith("**How money is shown.** Amounts are in JPY, constant 2015 prices.")
    assert f"({first}–{last})" in note and f"else in {oda_data.REPORT_YEAR}," in note
    assert "never added" in note


def test_chapter_is_the_set_up_every_white_paper_notebook_shares():
    basis = check_money_basis("JPY", "constant", 2015)
    records, restatements = figures.chapter(basis)
    _, expected, expected_restatements, _ = _table("JPY", "constant", 2015)
    assert records.equals(expected) and restatements.equals(expected_restatements)


def test_record_table_puts_the_numbers_behind_the_money_text_in_the_csv_only():
    basis = check_money_basis("JPY")
    table = figures.figure_columns(*figures.chapter(basis), basis)
    money = table[table["amount"].notna()]
    shown = figures.record_table(money, ["record_id", "stated", "shown"], basis, caption="Money")
    bundle, metadata = shown._repr_mimebundle_()
    csv = bundle["text/csv"].splitlines()
    assert csv[0] == "Record,Amount as the chapter states it,\"JPY, current prices\",amount_as_stated,currency_as_stated,value_in_basis,basis"
    assert metadata == {"text/csv": {"name": "money"}}
    assert set(shown.hidden_columns) == {3, 4, 5, 6}
    people = figures.record_table(table[table["people"].notna()], ["record_id", "people_text"], basis, caption="People")
    assert not people.hidden_columns  # no money, no money columns


def test_amount_chart_names_each_bar_by_what_it_is(monkeypatch):
    shown = {}
    monkeypatch.setattr(figures.style, "show", lambda fig, alt: shown.update(fig=fig, alt=alt))
    basis = check_money_basis("USD")
    table = figures.figure_columns(*figures.chapter(basis), basis)
    figures.amount_chart(table[table["amount"].notna()], basis, title="Each amount", alt="Bars: ")
    labels = [t.get_text() for t in shown["fig"].axes[0].get_yticklabels()]
    assert all("WP-" not in label for label in labels)
    assert any("Somalia" in label for label in labels) and all(max(map(len, l.split("\n"))) <= 38 for l in labels)
    assert "approximately $468 million" in shown["alt"] and "WP-" not in shown["alt"]
