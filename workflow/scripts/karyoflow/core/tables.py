"""Table writers that never leave a half-written table behind."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from karyoflow.core.atomic import atomic_path


def write_csv(table: pd.DataFrame, path: str | Path, sep: str = ",") -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, sep=sep)


def write_parquet(table: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        table.to_parquet(tmp, index=False)


def concat_tables(paths: list[str], out: str) -> pd.DataFrame:
    """Concatenate same-format tables (.parquet, .csv or .tsv, by extension) into `out`."""

    def read(path):
        if str(path).endswith(".parquet"):
            return pd.read_parquet(path)
        return pd.read_csv(path, sep="\t" if str(path).endswith(".tsv") else ",", dtype=str)

    tables = [read(p) for p in paths]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    if str(out).endswith(".parquet"):
        write_parquet(table, out)
    else:
        write_csv(table, out, sep="\t" if str(out).endswith(".tsv") else ",")
    return table


def merge_shard_tables(inputs: dict, outputs: dict) -> None:
    """For each named output, concatenate the same-named list of shard tables."""
    for name, out in outputs.items():
        concat_tables(list(inputs[name]), out)


def write_json(record: dict, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(record, indent=2))
