"""Each results folder records the configuration, seeds and versions that made it."""

from pathlib import Path

import yaml
from karyoflow.core import provenance
from karyoflow.core.provenance import (
    locked_versions,
    seeds_in,
    stage_config,
    write_provenance,
)

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def test_a_stage_depends_on_its_own_settings_and_those_upstream():
    data = stage_config(CONFIG, "data")
    assert set(data) == {"seed", "dataset", "synthetic", "split", "on_bad_input"}
    detect = stage_config(CONFIG, "detect")
    assert set(detect) == set(data) | {"detect"}
    classify = stage_config(CONFIG, "classify")
    assert {"detect", "segment", "straighten", "classify"} <= set(classify)
    assert "karyotype" not in classify
    assert stage_config(CONFIG, "predict") == CONFIG  # everything


def test_seeds_are_found_wherever_they_sit():
    settings = {"seed": 1, "detect": {"seed": 2, "epochs": 3}, "x": {"y": {"init_seed": 4}}}
    assert seeds_in(settings) == {"seed": 1, "detect.seed": 2, "x.y.init_seed": 4}
    assert seeds_in({"a": 1}) == {}


def test_locked_versions_read_the_lock():
    locked = locked_versions(ROOT / "uv.lock")
    assert {"torch", "torchvision", "tensorflow", "ultralytics", "snakemake"} <= set(locked)
    assert all(version[0].isdigit() for version in locked.values())
    # names compare as PyPI compares them
    assert provenance.normalise("Scikit_Image") == "scikit-image"


def test_record_names_config_seeds_versions_and_differences(tmp_path, monkeypatch):
    lock = tmp_path / "uv.lock"
    lock.write_text(
        '[[package]]\nname = "NumPy"\nversion = "0.0.1"\n\n'
        '[[package]]\nname = "pandas"\nversion = "2.3.3"\n'
    )
    real_version = provenance.importlib.metadata.version

    def version(name):
        return {"numpy": "2.2.6", "pandas": "2.3.3"}.get(name) or real_version(name)

    monkeypatch.setattr(provenance.importlib.metadata, "version", version)
    out = tmp_path / "results" / "data" / "provenance.yaml"
    config = stage_config(CONFIG, "data")
    write_provenance(out, "data", config, lock, ROOT)
    text = out.read_text()
    assert text.startswith(f"# What made {out.parent}/")
    record = yaml.safe_load(text)
    assert record["stage"] == "data" and record["config"] == config
    assert record["seeds"] == {"seed": CONFIG["seed"]}
    assert record["versions_locked"]["numpy"] == "0.0.1"
    assert record["versions_differing_here"]["numpy"] == "2.2.6"
    assert "pandas" not in record["versions_differing_here"]
    assert len(record["workflow"]["uv_lock_sha256"]) == 64


def test_missing_lock_is_said_not_fatal(tmp_path):
    record = provenance.provenance_record("data", {"seed": 1}, tmp_path / "uv.lock", tmp_path)
    assert record["versions_locked"] == "uv.lock not found"
    assert record["workflow"]["uv_lock_sha256"] is None
    assert record["workflow"]["git_commit"] is None  # not a git checkout
