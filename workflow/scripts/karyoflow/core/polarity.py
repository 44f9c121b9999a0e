"""Image polarity: dark chromosomes on a light background (G-banding, the default) or
bright ones on a dark background (fluorescence, inverted exports).

One rule everywhere: the chromosome pixels (inside boxes, or away from a crop's border)
against the rest, by median; a tie or an empty side reads as "dark". Before any box is
known, the background (most of a metaphase image) says it: a light background, dark
chromosomes."""

from __future__ import annotations

import numpy as np

from karyoflow.core.boxes import clip_boxes


def polarity_of(image: np.ndarray, inside: np.ndarray) -> str:
    """ "dark" when the pixels where `inside` holds are not brighter than the rest."""
    if not inside.any() or inside.all():
        return "dark"
    return "dark" if np.median(image[inside]) <= np.median(image[~inside]) else "bright"


def background_polarity(image: np.ndarray) -> str:
    """ "dark" when the image's median (its background: chromosomes cover a minority of a
    metaphase image) lies in the upper half of its 1st to 99th percentile range."""
    low, median, high = np.percentile(image, [1, 50, 99])
    return "dark" if median >= (low + high) / 2 else "bright"


def guess_polarity(image: np.ndarray, boxes: np.ndarray) -> str:
    """Polarity of a metaphase from its chromosome boxes (xmin ymin xmax ymax, pixels)."""
    inside = np.zeros(image.shape, dtype=bool)
    for x0, y0, x1, y1 in clip_boxes(boxes, image.shape):
        inside[y0:y1, x0:x1] = True
    return polarity_of(image, inside)


def crop_polarity(grey: np.ndarray) -> str:
    """Polarity of a single-chromosome crop: its interior against its one-pixel border."""
    inside = np.ones(grey.shape, dtype=bool)
    inside[[0, -1], :] = False
    inside[:, [0, -1]] = False
    return polarity_of(grey, inside)
