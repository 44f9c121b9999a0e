"""Instance segmentation of chromosomes inside their detection boxes: SAM or classical.

`segment_images` runs one method over a table of images and boxes and returns the
instance table; masks go to one .npz per image (karyoflow.core.masks).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from karyoflow.core.boxes import clip_boxes
from karyoflow.core.errors import BadInputError
from karyoflow.core.images import read_grayscale
from karyoflow.core.logs import Progress
from karyoflow.core.masks import save_masks
from karyoflow.core.polarity import guess_polarity
from karyoflow.segment.classical import InstanceMask, segment_boxes

log = logging.getLogger(__name__)

METHODS = ("auto", "sam", "classical")
INSTANCE_COLUMNS = [
    "image_id",
    "instance_id",
    "box_index",
    "det_class",
    "det_confidence",
    "box_xmin",
    "box_ymin",
    "box_xmax",
    "box_ymax",
    "xmin",
    "ymin",
    "xmax",
    "ymax",
    "area",
    "mask_score",
    "method",
    "polarity",
    "mask_file",
]
ISSUE_COLUMNS = ["image_id", "image_path", "instance_id", "problem", "detail", "action"]

# A mask whose extent is this many times its prompt box's area has leaked into the
# background or a neighbour: it is cut back to the box and listed.
FAR_LARGER = 4.0
PAD = 3


def choose_method(method: str, sam_weights: str) -> str:
    """auto: SAM when its weights file exists, else classical."""
    if method not in METHODS:
        raise ValueError(f"segment.method {method!r} is not one of {METHODS}")
    if method == "auto":
        return "sam" if sam_weights and Path(sam_weights).is_file() else "classical"
    return method


def _cut_to_box(mask: InstanceMask, box, shape) -> InstanceMask:
    x0, y0, x1, y1 = clip_boxes(np.asarray(box) + [-PAD, -PAD, PAD, PAD], shape)[0]
    full = mask.full(shape)[y0:y1, x0:x1]
    return InstanceMask(int(x0), int(y0), full, mask.score)


def segment_images(
    images: pd.DataFrame,
    boxes: pd.DataFrame,
    masks_dir: str | Path,
    *,
    method: str = "classical",
    sam_predictor=None,
    polarity: str = "auto",
    policy: str = "skip",
    progress_every: int = 25,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Segment every box of every image; (instances, issues) tables.

    `boxes` has image_id, box_index, class, confidence, xmin..ymax (the detection table,
    already filtered to the operating confidence, or annotation boxes used as prompts),
    and, from detection, the polarity each image's boxes were found in, which `auto`
    then takes.
    """
    from karyoflow.segment.sam import sam_segment

    masks_dir = Path(masks_dir)
    masks_dir.mkdir(parents=True, exist_ok=True)
    by_image = {k: g for k, g in boxes.groupby("image_id", sort=False)}
    rows, issues = [], []
    progress = Progress(log, "segmented", len(images), every=progress_every)
    for n, (image_id, image_path) in enumerate(
        images[["image_id", "image_path"]].itertuples(index=False), start=1
    ):
        try:
            image, _ = read_grayscale(image_path)
        except BadInputError as err:
            if policy == "error":
                raise
            issues.append((image_id, image_path, -1, err.problem, err.detail, "skipped"))
            continue
        prompts = by_image.get(image_id, boxes.iloc[0:0])
        coords = prompts[["xmin", "ymin", "xmax", "ymax"]].to_numpy(dtype=float)
        h, w = image.shape
        outside = (
            (coords[:, 2] <= 0) | (coords[:, 3] <= 0) | (coords[:, 0] >= w) | (coords[:, 1] >= h)
        )
        chosen = polarity
        if polarity == "auto" and "polarity" in prompts and len(prompts):
            # the detector already chose the view its boxes came from: reuse it
            chosen = str(prompts["polarity"].iloc[0])
        if method == "sam":
            # polarity still matters downstream: crops show the chromosome bright on black
            used = guess_polarity(image, coords) if chosen == "auto" else chosen
            found = sam_segment(sam_predictor, image, coords)
        else:
            found, used = segment_boxes(image, coords, polarity=chosen, pad=PAD)
        box_index = prompts["box_index"].to_numpy()
        det_class = prompts["class"].astype(str).to_numpy()
        confidence = prompts["confidence"].to_numpy(dtype=float)
        windows = []
        for k, mask in enumerate(found):
            box = coords[k]
            if outside[k]:
                issues.append(
                    (
                        image_id,
                        image_path,
                        -1,
                        "box_outside_image",
                        f"box {box.round(1).tolist()} lies outside the {w}x{h} image",
                        "skipped",
                    )
                )
                continue
            if mask is None or mask.area == 0:
                issues.append(
                    (
                        image_id,
                        image_path,
                        -1,
                        "empty_mask",
                        f"no chromosome pixels found in box {box.round(1).tolist()}",
                        "skipped",
                    )
                )
                continue
            bx0, by0, bx1, by1 = mask.bbox()
            box_area = max((box[2] - box[0]) * (box[3] - box[1]), 1.0)
            if (bx1 - bx0) * (by1 - by0) > FAR_LARGER * box_area:
                issues.append(
                    (
                        image_id,
                        image_path,
                        len(windows),
                        "mask_far_larger_than_box",
                        f"mask extent {bx1 - bx0}x{by1 - by0} px for box "
                        f"{box.round(1).tolist()}: cut back to the box",
                        "cut",
                    )
                )
                mask = _cut_to_box(mask, box, image.shape)
                if mask.area == 0:
                    continue
                bx0, by0, bx1, by1 = mask.bbox()
            instance_id = len(windows)
            windows.append((mask.x0, mask.y0, mask.mask))
            rows.append(
                (
                    image_id,
                    instance_id,
                    int(box_index[k]),
                    det_class[k],
                    float(confidence[k]),
                    *map(float, box),
                    bx0,
                    by0,
                    bx1,
                    by1,
                    mask.area,
                    mask.score,
                    method,
                    used,
                    str(masks_dir / f"{image_id}.npz"),
                )
            )
        save_masks(masks_dir / f"{image_id}.npz", windows)
        progress.update(n)
    return (
        pd.DataFrame(rows, columns=INSTANCE_COLUMNS),
        pd.DataFrame(issues, columns=ISSUE_COLUMNS),
    )
