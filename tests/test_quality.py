"""Quality gates that CI runs with the tests: lint and format checks of code and rules."""

import subprocess
import sys
from pathlib import Path

import pytest

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
    formatted = run(str(BIN / "snakefmt"), "--check", "Snakefile", "workflow/rules")
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
