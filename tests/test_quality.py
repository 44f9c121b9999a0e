"""Quality gates that CI runs with the tests: lint and format checks of code and rules."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_ruff_lint_and_format_are_clean():
    checked = run(str(BIN / "ruff"), "check", "workflow/scripts", "tests")
    assert checked.returncode == 0, checked.stdout[-3000:]
    formatted = run(str(BIN / "ruff"), "format", "--check", "workflow/scripts", "tests")
    assert formatted.returncode == 0, formatted.stdout[-3000:]


def test_snakefmt_is_clean():
    formatted = run(
        str(BIN / "snakefmt"), "--check", "Snakefile", "workflow/Snakefile", "workflow/rules"
    )
    assert formatted.returncode == 0, (formatted.stdout + formatted.stderr)[-3000:]


@pytest.mark.slow
def test_snakemake_lint_is_clean(tmp_path):
    linted = run(
        sys.executable,
        "-m",
        "snakemake",
        "--lint",
        "--directory",
        str(tmp_path),
        "--configfile",
        str(ROOT / "config" / "config.yaml"),
    )
    out = linted.stdout + linted.stderr
    assert linted.returncode == 0 and "Lints for" not in out, out[-3000:]


SHIPPED_CONFIGS = sorted(
    p.name for p in (ROOT / "config").glob("*.yaml") if p.name != "schema.yaml"
)


def anchored(settings, found_missing: list[str]):
    """The overlay with relative `path` and `*_folder` values anchored at the project
    folder (they are written relative to where one runs it); missing ones are collected."""
    if isinstance(settings, dict):
        out = {}
        for key, value in settings.items():
            if (key == "path" or key.endswith("_folder")) and isinstance(value, str) and value:
                value = str((ROOT / value).resolve())
                if not Path(value).exists():
                    found_missing.append(value)
            out[key] = anchored(value, found_missing)
        return out
    return settings


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED_CONFIGS)
def test_every_shipped_config_dry_runs(tmp_path, name):
    """What CI checks of each file in config/: it validates and its DAG builds."""
    missing: list[str] = []
    overlay = anchored(yaml.safe_load((ROOT / "config" / name).read_text()) or {}, missing)
    if missing:
        pytest.skip(f"{name} names data not present here: {', '.join(missing)}")
    (tmp_path / name).write_text(yaml.safe_dump(overlay))
    # A model an earlier run makes (config/cil.yaml starts from `make run`'s detector):
    # the dry run only needs it to exist.
    start = (overlay.get("detect") or {}).get("model", "")
    if start.startswith("results/"):
        (tmp_path / start).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / start).write_bytes(b"stands in for the earlier run's model")
    dry = run(
        sys.executable,
        "-m",
        "snakemake",
        "-n",
        "--directory",
        str(tmp_path),
        "--configfile",
        str(ROOT / "config" / "config.yaml"),
        str(tmp_path / name),
    )
    out = dry.stdout + dry.stderr
    assert dry.returncode == 0, out[-3000:]
    assert "Job stats:" in out
