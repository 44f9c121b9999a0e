"""Table writers that never leave a half-written table behind."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from karyoflow.io.atomic import atomic_path


def write_csv(table: pd.DataFrame, path: str | Path, sep: str = ",") -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, sep=sep)


def write_parquet(table: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        table.to_parquet(tmp, index=False)
