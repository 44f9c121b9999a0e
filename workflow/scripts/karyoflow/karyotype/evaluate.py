"""Scoring the whole chain on annotated images (rule evaluate_karyotypes): per-cell
karyotype calls against the true karyotypes, object counts, and the chromosomes placed
correctly (box and class) against the annotated boxes."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

BOX = ["xmin", "ymin", "xmax", "ymax"]
CALLED_BOX = ["x1", "y1", "x2", "y2"]


def count_scores(called: pd.DataFrame, annotations: pd.DataFrame, image_ids) -> dict:
    """Object counts per cell: the share with exactly the annotated number and the mean
    |called - annotated|; an image with no called chromosome counts zero."""
    n_called = called.groupby("image_id").size()
    n_true = annotations.groupby("image_id").size()
    ids = list(image_ids)
    errors = np.array([int(n_called.get(i, 0)) - int(n_true.get(i, 0)) for i in ids])
    if not len(ids):
        return {"n_cells": 0}
    return {
        "n_cells": len(ids),
        "exact_rate": round(float((errors == 0).mean()), 4),
        "mean_abs_error": round(float(np.abs(errors).mean()), 3),
        "mean_error": round(float(errors.mean()), 3),
        "mean_called": round(float(np.mean([n_called.get(i, 0) for i in ids])), 2),
        "mean_annotated": round(float(np.mean([n_true.get(i, 0) for i in ids])), 2),
        "error_histogram": {
            int(e): int(n) for e, n in zip(*np.unique(errors, return_counts=True), strict=True)
        },
    }


def placement_scores(
    called: pd.DataFrame, annotations: pd.DataFrame, image_ids, iou_threshold: float = 0.5
) -> dict:
    """Annotated chromosomes placed correctly: matched one-to-one (box IoU >= threshold,
    highest IoU first, class ignored in the matching) by a called chromosome of the right
    class. Also the share matched at all (a found chromosome, right class or not)."""
    from karyoflow.core.boxes import match_boxes
    from karyoflow.core.labels import canonical

    called_by_image = dict(tuple(called.groupby("image_id")))
    truth_by_image = dict(tuple(annotations.groupby("image_id")))
    n_truth = n_matched = n_placed = 0
    for image_id in image_ids:
        truth = truth_by_image.get(image_id)
        if truth is None:
            continue
        n_truth += len(truth)
        calls = called_by_image.get(image_id)
        if calls is None:
            continue
        pairs = match_boxes(
            calls[CALLED_BOX].to_numpy(float), truth[BOX].to_numpy(float), iou_threshold
        )
        called_class = calls["class"].astype(str).map(canonical).to_numpy()
        true_class = truth["class"].astype(str).map(canonical).to_numpy()
        n_matched += len(pairs)
        n_placed += sum(called_class[p] == true_class[t] for p, t in pairs)
    return {
        "n_annotated": n_truth,
        "iou_threshold": iou_threshold,
        "placed_correctly": round(n_placed / n_truth, 4) if n_truth else None,
        "found": round(n_matched / n_truth, 4) if n_truth else None,
        "class_right_when_found": round(n_placed / n_matched, 4) if n_matched else None,
    }


KINDS = ("isolated", "touching", "overlapping")


def instance_scores_by_kind(
    called: pd.DataFrame, truth: pd.DataFrame, image_ids, iou_threshold: float = 0.5
) -> dict:
    """Instance matching (box IoU >= threshold, one-to-one, highest IoU first) per kind of
    annotated chromosome (`kind` column: isolated, touching, overlapping).

    Recall: the share of annotated chromosomes of a kind that a called one matches.
    Precision: of the called chromosomes given to a kind (the kind of the annotated one
    they match, else of the one they overlap most), the share that match; a called one
    overlapping none counts under `none` (debris, a nucleus, background)."""
    from karyoflow.core.boxes import box_iou, match_boxes

    counts = {k: {"annotated": 0, "called": 0, "matched": 0} for k in (*KINDS, "none")}
    called_by_image = dict(tuple(called.groupby("image_id")))
    truth_by_image = dict(tuple(truth.groupby("image_id")))
    for image_id in image_ids:
        boxes = truth_by_image.get(image_id, truth.iloc[0:0])
        kinds = boxes["kind"].to_numpy()
        for kind in kinds:
            counts[kind]["annotated"] += 1
        calls = called_by_image.get(image_id)
        if calls is None:
            continue
        found = calls[CALLED_BOX].to_numpy(float)
        annotated = boxes[BOX].to_numpy(float)
        pairs = dict(match_boxes(found, annotated, iou_threshold))
        overlap = box_iou(found, annotated) if len(annotated) else np.zeros((len(found), 0))
        for i in range(len(found)):
            if i in pairs:
                kind = kinds[pairs[i]]
                counts[kind]["matched"] += 1
            elif overlap.shape[1] and overlap[i].max() > 0:
                kind = kinds[int(overlap[i].argmax())]
            else:
                kind = "none"
            counts[kind]["called"] += 1
    return {
        kind: c
        | {
            "recall": round(c["matched"] / c["annotated"], 4) if c["annotated"] else None,
            "precision": round(c["matched"] / c["called"], 4) if c["called"] else None,
        }
        for kind, c in counts.items()
    }


def truth_kinds(manifest: pd.DataFrame, annotations: pd.DataFrame) -> pd.DataFrame | None:
    """The annotations with each chromosome's kind, where the manifest's truth files
    (the synthetic generator's) say it; None where they do not."""
    paths = manifest.set_index("image_id")["truth_path"].fillna("")
    if not (paths != "").any():
        return None
    rows = []
    for image_id, boxes in annotations.groupby("image_id"):
        path = paths.get(image_id, "")
        if not path:
            continue
        instances = json.loads(Path(path).read_text())["instances"]
        kinds = [
            "overlapping" if inst["overlapping"] else "touching" if inst["touching"] else "isolated"
            for inst in instances
        ]
        if len(kinds) != len(boxes):
            raise ValueError(f"{path}: {len(kinds)} instances, {len(boxes)} annotated boxes")
        rows.append(boxes.sort_values("object_index").assign(kind=kinds))
    return pd.concat(rows, ignore_index=True) if rows else None


def evaluate_karyotypes_files(
    cells: str,
    chromosomes: str,
    images: str,
    manifest: str,
    annotations: str,
    metrics_json: str,
    figure: str,
    detection: str = "",
) -> dict:
    """Rule evaluate_karyotypes: the chain scored over every image of the set (an image
    with no call counts as a wrong call and zero objects): karyotype calls, object counts,
    chromosomes placed correctly, and the detector's mAP50 on the same images."""
    from karyoflow.core.iscn import karyotype_scores
    from karyoflow.core.tables import write_json
    from karyoflow.karyotype import plots

    called = pd.read_csv(cells, sep="\t", dtype={"image_id": str})
    called["karyotype"] = called["karyotype"].fillna("")  # no call
    table = pd.read_csv(chromosomes, sep="\t", dtype={"image_id": str, "class": str})
    in_set = list(pd.read_csv(images, dtype={"image_id": str})["image_id"])
    truth_boxes = pd.read_parquet(annotations)
    truth_boxes["image_id"] = truth_boxes["image_id"].astype(str)
    truth_boxes = truth_boxes[truth_boxes["image_id"].isin(in_set)]
    truth_table = pd.read_csv(manifest, dtype={"image_id": str})
    truth_table = truth_table[truth_table["karyotype"].fillna("") != ""]
    truth = {
        row.image_id: row.karyotype for row in truth_table.itertuples() if row.image_id in in_set
    }
    scores = karyotype_scores(
        truth, dict(zip(called["image_id"], called["karyotype"], strict=True))
    )
    scores["flagged"] = int((called["flag"] != "ok").sum())
    with_truth = [i for i in in_set if i in truth]
    scores["count"] = count_scores(table, truth_boxes, with_truth)
    scores["placement"] = placement_scores(table, truth_boxes, with_truth)
    manifest_table = pd.read_csv(manifest, dtype={"image_id": str}, keep_default_na=False)
    if "truth_path" in manifest_table:
        with_kinds = truth_kinds(manifest_table, truth_boxes)
        if with_kinds is not None:
            scores["instances_by_kind"] = instance_scores_by_kind(table, with_kinds, with_truth)
    if detection:
        record = json.loads(Path(detection).read_text())
        scores["detection"] = {
            key: record.get(key) for key in ("map50", "map50_95", "precision", "recall")
        }
    scores["cells"] = [
        {"image_id": cell, "truth": truth[cell], "call": call, "flag": flag}
        for cell, call, flag in zip(
            called["image_id"], called["karyotype"], called["flag"], strict=True
        )
        if cell in truth
    ]
    write_json(scores, metrics_json)
    plots.karyotype_evaluation(scores, figure)
    log.info(
        "chain on %d cells: karyotype exact %s, count exact %s, placed correctly %s",
        scores["n_cells"],
        scores["exact_rate"],
        scores["count"].get("exact_rate"),
        scores["placement"]["placed_correctly"],
    )
    return scores
