"""The narrative notebooks: papermill runs for every scheduled parameter set and more, and the stored notebooks.

Each run executes a notebook from ``notebooks/`` (kernel ``python3``, working
directory ``notebooks/``) into ``tmp_path`` and checks what it *shows* (Markdown,
table cells, chart alt texts and chart text, read back as plain text) against the
data, not against exact sentences:

* real values appear (the chapter's figures, in the run's currency and prices);
* every amount of money shown is ONE record's amount, as the chapter states it or
  converted at no more precision than the chapter's figure: a total of two or more
  figures (pledges of different regions, a pledge and an achievement, two funds)
  matches no record and fails;
* every number of people shown is one record's number (no "52,000 people");
* "approximately" stays on every figure the chapter gives as approximate;
* a restated amount (a record with ``equivalent_of``) is never an entry of its own
  and appears only beside the figure it restates;
* where the chapter gives an amount in the run's currency itself, that figure is used
  ("approximately ¥14 billion", not a conversion of "$120 million");
* the false totals the issue found are gone.

Runs are separate parametrised tests so ``pytest -n 2`` spreads them. The stored
outputs themselves are checked by nbval (``make test``); the tests at the end make
sure they stay clean enough for that.
"""
from __future__ import annotations

import re

import nbformat
import papermill
import pytest
import yaml

import oda_data
from conftest import REPO_ROOT
from notebook_testlib import NOTEBOOKS, charts, money_figures, people_figures, pieces, run, said, tables, unescape
from oda_data import fmt

NARRATIVE = ("security_overview", "profile", "pledge_tracker")
JPY_2015 = {"currency": "JPY", "prices": "constant", "base_year": 2015}
REGION = {"theme": None}  # a region profile: every theme of one region

#: What every overview run finds, on the chapter's nominal figures (the same in any basis).
OVERVIEW_FINDINGS = [
    "The chapter gives figures for counter-terrorism and maritime security and piracy only; for police capacity "
    "building, transnational organized crime, drug trafficking, trafficking in persons, money laundering and "
    "terrorist financing, outer space and cyberspace it names activities without a figure.",
    "It reports an achievement against the Asia pledges only (¥80 billion against approximately ¥45 billion; "
    "2,653 personnel trained against 2,000 personnel to be trained); the Middle East and Africa announcements for "
    "2016-2018 have none.",
    "approximately $6 billion for the Middle East is comprehensive assistance, not only counter-terrorism",
    "approximately $468 million disbursed in Somalia since 2007 covers basic social services",
    "(65 graduates from 39 countries; 84 graduates from 37 countries) are carried out with grant assistance from "
    "The Nippon Foundation; the chapter does not present them as ODA.",
    "The chapter gives no year for ¥80 billion, $15.1 million and $4.5 million",
]
PLEDGE_FINDINGS = [
    "Middle East: approximately $6 billion and human resources development for approximately 20,000 people "
    "(2016-2018); Africa: $120 million (approximately ¥14 billion) and human resources development for 30,000 people "
    "(2016-2018); Asia: approximately ¥45 billion and 2,000 personnel to be trained (announced in 2016).",
    "An achievement is reported against the Asia pledge only: ¥80 billion against approximately ¥45 billion "
    "(approximately 180%) and 2,653 personnel trained against 2,000 personnel to be trained (133%).",
    "None is reported for the Middle East and Africa announcements, whose period, 2016-2018, ends in the year the "
    "chapter reports on.",
    "\"exceeding its targets\" is the chapter's reading, which these figures alone cannot confirm.",
    "the Middle East and Africa announcements count human resources development, not personnel to be trained",
]
NO_MONEY = "With no amount of money, nothing here sizes {} or can be set against the CRS."
PROFILE_FINDINGS = {
    "police_capacity": ["The chapter states no amount of money for police capacity building.",
                        "The chapter names activities for Asia and Latin America without any figure.",
                        NO_MONEY.format("police capacity building")],
    "counter_terrorism": [
        "approximately $6 billion pledged (Middle East, 2016-2018); $120 million (approximately ¥14 billion) pledged "
        "(Africa, 2016-2018); approximately ¥45 billion pledged (Asia, announced in 2016); ¥80 billion reported "
        "achieved (Asia, no year given), each of a different kind or period, never added.",
        "human resources development for approximately 20,000 people (Middle East); human resources development for "
        "30,000 people (Africa); 2,000 personnel to be trained (Asia); 2,653 personnel trained (Asia).",
        "An achievement is reported against the pledges for Asia; none for the Middle East and Africa.",
        "Approximately $6 billion for the Middle East is comprehensive assistance, not only counter-terrorism.",
        "The chapter gives no year for ¥80 billion"],
    "transnational_organized_crime": ["The chapter names activities for Global without any figure.",
                                      NO_MONEY.format("transnational organized crime")],
    "drug_trafficking": ["The chapter names activities for Asia and Global without any figure."],
    "trafficking_in_persons": ["The chapter names activities for Asia and Global without any figure."],
    "money_laundering": ["The chapter names activities for Asia, Middle East and Global without any figure."],
    "maritime_security": [
        "$15.1 million contributed (Africa, no year given); $4.5 million contributed (Somalia, no year given); "
        "approximately $468 million disbursed (Somalia, since 2007), each of a different kind or period, never added.",
        "65 graduates from 39 countries (Global); 84 graduates from 37 countries (Global).",
        "By region, the chapter gives figures for Asia, Africa and Global.",
        "grant assistance from The Nippon Foundation, which the chapter does not present as ODA.",
        "The chapter gives no year for $15.1 million and $4.5 million"],
    "outer_space": ["The chapter names activities for Africa and Global without any figure."],
    "cyberspace": ["The chapter names activities for Asia without any figure.", NO_MONEY.format("cyberspace")],
    "Asia": ["approximately ¥45 billion pledged (Asia, announced in 2016); ¥80 billion reported achieved (Asia, no "
             "year given)", "2,000 personnel to be trained (Asia); 2,653 personnel trained (Asia).",
             "An achievement is reported against the pledges for Asia.",
             "By theme, the chapter gives figures for counter-terrorism and maritime security and piracy; for police "
             "capacity building, drug trafficking, trafficking in persons, money laundering and terrorist financing and "
             "cyberspace it names activities without a figure."],
    "Middle East": ["The chapter's money for the Middle East: approximately $6 billion pledged (Middle East, 2016-2018).",
                    "human resources development for approximately 20,000 people (Middle East).",
                    "No achievement is reported against the pledges for the Middle East."],
    "Africa": ["$120 million (approximately ¥14 billion) pledged (Africa, 2016-2018); $15.1 million contributed (Africa, "
               "no year given); $4.5 million contributed (Somalia, no year given); approximately $468 million disbursed "
               "(Somalia, since 2007)", "human resources development for 30,000 people (Africa).",
               "No achievement is reported against the pledges for Africa."],
    "Latin America": ["The chapter states no amount of money for Latin America.",
                      "The chapter names activities for police capacity building without any figure."],
    "Global": ["The chapter states no amount of money for what the package ties to no one region.",
               "65 graduates from 39 countries (Global); 84 graduates from 37 countries (Global).",
               "grant assistance from The Nippon Foundation, which the chapter does not present as ODA."],
}

#: name -> (notebook, parameters, phrases that must appear anywhere, phrases the findings must hold). The scheduled
#: parameter sets (reports/schedule.yaml, checked below) plus runs in constant yen of 2015.
RUNS = {
    "overview-usd": ("security_overview", {"currency": "USD", "prices": "current"}, [
        "approximately $6 billion", "$120 million (approximately ¥14 billion)", "approximately ¥45 billion",
        "¥80 billion", "$15.1 million", "$4.5 million", "approximately $468 million", "approximately $0.41 billion",
        "human resources development for approximately 20,000 people", "human resources development for 30,000 people",
        "2,000 personnel to be trained", "2,653 personnel trained", "65 graduates from 39 countries",
        "84 graduates from 37 countries", "Amounts are in USD, current prices."], OVERVIEW_FINDINGS),
    "overview-jpy-constant": ("security_overview", {"currency": "JPY", "prices": "constant", "base_year": 2022}, [
        "approximately ¥0.7 trillion", "approximately ¥46 billion", "approximately ¥47.9 billion",
        "not deflated: the chapter gives no year", "Amounts are in JPY, constant 2022 prices."], OVERVIEW_FINDINGS),
    "overview-jpy-constant-2015": ("security_overview", JPY_2015, [
        "approximately ¥0.7 trillion", "approximately ¥45 billion", "approximately ¥47.0 billion",
        "Amounts are in JPY, constant 2015 prices."], OVERVIEW_FINDINGS),
    **{f"theme-{theme}": ("profile", {"theme": theme}, [f"### {label}"], PROFILE_FINDINGS[theme])
       for theme, label in oda_data.THEMES.items()},
    **{f"region-{region.lower().replace(' ', '_')}": ("profile", {**REGION, "region": region}, [f"### {region}"],
                                                      PROFILE_FINDINGS[region]) for region in oda_data.REGIONS},
    "theme-counter_terrorism-jpy-2015": ("profile", {"theme": "counter_terrorism", **JPY_2015}, [
        "approximately ¥0.7 trillion", "approximately ¥14 billion", "approximately ¥45 billion", "¥80 billion"],
        PROFILE_FINDINGS["counter_terrorism"]),
    "theme-maritime_security-jpy-2015": ("profile", {"theme": "maritime_security", **JPY_2015}, [
        "approximately ¥47.0 billion", "not deflated: the chapter gives no year"], PROFILE_FINDINGS["maritime_security"]),
    "region-asia-jpy-2015": ("profile", {**REGION, "region": "Asia", **JPY_2015}, ["approximately ¥45 billion"],
                             PROFILE_FINDINGS["Asia"]),
    "region-middle_east-jpy-2015": ("profile", {**REGION, "region": "Middle East", **JPY_2015}, [
        "approximately ¥0.7 trillion", "human resources development for approximately 20,000 people"],
        PROFILE_FINDINGS["Middle East"]),
    "region-africa-jpy-2015": ("profile", {**REGION, "region": "Africa", **JPY_2015}, [
        "approximately ¥14 billion", "approximately ¥47.0 billion", "human resources development for 30,000 people"],
        PROFILE_FINDINGS["Africa"]),
    "region-africa-jpy": ("profile", {**REGION, "region": "Africa", "currency": "JPY"}, [
        "approximately ¥14 billion", "¥1.67 billion", "¥0.50 billion", "approximately ¥47.5 billion"],
        PROFILE_FINDINGS["Africa"]),
    "counter_terrorism-in-asia": ("profile", {"theme": "counter_terrorism", "region": "Asia"}, [
        "### Counter-terrorism in Asia"], ["The chapter's money for counter-terrorism in Asia: approximately ¥45 billion"]),
    "pledge-tracker": ("pledge_tracker", {}, [
        "approximately ¥45 billion", "¥80 billion", "approximately ¥14 billion", "approximately ¥0.7 trillion"],
        PLEDGE_FINDINGS),
    "pledge-tracker-usd": ("pledge_tracker", {"currency": "USD"}, [
        "approximately $0.41 billion", "$0.7 billion", "$120 million"], PLEDGE_FINDINGS),
    "pledge-tracker-jpy-2015": ("pledge_tracker", JPY_2015, ["Amounts are in JPY, constant 2015 prices.",
                                                             "not deflated: the chapter gives no year"], PLEDGE_FINDINGS),
}

#: Totals the chapter never states, found in earlier versions of these notebooks (issue 10).
FALSE_TOTALS = ["$6.5 billion", "52,000", "2,802", "¥663 billion", "¥13.3 billion", "¥30.2 million",
                "267%", "per person", "per year", "pledged pace", "¥721 billion", "¥718 billion"]


def test_every_scheduled_parameter_set_is_run():
    schedule = yaml.safe_load((REPO_ROOT / "reports" / "schedule.yaml").read_text())["reports"]
    runs = [(name, parameters) for name, parameters, _, _ in RUNS.values()]
    for entry in schedule:
        name = entry["notebook"].removeprefix("notebooks/").removesuffix(".ipynb")
        if name in NARRATIVE:
            assert (name, entry.get("parameters", {})) in runs, entry["name"]


def test_every_theme_and_region_is_run():
    profiles = [p for n, p, _, _ in RUNS.values() if n == "profile"]
    assert {p["theme"] for p in profiles if p.get("region") is None} == set(oda_data.THEMES)
    assert {p["region"] for p in profiles if p.get("theme") is None} == set(oda_data.REGIONS)
    assert {n for n, p, _, _ in RUNS.values() if p.get("prices") == "constant" and p.get("base_year") == 2015} == set(NARRATIVE)
    # In constant yen of 2015, every theme and region with an amount is run; the others state no
    # amount, so their runs in USD show every figure they have.
    wp = oda_data.white_paper()
    for column in ("theme", "region"):
        in_yen = {p[column] for p in profiles if p.get("base_year") == 2015 and p.get(column)}
        assert in_yen == set(wp.loc[wp["amount"].notna(), column])


# --- what each figure may be ---------------------------------------------------------------


def _basis(parameters: dict, notebook: str) -> tuple[str, str, int]:
    default_currency = "JPY" if notebook == "pledge_tracker" else "USD"
    return parameters.get("currency", default_currency), parameters.get("prices", "current"), parameters.get("base_year", 2022)


def single_record_amounts(currency: str, prices: str, base_year: int) -> set[str]:
    """Every way one record's amount may be shown: as the chapter states it, or in the basis.

    In the basis: the chapter's own figure in that currency when it gives one (a
    restatement included), else the conversion at the chapter's figure's significant
    figures, with its "approximately".
    """
    wp = oda_data.convert(oda_data.white_paper(), to=currency, prices=prices, base_year=base_year,
                          column="value", default_year=oda_data.REPORT_YEAR)
    money = wp[wp["amount"].notna()]
    allowed = {fmt.money(r.amount, r.currency, approximate=r.approximate) for r in money.itertuples()}
    restating = money.dropna(subset=["equivalent_of"]).set_index("equivalent_of")
    for record in money[money["equivalent_of"].isna()].itertuples():
        source = record
        if record.record_id in restating.index and restating.at[record.record_id, "currency"] == currency:
            source = restating.loc[record.record_id]
        if not (source.currency == currency and prices == "current"):
            allowed.add(fmt.money(source.value, currency, approximate=source.approximate,
                                  sig=fmt.significant_figures(source.amount)))
    return allowed


def pledge_shares() -> set[str]:
    """Achieved / pledged for each achievement and its own pledge ("approximately", 2 significant figures, if one is)."""
    wp = oda_data.white_paper().set_index("record_id")
    shares = set()
    for achievement in wp[wp["pledge_id"].notna()].itertuples():
        pledge = wp.loc[achievement.pledge_id]
        column = "amount" if achievement.amount == achievement.amount else "people"
        ratio = float(getattr(achievement, column)) / float(pledge[column])
        approximate = achievement.approximate or pledge["approximate"]
        shares.add(f"approximately {fmt.percent(float(f'{ratio:.2g}'))}" if approximate else fmt.percent(ratio))
    return shares


def check_honest(notebook: nbformat.NotebookNode, currency: str, prices: str, base_year: int) -> None:
    wp = oda_data.white_paper()
    text = said(notebook)
    # No money figure is a sum: each is one record's amount, with its "approximately".
    allowed = single_record_amounts(currency, prices, base_year)
    shown = money_figures(text)
    assert not set(shown) - allowed, f"amounts that are no single record's figure: {sorted(set(shown) - allowed)}"
    # No number of people is a sum, and "approximately" stays on approximate counts.
    people = wp[wp["people"].notna()]
    counts = {int(r.people): bool(r.approximate) for r in people.itertuples()}
    for approximate, number in people_figures(text):
        assert number in counts, f"{number:,} people is no single record's figure"
        assert approximate == counts[number], f"{number:,} people: 'approximately' must be {counts[number]}"
    # Shares compare an achievement with its own pledge only.
    assert set(re.findall(r"(?:approximately )?\d+%", text)) <= pledge_shares()
    for total in FALSE_TOTALS:
        assert total not in text
    # A restatement is never an entry of its own; its figure appears only beside the one it restates.
    by_id = wp.set_index("record_id")
    for restatement in wp.dropna(subset=["equivalent_of"]).itertuples():
        original = by_id.loc[restatement.equivalent_of]
        again = fmt.money(restatement.amount, restatement.currency, approximate=restatement.approximate)
        first = fmt.money(original["amount"], original["currency"], approximate=original["approximate"])
        for piece in pieces(notebook):
            assert restatement.record_id not in piece
            alone = piece.replace(f"{first} ({again})", "").count(again)
            # Alone only as the figure in the run's currency of a record the piece names (by id or by what it is).
            assert alone <= piece.count(restatement.equivalent_of) + piece.count(original["description"]), piece
    for table in tables(notebook):
        for column in ("Record", "Pledge"):
            if column in table:
                assert table[column].is_unique, f"a record listed twice: {table[column].tolist()}"


def findings_of(notebook: nbformat.NotebookNode) -> list[str]:
    """The bullets of the one cell tagged ``findings``, as plain text; the layout the site relies on checked."""
    cells = notebook.cells
    tagged = [i for i, c in enumerate(cells) if "findings" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "one cell tagged findings"
    heading = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.strip() == "## What this page finds"]
    assert len(heading) == 1 and heading[0] < tagged[0]
    # Right after the parameters (and their check); the cells between compute, and show nothing.
    before = [c for c in cells[1:heading[0]] if not {"parameters", "injected-parameters"} & set(c.metadata.get("tags", []))]
    assert len(before) == 1 and "check_" in before[0].source, "the page opens with its findings"
    assert not [o for c in cells[heading[0]:tagged[0]] for o in c.get("outputs", [])]
    outputs = cells[tagged[0]].outputs
    assert len(outputs) == 1 and set(outputs[0].data) >= {"text/markdown"}
    lines = outputs[0].data["text/markdown"].split("\n")
    assert 3 <= len(lines) <= 6 and all(line.startswith("- ") for line in lines), lines
    return [unescape(line[2:]) for line in lines]


#: Sentences that only count rows (issue 16): never a finding.
BOOKKEEPING = re.compile(r"appears in \d+ record|has the most records|named most often|\d+ records|ranks \d+ of")


@pytest.mark.notebooks
@pytest.mark.parametrize("case", list(RUNS))
def test_notebook_run(tmp_path, case):
    name, parameters, expected, findings = RUNS[case]
    notebook = run(tmp_path, name, **parameters)
    text = said(notebook)
    for phrase in expected:
        assert phrase in text
    found = findings_of(notebook)
    for phrase in findings:
        assert any(phrase in finding for finding in found), (phrase, found)
    assert not [f for f in found if BOOKKEEPING.search(f)]
    check_honest(notebook, *_basis(parameters, name))
    check_page_rules(notebook)
    streams = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "stream"]
    assert not [o for o in streams if o.name == "stderr"]


def check_page_rules(notebook: nbformat.NotebookNode) -> None:
    """What a reader of the page sees: no parameter talk, named bars, the money note only with money, captions."""
    text = said(notebook)
    pages = text + "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert "parameter" not in pages.lower()
    for chart in charts(notebook):
        assert chart["text/plain"].strip(), "every chart has its alt text"
        labels = " ".join(re.findall(r"<text[^>]*>(.*?)</text>", chart["image/svg+xml"], flags=re.S))
        assert not re.search(r"WP-[A-Z]+-\d\d", labels + chart["text/plain"]), "a bar is named by what it is"
    assert ("How money is shown" in text) == bool(money_figures(text))
    outputs = [o for c in notebook.cells for o in c.get("outputs", [])]
    for output in outputs:
        if "text/html" in output.get("data", {}):
            assert output.data["text/plain"].startswith("<table ") and ": " in output.data["text/plain"], "captioned"
            assert output.metadata["text/csv"]["name"]


def test_the_checks_catch_a_sum():
    """The money check fails on the false totals the issue found."""
    allowed = single_record_amounts("USD", "current", 2022)
    assert "approximately $6 billion" in allowed and "$120 million" in allowed
    assert not {"$6.5 billion", "$19.6 million", "$6 billion"} & allowed  # sums, and a lost "approximately"
    yen = single_record_amounts("JPY", "current", 2022)
    assert "approximately ¥14 billion" in yen and "¥13 billion" not in yen  # the chapter's yen, not a conversion
    assert "¥663 billion" not in yen and "approximately ¥0.7 trillion" in yen
    assert pledge_shares() == {"approximately 180%", "133%"}
    assert money_figures("pledges of approximately $6 billion and $120 million") == ["approximately $6 billion", "$120 million"]
    assert people_figures("approximately 20,000 people and 65 graduates") == [(True, 20000), (False, 65)]


@pytest.mark.parametrize("shown", [
    "pledges of approximately $6.5 billion",  # a total of three pledges
    "$6 billion for the Middle East",  # the chapter's "approximately" lost
    "training for approximately 52,000 people",  # people pledged by three packages added
    "20,000 people",  # "approximately" lost
    "¥13.3 billion",  # the Africa pledge converted although the chapter gives it in yen
    "WP-CT-04 approximately ¥14 billion",  # the restatement as an entry of its own
    "80 / 45 = 178% of the pledge",  # more precise than an approximate pledge
    "180% of the pledge",  # derived from an approximate pledge without its "approximately"
])
def test_the_checks_fail_on_what_the_issue_found(shown):
    bundle = nbformat.v4.new_output("display_data", data={"text/markdown": shown})
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=[bundle])])
    with pytest.raises(AssertionError):
        check_honest(notebook, "USD" if "$" in shown else "JPY", "current", 2022)


# --- bad parameters stop with the valid choices -------------------------------------------------

BAD_PARAMETERS = {
    "theme": ("profile", {"theme": "pirates"}, "parameter 'theme' = 'pirates' is not valid; choose one of: police_capacity, counter_terrorism"),
    "theme-and-region-none": ("profile", {"theme": None, "region": None}, "parameters 'theme' and 'region' are both None"),
    "currency": ("security_overview", {"currency": "EUR"}, "parameter 'currency' = 'EUR' is not valid; choose one of: USD, JPY"),
    "region": ("profile", {"region": "Europe"}, "parameter 'region' = 'Europe' is not valid; choose one of: Asia, Middle East, Africa, Latin America, Global"),
    "base_year": ("pledge_tracker", {"prices": "constant", "base_year": 1990}, "parameter 'base_year' = 1990 is not valid; choose a year from 2000 to 2023"),
    "prices": ("profile", {"prices": "real"}, "parameter 'prices' = 'real' is not valid; choose one of: current, constant"),
}


@pytest.mark.notebooks
@pytest.mark.parametrize("case", list(BAD_PARAMETERS))
def test_bad_parameter_stops_with_the_valid_choices(tmp_path, case):
    name, parameters, message = BAD_PARAMETERS[case]
    with pytest.raises(papermill.PapermillExecutionError) as info:
        run(tmp_path, name, **parameters)
    assert info.value.ename == "ParameterError"
    assert message in info.value.evalue


# --- the stored notebooks -------------------------------------------------------------------


def _stored(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


@pytest.mark.parametrize("name", NARRATIVE)
def test_stored_notebook_layout(name):
    notebook = _stored(name)
    nbformat.validate(notebook)
    # Exactly what `make` installs, so opening and saving the notebook in Lab changes nothing.
    assert notebook.metadata.kernelspec == {"name": "python3", "display_name": "Python 3 (oda_data)", "language": "python"}
    # nbformat 4.5 with fixed cell ids: Lab saves 4.5 and would otherwise add random ids.
    assert notebook.nbformat_minor == 5
    assert all(re.fullmatch(r"[a-z]+-\d{2}", cell.id) for cell in notebook.cells)
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")
    code = [c for c in notebook.cells if c.cell_type == "code"]
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert tagged == [code[0]] and notebook.cells[1] is code[0]
    lines = code[0].source.splitlines()
    assert lines[0] == "# Parameters"
    assert all(re.match(r"^\w+ = .+  # \S", line) for line in lines[1:]), "one described parameter per line"
    assert "check_" in code[1].source and "oda_data.params" in code[1].source
    # The analysis is in the notebook, in pandas, not in package calls that write it.
    source = "\n".join(c.source for c in code)
    assert not re.search(r"\b(narrative|analysis|plots)\.", source)
    assert ("fmt.table(" in source or "record_table(" in source) and "display(Markdown(" in source
    assert "style.show(" in source or "amount_chart(" in source
    assert all(len(c.source.splitlines()) <= 40 for c in code), "cells stay short enough to read and change"


@pytest.mark.parametrize("name", NARRATIVE)
def test_stored_outputs_are_clean(name):
    notebook = _stored(name)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    assert "papermill" not in notebook.metadata
    assert all("papermill" not in c.metadata and "execution" not in c.metadata for c in notebook.cells)
    outputs = [o for c in code for o in c.outputs]
    assert outputs, "stored with the default parameters' outputs"
    assert not [o for o in outputs if o.output_type in ("error", "stream")]
    for output in outputs:
        data = output.get("data", {})
        assert set(data) <= {"text/markdown", "text/plain", "text/html", "text/csv", "image/svg+xml"}
        plain = data.get("text/plain", "")
        assert not re.search(r"0x[0-9a-f]{6,}|/(?:home|tmp|work|Users)/", plain + data.get("text/html", ""))
        if "text/html" in data:
            assert re.fullmatch(r"<table .*rows x \d+ columns>", plain) and "text/csv" in data
        if "image/svg+xml" in data:
            assert output.metadata == {"image/svg+xml": {"alt": plain}} and plain
    assert findings_of(notebook)
