"""Single-chromosome crop files: a labelled crop folder's files (class and cell read
from each path) and the chromosome mask of one crop. Written once for the crop import
(karyoflow.crops.imports) and the generator's real chromosomes
(karyoflow.data.synth.pasted)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from karyoflow.core.polarity import crop_polarity

# The layout of the 612-cell G-band crop collection:
# <cell>.tiff/clase<k>/clase<k>_<copy>_<cell>.tiff, k = 1..24 (23 = X, 24 = Y)
GBAND612_PATTERN = r"(?P<cell>[^/]+?)\.tiff?/clase(?P<class>\d+)/[^/]+$"


def crop_mask(grey: np.ndarray, polarity: str = "auto") -> np.ndarray:
    """The chromosome in a single-chromosome crop: the largest component above Otsu's cut
    of the contrast to the background, holes filled."""
    if polarity == "auto":
        polarity = crop_polarity(grey)
    contrast = (255 - grey) if polarity == "dark" else grey
    contrast = (contrast.astype(np.int16) - int(np.percentile(contrast, 2))).clip(0, 255)
    contrast = contrast.astype(np.uint8)
    from karyoflow.core.masks import fill_holes, largest_component, otsu_foreground

    mask = largest_component(otsu_foreground(contrast, floor=6))
    return fill_holes(mask)


def chromosome_of_crop(
    grey: np.ndarray, polarity: str = "auto"
) -> tuple[np.ndarray, np.ndarray, str]:
    """(the crop cut tight to its chromosome, that chromosome's mask, the polarity: the
    crop's own unless given); both arrays empty where it holds no chromosome pixels."""
    if not grey.size:
        return grey[:0, :0], np.zeros((0, 0), bool), polarity
    if polarity == "auto":
        polarity = crop_polarity(grey)
    mask = crop_mask(grey, polarity)
    if not mask.any():
        return grey[:0, :0], mask[:0, :0], polarity
    ys, xs = np.nonzero(mask)
    tight = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
    return grey[tight], mask[tight], polarity


def find_crop_files(root: str | Path, pattern: str):
    """(path, class, cell) of every image under root whose relative path matches
    `pattern`; and (path, problem, detail, action) rows for the files left out."""
    import re

    from karyoflow.core.errors import BadInputError
    from karyoflow.core.images import IMAGE_EXTENSIONS
    from karyoflow.core.labels import UnknownLabelError, canonical

    root = Path(root)
    if not root.is_dir():
        raise BadInputError(root, "not_found", "crop folder does not exist")
    regex = re.compile(pattern)
    missing = {"class", "cell"} - set(regex.groupindex)
    if missing:
        raise ValueError(f"crop pattern {pattern!r} lacks the named group(s) {sorted(missing)}")
    found, bad = [], []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            continue
        relative = path.relative_to(root).as_posix()
        match = regex.search(relative)
        if not match:
            bad.append((str(path), "no_match", f"path does not match {pattern!r}", "skipped"))
            continue
        try:
            label = canonical(match.group("class"))
        except UnknownLabelError as err:
            bad.append((str(path), "unknown_label", str(err), "skipped"))
            continue
        found.append((path, label, match.group("cell")))
    return found, bad
