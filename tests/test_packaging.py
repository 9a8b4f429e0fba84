"""environment.yml and pyproject.toml name the same dependencies at the same versions."""
from __future__ import annotations

import re
import tomllib

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
