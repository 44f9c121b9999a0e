"""Classical instance segmentation inside detection boxes (OpenCV / scikit-image, no ML).

Per image: the background is estimated by a morphological closing (or opening, for bright
chromosomes on a dark background) wider than a chromosome, subtracted, and the difference
thresholded by Otsu's method. Per box: the foreground inside the slightly enlarged box;
pixels that a neighbouring box also covers are shared out by a watershed on the distance
transform, seeded by the pixels only this box covers and those only the neighbour covers;
where that cuts a chromosome in two (another crosses it), the crossing pixels on its line
rejoin the pieces, so both chromosomes keep them; the largest component is kept and its
holes filled. Masks may overlap where boxes do."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage
from skimage.morphology import convex_hull_image
from skimage.segmentation import watershed

from karyoflow.core.boxes import box_iou, clip_boxes
from karyoflow.core.masks import THRESHOLD_SCALE, fill_holes, largest_component, otsu_foreground
from karyoflow.core.polarity import guess_polarity

POLARITIES = ("auto", "dark", "bright")


@dataclass
class InstanceMask:
    """A mask cut to its own window: `mask[y, x]` is image pixel (y0 + y, x0 + x)."""

    x0: int
    y0: int
    mask: np.ndarray  # bool (h, w)
    score: float

    @property
    def area(self) -> int:
        return int(self.mask.sum())

    def bbox(self) -> tuple[int, int, int, int]:
        """Tight box of the mask, xmin ymin inclusive, xmax ymax exclusive."""
        ys, xs = np.nonzero(self.mask)
        if len(xs) == 0:
            return (self.x0, self.y0, self.x0, self.y0)
        return (
            self.x0 + int(xs.min()),
            self.y0 + int(ys.min()),
            self.x0 + int(xs.max()) + 1,
            self.y0 + int(ys.max()) + 1,
        )

    def full(self, shape: tuple[int, int]) -> np.ndarray:
        """The mask pasted into an all-False image of `shape`."""
        out = np.zeros(shape, dtype=bool)
        h, w = self.mask.shape
        out[self.y0 : self.y0 + h, self.x0 : self.x0 + w] = self.mask
        return out


MIN_EXCLUSIVE_SHARE = 0.5
# Second piece against the first at which a chromosome cut by the watershed is read as
# the two sides of a crossing (hand-set: no labelled crossings to learn it from).
CROSSED_PIECE_SHARE = 0.25


def _background(smooth: np.ndarray, size: int) -> np.ndarray:
    """The light background around dark chromosomes: a closing by a disk wider than a
    chromosome, computed at half resolution, where the background is as smooth and the
    disk costs an eighth (at full resolution, most of the segmentation's time)."""
    height, width = smooth.shape
    if min(height, width) < 64:
        half, kernel_size = smooth, size
    else:
        half = cv2.resize(smooth, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
        kernel_size = (size // 2) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kernel_size, kernel_size))
    background = cv2.morphologyEx(half, cv2.MORPH_CLOSE, kernel)
    if background.shape != smooth.shape:
        background = cv2.resize(background, (width, height), interpolation=cv2.INTER_LINEAR)
    return background


def foreground(
    image: np.ndarray, boxes: np.ndarray, polarity: str = "auto", scale: float = THRESHOLD_SCALE
):
    """(foreground mask, polarity used, object contrast map) of a grey uint8 image."""
    if polarity not in POLARITIES:
        raise ValueError(f"polarity must be one of {POLARITIES}, got {polarity!r}")
    if polarity == "auto":
        polarity = guess_polarity(image, boxes)
    clipped = clip_boxes(boxes, image.shape)
    sides = np.minimum(clipped[:, 2] - clipped[:, 0], clipped[:, 3] - clipped[:, 1])
    # wider than a chromosome, so the closing (opening) erases chromosomes, not the gradient
    width = int(np.median(sides[sides > 0])) if (sides > 0).any() else 15
    size = int(np.clip(2 * width + 1, 15, 151)) | 1
    smooth = cv2.GaussianBlur(image, (0, 0), 1.0)
    # bright chromosomes are segmented as the dark ones of the inverted image (exactly)
    dark = smooth if polarity == "dark" else cv2.bitwise_not(smooth)
    contrast = cv2.subtract(_background(dark, size), dark)
    return otsu_foreground(contrast, floor=8.0, scale=scale), polarity, contrast


def segment_boxes(
    image: np.ndarray, boxes: np.ndarray, *, polarity: str = "auto", pad: int = 3
) -> tuple[list[InstanceMask | None], str]:
    """One mask per box (None where the box holds no foreground), and the polarity used."""
    if image.ndim != 2 or image.dtype != np.uint8:
        raise ValueError("segment_boxes needs a 2-D uint8 grey image")
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    if len(boxes) == 0:
        return [], polarity if polarity != "auto" else "dark"
    fg, used, _ = foreground(image, boxes, polarity)
    clipped = clip_boxes(boxes, image.shape)
    padded = clip_boxes(boxes + np.array([-pad, -pad, pad, pad]), image.shape)
    masks: list[InstanceMask | None] = []
    for i in range(len(boxes)):
        masks.append(_segment_one(fg, boxes[i], clipped, padded, i))
    return masks, used


def crossing_pixels(exclusive: np.ndarray, contested: np.ndarray) -> np.ndarray:
    """The contested pixels a chromosome owns as well when another one crosses it.

    A crossing neighbour's box cuts the pixels only this box covers (`exclusive`) into
    two pieces, one on each side, and the watershed gives the crossing to one of the two
    chromosomes. The crossing is the contested foreground on this chromosome's line
    between its two largest pieces (their convex hull). A small second piece is a
    neighbour's shred, not the far side of a crossing: then there is none."""
    pieces, n = ndimage.label(exclusive)
    none = np.zeros_like(contested)
    if n < 2:
        return none
    sizes = ndimage.sum(exclusive, pieces, range(1, n + 1))
    first, second = np.argsort(sizes)[::-1][:2]
    if sizes[second] < CROSSED_PIECE_SHARE * sizes[first]:
        return none
    return contested & convex_hull_image(np.isin(pieces, [first + 1, second + 1]))


def _overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _segment_one(fg, box, clipped, padded, i) -> InstanceMask | None:
    bx0, by0, bx1, by1 = clipped[i]
    px0, py0, px1, py1 = padded[i]
    if bx1 <= bx0 or by1 <= by0:
        return None
    neighbours = [j for j in range(len(clipped)) if j != i and _overlaps(padded[i], clipped[j])]
    # the window holds the neighbours whole, so their own pixels can seed the watershed
    wx0 = min([px0] + [clipped[j][0] for j in neighbours])
    wy0 = min([py0] + [clipped[j][1] for j in neighbours])
    wx1 = max([px1] + [clipped[j][2] for j in neighbours])
    wy1 = max([py1] + [clipped[j][3] for j in neighbours])
    region = fg[wy0:wy1, wx0:wx1]
    own = np.zeros(region.shape, dtype=bool)
    own[py0 - wy0 : py1 - wy0, px0 - wx0 : px1 - wx0] = True
    core = np.zeros(region.shape, dtype=bool)
    core[by0 - wy0 : by1 - wy0, bx0 - wx0 : bx1 - wx0] = True
    others = np.zeros(region.shape, dtype=bool)
    for j in neighbours:
        ox0, oy0, ox1, oy1 = clipped[j]
        others[oy0 - wy0 : oy1 - wy0, ox0 - wx0 : ox1 - wx0] = True
    mine = region & core
    if not mine.any():
        return None
    # Share contested pixels only when this box has a fair part of its own: a box lying
    # mostly inside a neighbour's (a chromosome crossing it) would keep a mere sliver.
    exclusive_share = (core & ~others).sum() / core.sum()
    if neighbours and (mine & others).any() and exclusive_share >= MIN_EXCLUSIVE_SHARE:
        markers = np.zeros(region.shape, dtype=np.int32)
        markers[region & core & ~others] = 1
        markers[region & others & ~core] = 2
        if (markers == 1).any():
            distance = ndimage.distance_transform_edt(region)
            labels = watershed(-distance, markers, mask=region)
            mine = (labels == 1) | crossing_pixels(markers == 1, region & core & others)
    mine &= own
    mine = largest_component(mine)
    mine = fill_holes(mine)
    ys, xs = np.nonzero(mine)
    if len(xs) == 0:
        return None
    tight = (wx0 + xs.min(), wy0 + ys.min(), wx0 + xs.max() + 1, wy0 + ys.max() + 1)
    window = mine[py0 - wy0 : py1 - wy0, px0 - wx0 : px1 - wx0]
    return InstanceMask(int(px0), int(py0), window, round(float(box_iou(tight, box)[0, 0]), 4))
