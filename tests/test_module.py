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


HOST_SNAKEFILE = """
configfile: "my_config.yaml"


module karyoflow:
    snakefile:
        gitfile("{repo}", path="workflow/Snakefile", ref="main")
    config:
        config


use rule * from karyoflow as karyoflow_*


rule all:
    input:
        "results/data/manifest.csv",
        "results/data/summary.png",
    default_target: True
"""


def commit_working_tree(repo: Path) -> None:
    """A git repository at `repo` holding this checkout's tracked files as they are now
    (committed or not), on branch main: what a user's clone of a release holds."""
    files = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = ROOT / name.decode()
        if source.is_file():  # a file deleted but not yet committed is left out
            target = repo / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
            target.chmod(source.stat().st_mode)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "snapshot"], check=True)


def test_library_listing_matches_the_tracked_files():
    """workflow/library_files.txt lists every tracked file a module import must copy."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(
        [
            "git",
            "-C",
            str(ROOT),
            "ls-files",
            "workflow/scripts/karyoflow",
            "workflow/resources",
            "models",
            "uv.lock",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    expected = sorted(f for f in tracked if not f.endswith(".md") and (ROOT / f).is_file())
    listed = (ROOT / "workflow" / "library_files.txt").read_text().split()
    assert sorted(listed) == expected, "regenerate workflow/library_files.txt (see its test)"


@pytest.mark.slow
def test_module_import_from_a_git_source_runs_the_data_stage_offline(tmp_path):
    """A host workflow imports karyoflow with gitfile(..., ref="main") from a clone and
    runs its data stage with its own configuration, the network blocked: the schema, the
    library and its band table come from the git source, not from the working folder."""
    from test_workflow import network_blocked_env

    repo = tmp_path / "karyoflow clone"
    commit_working_tree(repo)
    host = tmp_path / "host"
    host.mkdir()
    (host / "Snakefile").write_text(HOST_SNAKEFILE.format(repo=repo))
    (host / "my_config.yaml").write_text(
        (ROOT / "tests" / "module_workflow" / "my_config.yaml").read_text()
    )
    env, attempts = network_blocked_env(tmp_path / "network_block")
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2"]
    run = subprocess.run(cmd, cwd=host, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "karyoflow_synthesize_shard" in run.stdout + run.stderr
    assert attempts.read_text() == ""
    manifest = pd.read_csv(host / "results" / "data" / "manifest.csv")
    assert len(manifest) == 4  # the host's config
    assert (host / "results" / "data" / "summary.png").stat().st_size > 0
    # the library the jobs imported is the copy taken from the git source
    copies = list((host / ".snakemake" / "karyoflow-source").glob("*/workflow/scripts/karyoflow"))
    assert len(copies) == 1 and (copies[0] / "core" / "bands.py").is_file()
    shipped = copies[0].parents[2] / "models" / "cil_detector_yolo11n.pt"
    assert shipped.read_bytes() == (ROOT / "models" / "cil_detector_yolo11n.pt").read_bytes()


def test_readme_module_snippet_pins_the_released_version():
    """The version lives in pyproject.toml; the README's module snippet and the changelog
    name the same release."""
    import re
    import tomllib

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    readme = (ROOT / "README.md").read_text()
    tags = re.findall(
        r'github\("<owner>/karyoflow", path="workflow/Snakefile", tag="([^"]+)"\)', readme
    )
    assert tags == [f"v{version}"]
    assert f"## [{version}] - " in (ROOT / "CHANGELOG.md").read_text()
