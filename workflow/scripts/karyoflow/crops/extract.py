"""Crops cut from segmented instances, one extraction job per segmentation shard, then
merged; and crops cut from the synthetic truth outlines (truth crops)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from karyoflow.core.images import read_grayscale
from karyoflow.core.masks import load_masks
from karyoflow.crops.canvas import (
    CROP_COLUMNS,
    cell_scale,
    crops_from_cells,
    load_crops,
    mask_length,
    merge_crop_shards,
    save_crops,
    to_canvas,
)

log = logging.getLogger(__name__)

# An object's box is the one the detector drew (its segmentation prompt), as annotators
# draw boxes; the mask's tight box shrinks where the mask misses a pale end or a band. On
# the 153 CIL validation images 3.5% of the annotated chromosomes were matched (IoU >= 0.5)
# by the detector's box but not by their mask's.
OBJECT_BOX = ["box_xmin", "box_ymin", "box_xmax", "box_ymax"]


def true_classes(instances: pd.DataFrame, annotations: pd.DataFrame) -> pd.DataFrame:
    """true_class and truth_index (the annotation's object_index, -1 if none) of the
    annotation box each instance's (detector's) box is matched to, one-to-one at IoU >= 0.5: of two
    detections of one chromosome only the better keeps its truth, and one box over a
    merged pair takes one of the two."""
    from karyoflow.core.boxes import match_boxes

    out = pd.DataFrame({"true_class": "", "truth_index": -1}, index=instances.index)
    truth = {k: g for k, g in annotations.groupby("image_id", sort=False)}
    coords = ["xmin", "ymin", "xmax", "ymax"]
    for image_id, group in instances.groupby("image_id", sort=False):
        if image_id not in truth:
            continue
        t = truth[image_id]
        found = group[OBJECT_BOX].to_numpy(float)
        for i, j in match_boxes(found, t[coords].to_numpy(float), 0.5):
            out.loc[group.index[i], "true_class"] = t["class"].iloc[j]
            out.loc[group.index[i], "truth_index"] = t["object_index"].iloc[j]
    return out


def extract_crops(
    instances: pd.DataFrame,
    images: pd.DataFrame,
    out_npz: str | Path,
    *,
    side: int = 96,
    fill: float = 0.9,
    annotations: pd.DataFrame | None = None,
    splits: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Crops of every instance in `instances` (segmentation table) -> table, one .npz."""
    started = time.perf_counter()
    paths = dict(zip(images["image_id"], images["image_path"], strict=True))
    truth = (
        true_classes(instances, annotations)
        if annotations is not None
        else pd.DataFrame({"true_class": "", "truth_index": -1}, index=instances.index)
    )
    split_of = (
        dict(zip(splits["image_id"], splits["split"], strict=True)) if splits is not None else {}
    )
    canvases, windows, rows = [], [], []
    for n, (image_id, group) in enumerate(instances.groupby("image_id", sort=False), start=1):
        grey, _ = read_grayscale(paths[image_id])
        masks = load_masks(group["mask_file"].iloc[0])
        polarity = group["polarity"].iloc[0]
        cut = []
        for row in group.itertuples():
            x0, y0, mask = masks[row.instance_id]
            h, w = mask.shape
            window = grey[y0 : y0 + h, x0 : x0 + w]
            ys, xs = np.nonzero(mask)
            tight = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
            cut.append((row, window[tight], mask[tight]))
        lengths = np.array([mask_length(m) for _, _, m in cut])
        scale = cell_scale(lengths, side, fill)
        for (row, window, mask), length in zip(cut, lengths, strict=True):
            canvas, shrunk = to_canvas(window, mask, scale, side, polarity)
            crop_index = len(rows)
            canvases.append(canvas)
            windows.append((window, mask))
            rows.append(
                (
                    f"{image_id}#{row.instance_id}",
                    image_id,
                    row.instance_id,
                    str(out_npz),
                    crop_index,
                    truth.at[row.Index, "true_class"],
                    split_of.get(image_id, ""),
                    row.det_class,
                    row.det_confidence,
                    row.mask_score,
                    round(float(length), 2),
                    int(mask.sum()),
                    round(scale, 5),
                    shrunk,
                    row.box_xmin,
                    row.box_ymin,
                    row.box_xmax,
                    row.box_ymax,
                    int(truth.at[row.Index, "truth_index"]),
                )
            )
        if n % 25 == 0:
            log.info("cropped %d images (%d crops)", n, len(rows))
    save_crops(out_npz, np.array(canvases).reshape(-1, side, side), windows)
    seconds = time.perf_counter() - started
    log.info(
        "%d crops from %d images in %.1f s (%.0f crops/s)",
        len(rows),
        instances["image_id"].nunique(),
        seconds,
        len(rows) / max(seconds, 1e-9),
    )
    return pd.DataFrame(rows, columns=CROP_COLUMNS + ["truth_index"])


def extract_crops_files(
    instances: str,
    images: str,
    annotations: str,
    crops: str,
    arrays: str,
    *,
    side: int,
    fill: float,
    splits: str | None = None,
) -> pd.DataFrame:
    """Rule extract_crops: one shard's instance table -> its crops table and arrays;
    `splits` (the dataset's) labels each crop with its image's split where given."""
    from karyoflow.core.tables import write_parquet

    table = extract_crops(
        pd.read_parquet(instances),
        pd.read_csv(images, dtype={"image_id": str}),
        arrays,
        side=side,
        fill=fill,
        annotations=pd.read_parquet(annotations),
        splits=pd.read_csv(splits, dtype={"image_id": str}) if splits else None,
    )
    write_parquet(table, crops)
    return table


def merge_crops_files(
    tables: list[str], shard_arrays: list[str], crops: str, arrays: str, gallery: str
) -> pd.DataFrame:
    """Rule merge_crops: the shards' crops as one crop set, and its gallery."""
    from karyoflow.core.tables import write_parquet
    from karyoflow.crops import plots

    table, canvas = merge_crop_shards(list(tables), list(shard_arrays), arrays)
    write_parquet(table, crops)
    plots.crops_gallery(table, canvas, gallery)
    return table


def detected_crops_files(
    tables: list[str], shard_arrays: list[str], crops: str, arrays: str
) -> pd.DataFrame:
    """Rule detected_crops: the chain's own crops of the dataset's images (detector box,
    classical mask), only those matched one-to-one to an annotated box, which gives each
    its class. A classifier that learns from them sees what it will be shown: crops cut by
    the detector's box, with neighbours' pieces and pale ends lost, not the annotator's
    box. Each keeps its image's split (train to learn, val to choose, test to score)."""
    from karyoflow.core.tables import write_parquet

    table, _ = merge_crop_shards(list(tables), list(shard_arrays), arrays, labelled_only=True)
    if table.empty:
        raise ValueError(
            "no detected crop matched an annotated box: the detected crops need a dataset "
            "with annotated boxes (classify.crops: detected)"
        )
    log.info(
        "%d labelled detected crops (%s)",
        len(table),
        ", ".join(f"{k} {v}" for k, v in table["split"].value_counts().items()),
    )
    write_parquet(table, crops)
    return table


def truth_crop_cells(manifest: pd.DataFrame, annotations: pd.DataFrame | None = None) -> dict:
    """{image_id: [(image path, class, grey window, mask, polarity)]} from the truth.

    Synthetic images carry truth outlines, amodal (the whole chromosome, also where
    another one lies across it), as a good segmentation would deliver them. Annotated real
    images (e.g. Pascal VOC) carry only a labelled box per chromosome: each is masked by
    the classical segmentation given every box of its image, the same method the segment
    stage falls back to, so a chromosome touching another keeps only its own pixels.
    """
    import json

    from karyoflow.core.logs import Progress
    from karyoflow.core.masks import polygon_mask
    from karyoflow.core.polarity import guess_polarity
    from karyoflow.segment.classical import segment_boxes

    has_truth = manifest["truth_path"].fillna("").astype(str) != ""
    boxes_of = {}
    if annotations is not None and len(annotations):
        boxes_of = dict(tuple(annotations.groupby(annotations["image_id"].astype(str))))
    usable = manifest[has_truth | manifest["image_id"].astype(str).isin(boxes_of)]
    if usable.empty:
        raise ValueError(
            "classify.crops: truth needs images with instance truth (the synthetic generator "
            "writes it) or labelled boxes (an annotated dataset such as VOC); import a crop "
            "set instead (classify.crops: imported)"
        )
    progress = Progress(log, "cut truth crops of", len(usable), every=25)
    cells = {}
    for n, row in enumerate(usable.itertuples(), start=1):
        progress.update(n)
        grey, _ = read_grayscale(row.image_path)
        items = []
        if isinstance(row.truth_path, str) and row.truth_path:
            instances = json.loads(Path(row.truth_path).read_text())["instances"]
            boxes = np.array([inst["box"] for inst in instances], float).reshape(-1, 4)
            polarity = guess_polarity(grey, boxes)
            for inst in instances:
                x0, y0, x1, y1 = (int(v) for v in inst["box"])
                window = grey[y0:y1, x0:x1]
                mask = polygon_mask(np.asarray(inst["outline"]) - [x0, y0], window.shape)
                if mask.any():
                    items.append((row.image_path, inst["class"], window, mask, polarity))
        else:
            labelled = boxes_of[str(row.image_id)]
            boxes = labelled[["xmin", "ymin", "xmax", "ymax"]].to_numpy(float)
            masks, polarity = segment_boxes(grey, boxes)
            for mask, label in zip(masks, labelled["class"], strict=True):
                if mask is None:
                    continue
                h, w = mask.mask.shape
                window = grey[mask.y0 : mask.y0 + h, mask.x0 : mask.x0 + w]
                items.append((row.image_path, str(label), window, mask.mask, polarity))
        cells[row.image_id] = items
    return cells


def truth_crops_files(
    manifest: str,
    annotations: str,
    splits: str,
    crops: str,
    arrays: str,
    gallery: str,
    *,
    side: int,
    fill: float,
) -> pd.DataFrame:
    """Rule truth_crops: every truth instance of every split, labelled with its split."""
    from karyoflow.core.tables import write_parquet
    from karyoflow.crops import plots

    started = time.perf_counter()
    table = crops_from_cells(
        truth_crop_cells(
            pd.read_csv(manifest, dtype={"image_id": str}), pd.read_parquet(annotations)
        ),
        arrays,
        side=side,
        fill=fill,
    )
    split_table = pd.read_csv(splits, dtype={"image_id": str})
    table["split"] = table["image_id"].map(
        dict(zip(split_table["image_id"], split_table["split"], strict=True))
    )
    write_parquet(table, crops)
    canvas, _ = load_crops(arrays)
    plots.crops_gallery(table, canvas, gallery)
    log.info(
        "%d truth crops of %d images in %.1f s",
        len(table),
        table["image_id"].nunique(),
        time.perf_counter() - started,
    )
    return table
