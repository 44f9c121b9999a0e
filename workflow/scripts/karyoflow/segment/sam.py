"""SAM (Segment Anything) prompted with boxes, through Ultralytics (torch side).

One image encoding per image and all its boxes as prompts in one call. Checkpoints are
local files with their canonical names (Ultralytics picks the architecture by name).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from karyoflow.core.boxes import box_iou
from karyoflow.segment.classical import InstanceMask

log = logging.getLogger(__name__)

# Ultralytics' names for SAM checkpoints; a renamed file cannot be built.
CANONICAL_NAMES = (
    "sam_h.pt",
    "sam_l.pt",
    "sam_b.pt",
    "mobile_sam.pt",
    "sam2_t.pt",
    "sam2_s.pt",
    "sam2_b.pt",
    "sam2_l.pt",
    "sam2.1_t.pt",
    "sam2.1_s.pt",
    "sam2.1_b.pt",
    "sam2.1_l.pt",
)


def check_sam_weights(weights: str | Path) -> Path:
    weights = Path(weights)
    if not weights.name.endswith(CANONICAL_NAMES):
        raise ValueError(
            f"SAM checkpoint {str(weights)!r} does not have a canonical name, so its "
            f"architecture is unknown: rename it to one of {', '.join(CANONICAL_NAMES)}"
        )
    if not weights.is_file():
        raise FileNotFoundError(
            f"SAM checkpoint {str(weights)!r} not found: nothing is downloaded here; copy "
            "the file there, or use segment.method classical (or auto)"
        )
    return weights


def load_sam(weights: str | Path, *, device: str = "cpu", imgsz: int = 1024):
    """A ready SAM predictor that returns one mask per prompt box, in prompt order.

    Ultralytics drops masks whose predicted quality is under `conf` (at least 0), which
    would misalign masks and boxes; the predictor is set up once through the public call,
    then told to keep every mask (scores stay available to the caller).
    """
    from ultralytics import SAM

    model = SAM(str(check_sam_weights(weights)))
    warmup = np.full((64, 64, 3), 255, dtype=np.uint8)
    model(warmup, bboxes=[[8, 8, 32, 32]], device=device, imgsz=imgsz, conf=0.0, verbose=False)
    model.predictor.args.conf = float("-inf")
    return model.predictor


def sam_segment(predictor, image: np.ndarray, boxes: np.ndarray) -> list[InstanceMask | None]:
    """One mask per box; each cut to its tight window (SAM masks may leave the box)."""
    import cv2

    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    if len(boxes) == 0:
        return []
    bgr = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    predictor.set_prompts({"bboxes": boxes.tolist()})
    result = predictor(source=bgr, stream=False)[0]
    if result.masks is None:
        return [None] * len(boxes)
    data = result.masks.data.cpu().numpy() > 0.5
    scores = result.boxes.conf.cpu().numpy() if result.boxes is not None else np.ones(len(data))
    out: list[InstanceMask | None] = []
    for i in range(len(boxes)):
        if i >= len(data) or not data[i].any():
            out.append(None)
            continue
        ys, xs = np.nonzero(data[i])
        x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        window = data[i][y0:y1, x0:x1]
        score = (
            float(scores[i])
            if i < len(scores)
            else float(box_iou((x0, y0, x1, y1), boxes[i])[0, 0])
        )
        out.append(InstanceMask(int(x0), int(y0), window, round(score, 4)))
    return out
