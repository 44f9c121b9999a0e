"""Snakemake integration: the data stage end to end on a tiny config, in a temp folder."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TINY = {
    "synthetic": {
        "n_images": 4,
        "images_per_shard": 2,
        "width": 320,
        "height": 320,
        "chr1_length_px": 48,
        "width_px": 8,
    },
    "split": {"test_fraction": 0.25, "val_fraction": 0.34},
}


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def write_config(workdir: Path, config: dict) -> Path:
    path = workdir / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.slow
def test_data_stage_runs(tmp_path):
    config = write_config(tmp_path, TINY)
    run = snakemake(tmp_path, "--configfile", str(config))
    assert run.returncode == 0, run.stderr[-3000:]
    data = tmp_path / "results" / "data"
    manifest = pd.read_csv(data / "manifest.csv", dtype={"image_id": str})
    assert len(manifest) == 4 and set(manifest["n_objects"]) <= {45, 46, 47}
    splits = pd.read_csv(data / "splits.csv")
    assert set(splits["split"]) == {"train", "val", "test"}
    assert (data / "summary.png").stat().st_size > 10_000
    shard = data / "synthetic" / "shard_000"
    for suffix in (".png", ".xml", ".mask.png", ".truth.json", ".karyogram.png"):
        assert (shard / f"synth_000000{suffix}").exists()
    assert (tmp_path / "results" / "logs" / "data" / "ingest.log").exists()
    assert (tmp_path / "results" / "benchmarks" / "data" / "synthesize_000.tsv").exists()

    again = snakemake(tmp_path, "--configfile", str(config), "-n")
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.slow
def test_bad_config_stops_before_any_job(tmp_path):
    config = write_config(tmp_path, {"synthetic": {"n_images": -3}})
    run = snakemake(tmp_path, "--configfile", str(config), "-n")
    assert run.returncode != 0
    assert "n_images" in run.stderr + run.stdout
    config = write_config(tmp_path, {"dataset": {"source": "voc", "path": "nowhere/at_all"}})
    run = snakemake(tmp_path, "--configfile", str(config), "-n")
    assert run.returncode != 0
    assert (
        "nowhere/at_all" in run.stderr + run.stdout and "does not exist" in run.stderr + run.stdout
    )


@pytest.mark.slow
def test_real_voc_folder_is_ingested(tmp_path, real_data_dir):
    config = write_config(
        tmp_path, {"dataset": {"source": "voc", "path": str(real_data_dir / "cil24_voc")}}
    )
    run = snakemake(tmp_path, "--configfile", str(config))
    assert run.returncode == 0, run.stderr[-3000:]
    manifest = pd.read_csv(tmp_path / "results" / "data" / "manifest.csv", dtype={"image_id": str})
    assert dict(zip(manifest["image_id"], manifest["karyotype"], strict=True)) == {
        "103064": "46,XY",
        "1050431": "47,XX,+18",
    }
