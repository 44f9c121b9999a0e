"""Scoring per-cell karyotype calls against the truth (rule evaluate_karyotypes)."""

from __future__ import annotations

import logging

import pandas as pd

log = logging.getLogger(__name__)


def evaluate_karyotypes_files(
    cells: str, images: str, manifest: str, metrics_json: str, figure: str
) -> dict:
    """Rule evaluate_karyotypes: calls per cell against the manifest's true karyotypes,
    over every image of the set (an image with no call counts as a wrong call)."""
    from karyoflow.core.iscn import karyotype_scores
    from karyoflow.core.tables import write_json
    from karyoflow.karyotype import plots

    called = pd.read_csv(cells, sep="\t", dtype={"image_id": str})
    in_set = set(pd.read_csv(images, dtype={"image_id": str})["image_id"])
    truth_table = pd.read_csv(manifest, dtype={"image_id": str})
    truth_table = truth_table[truth_table["karyotype"].fillna("") != ""]
    truth = {
        row.image_id: row.karyotype for row in truth_table.itertuples() if row.image_id in in_set
    }
    scores = karyotype_scores(
        truth, dict(zip(called["image_id"], called["karyotype"], strict=True))
    )
    scores["flagged"] = int((called["flag"] != "ok").sum())
    scores["cells"] = [
        {"image_id": cell, "truth": truth[cell], "call": call, "flag": flag}
        for cell, call, flag in zip(
            called["image_id"], called["karyotype"], called["flag"], strict=True
        )
        if cell in truth
    ]
    write_json(scores, metrics_json)
    plots.karyotype_evaluation(scores, figure)
    log.info("karyotype calls: exact %s of %d cells", scores["exact_rate"], scores["n_cells"])
    return scores
