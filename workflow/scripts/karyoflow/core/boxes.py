"""Boxes as xmin ymin xmax ymax in pixels: IoU, one-to-one matching, clipping (numpy only).

One matcher serves every join by box: detection AP (COCO's greedy rule in descending
confidence), the detection confusion matrix and the truth of extracted crops (highest IoU
first)."""

from __future__ import annotations

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) intersection over union of boxes a (n, 4) and b (m, 4), as xmin ymin xmax ymax."""
    a = np.asarray(a, dtype=float).reshape(-1, 4)
    b = np.asarray(b, dtype=float).reshape(-1, 4)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(bottom_right - top_left, 0, None).prod(axis=2)
    area_a = (a[:, 2:] - a[:, :2]).clip(0).prod(axis=1)
    area_b = (b[:, 2:] - b[:, :2]).clip(0).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def match_boxes(
    pred_boxes: np.ndarray,
    truth_boxes: np.ndarray,
    iou_threshold: float = 0.5,
    confidence: np.ndarray | None = None,
) -> list[tuple[int, int]]:
    """One-to-one (prediction, truth) index pairs with box IoU >= iou_threshold
    (`match_by_iou`)."""
    pred_boxes = np.asarray(pred_boxes, dtype=float).reshape(-1, 4)
    truth_boxes = np.asarray(truth_boxes, dtype=float).reshape(-1, 4)
    return match_by_iou(box_iou(pred_boxes, truth_boxes), iou_threshold, confidence)


def match_by_iou(
    iou: np.ndarray, iou_threshold: float = 0.5, confidence: np.ndarray | None = None
) -> list[tuple[int, int]]:
    """One-to-one (prediction, truth) index pairs with IoU >= iou_threshold, from an
    (n_pred, n_truth) IoU matrix of boxes or masks.

    With `confidence`, predictions choose in descending confidence, each taking the free
    truth it overlaps most (COCO's rule, which AP needs). Without it, the pairs with the
    highest IoU are taken first. Either way a truth pairs with at most one prediction,
    so a duplicate detection or one box over a merged pair leaves the other unmatched.
    """
    iou = np.asarray(iou, dtype=float)
    if iou.ndim != 2 or 0 in iou.shape:
        return []
    pairs = []
    if confidence is not None:
        taken = np.zeros(iou.shape[1], dtype=bool)
        for p in np.argsort(-np.asarray(confidence, dtype=float), kind="stable"):
            candidates = np.where(~taken & (iou[p] >= iou_threshold), iou[p], -1.0)
            best = int(np.argmax(candidates))
            if candidates[best] >= 0:
                taken[best] = True
                pairs.append((int(p), best))
        return pairs
    candidates = np.argwhere(iou >= iou_threshold)
    candidates = candidates[np.argsort(-iou[candidates[:, 0], candidates[:, 1]], kind="stable")]
    used_p, used_t = set(), set()
    for p, t in candidates:
        if p not in used_p and t not in used_t:
            used_p.add(int(p))
            used_t.add(int(t))
            pairs.append((int(p), int(t)))
    return pairs


def match_image(
    pred_boxes: np.ndarray, pred_conf: np.ndarray, truth_boxes: np.ndarray, thresholds: np.ndarray
) -> np.ndarray:
    """(n_pred, n_thresholds) true-positive flags for one image and one class (COCO rule)."""
    thresholds = np.atleast_1d(thresholds)
    tp = np.zeros((len(pred_boxes), len(thresholds)), dtype=bool)
    for t, threshold in enumerate(thresholds):
        for p, _ in match_boxes(pred_boxes, truth_boxes, threshold, confidence=pred_conf):
            tp[p, t] = True
    return tp


def clip_boxes(boxes: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Boxes rounded outwards to whole pixels and clipped to the image."""
    h, w = shape
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    out = np.stack(
        [np.floor(boxes[:, 0]), np.floor(boxes[:, 1]), np.ceil(boxes[:, 2]), np.ceil(boxes[:, 3])],
        axis=1,
    )
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, w)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, h)
    return out.astype(int)
