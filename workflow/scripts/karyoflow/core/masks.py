"""Masks: foreground by Otsu's cut, largest component, filled holes, polygons, and packing on disk.

On disk, one compressed .npz per image holds every instance mask cut to its window;
masks may overlap (crossing chromosomes), so they are not stored as one label map."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage

from karyoflow.core.atomic import atomic_path


def pack_masks(masks: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Ragged boolean masks as flat arrays: shapes (n, 2), byte offsets (n + 1), bits."""
    shapes = np.array([m.shape for m in masks], dtype=np.int32).reshape(-1, 2)
    bits = [np.packbits(np.asarray(m, dtype=bool).ravel()) for m in masks]
    offsets = np.cumsum([0] + [len(b) for b in bits]).astype(np.int64)
    flat = np.concatenate(bits) if bits else np.zeros(0, np.uint8)
    return {"shapes": shapes, "offsets": offsets, "bits": flat}


def unpack_masks(shapes: np.ndarray, offsets: np.ndarray, bits: np.ndarray) -> list[np.ndarray]:
    """The masks pack_masks flattened, in order."""
    out = []
    for i, (h, w) in enumerate(shapes):
        flat = np.unpackbits(bits[offsets[i] : offsets[i + 1]], count=int(h * w))
        out.append(flat.reshape(int(h), int(w)).astype(bool))
    return out


def save_masks(path: str | Path, windows: list[tuple[int, int, np.ndarray]]) -> None:
    """Write masks given as (x0, y0, bool array) windows."""
    origins = np.array([(x0, y0) for x0, y0, _ in windows], dtype=np.int32).reshape(-1, 2)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, origins=origins, **pack_masks([m for _, _, m in windows]))


def load_masks(path: str | Path) -> list[tuple[int, int, np.ndarray]]:
    with np.load(path) as data:
        origins = data["origins"]
        masks = unpack_masks(data["shapes"], data["offsets"], data["bits"])
    return [(int(x0), int(y0), m) for (x0, y0), m in zip(origins, masks, strict=True)]


def window_iou(windows: list[tuple[int, int, np.ndarray]], masks: list[np.ndarray]) -> np.ndarray:
    """(n_windows, n_masks) intersection over union of (x0, y0, bool array) windows, as
    saved by save_masks, against full-image boolean masks of one image."""
    iou = np.zeros((len(windows), len(masks)))
    if not len(windows) or not len(masks):
        return iou
    full = np.stack([np.asarray(m, dtype=bool) for m in masks])
    areas = full.reshape(len(masks), -1).sum(axis=1)
    height, width = full.shape[1:]
    for i, (x0, y0, window) in enumerate(windows):
        # the part of the window inside the image (a window never starts left of or above it)
        x1, y1 = min(x0 + window.shape[1], width), min(y0 + window.shape[0], height)
        inside = window[: y1 - y0, : x1 - x0]
        inter = (full[:, y0:y1, x0:x1] & inside).reshape(len(masks), -1).sum(axis=1)
        union = areas + int(window.sum()) - inter
        iou[i] = np.divide(inter, union, out=np.zeros(len(masks)), where=union > 0)
    return iou


def largest_component(mask: np.ndarray) -> np.ndarray:
    labels, n = ndimage.label(mask)
    if n <= 1:
        return mask
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def row_medial_points(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the rows holding mask pixels, the mean column of each row's pixels): the row-mean
    medial points of an upright chromosome, top to bottom."""
    mask = np.asarray(mask, dtype=bool)
    counts = mask.sum(axis=1)
    rows = np.flatnonzero(counts)
    columns = mask[rows] @ np.arange(mask.shape[1], dtype=float)
    return rows, columns / counts[rows]


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """The 2-D mask with its holes filled: `scipy.ndimage.binary_fill_holes` (background
    4-connected to the outside stays background) by OpenCV's flood fill, ten times as
    fast on chromosome windows, where segmentation fills one per detected box."""
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"fill_holes takes a 2-D mask, got shape {mask.shape}")
    flooded = np.pad(mask, 1).astype(np.uint8)
    cv2.floodFill(flooded, None, (0, 0), 1, flags=4)  # the outside, from a padded corner
    return mask | (flooded[1:-1, 1:-1] == 0)


def polygon_mask(points, shape) -> np.ndarray:
    mask = np.zeros(shape, dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(np.asarray(points)).astype(np.int32)], 1)
    return mask > 0


# Otsu's threshold splits chromosome from background midway; the soft rim of a chromosome
# (blur, pale G-bands at the edge) lies below it, so the cut is made lower.
THRESHOLD_SCALE = 0.6


def otsu_foreground(
    contrast: np.ndarray, floor: float, scale: float = THRESHOLD_SCALE
) -> np.ndarray:
    """Pixels of a uint8 object-contrast map at or above `scale` x Otsu's threshold; on a
    mostly empty map Otsu can settle on noise, so the cut is never below `floor`."""
    otsu, _ = cv2.threshold(contrast, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return contrast >= max(otsu * scale, floor)
