"""Mask quality against ground truth, with the truth boxes as prompts.

Prompting with the annotated boxes measures the segmenter alone (detection misses would
otherwise count as segmentation failures). Ground truth: the synthetic truth files
(amodal outlines: the whole chromosome, also where another one lies on top) and LabelMe
polygons (e.g. the BioImLab Q-band set)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from karyoflow.core.images import read_grayscale
from karyoflow.core.masks import polygon_mask
from karyoflow.segment.classical import InstanceMask, segment_boxes

log = logging.getLogger(__name__)


KINDS = ("isolated", "touching", "overlapping")


SCORE_COLUMNS = ["image_id", "instance", "kind", "iou", "dice", "truth_area", "pred_area"]


@dataclass
class TruthImage:
    image_id: str
    image: np.ndarray
    boxes: np.ndarray  # (n, 4)
    masks: list[np.ndarray]  # full-image bool masks
    kinds: list[str]


def synthetic_truth(image_path: str, truth_path: str, image_id: str) -> TruthImage:
    image, _ = read_grayscale(image_path)
    truth = json.loads(Path(truth_path).read_text())
    instances = truth["instances"]
    return TruthImage(
        image_id,
        image,
        np.array([inst["box"] for inst in instances], dtype=float).reshape(-1, 4),
        [polygon_mask(inst["outline"], image.shape) for inst in instances],
        [
            "overlapping" if inst["overlapping"] else "touching" if inst["touching"] else "isolated"
            for inst in instances
        ],
    )


def labelme_truth(path: str | Path) -> TruthImage:
    """A LabelMe file: overlapping polygons are overlapping, touching ones touching."""
    from karyoflow.core.labelme import read_labelme

    annotated = read_labelme(path)
    masks = annotated.masks()
    kinds = []
    kernel = np.ones((3, 3), np.uint8)
    for i, mask in enumerate(masks):
        grown = cv2.dilate(mask.astype(np.uint8), kernel) > 0
        others = [m for j, m in enumerate(masks) if j != i]
        if any((mask & m).any() for m in others):
            kinds.append("overlapping")
        elif any((grown & m).any() for m in others):
            kinds.append("touching")
        else:
            kinds.append("isolated")
    return TruthImage(Path(path).stem, annotated.image, annotated.boxes(), masks, kinds)


def score_image(truth: TruthImage, predicted: list[InstanceMask | None]) -> list[tuple]:
    rows = []
    for i, (mask, kind) in enumerate(zip(truth.masks, truth.kinds, strict=True)):
        pred = predicted[i]
        full = pred.full(mask.shape) if pred is not None else np.zeros(mask.shape, bool)
        inter, union = int((full & mask).sum()), int((full | mask).sum())
        total = int(full.sum()) + int(mask.sum())
        rows.append(
            (
                truth.image_id,
                i,
                kind,
                inter / union if union else 0.0,
                2 * inter / total if total else 0.0,
                int(mask.sum()),
                int(full.sum()),
            )
        )
    return rows


def evaluate_prompted(
    truths: Iterable[TruthImage], segment, gallery_size: int = 8
) -> tuple[pd.DataFrame, list]:
    """Per-instance scores; `segment(image, boxes)` returns one InstanceMask|None per box.

    Also returns gallery candidates: (iou, image crop, truth crop, predicted crop).
    """
    rows, crops = [], []
    for truth in truths:
        predicted = segment(truth.image, truth.boxes)
        scored = score_image(truth, predicted)
        rows += scored
        for row, pred, mask, box in zip(scored, predicted, truth.masks, truth.boxes, strict=True):
            crops.append((row[3], row[0], row[1], row[2], _crop(truth.image, mask, pred, box)))
        # keep only the extremes so memory stays flat on big sets
        crops.sort(key=lambda c: c[0])
        if len(crops) > 4 * gallery_size:
            crops = crops[:gallery_size] + crops[-gallery_size:]
    return pd.DataFrame(rows, columns=SCORE_COLUMNS), crops


def _crop(image, mask, pred, box, pad: int = 6):
    h, w = image.shape
    x0, y0 = max(int(box[0]) - pad, 0), max(int(box[1]) - pad, 0)
    x1, y1 = min(int(np.ceil(box[2])) + pad, w), min(int(np.ceil(box[3])) + pad, h)
    full = pred.full(image.shape) if pred is not None else np.zeros(image.shape, bool)
    return image[y0:y1, x0:x1].copy(), mask[y0:y1, x0:x1].copy(), full[y0:y1, x0:x1].copy()


def summarize(scores: pd.DataFrame, method: str) -> dict:
    def stats(table):
        return {
            "n_instances": len(table),
            "mean_iou": float(table["iou"].mean()) if len(table) else None,
            "median_iou": float(table["iou"].median()) if len(table) else None,
            "mean_dice": float(table["dice"].mean()) if len(table) else None,
            "frac_iou_ge_0.5": float((table["iou"] >= 0.5).mean()) if len(table) else None,
            "frac_iou_ge_0.75": float((table["iou"] >= 0.75).mean()) if len(table) else None,
        }

    return {
        "method": method,
        "n_images": int(scores["image_id"].nunique()),
        **stats(scores),
        "by_kind": {kind: stats(scores[scores["kind"] == kind]) for kind in KINDS},
    }


def classical_segmenter(polarity: str = "auto"):
    def segment(image, boxes):
        return segment_boxes(image, boxes, polarity=polarity)[0]

    return segment


def sam_segmenter(predictor):
    from karyoflow.segment.sam import sam_segment

    def segment(image, boxes):
        return sam_segment(predictor, image, boxes)

    return segment


def iter_synthetic(manifest: pd.DataFrame) -> Iterator[TruthImage]:
    for row in manifest.itertuples(index=False):
        if not row.truth_path:
            continue
        yield synthetic_truth(row.image_path, row.truth_path, row.image_id)


def iter_labelme(folder: str | Path) -> Iterator[TruthImage]:
    from karyoflow.core.errors import BadInputError

    files = sorted(Path(folder).glob("*.json"))
    if not files:
        raise BadInputError(folder, "no_annotations", "no LabelMe .json file in this folder")
    for path in files:
        try:
            yield labelme_truth(path)
        except BadInputError as err:
            log.warning("skipped %s", err)


OVERLAP_LABEL = 255


MIN_INSTANCE_PX = 20


def read_label_map(path: str | Path) -> np.ndarray:
    """A label image as its stored indices (a palette image is NOT expanded to colours)."""
    from karyoflow.core.errors import BadInputError
    from karyoflow.core.images import _pillow_open

    try:
        with _pillow_open()(path) as im:
            return np.asarray(im)
    except Exception as err:
        raise BadInputError(path, "unreadable_image", f"cannot read label map ({err})") from err


def labelmap_truth(image_path, label_path, image_id: str) -> TruthImage:
    """Instances = connected components of each class; overlap regions (255) join the
    components they touch, and make them `overlapping`."""
    from scipy import ndimage

    image, _ = read_grayscale(image_path)
    labels = read_label_map(label_path)
    if labels.shape != image.shape:
        from karyoflow.core.errors import BadInputError

        raise BadInputError(
            label_path, "size_mismatch", f"label map {labels.shape} but image {image.shape}"
        )
    overlap, n_overlap = ndimage.label(labels == OVERLAP_LABEL)
    grow = np.ones((3, 3), bool)
    masks, kinds = [], []
    for cls in sorted(set(np.unique(labels)) - {0, OVERLAP_LABEL}):
        components, n = ndimage.label(labels == cls, structure=grow)
        for k in range(1, n + 1):
            mask = components == k
            if mask.sum() < MIN_INSTANCE_PX:
                continue
            touched = set(np.unique(overlap[ndimage.binary_dilation(mask, grow)])) - {0}
            for region in touched:
                mask |= overlap == region
            masks.append(mask)
            kinds.append("overlapping" if touched else "")
    occupied = np.zeros(labels.shape, np.int32)
    for i, mask in enumerate(masks, start=1):
        occupied[mask & (occupied == 0)] = i
    for i, mask in enumerate(masks):
        if kinds[i]:
            continue
        around = ndimage.binary_dilation(mask, grow, iterations=2) & ~mask
        neighbours = set(np.unique(occupied[around])) - {0, i + 1}
        kinds[i] = "touching" if neighbours else "isolated"
    boxes = []
    for mask in masks:
        ys, xs = np.nonzero(mask)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    return TruthImage(image_id, image, np.array(boxes, float).reshape(-1, 4), masks, kinds)


def iter_labelmaps(folder: str | Path, image_suffix: str = "D", label_suffix: str = "K"):
    """Pairs <name><image_suffix>.<ext> / <name><label_suffix>.<ext> anywhere under folder."""
    from karyoflow.core.errors import BadInputError

    folder = Path(folder)
    pairs = []
    for label_path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stem = label_path.stem
        if not stem.upper().endswith(label_suffix.upper()):
            continue
        base = stem[: -len(label_suffix)]
        partner = [
            p
            for p in label_path.parent.iterdir()
            if p.stem.upper() == (base + image_suffix).upper() and p.suffix == label_path.suffix
        ]
        if partner:
            pairs.append((partner[0], label_path, base))
    if not pairs:
        raise BadInputError(
            folder,
            "no_annotations",
            f"no <name>{image_suffix} image / <name>{label_suffix} label map pairs found",
        )
    for image_path, label_path, base in pairs:
        try:
            yield labelmap_truth(image_path, label_path, base)
        except BadInputError as err:
            log.warning("skipped %s", err)


# ---- instances found from the raw image (detection, then segmentation) ----------------

INSTANCE_IOU = 0.5
IMAGE_SCORE_COLUMNS = ["image_id", "n_annotated", "n_found", "n_matched", "mean_matched_iou"]


def score_instances(
    truth: TruthImage, windows: list[tuple[int, int, np.ndarray]], iou: float = INSTANCE_IOU
) -> tuple[tuple, list[tuple]]:
    """One image's instances, found without the truth (mask windows as save_masks writes
    them), matched one-to-one to its truth masks at mask IoU >= `iou`, highest first: the
    image's row (IMAGE_SCORE_COLUMNS) and one (image_id, instance, kind, matched, iou) row
    per truth instance. A mask over two chromosomes matches at most one of them."""
    from karyoflow.core.boxes import match_by_iou
    from karyoflow.core.masks import window_iou

    ious = window_iou(windows, truth.masks)
    pairs = match_by_iou(ious, iou)
    best = dict((t, ious[p, t]) for p, t in pairs)
    rows = [
        (truth.image_id, i, kind, i in best, float(best.get(i, 0.0)))
        for i, kind in enumerate(truth.kinds)
    ]
    matched_iou = float(np.mean(list(best.values()))) if best else None
    image_row = (truth.image_id, len(truth.masks), len(windows), len(pairs), matched_iou)
    return image_row, rows


def summarize_instances(images: pd.DataFrame, instances: pd.DataFrame) -> dict:
    """Precision, recall and F1 of the found instances, recall per kind, and object counts
    per image (exact share, mean |found - annotated|)."""
    n_annotated, n_found = int(images["n_annotated"].sum()), int(images["n_found"].sum())
    n_matched = int(images["n_matched"].sum())
    precision = n_matched / n_found if n_found else None
    recall = n_matched / n_annotated if n_annotated else None
    f1 = 2 * n_matched / (n_found + n_annotated) if n_found + n_annotated else None
    errors = (images["n_found"] - images["n_annotated"]).to_numpy()
    by_kind = {}
    for kind in KINDS:
        chosen = instances[instances["kind"] == kind]
        by_kind[kind] = {
            "annotated": len(chosen),
            "matched": int(chosen["matched"].sum()),
            "recall": round(float(chosen["matched"].mean()), 4) if len(chosen) else None,
        }

    def rounded(value, digits=4):
        return None if value is None else round(float(value), digits)

    matched = instances[instances["matched"]]
    return {
        "iou_threshold": INSTANCE_IOU,
        "n_images": len(images),
        "n_annotated": n_annotated,
        "n_found": n_found,
        "n_matched": n_matched,
        "precision": rounded(precision),
        "recall": rounded(recall),
        "f1": rounded(f1),
        "mean_matched_iou": rounded(matched["iou"].mean() if len(matched) else None),
        "by_kind": by_kind,
        "count": {
            "exact_rate": rounded((errors == 0).mean() if len(errors) else None),
            "mean_abs_error": rounded(np.abs(errors).mean() if len(errors) else None, 3),
            "mean_error": rounded(errors.mean() if len(errors) else None, 3),
            "error_histogram": {
                int(e): int(n) for e, n in zip(*np.unique(errors, return_counts=True), strict=True)
            },
        },
    }
