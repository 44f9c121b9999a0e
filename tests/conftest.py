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
