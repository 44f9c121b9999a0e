"""File-level entry points of the segmentation rules (tables in, tables and masks out)."""

from __future__ import annotations

import logging

import pandas as pd

from karyoflow.core.tables import write_csv, write_json, write_parquet
from karyoflow.segment import choose_method, segment_images
from karyoflow.segment.evaluate import (
    classical_segmenter,
    evaluate_prompted,
    iter_labelmaps,
    iter_labelme,
    iter_synthetic,
    sam_segmenter,
    summarize,
)

log = logging.getLogger(__name__)


def _predictor(method: str, sam_weights: str, sam_imgsz: int, device: str, settings_dir: str):
    if method != "sam":
        return None
    from karyoflow.detect.runtime import offline_environment, pick_device
    from karyoflow.segment.sam import load_sam

    offline_environment(settings_dir)
    return load_sam(sam_weights, device=pick_device(device), imgsz=sam_imgsz)


def segment_shard(
    images_csv: str,
    boxes_parquet: str,
    instances_out: str,
    issues_out: str,
    masks_dir: str,
    *,
    shard: int,
    n_shards: int,
    settings: dict,
    confidence: float,
    settings_dir: str,
    policy: str = "skip",
) -> pd.DataFrame:
    """Rule segment: the boxes at or above `confidence` of one shard of images."""
    from karyoflow.core.shards import shard_of

    method = choose_method(settings["method"], settings["sam_weights"])
    log.info("segmentation method: %s (configured %s)", method, settings["method"])
    images = shard_of(pd.read_csv(images_csv, dtype={"image_id": str}), shard, n_shards)
    boxes = pd.read_parquet(boxes_parquet)
    boxes = boxes[(boxes["confidence"] >= confidence) & boxes["image_id"].isin(images["image_id"])]
    predictor = _predictor(
        method, settings["sam_weights"], settings["sam_imgsz"], settings["device"], settings_dir
    )
    instances, issues = segment_images(
        images,
        boxes,
        masks_dir,
        method=method,
        sam_predictor=predictor,
        polarity=settings["polarity"],
        policy=policy,
    )
    write_parquet(instances, instances_out)
    write_csv(issues, issues_out, sep="\t")
    log.info("%d instances in %d images; %d issue(s)", len(instances), len(images), len(issues))
    return instances


def _evaluate(truths, settings: dict, settings_dir: str, label: str):
    method = choose_method(settings["method"], settings["sam_weights"])
    if method == "sam":
        predictor = _predictor(
            method, settings["sam_weights"], settings["sam_imgsz"], settings["device"], settings_dir
        )
        segmenter = sam_segmenter(predictor)
    else:
        segmenter = classical_segmenter(settings["polarity"])
    scores, crops = evaluate_prompted(truths, segmenter)
    summary = summarize(scores, method)
    summary["images"] = label
    log.info(
        "%s, %s: mean IoU %.4f over %d instances in %d images (isolated %s)",
        label,
        method,
        summary["mean_iou"] or 0,
        summary["n_instances"],
        summary["n_images"],
        summary["by_kind"]["isolated"]["mean_iou"],
    )
    return scores, crops, summary


def evaluate_segmentation(
    manifest: str,
    splits: str,
    metrics_json: str,
    scores_csv: str,
    scores_png: str,
    gallery_png: str,
    *,
    settings: dict,
    settings_dir: str,
    split: str = "test",
) -> dict:
    """Rule evaluate_segmentation: the images of one split that carry truth files."""
    from karyoflow.data.ingest import read_manifest
    from karyoflow.segment import plots

    table = read_manifest(manifest)
    chosen = pd.read_csv(splits, dtype={"image_id": str})
    table = table[table["image_id"].isin(chosen.loc[chosen["split"] == split, "image_id"])]
    label = f"{split} split"
    if not (table["truth_path"] != "").any():
        # a dataset without masks (e.g. VOC boxes only): say so instead of inventing numbers
        record = {
            "method": settings["method"],
            "images": label,
            "n_images": 0,
            "n_instances": 0,
            "mean_iou": None,
            "note": "no mask ground truth in this dataset (truth files are synthetic only)",
        }
        write_json(record, metrics_json)
        write_csv(pd.DataFrame(columns=["image_id", "instance", "kind", "iou"]), scores_csv)
        plots.segmentation_scores(pd.DataFrame({"kind": [], "iou": []}), scores_png, label)
        plots.segmentation_gallery([], gallery_png, label)
        return record
    scores, crops, summary = _evaluate(iter_synthetic(table), settings, settings_dir, label)
    write_json(summary, metrics_json)
    write_csv(scores.round(4), scores_csv)
    title = f"Segmentation ({summary['method']}), {label}, truth boxes as prompts"
    plots.segmentation_scores(scores, scores_png, title)
    plots.segmentation_gallery(crops, gallery_png, title)
    return summary


def evaluate_external_folder(
    folder: str, metrics_json: str, *, annotation: str, settings: dict, settings_dir: str
) -> dict:
    """Rules evaluate_external_segmentation*: a folder of LabelMe JSON (`annotation`
    labelme) or of image / label-map pairs (labelmaps); truth boxes are the prompts."""
    readers = {"labelme": iter_labelme, "labelmaps": iter_labelmaps}
    if annotation not in readers:
        raise ValueError(f"annotation must be one of {sorted(readers)}, got {annotation!r}")
    _, _, summary = _evaluate(
        readers[annotation](folder), settings, settings_dir, f"{annotation} folder {folder}"
    )
    write_json(summary, metrics_json)
    return summary


def _truth_of(row):
    """The truth of one manifest row: a synthetic truth file, or the LabelMe file the
    image came from."""
    from karyoflow.segment.evaluate import labelme_truth, synthetic_truth

    if row.truth_path:
        return synthetic_truth(row.image_path, row.truth_path, row.image_id)
    if row.source == "labelme":
        return labelme_truth(row.annotation_path)
    raise ValueError(f"{row.image_id}: no instance truth (neither a truth file nor LabelMe)")


def evaluate_found_instances(
    manifest: str, instances: str, metrics_json: str, figure_png: str, *, label: str
) -> dict:
    """Rule evaluate_external_instances: the instances detection and segmentation found
    from the raw images, against the annotated ones (mask IoU, one-to-one)."""
    import numpy as np

    from karyoflow.core.masks import load_masks
    from karyoflow.data.ingest import read_manifest
    from karyoflow.segment import plots
    from karyoflow.segment.evaluate import (
        IMAGE_SCORE_COLUMNS,
        score_instances,
        summarize_instances,
    )

    table = read_manifest(manifest)
    found = pd.read_parquet(instances)
    mask_files = found.groupby("image_id")["mask_file"].first().to_dict()

    def windows_of(image_id: str) -> list:
        # an image where nothing was found has no mask file
        return load_masks(mask_files[image_id]) if image_id in mask_files else []

    image_rows, instance_rows = [], []
    for row in table.itertuples(index=False):
        image_row, rows = score_instances(_truth_of(row), windows_of(row.image_id))
        image_rows.append(image_row)
        instance_rows += rows
    images = pd.DataFrame(image_rows, columns=IMAGE_SCORE_COLUMNS)
    scored = pd.DataFrame(instance_rows, columns=["image_id", "instance", "kind", "matched", "iou"])
    summary = {"images": label, **summarize_instances(images, scored)}
    summary["per_image"] = images.round(4).to_dict(orient="records")
    write_json(summary, metrics_json)
    log.info(
        "%s: %d of %d annotated instances found (precision %s, recall %s, F1 %s); count exact %s",
        label,
        summary["n_matched"],
        summary["n_annotated"],
        summary["precision"],
        summary["recall"],
        summary["f1"],
        summary["count"]["exact_rate"],
    )
    # the figure shows the image of median F1: what a typical image looks like
    f1 = 2 * images["n_matched"] / (images["n_found"] + images["n_annotated"]).clip(lower=1)
    if len(images):
        pick = table.iloc[int(np.argsort(f1.to_numpy())[len(f1) // 2])]
        truth = _truth_of(pick)
        image_title = f"{pick.image_id} (median F1 {f1.median():.2f})"
        plots.found_instances(
            truth.image,
            truth.masks,
            windows_of(pick.image_id),
            summary,
            figure_png,
            label,
            image_title,
        )
    else:
        plots.found_instances(
            np.zeros((8, 8), np.uint8), [], [], summary, figure_png, label, "no image"
        )
    return summary
