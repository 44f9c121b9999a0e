"""Straightening chromosome crops: the blog's seed-point affine method and a medial-axis one.

Both take a crop (bright chromosome on black, as extract_crops writes it) and return the
chromosome upright. `seed_affine` (the blog study's): orient the long axis vertically,
take the mean x of each row's chromosome pixels as medial points, split at the median
row, shear each half so its top/median/bottom medial points line up, concatenate.
`medial_axis`: the centreline from the mask's skeleton (longest path, extended to the
tips, smoothed), then the image sampled along normals at unit arc length, so C, S and U
shapes come out straight at their true length.

Then `orient_p_up` turns the result so the shorter arm (p) is on top, from the narrowest
point of the width profile (the centromere), with a confidence value."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from karyoflow.core.masks import fill_holes, row_medial_points

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


def check_shape(mask: np.ndarray, width: float | None = None) -> str:
    """ "" for a usable chromosome mask, else why not (width: its `thickness`, when
    known)."""
    area = int(mask.sum())
    if area == 0:
        return "empty"
    if area < 12:
        return "too_small"
    filled = fill_holes(mask)
    if filled.sum() > 1.15 * area and filled.sum() - area > 20:
        return "ring"
    # a disk's area is about 0.8 thickness squared; even the shortest chromosomes
    # (21, 22, Y: about 1.4 times as long as wide) are longer than that
    width = thickness(mask) if width is None else width
    if area < BLOB_AREA * width**2:
        return "blob"
    return ""


# area / thickness^2 below which a mask is a blob, not a chromosome
BLOB_AREA = 1.0


# below this, a chromosome is too short to bend: it is only turned upright
SHORT_AREA = 2.2


def thickness(mask: np.ndarray) -> float:
    return 2 * float(ndimage.distance_transform_edt(mask).max())


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


def seed_affine(image: np.ndarray, mask: np.ndarray, width: float | None = None) -> Straightened:
    reason = check_shape(mask, width)
    if reason:
        return _failure(image, mask, reason)
    image, mask = orient_vertical(np.where(mask, image, 0).astype(np.uint8), mask)
    rows, medial = row_medial_points(mask)
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


def _longest_path(skeleton: np.ndarray) -> np.ndarray:
    """(n, 2) row, col of the longest geodesic path through the skeleton pixels: a
    breadth-first search from the first pixel (row-major) finds one end, a second from
    there the other. Neighbours are visited in row-major order, so ties fall the same way
    on every run (scipy's search, on a graph whose rows list neighbours sorted)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import breadth_first_order

    rows, cols = np.nonzero(skeleton)
    n = len(rows)
    index = np.full(skeleton.shape, -1, dtype=np.int64)
    index[rows, cols] = np.arange(n)
    padded = np.pad(index, 1, constant_values=-1)
    sources, targets = [], []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                neighbour = padded[rows + 1 + dy, cols + 1 + dx]
                found = neighbour >= 0
                sources.append(np.arange(n)[found])
                targets.append(neighbour[found])
    source, target = np.concatenate(sources), np.concatenate(targets)
    graph = coo_matrix((np.ones(len(source)), (source, target)), shape=(n, n)).tocsr()
    graph.sort_indices()
    order, _ = breadth_first_order(graph, 0, directed=True, return_predecessors=True)
    far = order[-1]
    order, parent = breadth_first_order(graph, far, directed=True, return_predecessors=True)
    path = [order[-1]]
    while parent[path[-1]] >= 0:
        path.append(parent[path[-1]])
    return np.stack([rows[path], cols[path]], axis=1).astype(float)


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


def centreline(
    mask: np.ndarray, smooth: float | None = None, width: float | None = None
) -> np.ndarray:
    """Ordered (n, 2) row, col points along the chromosome, at unit arc length (width:
    the mask's `thickness`, when known)."""
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
    width = thickness(mask) if width is None else width
    smooth = smooth if smooth is not None else len(path) * (0.1 + 0.02 * width)
    spline, _ = splprep(path.T, s=smooth, k=3)
    dense = np.array(splev(np.linspace(0, 1, 4 * len(path)), spline)).T
    arc = np.r_[0, np.cumsum(np.hypot(*np.diff(dense, axis=0).T))]
    samples = np.arange(0, arc[-1] + 1e-9, 1.0)
    return np.stack([np.interp(samples, arc, dense[:, i]) for i in range(2)], axis=1)


def medial_axis(image: np.ndarray, mask: np.ndarray, width: float | None = None) -> Straightened:
    # the distance transform behind `width` is a fifth of the straightening's time: once
    width = thickness(mask) if width is None else width
    reason = check_shape(mask, width)
    if reason:
        return _failure(image, mask, reason)
    line = centreline(mask, width=width)
    if len(line) < 4:
        return _failure(image, mask, "too_small")
    tangent = np.gradient(line, axis=0)
    tangent /= np.maximum(np.hypot(*tangent.T), 1e-9)[:, None]
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    half = int(np.ceil(width / 2 * 1.4)) + 2
    offsets = np.arange(-half, half + 1)
    rows = line[:, 0, None] + normal[:, 0, None] * offsets[None, :]
    cols = line[:, 1, None] + normal[:, 1, None] * offsets[None, :]
    masked = np.where(mask, image, 0).astype(float)
    straight = ndimage.map_coordinates(masked, [rows, cols], order=1, mode="constant")
    straight_mask = ndimage.map_coordinates(mask.astype(np.uint8), [rows, cols], order=0) > 0
    straight = np.where(straight_mask, straight, 0).clip(0, 255).astype(np.uint8)
    length = float(np.hypot(*np.diff(line, axis=0).T).sum())
    return Straightened(straight, straight_mask, True, "", length)


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
    width = thickness(mask) if mask.any() else 0.0
    short = mask.any() and mask.sum() < SHORT_AREA * width**2
    if method == "none" or short:
        reason = check_shape(mask, width)
        if reason:
            return _failure(image, mask, reason)
        upright, upright_mask = orient_vertical(np.where(mask, image, 0).astype(np.uint8), mask)
        result = Straightened(
            upright, upright_mask, True, "", float(upright_mask.any(axis=1).sum())
        )
    elif method == "seed_affine":
        result = seed_affine(image, mask, width)
    else:
        result = medial_axis(image, mask, width)
    return orient_p_up(result)
