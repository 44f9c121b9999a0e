"""The object screen: the chance that a detected object is not one whole chromosome.

Detection keeps nuclei, debris, boxes on part of a chromosome and boxes around two; the
count-aware assignment (karyoflow.classify.assign) may reject such an object, at a cost
set by this chance. The screen is a logistic regression (scikit-learn) learnt on the
validation images of the run: an object is "one chromosome" when it matches an
annotated chromosome one-to-one at box IoU >= 0.5, else not. Its features, per object
and relative to its own cell:

- the detector's confidence (as a logit),
- the classifier's highest class probability (as a log),
- the share of its box inside a more confident box of the same cell,
- its mask area against the cell's median (as a log, and the log's square).

The screen also records the detector's recall on those images (the share of annotated
chromosomes matched), from which the cost of assuming a missed chromosome follows, and
the prior cost of a common aneuploidy chosen on the same cells (calls.py).

A rejected object gets a reason from its geometry, which says what it looks like; the
decision itself is the assignment's.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

FEATURES = [
    "confidence_logit",
    "log_top_probability",
    "inside_more_confident",
    "log_relative_area",
    "log_relative_area_squared",
]
BOX = ["xmin", "ymin", "xmax", "ymax"]
# Reasons for a rejected object, first that applies. Descriptive thresholds only: they
# name what a rejected object looks like and decide nothing.
PART_OF_ANOTHER = 0.8  # share of its box inside a more confident box
TOO_LARGE = 2.5  # times the cell's median mask area: a nucleus or a cluster
TOO_SMALL = 0.25  # times the median: debris or a fragment
RECALL_RANGE = (0.5, 0.999)  # the recall a missed-chromosome cost is derived from
# A call that needs more chromosomes missed than the detector's recall leaves a chance
# of 1 in 1,000 for is not made: the field is incomplete or holds no metaphase.
MISSED_TAIL = 1e-3


def inside_more_confident(boxes: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """Per box: the largest share of its area inside a box of higher confidence."""
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    confidence = np.asarray(confidence, dtype=float)
    if len(boxes) < 2:
        return np.zeros(len(boxes))
    width = np.minimum(boxes[:, None, 2], boxes[None, :, 2]) - np.maximum(
        boxes[:, None, 0], boxes[None, :, 0]
    )
    height = np.minimum(boxes[:, None, 3], boxes[None, :, 3]) - np.maximum(
        boxes[:, None, 1], boxes[None, :, 1]
    )
    overlap = np.clip(width, 0, None) * np.clip(height, 0, None)
    area = np.clip((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1e-9, None)
    share = overlap / area[:, None]
    share[~(confidence[None, :] > confidence[:, None])] = 0.0  # only more confident ones
    return share.max(axis=1)


def object_features(objects: pd.DataFrame, probabilities: np.ndarray) -> pd.DataFrame:
    """The screen's features for a table of objects (image_id, det_confidence, area_px,
    xmin..ymax) with their (n, 24) class probabilities, in the table's row order."""
    objects = objects.reset_index(drop=True)
    confidence = objects["det_confidence"].to_numpy(float).clip(1e-4, 1 - 1e-4)
    median_area = objects.groupby("image_id")["area_px"].transform("median").to_numpy(float)
    log_area = np.log(np.clip(objects["area_px"].to_numpy(float), 1, None) / median_area)
    inside = np.zeros(len(objects))
    for _, rows in objects.groupby("image_id", sort=False).indices.items():
        inside[rows] = inside_more_confident(
            objects.loc[rows, BOX].to_numpy(float), confidence[rows]
        )
    return pd.DataFrame(
        {
            "confidence_logit": np.log(confidence / (1 - confidence)),
            "log_top_probability": np.log(np.clip(np.asarray(probabilities).max(axis=1), 1e-9, 1)),
            "inside_more_confident": inside,
            "log_relative_area": log_area,
            "log_relative_area_squared": log_area**2,
        }
    )


def classified_objects(classified: pd.DataFrame, crops: pd.DataFrame):
    """(objects with image_id, det_confidence, area_px and box, in the classified table's
    row order; their (n, 24) class probabilities) from a classify table and its crops."""
    from karyoflow.core.labels import CLASSES

    table = classified.reset_index(drop=True)
    objects = table[["crop_id", "image_id"]].merge(
        crops[["crop_id", "det_confidence", "area_px", *BOX]], on="crop_id", how="left"
    )
    objects["image_id"] = objects["image_id"].astype(str)
    if objects["det_confidence"].isna().any():
        raise ValueError("the classified table names crops the crop table does not hold")
    return objects, table[[f"p_{c}" for c in CLASSES]].to_numpy(float)


def rejection_reasons(features: pd.DataFrame) -> list[str]:
    """What each object looks like, should it be rejected."""
    reasons = []
    for inside, log_area in zip(
        features["inside_more_confident"], features["log_relative_area"], strict=True
    ):
        if inside >= PART_OF_ANOTHER:
            reasons.append("inside_another_object")
        elif log_area >= np.log(TOO_LARGE):
            reasons.append("too_large_nucleus_or_cluster")
        elif log_area <= np.log(TOO_SMALL):
            reasons.append("too_small_debris_or_fragment")
        else:
            reasons.append("weak_evidence")
    return reasons


def one_chromosome(objects: pd.DataFrame, annotations: pd.DataFrame) -> np.ndarray:
    """Per object: does it match an annotated chromosome one-to-one at box IoU >= 0.5?"""
    from karyoflow.core.boxes import match_boxes

    objects = objects.reset_index(drop=True)
    matched = np.zeros(len(objects), bool)
    truth_by_image = dict(tuple(annotations.groupby("image_id")))
    for image_id, rows in objects.groupby("image_id", sort=False).indices.items():
        truth = truth_by_image.get(image_id)
        if truth is None:
            continue
        pairs = match_boxes(objects.loc[rows, BOX].to_numpy(float), truth[BOX].to_numpy(float))
        matched[rows[[p for p, _ in pairs]]] = True
    return matched


def fit_screen(
    features: pd.DataFrame, matched: np.ndarray, groups, recall: float, seed: int = 0
) -> dict:
    """The screen (a JSON-able dict): logistic regression of "not one chromosome" on the
    features, its cross-validated AUC (folds by image), and the detector's recall."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold, cross_val_predict

    x = features[FEATURES].to_numpy(float)
    junk = ~np.asarray(matched, bool)
    record = {
        "features": FEATURES,
        "detector_recall": round(float(recall), 4),
        "n_objects": int(len(junk)),
        "n_images": int(len(set(groups))),
        "share_not_one_chromosome": round(float(junk.mean()), 4) if len(junk) else 0.0,
    }
    if junk.all() or not junk.any():
        # Nothing to tell apart (no objects, or all of one kind, e.g. a detector trained
        # for one epoch): every object gets the observed share, and the call leans on
        # the karyotype alone.
        share = float(np.clip(junk.mean() if len(junk) else 0.0, 1e-6, 1 - 1e-6))
        log.warning(
            "object screen: %d objects, %d not one chromosome; nothing to learn from, "
            "so every object gets the share %.4f",
            len(junk),
            int(junk.sum()),
            share,
        )
        return record | {
            "coefficients": [0.0] * len(FEATURES),
            "intercept": round(float(np.log(share / (1 - share))), 6),
            "share_not_one_chromosome": share,
            "cross_validated_auc": None,
            "fitted": False,
        }
    model = LogisticRegression(C=1.0, max_iter=1000, random_state=seed)
    folds = min(5, len(set(groups)))
    splits = list(GroupKFold(folds).split(x, junk, groups)) if folds >= 2 else []
    auc = None
    # With few images (a smoke run) every junk object may sit in one image; a fold that
    # trains on one kind alone cannot be fitted, so the AUC is then left unmeasured.
    if splits and all(len(set(junk[fit_rows])) == 2 for fit_rows, _ in splits):
        held_out = cross_val_predict(
            model, x, junk, groups=groups, cv=splits, method="predict_proba"
        )[:, 1]
        auc = round(float(roc_auc_score(junk, held_out)), 4)
    else:
        log.warning(
            "object screen: too few images with both kinds of object for %d-fold "
            "cross-validation; its AUC is not measured",
            folds,
        )
    model.fit(x, junk)
    return record | {
        "coefficients": [round(float(c), 6) for c in model.coef_[0]],
        "intercept": round(float(model.intercept_[0]), 6),
        "cross_validated_auc": auc,
        "fitted": True,
    }


def junk_probability(screen: dict, features: pd.DataFrame) -> np.ndarray:
    """Per object: the screen's chance that it is not one chromosome."""
    x = features[screen["features"]].to_numpy(float)
    score = x @ np.asarray(screen["coefficients"], float) + float(screen["intercept"])
    return 1.0 / (1.0 + np.exp(-score))


def missed_chromosome_cost(screen: dict) -> float:
    """Nats for each chromosome a call assumes was not detected: log(r / (1 - r)) at the
    detector's recall r (a missed chromosome against a detected one)."""
    recall = float(np.clip(screen["detector_recall"], *RECALL_RANGE))
    return float(np.log(recall / (1 - recall)))


def plausible_missed(screen: dict, n_chromosomes: int = 46) -> int:
    """The most chromosomes of a cell a call may take as missed by the detector: beyond
    it, the detector's recall makes that many misses (binomial, of `n_chromosomes`) less
    likely than MISSED_TAIL. At recall 0.971, 6 (1.3 expected)."""
    from scipy.stats import binom

    recall = float(np.clip(screen["detector_recall"], *RECALL_RANGE))
    return int(binom.isf(MISSED_TAIL, n_chromosomes, 1 - recall))


def read_screen(path: str) -> dict:
    from pathlib import Path

    screen = json.loads(Path(path).read_text())
    missing = {"features", "coefficients", "intercept", "detector_recall"} - set(screen)
    if missing or list(screen["features"]) != FEATURES:
        raise ValueError(
            f"{path} is not an object screen of this version (needs {sorted(missing)} "
            f"and features {FEATURES})"
        )
    return screen


def train_object_screen_files(
    classified: str,
    crops: str,
    annotations: str,
    images_csv: str,
    screen: str,
    *,
    classifier: str,
    extra_copy_penalty: float,
    seed: int = 0,
    processes: int = 1,
) -> dict:
    """Rule train_object_screen: the screen learnt on the validation images' objects, and
    with it the calls' class prior and the cost of a common aneuploidy, chosen on the same
    cells (karyoflow.karyotype.calls.choose_call_priors), all in one JSON: the calls'
    calibration for this detector and `classifier`."""
    from karyoflow.classify.train import training_class_shares
    from karyoflow.core.tables import write_json
    from karyoflow.karyotype.calls import choose_call_priors

    classified_table, crop_table = pd.read_parquet(classified), pd.read_parquet(crops)
    objects, probabilities = classified_objects(classified_table, crop_table)
    truth = pd.read_parquet(annotations)
    truth["image_id"] = truth["image_id"].astype(str)
    images = pd.read_csv(images_csv, dtype={"image_id": str})["image_id"]
    truth = truth[truth["image_id"].isin(set(images))]
    if truth.empty:
        raise ValueError(
            "the validation images have no annotated chromosome: the object screen needs "
            "a dataset with boxes or outlines"
        )
    matched = one_chromosome(objects, truth)
    record = fit_screen(
        object_features(objects, probabilities),
        matched,
        objects["image_id"].to_numpy(),
        recall=matched.sum() / len(truth),
        seed=seed,
    )
    record["n_images"] = int(images.nunique())  # also those where nothing was detected
    record |= choose_call_priors(
        classified_table,
        crop_table,
        record,
        truth,
        extra_copy_penalty,
        training_class_shares(classifier),
        processes,
    )
    write_json(record, screen)
    log.info(
        "object screen from %d objects in %d images: %.1f%% not one chromosome, "
        "cross-validated AUC %s, detector recall %.3f",
        record["n_objects"],
        record["n_images"],
        100 * record["share_not_one_chromosome"],
        record["cross_validated_auc"],
        record["detector_recall"],
    )
    log.info(
        "class prior %s (equal shares against training shares: %s), common aneuploidies "
        "%.1f nats (exact calls on %d validation cells by class prior and penalty: %s)",
        record["class_prior"],
        record["class_prior_test"],
        record["common_change_penalty"],
        record["n_cells_karyotyped"],
        record["class_prior_exact"],
    )
    return record
