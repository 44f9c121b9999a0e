"""The documentation: the generated configuration reference, the built site (offline, no
broken links), the short README, and the predict command the docs show, run as typed."""

import copy
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text(encoding="utf-8"))


def _reference_module():
    spec = importlib.util.spec_from_file_location(
        "config_reference", ROOT / "docs" / "hooks" / "config_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _keys_in_page(markdown: str) -> list[str]:
    """The keys the page names: one table row each, a top-level section as a heading."""
    rows = re.findall(r"^\| `([^`]+)` \|", markdown, flags=re.MULTILINE)
    return rows + re.findall(r"^## `([^`]+)`$", markdown, flags=re.MULTILINE)


def test_reference_lists_every_schema_key_once():
    reference = _reference_module()
    page = reference.reference_markdown(SCHEMA)
    keys = reference.schema_keys(SCHEMA)
    assert len(keys) > 100  # the walk reaches the nested sections
    assert "predict.models.classifier" in keys and "karyotype.low_margin" in keys
    assert sorted(_keys_in_page(page)) == sorted(keys)


def test_reference_row_has_type_default_and_description():
    page = _reference_module().reference_markdown(SCHEMA)
    row = next(line for line in page.splitlines() if line.startswith("| `detect.imgsz` |"))
    spec = SCHEMA["properties"]["detect"]["properties"]["imgsz"]
    cells = [cell.strip() for cell in row.strip("|").split(" | ")]
    assert cells[1].startswith(spec["type"])
    assert cells[2] == f"`{spec['default']}`"
    assert cells[3].startswith(" ".join(spec["description"].split())[:40])


def test_a_new_schema_key_appears_in_the_reference():
    reference = _reference_module()
    schema = copy.deepcopy(SCHEMA)
    schema["properties"]["predict"]["properties"]["brand_new"] = {
        "description": "A key | with a pipe.",
        "type": "string",
        "default": "x",
    }
    page = reference.reference_markdown(schema)
    assert "predict.brand_new" in _keys_in_page(page)
    assert "A key \\| with a pipe." in page  # a pipe does not break the table


@pytest.mark.skipif(
    shutil.which("mkdocs", path=str(Path(sys.executable).parent)) is None,
    reason="mkdocs is not installed in this environment (uv sync installs it)",
)
def test_site_builds_strict_and_offline(tmp_path):
    site = tmp_path / "site"
    mkdocs = Path(sys.executable).parent / "mkdocs"
    run = subprocess.run(
        [str(mkdocs), "build", "--strict", "--quiet", "-d", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    reference = (site / "reference" / "configuration.html").read_text(encoding="utf-8")
    assert "predict.models.screen" in reference
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        # nothing fetched at view time: no web fonts or scripts from a CDN
        assert "fonts.googleapis" not in text and "fonts.gstatic" not in text, page
        assert not re.search(r"<script[^>]+src=\"https?://", text), page
        assert not re.search(r"<link[^>]+href=\"https?://[^\"]+\.css", text), page


def test_readme_is_short_and_its_links_resolve():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    assert "make run" in readme and "make test" in readme
    for target in re.findall(r"\]\(([^)#]+)", readme):
        if "://" not in target:
            assert (ROOT / target).exists(), target
    # one click from the README to the usage page and the output columns
    assert "(docs/usage.md)" in readme and "(docs/outputs.md)" in readme


PREDICT_COMMAND = "make predict IMAGES=../shared/data/real/cil24_voc"


def test_docs_show_the_predict_command_that_is_tested():
    assert PREDICT_COMMAND in (ROOT / "docs" / "usage.md").read_text(encoding="utf-8")
    assert "make predict IMAGES=" in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_documented_predict_command_calls_the_two_cil_images(tmp_path, real_data_dir):
    """`make predict IMAGES=…` as the docs show it, with the results sent to a folder of
    the test's own (a layered config file, as the usage page says)."""
    assert (real_data_dir / "cil24_voc").is_dir()
    overlay = tmp_path / "mine.yaml"
    overlay.write_text(yaml.safe_dump({"results_dir": str(tmp_path / "results")}))
    command = PREDICT_COMMAND.split() + [f"CONFIG=config/config.yaml {overlay}", "CORES=2"]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    calls = pd.read_csv(tmp_path / "results/predict/calls.tsv", sep="\t", dtype=str)
    assert sorted(calls["image_id"]) == ["103064", "1050431"]
    assert calls["karyotype"].str.match(r"^4[5-7],").all(), calls


def test_make_predict_without_images_says_what_it_needs():
    run = subprocess.run(
        ["make", "-s", "predict", "IMAGES="], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode != 0
    assert "make predict needs IMAGES=" in run.stderr
