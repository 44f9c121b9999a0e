"""A real SLURM run: the whole quick chain (config/quick.yaml) submitted through the
SLURM executor plugin with profiles/slurm (overlaid for the local cluster), its data
stage compared with a local run's byte for byte, and SLURM's accounting asked what ran.

CI starts a single-node SLURM with accounting (.ci/start-slurm); without one the test
skips, saying why."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from file_trees import file_digests

ROOT = Path(__file__).resolve().parents[1]
# What the local run builds to compare with (the data stage, deterministic); the SLURM
# run builds the default target, the whole chain.
LOCAL_TARGETS = [
    "results/data/manifest.csv",
    "results/data/splits.csv",
    "results/data/summary.png",
]
# Files a SLURM run must write byte for byte as a local one does (the data stage is
# deterministic: tests/test_determinism.py); the manifest up to the run's own folder,
# which it names.
COMPARED = ["results/data/splits.csv", "results/data/synthetic"]


def slurm_ready() -> str:
    """Why SLURM cannot take jobs here, or "" when it can."""
    for tool in ("sbatch", "sinfo", "sacct"):
        if shutil.which(tool) is None:
            return f"{tool} not found (CI starts SLURM with .ci/start-slurm, as root)"
    states = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True)
    if states.returncode != 0 or "idle" not in states.stdout.split():
        return f"no idle SLURM node: sinfo says {(states.stdout + states.stderr).strip()!r}"
    accounting = subprocess.run(["sacct", "-n", "-X", "-S", "now"], capture_output=True, text=True)
    if accounting.returncode != 0:
        return f"SLURM accounting is off (the plugin needs sacct): {accounting.stderr.strip()}"
    return ""


def local_profile(folder: Path, partition: str, account: str, cpus: int, mem_mb: int) -> Path:
    """profiles/slurm with this cluster's partition and account, and GPU requests dropped
    (the node has none), as a site would overlay it."""
    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "profile.yaml").read_text())
    profile["default-resources"].update(slurm_partition=partition, slurm_account=account)
    profile["default-resources"]["mem_mb"] = f"{mem_mb // 4} * attempt"
    profile["jobs"] = 2
    profile["set-threads"] = {rule: min(n, cpus) for rule, n in profile["set-threads"].items()}
    for settings in profile["set-resources"].values():
        settings.pop("cpus_per_gpu", None)
        # gpu 0 overrides the rule's own gpu=1
        settings.update(gpu=0, slurm_partition=partition, mem_mb=f"{mem_mb // 2} * attempt")
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(profile))
    return folder


def run_quick(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """Snakemake on the quick configuration (test_workflow's runner, a longer timeout)."""
    from test_workflow import snakemake

    configs = [str(ROOT / "config" / name) for name in ("config.yaml", "quick.yaml")]
    return snakemake(workdir, *args, "--configfile", *configs, timeout=1800)


@pytest.mark.slow
def test_quick_chain_runs_under_slurm_as_it_does_locally(tmp_path):
    why = slurm_ready()
    if why:
        pytest.skip(why)
    partition = (
        subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True, check=True)
        .stdout.split()[0]
        .rstrip("*")
    )
    account = os.environ.get("KARYOFLOW_SLURM_ACCOUNT", "karyoflow")
    mem_mb = int(
        subprocess.run(["sinfo", "-h", "-o", "%m"], capture_output=True, text=True, check=True)
        .stdout.split()[0]
        .rstrip("+")
    )
    profile = local_profile(tmp_path / "profile", partition, account, os.cpu_count() or 1, mem_mb)
    prefix = f"kf{os.getpid()}"
    submitted = run_quick(
        tmp_path / "slurm",
        "--profile",
        str(profile),
        "--slurm-jobname-prefix",
        prefix,
        "--slurm-init-seconds-before-status-checks",
        "5",
        "--seconds-between-status-checks",
        "5",
    )
    assert submitted.returncode == 0, (submitted.stdout + submitted.stderr)[-4000:]
    local = run_quick(tmp_path / "local", *LOCAL_TARGETS)
    assert local.returncode == 0, local.stderr[-3000:]
    for name in COMPARED:
        assert file_digests(tmp_path / "slurm" / name) == file_digests(tmp_path / "local" / name), (
            name
        )
    manifests = [
        (tmp_path / run / "results/data/manifest.csv").read_text().replace(str(tmp_path / run), "")
        for run in ("slurm", "local")
    ]
    assert manifests[0] == manifests[1]
    # the chain ran to its end: calls scored, report figures drawn
    chain = tmp_path / "slurm" / "results"
    assert json.loads((chain / "karyotype/test/evaluation.json").read_text())["n_cells"] >= 1
    assert (chain / "classify/truth/evaluation/metrics.json").is_file()
    # SLURM's own record: every job of this run finished, none failed
    jobs = subprocess.run(
        ["sacct", "-n", "-X", "-P", "-S", "now-2hours", "-o", "JobName,State,Account"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    ours = [line.split("|") for line in jobs if line.startswith(prefix)]
    assert len(ours) >= 20, jobs
    assert {state for _, state, _ in ours} == {"COMPLETED"}
    assert {acct for _, _, acct in ours} == {account}
