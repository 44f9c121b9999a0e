"""Scoring a detector's box table against annotations, and the report's figures (no torch)."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pandas as pd

from karyoflow.core.labels import CLASSES
from karyoflow.core.tables import write_csv, write_json
from karyoflow.detect.dataset import class_names
from karyoflow.detect.metrics import confusion_matrix, evaluate_detections

log = logging.getLogger(__name__)


def truth_for_task(annotations: pd.DataFrame, task: str) -> pd.DataFrame:
    """Annotation boxes with `class` in the detector's classes and `true_class` kept."""
    truth = annotations.rename(columns={"class": "true_class"})
    truth["class"] = truth["true_class"] if task == "karyotype24" else class_names(task)[0]
    return truth


def score_detections(
    boxes: pd.DataFrame,
    annotations: pd.DataFrame,
    image_ids: list[str],
    task: str,
    confidence: float,
):
    """(evaluation, confusion by true class) for the images named in `image_ids`."""
    wanted = set(image_ids)
    truth = truth_for_task(annotations[annotations["image_id"].isin(wanted)], task)
    boxes = boxes[boxes["image_id"].isin(wanted)]
    evaluation = evaluate_detections(
        boxes, truth, class_names(task), confidence=confidence, image_ids=wanted
    )
    present = [c for c in CLASSES if c in set(truth["true_class"])]
    confusion = confusion_matrix(
        boxes[boxes["confidence"] >= confidence],
        truth.assign(**{"class": truth["true_class"]}),
        class_names(task),
        true_classes=present,
    )
    return evaluation, confusion


def _clean(value):
    return None if isinstance(value, float) and math.isnan(value) else value


def evaluate_detector(
    boxes_parquet: str,
    annotations_parquet: str,
    images_csv: str,
    task: str,
    confidence: float,
    metrics_json: str,
    *,
    training_json: str | None = None,
    per_class_csv: str | None = None,
    confusion_png: str | None = None,
    pr_png: str | None = None,
    label: str = "test split",
) -> dict:
    """Write the metrics JSON (and, when paths are given, the table and figures)."""
    from karyoflow.detect import plots

    boxes = pd.read_parquet(boxes_parquet)
    annotations = pd.read_parquet(annotations_parquet)
    images = pd.read_csv(images_csv, dtype={"image_id": str})
    evaluation, confusion = score_detections(
        boxes, annotations, images["image_id"].tolist(), task, confidence
    )
    record = {
        "images": label,
        "task": task,
        **{k: _clean(v) for k, v in evaluation.overall.items()},
        "per_class": [
            {k: _clean(v) for k, v in row.items()}
            for row in evaluation.per_class.to_dict("records")
        ],
    }
    if training_json:
        training = json.loads(Path(training_json).read_text())
        record["training"] = {
            k: training.get(k)
            for k in (
                "model",
                "imgsz",
                "epochs",
                "batch",
                "device",
                "train_seconds",
                "resumed",
                "seed",
            )
        }
    write_json(record, metrics_json)
    log.info(
        "%s: mAP50 %.4f, mAP50-95 %.4f, precision %.4f, recall %.4f at confidence %.2f "
        "(%d images, %d truth boxes)",
        label,
        record["map50"],
        record["map50_95"],
        record["precision"] or 0,
        record["recall"] or 0,
        confidence,
        record["n_images"],
        record["n_truth"],
    )
    if per_class_csv:
        write_csv(evaluation.per_class.round(4), per_class_csv)
    if confusion_png:
        plots.detection_confusion(confusion, confusion_png, title=f"Detection, {label}")
    if pr_png:
        plots.precision_recall(evaluation.curves, pr_png, overall=evaluation.overall)
    return record
