"""The conda envs in envs/ pin exactly the versions uv.lock pins (cluster and CI agree)."""

import re
from pathlib import Path

import pytest
import yaml
from karyoflow.core.provenance import locked_versions
from karyoflow.core.provenance import normalise as _norm

ROOT = Path(__file__).resolve().parents[1]
ENV_FILES = sorted((ROOT / "envs").glob("*.yaml"))
LOCKED = locked_versions(ROOT / "uv.lock")


def _pins(env_file):
    env = yaml.safe_load(env_file.read_text())
    pins = {}
    for dep in env["dependencies"]:
        entries = dep["pip"] if isinstance(dep, dict) else [dep]
        for entry in entries:
            m = re.match(r"^([A-Za-z0-9_.\-]+)\s*==?\s*([^\s=]+)$", entry)
            if m and _norm(m.group(1)) not in ("python", "pip"):
                pins[_norm(m.group(1))] = m.group(2)
    return pins


def test_there_are_envs():
    assert {p.stem for p in ENV_FILES} >= {"imaging", "report", "ultralytics", "tensorflow"}


@pytest.mark.parametrize("env_file", ENV_FILES, ids=lambda p: p.stem)
def test_env_pins_match_lock(env_file):
    pins = _pins(env_file)
    assert pins, f"{env_file.name} pins nothing"
    mismatched = {
        name: (version, LOCKED.get(name))
        for name, version in pins.items()
        if LOCKED.get(name) != version
    }
    assert not mismatched, f"{env_file.name}: (env, lock) versions differ: {mismatched}"


def test_frameworks_stay_apart():
    assert "tensorflow" not in _pins(ROOT / "envs" / "ultralytics.yaml")
    assert "torch" not in _pins(ROOT / "envs" / "tensorflow.yaml")
