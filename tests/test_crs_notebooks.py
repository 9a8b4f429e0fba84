"""The CRS notebooks run with papermill on the project's CRS files and on ../shared/data.

Each run executes a notebook of ``notebooks/`` (kernel ``python3``, working
folder ``notebooks/``) and looks for numbers computed here, independently of
the notebook's code: donor totals with pandas on the raw file, theme totals
with ``read_crs`` + ``tag_themes`` + a plain groupby. The numbers are searched
in what the notebook displayed (its Markdown read back as plain text).
"""
from __future__ import annotations

import re

import nbformat
import pandas as pd
import papermill
import pytest

import oda_data
from conftest import REPO_ROOT
from crs_testlib import FIXTURES, REAL_SUMMARY
from oda_data import crs_analysis
from notebook_testlib import NOTEBOOKS, images, run, said

DEMO = crs_analysis.demo_source_path()
pytestmark = pytest.mark.notebooks


def raw_outputs(notebook: nbformat.NotebookNode) -> str:
    return "\n".join(str(o) for c in notebook.cells for o in c.get("outputs", []))


def usd(value: float) -> str:
    return f"{value:,.2f}"


def tagged(path) -> pd.DataFrame:
    return oda_data.tag_themes(oda_data.read_crs(path))


def assert_clean(notebook: nbformat.NotebookNode) -> None:
    """No error, nothing on stderr, no absolute path of this machine in any output."""
    text = raw_outputs(notebook)
    for folder in {str(REPO_ROOT), str(REPO_ROOT.parent), str(DEMO.parent)}:
        assert folder not in text
    assert not re.search(r"(?<![\w.])/(?:tmp|home|work|root)/", text)
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            assert output.output_type != "error"
            assert not (output.output_type == "stream" and output.name == "stderr"), output.text


# --- crs_security_trends ---------------------------------------------------------------------------------


def test_trends_default_runs_on_the_demo_data(tmp_path, monkeypatch):
    monkeypatch.delenv(crs_analysis.SOURCE_ENV_VAR, raising=False)
    notebook = run(tmp_path, "crs_security_trends")
    text = said(notebook)
    assert text.lstrip().startswith("Demonstration data, not OECD figures.")
    rows = tagged(DEMO)
    security = rows.loc[rows["theme"].notna()]
    japan = security.loc[security["donor_code"] == 701]
    assert f"Japan reported USD {usd(japan['usd_disbursement'].sum())} million of gross disbursements" in text
    # Theme x year table: the maritime row, every year and the total.
    maritime = japan.loc[japan["theme"] == "maritime_security"].groupby("year")["usd_disbursement"].sum()
    cells = " | ".join(usd(maritime.get(year, 0.0)) for year in range(2016, 2021))
    assert f"| Maritime security and piracy | {cells} | {usd(maritime.sum())} |" in text
    # Donors: totals straight from the CSV, security shares of each donor's own total.
    raw = pd.read_csv(DEMO)
    for code, total in raw.groupby("DonorCode")["USD_Disbursement"].sum().items():
        own = security.loc[security["donor_code"] == code, "usd_disbursement"].sum()
        name = raw.loc[raw["DonorCode"] == code, "DonorName"].iloc[0]
        assert f"| {name} | {'yes' if code == 701 else ''} | {usd(own)} | {usd(total)} | {own / total * 100:.1f}% |" in text
    top = japan.groupby("recipient_name")["usd_disbursement"].sum().sort_values(ascending=False)
    assert f"| 1 | {top.index[0]} | Asia | {usd(top.iloc[0])} |" in text
    assert f"The largest recipient was {top.index[0]} (USD {usd(top.iloc[0])} million" in text
    assert images(notebook) == 3
    assert_clean(notebook)


def test_trends_on_a_bulk_fixture_commitments_constant(tmp_path):
    source = FIXTURES / "bulk_2018_pipe_utf8.txt"
    notebook = run(tmp_path, "crs_security_trends", crs_source=str(source), flow="commitments", prices="constant")
    text = said(notebook)
    assert "Source: the OECD CRS file `bulk_2018_pipe_utf8.txt`, named by the `crs_source` parameter." in text
    rows = tagged(source)
    japan = rows.loc[(rows["donor_code"] == 701) & rows["theme"].notna()]
    assert f"Japan reported USD {usd(japan['usd_commitment_constant'].sum())} million of commitments" in text
    assert "constant prices (the CRS release's base year)" in text
    by_year = japan.groupby("year")["usd_commitment_constant"].sum()
    assert f"from USD {usd(by_year[2018])} million in 2018 to USD {usd(by_year[2020])} million in 2020" in text
    assert_clean(notebook)


def test_trends_two_donors_some_themes_some_years(tmp_path):
    notebook = run(tmp_path, "crs_security_trends", donors=[701, 302], themes=["maritime_security", "drug_trafficking"],
                   years=[2018, 2019])
    text = said(notebook)
    rows = tagged(DEMO)
    chosen = rows.loc[rows["donor_code"].isin([701, 302]) & rows["theme"].isin(["maritime_security", "drug_trafficking"])
                      & rows["year"].isin([2018, 2019])]
    assert f"Over 2018–2019, Japan and United States together reported USD {usd(chosen['usd_disbursement'].sum())} million" in text
    assert "| Theme | 2018 | 2019 | Total |" in text
    assert "| Police capacity building |" not in text
    assert "United States ranks" in text and "Japan ranks" in text


@pytest.mark.parametrize("parameters,words", [
    ({"flow": "grants"}, ["parameter 'flow' = 'grants' is not valid", "disbursements, commitments"]),
    ({"themes": ["pirates"]}, ["parameter 'themes' = 'pirates' is not valid", "maritime_security"]),
    ({"crs_source": "no_such_crs_file.txt"}, ["CRS source not found", "no_such_crs_file.txt"]),
])
def test_trends_bad_parameters_stop_with_a_clear_message(tmp_path, parameters, words):
    with pytest.raises(papermill.PapermillExecutionError) as error:
        run(tmp_path, "crs_security_trends", **parameters)
    for word in words:
        assert word in str(error.value)


@pytest.mark.shared_data
def test_trends_on_the_real_summary_file(tmp_path, shared_data):
    notebook = run(tmp_path, "crs_security_trends", crs_source=str(REAL_SUMMARY))
    text = said(notebook)
    raw = pd.read_csv(REAL_SUMMARY, encoding="utf-8-sig").dropna(how="all")
    japan_total = raw.loc[raw["donor_code"] == 701, "value"].sum()
    japan_security = raw.loc[(raw["donor_code"] == 701) & raw["purpose_code"].isin([15210, 16063]), "value"].sum()
    assert f"security is {japan_security / japan_total * 100:.1f}% of Japan's own total (USD {usd(japan_total)} million" in text
    assert "no project titles or descriptions" in text
    assert "Demonstration data" not in text
    assert_clean(notebook)


# --- white_paper_vs_crs --------------------------------------------------------------------------------------


def test_white_paper_vs_crs_default_runs_on_the_demo_data(tmp_path, monkeypatch):
    monkeypatch.delenv(crs_analysis.SOURCE_ENV_VAR, raising=False)
    notebook = run(tmp_path, "white_paper_vs_crs")
    text = said(notebook)
    assert text.lstrip().startswith("Demonstration data, not OECD figures.")
    rows = tagged(DEMO)
    somalia = rows.loc[(rows["donor_code"] == 701) & (rows["recipient_code"] == 273) & rows["year"].between(2007, 2018)]
    crs = somalia["usd_disbursement"].sum()
    assert f"| 468.00 | 2016–2018 (2007–2018) | {len(somalia)} | {usd(crs)} | {usd(468 - crs)} | {crs / 468 * 100:.1f}% |" in text
    imo = rows.loc[(rows["donor_code"] == 701) & (rows["channel_code"] == 41145) & (rows["theme"] == "maritime_security")
                   & rows["year"].between(2009, 2018), "usd_disbursement"].sum()
    assert "| 15.10 | 2016–2018 (2009–2018) |" in text and f"| {usd(imo)} | {usd(15.1 - imo)} |" in text
    assert "| WP-CT-02 | pledge | 20,000 people | People trained are not recorded in the CRS" in text
    assert "core contributions to an organisation's budget are multilateral ODA" in text
    assert images(notebook) == 1
    assert_clean(notebook)


def test_white_paper_vs_crs_reads_ODA_CRS_SOURCE(tmp_path, monkeypatch):
    source = FIXTURES / "bulk_2018_pipe_utf8.txt"
    monkeypatch.setenv(crs_analysis.SOURCE_ENV_VAR, str(source))
    notebook = run(tmp_path, "white_paper_vs_crs")
    text = said(notebook)
    assert "Source: the OECD CRS file `bulk_2018_pipe_utf8.txt`, named by the environment variable `ODA_CRS_SOURCE`." in text
    rows = tagged(source)
    asean = rows.loc[(rows["donor_code"] == 701) & rows["year"].between(2016, 2018)
                     & rows["recipient_code"].isin([728, 738, 745, 751, 635, 755, 764, 769, 789])
                     & rows["theme"].notna() & (rows["theme"] != "outer_space")]
    assert f"| 2018 (2016–2018) | {len(asean)} | {usd(asean['usd_commitment'].sum())} |" in text
    assert "The source holds none of the years 2016–2017" in text  # WP-CT-08
    assert_clean(notebook)


@pytest.mark.shared_data
def test_white_paper_vs_crs_on_the_real_summary_file(tmp_path, shared_data):
    notebook = run(tmp_path, "white_paper_vs_crs", crs_source=str(REAL_SUMMARY))
    text = said(notebook)
    raw = pd.read_csv(REAL_SUMMARY, encoding="utf-8-sig").dropna(how="all")
    somalia = raw.loc[(raw["donor_code"] == 701) & (raw["recipient_code"] == 273) & raw["year"].between(2007, 2018), "value"]
    assert f"| 2018 (2007–2018) | {len(somalia)} | {usd(somalia.sum())} |" in text
    assert "The source carries no commitments amounts" in text
    assert_clean(notebook)


# --- the stored notebooks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["crs_security_trends", "white_paper_vs_crs"])
def test_stored_notebooks_are_clean(name):
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert notebook.metadata.kernelspec == {"display_name": "Python 3", "language": "python", "name": "python3"}
    tagged_cells = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged_cells) == 1 and "crs_source = None" in tagged_cells[0].source
    assert "papermill" not in notebook.metadata
    text = raw_outputs(notebook)
    assert said(notebook).lstrip().startswith("Demonstration data, not OECD figures.")
    assert str(REPO_ROOT) not in text and "Traceback" not in text
    for cell in notebook.cells:
        assert "execution" not in cell.metadata
