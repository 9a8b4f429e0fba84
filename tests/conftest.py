"""Shared test fixtures and paths."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The real OECD files in ../shared/data; skip when they are not beside the clone."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data absent: the real OECD files are only beside the CI clone")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Never touch the user's real cache from tests."""
    monkeypatch.setenv("ODA_DATA_CACHE", str(tmp_path_factory.mktemp("oda-cache")))


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch) -> Path:
    """The test's own cache folder, ``tmp_path / "cache"`` (not created yet), as ODA_DATA_CACHE."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("ODA_DATA_CACHE", str(folder))
    return folder
