"""environment.yml and pyproject.toml name the same dependencies at the same versions."""
from __future__ import annotations

import json
import re
import tomllib

import nbformat
import pytest
import yaml

from conftest import REPO_ROOT

# conda-forge names that differ from PyPI's
CONDA_TO_PYPI = {"python-duckdb": "duckdb"}
NOT_PACKAGES = {"python", "pip"}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] + project["optional-dependencies"]["test"]
    pins = {}
    for spec in specs:
        name, _, version = spec.partition("==")
        assert version, f"pyproject.toml: {spec!r} is not pinned with =="
        pins[_normalise(name)] = version
    return pins


def _environment_pins() -> dict[str, str]:
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    pins = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for pip_dep in dep.get("pip", []):
                if pip_dep.startswith("-e"):
                    continue
                name, _, version = pip_dep.partition("==")
                pins[_normalise(name)] = version
            continue
        name, _, version = dep.partition("=")
        name = CONDA_TO_PYPI.get(name, name)
        if name not in NOT_PACKAGES:
            pins[_normalise(name)] = version
    return pins


def test_environment_yml_matches_pyproject():
    assert _environment_pins() == _pyproject_pins()


def test_environment_lists_pip_when_it_has_a_pip_section():
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    has_pip_section = any(isinstance(d, dict) and "pip" in d for d in env["dependencies"])
    assert not has_pip_section or "pip" in env["dependencies"]


def test_installed_versions_match_the_pins():
    """The venv that runs the tests has what pyproject.toml pins."""
    from importlib.metadata import version

    for name, pinned in _pyproject_pins().items():
        assert version(name) == pinned, name


def test_distribution_and_script_names():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "oda-security-notebooks"
    assert project["scripts"]["oda-data"] == "oda_data.cli:main"


# --- notebooks are stored as JupyterLab saves them (issue 10 point 7) ---------------

NOTEBOOKS = sorted(
    path for path in (REPO_ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in path.parts
)


def _installed_kernelspec() -> dict:
    """The kernelspec `make` installs, read from the Makefile's `ipykernel install` line."""
    makefile = (REPO_ROOT / "Makefile").read_text()
    install = re.search(r"ipykernel install\b[^\n]*", makefile)
    assert install, "Makefile: no `ipykernel install` line"
    name = re.search(r"--name[ =](\S+)", install.group(0))
    display = re.search(r'--display-name[ =]"([^"]+)"', install.group(0))
    assert name and display, f"Makefile: `{install.group(0)}` lacks --name or --display-name"
    return {"name": name.group(1), "display_name": display.group(1), "language": "python"}


def test_makefile_installs_the_documented_kernel():
    assert _installed_kernelspec() == {"name": "python3", "display_name": "Python 3 (oda_data)", "language": "python"}


def test_there_are_notebooks_to_check():
    assert len(NOTEBOOKS) >= 6


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(REPO_ROOT / "notebooks")))
def test_notebook_stores_the_installed_kernelspec(path):
    """Opening and saving in JupyterLab must not rewrite the kernelspec (git stays clean)."""
    metadata = json.loads(path.read_text(encoding="utf-8"))["metadata"]
    assert metadata.get("kernelspec") == _installed_kernelspec()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(REPO_ROOT / "notebooks")))
def test_notebook_is_stored_as_jupyter_writes_it(path):
    """nbformat 4.5 with cell ids, in nbformat's own layout: a save in Lab changes no byte."""
    text = path.read_text(encoding="utf-8")
    notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    assert (notebook.nbformat, notebook.nbformat_minor) == (4, 5)
    assert all("id" in cell for cell in notebook.cells)
    written = nbformat.writes(notebook)
    assert text == (written if written.endswith("\n") else written + "\n")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(REPO_ROOT / "notebooks")))
def test_folded_outputs_carry_the_key_lab_writes(path):
    """JupyterLab 4 writes the legacy ``collapsed: true`` beside ``jupyter.outputs_hidden``
    when it saves a cell with folded outputs (seen in Lab 4.6): stored so, a save changes nothing."""
    for cell in nbformat.read(path, as_version=nbformat.NO_CONVERT).cells:
        if cell.metadata.get("jupyter", {}).get("outputs_hidden"):
            assert cell.metadata.get("collapsed") is True, cell.id
