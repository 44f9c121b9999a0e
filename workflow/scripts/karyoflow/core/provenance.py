"""What made a results folder: the configuration it depends on, the seeds, and the
package versions (those uv.lock pins, and any that differ in the environment that ran)."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import platform
import re
import subprocess
import tomllib
from pathlib import Path

import yaml

from karyoflow.core.atomic import atomic_path

# Stages in chain order; each folder depends on its own config sections and those of the
# stages before it. Folders not listed here (predict, evaluate) depend on everything.
STAGE_SECTIONS: dict[str, tuple[str, ...]] = {
    "data": ("seed", "dataset", "synthetic", "split", "on_bad_input"),
    "detect": ("detect",),
    "segment": ("segment",),
    "crops": ("crops", "import_crops", "import_karyograms"),
    "straighten": ("straighten",),
    "classify": ("classify",),
    "karyotype": ("karyotype",),
}

# The packages whose versions decide the numbers (direct dependencies of the project).
KEY_PACKAGES = (
    "snakemake",
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "pillow",
    "scikit-image",
    "opencv-python-headless",
    "tifffile",
    "torch",
    "torchvision",
    "ultralytics",
    "tensorflow",
    "keras",
    "matplotlib",
)


def normalise(name: str) -> str:
    """A package name as PyPI compares them (case, `-`, `_` and `.` alike)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(lock_path: str | Path) -> dict[str, str]:
    """Every package version pinned in a uv.lock, by normalised name."""
    lock = tomllib.loads(Path(lock_path).read_text())
    return {normalise(p["name"]): p["version"] for p in lock["package"] if "version" in p}


def file_digest(path: str | Path) -> str:
    """sha256 of a file, or "" when it does not exist (the workflow used as a remote module)."""
    path = Path(path)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def stage_config(config: dict, stage: str) -> dict:
    """The configuration sections a stage's results depend on."""
    if stage not in STAGE_SECTIONS:
        return dict(config)
    sections: list[str] = []
    for name, own in STAGE_SECTIONS.items():
        sections += own
        if name == stage:
            break
    return {key: config[key] for key in sections if key in config}


def seeds_in(settings, prefix: str = "") -> dict:
    """Every setting whose name mentions a seed, by dotted path."""
    found = {}
    if isinstance(settings, dict):
        for key, value in settings.items():
            path = f"{prefix}{key}"
            if "seed" in str(key).lower() and not isinstance(value, dict):
                found[path] = value
            found.update(seeds_in(value, f"{path}."))
    return found


def _installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git_commit(folder: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def provenance_record(
    stage: str, config: dict, lock_path: str | Path, workflow_dir: str | Path
) -> dict:
    """The record for one results folder (see the module docstring)."""
    lock_path = Path(lock_path)
    locked = locked_versions(lock_path) if lock_path.is_file() else {}
    versions = {name: locked.get(name) for name in KEY_PACKAGES}
    # Where the running environment is not the locked one (a conda env, a container),
    # say what actually ran; packages this env does not hold are not its concern.
    differing = {
        name: installed
        for name in KEY_PACKAGES
        if (installed := _installed(name)) is not None and installed != locked.get(name)
    }
    return {
        "stage": stage,
        "written_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "workflow": {
            "folder": str(Path(workflow_dir).resolve()),
            "git_commit": _git_commit(Path(workflow_dir)),
            "uv_lock_sha256": file_digest(lock_path) or None,
        },
        "python": platform.python_version(),
        "seeds": seeds_in(config),
        "versions_locked": versions if locked else "uv.lock not found",
        "versions_differing_here": differing,
        "config": config,
    }


def write_provenance(
    out: str | Path, stage: str, config: dict, lock_path: str | Path, workflow_dir: str | Path
) -> dict:
    record = provenance_record(stage, config, lock_path, workflow_dir)
    with atomic_path(out) as tmp:
        Path(tmp).write_text(
            f"# What made {Path(out).parent}/: its configuration, seeds and package versions.\n"
            + yaml.safe_dump(record, sort_keys=False, allow_unicode=True)
        )
    return record
