"""karyoflow imported as a Snakemake module by another workflow (tests/module_workflow)."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_module_import_runs_the_data_stage(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(ROOT / "tests" / "module_workflow" / "Snakefile"),
        "--directory",
        str(tmp_path),
        "--cores",
        "2",
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "karyoflow_synthesize_shard" in run.stdout + run.stderr
    manifest = pd.read_csv(tmp_path / "results" / "data" / "manifest.csv")
    assert len(manifest) == 4  # the host's config, not karyoflow's default 240
    assert (tmp_path / "results" / "data" / "summary.png").stat().st_size > 0
