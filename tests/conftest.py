"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

# The shared reference data sit beside the project checkout, at ../shared/data/real.
REAL_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The real reference data folder; tests using it skip where it is absent."""
    if not REAL_DATA_DIR.is_dir():
        pytest.skip(
            f"../shared/data/real not present (looked for {REAL_DATA_DIR}); "
            "real-data tests need the shared reference data beside the checkout"
        )
    return REAL_DATA_DIR


@pytest.hookimpl(trylast=True)  # after -m has deselected what it deselects
def pytest_collection_modifyitems(config, items):
    """TensorFlow and torch abort when loaded into one process, so a session that holds
    both kinds of test skips the `tensorflow` ones; run them alone with
    `pytest -m tensorflow` (`make test` runs both sessions)."""
    marked = [item for item in items if item.get_closest_marker("tensorflow")]
    if marked and len(marked) < len(items):
        skip = pytest.mark.skip(
            reason="TensorFlow cannot share a process with torch: run `pytest -m tensorflow`"
        )
        for item in marked:
            item.add_marker(skip)
