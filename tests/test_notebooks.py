"""The narrative notebooks: papermill runs with many parameter sets, and the stored notebooks' hygiene.

Each run executes a notebook from ``notebooks/`` (kernel ``python3``, working
directory ``notebooks/``) into ``tmp_path`` and asserts on what it *says*: the
Markdown it displayed (read back as plain text), its streams and its errors.
Runs are separate parametrised tests so ``pytest -n 2`` spreads them.

The stored outputs themselves are checked by nbval (``make test``); the
hygiene tests below make sure they stay clean enough for that.
"""
from __future__ import annotations

import re

import nbformat
import papermill
import pytest

import oda_data
from notebook_testlib import NOTEBOOKS, images, run, said

NARRATIVE = ("security_overview", "theme_profile", "region_profile", "pledge_tracker")


def streams(notebook: nbformat.NotebookNode, name: str) -> str:
    return "".join(
        o.text for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "stream" and o.name == name
    )


# --- security_overview ---------------------------------------------------------------------

OVERVIEW_CASES = {
    "usd-current": (
        {},
        ["In USD, current prices, it states pledges of $6.5 billion", "Pledged: $6.5 billion in all, by region: Middle East ($6.0 billion)", "| approximately $468 million | $468 million |"],
    ),
    "jpy-current": (
        {"currency": "JPY"},
        ["In JPY, current prices, it states pledges of ¥721 billion", "reported achievements of ¥80 billion", "| approximately ¥45 billion | ¥45 billion |"],
    ),
    "jpy-constant-2015": (
        {"currency": "JPY", "prices": "constant", "base_year": 2015},
        ["In JPY, constant 2015 prices, it states pledges of ¥718 billion", "Amounts are in JPY, constant 2015 prices."],
    ),
    "usd-constant-2010": (
        {"currency": "USD", "prices": "constant", "base_year": 2010},
        ["In USD, constant 2010 prices, it states pledges of", "Amounts are in USD, constant 2010 prices."],
    ),
}


@pytest.mark.notebooks
@pytest.mark.parametrize("case", list(OVERVIEW_CASES))
def test_security_overview(tmp_path, case):
    parameters, expected = OVERVIEW_CASES[case]
    notebook = run(tmp_path, "security_overview", **parameters)
    text = said(notebook)
    for phrase in expected:
        assert phrase in text
    assert "pledges training for approximately 52,000 people" in text
    assert "The dated figures run from 2004" in text
    assert images(notebook) == 4  # money by theme, by region, people, timeline
    assert streams(notebook, "stderr") == ""


# --- theme_profile: every theme ---------------------------------------------------------------

THEME_EXPECTATIONS = {
    "police_capacity": ["appears in 2 records", "Guatemala", "The chapter gives no amount of money for it."],
    "counter_terrorism": ["appears in 10 records", "pledges of $6.5 billion and reported achievements of $724 million", "2,653 people trained"],
    "transnational_organized_crime": ["appears in 1 record of the chapter", "United Nations (UNTOC)"],
    "drug_trafficking": ["appears in 3 records", "UNODC", "Amount not stated"],
    "trafficking_in_persons": ["appears in 6 records", "IOM", "Bali Process"],
    "money_laundering": ["appears in 3 records", "FATF", "Iran"],
    "maritime_security": ["$468 million", "Somalia", "65 graduates from 39 countries", "84 graduates from 37 countries"],
    "outer_space": ["appears in 4 records", "JAXA", "Kenya"],
    "cyberspace": ["appears in 4 records", "Viet Nam", "Number of people not stated"],
}


def test_every_theme_has_expectations():
    assert list(THEME_EXPECTATIONS) == list(oda_data.THEMES)


@pytest.mark.notebooks
@pytest.mark.parametrize("theme", list(oda_data.THEMES))
def test_theme_profile(tmp_path, theme):
    notebook = run(tmp_path, "theme_profile", theme=theme)
    text = said(notebook)
    assert f"## {oda_data.THEMES[theme]}" in text
    for phrase in THEME_EXPECTATIONS[theme]:
        assert phrase in text
    assert "Amounts are in USD, current prices." in text
    assert streams(notebook, "stderr") == ""


@pytest.mark.notebooks
def test_theme_profile_in_constant_yen(tmp_path):
    notebook = run(tmp_path, "theme_profile", theme="counter_terrorism", currency="JPY", prices="constant", base_year=2020)
    text = said(notebook)
    assert "| approximately ¥45 billion and 2,000 people | ¥45.7 billion | Pledged | Asia | 2016–2018 |" in text
    assert "| Japan-ASEAN Summit Meeting, Asia | Money (JPY, constant 2020 prices) |" in text
    assert images(notebook) == 1


# --- region_profile: every region --------------------------------------------------------------

REGION_EXPECTATIONS = {
    "Asia": ["Asia appears in 23 records across seven of the nine themes", "¥45 billion", "ReCAAP"],
    "Middle East": ["Middle East appears in 3 records", "approximately $6.0 billion", "Iran"],
    "Africa": ["Africa appears in 8 records", "$468 million", "Somalia", "Kenya"],
    "Latin America": ["Latin America appears in 1 record", "Guatemala", "The chapter gives no amount of money for it."],
    "Global": ["Global (records not tied to one region) appears in 14 records", "FATF", "65 graduates from 39 countries"],
}


def test_every_region_has_expectations():
    assert tuple(REGION_EXPECTATIONS) == oda_data.REGIONS


@pytest.mark.notebooks
@pytest.mark.parametrize("region", list(oda_data.REGIONS))
def test_region_profile(tmp_path, region):
    notebook = run(tmp_path, "region_profile", region=region)
    text = said(notebook)
    assert f"## {region}" in text
    for phrase in REGION_EXPECTATIONS[region]:
        assert phrase in text
    assert streams(notebook, "stderr") == ""


# --- pledge_tracker ---------------------------------------------------------------------------

PLEDGE_CASES = {
    "default-jpy": ({}, ["¥80 billion / ¥45 billion = 178% of the pledge", "¥15 billion a year", "¥40 billion a year"]),
    "usd": ({"currency": "USD"}, ["$724 million / $407 million = 178% of the pledge", "$407 million"]),
    "constant-2020": (
        {"prices": "constant", "base_year": 2020},
        ["Amounts are in JPY, constant 2020 prices.", "= 178% of the pledge"],
    ),
}


@pytest.mark.notebooks
@pytest.mark.parametrize("case", list(PLEDGE_CASES))
def test_pledge_tracker(tmp_path, case):
    parameters, expected = PLEDGE_CASES[case]
    notebook = run(tmp_path, "pledge_tracker", **parameters)
    text = said(notebook)
    for phrase in expected:
        assert phrase in text
    assert "2,653 / 2,000 = 133% of the pledge" in text
    assert "| 178% |" in text and "| 133% |" in text
    assert text.count("No achievement is reported in the chapter.") == 2
    assert images(notebook) == 1


# --- bad parameters stop with the valid choices -------------------------------------------------

BAD_PARAMETERS = {
    "theme": ("theme_profile", {"theme": "pirates"}, "parameter 'theme' = 'pirates' is not valid; choose one of: police_capacity, counter_terrorism"),
    "currency": ("security_overview", {"currency": "EUR"}, "parameter 'currency' = 'EUR' is not valid; choose one of: USD, JPY"),
    "region": ("region_profile", {"region": "Europe"}, "parameter 'region' = 'Europe' is not valid; choose one of: Asia, Middle East, Africa, Latin America, Global"),
    "base_year": ("pledge_tracker", {"prices": "constant", "base_year": 1990}, "parameter 'base_year' = 1990 is not valid; choose a year from 2000 to 2023"),
    "prices": ("theme_profile", {"prices": "real"}, "parameter 'prices' = 'real' is not valid; choose one of: current, constant"),
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
    assert notebook.metadata.kernelspec == {"name": "python3", "display_name": "Python 3", "language": "python"}
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")
    code = [c for c in notebook.cells if c.cell_type == "code"]
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert tagged == [code[0]] and notebook.cells[1] is code[0]
    lines = code[0].source.splitlines()
    assert lines[0] == "# Parameters"
    assert all(re.match(r"^\w+ = .+  # \S", line) for line in lines[1:]), "one described parameter per line"
    assert "check_" in code[1].source and "oda_data.params" in code[1].source
    assert all(len(c.source.splitlines()) <= 15 for c in code), "cells stay thin: logic lives in oda_data"


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
        assert set(data) <= {"text/markdown", "text/plain", "image/png"}
        plain = data.get("text/plain", "")
        assert re.fullmatch(r"<IPython\.core\.display\.Markdown object>|<Figure size \d+x\d+ with \d+ Axes>|", plain)
