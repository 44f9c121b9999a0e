"""Detection metrics computed from box tables, independent of Ultralytics (numpy only).

Conventions follow COCO / Ultralytics so our numbers compare with the paper's:
predictions are matched greedily in descending confidence to the unmatched truth box of
the same class with the highest IoU at or above the threshold; AP is the area under the
precision envelope sampled at 101 recall points; mAP50-95 averages AP over IoU thresholds
0.50, 0.55, ..., 0.95; mAP averages over classes that have at least one truth box.

Tables use the columns image_id, class, xmin, ymin, xmax, ymax (+ confidence for
predictions), boxes in pixels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from karyoflow.core.boxes import match_boxes, match_image

IOU_THRESHOLDS = np.round(np.arange(0.50, 0.951, 0.05), 2)


BACKGROUND = "background"


_COORDS = ["xmin", "ymin", "xmax", "ymax"]


def average_precision(tp: np.ndarray, confidence: np.ndarray, n_truth: int) -> float:
    """COCO 101-point interpolated AP from per-prediction TP flags and confidences."""
    if n_truth == 0:
        return float("nan")
    if len(tp) == 0:
        return 0.0
    order = np.argsort(-np.asarray(confidence), kind="stable")
    hits = np.asarray(tp, dtype=float)[order]
    tp_cum = np.cumsum(hits)
    recall = tp_cum / n_truth
    precision = tp_cum / np.arange(1, len(hits) + 1)
    # precision envelope: the best precision at this recall or any higher one
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    points = np.linspace(0, 1, 101)
    index = np.searchsorted(recall, points, side="left")
    sampled = np.where(index < len(envelope), envelope[np.minimum(index, len(envelope) - 1)], 0.0)
    return float(sampled.mean())


def precision_recall_curve(tp: np.ndarray, confidence: np.ndarray, n_truth: int):
    """Recall and precision after each prediction, in descending confidence."""
    order = np.argsort(-np.asarray(confidence), kind="stable")
    tp_cum = np.cumsum(np.asarray(tp, dtype=float)[order])
    recall = tp_cum / max(n_truth, 1)
    precision = tp_cum / np.arange(1, len(tp_cum) + 1)
    return recall, precision


def _boxes(table: pd.DataFrame) -> np.ndarray:
    return table[_COORDS].to_numpy(dtype=float)


def match_all(
    predictions: pd.DataFrame, truth: pd.DataFrame, thresholds=IOU_THRESHOLDS
) -> pd.DataFrame:
    """Predictions with one boolean column tp@<thr> per IoU threshold, matched per image+class."""
    thresholds = np.atleast_1d(thresholds)
    columns = [f"tp@{t:.2f}" for t in thresholds]
    pieces = []
    truth_groups = {k: g for k, g in truth.groupby(["image_id", "class"], sort=False)}
    for key, group in predictions.groupby(["image_id", "class"], sort=False):
        target = truth_groups.get(key)
        truth_boxes = _boxes(target) if target is not None else np.zeros((0, 4))
        flags = match_image(_boxes(group), group["confidence"].to_numpy(), truth_boxes, thresholds)
        pieces.append(group.assign(**{c: flags[:, i] for i, c in enumerate(columns)}))
    if not pieces:
        return predictions.assign(**{c: pd.Series(dtype=bool) for c in columns})
    return pd.concat(pieces, ignore_index=True)


@dataclass
class DetectionEvaluation:
    per_class: pd.DataFrame  # class, n_truth, n_pred, precision, recall, ap50, ap50_95
    overall: dict  # precision, recall, map50, map50_95, n_images, n_truth, n_pred
    curves: dict  # class -> (recall, precision) at IoU 0.5


def evaluate_detections(
    predictions: pd.DataFrame,
    truth: pd.DataFrame,
    classes: list[str],
    confidence: float = 0.25,
    image_ids=None,
) -> DetectionEvaluation:
    """mAP over all predictions; precision and recall at `confidence`.

    `image_ids` names every evaluated image (including those with no predictions and
    those with no truth) so that n_images is right; by default the union of both tables.
    """
    classes = list(classes)
    unknown = (set(predictions["class"]) | set(truth["class"])) - set(classes)
    if unknown:
        raise ValueError(f"classes {sorted(unknown)} are not among the evaluated {classes}")
    matched = match_all(predictions, truth)
    thresholds = [c for c in matched.columns if c.startswith("tp@")]
    rows, curves = [], {}
    for name in classes:
        preds = matched[matched["class"] == name]
        n_truth = int((truth["class"] == name).sum())
        conf = preds["confidence"].to_numpy()
        aps = [average_precision(preds[c].to_numpy(), conf, n_truth) for c in thresholds]
        kept = preds[preds["confidence"] >= confidence]
        hits = int(kept["tp@0.50"].sum())
        rows.append(
            {
                "class": name,
                "n_truth": n_truth,
                "n_pred": len(kept),
                "precision": hits / len(kept) if len(kept) else float("nan"),
                "recall": hits / n_truth if n_truth else float("nan"),
                "ap50": aps[0],
                "ap50_95": float(np.mean(aps)) if n_truth else float("nan"),
            }
        )
        if n_truth:
            curves[name] = precision_recall_curve(preds["tp@0.50"].to_numpy(), conf, n_truth)
    per_class = pd.DataFrame(rows)
    kept = matched[matched["confidence"] >= confidence]
    hits = int(kept["tp@0.50"].sum()) if len(kept) else 0
    images = set(image_ids) if image_ids is not None else None
    if images is None:
        images = set(predictions["image_id"]) | set(truth["image_id"])
    overall = {
        "n_images": len(images),
        "n_truth": len(truth),
        "n_pred": len(kept),
        "confidence": confidence,
        "precision": hits / len(kept) if len(kept) else float("nan"),
        "recall": hits / len(truth) if len(truth) else float("nan"),
        "map50": float(per_class["ap50"].mean(skipna=True)),
        "map50_95": float(per_class["ap50_95"].mean(skipna=True)),
    }
    return DetectionEvaluation(per_class, overall, curves)


def confusion_matrix(
    predictions: pd.DataFrame,
    truth: pd.DataFrame,
    classes: list[str],
    true_classes: list[str] | None = None,
    iou_threshold: float = 0.5,
) -> pd.DataFrame:
    """Counts of true class (rows) against predicted class (columns), class-agnostic matching.

    `true_classes` (default: `classes`) may differ from the predicted ones: a one-class
    detector's rows can be the 24 true classes, which shows which chromosomes it misses.
    Each truth box is paired with at most one prediction (highest IoU first, ≥ threshold);
    unpaired truth boxes count as predicted `background` (missed), unpaired predictions as
    true `background` (false alarms).
    """
    rows = list(true_classes if true_classes is not None else classes) + [BACKGROUND]
    counts = pd.DataFrame(0, index=rows, columns=list(classes) + [BACKGROUND], dtype=int)
    truth_groups = {k: g for k, g in truth.groupby("image_id", sort=False)}
    pred_groups = {k: g for k, g in predictions.groupby("image_id", sort=False)}
    for image_id in set(truth_groups) | set(pred_groups):
        t = truth_groups.get(image_id, truth.iloc[0:0])
        p = pred_groups.get(image_id, predictions.iloc[0:0])
        used_p, used_t = set(), set()
        for pi, ti in match_boxes(_boxes(p), _boxes(t), iou_threshold):
            used_p.add(pi)
            used_t.add(ti)
            counts.loc[t["class"].iloc[ti], p["class"].iloc[pi]] += 1
        for ti in set(range(len(t))) - used_t:
            counts.loc[t["class"].iloc[ti], BACKGROUND] += 1
        for pi in set(range(len(p))) - used_p:
            counts.loc[BACKGROUND, p["class"].iloc[pi]] += 1
    return counts
