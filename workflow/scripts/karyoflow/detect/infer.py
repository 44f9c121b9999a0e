"""Detection on image tables (torch side): a trained YOLO model over sharded images, with
the problems it meets (unreadable, far larger than imgsz, no detections) listed."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from karyoflow.core.errors import BadInputError
from karyoflow.core.images import read_grayscale
from karyoflow.core.logs import Progress
from karyoflow.core.shards import shard_of
from karyoflow.detect.runtime import offline_environment, pick_device

log = logging.getLogger(__name__)


# polarity: the view the boxes were found in (dark or bright chromosomes), which later
# stages reuse rather than guess again.
BOX_COLUMNS = [
    "image_id",
    "box_index",
    "class",
    "confidence",
    "xmin",
    "ymin",
    "xmax",
    "ymax",
    "polarity",
]


ISSUE_COLUMNS = ["image_id", "image_path", "problem", "detail", "action"]


# Beyond this ratio of image side to imgsz a chromosome shrinks below a few pixels of width
# at the network's input: detection still runs, but the user is told.
FAR_LARGER = 4.0


def load_detector(weights: str | Path, class_names: list[str]):
    """The trained YOLO model, checked to predict exactly `class_names`."""
    from ultralytics import YOLO

    weights = Path(weights)
    if not weights.is_file():
        raise FileNotFoundError(
            f"detector weights {str(weights)!r} not found: train them (rule train_detector) "
            "or set detect.weights to an existing .pt file"
        )
    model = YOLO(str(weights), task="detect")
    names = [model.names[i] for i in sorted(model.names)]
    if names != list(class_names):
        shown = names if len(names) <= 4 else names[:3] + ["..."]
        raise ValueError(
            f"detector {str(weights)!r} predicts {len(names)} classes {shown}, but detect.task "
            f"needs {len(class_names)} ({class_names[:3]}{'...' if len(class_names) > 3 else ''}): "
            "set detect.task to match the weights or retrain"
        )
    return model


POLARITIES = ("auto", "dark", "bright")


def _predict(model, arrays, settings) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(boxes xyxy, class, confidence) per image."""
    out = []
    for result in model.predict(arrays, verbose=False, **settings):
        found = result.boxes
        out.append(
            (
                found.xyxy.cpu().numpy(),
                found.cls.cpu().numpy().astype(int),
                found.conf.cpu().numpy(),
            )
        )
    return out


def _view(arrays: list[np.ndarray], view: str) -> list[np.ndarray]:
    return [255 - a for a in arrays] if view == "bright" else arrays


def _plainly_dark(grey: np.ndarray, found, confidence: float) -> bool:
    """Dark chromosomes on a light background by the image's background and by the
    pixels of its confident boxes, so that the inverted view need not be tried."""
    from karyoflow.core.polarity import background_polarity, guess_polarity

    xyxy, _, conf = found
    confident = xyxy[conf >= confidence]
    return (
        len(confident) > 0
        and background_polarity(grey) == "dark"
        and guess_polarity(grey, confident) == "dark"
    )


def detect_images(
    model,
    images: pd.DataFrame,
    *,
    imgsz: int,
    min_confidence: float = 0.01,
    confidence: float = 0.25,
    iou: float = 0.7,
    max_det: int = 300,
    batch: int = 8,
    device: str = "auto",
    policy: str = "skip",
    polarity: str = "auto",
    progress_every: int = 50,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Boxes for every image in `images` (columns image_id, image_path), in batches.

    polarity: `dark` (chromosomes darker than the background, as in G-banding and the
    images the detectors learnt from), `bright` (fluorescence: Q-banding, DAPI; the image
    is inverted first) or `auto` (both are tried and the one whose boxes at the operating
    point are the more confident overall wins; an inverted image is listed).

    Returns (boxes with BOX_COLUMNS in pixels of the original image, issues with
    ISSUE_COLUMNS). Boxes down to `min_confidence` are kept; `confidence` is the operating
    point. Unreadable images are skipped and listed (policy "skip") or stop the run
    (policy "error"); images with no box at the operating point, images far larger
    than imgsz and images whose `max_det` boxes all pass the operating point (so that
    more may have been cut off) are listed and kept.
    """
    import cv2

    if polarity not in POLARITIES:
        raise ValueError(f"detect.polarity {polarity!r} is not one of {POLARITIES}")
    device = pick_device(device)
    names = [model.names[i] for i in sorted(model.names)]
    boxes, issues = [], []

    def kept_but_listed(image_id, image_path, problem, detail):
        log.warning("%s: %s", image_path, detail)
        issues.append((image_id, image_path, problem, detail, "kept"))

    rows = list(images[["image_id", "image_path"]].itertuples(index=False))
    progress = Progress(log, "detected", len(rows), every=progress_every)
    for first in range(0, len(rows), batch):
        chunk, greys, arrays = [], [], []
        for image_id, image_path in rows[first : first + batch]:
            try:
                grey, _ = read_grayscale(image_path)
            except BadInputError as err:
                if policy == "error":
                    raise
                log.warning("skipped %s", err)
                issues.append((image_id, image_path, err.problem, err.detail, "skipped"))
                continue
            ratio = max(grey.shape) / imgsz
            if ratio > FAR_LARGER:
                kept_but_listed(
                    image_id,
                    image_path,
                    "far_larger_than_imgsz",
                    f"image is {grey.shape[1]}x{grey.shape[0]} px, {ratio:.1f}x the detection "
                    f"size {imgsz}: chromosomes shrink that much before detection; raise "
                    "detect.detect_imgsz (or imgsz) or downscale such images",
                )
            chunk.append((image_id, image_path))
            greys.append(grey)
            arrays.append(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
        if arrays:
            settings = dict(
                imgsz=imgsz, conf=min_confidence, iou=iou, max_det=max_det, device=device
            )
            first_view = "dark" if polarity == "auto" else polarity
            # per view: {index in the chunk: (boxes, classes, confidences)}
            tried = {
                first_view: dict(enumerate(_predict(model, _view(arrays, first_view), settings)))
            }
            # `auto` detects on the inverted image too, unless the image's background and
            # its confident boxes both say dark chromosomes (G-banding): half the time
            unsure = [
                k
                for k, grey in enumerate(greys)
                if polarity == "auto" and not _plainly_dark(grey, tried["dark"][k], confidence)
            ]
            if unsure:
                inverted = _predict(model, _view([arrays[k] for k in unsure], "bright"), settings)
                tried["bright"] = dict(zip(unsure, inverted, strict=True))
            for k, (image_id, image_path) in enumerate(chunk):
                # the view whose confident boxes add up to more (a tie keeps "dark")
                views = [v for v in tried if k in tried[v]]
                view = max(views, key=lambda v: tried[v][k][2][tried[v][k][2] >= confidence].sum())
                xyxy, cls, conf = tried[view][k]
                if polarity == "auto" and view == "bright":
                    kept_but_listed(
                        image_id,
                        image_path,
                        "bright_on_dark",
                        "chromosomes brighter than the background (fluorescence?): detected "
                        "on the inverted image",
                    )
                if not (conf >= confidence).any():
                    kept_but_listed(
                        image_id,
                        image_path,
                        "no_detections",
                        f"no chromosome detected at confidence {confidence} "
                        f"({len(xyxy)} weaker boxes): no metaphase in view?",
                    )
                if len(xyxy) >= max_det and conf.min() >= confidence:
                    kept_but_listed(
                        image_id,
                        image_path,
                        "max_det_reached",
                        f"{len(xyxy)} boxes, all at confidence {confidence} or more: "
                        f"detect.max_det {max_det} may have cut off further chromosomes; "
                        "raise detect.max_det",
                    )
                for i in range(len(xyxy)):
                    boxes.append(
                        (image_id, i, names[cls[i]], float(conf[i]), *xyxy[i].tolist(), view)
                    )
        progress.update(min(first + batch, len(rows)))
    table = pd.DataFrame(boxes, columns=BOX_COLUMNS)
    table[["xmin", "ymin", "xmax", "ymax"]] = table[["xmin", "ymin", "xmax", "ymax"]].round(2)
    return table, pd.DataFrame(issues, columns=ISSUE_COLUMNS)


def detect_shard(
    weights: str,
    images_csv: str,
    boxes_out: str,
    issues_out: str,
    *,
    shard: int,
    n_shards: int,
    task: str,
    settings_dir: str,
    settings: dict,
    policy: str = "skip",
) -> pd.DataFrame:
    """Rule detect: one shard of an image list, boxes to parquet, issues to TSV."""
    from karyoflow.core.tables import write_csv, write_parquet
    from karyoflow.detect.dataset import class_names

    offline_environment(settings_dir)
    images = shard_of(pd.read_csv(images_csv, dtype={"image_id": str}), shard, n_shards)
    log.info("shard %d of %d: %d images", shard + 1, n_shards, len(images))
    model = load_detector(weights, class_names(task))
    boxes, issues = detect_images(model, images, policy=policy, **settings)
    write_parquet(boxes, boxes_out)
    write_csv(issues, issues_out, sep="\t")
    log.info("%d boxes in %d images; %d issue(s)", len(boxes), len(images), len(issues))
    return boxes
