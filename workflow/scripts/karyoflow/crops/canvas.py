"""Chromosome crops: each instance cut out by its mask, bright on a black canvas.

As in the blog study, the chromosome is bright on black. Unlike a resize-to-fit, every
crop of one cell is scaled by the same factor (the cell's scale), so relative length
within a cell survives: size is a feature. The factor maps the cell's longest
chromosomes (the 95th percentile of mask lengths) to `fill` of the canvas side. Crops
that would still overflow the canvas are shrunk to fit and flagged.

Per shard: one .npz with `canvas` (n, side, side) uint8, and the raw grey windows and
their masks (ragged, packed as in karyoflow.core.masks); one table row per crop."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pandas as pd

from karyoflow.core.atomic import atomic_path
from karyoflow.core.masks import pack_masks, unpack_masks

log = logging.getLogger(__name__)


CROP_COLUMNS = [
    "crop_id",
    "image_id",
    "instance_id",
    "crop_file",
    "crop_index",
    "true_class",
    "split",
    "det_class",
    "det_confidence",
    "mask_score",
    "length_px",
    "area_px",
    "cell_scale",
    "shrunk_to_fit",
    # the object's box in the input image's pixels: the detector's for a detected object
    "xmin",
    "ymin",
    "xmax",
    "ymax",
]


def mask_length(mask: np.ndarray) -> float:
    """Length of the mask's longest side of its minimum-area rectangle, in pixels."""
    points = cv2.findNonZero(mask.astype(np.uint8))
    if points is None:
        return 0.0
    (_, _), (w, h), _ = cv2.minAreaRect(points)
    return float(max(w, h))


def cell_scale(lengths: np.ndarray, side: int, fill: float) -> float:
    """Scale that maps the cell's long chromosomes (95th percentile) to fill * side."""
    lengths = np.asarray(lengths, dtype=float)
    lengths = lengths[lengths > 0]
    if len(lengths) == 0:
        return 1.0
    return fill * side / float(np.percentile(lengths, 95))


def to_canvas(
    grey: np.ndarray, mask: np.ndarray, scale: float, side: int, polarity: str = "dark"
) -> tuple[np.ndarray, bool]:
    """The masked chromosome, bright on black, scaled and centred on a side x side canvas."""
    bright = (255 - grey) if polarity == "dark" else grey.copy()
    bright = np.where(mask, bright, 0).astype(np.uint8)
    h, w = bright.shape
    shrunk = max(h, w) * scale > side
    if shrunk:
        scale = side / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(bright, (nw, nh), interpolation=interpolation)
    canvas = np.zeros((side, side), dtype=np.uint8)
    y0, x0 = (side - nh) // 2, (side - nw) // 2
    canvas[y0 : y0 + nh, x0 : x0 + nw] = resized
    return canvas, shrunk


def save_crops(path, canvases, windows) -> None:
    """canvases (n, side, side); windows: (grey window, bool mask) per crop, the masks
    packed as instance masks are (karyoflow.core.masks)."""
    packed = pack_masks([m for _, m in windows])
    grey = np.concatenate([g.ravel() for g, _ in windows]) if windows else np.zeros(0, np.uint8)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(
                handle, canvas=np.asarray(canvases, dtype=np.uint8), grey=grey, **packed
            )


def load_crops(path) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    with np.load(path) as data:
        canvas, grey = data["canvas"], data["grey"]
        masks = unpack_masks(data["shapes"], data["offsets"], data["bits"])
    windows, start = [], 0
    for mask in masks:
        windows.append((grey[start : start + mask.size].reshape(mask.shape), mask))
        start += mask.size
    return canvas, windows


def crops_from_cells(cells: dict, out_npz, *, side: int, fill: float) -> pd.DataFrame:
    """Crops table and arrays from {cell: [(source, class, grey window, mask, polarity)]}.

    Every crop of a cell gets the cell's scale; case_id is the cell id before its first
    dot, source_path where the crop came from; box columns are the window's own extent.
    """
    canvases, windows, rows = [], [], []
    for cell, items in cells.items():
        lengths = np.array([mask_length(item[3]) for item in items])
        scale = cell_scale(lengths, side, fill)
        for k, ((source, label, grey, mask, polarity), length) in enumerate(
            zip(items, lengths, strict=True)
        ):
            canvas, shrunk = to_canvas(grey, mask, scale, side, polarity)
            rows.append(
                (
                    f"{cell}#{k}",
                    cell,
                    k,
                    str(out_npz),
                    len(rows),
                    label,
                    "",
                    "",
                    float("nan"),
                    float("nan"),
                    round(float(length), 2),
                    int(mask.sum()),
                    round(scale, 5),
                    shrunk,
                    0,
                    0,
                    grey.shape[1],
                    grey.shape[0],
                    cell.split(".")[0],
                    str(source),
                )
            )
            canvases.append(canvas)
            windows.append((grey, mask))
    save_crops(out_npz, np.array(canvases, dtype=np.uint8).reshape(-1, side, side), windows)
    return pd.DataFrame(rows, columns=CROP_COLUMNS + ["case_id", "source_path"])


def merge_crop_shards(
    tables: list[str], arrays: list[str], out_arrays: str, *, labelled_only: bool = False
) -> tuple[pd.DataFrame, np.ndarray]:
    """Shards' crop tables and arrays as one crop set, in shard order: `out_arrays` holds
    every crop (only those with a true class if `labelled_only`), and each row's
    crop_file and crop_index point into it. Returns the table and the canvases written."""
    parts, canvases, windows, offset = [], [], [], 0
    for table_path, array_path in zip(tables, arrays, strict=True):
        table = pd.read_parquet(table_path)
        if labelled_only:
            table = table[table["true_class"].fillna("") != ""]
        canvas, shard_windows = load_crops(array_path)
        order = table["crop_index"].to_numpy(dtype=int)
        canvases.append(canvas[order])
        windows += [shard_windows[i] for i in order]
        parts.append(
            table.assign(crop_file=str(out_arrays), crop_index=offset + np.arange(len(table)))
        )
        offset += len(table)
    merged = np.concatenate(canvases)
    save_crops(out_arrays, merged, windows)
    return pd.concat(parts, ignore_index=True), merged
