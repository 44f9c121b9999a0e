"""A second, larger synthetic validation set: 240 cells generated with seed 7 (the
default run's cells use seed 42, so none is in its test split), run through a finished
run's chain as an outside image set, and its calls at each common-aneuploidy cost
(karyotype.common_change_penalty). The default run's own validation split holds 27
cells, where one cell is 0.037; these 240 say how much of a choice made there holds.

From the repo root, after `make run` (or any run with a results folder; 4 min):

  uv run python docs/experiments/synthetic_dev_set.py [results_dir] [overlay.yaml]

results_dir defaults to results; an overlay is the config file that run was made with,
if any. Writes results/dev7voc (images and VOC boxes), the chain's tables under
<results_dir>/karyotype/external/, and docs/experiments/synthetic_dev_set.json."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
SEED, N_IMAGES = 7, 240


def snakemake(*args: str) -> None:
    subprocess.run(["snakemake", "--cores", "2", *args], cwd=REPO, check=True)


def dev_set(folder: Path) -> None:
    """Generate the cells (results/dev7) and lay them out as images/ + annotations/,
    each id prefixed so that none equals an id of the run's own cells."""
    overlay = REPO / "results" / "dev7.yaml"
    overlay.parent.mkdir(exist_ok=True)
    overlay.write_text(
        f"results_dir: results/dev7\nseed: {SEED}\nsynthetic: {{n_images: {N_IMAGES}}}\n"
    )
    snakemake("results/dev7/data/manifest.csv", "--configfile", "config/config.yaml", str(overlay))
    manifest = pd.read_csv(REPO / "results/dev7/data/manifest.csv", dtype={"image_id": str})
    for sub in ("images", "annotations"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for row in manifest.itertuples():
        name = f"dev7_{row.image_id}"
        link = folder / "images" / f"{name}.png"
        if not link.exists():
            link.symlink_to(Path(row.image_path).resolve())
        xml = Path(row.annotation_path).read_text().replace(row.image_id, name)
        (folder / "annotations" / f"{name}.xml").write_text(xml)


def sweep(results: Path, classifier: Path) -> dict:
    """Exact calls and object count exact on the dev cells at each cost the validation
    choice tries (karyoflow.karyotype.calls), with the class prior chosen on validation."""
    from karyoflow.karyotype.calls import (
        annotated_karyotypes,
        assignments_by_common_penalty,
        class_prior,
        class_prior_shares,
    )
    from karyoflow.karyotype.screen import read_screen

    screen = read_screen(results / "karyotype/model/object_screen.json")
    annotated = pd.read_parquet(results / "evaluate/external_voc/annotations.parquet")
    truth = annotated_karyotypes(annotated)
    n_true = annotated.assign(image_id=annotated["image_id"].astype(str)).groupby("image_id").size()
    tables = assignments_by_common_penalty(
        pd.read_parquet(results / "classify/calls/external.parquet"),
        pd.read_parquet(results / "crops/external/crops.parquet"),
        screen,
        6.0,
        class_prior_shares(class_prior("auto", screen), classifier),
        processes=2,
    )
    rows = {}
    for cost, table in tables.items():
        cells = table.drop_duplicates("image_id").set_index("image_id")["karyotype"]
        kept = table[table["assigned"] != ""].groupby("image_id").size()
        ids = [i for i in cells.index if i in truth]
        abnormal = [i for i in ids if truth[i] not in ("46,XX", "46,XY")]
        rows[f"{cost:g}"] = {
            "exact": round(float(np.mean([cells[i] == truth[i] for i in ids])), 4),
            "normal_right": int(sum(cells[i] == truth[i] for i in ids if i not in abnormal)),
            "abnormal_right": int(sum(cells[i] == truth[i] for i in abnormal)),
            "count_exact": round(float(np.mean([kept.get(i, 0) == n_true[i] for i in ids])), 4),
        }
    return {
        "cells": len(ids),
        "abnormal": len(abnormal),
        "chosen_on_validation": screen.get("common_change_penalty"),
        "class_prior": class_prior("auto", screen),
        "by_cost": rows,
    }


def main(results_dir: str = "results", overlay: str = "") -> None:
    folder = REPO / "results" / "dev7voc"
    dev_set(folder)
    external = REPO / "results" / "dev7_external.yaml"
    external.write_text(f"evaluate: {{external_voc: {folder}}}\n")
    configs = ["config/config.yaml", *([overlay] if overlay else []), str(external)]
    results = REPO / results_dir
    snakemake(f"{results_dir}/karyotype/external/evaluation.json", "--configfile", *configs)
    classifiers = sorted(results.glob("classify/truth/models/*/classifier.keras"))
    record = sweep(results, classifiers[0])
    out = REPO / "docs/experiments/synthetic_dev_set.json"
    out.write_text(json.dumps({"results_dir": results_dir, **record}, indent=1) + "\n")
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:])
