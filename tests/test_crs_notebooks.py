"""The two CRS notebooks, run with papermill: numbers and honesty rules, not sentences.

Expected numbers are computed here another way: donor totals with pandas
straight from the raw file, theme totals with ``read_crs`` + ``tag_themes``
and plain masks, White Paper queries with masks written out in this file.
Tables are read back from the notebook's HTML (``notebook_testlib.read_table``), prose
from its Markdown outputs.
"""
from __future__ import annotations

import io
import itertools
import re
from pathlib import Path

import nbformat
import pandas as pd
import papermill
import pytest
import yaml

import oda_data
from oda_data import fmt
from oda_data.crs.demo import DEMO_PATH, ENV_VAR

from conftest import REPO_ROOT
from notebook_testlib import read_table, unescape
from crs_testlib import FIXTURES, REAL_SUMMARY, bulk_text_rows

pytestmark = pytest.mark.notebooks
NOTEBOOKS = REPO_ROOT / "notebooks"
DEMO_LABEL = "Demonstration data, not OECD figures"
FIXTURE = FIXTURES / "bulk_2018_pipe_utf8.txt"
QUERIES = yaml.safe_load((DEMO_PATH.parent / "white_paper_crs_queries.yaml").read_text(encoding="utf-8"))["records"]
REGION_RANGES = {"Africa": [(100, 299), (1027, 1030)], "Middle East": [(500, 599)], "Asia": [(600, 799)]}


# --- running and reading -------------------------------------------------------------------------------------


def run(tmp_path: Path, name: str, **parameters) -> nbformat.NotebookNode:
    output = tmp_path / f"{name}.ipynb"
    papermill.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(output), parameters=parameters,
                               kernel_name="python3", cwd=str(NOTEBOOKS), progress_bar=False, log_output=False)
    return nbformat.read(output, as_version=4)


def outputs(notebook):
    return [o for cell in notebook.cells for o in cell.get("outputs", [])]


def prose(notebook) -> list[str]:
    """Each Markdown output as plain text (escapes undone, bold markers dropped)."""
    return [unescape(re.sub(r"(?<!\\)\*\*", "", o["data"]["text/markdown"]))
            for o in outputs(notebook) if "text/markdown" in o.get("data", {})]


def findings(notebook) -> list[str]:
    """The bullets of the one cell tagged ``findings`` (the page opens with them), as plain text."""
    cells = [c for c in notebook.cells if "findings" in c.metadata.get("tags", [])]
    assert len(cells) == 1 and len(cells[0].outputs) == 1
    lines = cells[0].outputs[0]["data"]["text/markdown"].split("\n")
    assert 3 <= len(lines) <= 6 and all(line.startswith("- ") for line in lines), lines
    return [unescape(line[2:]) for line in lines]


def about(notebook) -> str:
    """The paragraph that says which CRS file the page reads and who chose it."""
    return next(text for text in prose(notebook) if " chosen by " in text or " named by " in text)


def tables(notebook) -> list[pd.DataFrame]:
    return [read_table(o["data"]["text/html"]) for o in outputs(notebook)
            if "<table" in o.get("data", {}).get("text/html", "") and "oda_" in o["data"]["text/html"]]


def table_with(notebook, column: str) -> pd.DataFrame:
    return next(t for t in tables(notebook) if column in t.columns)


def everything_shown(notebook) -> str:
    return "\n".join(prose(notebook) + [t.to_csv(index=False) for t in tables(notebook)])


def number(cell: str) -> float:
    return float(cell.replace(",", "").rstrip("%"))


def assert_clean(notebook) -> None:
    """No error, nothing on stderr, no absolute path, every chart an SVG with its alt text."""
    text = "\n".join(str(o) for o in outputs(notebook))
    assert str(REPO_ROOT) not in text and not re.search(r"(?<![\w.])/(?:tmp|home|work|root)/", text)
    for output in outputs(notebook):
        assert output.output_type != "error"
        assert not (output.output_type == "stream" and output.name == "stderr"), output.text
        assert "image/png" not in output.get("data", {})
        if "image/svg+xml" in output.get("data", {}):
            assert output.metadata["image/svg+xml"]["alt"] == output.data["text/plain"]


def svg_count(notebook) -> int:
    return sum("image/svg+xml" in o.get("data", {}) for o in outputs(notebook))


def tagged(path) -> pd.DataFrame:
    return oda_data.tag_themes(oda_data.read_crs(path))


# --- where the data comes from ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["crs_security_trends", "white_paper_vs_crs"])
@pytest.mark.parametrize("how", ["parameter", "ODA_CRS_SOURCE", "renamed copy"])
def test_the_demo_file_says_so_however_chosen(tmp_path, monkeypatch, name, how):
    if how == "parameter":
        monkeypatch.delenv(ENV_VAR, raising=False)
        notebook = run(tmp_path, name, crs_source="../oda_data/data/crs_demo_security_2016_2020.csv")
    else:
        path = DEMO_PATH
        if how == "renamed copy":
            path = tmp_path / "crs_2020.csv"
            path.write_bytes(DEMO_PATH.read_bytes())
        monkeypatch.setenv(ENV_VAR, str(path))
        notebook = run(tmp_path, name)
    assert findings(notebook)[0].startswith(DEMO_LABEL)
    first = about(notebook)
    assert first.startswith(DEMO_LABEL)
    assert ("the environment variable `ODA_CRS_SOURCE`" in first) == (how != "parameter")
    assert_clean(notebook)


@pytest.mark.parametrize("name", ["crs_security_trends", "white_paper_vs_crs"])
def test_a_source_from_the_environment_is_said_to_come_from_it(tmp_path, monkeypatch, name):
    monkeypatch.setenv(ENV_VAR, str(FIXTURE))
    notebook = run(tmp_path, name)
    first = about(notebook)
    assert "ODA_CRS_SOURCE" in first and FIXTURE.name in first
    assert DEMO_LABEL not in everything_shown(notebook)
    assert_clean(notebook)


# --- crs_security_trends ---------------------------------------------------------------------------------


def test_trends_default_numbers_on_the_demo(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    notebook = run(tmp_path, "crs_security_trends")
    assert findings(notebook)[0].startswith(DEMO_LABEL) and about(notebook).startswith(DEMO_LABEL)
    rows = tagged(DEMO_PATH)
    japan = rows.loc[(rows["donor_code"] == 701) & rows["theme"].notna()]
    # Theme x year table: every theme row, every year and the totals.
    table = table_with(notebook, "2016").set_index("Theme (USD million, current prices)")
    for theme, label in oda_data.THEMES.items():
        by_year = japan.loc[japan["theme"] == theme].groupby("year")["usd_disbursement"].sum()
        for year in range(2016, 2021):
            assert number(table.loc[label, str(year)]) == pytest.approx(by_year.get(year, 0.0), abs=0.005)
    assert number(table.loc["All themes", "All years"]) == pytest.approx(japan["usd_disbursement"].sum(), abs=0.005)
    # Donors: totals straight from the CSV, security share of each donor's own total.
    raw = pd.read_csv(DEMO_PATH)
    donors = table_with(notebook, "Donor").set_index("Donor")
    for code, total in raw.groupby("DonorCode")["USD_Disbursement"].sum().items():
        name = raw.loc[raw["DonorCode"] == code, "DonorName"].iloc[0]
        own = rows.loc[(rows["donor_code"] == code) & rows["theme"].notna(), "usd_disbursement"].sum()
        assert number(donors.loc[name, "Total, every purpose (USD million, current prices)"]) == pytest.approx(total, abs=0.005)
        assert number(donors.loc[name, "Security in % of the donor's total"]) == pytest.approx(own / total * 100, abs=0.05)
        assert donors.loc[name, "Chosen"] == ("yes" if code == 701 else "no")
    shares = [number(v) for v in donors["Share of all donors' security ODA"]]
    assert sum(shares) == pytest.approx(100, abs=0.5)
    top = japan.groupby("recipient_name")["usd_disbursement"].sum().sort_values(ascending=False)
    recipients = table_with(notebook, "Recipient")
    assert recipients["Recipient"].iloc[0] == top.index[0]
    assert number(recipients.iloc[0, 2]) == pytest.approx(top.iloc[0], abs=0.005)
    said = findings(notebook)
    assert fmt.money(japan["usd_disbursement"].sum() * 1e6) in said[1]
    share = japan["usd_disbursement"].sum() / raw.loc[raw["DonorCode"] == 701, "USD_Disbursement"].sum()
    assert f"{fmt.percent(share, 1)} of its gross disbursements for every purpose" in said[1]
    by_theme = japan.groupby("theme")["usd_disbursement"].sum().sort_values(ascending=False)
    assert said[3].startswith(f"{oda_data.THEMES[by_theme.index[0]]} is the largest theme")
    if by_theme.index[0] == "police_capacity":  # 15210 named for what it is
        assert "15210, security system management and reform" in said[3]
    assert "not count activities combating terrorism as ODA" in said[4]
    assert svg_count(notebook) == 3
    assert_clean(notebook)


def test_trends_on_a_bulk_file_commitments_constant(tmp_path, monkeypatch):
    """A current-price file in constant yen: each donor's DAC rate and deflator of the year (oda_data.convert)."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    notebook = run(tmp_path, "crs_security_trends", crs_source=str(FIXTURE), flow="commitments", currency="JPY",
                   prices="constant", base_year=2015)
    assert DEMO_LABEL not in everything_shown(notebook)
    assert "the `crs_source` parameter" in about(notebook)
    raw = pd.DataFrame(bulk_text_rows(FIXTURE.name))
    raw = raw.assign(amount=pd.to_numeric(raw["usd_commitment"]), donor_code=raw["donorcode"].astype(int),
                     year=raw["year"].astype(int), currency="USD")
    raw = oda_data.convert(raw, amount="amount", to="JPY", prices="constant", base_year=2015, donor="donor_code",
                           fallback_donor=20002, column="value")
    donors = table_with(notebook, "Donor")
    column = "Total, every purpose (JPY million, constant 2015 prices)"
    expected = raw.groupby("donor_code")["value"].sum()
    shown = dict(zip(donors["Donor"], donors[column].map(number)))
    assert sorted(shown.values()) == pytest.approx(sorted(expected.round(2)), abs=0.005)
    rows = oda_data.convert(tagged(FIXTURE).assign(currency="USD"), amount="usd_commitment", to="JPY",
                            prices="constant", base_year=2015, donor="donor_code", fallback_donor=20002, column="value")
    japan = rows.loc[(rows["donor_code"] == 701) & rows["theme"].notna(), "value"].sum()
    assert number(donors.set_index("Donor").loc["Japan", column.replace("Total, every purpose", "Security")]) == \
        pytest.approx(japan, abs=0.005)
    assert "JPY, constant 2015 prices" in findings(notebook)[0]
    assert_clean(notebook)


def test_trends_two_donors_some_themes_some_years(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    notebook = run(tmp_path, "crs_security_trends", donors=[701, 302], themes=["maritime_security", "drug_trafficking"],
                   years=[2018, 2019])
    rows = tagged(DEMO_PATH)
    chosen = rows.loc[rows["donor_code"].isin([701, 302]) & rows["theme"].isin(["maritime_security", "drug_trafficking"])
                      & rows["year"].isin([2018, 2019])]
    table = table_with(notebook, "2018")
    assert list(table.columns[1:]) == ["2018", "2019", "All years"]
    assert list(table.iloc[:, 0]) == ["Drug trafficking", "Maritime security and piracy", "All themes"]
    assert number(table.iloc[-1, -1]) == pytest.approx(chosen["usd_disbursement"].sum(), abs=0.005)
    donors = table_with(notebook, "Donor")
    assert set(donors.loc[donors["Chosen"] == "yes", "Donor"]) == {"Japan", "United States"}


@pytest.mark.shared_data
def test_trends_on_the_real_summary_file(tmp_path, monkeypatch, shared_data):
    monkeypatch.delenv(ENV_VAR, raising=False)
    notebook = run(tmp_path, "crs_security_trends", crs_source=str(REAL_SUMMARY))
    assert DEMO_LABEL not in everything_shown(notebook)
    raw = pd.read_csv(REAL_SUMMARY, encoding="utf-8-sig").dropna(how="all")
    donors = table_with(notebook, "Donor").set_index("Donor")
    for code, total in raw.groupby("donor_code")["value"].sum().items():
        name = raw.loc[raw["donor_code"] == code, "donor_name"].iloc[0]
        assert number(donors.loc[name, "Total, every purpose (USD million, current prices)"]) == pytest.approx(total, abs=0.005)
    # Without titles only the purpose codes that alone make a theme (15210, 16063) tag a row.
    japan = raw.loc[raw["donor_code"] == 701]
    security = japan.loc[japan["purpose_code"].isin([15210, 16063]), "value"].sum()
    assert number(donors.loc["Japan", "Security in % of the donor's total"]) == pytest.approx(
        security / japan["value"].sum() * 100, abs=0.05)
    assert any("no project titles or descriptions" in text for text in prose(notebook))
    assert_clean(notebook)


@pytest.mark.parametrize("parameters,words", [
    ({"flow": "grants"}, ["'flow'", "disbursements, commitments"]),
    ({"prices": "real"}, ["'prices'", "current, constant"]),
    ({"themes": ["pirates"]}, ["'themes'", ", ".join(oda_data.THEMES)]),
    ({"themes": []}, ["'themes' is empty", "maritime_security"]),
    ({"donors": [999]}, ["'donors' = 999", ", ".join(map(str, sorted(pd.read_csv(DEMO_PATH)["DonorCode"].unique())))]),
    ({"years": [2015]}, ["'years' = 2015", "2016, 2017, 2018, 2019, 2020"]),
    ({"donors": "JPN"}, ["'donors' = 'JPN'", "whole numbers such as [701]"]),
    ({"years": ["2018"]}, ["'years'", "whole numbers"]),
    ({"crs_source": "no_such_crs_file.txt"}, ["no_such_crs_file.txt", "crs_source parameter", "does not exist"]),
])
def test_trends_bad_parameters_name_the_valid_choices(tmp_path, monkeypatch, parameters, words):
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(papermill.PapermillExecutionError) as error:
        run(tmp_path, "crs_security_trends", **parameters)
    for word in words:
        assert word in str(error.value)


@pytest.mark.shared_data
def test_trends_flow_missing_from_the_file_lists_what_it_has(tmp_path, monkeypatch, shared_data):
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(papermill.PapermillExecutionError) as error:
        run(tmp_path, "crs_security_trends", crs_source=str(REAL_SUMMARY), flow="commitments")
    assert "no such amounts; choose one of: flow='disbursements'" in str(error.value)


def test_white_paper_vs_crs_missing_source_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "no_such_crs_file.txt")
    with pytest.raises(papermill.PapermillExecutionError) as error:
        run(tmp_path, "white_paper_vs_crs")
    assert "no_such_crs_file.txt" in str(error.value) and "environment variable ODA_CRS_SOURCE" in str(error.value)


# --- white_paper_vs_crs ----------------------------------------------------------------------------------


def in_region(codes: pd.Series, region: str) -> pd.Series:
    mask = pd.Series(False, index=codes.index)
    for first, last in REGION_RANGES[region]:
        mask |= codes.between(first, last).fillna(False).astype(bool)
    return mask


def query_total(rows: pd.DataFrame, query: dict) -> tuple[float, int]:
    """A query of the table evaluated with masks written out here (not the notebook's)."""
    first, last = query["years"]
    mask = rows["donor_code"].isin(query.get("donors", [701])) & rows["year"].between(first, last)
    if "recipients" in query:
        mask &= rows["recipient_code"].isin(query["recipients"])
    for region in query.get("recipient_regions", []):
        mask &= in_region(rows["recipient_code"].astype("float64"), region)
    if "themes" in query:
        mask &= rows["theme"].isin(query["themes"]).fillna(False).astype(bool)
    if "channels" in query:
        mask &= rows["channel_code"].isin(query["channels"])
    mask = mask.fillna(False).astype(bool)
    column = "usd_disbursement" if query["flow"] == "disbursements" else "usd_commitment"
    return float(rows.loc[mask, column].fillna(0).sum()), int(mask.sum())


def figures() -> pd.DataFrame:
    """The chapter's figures, counted as the overview counts them (a restatement with its original)."""
    wp = oda_data.white_paper()
    return wp.loc[wp[["amount", "people", "countries"]].notna().any(axis=1) & wp["equivalent_of"].isna()]


def check_comparison(notebook, path) -> pd.DataFrame:
    rows = tagged(path)
    file_years = set(rows["year"])
    comparison = table_with(notebook, "CRS, USD million").set_index("Record")
    for record_id, entry in QUERIES.items():
        if entry["counterpart"] != "crs":
            assert record_id not in comparison.index
            continue
        query = entry["query"]
        total, activities = query_total(rows, query)
        covered = file_years & set(range(query["years"][0], query["years"][1] + 1))
        if covered and rows["usd_commitment" if query["flow"] == "commitments" else "usd_disbursement"].notna().any():
            assert number(comparison.loc[record_id, "CRS, USD million"]) == pytest.approx(total, abs=0.005), record_id
            assert int(comparison.loc[record_id, "Activities"]) == activities
        else:
            assert comparison.loc[record_id, "CRS, USD million"] == "", record_id
    return comparison


FLOW_RULE = {"pledge": "commitments", "achievement": "disbursements", "contribution": "disbursements",
             "disbursement": "disbursements"}


def test_every_query_follows_the_one_flow_rule():
    """Pledges with commitments (what was signed); achievements, contributions, disbursements with disbursements."""
    wp = figures().set_index("record_id")
    for record_id, entry in QUERIES.items():
        if entry["counterpart"] == "crs":
            assert entry["query"]["flow"] == FLOW_RULE[wp.at[record_id, "kind"]], record_id
    assert QUERIES["WP-CT-01"]["query"]["flow"] == QUERIES["WP-CT-03"]["query"]["flow"] == "commitments"
    assert QUERIES["WP-CT-08"]["query"]["flow"] == "disbursements"
    # The ASEAN queries leave out pillar (iii): they say so, and the notebook gives them no gap.
    for record_id in ("WP-CT-06", "WP-CT-08"):
        assert "social and economic development" in QUERIES[record_id]["partial"]
    # Nothing the chapter or a named source does not say.
    text = QUERIES_YAML_TEXT.lower()
    assert "almost surely" not in text and "fund's creation" not in text and "code's adoption" not in text


QUERIES_YAML_TEXT = (DEMO_PATH.parent / "white_paper_crs_queries.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def on_the_demo(tmp_path_factory):
    import os
    saved = os.environ.pop(ENV_VAR, None)
    try:
        return run(tmp_path_factory.mktemp("vs"), "white_paper_vs_crs")
    finally:
        if saved is not None:
            os.environ[ENV_VAR] = saved


def test_white_paper_vs_crs_default_on_the_demo(on_the_demo):
    notebook = on_the_demo
    assert findings(notebook)[0].startswith(DEMO_LABEL) and about(notebook).startswith(DEMO_LABEL)
    comparison = check_comparison(notebook, DEMO_PATH)
    wp = figures().set_index("record_id")
    unmatched = table_with(notebook, "Why not in the CRS")
    assert len(comparison) + len(unmatched) == len(wp)
    assert comparison.loc["WP-CT-03", "White Paper, USD"] == "$120 million"  # the chapter's own dollar figure
    assert comparison.loc["WP-MAR-12", "White Paper, USD"] == "approximately $468 million"
    for record_id, row in comparison.iterrows():  # the flow of the rule, shown in the row
        assert row["CRS query"].startswith(FLOW_RULE[wp.at[record_id, "kind"]])
    assert svg_count(notebook) == 1
    assert_clean(notebook)


def test_conversions_run_over_the_querys_years(on_the_demo):
    comparison = table_with(on_the_demo, "CRS, USD million").set_index("Record")
    csv = next(pd.read_csv(io.StringIO(o["data"]["text/csv"])) for o in outputs(on_the_demo)
               if "CRS, USD million" in o.get("data", {}).get("text/csv", "").partition("\n")[0]).set_index("Record")
    for record_id, amount, (first, last) in (("WP-CT-06", 45e9, (2016, 2018)), ("WP-CT-08", 80e9, (2016, 2017))):
        assert QUERIES[record_id]["query"]["years"] == [first, last]
        usd = oda_data.convert_amount(amount, "JPY", period_start=first, period_end=last, to="USD")
        assert csv.at[record_id, "white_paper_usd"] == pytest.approx(usd)
        approximate = record_id == "WP-CT-06"
        assert comparison.loc[record_id, "White Paper, USD"] == fmt.money(usd, approximate=approximate,
                                                                          sig=fmt.significant_figures(amount))
    # A total "to date" is compared at current prices as stated: never deflated.
    assert comparison.loc["WP-MAR-09", "White Paper, USD"] == "$15.1 million"
    assert not [c for c in comparison.columns if "constant" in c.lower()]


def test_no_gap_where_the_years_or_the_scope_cover_part_of_the_figure(on_the_demo):
    comparison = table_with(on_the_demo, "CRS, USD million").set_index("Record")
    # The demo file covers 2016-2020: the trust funds (2009-2018) and Somalia (2007-2018) only in part.
    for record_id, years in (("WP-MAR-09", "2009-2018"), ("WP-MAR-10", "2009-2018"), ("WP-MAR-12", "2007-2018")):
        row = comparison.loc[record_id]
        assert row["Gap (White Paper minus CRS)"] == "" and row["CRS in % of the White Paper"] == ""
        assert row["Query years in the file"] == "2016-2018"
        assert row["No gap because"] == f"the file covers 2016-2018 of {years}"
    for record_id in ("WP-CT-06", "WP-CT-08"):  # pillar (iii) left out of the query
        row = comparison.loc[record_id]
        assert row["Gap (White Paper minus CRS)"] == "" and "social and economic development" in row["No gap because"]
    for record_id in ("WP-CT-01", "WP-CT-03"):
        assert comparison.loc[record_id, "Gap (White Paper minus CRS)"].startswith(("$", "approximately $"))
    said = findings(on_the_demo)
    compared = next(f for f in said if f.startswith("Where the file covers every year of the query"))
    assert "WP-CT-01" in compared and "WP-CT-03" in compared
    assert not re.search(r"WP-MAR-|WP-CT-0[68]", compared), "partial rows stay out of what is compared"
    assert not re.search(r"\d+ of \d+ (contributions|disbursement)", " ".join(said))
    assert any("No gap for WP-MAR-09 (the file covers 2016-2018 of 2009-2018)" in f for f in said)


def test_eligibility_and_15210_are_named_for_what_they_are(on_the_demo):
    shown = everything_shown(on_the_demo) + "\n".join(c.source for c in on_the_demo.cells if c.cell_type == "markdown")
    assert "activities combating terrorism" in shown and "DCD/DAC(2017)22/FINAL" in shown
    assert any("Most counter-terrorism spending is not ODA" in f for f in findings(on_the_demo))
    trends = nbformat.read(NOTEBOOKS / "crs_security_trends.ipynb", as_version=4)
    method = "\n".join(c.source for c in trends.cells if c.cell_type == "markdown")
    assert "15210 (security system management and reform" in method and "DCD/DAC(2017)22/FINAL" in method
    assert "police capacity building\"" not in method


def test_white_paper_vs_crs_honesty_rules(on_the_demo):
    notebook = on_the_demo
    shown = everything_shown(notebook)
    wp = oda_data.white_paper()
    # A restated amount appears once: the yen restatement of the Africa pledge is in its original's row only.
    restatement = wp.loc[wp["equivalent_of"].notna()].iloc[0]
    assert shown.count(fmt.money(restatement["amount"], restatement["currency"], approximate=True)) == 1
    comparison = table_with(notebook, "CRS, USD million")
    assert restatement["record_id"] not in set(comparison["Record"])
    # No total of the chapter's figures (amounts or people), of different kinds or not: they sit side by side.
    usd = oda_data.convert(figures(), to="USD", default_year=oda_data.REPORT_YEAR)
    for column, show in (("amount_usd_current", lambda v: [fmt.money(v), fmt.money(v, sig=1), fmt.money(v, sig=2)]),
                         ("people", lambda v: [fmt.count(v)])):
        values = usd.dropna(subset=[column])
        single = {text for value in values[column] for text in show(value)}  # a rounded sum may read like one figure
        for size in range(2, len(values) + 1):
            for combination in itertools.combinations(values.itertuples(), size):
                for text in set(show(sum(getattr(row, column) for row in combination))) - single:
                    assert not re.search(re.escape(text) + r"(?![\d.,])", shown), (text, [r.record_id for r in combination])
    # MAR-12 is Somalia's reconstruction, never presented as maritime-security money.
    somalia = comparison.set_index("Record").loc["WP-MAR-12"]
    assert "maritime security" not in " ".join(somalia).lower().replace("not a maritime", "")
    assert "themes" not in QUERIES["WP-MAR-12"]["query"]
    # Years the chapter does not give are said to be the package's assumption.
    readings = next(text for text in prose(notebook) if "Why this query" in text)
    for record_id, entry in QUERIES.items():
        record = wp.set_index("record_id").loc[record_id]
        if entry["counterpart"] == "crs" and pd.isna(record["period_start"]):
            block = readings.split(record_id, 1)[1].split("\n\n", 2)[1]
            assert "assumes" in block, record_id


@pytest.mark.shared_data
def test_white_paper_vs_crs_on_the_real_summary_file(tmp_path, monkeypatch, shared_data):
    monkeypatch.delenv(ENV_VAR, raising=False)
    notebook = run(tmp_path, "white_paper_vs_crs", crs_source=str(REAL_SUMMARY))
    assert DEMO_LABEL not in everything_shown(notebook)
    comparison = check_comparison(notebook, REAL_SUMMARY).reset_index().set_index("Record")
    raw = pd.read_csv(REAL_SUMMARY, encoding="utf-8-sig").dropna(how="all")
    somalia = raw.loc[(raw["donor_code"] == 701) & (raw["recipient_code"] == 273) & raw["year"].between(2007, 2018)]
    assert number(comparison.loc["WP-MAR-12", "CRS, USD million"]) == pytest.approx(somalia["value"].sum(), abs=0.005)
    assert comparison.loc["WP-CT-01", "CRS, USD million"] == ""  # an export without commitments
    assert_clean(notebook)


def test_white_paper_vs_crs_on_a_bulk_file(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    notebook = run(tmp_path, "white_paper_vs_crs", crs_source=str(FIXTURE))
    assert DEMO_LABEL not in everything_shown(notebook)
    check_comparison(notebook, FIXTURE)
