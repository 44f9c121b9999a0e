"""Straightening chromosome crops: the blog's seed-point affine method and a medial-axis one.

Both take a crop (bright chromosome on black, as extract_crops writes it) and return the
chromosome upright. `seed_affine` (the blog study's): orient the long axis vertically,
take the mean x of each row's chromosome pixels as medial points, split at the median
row, shear each half so its top/median/bottom medial points line up, concatenate.
`medial_axis`: the centreline from the mask's skeleton (longest path, extended to the
tips, smoothed), then the image sampled along normals at unit arc length, so C, S and U
shapes come out straight at their true length.

Then `orient_p_up` turns the result so the shorter arm (p) is on top, from the narrowest
point of the width profile (the centromere), with a confidence value.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

METHODS = ("none", "seed_affine", "medial_axis")


@dataclass
class Straightened:
    image: np.ndarray  # uint8, chromosome vertical, bright on black
    mask: np.ndarray  # bool
    ok: bool
    reason: str = ""  # why not ok: "empty", "too_small", "blob", "ring"
    length_px: float = 0.0  # along the centreline (medial_axis) or the height (others)
    flipped: bool = False  # turned 180 degrees to put p up
    polarity_confidence: float = 0.0


def _failure(image, mask, reason) -> Straightened:
    return Straightened(image.copy(), mask.copy(), False, reason)


def check_shape(mask: np.ndarray) -> str:
    """ "" for a usable chromosome mask, else why not."""
    area = int(mask.sum())
    if area == 0:
        return "empty"
    if area < 12:
        return "too_small"
    filled = ndimage.binary_fill_holes(mask)
    if filled.sum() > 1.15 * area and filled.sum() - area > 20:
        return "ring"
    # a disk's area is about 0.8 thickness squared; even the shortest chromosomes
    # (21, 22, Y: about 1.4 times as long as wide) are longer than that
    if area < BLOB_AREA * thickness(mask) ** 2:
        return "blob"
    return ""


# area / thickness^2 below which a mask is a blob, not a chromosome
BLOB_AREA = 1.0
# below this, a chromosome is too short to bend: it is only turned upright
SHORT_AREA = 2.2


def thickness(mask: np.ndarray) -> float:
    return 2 * float(ndimage.distance_transform_edt(mask).max())


# ---- orientation -------------------------------------------------------------------


def orient_vertical(image: np.ndarray, mask: np.ndarray):
    """Rotate about the mask's centre so its long axis is vertical; pad to fit."""
    points = cv2.findNonZero(mask.astype(np.uint8))
    (cx, cy), (w, h), angle = cv2.minAreaRect(points)
    # OpenCV gives the rectangle's angle; turn so its long side is vertical
    rotation = angle if h >= w else angle - 90
    diagonal = int(np.ceil(np.hypot(*mask.shape))) + 4
    matrix = cv2.getRotationMatrix2D((cx, cy), rotation, 1.0)
    matrix[:, 2] += (diagonal / 2 - cx, diagonal / 2 - cy)
    rotated = cv2.warpAffine(image, matrix, (diagonal, diagonal), flags=cv2.INTER_LINEAR)
    rotated_mask = (
        cv2.warpAffine(mask.astype(np.uint8), matrix, (diagonal, diagonal), flags=cv2.INTER_NEAREST)
        > 0
    )
    return _trim(rotated, rotated_mask)


def _trim(image, mask, pad: int = 1):
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return image, mask
    y0, y1 = max(ys.min() - pad, 0), ys.max() + pad + 1
    x0, x1 = max(xs.min() - pad, 0), xs.max() + pad + 1
    return image[y0:y1, x0:x1], mask[y0:y1, x0:x1]


# ---- the blog's method -----------------------------------------------------------------


def seed_affine(image: np.ndarray, mask: np.ndarray) -> Straightened:
    reason = check_shape(mask)
    if reason:
        return _failure(image, mask, reason)
    image, mask = orient_vertical(np.where(mask, image, 0).astype(np.uint8), mask)
    rows = np.nonzero(mask.any(axis=1))[0]
    medial = np.array([np.nonzero(mask[y])[0].mean() for y in rows])
    top, bottom = rows[0], rows[-1]
    mid_index = len(rows) // 2
    mid = rows[mid_index]
    centre = mask.shape[1] / 2
    halves = []
    for (ya, xa), (yb, xb), part in (
        ((top, medial[0]), (mid, medial[mid_index]), slice(0, mid)),
        ((mid, medial[mid_index]), (bottom, medial[-1]), slice(mid, mask.shape[0])),
    ):
        source = np.float32([[xa, ya], [xb, yb], [xa + 10, ya]])
        target = np.float32([[centre, ya], [centre, yb], [centre + 10, ya]])
        matrix = cv2.getAffineTransform(source, target)
        size = (mask.shape[1], mask.shape[0])
        warped = cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR)
        warped_mask = cv2.warpAffine(mask.astype(np.uint8), matrix, size, flags=cv2.INTER_NEAREST)
        halves.append((warped[part], warped_mask[part] > 0))
    straight = np.concatenate([h[0] for h in halves], axis=0)
    straight_mask = np.concatenate([h[1] for h in halves], axis=0)
    straight, straight_mask = _trim(straight, straight_mask)
    return Straightened(straight, straight_mask, True, "", float(straight_mask.any(axis=1).sum()))


# ---- the medial-axis method ---------------------------------------------------------------


def _longest_path(skeleton: np.ndarray) -> np.ndarray:
    """(n, 2) row, col of the longest geodesic path through the skeleton pixels."""
    points = list(zip(*np.nonzero(skeleton), strict=True))
    index = {p: i for i, p in enumerate(points)}
    steps = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]

    def bfs(start):
        parent = {start: None}
        queue = deque([start])
        last = start
        while queue:
            last = queue.popleft()
            for dy, dx in steps:
                nxt = (last[0] + dy, last[1] + dx)
                if nxt in index and nxt not in parent:
                    parent[nxt] = last
                    queue.append(nxt)
        return last, parent

    far, _ = bfs(points[0])
    other, parent = bfs(far)
    path = [other]
    while parent[path[-1]] is not None:
        path.append(parent[path[-1]])
    return np.array(path, dtype=float)


def _extend_to_tip(path: np.ndarray, mask: np.ndarray, back: int = 5) -> np.ndarray:
    """Continue the path's last point along its direction until it leaves the mask."""
    if len(path) < 2:
        return path
    direction = path[-1] - path[max(len(path) - 1 - back, 0)]
    norm = np.hypot(*direction)
    if norm == 0:
        return path
    direction /= norm
    extra = []
    point = path[-1].copy()
    h, w = mask.shape
    while True:
        point = point + direction
        r, c = int(round(point[0])), int(round(point[1]))
        if not (0 <= r < h and 0 <= c < w) or not mask[r, c]:
            break
        extra.append(point.copy())
    return np.vstack([path, extra]) if extra else path


def centreline(mask: np.ndarray, smooth: float | None = None) -> np.ndarray:
    """Ordered (n, 2) row, col points along the chromosome, at unit arc length."""
    from scipy.interpolate import splev, splprep
    from skimage.morphology import skeletonize

    path = _longest_path(skeletonize(mask))
    path = _extend_to_tip(path, mask)
    path = _extend_to_tip(path[::-1], mask)[::-1]
    # drop repeated points, then a smoothing spline through the rest
    keep = np.r_[True, np.hypot(*np.diff(path, axis=0).T) > 0]
    path = path[keep]
    if len(path) < 4:
        return path
    width = 2 * ndimage.distance_transform_edt(mask).max()
    smooth = smooth if smooth is not None else len(path) * (0.1 + 0.02 * width)
    spline, _ = splprep(path.T, s=smooth, k=3)
    dense = np.array(splev(np.linspace(0, 1, 4 * len(path)), spline)).T
    arc = np.r_[0, np.cumsum(np.hypot(*np.diff(dense, axis=0).T))]
    samples = np.arange(0, arc[-1] + 1e-9, 1.0)
    return np.stack([np.interp(samples, arc, dense[:, i]) for i in range(2)], axis=1)


def medial_axis(image: np.ndarray, mask: np.ndarray) -> Straightened:
    reason = check_shape(mask)
    if reason:
        return _failure(image, mask, reason)
    line = centreline(mask)
    if len(line) < 4:
        return _failure(image, mask, "too_small")
    tangent = np.gradient(line, axis=0)
    tangent /= np.maximum(np.hypot(*tangent.T), 1e-9)[:, None]
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    half = int(np.ceil(ndimage.distance_transform_edt(mask).max() * 1.4)) + 2
    offsets = np.arange(-half, half + 1)
    rows = line[:, 0, None] + normal[:, 0, None] * offsets[None, :]
    cols = line[:, 1, None] + normal[:, 1, None] * offsets[None, :]
    masked = np.where(mask, image, 0).astype(float)
    straight = ndimage.map_coordinates(masked, [rows, cols], order=1, mode="constant")
    straight_mask = ndimage.map_coordinates(mask.astype(np.uint8), [rows, cols], order=0) > 0
    straight = np.where(straight_mask, straight, 0).clip(0, 255).astype(np.uint8)
    length = float(np.hypot(*np.diff(line, axis=0).T).sum())
    return Straightened(straight, straight_mask, True, "", length)


# ---- p arm up ----------------------------------------------------------------------


def orient_p_up(result: Straightened, margin: float = 0.15) -> Straightened:
    """Flip a vertical chromosome so the shorter arm is on top.

    The centromere is taken at the narrowest row between `margin` and 1 - `margin` of the
    length; confidence grows with how much narrower it is than the arms and how far from
    the middle it lies (a metacentric chromosome's arms are too alike to tell).
    """
    if not result.ok:
        return result
    width = result.mask.sum(axis=1).astype(float)
    rows = np.nonzero(width)[0]
    if len(rows) < 8:
        return result
    profile = ndimage.uniform_filter1d(width[rows[0] : rows[-1] + 1], size=3)
    n = len(profile)
    lo, hi = int(n * margin), int(np.ceil(n * (1 - margin)))
    centromere = lo + int(np.argmin(profile[lo:hi]))
    position = centromere / (n - 1)
    depth = 1 - profile[centromere] / max(np.median(profile), 1e-9)
    confidence = float(np.clip(depth * 2, 0, 1) * np.clip(abs(position - 0.5) * 4, 0, 1))
    flip = position > 0.5
    image = result.image[::-1] if flip else result.image
    mask = result.mask[::-1] if flip else result.mask
    return Straightened(
        image.copy(), mask.copy(), True, "", result.length_px, flip, round(confidence, 3)
    )


def straighten(image: np.ndarray, mask: np.ndarray | None = None, method: str = "medial_axis"):
    """One crop (bright on black): straightened, vertical, p arm up where it can tell."""
    if method not in METHODS:
        raise ValueError(f"straighten.method {method!r} is not one of {METHODS}")
    mask = image > 0 if mask is None else mask.astype(bool)
    short = mask.any() and mask.sum() < SHORT_AREA * thickness(mask) ** 2
    if method == "none" or short:
        reason = check_shape(mask)
        if reason:
            return _failure(image, mask, reason)
        upright, upright_mask = orient_vertical(np.where(mask, image, 0).astype(np.uint8), mask)
        result = Straightened(
            upright, upright_mask, True, "", float(upright_mask.any(axis=1).sum())
        )
    elif method == "seed_affine":
        result = seed_affine(image, mask)
    else:
        result = medial_axis(image, mask)
    return orient_p_up(result)


# ---- whole crop tables ---------------------------------------------------------------

STRAIGHT_COLUMNS = [
    "crop_id",
    "straight_index",
    "method",
    "ok",
    "reason",
    "length_px",
    "flipped",
    "polarity_confidence",
    "shrunk_to_fit",
]


def place_on_canvas(image: np.ndarray, side: int) -> tuple[np.ndarray, bool]:
    """Centre a straightened chromosome on a side x side canvas (shrunk only if too big)."""
    from karyoflow.crops import to_canvas

    return to_canvas(image, np.ones(image.shape, bool), 1.0, side, "bright")


def straighten_canvases(canvases: np.ndarray, crop_ids, method: str, progress_every=2000):
    """Straightened canvases (same size, same scale) and one table row per crop."""
    import logging

    from karyoflow.logs import Progress

    progress = Progress(
        logging.getLogger("karyoflow.straighten"),
        "straightened",
        len(canvases),
        every=progress_every,
        unit="crops",
    )
    side = canvases.shape[1] if len(canvases) else 0
    out, rows = np.zeros_like(canvases), []
    for i, (canvas, crop_id) in enumerate(zip(canvases, crop_ids, strict=True)):
        result = straighten(canvas, method=method)
        placed, shrunk = place_on_canvas(np.where(result.mask, result.image, 0), side)
        out[i] = placed
        rows.append(
            (
                crop_id,
                i,
                method,
                result.ok,
                result.reason,
                round(result.length_px, 2),
                result.flipped,
                result.polarity_confidence,
                shrunk,
            )
        )
        progress.update(i + 1)
    import pandas as pd

    return out, pd.DataFrame(rows, columns=STRAIGHT_COLUMNS)


def straighten_crops_files(crops: str, arrays: str, table: str, straight: str, *, method: str):
    """Rule straighten: every crop of a crops table, in one batch job."""
    import pandas as pd

    from karyoflow.crops import load_crops
    from karyoflow.io.atomic import atomic_path
    from karyoflow.io.tables import write_parquet

    crops_table = pd.read_parquet(crops)
    canvases, _ = load_crops(arrays)
    canvases = canvases[crops_table["crop_index"].to_numpy(dtype=int)]
    out, rows = straighten_canvases(canvases, crops_table["crop_id"], method)
    write_parquet(rows, table)
    with atomic_path(straight) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, canvas=out)
    return rows


# ---- evaluation against synthetic truth ----------------------------------------------


def band_scores(image: np.ndarray, mask: np.ndarray, cls: str) -> tuple[float, bool]:
    """(correlation of the row profile with the class's ideogram, whichever way up;
    whether it is p up). The canvas is bright where the chromosome is dark."""
    from karyoflow.bands import chromosome

    rows = mask.any(axis=1)
    if rows.sum() < 4:
        return float("nan"), False
    sums = np.where(mask, image, 0).sum(axis=1)[rows]
    profile = sums / np.maximum(mask.sum(axis=1)[rows], 1)
    ideogram = chromosome(cls).darkness_profile(len(profile))
    if np.std(profile) == 0 or np.std(ideogram) == 0:
        return float("nan"), False
    up = float(np.corrcoef(profile, ideogram)[0, 1])
    down = float(np.corrcoef(profile[::-1], ideogram)[0, 1])
    return max(up, down), up >= down


def straightness_error(mask: np.ndarray) -> float:
    """Spread (px) of the row-wise medial x of an upright chromosome: 0 when straight."""
    medial = [np.nonzero(row)[0].mean() for row in mask if row.any()]
    return float(np.std(medial)) if len(medial) > 1 else float("nan")


def score_methods(crops: pd.DataFrame, canvases: np.ndarray, truth_lengths, bent) -> pd.DataFrame:
    """One row per crop and method: length ratio, band correlation, p up, straightness."""
    import pandas as pd

    rows = []
    for method in METHODS:
        for k, crop in enumerate(crops.itertuples(index=False)):
            result = straighten(canvases[crop.crop_index], method=method)
            expected = truth_lengths[k] * crop.cell_scale
            corr, p_up = band_scores(result.image, result.mask, crop.true_class)
            rows.append(
                (
                    crop.crop_id,
                    crop.true_class,
                    "bent" if bent[k] else "straight",
                    method,
                    result.ok,
                    result.length_px / expected if expected else float("nan"),
                    corr,
                    p_up,
                    straightness_error(result.mask) if result.ok else float("nan"),
                )
            )
    return pd.DataFrame(
        rows,
        columns=[
            "crop_id",
            "true_class",
            "shape",
            "method",
            "ok",
            "length_ratio",
            "band_correlation",
            "p_up",
            "straightness_px",
        ],
    )


def evaluate_straightening(
    crops: str,
    arrays: str,
    manifest: str,
    metrics_json: str,
    scores_png: str,
    gallery_png: str,
    *,
    max_crops: int = 1500,
) -> dict:
    """Rule evaluate_straightening: every method on the crops with synthetic truth."""
    import json
    import logging
    from pathlib import Path

    import pandas as pd

    from karyoflow import plots
    from karyoflow.crops import load_crops
    from karyoflow.ingest import read_manifest
    from karyoflow.io.tables import write_json

    log = logging.getLogger("karyoflow.straighten")
    table = pd.read_parquet(crops)
    truth_paths = read_manifest(manifest).set_index("image_id")["truth_path"].to_dict()
    table = table[
        (table["truth_index"] >= 0) & table["image_id"].map(truth_paths).fillna("").ne("")
    ]
    table = table.head(max_crops)
    canvases, _ = load_crops(arrays)
    cache: dict[str, list] = {}
    lengths, bent = [], []
    for crop in table.itertuples(index=False):
        if crop.image_id not in cache:
            cache[crop.image_id] = json.loads(Path(truth_paths[crop.image_id]).read_text())[
                "instances"
            ]
        instance = cache[crop.image_id][crop.truth_index]
        lengths.append(instance["length_px"])
        bent.append(bool(instance["bent"]))
    scores = score_methods(table, canvases, lengths, bent)
    summary = {"n_crops": len(table), "methods": {}}
    if scores.empty:
        summary["note"] = "no crop with synthetic truth to score (no truth files, or no crops)"
    for (method, shape), group in scores.groupby(["method", "shape"]):
        ok = group[group["ok"]]
        summary["methods"].setdefault(method, {})[shape] = {
            "n": len(group),
            "ok_share": float(group["ok"].mean()),
            "length_preserved_pct": float(100 * ok["length_ratio"].median()),
            "length_ratio_mean": float(ok["length_ratio"].mean()),
            "band_correlation_mean": float(ok["band_correlation"].mean()),
            "polarity_accuracy": float(ok["p_up"].mean()),
            "straightness_px_median": float(ok["straightness_px"].median()),
        }
    write_json(summary, metrics_json)
    for method, shapes in summary["methods"].items():
        for shape, values in shapes.items():
            log.info(
                "%s, %s (%d): length %.1f%%, band r %.3f, p up %.3f, straightness %.2f px",
                method,
                shape,
                values["n"],
                values["length_preserved_pct"],
                values["band_correlation_mean"],
                values["polarity_accuracy"],
                values["straightness_px_median"],
            )
    plots.straightening_scores(scores, scores_png)
    # the 4 worst and 4 best bent chromosomes by medial_axis band-profile correlation
    ranked = scores[
        (scores["method"] == "medial_axis") & (scores["shape"] == "bent") & scores["ok"]
    ].sort_values("band_correlation")
    picked = list(ranked["crop_id"].head(4)) + list(ranked["crop_id"].tail(4))
    by_id = table.set_index("crop_id")
    examples = [
        [canvases[by_id.at[crop_id, "crop_index"]]]
        + [
            place_on_canvas(np.where(r.mask, r.image, 0), canvases.shape[1])[0]
            for r in (
                straighten(canvases[by_id.at[crop_id, "crop_index"]], method=m) for m in METHODS
            )
        ]
        for crop_id in dict.fromkeys(picked)
    ]
    plots.straightening_gallery(
        examples, ["crop (worst 4, then best 4)"] + list(METHODS), gallery_png
    )
    return summary


def straighten_gallery_files(
    crops: str, arrays: str, straight: str, table: str, gallery: str, *, n: int = 12
) -> None:
    """Before/after pictures of the most bent crops of a set (e.g. real crops)."""
    import pandas as pd

    from karyoflow import plots
    from karyoflow.crops import load_crops

    crops_table = pd.read_parquet(crops)
    before, _ = load_crops(arrays)
    before = before[crops_table["crop_index"].to_numpy(dtype=int)]
    with np.load(straight) as data:
        after = data["canvas"]
    rows = pd.read_parquet(table)
    candidates = rows[rows["ok"]].head(600)
    # bend: how much longer the chromosome is along its centreline than upright as it is
    upright = [straighten(before[i], method="none").length_px for i in candidates["straight_index"]]
    bend = candidates["length_px"].to_numpy() / np.maximum(upright, 1)
    chosen = candidates.iloc[np.argsort(-bend)[:n]]["straight_index"]
    examples = [[before[i], after[i]] for i in chosen]
    method = rows["method"].iloc[0] if len(rows) else ""
    plots.straightening_gallery(examples, ["crop", f"straightened ({method})"], gallery)
